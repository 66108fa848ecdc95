// The initiator (FIG. 2 blocks 208-218): a dropped packet P triggers a probe for (entry, P's
// destination) unless one is pending or the destination is held down; the probe is retransmitted
// with backoff and given up after the last try (hold-down). A response is validated (message ID,
// known cookie, non-zero responder cookie, source = its ID), its proxy mirrored and intersected
// with our entry, P checked to lie inside, optionally narrowed around P's destination
// (discovery.destinationPrefix4/6), and the result handed to the tunnel lifecycle, which makes it
// ESTABLISHED only when the handoff (IKE, authenticating the peer) says so.
//
// Probes are padded to the largest response the protocol allows (a responder does not answer a
// probe smaller than its answer), and each source host may hold only its share of the pending
// probes (limits.maxPendingPerSource, with a reserve for hosts that hold none), so one host
// storming new destinations cannot keep everyone else's discoveries refused.
import type { EngineName } from '../classify/types.js';
import { answerPadding } from '../ike/ted.js';
import type { TedProbe, TedSummary } from '../ike/ted-types.js';
import { prefixMask } from '../selector/address.js';
import { SUMMARY_PORT_PROTOCOLS as PORT_PROTOCOLS, TED_VERSION } from '../ike/ted-types.js';
import type { Field } from '../selector/algebra.js';
import { contains, mirror } from '../selector/algebra.js';
import type { Entry, Family, Selector, Tuple } from '../selector/types.js';
import { FULL_PORTS } from '../selector/types.js';
import type { InboundDatagram } from '../transport/types.js';
import type { GatewayContext } from './context.js';
import { CookieSource } from './cookies.js';
import type { CounterName } from './counters.js';
import { intersectOne } from './engines.js';
import type { HoldDowns } from './hold-downs.js';
import type { TunnelLifecycle } from './lifecycle.js';
import { NEG_HELD, NEG_PROBING, type NegativeCache } from './negative-cache.js';
import type { PolicyView } from './policy-view.js';
import type { Deadline } from './scheduler.js';
import type { Discovery, Limits, Timers } from './settings.js';
import { SourceQuota } from './source-quota.js';
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
  readonly discovery: Discovery;
  /** Shared with the data path, which drops packets of pending and held-down destinations through it. */
  readonly negative: NegativeCache;
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
  private readonly quota: SourceQuota;

  constructor(
    private readonly ctx: GatewayContext,
    private readonly view: PolicyView,
    private readonly lifecycle: TunnelLifecycle,
    private readonly holds: HoldDowns,
    private readonly opts: InitiatorOptions,
  ) {
    this.cookies = new CookieSource(opts.random);
    this.quota = new SourceQuota(opts.limits.maxPendingPerSource, opts.limits.maxPendingProbes, opts.limits.sourceReservePercent);
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
    const { negative } = this.opts;
    const key = `${entry.ordinal}/${t.family}/${t.dst}`;
    if (this.pendingByKey.has(key)) {
      c.dropsWhileProbing++;
      negative.set(entry.ordinal, t.family, t.dst, NEG_PROBING);
      if (ctx.observed) ctx.emit({ type: 'drop', tuple: t, entry: entry.ordinal, reason: 'probing' });
      return;
    }
    const now = ctx.now();
    const hold = this.holds.active(t.family, t.dst, now);
    if (hold) {
      c.dropsHeldDown++;
      negative.set(entry.ordinal, t.family, t.dst, NEG_HELD, hold.until);
      if (ctx.observed) ctx.emit({ type: 'drop', tuple: t, entry: entry.ordinal, reason: 'held-down' });
      return;
    }
    if (ctx.observed) ctx.emit({ type: 'drop', tuple: t, entry: entry.ordinal, reason: 'no-tunnel' });
    if (this.pendingByKey.size >= this.opts.limits.maxPendingProbes) {
      c.refusedPending++;
      if (ctx.observed) ctx.emit({ type: 'probe-refused', entry: entry.ordinal, reason: 'pending-full' });
      return;
    }
    if (!this.quota.admits(t.family, t.src, this.pendingByKey.size)) {
      c.refusedPendingSource++;
      if (ctx.observed) ctx.emit({ type: 'probe-refused', entry: entry.ordinal, reason: 'source-quota' });
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
    const bare: TedProbe = { icookie, capabilities: ctx.capabilities, id: ctx.localAddress, summary };
    // As large on the wire as any answer: a responder answers nothing smaller (no amplification).
    const padding = answerPadding(bare);
    const probe: TedProbe = padding === undefined ? bare : { ...bare, padding };
    const p: Pending = { key, icookie, entry, tuple: t, summary, bytes: ctx.wire.encodeProbe(probe), startedAt: now, tries: 0, nextAt: now, deadline: undefined };
    this.pendingByKey.set(key, p);
    this.pendingByCookie.set(icookie, p);
    this.quota.add(t.family, t.src);
    negative.set(entry.ordinal, t.family, t.dst, NEG_PROBING);
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
    this.holds.start(p.tuple.family, p.tuple.dst, 'no-response', p.tuple.src);
  }

  private dropPending(p: Pending): void {
    if (this.pendingByKey.get(p.key) !== p) return;
    this.pendingByKey.delete(p.key);
    this.pendingByCookie.delete(p.icookie);
    this.quota.remove(p.tuple.family, p.tuple.src);
    this.opts.negative.delete(p.entry.ordinal, p.tuple.family, p.tuple.dst);
    this.ctx.scheduler.cancel(p.deadline);
    p.deadline = undefined;
  }

  private fail(p: Pending, reason: string): void {
    this.ctx.counters.cipsNumTEDFailures++;
    this.holds.start(p.tuple.family, p.tuple.dst, reason, p.tuple.src);
  }

  /**
   * The proxy narrowed to at most `discovery.destinationPrefix4/6` around P's destination (P lies
   * inside both, so the result is never empty); the proxy itself when no limit is set.
   */
  private narrowed(result: Selector, p: Tuple): Selector {
    const len = p.family === 4 ? this.opts.discovery.destinationPrefix4 : this.opts.discovery.destinationPrefix6;
    if (len === 0) return result;
    const care = prefixMask(p.family as Family, len);
    if ((result.dst.care | care) === result.dst.care) return result; // already as narrow
    const x = intersectOne(result, { family: p.family, protocol: 0, src: { value: 0n, care: 0n }, dst: { value: p.dst & care, care }, sport: FULL_PORTS, dport: FULL_PORTS }, this.opts.engine);
    return x.empty ? result : x.selector;
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

    // Our orientation: the responder's ACL describes traffic from its side to ours. Of an entry
    // written with object groups, the selector that holds P is ours.
    const ours = this.view.selectorFor(p.entry.ordinal, p.tuple);
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
    const proxy = this.narrowed(result, p.tuple);
    if (proxy !== result) c.proxiesNarrowed++;
    if (this.lifecycle.existing(p.entry.ordinal, r.id, proxy)) {
      c.tunnelsReused++;
      return;
    }
    const opened = this.lifecycle.open({ entry: p.entry.ordinal, peer: r.id, proxy, icookie: p.icookie, rcookie: r.rcookie, trigger: p.tuple });
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
