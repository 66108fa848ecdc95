// Every engine against the ClassBench sets and traces in ../shared (the trace's last column is the
// expected first-match ordinal), and against each other, with random splits of each trace.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compile, ENGINES, parseTrace } from '../src/classify/index.js';
import { TupleBatch } from '../src/classify/batch.js';
import { parseClassBench } from '../src/policy/classbench.js';
import { loadNoSimd } from './classify-helpers.js';

const dir = join(__dirname, '..', '..', 'shared', 'data', 'classbench');
const sets = ['acl1_1K', 'fw1_1K', 'acl1_10K', 'fw1_10K'].filter((s) => existsSync(join(dir, s)) && existsSync(join(dir, `${s}_trace`)));
if (sets.length === 0) console.warn(`classify-classbench: skipped, no ClassBench sets in ${dir}`);

function mismatches(a: Int32Array, b: Int32Array, n: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n && out.length < 5; i++) if (a[i] !== b[i]) out.push(i);
  return out;
}

describe.skipIf(sets.length === 0)('ClassBench sets', () => {
  for (const set of sets) {
    it(`${set}: wasm (SIMD and scalar builds), ts and linear match the trace's expected ordinals`, () => {
      const policy = parseClassBench(readFileSync(join(dir, set), 'utf8'), set);
      const trace = parseTrace(readFileSync(join(dir, `${set}_trace`), 'utf8'), `${set}_trace`);
      const n = trace.batch.count;
      expect(n).toBeGreaterThan(1000);
      expect(trace.expected.every((e) => e > 0)).toBe(true);
      const engines = [...ENGINES.map((engine) => compile(policy, { engine })), compile(policy, { engine: 'wasm', wasm: loadNoSimd() })];
      // The linear scan is slow at 10K rules: check it on a prefix of the trace.
      for (const c of engines) {
        const count = c.engine === 'linear' && policy.entries.length > 5000 ? 3000 : n;
        const results = new Int32Array(n);
        const b = new TupleBatch(count);
        for (let i = 0; i < count; i++) b.set(i, trace.batch.get(i)!);
        b.count = count;
        c.classify(b, results);
        expect(mismatches(results, trace.expected, count), `${c.engine}`).toEqual([]);
        expect(c.rules).toBe(policy.entries.length);
        expect(c.bytes).toBeGreaterThan(0);
      }
      // A random split of the trace into batches of 1..8192, in WebAssembly memory.
      const w = engines[0]!;
      const wb = w.createBatch(8192);
      const out = new Int32Array(n);
      let seed = 12345;
      const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
      for (let at = 0; at < n; ) {
        const k = Math.min(n - at, 1 + Math.floor(rnd() ** 3 * 8192));
        for (let i = 0; i < k; i++) wb.set(i, trace.batch.get(at + i)!);
        wb.count = k;
        w.classify(wb, wb.results);
        out.set(wb.results.subarray(0, k), at);
        at += k;
      }
      expect(mismatches(out, trace.expected, n)).toEqual([]);
      for (const c of engines) c.dispose?.();
    }, 60_000);
  }
});
