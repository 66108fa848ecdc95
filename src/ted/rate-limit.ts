// The responder's answer budgets: token buckets per initiator address, per initiator prefix
// (/24, /56 by default) and one for the whole gateway, so that neither repeating an identity nor
// spreading identities over a victim's network gets more answers than the budgets allow.
//
// Per-key buckets live in a fixed table indexed by a keyed hash of the key: no key is stored and
// nothing is ever evicted, so a flood of fresh identities cannot push a victim out and hand it a
// full bucket again (an LRU map did: about 8,000 answers to a victim instead of 40), and every
// take is O(1) whatever the flood (an LRU over a Map paid O(capacity) per eviction in V8). Keys
// that share a slot share its bucket: that only ever answers less, never more, than a bucket per
// key would. The hash is keyed with a random seed so that an attacker cannot pick identities
// that land in a chosen victim's slot (it is a fast mixer, not a cryptographic function).
import { randomFillSync } from 'node:crypto';
import { fmix32 } from './hash32.js';

export interface BucketOptions {
  /** Sustained takes per second per bucket; Infinity disables the limit. */
  readonly perSecond: number;
  /** Bucket size: takes allowed in a burst. */
  readonly burst: number;
}

export interface BucketTableOptions extends BucketOptions {
  /** Buckets in the table (rounded up to a power of two). */
  readonly slots: number;
  /** Hash key (default random). */
  readonly seed?: number;
}

// Buckets count thousandths of a token, so a refill of (ms elapsed) x (tokens per second) is exact
// for whole milliseconds and rates: the instant a token comes back does not depend on how the
// time between was cut into refills (in whole tokens, 0.844 + 0.084 + 0.072 falls short of 1).
const UNIT = 1000;

/** One token bucket: `tokens` (thousandths) refilled lazily from `at` (ms). */
export class TokenBucket {
  private tokens: number;
  private at = -Infinity;
  readonly unlimited: boolean;
  private readonly full: number;

  constructor(readonly opts: BucketOptions) {
    this.unlimited = !Number.isFinite(opts.perSecond);
    this.full = opts.burst * UNIT;
    this.tokens = this.full;
  }

  /** True when a token is available at `now` (refills; takes nothing). */
  ready(now: number): boolean {
    if (this.unlimited) return true;
    if (now > this.at) {
      this.tokens = this.at === -Infinity ? this.full : Math.min(this.full, this.tokens + (now - this.at) * this.opts.perSecond);
      this.at = now;
    }
    return this.tokens >= UNIT;
  }

  /** Takes a token at `now`; false (and nothing taken) when none is available. */
  take(now: number): boolean {
    if (!this.ready(now)) return false;
    if (!this.unlimited) this.tokens -= UNIT;
    return true;
  }

  /** Takes a token after `ready(now)` said yes. */
  commit(): void {
    if (!this.unlimited) this.tokens -= UNIT;
  }
}


function randomSeed(): number {
  const b = new Uint32Array(1);
  randomFillSync(b);
  return b[0]!;
}

/**
 * A fixed table of token buckets indexed by a keyed hash. Keys are IPv4 addresses (one 32-bit
 * word) or IPv6 addresses (four words, most significant first).
 */
export class BucketTable {
  readonly slots: number;
  readonly unlimited: boolean;
  private readonly mask: number;
  /** Thousandths of a token per slot. */
  private readonly tokens: Float64Array;
  /** Time of the last refill per slot; NaN = never used (a full bucket). */
  private readonly at: Float64Array;
  /** Thousandths of a token per ms. */
  private readonly rate: number;
  private readonly burst: number;
  private readonly seed: number;
  private readonly seed2: number;
  /** Slots that have ever been used (for sizes()). */
  used = 0;

