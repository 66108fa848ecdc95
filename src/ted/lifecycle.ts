// The tunnel lifecycle (FIG. 2 block 218 onwards): a negotiated tunnel enters the table, is handed
// to IKE (the Handoff), becomes ESTABLISHED when the handoff says so, and leaves the table at the
// end of its lifetime, when idle, when the handoff fails or reports it down, or on request. A
// tunnel going away invalidates its own flows in the flow cache (its slot's generation), no others.
import type { TedIdentity } from '../ike/ted-types.js';
import type { Selector, Tuple } from '../selector/types.js';
import type { GatewayContext } from './context.js';
import type { FlowCache } from './flow-cache.js';
import type { HoldDowns } from './hold-downs.js';
import { Tunnel, TunnelTable } from './tunnels.js';
import type { Handoff, HandoffSink, TeardownReason, Timers, TunnelInfo } from './types.js';

/** What a discovery hands to the lifecycle: the responder, the proxy and the packet that started it. */
export interface Negotiated {
  readonly entry: number;
  readonly peer: TedIdentity;
  readonly proxy: Selector;
  readonly icookie: bigint;
  readonly rcookie: bigint;
  readonly trigger: Tuple;
}

export class TunnelLifecycle implements HandoffSink {
  constructor(
    private readonly ctx: GatewayContext,
    readonly table: TunnelTable,
    private readonly cache: FlowCache,
    private readonly handoff: Handoff,
    private readonly holds: HoldDowns,
    private readonly timers: Timers,
    private readonly tedVersion: 2 | 3,
  ) {
    handoff.attach?.(this);
  }

  /** A tunnel of `entry` to the same peer with the same proxy, if one exists. */
  existing(entry: number, peer: TedIdentity, proxy: Selector): Tunnel | undefined {
    return this.table.findSame(entry, peer, proxy);
  }

  /**
   * Records a negotiated tunnel and hands it off. Undefined when the table is full (refused and
   * counted; the caller treats the discovery as failed).
   */
  open(n: Negotiated): Tunnel | undefined {
    const { ctx, timers } = this;
    const c = ctx.counters;
    const now = ctx.now();
    const t = this.table.add((id, slot) => new Tunnel(id, slot, n.peer, n.proxy, n.entry, n.icookie, n.rcookie, this.tedVersion, now, now + timers.tunnelLifetimeMs, n.trigger));
    if (!t) {
      c.refusedTunnels++;
      if (ctx.observed)
        ctx.emit({
          type: 'tunnel',
          state: 'refused',
          reason: 'table-full',
          tunnel: { id: 0, state: 'negotiated', peer: n.peer, proxy: n.proxy, entry: n.entry, icookie: n.icookie, rcookie: n.rcookie, tedVersion: this.tedVersion, negotiatedAt: now, lastUsed: now, expiresAt: now, packets: 0 },
        });
      return undefined;
    }
    c.tunnelsNegotiated++;
    if (Number.isFinite(timers.tunnelLifetimeMs)) t.lifetimeDeadline = ctx.scheduler.at(t.expiresAt, () => this.remove(t, 'lifetime'));
    if (Number.isFinite(timers.tunnelIdleMs)) this.armIdle(t, now + timers.tunnelIdleMs);
    const info = this.table.info(t);
    if (ctx.observed) ctx.emit({ type: 'tunnel', state: 'negotiated', tunnel: info });
    let up: boolean | void | Promise<boolean | void>;
    try {
      up = this.handoff.bringUp(info);
    } catch {
      this.handoffFailed(t);
      return t;
    }
    if (up && typeof (up as Promise<unknown>).then === 'function')
      (up as Promise<boolean | void>).then(
        (ok) => (ok === false ? this.handoffFailed(t) : this.establish(t)),
        () => this.handoffFailed(t),
      );
    else if (up === false) this.handoffFailed(t);
    else this.establish(t);
    return t;
  }

  private establish(t: Tunnel): void {
    if (this.table.get(t.id) !== t || t.state === 'established') return;
    t.state = 'established';
    t.establishedAt = this.ctx.now();
    this.ctx.counters.tunnelsEstablished++;
    if (this.ctx.observed) this.ctx.emit({ type: 'tunnel', state: 'established', tunnel: this.table.info(t) });
  }

  private handoffFailed(t: Tunnel): void {
    if (this.table.get(t.id) !== t) return;
    const c = this.ctx.counters;
    c.handoffFailures++;
    c.cipsNumTEDFailures++;
    this.remove(t, 'handoff-failed');
    this.holds.start(t.trigger.family, t.trigger.dst, 'handoff-failed', t.trigger.src);
  }

  /** HandoffSink: IKE reports the tunnel's SAs gone; packets DROP again and rediscover after a hold-down. */
  tunnelDown(id: number, reason: TeardownReason = 'ike-down'): boolean {
    const t = this.table.get(id);
    if (!t || !this.remove(t, reason)) return false;
    this.holds.start(t.trigger.family, t.trigger.dst, reason, t.trigger.src);
    return true;
  }

  private armIdle(t: Tunnel, at: number): void {
    t.idleDeadline = this.ctx.scheduler.at(at, () => {
      const due = this.table.lastUsed(t.slot) + this.timers.tunnelIdleMs;
      if (due <= this.ctx.now()) this.remove(t, 'idle');
      else this.armIdle(t, due);
    });
  }

  remove(t: Tunnel, reason: TeardownReason): boolean {
    const info = this.table.info(t);
    if (!this.table.remove(t)) return false;
    const { ctx } = this;
    const c = ctx.counters;
    ctx.scheduler.cancel(t.lifetimeDeadline);
    ctx.scheduler.cancel(t.idleDeadline);
    this.cache.invalidateValue(t.slot); // only this tunnel's flows
    c.flowCacheInvalidations++;
    if (reason === 'lifetime') c.tunnelsExpired++;
    else if (reason === 'idle') c.tunnelsIdle++;
    else if (reason === 'api' || reason === 'closed') c.tunnelsTornDown++;
    else if (reason === 'ike-down') c.tunnelsHandoffDown++;
    if (ctx.observed) ctx.emit({ type: 'tunnel', state: 'down', tunnel: info, reason });
    try {
      this.handoff.tearDown?.(info, reason);
    } catch {
      // the handoff's own failure does not keep a dead tunnel alive
    }
    return true;
  }

  tearDown(id: number, reason: TeardownReason = 'api'): boolean {
    const t = this.table.get(id);
    return t ? this.remove(t, reason) : false;
  }

  closeAll(): void {
    for (const t of [...this.table.all()]) this.remove(t, 'closed');
  }

  info(id: number): TunnelInfo | undefined {
    const t = this.table.get(id);
    return t && this.table.info(t);
  }

  list(): TunnelInfo[] {
    return [...this.table.all()].map((t) => this.table.info(t));
  }
}
