// Fair shares of a bounded table (pending probes, hold-downs) among the source hosts that fill it:
// each host may hold at most `perSource` entries, and the last `reserve` places are kept for
// hosts that hold none. One LAN host storming new destinations then fills its own share and
// nothing more, and a genuine host's first discovery still finds room.
//
// Counts live in a Map keyed by source address; a host appears only while it holds an entry, so
// the map is never larger than the table itself.
import type { Family } from '../selector/types.js';

export class SourceQuota {
  private readonly counts = new Map<bigint, number>();
  /** Places of the table kept for hosts that hold none. */
  readonly reserve: number;

  constructor(
    readonly perSource: number,
    readonly capacity: number,
    reservePercent: number,
  ) {
    this.reserve = Math.floor((capacity * reservePercent) / 100);
  }

  private static key(family: Family, src: bigint): bigint {
    return family === 4 ? src : src | (1n << 128n);
  }

  /** Entries `src` holds. */
  held(family: Family, src: bigint): number {
    return this.counts.get(SourceQuota.key(family, src)) ?? 0;
  }

  /** Hosts holding at least one entry. */
  get hosts(): number {
    return this.counts.size;
  }

  /**
   * May `src` add one entry to the table, which holds `size` entries now? (The table's own bound
   * is checked by its owner.)
   */
  admits(family: Family, src: bigint, size: number): boolean {
    const n = this.held(family, src);
    if (n >= this.perSource) return false;
    return n === 0 || size < this.capacity - this.reserve;
  }

  add(family: Family, src: bigint): void {
    const k = SourceQuota.key(family, src);
    this.counts.set(k, (this.counts.get(k) ?? 0) + 1);
  }

  remove(family: Family, src: bigint): void {
    const k = SourceQuota.key(family, src);
    const n = this.counts.get(k);
    if (n === undefined) return;
    if (n <= 1) this.counts.delete(k);
    else this.counts.set(k, n - 1);
  }
}
