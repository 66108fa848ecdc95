// Destinations held down after a failed discovery: no new probe to them until the hold-down ends.
// Bounded: when the table is full a new hold-down is not recorded (counted), so a flood of
// failing destinations cannot grow it; and shared fairly: each source host (whose packet started
// the failed discovery) may cause at most its quota, with a reserve for hosts that caused none.
import type { Family } from '../selector/types.js';
import type { GatewayContext } from './context.js';
import type { NegativeCache } from './negative-cache.js';
import { SourceQuota } from './source-quota.js';
import type { HoldDownInfo } from './types.js';

interface Hold extends HoldDownInfo {
  /** The source host charged for it. */
  readonly source: bigint | undefined;
}

export interface HoldDownOptions {
  readonly max: number;
  readonly durationMs: number;
  readonly perSource: number;
  readonly reservePercent: number;
  /** Forgotten whenever a hold-down is cleared early. */
  readonly negative?: NegativeCache;
}

export class HoldDowns {
  private readonly holds = new Map<string, Hold>();
  private readonly max: number;
  private readonly durationMs: number;
  private readonly quota: SourceQuota;

  constructor(
    private readonly ctx: GatewayContext,
    private readonly opts: HoldDownOptions,
  ) {
    this.max = opts.max;
    this.durationMs = opts.durationMs;
    this.quota = new SourceQuota(opts.perSource, opts.max, opts.reservePercent);
  }

  get size(): number {
    return this.holds.size;
  }

  /** The hold-down in force for `destination` at `now`, if any. */
  active(family: Family, destination: bigint, now: number): HoldDownInfo | undefined {
    const h = this.holds.get(key(family, destination));
    return h && h.until > now ? h : undefined;
  }

  /** Holds `destination` down; `source` is the host whose packet started the failed discovery. */
  start(family: Family, destination: bigint, reason: string, source?: bigint): void {
    const k = key(family, destination);
    const c = this.ctx.counters;
    const before = this.holds.get(k);
    if (!before) {
      if (this.holds.size >= this.max) {
        c.refusedHoldDowns++;
        return;
      }
      if (source !== undefined && !this.quota.admits(family, source, this.holds.size)) {
        c.refusedHoldDownsSource++;
        return;
      }
    }
    // A renewed hold-down stays charged to the host that caused the first.
    const charged = before ? before.source : source;
    if (!before && charged !== undefined) this.quota.add(family, charged);
    const until = this.ctx.now() + this.durationMs;
    const h: Hold = { family, destination, until, reason, source: charged };
    this.holds.set(k, h);
    c.holdDownsStarted++;
    if (this.ctx.observed) this.ctx.emit({ type: 'hold-down', family, destination, until, reason });
    this.ctx.scheduler.at(until, () => {
      if (this.holds.get(k) === h) this.drop(k, h);
    });
  }

  private drop(k: string, h: Hold): void {
    this.holds.delete(k);
    if (h.source !== undefined) this.quota.remove(h.family, h.source);
  }

  clear(family: Family, destination: bigint): boolean {
    const k = key(family, destination);
    const h = this.holds.get(k);
    if (!h) return false;
    this.drop(k, h);
    this.opts.negative?.clear();
    return true;
  }

  /** Hold-downs `source` is charged for. */
  heldBy(family: Family, source: bigint): number {
    return this.quota.held(family, source);
  }

  list(now: number): HoldDownInfo[] {
    const out: HoldDownInfo[] = [];
    for (const h of this.holds.values()) if (h.until > now) out.push({ family: h.family, destination: h.destination, until: h.until, reason: h.reason });
    return out;
  }
}

function key(family: Family, destination: bigint): string {
  return `${family}/${destination}`;
}
