// createClassifierPool: worker threads give exactly the in-thread classifier's results (and the
// reference algebra's), in input order, for pools of 1..3 workers, random job sizes, random
// chunking of the input into batches, both engines; bad options are usage errors; a closed pool
// refuses work; abandoning a stream hands its slots back.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TupleBatch } from '../src/classify/batch.js';
import { compile } from '../src/classify/index.js';
import { createClassifierPool, type ClassifierPool } from '../src/classify/pool.js';
import { firstMatch } from '../src/selector/algebra.js';
import { mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeEthernet, encodeUdpPacket } from '../src/packet/encode.js';
import { classifyCapture } from '../src/pcap/classify.js';
import { writePcap } from '../src/pcap/writer.js';
import { CAPTURE_WORKER, classifyPcapFile, isClassicPcap, type PcapFileOptions } from '../src/pcap/pool-capture.js';
import type { DecodeError } from '../src/errors.js';
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

/** What the one-thread reader gives for a capture: per-frame results, reasons, link types, and the error that ended it. */
interface Outcome {
  results: number[];
  reasons: number[];
  linkTypes: number[];
  error?: { code: string; offset: number; message: string; truncated: boolean };
}

async function oneThread(file: string, classifier: ReturnType<typeof compile>): Promise<Outcome> {
  const o: Outcome = { results: [], reasons: [], linkTypes: [] };
  try {
    for await (const b of classifyCapture(file, { classifier })) {
      o.results.push(...b.results!.subarray(0, b.count));
      o.reasons.push(...b.reasons.subarray(0, b.count));
      o.linkTypes.push(...b.linkTypes.subarray(0, b.count));
    }
  } catch (e) {
    const x = e as DecodeError;
    o.error = { code: x.code, offset: x.offset, message: x.message, truncated: x.truncated };
  }
  return o;
}

async function inPool(pool: ClassifierPool, file: string, options: PcapFileOptions = {}): Promise<Outcome> {
  const o: Outcome = { results: [], reasons: [], linkTypes: [] };
  let next = 1;
  const totals: Uint32Array[] = [];
  let header = false;
  try {
    for await (const c of classifyPcapFile(pool, file, { onResultCounts: (pairs) => totals.push(pairs), onHeader: () => void (header = true), ...options })) {
      expect(c.firstIndex).toBe(next);
      next += c.count;
      // The worker's counts of decode outcomes agree with what it wrote.
      const counted = new Map<number, number>();
      for (const r of c.reasons) counted.set(r, (counted.get(r) ?? 0) + 1);
      for (let r = 0; r < 256; r++) expect(c.reasonCounts[r] ?? 0, `reason ${r}`).toBe(counted.get(r) ?? 0);
      expect(totals, 'the frames per result come after the last chunk').toEqual([]);
      o.results.push(...c.results);
      o.reasons.push(...c.reasons);
      o.linkTypes.push(...c.linkTypes);
    }
  } catch (e) {
    const x = e as DecodeError;
    o.error = { code: x.code, offset: x.offset, message: x.message, truncated: x.truncated };
  }
  // Once the file header was read: once per worker, in order of result, together counting
  // exactly the frames delivered (those before damage; chunks run again counted once). Never
  // when the file header itself was bad.
  expect(totals.length).toBe(header && statSync(file).size > 24 ? pool.workers : 0);
  const perResult = new Map<number, number>();
  for (const r of o.results) perResult.set(r, (perResult.get(r) ?? 0) + 1);
  const summed = new Map<number, number>();
  for (const pairs of totals) {
    for (let i = 2; i < pairs.length; i += 2) expect(pairs[i]!).toBeGreaterThan(pairs[i - 2]!);
    for (let i = 0; i < pairs.length; i += 2) summed.set(pairs[i]!, (summed.get(pairs[i]!) ?? 0) + pairs[i + 1]!);
  }
  expect([...summed].sort((a, b) => a[0] - b[0])).toEqual([...perResult].sort((a, b) => a[0] - b[0]));
  return o;
}

/** A classic pcap with 24-byte (Kuznetzov) record headers holding the records of `pcap`. */
function kuznetzov(pcap: Uint8Array): Uint8Array {
  const v = new DataView(pcap.buffer, pcap.byteOffset, pcap.byteLength);
  const le = v.getUint32(0, true) === 0xa1b2c3d4;
  const parts: Uint8Array[] = [pcap.slice(0, 24)];
  new DataView(parts[0]!.buffer).setUint32(0, 0xa1b2cd34, le);
  for (let at = 24; at + 16 <= pcap.length; ) {
    const caplen = v.getUint32(at + 8, le);
    parts.push(pcap.subarray(at, at + 16), new Uint8Array(8), pcap.subarray(at + 16, at + 16 + caplen));
    at += 16 + caplen;
  }
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  parts.reduce((at, p) => (out.set(p, at), at + p.length), 0);
  return out;
}

