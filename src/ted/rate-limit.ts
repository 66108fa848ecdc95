// Per-initiator answer rate for the responder: a token bucket per initiator address, in a bounded
// map with least-recently-used eviction. When the map is full the stalest initiator is forgotten
// (and starts again with a full bucket): memory stays bounded under a flood of forged identities,
// and an initiator that keeps probing stays recent and keeps its own (limited) bucket.
export interface RateLimitOptions {
  /** Sustained answers per second per initiator. */
  readonly perSecond: number;
  /** Bucket size: answers allowed in a burst. */
  readonly burst: number;
  /** Initiators tracked at once. */
  readonly maxInitiators: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

export class RateLimiter {
  private buckets = new Map<string | bigint, Bucket>();
  evictions = 0;

  constructor(private readonly opts: RateLimitOptions) {}

  get size(): number {
    return this.buckets.size;
  }

  /** Takes one token for `key` at time `now` (ms); false when the initiator is over its rate. */
  take(key: string | bigint, now: number): boolean {
    const { perSecond, burst, maxInitiators } = this.opts;
    if (!Number.isFinite(perSecond)) return true;
    let b = this.buckets.get(key);
    if (b) {
      this.buckets.delete(key);
      b.tokens = Math.min(burst, b.tokens + ((now - b.at) * perSecond) / 1000);
      b.at = now;
    } else {
      if (this.buckets.size >= maxInitiators) {
        const oldest = this.buckets.keys().next().value as string | bigint;
        this.buckets.delete(oldest);
        this.evictions++;
      }
      b = { tokens: burst, at: now };
    }
    this.buckets.set(key, b);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }
}
