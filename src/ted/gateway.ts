// The gateway: one composition of the roles over an injected transport and clock. The data path
// (data-path.ts) classifies and decides each packet; the initiator (initiator.ts) probes for
// dropped packets and turns responses into tunnels; the responder (responder.ts) answers probes;
// the tunnel lifecycle (lifecycle.ts) hands tunnels to IKE and retires them. Pure logic: no
// socket, no timer of its own (one clock timer via the Scheduler), no wall time.
import type { TupleBatch } from '../classify/batch.js';
import type { Classifier, EngineName } from '../classify/types.js';
import { DecodeError, TedError } from '../errors.js';
import type { TedIdentity } from '../ike/ted-types.js';
import { TED_EXCHANGE_PROBE, TED_EXCHANGE_RESPONSE } from '../ike/ted-types.js';
import { parseAnyAddress } from '../selector/address.js';
import { MAX_PORT_RANGES, type Family, type Policy, type Selector, type Tuple } from '../selector/types.js';
import type { InboundDatagram } from '../transport/types.js';
import { IKE_PORT } from '../transport/types.js';
import { systemClock } from './clock.js';
import { GatewayContext } from './context.js';
import { ResponderCookies, randomSecret } from './cookies.js';
import type { Counters } from './counters.js';
import { DataPath } from './data-path.js';
import { classifierFor } from './engines.js';
import { FlowCache } from './flow-cache.js';
import { RecordingHandoff } from './handoff.js';
import { HoldDowns } from './hold-downs.js';
import { defaultWire } from './ike-wire.js';
import { Initiator } from './initiator.js';
import { TunnelLifecycle } from './lifecycle.js';
import { PolicyView } from './policy-view.js';
import { checkProposal, Responder, type ProposalCheck } from './responder.js';
import { TunnelTable } from './tunnels.js';
import { NegativeCache } from './negative-cache.js';
import { resolveSection, type Discovery, type Limits, type RateLimit, type Timers } from './settings.js';
import type { GatewayOptions, HoldDownInfo, PendingInfo, Role, TunnelInfo, VerdictCode, Verdicts } from './types.js';
import type { DecodedTed } from './wire.js';

export { RecordingHandoff } from './handoff.js';
export type { ProposalCheck } from './responder.js';

function toIdentity(a: TedIdentity | string): TedIdentity {
  if (typeof a !== 'string') return a;
  const p = parseAnyAddress(a);
  if (!p) throw new TedError('TED_BAD_ADDRESS', `localAddress: not an IPv4 or IPv6 address: '${a}'`);
  return { family: p.family, address: p.value };
}

/** Every permit entry must fit a TED response (at most MAX_PORT_RANGES port ranges a side), or the responder could not answer for it. */
function checkWireable(view: PolicyView): void {
  for (const e of view.policy.entries) {
    if (e.action !== 'permit') continue;
    const n = Math.max(e.sport.length, e.dport.length);
    if (n > MAX_PORT_RANGES)
      throw new TedError('TED_BAD_POLICY', `entry ${e.ordinal}: ${n} port ranges on one side; a TED response carries at most ${MAX_PORT_RANGES} (split the entry)`);
  }
}

export class Gateway {
  readonly role: Role;
  readonly policy: Policy;
  readonly acl: string;
  readonly localAddress: TedIdentity;
  readonly classifier: Classifier;
  readonly limits: Limits;
  readonly timers: Timers;
  readonly rateLimit: RateLimit;
  readonly discovery: Discovery;
  readonly tedVersion: 2 | 3;
  /** Classifier and intersection engine (undefined: the default, TED_ENGINE or wasm). */
  readonly engine: EngineName | undefined;
  /** Live counters (read them; do not write). */
  readonly counters: Counters;

  private readonly ctx: GatewayContext;
  private readonly cache: FlowCache;
  private readonly holds: HoldDowns;
  private readonly lifecycle: TunnelLifecycle;
  private readonly dataPath: DataPath;
  private readonly initiator: Initiator | undefined;
  private readonly responder: Responder | undefined;
  private closed = false;

