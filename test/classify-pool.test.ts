// createClassifierPool: worker threads give exactly the in-thread classifier's results (and the
// reference algebra's), in input order, for pools of 1..3 workers, random job sizes, random
// chunking of the input into batches, both engines; bad options are usage errors; a closed pool
// refuses work; abandoning a stream hands its slots back.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TupleBatch } from '../src/classify/batch.js';
import { compile } from '../src/classify/index.js';
import { createClassifierPool } from '../src/classify/pool.js';
import { firstMatch } from '../src/selector/algebra.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeEthernet, encodeUdpPacket } from '../src/packet/encode.js';
import { classifyCapture } from '../src/pcap/classify.js';
import { writePcap } from '../src/pcap/writer.js';
import { CAPTURE_WORKER, classifyPcapFile, isClassicPcap } from '../src/pcap/pool-capture.js';
import type { Tuple } from '../src/selector/types.js';
import { entryArb, insideEntry, numbered, tupleArb, worldArb } from './classify-helpers.js';

function batchOf(tuples: readonly (Tuple | undefined)[]): TupleBatch {
  const b = new TupleBatch(Math.max(1, tuples.length));
  tuples.forEach((t, i) => (t ? b.set(i, t) : b.setNone(i)));
  b.count = tuples.length;
  return b;
}

/** Cuts `tuples` into consecutive batches of the given sizes (cycling), reusing one batch. */
function* chunks(tuples: readonly (Tuple | undefined)[], sizes: readonly number[]): Generator<TupleBatch> {
  const b = new TupleBatch(Math.max(...sizes));
  for (let at = 0, k = 0; at < tuples.length; k++) {
    const n = Math.min(sizes[k % sizes.length]!, tuples.length - at);
    for (let i = 0; i < n; i++) {
      const t = tuples[at + i];
      if (t) b.set(i, t);
      else b.setNone(i);
    }
    b.count = n;
    at += n;
    yield b; // the pool copies it before asking for the next one
  }
}

