// intersectBatch (wasm SIMD and scalar builds, ts) equals the reference algebra's intersect on
// random pairs and on one proxy against many entries, including which field is empty first.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { intersectBatch, SelectorTable, STATUS_FIELDS } from '../src/classify/intersect.js';
import { intersect } from '../src/selector/algebra.js';
import type { Selector } from '../src/selector/types.js';
import { entryArb, loadNoSimd, worldArb } from './classify-helpers.js';

const engines = [{ engine: 'wasm' as const }, { engine: 'wasm' as const, wasm: loadNoSimd() }, { engine: 'ts' as const }, { engine: 'linear' as const }];

function strip(e: Selector): Selector {
  return { family: e.family, protocol: e.protocol, src: e.src, dst: e.dst, sport: e.sport, dport: e.dport };
}

describe('intersectBatch', () => {
  it('equals algebra.intersect on random pairs (IPv4, IPv6, mixed families, wildcard masks, port sets)', () => {
    let empty = 0;
    let total = 0;
    fc.assert(
      fc.property(
        fc.tuple(worldArb, worldArb).chain(([w1, w2]) =>
          fc.array(fc.tuple(fc.oneof(entryArb(w1), entryArb(w2)), fc.oneof({ arbitrary: entryArb(w1), weight: 3 }, { arbitrary: entryArb(w2), weight: 1 })), { maxLength: 50 }),
        ),
        (pairs) => {
          const a = pairs.map(([x]) => strip(x as Selector));
          // Every other right selector is moved to overlap its left one in addresses and protocol.
          const b = pairs.map(([x, y], i) =>
            i % 2 === 0 && x.family === y.family
              ? strip({ ...y, protocol: i % 4 === 0 ? 0 : x.protocol, src: { value: x.src.value & y.src.care, care: y.src.care }, dst: { value: x.dst.value & y.dst.care, care: y.dst.care } } as Selector)
              : strip(y as Selector),
          );
          const expected = a.map((x, i) => intersect(x, b[i]!));
          total += expected.length;
          empty += expected.filter((r) => r.empty).length;
          for (const o of engines) expect(intersectBatch(a, b, o), o.engine).toEqual(expected);
        },
      ),
      { numRuns: 200 },
    );
    // Both outcomes must be exercised.
    expect(empty).toBeGreaterThan(total * 0.1);
    expect(empty).toBeLessThan(total * 0.95);
  });

  it('one proxy against many entries', () => {
    fc.assert(
      fc.property(
        worldArb.chain((w) => fc.tuple(entryArb(w), fc.array(entryArb(w), { maxLength: 300 }))),
        ([p, es]) => {
          const proxy = strip(p as Selector);
          const entries = es.map((e) => strip(e as Selector));
          const expected = entries.map((e) => intersect(proxy, e));
          for (const o of engines) expect(intersectBatch(proxy, entries, o)).toEqual(expected);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('a large batch after small ones (the WebAssembly scratch region grows), and bad arguments', () => {
    const w = fc.sample(worldArb, { numRuns: 1, seed: 3 })[0]!;
    const es = fc.sample(entryArb(w), { numRuns: 5000, seed: 5 }).map((e) => strip(e as Selector));
    expect(intersectBatch(es[0]!, es.slice(1, 3))).toEqual(es.slice(1, 3).map((e) => intersect(es[0]!, e)));
    expect(intersectBatch(es[0]!, es)).toEqual(es.map((e) => intersect(es[0]!, e)));
    expect(intersectBatch(es[0]!, [])).toEqual([]);
    expect(() => intersectBatch([es[0]!], [])).toThrow(RangeError);
    expect(() => intersectBatch(es[0]!, es, { engine: 'fast' as 'ts' })).toThrow(expect.objectContaining({ code: 'CLASSIFY_BAD_ENGINE' }));
  });

  it('one entries array reused across calls (its cached encoding) and changed in place between calls', () => {
    fc.assert(
      fc.property(
        worldArb.chain((w) => fc.tuple(fc.array(entryArb(w), { minLength: 2, maxLength: 5 }), fc.array(entryArb(w), { minLength: 16, maxLength: 80 }), fc.array(entryArb(w), { minLength: 1, maxLength: 4 }))),
        ([proxies, es, extra]) => {
          const entries = es.map((e) => strip(e as Selector));
          // Left sides for pairs, one array kept and changed in place with `entries`.
          const lefts: Selector[] = [];
          const check = () => {
            for (const p of proxies) {
              const proxy = strip(p as Selector);
              const expected = entries.map((e) => intersect(proxy, e));
              for (const o of engines) expect(intersectBatch(proxy, entries, o), o.engine).toEqual(expected);
            }
            lefts.length = entries.length;
            for (let i = 0; i < lefts.length; i++) if (!lefts[i] || i % 3 === 0) lefts[i] = strip(proxies[i % proxies.length] as Selector);
            const expected = lefts.map((l, i) => intersect(l, entries[i]!));
            for (const o of engines) expect(intersectBatch(lefts, entries, o), `${o.engine} pairs`).toEqual(expected);
          };
          check();
          // The same array, changed: an element replaced, then elements appended, then removed.
          entries[entries.length >> 1] = strip(extra[0] as Selector);
          check();
          entries.push(...extra.map((e) => strip(e as Selector)));
          check();
          entries.splice(0, 3);
          check();
        },
      ),
      { numRuns: 25 },
    );
  });

  it('SelectorTable: entries encoded once, many proxies (growing port lists), intersect and status', () => {
    fc.assert(
      fc.property(
        worldArb.chain((w) => fc.tuple(fc.array(entryArb(w), { minLength: 1, maxLength: 6 }), fc.array(entryArb(w), { maxLength: 120 }))),
        ([proxies, es]) => {
          const entries = es.map((e) => strip(e as Selector));
          for (const o of engines) {
            const table = new SelectorTable(entries, o);
            for (const p of proxies) {
              const proxy = strip(p as Selector);
              const expected = entries.map((e) => intersect(proxy, e));
              expect(table.intersect(proxy), o.engine).toEqual(expected);
              expect(Array.from(table.status(proxy)).map((x) => STATUS_FIELDS[x])).toEqual(expected.map((r) => (r.empty ? r.field : undefined)));
            }
            table.dispose();
          }
        },
      ),
      { numRuns: 40 },
    );
    // A proxy with many port ranges after small ones (the proxy's pool room grows).
    const many = { family: 4 as const, protocol: 6, src: { value: 0n, care: 0n }, dst: { value: 0n, care: 0n }, sport: Array.from({ length: 40 }, (_, i) => ({ lo: i * 100, hi: i * 100 + 50 })), dport: [{ lo: 0, hi: 65535 }] };
    const entries = [{ ...many, sport: [{ lo: 0, hi: 65535 }] }, { ...many, sport: [{ lo: 120, hi: 130 }] }];
    for (const o of engines) {
      const table = new SelectorTable(entries, o);
      expect(table.intersect(entries[1]!)).toEqual(entries.map((e) => intersect(entries[1]!, e)));
      expect(table.intersect(many)).toEqual(entries.map((e) => intersect(many, e)));
      table.dispose();
    }
  });
});