  constructor(opts: GatewayOptions) {
    if (opts.role !== 'initiator' && opts.role !== 'responder' && opts.role !== 'both')
      throw new TedError('TED_BAD_ROLE', `role must be initiator, responder or both, got '${String(opts.role)}'`);
    if (opts.secret && opts.secret.length < 16) throw new TedError('TED_BAD_SECRET', `secret: the responder cookie key needs at least 16 bytes, got ${opts.secret.length}`);
    this.role = opts.role;
    this.policy = opts.policy;
    this.acl = opts.acl ?? opts.policy.name;
    this.localAddress = toIdentity(opts.localAddress);
    this.limits = resolveSection('limits', opts.limits);
    this.timers = resolveSection('timers', opts.timers);
    this.rateLimit = resolveSection('rateLimit', opts.rateLimit);
    this.discovery = resolveSection('discovery', opts.discovery);
    if (this.timers.tunnelIdleMs > this.timers.tunnelLifetimeMs)
      throw new TedError('TED_BAD_SETTING', `timers.tunnelIdleMs: must not exceed timers.tunnelLifetimeMs (${this.timers.tunnelLifetimeMs})`);
    this.tedVersion = opts.tedVersion ?? 3;
    this.engine = opts.engine ?? opts.classifier?.engine;
    this.classifier = opts.classifier ?? classifierFor(opts.policy, opts.engine);

    const ctx = (this.ctx = new GatewayContext({
      localAddress: this.localAddress,
      localPort: opts.ports?.local ?? IKE_PORT,
      peerPort: opts.ports?.peer ?? IKE_PORT,
      capabilities: opts.capabilities ?? 0,
      transport: opts.transport,
      clock: opts.clock ?? systemClock,
      wire: opts.wire ?? defaultWire(),
      onEvent: opts.onEvent,
    }));
    this.counters = ctx.counters;
    const view = new PolicyView(opts.policy);
    checkWireable(view);
    const table = new TunnelTable(this.limits.maxTunnels);
    this.cache = new FlowCache(this.limits.flowCacheEntries, undefined, this.limits.maxTunnels);
    const negative = opts.role !== 'responder' ? new NegativeCache(Math.min(1 << 16, 2 * (this.limits.maxPendingProbes + this.limits.maxHoldDowns))) : undefined;
    this.holds = new HoldDowns(ctx, {
      max: this.limits.maxHoldDowns,
      durationMs: this.timers.holdDownMs,
      perSource: this.limits.maxHoldDownsPerSource,
      reservePercent: this.limits.sourceReservePercent,
      ...(negative ? { negative } : {}),
    });
    this.lifecycle = new TunnelLifecycle(ctx, table, this.cache, opts.handoff ?? new RecordingHandoff(opts.log), this.holds, this.timers, this.tedVersion);
    if (opts.role !== 'responder')
      this.initiator = new Initiator(ctx, view, this.lifecycle, this.holds, {
        limits: this.limits,
        timers: this.timers,
        discovery: this.discovery,
        negative: negative!,
        tedVersion: this.tedVersion,
        checkResponseSource: opts.checkResponseSource ?? true,
        engine: this.engine,
        random: opts.random,
      });
    if (opts.role !== 'initiator') this.responder = new Responder(ctx, view, this.classifier, new ResponderCookies(opts.secret ?? randomSecret()), this.rateLimit);
    const initiator = this.initiator;
    this.dataPath = new DataPath(ctx, view, this.classifier, this.cache, table, initiator && ((e, t) => initiator.trigger(e, t)), negative);
    opts.transport.onDatagram((d) => this.receive(d));
  }

  // ---------------------------------------------------------------- data path

  /** A batch the classifier reads without copying. */
  createBatch(capacity: number): TupleBatch {
    return this.dataPath.createBatch(capacity);
  }

  /**
   * Classifies the batch and decides each packet: FORWARD (tunnel id), BYPASS (deny entry or no
   * entry), DROP (protected, no tunnel yet: discovery starts). The returned buffers are reused.
   */
  process(batch: TupleBatch): Verdicts {
    return this.dataPath.process(batch);
  }

  /** One packet through the same path (the rare path; allocates). */
  processOne(t: Tuple): { verdict: VerdictCode; tunnel: number; ordinal: number } {
    return this.dataPath.processOne(t);
  }

  // ---------------------------------------------------------------- input