describe('classic pcap files classified in the pool workers', () => {
  const w = { family: 4 as const, pool: [0x0a000001n, 0x0a000002n, 0xc0a80001n] };
  const entries = numbered(fc.sample(entryArb(w), { numRuns: 300, seed: 61 }));
  const dir = mkdtempSync(join(tmpdir(), 'ted-pool-pcap-'));
  const one = compile(entries);

  it('random frames, chunk sizes, byte orders, record headers, cuts and damage, both engines: the one-thread reader\'s results, reasons, link types and error', async () => {
    const frameArb = fc.record({
      tuple: tupleArb(w),
      inside: fc.boolean(),
      // Mostly small frames; some larger than the chunks (records straddle several), some cut short.
      payload: fc.oneof({ weight: 12, arbitrary: fc.integer({ min: 0, max: 40 }) }, { weight: 1, arbitrary: fc.integer({ min: 3000, max: 20000 }) }),
      // Zeros, noise, or bytes that look like pcap records (a worker's guess of a chunk's start may take them).
      fill: fc.constantFrom('zeros', 'noise', 'records', 'records'),
      cut: fc.oneof({ weight: 15, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 40 }) }),
    });
    const fillPayload = (n: number, fill: string, le: boolean, seed: number): Uint8Array => {
      const p = new Uint8Array(n);
      const v = new DataView(p.buffer);
      if (fill === 'noise') for (let i = 0; i < n; i++) p[i] = Math.imul(seed + i, 0x9e3779b1) >>> 24;
      if (fill === 'records') for (let at = 0; at + 20 <= n; at += 20) [0, 8, 12].forEach((o, j) => v.setUint32(at + o, j === 0 ? 1700000000 + seed : 4, le));
      return p;
    };
    const cases = fc.sample(
      fc.record({
        frames: fc.array(frameArb, { minLength: 0, maxLength: 600, size: 'max' }),
        bigEndian: fc.boolean(),
        nanos: fc.boolean(),
        kuz: fc.boolean(),
        damage: fc.constantFrom('none', 'none', 'caplen', 'cut', 'cut-header'),
        where: fc.double({ min: 0, max: 1, noNaN: true }),
        chunkBytes: fc.oneof(fc.integer({ min: 4096, max: 30000 }), fc.constant(undefined)),
        workers: fc.integer({ min: 1, max: 3 }),
        engine: fc.constantFrom('wasm' as const, 'wasm' as const, 'ts' as const),
      }),
      { numRuns: 60, seed: 62 },
    );
    const pools = new Map<string, ClassifierPool>();
    try {
      for (const n of [1, 2, 3]) for (const engine of ['wasm', 'ts'] as const) pools.set(`${n} ${engine}`, await createClassifierPool(entries, { workers: n, engine, handlers: [CAPTURE_WORKER] }));
      let damaged = 0;
      let reruns = 0;
      for (const [k, c] of cases.entries()) {
        const frames = c.frames.map((f, i) => {
          const t = f.inside ? insideEntry(f.tuple, entries[i % entries.length]!) : f.tuple;
          const data = encodeEthernet({}, encodeUdpPacket({ family: 4, src: t.src, dst: t.dst, sport: t.sport, dport: t.dport, payload: fillPayload(f.payload, f.fill, !c.bigEndian, i) }));
          return { data: f.cut ? data.subarray(0, f.cut) : data, tsSec: 1700000000 + i, tsNsec: i * 1000 };
        });
        let bytes = writePcap(frames, { linkType: 1, bigEndian: c.bigEndian, nanos: c.nanos });
        if (c.kuz) bytes = kuznetzov(bytes);
        const H = c.kuz ? 24 : 16;
        const starts: number[] = [];
        const view = new DataView(bytes.buffer);
        for (let at = 24; at < bytes.length; at += H + view.getUint32(at + 8, !c.bigEndian)) starts.push(at);
        if (c.damage === 'caplen' && starts.length > 0) {
          view.setUint32(starts[Math.floor(c.where * starts.length)]! + 8, 0x7fffffff, !c.bigEndian);
        } else if (c.damage === 'cut' && bytes.length > 24) {
          bytes = bytes.subarray(0, 24 + Math.floor(c.where * (bytes.length - 24)));
        } else if (c.damage === 'cut-header' && starts.length > 0) {
          bytes = bytes.subarray(0, starts[Math.floor(c.where * starts.length)]! + Math.floor(c.where * H));
        }
        const file = join(dir, `case-${k}.pcap`);
        writeFileSync(file, bytes);
        const want = await oneThread(file, one);
        if (want.error) damaged++;
        const stats = { chunks: 0, reruns: 0 };
        const got = await inPool(pools.get(`${c.workers} ${c.engine}`)!, file, { chunkBytes: c.chunkBytes, stats });
        expect(got, `case ${k}: ${c.frames.length} frames, ${c.damage}, chunks of ${c.chunkBytes}, ${c.workers} ${c.engine} workers`).toEqual(want);
        reruns += stats.reruns;
      }
      expect(damaged).toBeGreaterThan(5);
      expect(reruns).toBeGreaterThan(0);
    } finally {
      for (const p of pools.values()) await p.close();
    }
  }, 120_000);

  it('a payload that looks like pcap records: wrong guesses of a chunk\'s start are run again from the right one', async () => {
    // Records of 4 bytes each, headers and all plausible, inside one large UDP payload.
    const fake = new Uint8Array(20 * 400);
    const fv = new DataView(fake.buffer);
    for (let i = 0; i < 400; i++) {
      fv.setUint32(20 * i, 1700000000, true);
      fv.setUint32(20 * i + 8, 4, true);
      fv.setUint32(20 * i + 12, 4, true);
    }
    const t = fc.sample(tupleArb(w), { numRuns: 200, seed: 63 });
    const frames = t.map((x, i) => ({ data: encodeEthernet({}, encodeUdpPacket({ family: 4, src: x.src, dst: x.dst, sport: x.sport, dport: x.dport, payload: i % 50 === 10 ? fake : new Uint8Array(i % 30) })), tsSec: 1700000000 }));
    const file = join(dir, 'fooled.pcap');
    writeFileSync(file, writePcap(frames));
    const want = await oneThread(file, one);
    expect(want.results.length).toBe(200);
    const pool = await createClassifierPool(entries, { workers: 2, handlers: [CAPTURE_WORKER] });
    try {
      const stats = { chunks: 0, reruns: 0 };
      expect(await inPool(pool, file, { chunkBytes: 4096, stats })).toEqual(want);
      expect(stats.reruns).toBeGreaterThan(0);
      expect(stats.reruns).toBeLessThan(stats.chunks);
      // Abandoned after the first chunk, the pool goes on, and reuses its slots.
      for await (const c of classifyPcapFile(pool, file, { chunkBytes: 4096 })) {
        expect(c.count).toBeGreaterThan(0);
        break;
      }
      expect(await inPool(pool, file)).toEqual(want);
      // Counts only (perFrame: false): empty per-frame arrays, the same frames, reasons and totals,
      // with the slots of the capture before (sized for frames) and after (none) reused or not.
      for (const chunkBytes of [4096, undefined]) {
        const totals = new Map<number, number>();
        const reasons: number[] = [];
        let frames = 0;
        for await (const c of classifyPcapFile(pool, file, { chunkBytes, perFrame: false, onResultCounts: (p) => p.forEach((v, i) => i % 2 === 0 && totals.set(v, (totals.get(v) ?? 0) + p[i + 1]!)) })) {
          expect([c.results.length, c.reasons.length, c.linkTypes.length]).toEqual([0, 0, 0]);
          frames += c.count;
          c.reasonCounts.forEach((n, r) => (reasons[r] = (reasons[r] ?? 0) + n));
        }
        expect(frames).toBe(want.results.length);
        const wantReasons: number[] = [];
        for (const r of want.reasons) wantReasons[r] = (wantReasons[r] ?? 0) + 1;
        expect(reasons.map((n) => n ?? 0)).toEqual([...wantReasons].map((n) => n ?? 0));
        const perResult = new Map<number, number>();
        for (const r of want.results) perResult.set(r, (perResult.get(r) ?? 0) + 1);
        expect([...totals].sort((a, b) => a[0] - b[0])).toEqual([...perResult].sort((a, b) => a[0] - b[0]));
      }
      expect(await inPool(pool, file, { chunkBytes: 4096 })).toEqual(want);
    } finally {
      await pool.close();
    }
  }, 60_000);

  it('only regular files: a directory is a path error', async () => {
    const pool = await createClassifierPool(entries, { workers: 1, handlers: [CAPTURE_WORKER] });
    try {
      await expect(classifyPcapFile(pool, dir).next()).rejects.toMatchObject({ code: 'TED_INPUT_IS_DIRECTORY' });
      const empty = join(dir, 'header-only.pcap');
      writeFileSync(empty, writePcap([]));
      expect(await inPool(pool, empty)).toEqual({ results: [], reasons: [], linkTypes: [] });
    } finally {
      await pool.close();
    }
  });
});

