// The initiator (FIG. 2 blocks 208-218): a dropped packet P triggers a probe for (entry, P's
// destination) unless one is pending or the destination is held down; the probe is retransmitted
// with backoff and given up after the last try (hold-down). A response is validated (message ID,
// known cookie, non-zero responder cookie, source = its ID), its proxy mirrored and intersected
// with our entry, P checked to lie inside, and the result handed to the tunnel lifecycle.
import type { EngineName } from '../classify/types.js';
import type { TedProbe, TedSummary } from '../ike/ted-types.js';
import { SUMMARY_PORT_PROTOCOLS as PORT_PROTOCOLS, TED_VERSION } from '../ike/ted-types.js';
import type { Field } from '../selector/algebra.js';
import { contains, mirror } from '../selector/algebra.js';
import type { Entry, Selector, Tuple } from '../selector/types.js';
import { FULL_PORTS } from '../selector/types.js';
import type { InboundDatagram } from '../transport/types.js';
import type { GatewayContext } from './context.js';
import { CookieSource } from './cookies.js';
import type { CounterName } from './counters.js';
import { intersectOne } from './engines.js';
import type { HoldDowns } from './hold-downs.js';
import type { TunnelLifecycle } from './lifecycle.js';
import type { PolicyView } from './policy-view.js';
import type { Deadline } from './scheduler.js';
import type { Limits, Timers } from './settings.js';
import type { PendingInfo } from './types.js';
import type { DecodedTed } from './wire.js';

interface Pending {
  readonly key: string;
  readonly icookie: bigint;
  readonly entry: Entry;
  readonly tuple: Tuple;
  readonly summary: TedSummary;
  readonly bytes: Uint8Array;
  readonly startedAt: number;
  tries: number;
  nextAt: number;
  deadline: Deadline | undefined;
}

const EMPTY_COUNTER: Record<Field, CounterName> = {
  family: 'intersectEmptyFamily',
  protocol: 'intersectEmptyProtocol',
  source: 'intersectEmptySource',
  destination: 'intersectEmptyDestination',
  sport: 'intersectEmptySport',
  dport: 'intersectEmptyDport',
};

export interface InitiatorOptions {
  readonly limits: Limits;
  readonly timers: Timers;
  readonly tedVersion: 2 | 3;
  /** Require a response's IP source to equal the responder's ID address. */
  readonly checkResponseSource: boolean;
  readonly engine: EngineName | undefined;
  readonly random?: (buf: Uint8Array) => void;
}

export class Initiator {
  private readonly pendingByKey = new Map<string, Pending>();
  private readonly pendingByCookie = new Map<bigint, Pending>();
  private readonly cookies: CookieSource;

  constructor(
    private readonly ctx: GatewayContext,
    private readonly view: PolicyView,
    private readonly lifecycle: TunnelLifecycle,
    private readonly holds: HoldDowns,
    private readonly opts: InitiatorOptions,
  ) {
    this.cookies = new CookieSource(opts.random);
  }

  get pendingCount(): number {
    return this.pendingByKey.size;
  }

  /** Whether `icookie` is one of our outstanding probes (a reply to it in another exchange is suspicious). */
  isPending(icookie: bigint): boolean {
    return this.pendingByCookie.has(icookie);
  }

  /** Block 208-212: P is dropped; probe for (entry, P's destination) unless one is pending or held down. */
  trigger(entry: Entry, t: Tuple): void {
    const { ctx } = this;
    const c = ctx.counters;
    const key = `${entry.ordinal}/${t.family}/${t.dst}`;
    if (this.pendingByKey.has(key)) {
      c.dropsWhileProbing++;
      if (ctx.observed) ctx.emit({ type: 'drop', tuple: t, entry: entry.ordinal, reason: 'probing' });
      return;
    }
    const now = ctx.now();
    if (this.holds.active(t.family, t.dst, now)) {
      c.dropsHeldDown++;
      if (ctx.observed) ctx.emit({ type: 'drop', tuple: t, entry: entry.ordinal, reason: 'held-down' });
      return;
    }
    if (ctx.observed) ctx.emit({ type: 'drop', tuple: t, entry: entry.ordinal, reason: 'no-tunnel' });
    if (this.pendingByKey.size >= this.opts.limits.maxPendingProbes) {
      c.refusedPending++;
      if (ctx.observed) ctx.emit({ type: 'probe-refused', entry: entry.ordinal, reason: 'pending-full' });
      return;
    }
    let icookie = this.cookies.next();
    while (this.pendingByCookie.has(icookie)) icookie = this.cookies.next();
    const hasPorts = t.hasPorts && PORT_PROTOCOLS.has(t.protocol);
    const summary: TedSummary = {
      tedVersion: TED_VERSION,
      family: t.family,
      protocol: t.protocol,
      src: t.src,
      dst: t.dst,
      sport: hasPorts ? t.sport : 0,
      dport: hasPorts ? t.dport : 0,
    };
    const probe: TedProbe = { icookie, capabilities: ctx.capabilities, id: ctx.localAddress, summary };
    const p: Pending = { key, icookie, entry, tuple: t, summary, bytes: ctx.wire.encodeProbe(probe), startedAt: now, tries: 0, nextAt: now, deadline: undefined };
    this.pendingByKey.set(key, p);
    this.pendingByCookie.set(icookie, p);
    c.probesStarted++;
    this.transmit(p);
  }