  constructor(opts: BucketTableOptions) {
    let s = 1;
    while (s < opts.slots) s *= 2;
    this.slots = s;
    this.mask = s - 1;
    this.unlimited = !Number.isFinite(opts.perSecond);
    this.rate = opts.perSecond;
    this.burst = opts.burst * UNIT;
    this.tokens = new Float64Array(this.unlimited ? 0 : s);
    this.at = new Float64Array(this.unlimited ? 0 : s).fill(NaN);
    this.seed = opts.seed ?? randomSeed();
    this.seed2 = fmix32(this.seed ^ 0x5bd1e995);
  }

  /** Bytes held (fixed at construction). */
  get bytes(): number {
    return this.tokens.byteLength + this.at.byteLength;
  }

  /** The slot of an IPv4 key. */
  slot4(a: number): number {
    return fmix32(fmix32((a ^ this.seed) >>> 0) ^ this.seed2) & this.mask;
  }

  /** The slot of an IPv6 key given as four 32-bit words. */
  slot6(w0: number, w1: number, w2: number, w3: number): number {
    let h = fmix32((w0 ^ this.seed) >>> 0);
    h = fmix32((h ^ w1 ^ 0x27d4eb2f) >>> 0);
    h = fmix32((h ^ w2 ^ 0x165667b1) >>> 0);
    h = fmix32((h ^ w3 ^ this.seed2) >>> 0);
    return h & this.mask;
  }

  /** True when the bucket at `slot` has a token at `now` (refills; takes nothing). */
  ready(slot: number, now: number): boolean {
    if (this.unlimited) return true;
    const last = this.at[slot]!;
    let t: number;
    if (last !== last) {
      t = this.burst;
      this.used++;
    } else if (now > last) t = Math.min(this.burst, this.tokens[slot]! + (now - last) * this.rate);
    else {
      return this.tokens[slot]! >= UNIT;
    }
    this.tokens[slot] = t;
    this.at[slot] = now;
    return t >= UNIT;
  }

  /** Takes a token from `slot` after `ready` said yes. */
  commit(slot: number): void {
    if (!this.unlimited) this.tokens[slot]! -= UNIT;
  }

  /** ready + commit. */
  take(slot: number, now: number): boolean {
    if (!this.ready(slot, now)) return false;
    this.commit(slot);
    return true;
  }
}

/** Outcome of asking the budgets for one answer. */
export const ANSWER_OK = 0;
export const ANSWER_INITIATOR_LIMITED = 1;
export const ANSWER_PREFIX_LIMITED = 2;
export const ANSWER_GLOBAL_LIMITED = 3;
export type AnswerVerdict = typeof ANSWER_OK | typeof ANSWER_INITIATOR_LIMITED | typeof ANSWER_PREFIX_LIMITED | typeof ANSWER_GLOBAL_LIMITED;

export interface AnswerBudgetOptions {
  /** Per initiator address. */
  readonly perInitiator: BucketOptions;
  /** Per initiator prefix (the prefix lengths below). */
  readonly perPrefix: BucketOptions;
  /** The whole gateway. */
  readonly global: BucketOptions;
  /** Prefix lengths that group initiators (default 24 for IPv4, 56 for IPv6). */
  readonly prefix4?: number;
  readonly prefix6?: number;
  /** Buckets per table (per-initiator and per-prefix). */
  readonly slots: number;
  readonly seed?: number;
}

function wordMask(bits: number): number {
  return bits <= 0 ? 0 : bits >= 32 ? 0xffffffff : (0xffffffff << (32 - bits)) >>> 0;
}

/**
 * Every budget a response must fit: one token from the initiator's bucket, its prefix's bucket
 * and the global bucket, taken together or not at all (a refusal by one budget costs the others
 * nothing).
 */
export class AnswerBudget {
  readonly initiators: BucketTable;
  readonly prefixes: BucketTable;
  readonly global: TokenBucket;
  private readonly m4: number;
  private readonly m6: Uint32Array;