  /** Handles one datagram from the transport (also callable directly). Never throws. */
  receive(d: InboundDatagram): void {
    if (this.closed) return;
    try {
      this.dispatch(d);
    } catch {
      // A bug, not the datagram's fault (bad input is counted by name below): the datagram is
      // dropped and counted, and the transport's event source keeps running.
      this.counters.receiveErrors++;
    }
  }

  private dispatch(d: InboundDatagram): void {
    const c = this.counters;
    const bytes = d.payload;
    // Exchange type sits at offset 18 of the ISAKMP header: peek at it so that a message whose
    // body does not decode is still counted against the right exchange.
    const peek = bytes.length > 18 ? bytes[18]! : -1;
    let m: DecodedTed;
    try {
      m = this.ctx.wire.decode(bytes);
    } catch (err) {
      const truncated = err instanceof DecodeError && err.truncated;
      const reason = err instanceof TedError ? err.code : 'decode';
      if (peek === TED_EXCHANGE_PROBE) {
        c.cipsNumTEDProbesReceived++;
        c[truncated ? 'probeTruncated' : 'probeMalformed']++;
        if (this.ctx.observed) this.ctx.emit({ type: 'probe-ignored', reason });
      } else if (peek === TED_EXCHANGE_RESPONSE && this.initiator) {
        c.responsesReceived++;
        c[truncated ? 'responseTruncated' : 'responseMalformed']++;
        if (this.ctx.observed) this.ctx.emit({ type: 'response-dropped', reason });
      } else c.datagramsIgnored++;
      return;
    }
    if (m.exchange === TED_EXCHANGE_PROBE) {
      if (this.responder) this.responder.onProbe(d, m);
      else {
        c.cipsNumTEDProbesReceived++;
        c.probeNotResponder++;
        if (this.ctx.observed) this.ctx.emit({ type: 'probe-ignored', reason: 'not-responder', icookie: m.icookie });
      }
    } else if (m.exchange === TED_EXCHANGE_RESPONSE && this.initiator) this.initiator.onResponse(d, m);
    else if (this.initiator?.isPending(m.icookie)) {
      // Something other than a response carrying one of our cookies: a confused or forged peer.
      c.responsesReceived++;
      c.responseWrongExchange++;
      if (this.ctx.observed) this.ctx.emit({ type: 'response-dropped', reason: 'wrong-exchange', icookie: m.icookie });
    } else c.datagramsIgnored++;
  }

  // ---------------------------------------------------------------- API

  /**
   * Would this gateway accept a tunnel with `proxy` (given in the initiator's orientation)? Some
   * permit entry must contain all of the mirrored proxy (see responder.ts).
   */
  checkProposal(proxy: Selector): ProposalCheck {
    return checkProposal(this.policy, proxy);
  }

  tunnels(): TunnelInfo[] {
    return this.lifecycle.list();
  }

  tunnel(id: number): TunnelInfo | undefined {
    return this.lifecycle.info(id);
  }

  pending(): PendingInfo[] {
    return this.initiator?.pending() ?? [];
  }

  holdDowns(): HoldDownInfo[] {
    return this.holds.list(this.ctx.now());
  }

  /** Ends a hold-down early (an operator fixed the far end). */
  clearHoldDown(family: Family, destination: bigint): boolean {
    return this.holds.clear(family, destination);
  }

  /** Tears a tunnel down; the next packet of its flows is dropped and rediscovers. */
  tearDown(id: number): boolean {
    return this.lifecycle.tearDown(id, 'api');
  }

  /** Sizes of every bounded structure (for tests and `ted status`). */
  sizes(): { tunnels: number; pending: number; holdDowns: number; flowCache: number; rateEntries: number; deadlines: number } {
    return {
      tunnels: this.lifecycle.table.size,
      pending: this.initiator?.pendingCount ?? 0,
      holdDowns: this.holds.size,
      flowCache: this.cache.size,
      rateEntries: this.responder?.rateEntries ?? 0,
      deadlines: this.ctx.scheduler.size,
    };
  }

  /** Stops timers and tears every tunnel down. The transport stays open (its owner closes it). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.lifecycle.closeAll();
    this.initiator?.close();
    this.closed = true;
    this.ctx.scheduler.close();
    this.ctx.transport.onDatagram(() => {});
  }
}

export function createGateway(opts: GatewayOptions): Gateway {
  return new Gateway(opts);
}
