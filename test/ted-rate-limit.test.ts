// The responder's answer budgets against brute-force references: a token bucket per key in an
// unbounded Map (what the fixed table must equal when keys do not share a slot, and must never
// exceed when they do), and the all-or-nothing composition of the three budgets.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  ANSWER_GLOBAL_LIMITED,
  ANSWER_INITIATOR_LIMITED,
  ANSWER_OK,
  ANSWER_PREFIX_LIMITED,
  AnswerBudget,
  BucketTable,
  RateLimiter,
  TokenBucket,
} from '../src/ted/rate-limit.js';

/** The obvious token bucket per key, never forgotten. */
// Exact: tokens as BigInt thousandths (the draws use whole ms and whole rates), so a token comes
// back at exactly the instant the rate says, however the time between was cut up.
class RefBuckets {
  private readonly m = new Map<string | number | bigint, { tokens: bigint; at: number }>();
  private readonly full: bigint;
  constructor(
    private readonly perSecond: number,
    burst: number,
  ) {
    this.full = BigInt(burst) * 1000n;
  }
  private refill(k: string | number | bigint, now: number) {
    let b = this.m.get(k);
    if (!b) this.m.set(k, (b = { tokens: this.full, at: now }));
    if (now > b.at) {
      const t = b.tokens + BigInt(now - b.at) * BigInt(this.perSecond);
      b.tokens = t < this.full ? t : this.full;
      b.at = now;
    }
    return b;
  }
  ready(k: string | number | bigint, now: number): boolean {
    return this.refill(k, now).tokens >= 1000n;
  }
  take(k: string | number | bigint, now: number): boolean {
    const b = this.refill(k, now);
    if (b.tokens < 1000n) return false;
    b.tokens -= 1000n;
    return true;
  }
}

/** Requests: (key index, time step in ms), times non-decreasing. */
const requests = (keys: number) =>
  fc.array(fc.record({ k: fc.nat({ max: keys - 1 }), dt: fc.oneof(fc.constant(0), fc.nat({ max: 50 }), fc.nat({ max: 3000 })) }), { minLength: 1, maxLength: 300 });

