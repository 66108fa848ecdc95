// Property tests: every engine (wasm SIMD build, wasm scalar build, ts, linear) gives exactly the
// reference algebra's first match (src/selector/algebra.ts firstMatch) on random policies and
// tuples: non-contiguous masks, IPv6, port edges, neq and multi-range port sets, protocol any,
// tuples without ports, duplicate and shadowed entries, empty and one-entry policies, mixed
// families, undecodable frames, random batch sizes and many calls on one classifier.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compile, engineName } from '../src/classify/index.js';
import { TupleBatch } from '../src/classify/batch.js';
import type { Classifier } from '../src/classify/types.js';
import * as T from '../src/classify/tree.js';
import { G4 } from '../src/classify/walk.js';
import { firstMatch } from '../src/selector/algebra.js';
import type { Entry, Tuple } from '../src/selector/types.js';
import { FULL_PORTS } from '../src/selector/types.js';
import { entryArb, insideEntry, loadNoSimd, numbered, tupleArb, worldArb } from './classify-helpers.js';

/** Tree tuning the property test varies: root tables and flat leaf scans forced on or off. */
type Tuning = { tableMinBoxes?: number; flatShare?: number };

function allEngines(entries: readonly Entry[], leafSize?: number, maxExpand?: number, tuning: Tuning = {}): Classifier[] {
  return [
    compile(entries, { engine: 'wasm', leafSize, maxExpand, ...tuning }),
    compile(entries, { engine: 'wasm', wasm: loadNoSimd(), leafSize, maxExpand, ...tuning }),
    compile(entries, { engine: 'ts', leafSize, maxExpand, ...tuning }),
    compile(entries, { engine: 'linear', maxExpand }),
  ];
}

/** How many checked tuples matched something (the generators must produce hits, not only misses). */
export const hits = { tuples: 0, matched: 0 };

function check(entries: readonly Entry[], tuples: readonly (Tuple | undefined)[], leafSize?: number, maxExpand?: number, tuning: Tuning = {}): void {
  const expected = tuples.map((t) => (t ? firstMatch(entries, t) : 0));
  hits.tuples += tuples.length;
  hits.matched += expected.filter((x) => x > 0).length;
  for (const c of allEngines(entries, leafSize, maxExpand, tuning)) {
    const b = c.createBatch(Math.max(1, tuples.length));
    tuples.forEach((t, i) => (t ? b.set(i, t) : b.setNone(i)));
    b.count = tuples.length;
    const out = new Int32Array(tuples.length);
    c.classify(b, out);
    expect(Array.from(out), c.engine).toEqual(expected);
    // The same tuples through a plain (non-WebAssembly) batch and through classifyOne.
    const plain = new TupleBatch(Math.max(1, tuples.length));
    tuples.forEach((t, i) => (t ? plain.set(i, t) : plain.setNone(i)));
    plain.count = tuples.length;
    c.classify(plain, plain.results);
    expect(Array.from(plain.results.subarray(0, tuples.length)), `${c.engine} plain batch`).toEqual(expected);
    tuples.forEach((t, i) => {
      if (t) expect(c.classifyOne(t), `${c.engine} classifyOne`).toBe(expected[i]);
    });
    c.dispose?.();
  }
}

