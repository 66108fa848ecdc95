// The gateway: data path (classify -> flow cache -> tunnel table -> verdict), the initiator
// (FIG. 2 blocks 202-218) and the responder, over an injected transport and clock. Pure logic: no
// socket, no timer of its own (one clock timer via the Scheduler), no wall time.
import { FLAG_HAS_PORTS, TupleBatch } from '../classify/batch.js';
import type { Classifier, EngineName } from '../classify/types.js';
import { DecodeError, TedError } from '../errors.js';
import type { TedIdentity, TedProbe, TedResponse, TedSummary } from '../ike/ted-types.js';
import { TED_EXCHANGE_PROBE, TED_EXCHANGE_RESPONSE, TED_VERSION } from '../ike/ted-types.js';
import { formatAddress, parseAnyAddress } from '../selector/address.js';
import { formatSelector } from '../selector/format.js';
import type { Field } from '../selector/algebra.js';
import { contains, equalSelectors, intersect, isSubset, mirror } from '../selector/algebra.js';
import type { Entry, Family, Policy, Selector, Tuple } from '../selector/types.js';
import { FULL_PORTS } from '../selector/types.js';
import type { Clock, InboundDatagram, OutboundDatagram, Transport } from '../transport/types.js';
import { IKE_PORT } from '../transport/types.js';
import { classifierFor, intersectOne } from './engines.js';
import { systemClock } from './clock.js';
import { CookieSource, ResponderCookies, randomSecret } from './cookies.js';
import type { CounterName, Counters } from './counters.js';
import { newCounters } from './counters.js';
import { FlowCache } from './flow-cache.js';
import { defaultWire } from './ike-wire.js';
import { RateLimiter } from './rate-limit.js';
import type { Deadline } from './scheduler.js';
import { Scheduler } from './scheduler.js';
import { STAT_ID, STAT_LAST_USED, STAT_PACKETS, STAT_WORDS, Tunnel, TunnelTable } from './tunnels.js';
import type {
  GatewayEvent,
  GatewayOptions,
  Handoff,
  HoldDownInfo,
  Limits,
  PendingInfo,
  Role,
  TeardownReason,
  Timers,
  TunnelInfo,
  VerdictCode,
  Verdicts,
} from './types.js';
import { BYPASS, DEFAULT_LIMITS, DEFAULT_TIMERS, DROP, FORWARD } from './types.js';
import type { DecodedTed, TedWire } from './wire.js';

const PERMIT = 1;
const DENY = 2;

/** Protocols whose packets carry ports in the summary. */
const PORT_PROTOCOLS = new Set([6, 17, 132]);

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

interface HoldDown {
  readonly family: Family;
  readonly destination: bigint;
  readonly until: number;
  readonly reason: string;
}

/** The outcome of checking a proposed proxy against this gateway's ACL (IKE quick mode on the responder). */
export interface ProposalCheck {
  readonly accepted: boolean;
  /** The permit entry that contains the proposal, or the first that overlaps it (0 = none). */
  readonly entry: number;
  readonly reason: 'accepted' | 'no-entry' | 'not-subset';
}

/** The handoff used when none is given: records each tunnel and marks it ESTABLISHED at once. */
export class RecordingHandoff implements Handoff {
  readonly up: TunnelInfo[] = [];
  readonly down: { tunnel: TunnelInfo; reason: TeardownReason }[] = [];
  constructor(private readonly log?: (line: string) => void) {}
  bringUp(t: TunnelInfo): boolean {
    this.up.push(t);
    this.log?.(`handoff: tunnel ${t.id} (entry ${t.entry}) to peer ${formatAddress(t.peer.family, t.peer.address)}, proxy ${formatSelector(t.proxy)}: established`);
    return true;
  }
  tearDown(t: TunnelInfo, reason: TeardownReason): void {
    this.down.push({ tunnel: t, reason });
    this.log?.(`handoff: tunnel ${t.id} to peer ${formatAddress(t.peer.family, t.peer.address)} down (${reason})`);
  }
}

function toIdentity(a: TedIdentity | string): TedIdentity {
  if (typeof a !== 'string') return a;
  const p = parseAnyAddress(a);
  if (!p) throw new TedError('TED_BAD_ADDRESS', `localAddress: not an IPv4 or IPv6 address: '${a}'`);
  return { family: p.family, address: p.value };
}

function plainSelector(e: Selector): Selector {
  return { family: e.family, protocol: e.protocol, src: e.src, dst: e.dst, sport: e.sport, dport: e.dport };
}