describe('classifier pool', () => {
  it('random policies and tuples: pool.classify and classifyAll equal the in-thread engine and the reference, in order', async () => {
    const cases = fc.sample(
      worldArb.chain((w) =>
        fc.tuple(
          fc.array(entryArb(w), { minLength: 0, maxLength: 50 }),
          fc.array(fc.option(tupleArb(w), { freq: 10 }), { minLength: 1, maxLength: 400 }),
          fc.integer({ min: 1, max: 3 }),
          fc.integer({ min: 1, max: 97 }),
          fc.array(fc.integer({ min: 1, max: 130 }), { minLength: 1, maxLength: 5 }),
          fc.constantFrom('wasm' as const, 'ts' as const),
        ),
      ),
      { numRuns: 12, seed: 41 },
    );
    for (const [raw, rawTuples, workers, batchSize, sizes, engine] of cases) {
      const entries = numbered(raw);
      const tuples = rawTuples.map((t, i) => (t && entries.length > 0 && i % 2 === 0 ? insideEntry(t, entries[t.dport % entries.length]!) : (t ?? undefined)));
      const expected = tuples.map((t) => (t ? firstMatch(entries, t) : 0));
      const local = compile(entries, { engine });
      const lb = local.createBatch(Math.max(1, tuples.length));
      tuples.forEach((t, i) => (t ? lb.set(i, t) : lb.setNone(i)));
      lb.count = tuples.length;
      local.classify(lb, lb.results);
      expect(Array.from(lb.results.subarray(0, tuples.length))).toEqual(expected);
      const pool = await createClassifierPool(entries, { workers, engine, batchSize, depth: 1 + (batchSize % 3) });
      try {
        expect(pool.workers).toBe(workers);
        expect(pool.rules).toBe(entries.length);
        const out = new Int32Array(tuples.length);
        await pool.classify(batchOf(tuples), out);
        expect(Array.from(out), `${engine} x${workers} jobs of ${batchSize}`).toEqual(expected);
        // A stream of batches of random sizes, each reused by its source.
        const got: number[] = [];
        let last = -1;
        for await (const r of pool.classifyAll(chunks(tuples, sizes))) {
          expect(r.batch).toBeGreaterThanOrEqual(last);
          last = r.batch;
          got.push(...r.results.subarray(0, r.count));
        }
        expect(got).toEqual(expected);
      } finally {
        await pool.close();
        local.dispose?.();
      }
    }
  }, 120_000);

  it('IPv6 and IPv4 in one stream, undecodable frames, 10K rules: every worker count gives the same answers', async () => {
    const [w4, w6] = fc.sample(fc.tuple(worldArb.filter((w) => w.family === 4), worldArb.filter((w) => w.family === 6)), { numRuns: 1, seed: 5 })[0]!;
    const entries = numbered([...fc.sample(entryArb(w4), { numRuns: 5000, seed: 6 }), ...fc.sample(entryArb(w6), { numRuns: 5000, seed: 7 })]);
    const tuples = fc.sample(fc.option(fc.oneof(tupleArb(w4), tupleArb(w6)), { freq: 20 }), { numRuns: 6000, seed: 8 }).map((t, i) => (t && i % 3 === 0 ? insideEntry(t, entries[(i * 7) % entries.length]!) : (t ?? undefined)));
    const expected = tuples.map((t) => (t ? firstMatch(entries, t) : 0));
    for (const workers of [1, 2, 3]) {
      const pool = await createClassifierPool(entries, { workers, batchSize: 1000 + workers * 333 });
      try {
        const out = new Int32Array(tuples.length);
        await pool.classify(batchOf(tuples), out);
        let bad = 0;
        for (let i = 0; i < out.length; i++) if (out[i] !== expected[i]) bad++;
        expect(bad, `${workers} workers`).toBe(0);
      } finally {
        await pool.close();
      }
    }
  }, 120_000);

  it('abandoning a stream hands its slots back; a closed pool refuses work', async () => {
    const entries = numbered(fc.sample(entryArb({ family: 4, pool: [0x0a000001n] }), { numRuns: 20, seed: 3 }));
    const tuples = fc.sample(tupleArb({ family: 4, pool: [0x0a000001n] }), { numRuns: 500, seed: 4 });
    const expected = tuples.map((t) => firstMatch(entries, t));
    const pool = await createClassifierPool(entries, { workers: 2, batchSize: 16, depth: 1 });
    expect(pool.kinds).toEqual([]);
    await expect(classifyPcapFile(pool, join(tmpdir(), 'never-read.pcap')).next()).rejects.toMatchObject({ code: 'CLASSIFY_POOL_HANDLER' });
    for await (const r of pool.classifyAll(chunks(tuples, [50]))) {
      expect(r.count).toBeGreaterThan(0);
      break;
    }
    const out = new Int32Array(tuples.length);
    await pool.classify(batchOf(tuples), out);
    expect(Array.from(out)).toEqual(expected);
    await pool.close();
    await expect(pool.classify(batchOf(tuples), out)).rejects.toMatchObject({ code: 'CLASSIFY_POOL_CLOSED' });
  });

  it('bad options are usage errors', async () => {
    for (const workers of [0, 257, 1.5]) await expect(createClassifierPool([], { workers })).rejects.toMatchObject({ code: 'CLASSIFY_BAD_WORKERS' });
    await expect(createClassifierPool([], { workers: 1, batchSize: 0 })).rejects.toMatchObject({ code: 'CLASSIFY_BAD_BATCH' });
    await expect(createClassifierPool([], { workers: 1, engine: 'quick' as never })).rejects.toMatchObject({ code: 'CLASSIFY_BAD_ENGINE' });
  });

  it('a classic pcap decoded and classified in the workers: the one-thread answers, reasons and link types in order; damage gives the same error at the same offset', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ted-pool-'));
    const w = { family: 4 as const, pool: [0x0a000001n, 0x0a000002n, 0xc0a80001n] };
    const entries = numbered(fc.sample(entryArb(w), { numRuns: 300, seed: 51 }));
    const tuples = fc.sample(tupleArb(w), { numRuns: 3000, seed: 52 }).map((t, i) => (i % 2 ? insideEntry(t, entries[i % entries.length]!) : t));
    // UDP frames of the tuples' addresses and ports, some cut short (undecodable), sizes varying.
    const frames = tuples.map((t, i) => {
      const f = encodeEthernet({}, encodeUdpPacket({ family: 4, src: t.src, dst: t.dst, sport: t.sport, dport: t.dport, payload: new Uint8Array(i % 37) }));
      return i % 50 === 7 ? f.subarray(0, 20) : f;
    });
    const file = join(dir, 'c.pcap');
    const bytes = writePcap(frames.map((data) => ({ data })), { linkType: 1 });
    writeFileSync(file, bytes);
    expect(await isClassicPcap(file)).toBe(true);
    const one = compile(entries);
    const want = { results: [] as number[], reasons: [] as number[], linkTypes: [] as number[] };
    for await (const b of classifyCapture(file, { classifier: one })) {
      want.results.push(...b.results!.subarray(0, b.count));
      want.reasons.push(...b.reasons.subarray(0, b.count));
      want.linkTypes.push(...b.linkTypes.subarray(0, b.count));
    }
    expect(want.results.length).toBe(3000);
    expect(want.results.filter((x) => x > 0).length).toBeGreaterThan(1000);
    const pool = await createClassifierPool(entries, { workers: 2, depth: 2, handlers: [CAPTURE_WORKER] });
    try {
      for (const chunkBytes of [4096, 10_000, 1 << 20]) {
        const got = { results: [] as number[], reasons: [] as number[], linkTypes: [] as number[] };
        let next = 1;
        for await (const c of classifyPcapFile(pool, file, { chunkBytes })) {
          expect(c.firstIndex).toBe(next);
          next += c.count;
          got.results.push(...c.results);
          got.reasons.push(...c.reasons);
          got.linkTypes.push(...c.linkTypes);
        }
        expect(got, `chunks of ${chunkBytes}`).toEqual(want);
      }
      // A lying record length in the middle, and a file cut inside its last record.
      const bad = bytes.slice();
      let at = 24;
      for (let i = 0; i < 2000; i++) at += 16 + new DataView(bad.buffer).getUint32(at + 8, true);
      new DataView(bad.buffer).setUint32(at + 8, 0x7fffffff, true);
      const cut = bytes.subarray(0, bytes.length - 5);
      for (const [name, b] of [['bad-caplen', bad], ['cut', cut]] as const) {
        const f = join(dir, `${name}.pcap`);
        writeFileSync(f, b);
        const wantErr: { code?: string; offset?: number; frames: number } = { frames: 0 };
        try {
          for await (const x of classifyCapture(f, { classifier: one })) wantErr.frames += x.count;
        } catch (e) {
          Object.assign(wantErr, { code: (e as { code: string }).code, offset: (e as { offset: number }).offset });
        }
        expect(wantErr.code).toBeDefined();
        const gotErr: { code?: string; offset?: number; frames: number } = { frames: 0 };
        try {
          for await (const c of classifyPcapFile(pool, f, { chunkBytes: 8192 })) gotErr.frames += c.count;
        } catch (e) {
          Object.assign(gotErr, { code: (e as { code: string }).code, offset: (e as { offset: number }).offset });
        }
        expect(gotErr, name).toEqual(wantErr);
      }
      // The pool still works after the errors.
      const out = new Int32Array(tuples.length);
      await pool.classify(batchOf(tuples), out);
      expect(Array.from(out)).toEqual(tuples.map((t) => firstMatch(entries, t)));
    } finally {
      await pool.close();
      one.dispose?.();
    }
  }, 60_000);
});