describe('classify engines agree with the reference algebra', () => {
  it('random policies and tuples (IPv4 and IPv6, wildcard masks, port sets)', () => {
    fc.assert(
      fc.property(
        worldArb.chain((w) =>
          fc.tuple(
            fc.array(entryArb(w), { minLength: 0, maxLength: 60 }),
            fc.array(fc.option(tupleArb(w), { freq: 12 }), { minLength: 1, maxLength: 80 }),
            fc.integer({ min: 0, max: 5 }),
            fc.constantFrom(1, 2, 8),
            // 1: every multi-range port set takes the exact port-list path; 16: the default.
            fc.constantFrom(1, 16),
            // Defaults; every IPv4 tree at a root table with flat scans; neither.
            fc.constantFrom<Tuning>({}, { tableMinBoxes: 1, flatShare: 2 }, { tableMinBoxes: Infinity, flatShare: 0 }),
          ),
        ),
        ([raw, tuples, dup, leafSize, maxExpand, tuning]) => {
          const entries = numbered(raw, dup);
          // Half of the tuples are moved inside a random entry, so that most of them match something.
          const near = tuples.map((t, i) => (t && entries.length > 0 && i % 2 === 0 ? insideEntry(t, entries[t.sport % entries.length]!) : (t ?? undefined)));
          check(entries, near, leafSize, maxExpand, tuning);
        },
      ),
      { numRuns: 150 },
    );
    // A generator that only produced misses would prove nothing.
    console.log(`classify-property: ${hits.matched} of ${hits.tuples} random tuples matched an entry`);
    expect(hits.matched / hits.tuples).toBeGreaterThan(0.25);
  });

  it('mixed IPv4 and IPv6 entries in one policy', () => {
    fc.assert(
      fc.property(
        fc.tuple(worldArb.filter((w) => w.family === 4), worldArb.filter((w) => w.family === 6)).chain(([w4, w6]) =>
          fc.tuple(
            fc.array(fc.oneof(entryArb(w4), entryArb(w6)), { maxLength: 40 }),
            fc.array(fc.oneof(tupleArb(w4), tupleArb(w6)), { minLength: 1, maxLength: 40 }),
          ),
        ),
        ([raw, tuples]) => check(numbered(raw), tuples, 2),
      ),
      { numRuns: 60 },
    );
  });

  it('empty policy: nothing matches; one any-entry: everything but undecodable frames matches', () => {
    const any: Entry = { family: 4, protocol: 0, src: { value: 0n, care: 0n }, dst: { value: 0n, care: 0n }, sport: FULL_PORTS, dport: FULL_PORTS, ordinal: 1, action: 'permit' };
    const t: Tuple = { family: 4, protocol: 47, src: 1n, dst: 2n, sport: 0, dport: 0, hasPorts: false };
    const t6: Tuple = { ...t, family: 6 };
    check([], [t, t6, undefined]);
    check([any], [t, t6, undefined, { ...t, hasPorts: true, sport: 65535, dport: 65535 }]);
  });

  it('a tuple without ports never matches an entry with a port condition (neq included)', () => {
    const e: Entry = { family: 4, protocol: 0, src: { value: 0n, care: 0n }, dst: { value: 0n, care: 0n }, sport: FULL_PORTS, dport: [{ lo: 0, hi: 22 }, { lo: 24, hi: 65535 }], ordinal: 1, action: 'permit' };
    const t: Tuple = { family: 4, protocol: 6, src: 1n, dst: 2n, sport: 5, dport: 80, hasPorts: false };
    check([e], [t, { ...t, hasPorts: true }, { ...t, hasPorts: true, dport: 23 }]);
  });

  it('20K random entries, with random batch sizes 1..8192 and many calls on one classifier', () => {
    const w = fc.sample(worldArb.filter((x) => x.family === 4), { numRuns: 1, seed: 7 })[0]!;
    const entries = numbered(fc.sample(entryArb(w), { numRuns: 20_000, seed: 11 }));
    const tuples = fc.sample(tupleArb(w), { numRuns: 3000, seed: 13 });
    const expected = tuples.map((t) => firstMatch(entries, t));
    const sizes = fc.sample(fc.integer({ min: 1, max: 8192 }), { numRuns: 40, seed: 17 });
    for (const engine of ['wasm', 'ts'] as const) {
      const c = compile(entries, { engine });
      expect(c.rules).toBe(20_000);
      const b = c.createBatch(8192);
      let at = 0;
      for (const size of sizes) {
        const n = Math.min(size, tuples.length - at > 0 ? size : size);
        for (let i = 0; i < n; i++) b.set(i, tuples[(at + i) % tuples.length]!);
        b.count = n;
        c.classify(b, b.results);
        for (let i = 0; i < n; i++) if (b.results[i] !== expected[(at + i) % tuples.length]) expect([engine, at + i, b.results[i]]).toEqual([engine, at + i, expected[(at + i) % tuples.length]]);
        at = (at + n) % tuples.length;
      }
      c.dispose?.();
    }
  }, 60_000);

  it('IPv6 and IPv4 walked in lock-step: runs of one family and mixed groups of four, random batch sizes, many calls', () => {
    const [w4, w6] = fc.sample(fc.tuple(worldArb.filter((w) => w.family === 4), worldArb.filter((w) => w.family === 6)), { numRuns: 1, seed: 19 })[0]!;
    const entries = numbered([...fc.sample(entryArb(w6), { numRuns: 1500, seed: 20 }), ...fc.sample(entryArb(w4), { numRuns: 500, seed: 21 })]);
    // Runs of 1..40 tuples of one family (so that whole groups of four are one family, and some
    // are mixed), about one in 15 undecodable, half moved inside an entry.
    const runs = fc.sample(fc.tuple(fc.boolean(), fc.integer({ min: 1, max: 40 })), { numRuns: 150, seed: 22 });
    const t4 = fc.sample(fc.option(tupleArb(w4), { freq: 15 }), { numRuns: 3000, seed: 23 });
    const t6 = fc.sample(fc.option(tupleArb(w6), { freq: 15 }), { numRuns: 3000, seed: 24 });
    const tuples: (Tuple | undefined)[] = [];
    for (const [six, n] of runs) for (let k = 0; k < n; k++) tuples.push((six ? t6 : t4)[tuples.length] ?? undefined);
    const near = tuples.map((t, i) => (t && i % 2 === 0 ? insideEntry(t, entries[(i * 13) % entries.length]!) : t));
    const expected = near.map((t) => (t ? firstMatch(entries, t) : 0));
    expect(expected.filter((x) => x > 0).length).toBeGreaterThan(near.length / 4);
    const sizes = fc.sample(fc.integer({ min: 1, max: 700 }), { numRuns: 30, seed: 25 });
    for (const c of allEngines(entries).slice(0, 3)) {
      const b = c.createBatch(700);
      for (let at = 0, k = 0; at < near.length; k++) {
        const n = Math.min(sizes[k % sizes.length]!, near.length - at);
        for (let i = 0; i < n; i++) {
          const t = near[at + i];
          if (t) b.set(i, t);
          else b.setNone(i);
        }
        b.count = n;
        c.classify(b, b.results);
        expect(Array.from(b.results.subarray(0, n)), `${c.engine} at ${at}`).toEqual(expected.slice(at, at + n));
        at += n;
      }
      c.dispose?.();
    }
  }, 60_000);

  it('several rules with one ordinal (an entry compiled as a union of selectors): the first matching ordinal wins', () => {
    fc.assert(
      fc.property(
        worldArb.chain((w) => fc.tuple(fc.array(entryArb(w), { minLength: 1, maxLength: 40 }), fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 40, maxLength: 40 }), fc.array(tupleArb(w), { minLength: 1, maxLength: 60 }))),
        ([raw, per, tuples]) => {
          // Consecutive entries share an ordinal in runs of 1..3: ordinals 1, 1, 2, 3, 3, 3, ...
          let ord = 0;
          let left = 0;
          const entries = raw.map((e, i) => {
            if (left === 0) {
              ord++;
              left = per[i]!;
            }
            left--;
            return { ...e, ordinal: ord } as Entry;
          });
          const near = tuples.map((t, i) => (i % 2 ? insideEntry(t, entries[t.sport % entries.length]!) : t));
          check(entries, near, 2);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('engine selection: option, then TED_ENGINE, then wasm; unknown names are a usage error', () => {
    const saved = process.env.TED_ENGINE;
    try {
      delete process.env.TED_ENGINE;
      expect(engineName()).toBe('wasm');
      process.env.TED_ENGINE = 'ts';
      expect(engineName()).toBe('ts');
      expect(compile([]).engine).toBe('ts');
      expect(engineName('linear')).toBe('linear');
      process.env.TED_ENGINE = 'fast';
      expect(() => engineName()).toThrow(expect.objectContaining({ code: 'CLASSIFY_BAD_ENGINE' }));
    } finally {
      if (saved === undefined) delete process.env.TED_ENGINE;
      else process.env.TED_ENGINE = saved;
    }
  });

  it('WebAssembly memory growth after compile: batches from createBatch are re-viewed, results stay right', () => {
    const wasm = loadNoSimd();
    const w = fc.sample(worldArb.filter((x) => x.family === 6), { numRuns: 1, seed: 23 })[0]!;
    const entries = numbered(fc.sample(entryArb(w), { numRuns: 300, seed: 29 }));
    const tuples = fc.sample(tupleArb(w), { numRuns: 500, seed: 31 }).map((t, i) => (i % 2 ? insideEntry(t, entries[i % entries.length]!) : t));
    const expected = tuples.map((t) => firstMatch(entries, t));
    const c = compile(entries, { engine: 'wasm', wasm });
    const b = c.createBatch(512);
    const before = wasm.exports.memory.buffer;
    // Something else allocates 32 MB from the same module: the memory grows, old views detach.
    const big = wasm.exports.alloc(32 << 20);
    expect(wasm.exports.memory.buffer).not.toBe(before);
    expect(b.buffer).not.toBe(wasm.exports.memory.buffer);
    // Any classifier's allocation re-views every live batch of the module.
    const c2 = compile(entries.slice(0, 10), { engine: 'wasm', wasm });
    expect(b.buffer).toBe(wasm.exports.memory.buffer);
    tuples.forEach((t, i) => b.set(i, t));
    b.count = tuples.length;
    c.classify(b, b.results);
    expect(Array.from(b.results.subarray(0, tuples.length))).toEqual(expected);
    const out = new Int32Array(tuples.length);
    c.classify(b, out);
    expect(Array.from(out)).toEqual(expected);
    wasm.exports.free(big);
    c.dispose?.();
    c2.dispose?.();
  });

  it('the ts scan\'s literal IPv4 group offsets are tree.ts\'s layout', () => {
    expect(G4).toEqual({ words: T.G4_WORDS, srcCare: T.G4_SRC_CARE, srcValue: T.G4_SRC_VALUE, dstCare: T.G4_DST_CARE, dstValue: T.G4_DST_VALUE, protoCare: T.G4_PROTO_CARE, protoValue: T.G4_PROTO_VALUE, portsLo: T.G4_PORTS_LO, portsHi: T.G4_PORTS_HI, ordinal: T.G4_ORDINAL, extra: T.G4_EXTRA });
    expect([T.LEAF_DIM, T.EMPTY_LEAF]).toEqual([15, (16 << 4) | 15]);
  });

  it('a tree over its word budget is rebuilt with larger leaves and stays exact', () => {
    fc.assert(
      fc.property(
        worldArb.chain((w) => fc.tuple(fc.array(entryArb(w), { minLength: 20, maxLength: 80 }), fc.array(tupleArb(w), { minLength: 1, maxLength: 60 }))),
        ([raw, tuples]) => {
          const entries = numbered(raw);
          const near = tuples.map((t, i) => (i % 2 ? insideEntry(t, entries[t.dport % entries.length]!) : t));
          const expected = near.map((t) => firstMatch(entries, t));
          for (const engine of ['wasm', 'ts'] as const) {
            const c = compile(entries, { engine, leafSize: 1, maxTreeWords: 100 });
            expect(near.map((t) => c.classifyOne(t))).toEqual(expected);
            c.dispose?.();
          }
        },
      ),
      { numRuns: 40 },
    );
  });
});