const EMPTY_COUNTER: Record<Field, CounterName> = {
  family: 'intersectEmptyFamily',
  protocol: 'intersectEmptyProtocol',
  source: 'intersectEmptySource',
  destination: 'intersectEmptyDestination',
  sport: 'intersectEmptySport',
  dport: 'intersectEmptyDport',
};

export class Gateway {
  readonly role: Role;
  readonly policy: Policy;
  readonly acl: string;
  readonly localAddress: TedIdentity;
  readonly classifier: Classifier;
  readonly limits: Limits;
  readonly timers: Timers;
  readonly tedVersion: 2 | 3;
  /** Classifier and intersection engine (undefined: the default, TED_ENGINE or wasm). */
  readonly engine: EngineName | undefined;
  /** Live counters (read them; do not write). */
  readonly counters: Counters = newCounters();

  private readonly transport: Transport;
  private readonly clock: Clock;
  private readonly handoff: Handoff;
  private readonly wire: TedWire;
  private readonly localPort: number;
  private readonly peerPort: number;
  private readonly rcookies: ResponderCookies;
  private readonly capabilities: number;
  private readonly checkResponseSource: boolean;
  private readonly onEvent: ((e: GatewayEvent) => void) | undefined;
  private readonly initiates: boolean;
  private readonly responds: boolean;

  private readonly entries: (Entry | undefined)[] = [];
  private readonly selectors: (Selector | undefined)[] = [];
  private readonly actions: Uint8Array;
  private readonly cache: FlowCache;
  private readonly table: TunnelTable;
  private readonly scheduler: Scheduler;
  private readonly cookies: CookieSource;
  private readonly rate: RateLimiter;
  private readonly pendingByKey = new Map<string, Pending>();
  private readonly pendingByCookie = new Map<bigint, Pending>();
  private readonly holds = new Map<string, HoldDown>();
  private out: Verdicts;
  /** Responses are encoded here (the transport copies what it keeps). */
  private readonly scratch = new Uint8Array(2048);
  private closed = false;

  constructor(opts: GatewayOptions) {
    if (opts.role !== 'initiator' && opts.role !== 'responder' && opts.role !== 'both')
      throw new TedError('TED_BAD_ROLE', `role must be initiator, responder or both, got '${String(opts.role)}'`);
    this.role = opts.role;
    this.initiates = opts.role !== 'responder';
    this.responds = opts.role !== 'initiator';
    this.policy = opts.policy;
    this.acl = opts.acl ?? opts.policy.name;
    this.localAddress = toIdentity(opts.localAddress);
    this.transport = opts.transport;
    this.clock = opts.clock ?? systemClock;
    this.handoff = opts.handoff ?? new RecordingHandoff(opts.log);
    this.wire = opts.wire ?? defaultWire();
    this.limits = { ...DEFAULT_LIMITS, ...opts.limits };
    this.timers = { ...DEFAULT_TIMERS, ...opts.timers };
    this.tedVersion = opts.tedVersion ?? 3;
    this.localPort = opts.ports?.local ?? IKE_PORT;
    this.peerPort = opts.ports?.peer ?? IKE_PORT;
    if (opts.secret && opts.secret.length < 16) throw new TedError('TED_BAD_SECRET', `secret: the responder cookie key needs at least 16 bytes, got ${opts.secret.length}`);
    this.rcookies = new ResponderCookies(opts.secret ?? randomSecret());
    this.capabilities = opts.capabilities ?? 0;
    this.checkResponseSource = opts.checkResponseSource ?? true;
    this.onEvent = opts.onEvent;
    this.engine = opts.engine ?? opts.classifier?.engine;
    this.classifier = opts.classifier ?? classifierFor(opts.policy, opts.engine);

    let max = 0;
    for (const e of opts.policy.entries) max = Math.max(max, e.ordinal);
    this.actions = new Uint8Array(max + 1);
    for (const e of opts.policy.entries) {
      this.entries[e.ordinal] = e;
      this.selectors[e.ordinal] = plainSelector(e);
      this.actions[e.ordinal] = e.action === 'permit' ? PERMIT : DENY;
    }
    this.cache = new FlowCache(this.limits.flowCacheSize);
    this.table = new TunnelTable(this.limits.maxTunnels);
    this.scheduler = new Scheduler(this.clock);
    this.cookies = new CookieSource(opts.random);
    this.rate = new RateLimiter({ perSecond: this.limits.answersPerSecond, burst: this.limits.answerBurst, maxInitiators: this.limits.maxRateEntries });
    this.out = this.verdictBuffers(256);
    this.transport.onDatagram((d) => this.receive(d));
  }