  private transmit(p: Pending): void {
    const { ctx } = this;
    const { timers } = this.opts;
    const t = p.tuple;
    // The probe travels as P would (same source host, same destination, P's source port when it
    // has one) so that it takes P's path to the responder.
    const sport = t.hasPorts && PORT_PROTOCOLS.has(t.protocol) ? t.sport : ctx.localPort;
    p.tries++;
    ctx.counters.cipsNumTEDProbesSent++;
    if (p.tries > 1) ctx.counters.probeRetransmits++;
    ctx.send({ family: t.family, src: t.src, dst: t.dst, sport, dport: ctx.peerPort, payload: p.bytes, spoofSource: true });
    if (ctx.observed)
      ctx.emit({
        type: 'probe-sent',
        icookie: p.icookie,
        entry: p.entry.ordinal,
        summary: p.summary,
        attempt: p.tries,
        src: t.src,
        dst: t.dst,
        sport,
        dport: ctx.peerPort,
        bytes: p.bytes,
        spoofed: ctx.transport.capabilities.spoofSource,
      });
    const wait = timers.probeTimeoutMs * timers.backoffFactor ** (p.tries - 1);
    p.nextAt = ctx.now() + wait;
    p.deadline = ctx.scheduler.at(p.nextAt, () => (p.tries < timers.probeTries ? this.transmit(p) : this.giveUp(p)));
  }

  private giveUp(p: Pending): void {
    const { ctx } = this;
    this.dropPending(p);
    ctx.counters.probesGivenUp++;
    ctx.counters.cipsNumTEDFailures++;
    if (ctx.observed) ctx.emit({ type: 'probe-gave-up', icookie: p.icookie, entry: p.entry.ordinal, destination: p.tuple.dst, tries: p.tries });
    this.holds.start(p.tuple.family, p.tuple.dst, 'no-response');
  }

  private dropPending(p: Pending): void {
    this.pendingByKey.delete(p.key);
    this.pendingByCookie.delete(p.icookie);
    this.ctx.scheduler.cancel(p.deadline);
    p.deadline = undefined;
  }

  private fail(p: Pending, reason: string): void {
    this.ctx.counters.cipsNumTEDFailures++;
    this.holds.start(p.tuple.family, p.tuple.dst, reason);
  }

  /** Block 214-218: a response arrived. */
  onResponse(d: InboundDatagram, m: DecodedTed): void {
    const { ctx, opts } = this;
    const c = ctx.counters;
    c.responsesReceived++;
    const reject = (counter: CounterName, reason: string) => {
      c[counter]++;
      if (ctx.observed) ctx.emit({ type: 'response-dropped', reason, icookie: m.icookie });
    };
    if (m.messageId !== 0) return reject('responseBadMessageId', 'message-id');
    const p = this.pendingByCookie.get(m.icookie);
    if (!p) return reject('responseUnknownCookie', 'unknown-cookie');
    if (m.rcookie === 0n) return reject('responseZeroRcookie', 'zero-responder-cookie');
    const r = m.response!;
    if (opts.checkResponseSource && (d.family !== r.id.family || d.src !== r.id.address)) return reject('responseSourceMismatch', 'source-not-id');
    c.responsesAccepted++;
    this.dropPending(p);
    if (ctx.observed) ctx.emit({ type: 'response-received', icookie: r.icookie, rcookie: r.rcookie, peer: r.id, proxy: r.proxy });

    // Our orientation: the responder's ACL describes traffic from its side to ours.
    const ours = this.view.selectors[p.entry.ordinal]!;
    const theirs = mirror(r.proxy);
    let result: Selector | undefined;
    let emptyField: Field | undefined;
    if (opts.tedVersion === 3) {
      const x = intersectOne(ours, theirs, opts.engine);
      if (x.empty) emptyField = x.field;
      else result = x.selector;
    } else if (ours.family !== theirs.family) emptyField = 'family';
    else {
      // TED v1/v2: our source half proxy and their half proxy, no protocol and no ports.
      result = { family: ours.family, protocol: 0, src: ours.src, dst: theirs.dst, sport: FULL_PORTS, dport: FULL_PORTS };
    }
    if (ctx.observed) ctx.emit({ type: 'intersection', icookie: p.icookie, entry: p.entry.ordinal, ours, theirs, result, emptyField, tedVersion: opts.tedVersion });
    if (!result) {
      c[EMPTY_COUNTER[emptyField!]]++;
      return this.fail(p, `empty-${emptyField}`);
    }
    const inside = contains(result, p.tuple);
    if (ctx.observed) ctx.emit({ type: 'verify', icookie: p.icookie, inside, tuple: p.tuple, proxy: result });
    if (!inside) {
      c.packetOutsideIntersection++;
      return this.fail(p, 'packet-outside');
    }
    if (this.lifecycle.existing(p.entry.ordinal, r.id, result)) {
      c.tunnelsReused++;
      return;
    }
    const opened = this.lifecycle.open({ entry: p.entry.ordinal, peer: r.id, proxy: result, icookie: p.icookie, rcookie: r.rcookie, trigger: p.tuple });
    if (!opened) this.fail(p, 'tunnel-table-full');
  }

  pending(): PendingInfo[] {
    return [...this.pendingByKey.values()].map((p) => ({
      icookie: p.icookie,
      entry: p.entry.ordinal,
      family: p.tuple.family,
      destination: p.tuple.dst,
      tries: p.tries,
      nextAt: p.nextAt,
      startedAt: p.startedAt,
    }));
  }

  close(): void {
    for (const p of [...this.pendingByKey.values()]) this.dropPending(p);
  }
}
