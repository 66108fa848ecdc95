import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { TupleBatch, batchLayout } from '../src/classify/batch.js';
import type { Tuple } from '../src/selector/types.js';

const tupleArb: fc.Arbitrary<Tuple> = fc.oneof(
  fc.record({
    family: fc.constant(4 as const),
    protocol: fc.integer({ min: 0, max: 255 }),
    src: fc.bigInt({ min: 0n, max: 0xffffffffn }),
    dst: fc.bigInt({ min: 0n, max: 0xffffffffn }),
    sport: fc.integer({ min: 0, max: 65535 }),
    dport: fc.integer({ min: 0, max: 65535 }),
    hasPorts: fc.boolean(),
  }),
  fc.record({
    family: fc.constant(6 as const),
    protocol: fc.integer({ min: 0, max: 255 }),
    src: fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }),
    dst: fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }),
    sport: fc.integer({ min: 0, max: 65535 }),
    dport: fc.integer({ min: 0, max: 65535 }),
    hasPorts: fc.boolean(),
  }),
);

describe('TupleBatch', () => {
  it('aligns every column to 16 bytes and keeps them apart', () => {
    for (const cap of [1, 3, 64, 1000]) {
      const L = batchLayout(cap);
      const cols = [L.src, L.dst, L.src6, L.dst6, L.sport, L.dport, L.proto, L.family, L.flags, L.results];
      for (const c of cols) expect(c % 16).toBe(0);
      for (let i = 1; i < cols.length; i++) expect(cols[i]!).toBeGreaterThan(cols[i - 1]!);
      expect(L.bytes).toBeGreaterThanOrEqual(L.results + 4 * cap);
    }
  });

  it('reads back what was written, in a shared buffer at an offset', () => {
    fc.assert(
      fc.property(fc.array(tupleArb, { minLength: 1, maxLength: 50 }), (tuples) => {
        const cap = tuples.length;
        const buffer = new ArrayBuffer(batchLayout(cap).bytes + 64);
        const b = new TupleBatch(cap, buffer, 48);
        tuples.forEach((t) => b.push(t));
        expect(b.count).toBe(cap);
        tuples.forEach((t, i) => expect(b.get(i)).toEqual(t));
      }),
    );
  });

  it('marks undecodable frames and refuses to overflow', () => {
    const b = new TupleBatch(1);
    b.setNone(0);
    expect(b.get(0)).toBeUndefined();
    b.push({ family: 4, protocol: 6, src: 1n, dst: 2n, sport: 3, dport: 4, hasPorts: true });
    expect(() => b.push({ family: 4, protocol: 6, src: 1n, dst: 2n, sport: 3, dport: 4, hasPorts: true })).toThrow(RangeError);
    expect(() => new TupleBatch(0)).toThrow(RangeError);
  });
});