  // ---------------------------------------------------------------- data path

  /** A batch the classifier reads without copying. */
  createBatch(capacity: number): TupleBatch {
    return this.classifier.createBatch(capacity);
  }

  /**
   * Classifies the batch and decides each packet: FORWARD (tunnel id), BYPASS (deny entry or no
   * entry), DROP (protected, no tunnel yet: discovery starts). The returned buffers are reused.
   */
  process(batch: TupleBatch): Verdicts {
    if (this.processing) throw new TedError('TED_REENTRANT', 'process() was called from inside process() (from an event listener?); the verdict buffers are in use');
    this.processing = true;
    try {
      return this.processBatch(batch);
    } finally {
      this.processing = false;
    }
  }
  private processing = false;

  private processBatch(batch: TupleBatch): Verdicts {
    const n = batch.count;
    if (this.out.verdict.length < n) this.out = this.verdictBuffers(batch.capacity);
    const out = this.out;
    out.count = n;
    // Ordinals go to our own array: a batch in WebAssembly memory may have stale views until the
    // classifier refreshes them inside classify() (memory grown by another classifier), so its
    // columns are read only after that call.
    const ord = out.ordinal;
    this.classifier.classify(batch, ord);
    const verdict = out.verdict;
    const tunnel = out.tunnel;
    const actions = this.actions;
    const cache = this.cache;
    const stats = this.table.stats;
    const fam = batch.family;
    const src = batch.src;
    const dst = batch.dst;
    const sp = batch.sport;
    const dp = batch.dport;
    const proto = batch.proto;
    const flags = batch.flags;
    const now = this.clock.now();
    let fwd = 0;
    let byp = 0;
    let hits = 0;
    for (let i = 0; i < n; i++) {
      const o = ord[i]!;
      const f = fam[i]!;
      if (f === 0) {
        verdict[i] = DROP;
        tunnel[i] = 0;
        this.counters.dropsUndecodable++;
        this.counters.dropped++;
        continue;
      }
      if (o === 0 || actions[o] !== PERMIT) {
        verdict[i] = BYPASS;
        tunnel[i] = 0;
        byp++;
        continue;
      }
      const ports = ((sp[i]! << 16) | dp[i]!) >>> 0;
      const pf = proto[i]! | (flags[i]! << 8);
      const slot = f === 4 ? cache.get4(src[i]!, dst[i]!, ports, pf) : cache.get6(batch.src6, batch.dst6, i * 4, ports, pf);
      if (slot >= 0) {
        verdict[i] = FORWARD;
        const k = slot * STAT_WORDS;
        tunnel[i] = stats[k + STAT_ID]!;
        stats[k + STAT_LAST_USED] = now;
        stats[k + STAT_PACKETS]!++;
        fwd++;
        hits++;
        continue;
      }
      this.counters.flowCacheMisses++;
      this.miss(batch, i, o, ports, pf, now);
      if (verdict[i] === FORWARD) fwd++;
    }
    const c = this.counters;
    c.packets += n;
    c.forwarded += fwd;
    c.bypassed += byp;
    c.flowCacheHits += hits;
    return out;
  }

  /** One packet through the same path (the rare path; allocates). */
  processOne(t: Tuple): { verdict: VerdictCode; tunnel: number; ordinal: number } {
    const b = (this.oneBatch ??= new TupleBatch(1));
    b.count = 1;
    b.set(0, t);
    const v = this.process(b);
    return { verdict: v.verdict[0] as VerdictCode, tunnel: v.tunnel[0]!, ordinal: v.ordinal[0]! };
  }
  private oneBatch: TupleBatch | undefined;