  constructor(opts: AnswerBudgetOptions) {
    const seed = opts.seed ?? randomSeed();
    this.initiators = new BucketTable({ ...opts.perInitiator, slots: opts.slots, seed });
    this.prefixes = new BucketTable({ ...opts.perPrefix, slots: opts.slots, seed: fmix32(seed ^ 0x9e3779b9) });
    this.global = new TokenBucket(opts.global);
    this.m4 = wordMask(opts.prefix4 ?? 24);
    const p6 = opts.prefix6 ?? 56;
    this.m6 = Uint32Array.from([0, 1, 2, 3], (i) => wordMask(p6 - 32 * i));
  }

  /** One answer to the IPv4 initiator `a` at `now`: taken from every budget, or a refusal. */
  take4(a: number, now: number): AnswerVerdict {
    return this.decide(this.initiators.slot4(a), this.prefixes.slot4((a & this.m4) >>> 0), now);
  }

  /** The same for an IPv6 initiator given as four words. */
  take6(w0: number, w1: number, w2: number, w3: number, now: number): AnswerVerdict {
    const m = this.m6;
    return this.decide(this.initiators.slot6(w0, w1, w2, w3), this.prefixes.slot6((w0 & m[0]!) >>> 0, (w1 & m[1]!) >>> 0, (w2 & m[2]!) >>> 0, (w3 & m[3]!) >>> 0), now);
  }

  private decide(i: number, p: number, now: number): AnswerVerdict {
    if (!this.initiators.ready(i, now)) return ANSWER_INITIATOR_LIMITED;
    if (!this.prefixes.ready(p, now)) return ANSWER_PREFIX_LIMITED;
    if (!this.global.ready(now)) return ANSWER_GLOBAL_LIMITED;
    this.initiators.commit(i);
    this.prefixes.commit(p);
    this.global.commit();
    return ANSWER_OK;
  }

  /** For an address as a bigint (IPv6 when `family` is 6). */
  take(family: 4 | 6, address: bigint, now: number): AnswerVerdict {
    if (family === 4) return this.take4(Number(address & 0xffffffffn) >>> 0, now);
    return this.take6(
      Number((address >> 96n) & 0xffffffffn),
      Number((address >> 64n) & 0xffffffffn),
      Number((address >> 32n) & 0xffffffffn),
      Number(address & 0xffffffffn),
      now,
    );
  }

  /** Memory held by the tables (fixed at construction). */
  get bytes(): number {
    return this.initiators.bytes + this.prefixes.bytes;
  }
}

// ------------------------------------------------------------------ compatibility

export interface RateLimitOptions {
  /** Sustained answers per second per initiator. */
  readonly perSecond: number;
  /** Bucket size: answers allowed in a burst. */
  readonly burst: number;
  /** Buckets in the table (was: initiators tracked at once). */
  readonly maxInitiators: number;
}

/** Per-initiator limit alone (the gateway before answer budgets): a BucketTable keyed by address. */
export class RateLimiter {
  private readonly table: BucketTable;
  /** Always 0: the table never evicts (kept for callers that read it). */
  readonly evictions = 0;

  constructor(opts: RateLimitOptions) {
    this.table = new BucketTable({ perSecond: opts.perSecond, burst: opts.burst, slots: opts.maxInitiators });
  }

  /** Buckets in use (bounded by the table's slots). */
  get size(): number {
    return this.table.used;
  }

  /** Takes one token for `k` (an IPv4 address, or an IPv6 address | 1 << 128) at `now` (ms). */
  take(k: bigint, now: number): boolean {
    if (this.table.unlimited) return true;
    const slot =
      k <= 0xffffffffn
        ? this.table.slot4(Number(k))
        : this.table.slot6(Number((k >> 96n) & 0xffffffffn), Number((k >> 64n) & 0xffffffffn), Number((k >> 32n) & 0xffffffffn), Number(k & 0xffffffffn));
    return this.table.take(slot, now);
  }
}
