// The pool workers' frame counts (src/pcap/frame-tally.ts): the WebAssembly path (arrays in the
// module's memory, assembly/tally.ts) and the TypeScript path against a brute-force count, over
// random results, decode reasons, chunkings and take points.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { FrameTally } from '../src/pcap/frame-tally.js';
import { loadWasm } from '../src/wasm/load.js';

/** A frame: its classification result and decode reason. */
const frame = (maxResult: number) =>
  fc.record({
    // Mostly within the policy; a few beyond it (a classifier never gives those, the tally still counts them).
    result: fc.oneof({ weight: 12, arbitrary: fc.integer({ min: 0, max: maxResult }) }, { weight: 1, arbitrary: fc.integer({ min: maxResult + 1, max: maxResult + 3000 }) }),
    // Most frames decode (0): the zero-skipping paths see long runs and short ones.
    reason: fc.oneof({ weight: 6, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 255 }) }),
  });

/** A run of frames: added in chunks of the given sizes, with a take after the chunks marked. */
const scenario = fc.integer({ min: 0, max: 40 }).chain((maxResult) =>
  fc.record({
    maxResult: fc.constant(maxResult),
    chunks: fc.array(fc.record({ frames: fc.array(frame(maxResult), { maxLength: 70 }), take: fc.boolean(), offset: fc.integer({ min: 0, max: 7 }) }), { maxLength: 8 }),
    countResults: fc.boolean(),
  }),
);

/** Reference: frames per reason (trimmed as takeReasons trims) and (result, frames) pairs in order of result. */
function reference(frames: { result: number; reason: number }[], countResults: boolean): { reasons: number[]; pairs: number[] } {
  const reasons = new Array<number>(256).fill(0);
  const hits = new Map<number, number>();
  for (const f of frames) {
    reasons[f.reason]!++;
    if (countResults) hits.set(f.result, (hits.get(f.result) ?? 0) + 1);
  }
  let last = 255;
  while (last > 0 && reasons[last] === 0) last--;
  const pairs = [...hits].sort((a, b) => a[0] - b[0]).flat();
  return { reasons: reasons.slice(0, last + 1), pairs };
}

/** Arrays in the module's memory at a byte offset (the wasm path) or plain ones (the ts path). */
function place(wasm: boolean, results: number[], reasons: number[], offset: number): { results: Int32Array; reasons: Uint8Array; free(): void } {
  if (!wasm) return { results: Int32Array.from(results), reasons: Uint8Array.from(reasons), free() {} };
  const ex = loadWasm().exports;
  const pr = ex.alloc(4 * results.length + 4);
  const pb = ex.alloc(reasons.length + 8);
  // Views made after both allocations (an allocation may grow the memory and detach older ones).
  const r = new Int32Array(ex.memory.buffer, pr, results.length);
  const b = new Uint8Array(ex.memory.buffer, pb + offset, reasons.length);
  r.set(results);
  b.set(reasons);
  return { results: r, reasons: b, free: () => (ex.free(pr), ex.free(pb)) };
}

describe('FrameTally', () => {
  for (const wasm of [true, false]) {
    it(`${wasm ? 'wasm' : 'ts'}: counts per reason and per result equal a brute-force count, however the frames are chunked and taken`, () => {
      fc.assert(
        fc.property(scenario, ({ maxResult, chunks, countResults }) => {
          const tally = new FrameTally(maxResult, wasm ? loadWasm() : undefined);
          let since: { result: number; reason: number }[] = [];
          for (const c of chunks) {
            const arrays = place(wasm, c.frames.map((f) => f.result), c.frames.map((f) => f.reason), c.offset);
            try {
              tally.add(countResults ? arrays.results : null, arrays.reasons, c.frames.length);
            } finally {
              arrays.free();
            }
            since = since.concat(c.frames);
            if (c.take) {
              const want = reference(since, countResults);
              expect(tally.takeReasons()).toEqual(want.reasons);
              expect([...tally.takeResults()]).toEqual(want.pairs);
              since = [];
            }
          }
          const want = reference(since, countResults);
          expect(tally.takeReasons()).toEqual(want.reasons);
          expect([...tally.takeResults()]).toEqual(want.pairs);
          // Taking starts over.
          expect(tally.takeReasons()).toEqual([0]);
          expect(tally.takeResults().length).toBe(0);
          tally.dispose();
        }),
        { numRuns: 300 },
      );
    });
  }

  it('wasm and ts tallies agree on a large chunk of mostly decoded frames', () => {
    const n = 100_003;
    const results: number[] = [];
    const reasons: number[] = [];
    for (let i = 0; i < n; i++) {
      const x = Math.imul(i + 1, 0x9e3779b1) >>> 0;
      results.push(x % 9312);
      reasons.push(x % 97 === 0 ? 1 + (x % 9) : 0);
    }
    const out = [true, false].map((wasm) => {
      const tally = new FrameTally(9311, wasm ? loadWasm() : undefined);
      const a = place(wasm, results, reasons, 3);
      try {
        tally.add(a.results, a.reasons, n);
      } finally {
        a.free();
      }
      const got = { reasons: tally.takeReasons(), pairs: [...tally.takeResults()] };
      tally.dispose();
      return got;
    });
    expect(out[0]).toEqual(out[1]);
    expect(out[0]!.pairs.filter((_, i) => i % 2 === 1).reduce((s, v) => s + v, 0)).toBe(n);
  });
});