  private miss(batch: TupleBatch, i: number, o: number, ports: number, pf: number, now: number): void {
    const verdict = this.out.verdict;
    const list = this.table.forEntry(o);
    let negotiating = false;
    let tuple: Tuple | undefined;
    if (list) {
      const f = batch.family[i]!;
      const hasPorts = (batch.flags[i]! & FLAG_HAS_PORTS) !== 0;
      if (f === 6) tuple = batch.get(i)!;
      for (const t of list) {
        const hit =
          f === 4 ? t.matches4(batch.src[i]!, batch.dst[i]!, batch.sport[i]!, batch.dport[i]!, batch.proto[i]!, hasPorts) : t.matches(tuple!);
        if (!hit) continue;
        if (t.state !== 'established') {
          negotiating = true;
          continue;
        }
        if (f === 4) this.cache.set4(batch.src[i]!, batch.dst[i]!, ports, pf, t.slot);
        else this.cache.set6(batch.src6, batch.dst6, i * 4, ports, pf, t.slot);
        verdict[i] = FORWARD;
        this.out.tunnel[i] = t.id;
        const k = t.slot * STAT_WORDS;
        this.table.stats[k + STAT_LAST_USED] = now;
        this.table.stats[k + STAT_PACKETS]!++;
        return;
      }
    }
    verdict[i] = DROP;
    this.out.tunnel[i] = 0;
    this.counters.dropped++;
    tuple ??= batch.get(i)!;
    if (negotiating) {
      this.counters.dropsWhileNegotiating++;
      if (this.onEvent) this.emit({ type: 'drop', tuple, entry: o, reason: 'negotiating' });
      return;
    }
    if (!this.initiates) {
      this.counters.dropsNotInitiator++;
      if (this.onEvent) this.emit({ type: 'drop', tuple, entry: o, reason: 'not-initiator' });
      return;
    }
    this.trigger(this.entries[o]!, tuple);
  }

  private verdictBuffers(capacity: number): Verdicts {
    return { count: 0, verdict: new Uint8Array(capacity), tunnel: new Int32Array(capacity), ordinal: new Int32Array(capacity) };
  }

  // ---------------------------------------------------------------- initiator

