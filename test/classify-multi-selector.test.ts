// Entries that cover several selectors (Cisco entries written with object groups): every engine
// compiles each selector with the entry's ordinal, so the first entry any of whose selectors holds
// the packet wins, exactly as the reference algebra's firstMatch says.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compile } from '../src/classify/index.js';
import { contains, entrySelectors, firstMatch } from '../src/selector/algebra.js';
import type { Entry, Selector, Tuple } from '../src/selector/types.js';
import { entryArb, insideEntry, loadNoSimd, tupleArb, worldArb } from './classify-helpers.js';

/** Consecutive random selectors grouped into entries of 1-4 selectors each. */
function grouped(raw: readonly Omit<Entry, 'ordinal'>[], sizes: readonly number[]): Entry[] {
  const out: Entry[] = [];
  for (let at = 0, k = 0; at < raw.length; k++) {
    const n = Math.min(sizes[k % sizes.length]!, raw.length - at);
    const members: Selector[] = raw.slice(at, at + n).map((e) => ({ family: e.family, protocol: e.protocol, src: e.src, dst: e.dst, sport: e.sport, dport: e.dport }));
    const first = raw[at]!;
    out.push({ ...members[0]!, ordinal: out.length + 1, action: first.action, ...(n > 1 ? { selectors: members } : {}) });
    at += n;
  }
  return out;
}

describe('multi-selector entries in the classifier', () => {
  it('wasm (both builds), ts and linear give the first entry any of whose selectors holds the packet', () => {
    let matched = 0;
    let byLaterSelector = 0;
    let total = 0;
    fc.assert(
      fc.property(
        worldArb.chain((w) =>
          fc.tuple(
            fc.array(entryArb(w), { minLength: 1, maxLength: 40 }),
            fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 8 }),
            fc.array(tupleArb(w), { minLength: 1, maxLength: 60 }),
            fc.constantFrom(1, 8),
          ),
        ),
        ([raw, sizes, tuples, leafSize]) => {
          const entries = grouped(raw, sizes);
          // Most tuples are moved inside one selector of a random entry (often not its first).
          const near: Tuple[] = tuples.map((t, i) => {
            if (i % 3 === 2) return t;
            const e = entries[t.sport % entries.length]!;
            const members = entrySelectors(e);
            const m = members[t.dport % members.length]!;
            return insideEntry(t, { ...m, ordinal: e.ordinal, action: e.action });
          });
          const expected = near.map((t) => firstMatch(entries, t));
          total += near.length;
          matched += expected.filter((o) => o > 0).length;
          // The entry's own fields are its first selector: these packets are held by a later one only.
          byLaterSelector += near.filter((t, i) => expected[i]! > 0 && !contains(entries[expected[i]! - 1]!, t)).length;
          for (const c of [compile(entries, { engine: 'wasm', leafSize }), compile(entries, { engine: 'wasm', wasm: loadNoSimd(), leafSize }), compile(entries, { engine: 'ts', leafSize }), compile(entries, { engine: 'linear' })]) {
            expect(c.rules).toBe(entries.length);
            const b = c.createBatch(near.length);
            near.forEach((t, i) => b.set(i, t));
            b.count = near.length;
            const out = new Int32Array(near.length);
            c.classify(b, out);
            expect(Array.from(out), c.engine).toEqual(expected);
            c.dispose?.();
          }
        },
      ),
      { numRuns: 150 },
    );
    expect(matched / total).toBeGreaterThan(0.3);
    // Packets that only a selector other than the entry's first holds: the case the feature is for.
    expect(byLaterSelector).toBeGreaterThan(50);
  });
});