describe('BucketTable', () => {
  it('equals a bucket per key when the keys do not share a slot', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.nat({ max: 0xffffffff }), { minLength: 1, maxLength: 8 }),
        requests(8),
        fc.integer({ min: 1, max: 50 }),
        fc.integer({ min: 1, max: 10 }),
        fc.nat(),
        (addrs, reqs, perSecond, burst, seed) => {
          const t = new BucketTable({ perSecond, burst, slots: 1024, seed });
          fc.pre(new Set(addrs.map((a) => t.slot4(a))).size === addrs.length);
          const ref = new RefBuckets(perSecond, burst);
          let now = 0;
          for (const r of reqs) {
            now += r.dt;
            const a = addrs[r.k % addrs.length]!;
            expect(t.take(t.slot4(a), now)).toBe(ref.take(a, now));
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('never gives a key more than burst + rate x time, in any window, whoever shares its slot', () => {
    fc.assert(
      fc.property(requests(64), fc.integer({ min: 1, max: 50 }), fc.integer({ min: 1, max: 10 }), fc.nat(), (reqs, perSecond, burst, seed) => {
        // 4 slots for 64 keys: heavy sharing.
        const t = new BucketTable({ perSecond, burst, slots: 4, seed });
        const grants = new Map<number, number[]>();
        let now = 0;
        for (const r of reqs) {
          now += r.dt;
          if (t.take(t.slot4(r.k), now)) (grants.get(r.k) ?? grants.set(r.k, []).get(r.k)!).push(now);
        }
        for (const times of grants.values())
          for (let i = 0; i < times.length; i++)
            for (let j = i; j < times.length; j++) expect(j - i + 1).toBeLessThanOrEqual(burst + ((times[j]! - times[i]!) * perSecond) / 1000 + 1e-9);
      }),
      { numRuns: 300 },
    );
  });

  it('a flood of fresh identities cannot refill a victim (the LRU did: 8,000 answers instead of 40)', () => {
    const burst = 40;
    const t = new BucketTable({ perSecond: 20, burst, slots: 4096, seed: 7 });
    const victim = 0xc0000201;
    let answered = 0;
    let x = 1;
    // One second: the victim's identity 8,000 times, each after 100 random identities.
    for (let i = 0; i < 8000; i++) {
      const now = i / 8;
      for (let k = 0; k < 100; k++) {
        x = (Math.imul(x, 1103515245) + 12345) >>> 0;
        t.take(t.slot4(x), now);
      }
      if (t.take(t.slot4(victim), now)) answered++;
    }
    expect(answered).toBeLessThanOrEqual(burst + 20);
  });

  it('IPv6 keys: equal to a bucket per key without sharing, distinct words give distinct keys', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.tuple(fc.nat({ max: 0xffffffff }), fc.nat({ max: 0xffffffff }), fc.nat({ max: 0xffffffff }), fc.nat({ max: 0xffffffff })), {
          minLength: 1,
          maxLength: 6,
          selector: (w) => w.join(','),
        }),
        requests(6),
        fc.nat(),
        (keys, reqs, seed) => {
          const t = new BucketTable({ perSecond: 5, burst: 3, slots: 4096, seed });
          const slot = (w: number[]) => t.slot6(w[0]!, w[1]!, w[2]!, w[3]!);
          fc.pre(new Set(keys.map(slot)).size === keys.length);
          const ref = new RefBuckets(5, 3);
          let now = 0;
          for (const r of reqs) {
            now += r.dt;
            const w = keys[r.k % keys.length]!;
            expect(t.take(slot(w), now)).toBe(ref.take(w.join(','), now));
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('Infinity disables the limit and holds no memory', () => {
    const t = new BucketTable({ perSecond: Infinity, burst: 1, slots: 1 << 16 });
    expect(t.bytes).toBe(0);
    for (let i = 0; i < 100; i++) expect(t.take(t.slot4(1), 0)).toBe(true);
  });
});

describe('TokenBucket', () => {
  it('equals the reference', () => {
    fc.assert(
      fc.property(requests(1), fc.integer({ min: 1, max: 50 }), fc.integer({ min: 1, max: 10 }), (reqs, perSecond, burst) => {
        const b = new TokenBucket({ perSecond, burst });
        const ref = new RefBuckets(perSecond, burst);
        let now = 0;
        for (const r of reqs) {
          now += r.dt;
          expect(b.take(now)).toBe(ref.take(0, now));
        }
      }),
    );
  });
});

describe('AnswerBudget', () => {
  it('takes from the initiator, its prefix and the global budget together or not at all (reference)', () => {
    fc.assert(
      fc.property(
        // Initiators in a few /24s so prefix budgets bite.
        fc.uniqueArray(fc.tuple(fc.nat({ max: 3 }), fc.nat({ max: 255 })), { minLength: 1, maxLength: 10, selector: (x) => x.join('.') }),
        requests(10),
        fc.record({ i: fc.integer({ min: 1, max: 20 }), p: fc.integer({ min: 1, max: 30 }), g: fc.integer({ min: 1, max: 40 }) }),
        fc.record({ i: fc.integer({ min: 1, max: 4 }), p: fc.integer({ min: 1, max: 6 }), g: fc.integer({ min: 1, max: 8 }) }),
        fc.nat(),
        (hosts, reqs, rate, burst, seed) => {
          const addrs = hosts.map(([net, h]) => ((0xc6336400 + (net << 8) + h) >>> 0));
          const budget = new AnswerBudget({
            perInitiator: { perSecond: rate.i, burst: burst.i },
            perPrefix: { perSecond: rate.p, burst: burst.p },
            global: { perSecond: rate.g, burst: burst.g },
            slots: 4096,
            seed,
          });
          fc.pre(new Set(addrs.map((a) => budget.initiators.slot4(a))).size === addrs.length);
          const nets = [...new Set(addrs.map((a) => a >>> 8))];
          fc.pre(new Set(nets.map((n) => budget.prefixes.slot4((n << 8) >>> 0))).size === nets.length);
          const ri = new RefBuckets(rate.i, burst.i);
          const rp = new RefBuckets(rate.p, burst.p);
          const rg = new RefBuckets(rate.g, burst.g);
          let now = 0;
          for (const r of reqs) {
            now += r.dt;
            const a = addrs[r.k % addrs.length]!;
            let want: number;
            if (!ri.ready(a, now)) want = ANSWER_INITIATOR_LIMITED;
            else if (!rp.ready(a >>> 8, now)) want = ANSWER_PREFIX_LIMITED;
            else if (!rg.ready(0, now)) want = ANSWER_GLOBAL_LIMITED;
            else {
              ri.take(a, now);
              rp.take(a >>> 8, now);
              rg.take(0, now);
              want = ANSWER_OK;
            }
            expect(budget.take4(a, now)).toBe(want);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('spreading identities over a victim /24 does not multiply the answers', () => {
    const budget = new AnswerBudget({ perInitiator: { perSecond: 20, burst: 40 }, perPrefix: { perSecond: 100, burst: 200 }, global: { perSecond: Infinity, burst: 1 }, slots: 65536 });
    let ok = 0;
    for (let i = 0; i < 100_000; i++) if (budget.take4((0xcb007100 | (i & 255)) >>> 0, i / 100) === ANSWER_OK) ok++;
    // 1,000 ms at 100/s plus a burst of 200.
    expect(ok).toBeLessThanOrEqual(200 + 100 + 1);
    expect(ok).toBeGreaterThanOrEqual(200);
  });

  it('IPv6 prefixes are /56 by default: identities in one /56 share, another /56 does not', () => {
    const budget = new AnswerBudget({ perInitiator: { perSecond: Infinity, burst: 1 }, perPrefix: { perSecond: 1, burst: 2 }, global: { perSecond: Infinity, burst: 1 }, slots: 4096, seed: 3 });
    const base = 0x20010db8_00000000_00000000_00000000n;
    expect(budget.take(6, base | 1n, 0)).toBe(ANSWER_OK);
    expect(budget.take(6, base | (0xffn << 64n) | 2n, 0)).toBe(ANSWER_OK); // same /56 (byte 7 varies)
    expect(budget.take(6, base | 3n, 0)).toBe(ANSWER_PREFIX_LIMITED);
    expect(budget.take(6, base | (0x1n << 72n) | 3n, 0)).toBe(ANSWER_OK); // the next /56
  });

  it('the global budget caps everything', () => {
    const budget = new AnswerBudget({ perInitiator: { perSecond: 20, burst: 40 }, perPrefix: { perSecond: 100, burst: 200 }, global: { perSecond: 10, burst: 5 }, slots: 4096 });
    let ok = 0;
    for (let i = 0; i < 1000; i++) if (budget.take4((i * 0x01010101) >>> 0, 0) === ANSWER_OK) ok++;
    expect(ok).toBe(5);
    expect(budget.take4(0x0a000001, 1000)).toBe(ANSWER_OK);
  });
});

describe('RateLimiter (per initiator only)', () => {
  it('refills over time; IPv6 keys; bounded', () => {
    const r = new RateLimiter({ perSecond: 1, burst: 2, maxInitiators: 3 });
    expect([r.take(1n, 0), r.take(1n, 0), r.take(1n, 0)]).toEqual([true, true, false]);
    expect(r.take(1n, 1000)).toBe(true);
    for (let k = 2n; k < 1000n; k++) r.take(k, 1000);
    expect(r.size).toBeLessThanOrEqual(4);
    const r6 = new RateLimiter({ perSecond: 1, burst: 1, maxInitiators: 1 });
    expect(r6.take((1n << 128n) | 1n, 0)).toBe(true);
    expect(r6.take((1n << 128n) | 1n, 0)).toBe(false);
    expect(r.evictions).toBe(0);
  });
});
