// Destinations held down after a failed discovery: no new probe to them until the hold-down ends.
// Bounded: when the table is full a new hold-down is not recorded (counted), so a flood of
// failing destinations cannot grow it.
import type { Family } from '../selector/types.js';
import type { GatewayContext } from './context.js';
import type { HoldDownInfo } from './types.js';

export class HoldDowns {
  private readonly holds = new Map<string, HoldDownInfo>();

  constructor(
    private readonly ctx: GatewayContext,
    private readonly max: number,
    private readonly durationMs: number,
  ) {}

  get size(): number {
    return this.holds.size;
  }

  /** The hold-down in force for `destination` at `now`, if any. */
  active(family: Family, destination: bigint, now: number): HoldDownInfo | undefined {
    const h = this.holds.get(key(family, destination));
    return h && h.until > now ? h : undefined;
  }

  start(family: Family, destination: bigint, reason: string): void {
    const k = key(family, destination);
    const c = this.ctx.counters;
    if (!this.holds.has(k) && this.holds.size >= this.max) {
      c.refusedHoldDowns++;
      return;
    }
    const until = this.ctx.now() + this.durationMs;
    const h: HoldDownInfo = { family, destination, until, reason };
    this.holds.set(k, h);
    c.holdDownsStarted++;
    if (this.ctx.observed) this.ctx.emit({ type: 'hold-down', family, destination, until, reason });
    this.ctx.scheduler.at(until, () => {
      if (this.holds.get(k) === h) this.holds.delete(k);
    });
  }

  clear(family: Family, destination: bigint): boolean {
    return this.holds.delete(key(family, destination));
  }

  list(now: number): HoldDownInfo[] {
    return [...this.holds.values()].filter((h) => h.until > now);
  }
}

function key(family: Family, destination: bigint): string {
  return `${family}/${destination}`;
}