  /** Block 208-212: P is dropped; probe for (entry, P's destination) unless one is pending or held down. */
  private trigger(entry: Entry, t: Tuple): void {
    const key = `${entry.ordinal}/${t.family}/${t.dst}`;
    if (this.pendingByKey.has(key)) {
      this.counters.dropsWhileProbing++;
      if (this.onEvent) this.emit({ type: 'drop', tuple: t, entry: entry.ordinal, reason: 'probing' });
      return;
    }
    const now = this.clock.now();
    const hold = this.holds.get(`${t.family}/${t.dst}`);
    if (hold && hold.until > now) {
      this.counters.dropsHeldDown++;
      if (this.onEvent) this.emit({ type: 'drop', tuple: t, entry: entry.ordinal, reason: 'held-down' });
      return;
    }
    if (this.onEvent) this.emit({ type: 'drop', tuple: t, entry: entry.ordinal, reason: 'no-tunnel' });
    if (this.pendingByKey.size >= this.limits.maxPending) {
      this.counters.refusedPending++;
      if (this.onEvent) this.emit({ type: 'probe-refused', entry: entry.ordinal, reason: 'pending-full' });
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
    const probe: TedProbe = { icookie, capabilities: this.capabilities, id: this.localAddress, summary };
    const p: Pending = {
      key,
      icookie,
      entry,
      tuple: t,
      summary,
      bytes: this.wire.encodeProbe(probe),
      startedAt: now,
      tries: 0,
      nextAt: now,
      deadline: undefined,
    };
    this.pendingByKey.set(key, p);
    this.pendingByCookie.set(icookie, p);
    this.counters.probesStarted++;
    this.transmit(p);
  }

  private transmit(p: Pending): void {
    const t = p.tuple;
    const sport = t.hasPorts && PORT_PROTOCOLS.has(t.protocol) ? t.sport : this.localPort;
    p.tries++;
    this.counters.cipsNumTEDProbesSent++;
    if (p.tries > 1) this.counters.probeRetransmits++;
    this.send({ family: t.family, src: t.src, dst: t.dst, sport, dport: this.peerPort, payload: p.bytes, spoofSource: true });
    if (this.onEvent) this.emit({
      type: 'probe-sent',
      icookie: p.icookie,
      entry: p.entry.ordinal,
      summary: p.summary,
      attempt: p.tries,
      src: t.src,
      dst: t.dst,
      sport,
      dport: this.peerPort,
      bytes: p.bytes,
      spoofed: this.transport.capabilities.spoofSource,
    });
    const wait = this.timers.probeTimeoutMs * this.timers.backoffFactor ** (p.tries - 1);
    p.nextAt = this.clock.now() + wait;
    p.deadline = this.scheduler.at(p.nextAt, () => (p.tries < this.timers.probeTries ? this.transmit(p) : this.giveUp(p)));
  }

  private giveUp(p: Pending): void {
    this.dropPending(p);
    this.counters.probesGivenUp++;
    this.counters.cipsNumTEDFailures++;
    if (this.onEvent) this.emit({ type: 'probe-gave-up', icookie: p.icookie, entry: p.entry.ordinal, destination: p.tuple.dst, tries: p.tries });
    this.holdDown(p.tuple.family, p.tuple.dst, 'no-response');
  }

  private dropPending(p: Pending): void {
    this.pendingByKey.delete(p.key);
    this.pendingByCookie.delete(p.icookie);
    this.scheduler.cancel(p.deadline);
    p.deadline = undefined;
  }

  private holdDown(family: Family, destination: bigint, reason: string): void {
    const key = `${family}/${destination}`;
    if (!this.holds.has(key) && this.holds.size >= this.limits.maxHoldDowns) {
      this.counters.refusedHoldDowns++;
      return;
    }
    const until = this.clock.now() + this.timers.holdDownMs;
    const h: HoldDown = { family, destination, until, reason };
    this.holds.set(key, h);
    this.counters.holdDownsStarted++;
    if (this.onEvent) this.emit({ type: 'hold-down', family, destination, until, reason });
    this.scheduler.at(until, () => {
      if (this.holds.get(key) === h) this.holds.delete(key);
    });
  }

  /** Block 214-218: a response arrived. */
  private onResponse(d: InboundDatagram, m: DecodedTed): void {
    const c = this.counters;
    c.responsesReceived++;
    const reject = (counter: CounterName, reason: string) => {
      c[counter]++;
      if (this.onEvent) this.emit({ type: 'response-dropped', reason, icookie: m.icookie });
    };
    if (m.messageId !== 0) return reject('responseBadMessageId', 'message-id');
    const p = this.pendingByCookie.get(m.icookie);
    if (!p) return reject('responseUnknownCookie', 'unknown-cookie');
    if (m.rcookie === 0n) return reject('responseZeroRcookie', 'zero-responder-cookie');
    const r = m.response!;
    if (this.checkResponseSource && (d.family !== r.id.family || d.src !== r.id.address)) return reject('responseSourceMismatch', 'source-not-id');
    c.responsesAccepted++;
    this.dropPending(p);
    if (this.onEvent) this.emit({ type: 'response-received', icookie: r.icookie, rcookie: r.rcookie, peer: r.id, proxy: r.proxy });

    // Our orientation: the responder's ACL describes traffic from its side to ours.
    const ours = this.selectors[p.entry.ordinal]!;
    const theirs = mirror(r.proxy);
    let result: Selector | undefined;
    let emptyField: Field | undefined;
    if (this.tedVersion === 3) {
      const x = intersectOne(ours, theirs, this.engine);
      if (x.empty) emptyField = x.field;
      else result = x.selector;
    } else if (ours.family !== theirs.family) emptyField = 'family';
    else {
      // TED v1/v2: our source half proxy and their half proxy, no protocol and no ports.
      result = { family: ours.family, protocol: 0, src: ours.src, dst: theirs.dst, sport: FULL_PORTS, dport: FULL_PORTS };
    }
    if (this.onEvent) this.emit({ type: 'intersection', icookie: p.icookie, entry: p.entry.ordinal, ours, theirs, result, emptyField, tedVersion: this.tedVersion });
    if (!result) {
      c[EMPTY_COUNTER[emptyField!]]++;
      return this.fail(p, `empty-${emptyField}`);
    }
    const inside = contains(result, p.tuple);
    if (this.onEvent) this.emit({ type: 'verify', icookie: p.icookie, inside, tuple: p.tuple, proxy: result });
    if (!inside) {
      c.packetOutsideIntersection++;
      return this.fail(p, 'packet-outside');
    }
    const list = this.table.forEntry(p.entry.ordinal);
    const same = list?.find((t) => t.peer.family === r.id.family && t.peer.address === r.id.address && equalSelectors(t.proxy, result));
    if (same) {
      c.tunnelsReused++;
      return;
    }
    const now = this.clock.now();
    const t = this.table.add(
      (id, slot) =>
        new Tunnel(id, slot, r.id, result, p.entry.ordinal, p.icookie, r.rcookie, this.tedVersion, now, now + this.timers.tunnelLifetimeMs),
    );
    if (!t) {
      c.refusedTunnels++;
      if (this.onEvent) this.emit({
        type: 'tunnel',
        state: 'refused',
        reason: 'table-full',
        tunnel: { id: 0, state: 'negotiated', peer: r.id, proxy: result, entry: p.entry.ordinal, icookie: p.icookie, rcookie: r.rcookie, tedVersion: this.tedVersion, negotiatedAt: now, lastUsed: now, expiresAt: now, packets: 0 },
      });
      return this.fail(p, 'tunnel-table-full');
    }
    c.tunnelsNegotiated++;
    if (Number.isFinite(this.timers.tunnelLifetimeMs)) t.lifetimeDeadline = this.scheduler.at(t.expiresAt, () => this.remove(t, 'lifetime'));
    if (Number.isFinite(this.timers.tunnelIdleMs)) this.armIdle(t, now + this.timers.tunnelIdleMs);
    const info = this.table.info(t);
    if (this.onEvent) this.emit({ type: 'tunnel', state: 'negotiated', tunnel: info });
    let result2: boolean | void | Promise<boolean | void>;
    try {
      result2 = this.handoff.bringUp(info);
    } catch {
      return this.handoffFailed(t, p.tuple);
    }
    if (result2 && typeof (result2 as Promise<unknown>).then === 'function')
      (result2 as Promise<boolean | void>).then(
        (ok) => (ok === false ? this.handoffFailed(t, p.tuple) : this.establish(t)),
        () => this.handoffFailed(t, p.tuple),
      );
    else if (result2 === false) this.handoffFailed(t, p.tuple);
    else this.establish(t);
  }

  private fail(p: Pending, reason: string): void {
    this.counters.cipsNumTEDFailures++;
    this.holdDown(p.tuple.family, p.tuple.dst, reason);
  }

  private establish(t: Tunnel): void {
    if (this.table.get(t.id) !== t || t.state === 'established') return;
    t.state = 'established';
    t.establishedAt = this.clock.now();
    this.counters.tunnelsEstablished++;
    if (this.onEvent) this.emit({ type: 'tunnel', state: 'established', tunnel: this.table.info(t) });
  }

  private handoffFailed(t: Tunnel, trigger: Tuple): void {
    if (this.table.get(t.id) !== t) return;
    this.counters.handoffFailures++;
    this.counters.cipsNumTEDFailures++;
    this.remove(t, 'handoff-failed');
    this.holdDown(trigger.family, trigger.dst, 'handoff-failed');
  }

  private armIdle(t: Tunnel, at: number): void {
    t.idleDeadline = this.scheduler.at(at, () => {
      const last = this.table.lastUsed(t.slot);
      const due = last + this.timers.tunnelIdleMs;
      if (due <= this.clock.now()) this.remove(t, 'idle');
      else this.armIdle(t, due);
    });
  }

  private remove(t: Tunnel, reason: TeardownReason): boolean {
    const info = this.table.info(t);
    if (!this.table.remove(t)) return false;
    this.scheduler.cancel(t.lifetimeDeadline);
    this.scheduler.cancel(t.idleDeadline);
    this.cache.invalidate();
    this.counters.flowCacheInvalidations++;
    if (reason === 'lifetime') this.counters.tunnelsExpired++;
    else if (reason === 'idle') this.counters.tunnelsIdle++;
    else if (reason === 'api' || reason === 'closed') this.counters.tunnelsTornDown++;
    if (this.onEvent) this.emit({ type: 'tunnel', state: 'down', tunnel: info, reason });
    try {
      this.handoff.tearDown?.(info, reason);
    } catch {
      // the handoff's own failure does not keep a dead tunnel alive
    }
    return true;
  }

  // ---------------------------------------------------------------- responder

  private ignoreProbe(counter: CounterName, reason: string, icookie: bigint): void {
    this.counters[counter]++;
    if (this.onEvent) this.emit({ type: 'probe-ignored', reason, icookie });
  }

  /** First-match ordinal of the mirrored summary (our ACL describes traffic from our side to theirs). */
  private classifyMirrored(s: TedSummary): number {
    const b = (this.probeBatch ??= this.classifier.createBatch(1));
    if (b.src.length === 0) {
      // Another classifier grew the WebAssembly memory: our views are detached. An empty
      // classify() makes the classifier re-view its batch before we write into it.
      b.count = 0;
      this.classifier.classify(b, this.oneResult);
    }
    const hasPorts = PORT_PROTOCOLS.has(s.protocol) && (s.sport !== 0 || s.dport !== 0);
    if (s.family === 4) {
      b.family[0] = 4;
      b.proto[0] = s.protocol;
      b.flags[0] = hasPorts ? FLAG_HAS_PORTS : 0;
      b.src[0] = Number(s.dst);
      b.dst[0] = Number(s.src);
      b.sport[0] = s.dport;
      b.dport[0] = s.sport;
    } else b.set(0, { family: s.family, protocol: s.protocol, src: s.dst, dst: s.src, sport: s.dport, dport: s.sport, hasPorts });
    b.count = 1;
    this.classifier.classify(b, b.results);
    return b.results[0]!;
  }
  private probeBatch: TupleBatch | undefined;
  private readonly oneResult = new Int32Array(1);

  private onProbe(d: InboundDatagram, m: DecodedTed): void {
    const c = this.counters;
    c.cipsNumTEDProbesReceived++;
    if (!this.responds) return this.ignoreProbe('probeNotResponder', 'not-responder', m.icookie);
    if (m.messageId !== 0) return this.ignoreProbe('probeBadMessageId', 'message-id', m.icookie);
    if (m.icookie === 0n || m.rcookie !== 0n) return this.ignoreProbe('probeBadCookies', 'cookies', m.icookie);
    const probe = m.probe!;
    const s = probe.summary;
    if (s.family !== this.policy.family || probe.id.family !== this.localAddress.family) return this.ignoreProbe('probeFamilyMismatch', 'family', m.icookie);
    if (d.dstKnown && (d.family !== s.family || d.dst !== s.dst)) return this.ignoreProbe('probeDestinationMismatch', 'destination-not-summary', m.icookie);
    if (this.onEvent) this.emit({ type: 'probe-received', icookie: probe.icookie, from: probe.id, summary: s });
    const o = this.classifyMirrored(s);
    if (o === 0) return this.ignoreProbe('probeNoEntry', 'no-entry', m.icookie);
    if (this.actions[o] !== PERMIT) return this.ignoreProbe('probeDenied', 'denied', m.icookie);
    const rateKey = probe.id.family === 6 ? probe.id.address | (1n << 128n) : probe.id.address;
    if (!this.rate.take(rateKey, this.clock.now())) return this.ignoreProbe('probeRateLimited', 'rate-limited', m.icookie);
    // The response differs between probes only in its two cookies (the ISAKMP header's first 16
    // bytes): copy the entry's encoded template and write them in.
    const tpl = this.responseTemplate(o);
    const bytes = tpl.length <= this.scratch.length ? this.scratch.subarray(0, tpl.length) : new Uint8Array(tpl.length);
    bytes.set(tpl);
    const wire = d.payload;
    for (let i = 0; i < 8; i++) bytes[i] = wire[i]!; // the probe's initiator cookie
    this.rcookies.writeFromWire(wire, 0, probe.id, bytes, 8);
    this.send({
      family: probe.id.family,
      src: this.localAddress.address,
      dst: probe.id.address,
      sport: this.localPort,
      dport: this.peerPort,
      payload: bytes,
      spoofSource: false,
    });
    c.responsesSent++;
    if (this.onEvent) {
      const rcookie = new DataView(bytes.buffer, bytes.byteOffset + 8, 8).getBigUint64(0);
      this.emit({ type: 'response-sent', icookie: probe.icookie, rcookie, entry: o, proxy: this.selectors[o]!, to: probe.id, src: this.localAddress.address, sport: this.localPort, dport: this.peerPort, bytes });
    }
  }

  /** The encoded response for entry `o` with placeholder cookies (made once per entry). */
  private responseTemplate(o: number): Uint8Array {
    let t = this.templates[o];
    if (!t) {
      const r: TedResponse = { icookie: 1n, rcookie: 1n, capabilities: this.capabilities, id: this.localAddress, proxy: this.selectors[o]! };
      t = this.wire.encodeResponse(r);
      this.templates[o] = t;
    }
    return t;
  }
  private readonly templates: (Uint8Array | undefined)[] = [];

  /**
   * Would this gateway accept a tunnel with `proxy` (given in the initiator's orientation)? The
   * check IKE quick mode makes on a responder: some permit entry must contain all of the mirrored
   * proxy (deny entries carve holes the data path enforces per packet; they do not veto a
   * proposal, as the TED response itself carries the whole permit entry).
   */
  checkProposal(proxy: Selector): ProposalCheck {
    const ours = mirror(proxy);
    let overlap = 0;
    for (const e of this.policy.entries) {
      if (e.action !== 'permit') continue;
      if (isSubset(ours, e)) return { accepted: true, entry: e.ordinal, reason: 'accepted' };
      if (!overlap && !intersect(e, ours).empty) overlap = e.ordinal;
    }
    return overlap ? { accepted: false, entry: overlap, reason: 'not-subset' } : { accepted: false, entry: 0, reason: 'no-entry' };
  }

  // ---------------------------------------------------------------- input

  /** Handles one datagram from the transport (also callable directly). Never throws. */
  receive(d: InboundDatagram): void {
    if (this.closed) return;
    const bytes = d.payload;
    // Exchange type sits at offset 18 of the ISAKMP header: peek at it so that a message whose
    // body does not decode is still counted against the right exchange.
    const peek = bytes.length > 18 ? bytes[18]! : -1;
    let m: DecodedTed;
    try {
      m = this.wire.decode(bytes);
    } catch (err) {
      const truncated = err instanceof DecodeError && err.truncated;
      const reason = err instanceof TedError ? err.code : 'decode';
      if (peek === TED_EXCHANGE_PROBE) {
        this.counters.cipsNumTEDProbesReceived++;
        this.counters[truncated ? 'probeTruncated' : 'probeMalformed']++;
        if (this.onEvent) this.emit({ type: 'probe-ignored', reason });
      } else if (peek === TED_EXCHANGE_RESPONSE && this.initiates) {
        this.counters.responsesReceived++;
        this.counters[truncated ? 'responseTruncated' : 'responseMalformed']++;
        if (this.onEvent) this.emit({ type: 'response-dropped', reason });
      } else {
        this.counters.datagramsIgnored++;
      }
      return;
    }
    if (m.exchange === TED_EXCHANGE_PROBE) this.onProbe(d, m);
    else if (m.exchange === TED_EXCHANGE_RESPONSE && this.initiates) this.onResponse(d, m);
    else if (this.initiates && this.pendingByCookie.has(m.icookie)) {
      // Something other than a response carrying one of our cookies: a confused or forged peer.
      this.counters.responsesReceived++;
      this.counters.responseWrongExchange++;
      if (this.onEvent) this.emit({ type: 'response-dropped', reason: 'wrong-exchange', icookie: m.icookie });
    } else this.counters.datagramsIgnored++;
  }

  // ---------------------------------------------------------------- API

  tunnels(): TunnelInfo[] {
    return [...this.table.all()].map((t) => this.table.info(t));
  }

  tunnel(id: number): TunnelInfo | undefined {
    const t = this.table.get(id);
    return t && this.table.info(t);
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

  holdDowns(): HoldDownInfo[] {
    const now = this.clock.now();
    return [...this.holds.values()].filter((h) => h.until > now);
  }

  /** Ends a hold-down early (an operator fixed the far end). */
  clearHoldDown(family: Family, destination: bigint): boolean {
    return this.holds.delete(`${family}/${destination}`);
  }

  /** Tears a tunnel down; the next packet of its flows is dropped and rediscovers. */
  tearDown(id: number): boolean {
    const t = this.table.get(id);
    return t ? this.remove(t, 'api') : false;
  }

  /** Sizes of every bounded structure (for tests and `ted status`). */
  sizes(): { tunnels: number; pending: number; holdDowns: number; flowCache: number; rateEntries: number; deadlines: number } {
    return {
      tunnels: this.table.size,
      pending: this.pendingByKey.size,
      holdDowns: this.holds.size,
      flowCache: this.cache.size,
      rateEntries: this.rate.size,
      deadlines: this.scheduler.size,
    };
  }

  /** Stops timers and tears every tunnel down. The transport stays open (its owner closes it). */
  async close(): Promise<void> {
    if (this.closed) return;
    for (const t of [...this.table.all()]) this.remove(t, 'closed');
    for (const p of [...this.pendingByKey.values()]) this.dropPending(p);
    this.closed = true;
    this.scheduler.close();
    this.transport.onDatagram(() => {});
  }

  /** A transport must not throw for network conditions; if one does, the datagram counts as lost. */
  private send(d: OutboundDatagram): void {
    try {
      this.transport.send(d);
    } catch {
      this.counters.transportErrors++;
    }
  }

  private emit(e: GatewayEvent): void {
    if (!this.onEvent) return;
    try {
      this.onEvent(e);
    } catch {
      // a listener's bug does not break the data path
    }
  }
}

export function createGateway(opts: GatewayOptions): Gateway {
  return new Gateway(opts);
}
