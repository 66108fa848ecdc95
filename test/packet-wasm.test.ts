// Differential tests: the WebAssembly header walk (assembly/decode.ts) against its TypeScript twin
// and against decodeFrame, on random, mutated and real frames, random batch sizes and chunkings.
import fc from 'fast-check';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TupleBatch } from '../src/classify/batch.js';
import { BatchDecoder, decodePcapTS } from '../src/packet/batch-decode.js';
import { DecodeError } from '../src/errors.js';
import { decodeFrame } from '../src/packet/decode.js';
import { classifyCapture, type CaptureBatch } from '../src/pcap/classify.js';
import { writePcapng } from '../src/pcap/pcapng-writer.js';
import { readFrames } from '../src/pcap/reader.js';
import { writePcap } from '../src/pcap/writer.js';
import { loadWasm } from '../src/wasm/load.js';
import { buildFrame, specArb } from './packet-gen.js';
import { CAPTURES, present } from './support/shared.js';

let wasmOk = true;
try {
  const ex = loadWasm().exports as { decode_pcap?: unknown };
  wasmOk = typeof ex.decode_pcap === 'function';
} catch {
  wasmOk = false;
}
if (!wasmOk) console.warn('skipping wasm differential tests: build/*.wasm missing or without decode_pcap (run npm run build:wasm)');

const dir = mkdtempSync(join(tmpdir(), 'ted-wasm-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function row(b: TupleBatch, i: number): number[] {
  return [b.family[i]!, b.proto[i]!, b.flags[i]!, b.sport[i]!, b.dport[i]!, b.src[i]!, b.dst[i]!, ...b.src6.subarray(4 * i, 4 * i + 4), ...b.dst6.subarray(4 * i, 4 * i + 4)];
}

/** Random frames: well-formed, mutated (random bytes overwritten), cut, or pure noise. */
const frameArb = fc.oneof(
  { weight: 4, arbitrary: specArb().map((s) => buildFrame(s)).map((f) => ({ linkType: f.linkType, data: f.data })) },
  {
    weight: 3,
    arbitrary: fc.tuple(specArb(), fc.array(fc.tuple(fc.nat(80), fc.nat(255)), { minLength: 1, maxLength: 4 }), fc.nat(200)).map(([s, muts, cut]) => {
      const f = buildFrame(s);
      const d = f.data.slice();
      for (const [at, v] of muts) d[at % d.length] = v;
      return { linkType: f.linkType, data: cut < 100 ? d.subarray(0, cut % (d.length + 1)) : d };
    }),
  },
  { weight: 1, arbitrary: fc.record({ linkType: fc.constantFrom(0, 1, 101, 108, 113, 228, 229, 276, 7), data: fc.uint8Array({ maxLength: 90 }) }) },
);

/** Reference rows from decodeFrame, the object-level decoder. */
function reference(frames: { linkType: number; data: Uint8Array }[]): { reasons: number[]; rows: number[][] } {
  const ts = new BatchDecoder('ts', Math.max(1, frames.length));
  ts.decodeFrames(frames);
  frames.forEach((f, i) => {
    const r = decodeFrame(f.linkType, f.data);
    expect(ts.reasons[i]).toBe(r.reason);
    if (r.ok) expect(ts.batch.get(i)).toEqual(r.tuple);
    else expect(ts.batch.get(i)).toBeUndefined();
  });
  return { reasons: Array.from(ts.reasons.subarray(0, frames.length)), rows: frames.map((_, i) => row(ts.batch, i)) };
}

describe.skipIf(!wasmOk)('wasm header walk = TypeScript twin', () => {
  it('decode_frames: identical rows and reasons on random, mutated and noise frames', () => {
    const wasm = new BatchDecoder('wasm', 64);
    fc.assert(
      fc.property(fc.array(frameArb, { minLength: 1, maxLength: 64 }), (frames) => {
        const ref = reference(frames);
        // Stale rows from earlier runs must be overwritten, not leak through.
        wasm.decodeFrames(frames);
        expect(Array.from(wasm.reasons.subarray(0, frames.length))).toEqual(ref.reasons);
        expect(frames.map((_, i) => row(wasm.batch, i))).toEqual(ref.rows);
      }),
      { numRuns: 400 },
    );
    wasm.dispose();
  });

  it('decode_pcap: identical rows, reasons, bytes consumed and status, for any batch size, window and limit', () => {
    fc.assert(
      fc.property(
        fc.array(frameArb, { minLength: 1, maxLength: 40 }),
        fc.integer({ min: 1, max: 50 }),
        fc.boolean(),
        fc.nat(),
        fc.constantFrom(1, 101, 113),
        fc.nat(),
        (frames, cap, bigEndian, cutSeed, lt, limitSeed) => {
          const file = writePcap(frames.map((f) => ({ data: f.data })), { linkType: lt, bigEndian });
          const body = file.subarray(24);
          const end = cutSeed % 3 === 0 ? cutSeed % (body.length + 1) : body.length;
          // Records starting at or past `limit` are not decoded (a worker's share of a file ends there).
          const limit = limitSeed % 2 === 0 ? limitSeed % (body.length + 1) : end;
          const ts = new BatchDecoder('ts', cap);
          const wasm = new BatchDecoder('wasm', cap);
          const stage = wasm.staging(Math.max(1, body.length));
          stage.bytes.set(body);
          let start = 0;
          for (;;) {
            const a = ts.decodePcap(body, undefined, start, end, !bigEndian, 16, lt, 262144, limit);
            const b = wasm.decodePcap(stage.bytes, stage, start, end, !bigEndian, 16, lt, 262144, limit);
            expect(b).toEqual(a);
            expect(a[0] === 0 || start + a[1] - 16 - ts.caplens[a[0] - 1]! < limit).toBe(true);
            const n = a[0];
            expect(Array.from(wasm.reasons.subarray(0, n))).toEqual(Array.from(ts.reasons.subarray(0, n)));
            expect(Array.from(wasm.caplens.subarray(0, n))).toEqual(Array.from(ts.caplens.subarray(0, n)));
            for (let i = 0; i < n; i++) expect(row(wasm.batch, i)).toEqual(row(ts.batch, i));
            start += a[1];
            if (n < cap) break;
          }
          wasm.dispose();
        },
      ),
      { numRuns: 200 },
    );
  });

  it('decode_pcap reports a capture length above the limit with the same status and position', () => {
    const frames = fc.sample(frameArb, { numRuns: 5, seed: 3 });
    const file = writePcap(frames.map((f) => ({ data: f.data })));
    const body = file.slice(24);
    const third = 16 + frames[0]!.data.length + 16 + frames[1]!.data.length;
    new DataView(body.buffer).setUint32(third + 8, 1 << 30, true);
    const ts = new BatchDecoder('ts', 10);
    const wasm = new BatchDecoder('wasm', 10);
    const stage = wasm.staging(body.length);
    stage.bytes.set(body);
    const out = new Uint32Array(2);
    expect(decodePcapTS(body, 0, body.length, true, 16, 1, 262144, ts.batch, ts.reasons, new Uint32Array(10), out)).toBe(2);
    expect([out[0], out[1]]).toEqual([third, 1]);
    expect(wasm.decodePcap(stage.bytes, stage, 0, body.length, true, 16, 1, 262144)).toEqual([2, third, 1]);
    wasm.dispose();
  });
});

/** A random one-section pcapng body (after SHB and IDBs) with packet blocks of every kind, unknown and damaged blocks. */
const pcapngArb = fc
  .tuple(
    fc.array(fc.record({ linkType: fc.constantFrom(1, 101, 113, 0), snaplen: fc.constantFrom(0, 40, 262144) }), { minLength: 0, maxLength: 3 }),
    fc.array(fc.tuple(frameArb, fc.constantFrom('epb', 'epb', 'epb', 'spb', 'opb', 'unknown', 'badif'), fc.nat(5)), { minLength: 1, maxLength: 40 }),
    fc.boolean(),
  )
  .map(([ifaces, items, bigEndian]) => {
    const blocks = items.map(([f, kind, k]) => {
      if (kind === 'unknown') return { type: 0x0bad + k, body: f.data.subarray(0, 9) };
      if (kind === 'badif') return { interfaceId: ifaces.length + k, data: f.data };
      return { kind: kind as 'epb' | 'spb' | 'opb', interfaceId: ifaces.length > 0 ? k % ifaces.length : 0, data: f.data };
    });
    return { bytes: writePcapng([{ interfaces: ifaces, blocks }], { bigEndian }), ifaces, bigEndian };
  });

describe.skipIf(!wasmOk)('wasm pcapng fast path = TypeScript twin', () => {
  it('decode_pcapng: identical rows, reasons, caplens, link types, consumed bytes and status for any batch size', () => {
    fc.assert(
      fc.property(pcapngArb, fc.integer({ min: 1, max: 30 }), fc.nat(), (cap, capacity, cutSeed) => {
        // Skip the SHB and IDBs: the fast path starts at the first other block.
        const first = [...readFrames(cap.bytes, { onError: () => {} })][0]?.fileOffset ?? cap.bytes.length;
        const hdrEnd = 28 + cap.ifaces.reduce((n, i) => n + 20, 0);
        const start = Math.min(first, hdrEnd);
        const end = cutSeed % 3 === 0 ? start + (cutSeed % (cap.bytes.length - start + 1)) : cap.bytes.length;
        const ifaces = cap.ifaces.map((i) => ({ linkType: i.linkType, snaplen: i.snaplen }));
        const ts = new BatchDecoder('ts', capacity);
        const wasm = new BatchDecoder('wasm', capacity);
        const stage = wasm.staging(cap.bytes.length);
        stage.bytes.set(cap.bytes);
        let at = start;
        for (let guard = 0; guard < 100; guard++) {
          const a = ts.decodePcapng(cap.bytes, undefined, at, end, !cap.bigEndian, ifaces, 1 << 28);
          const b = wasm.decodePcapng(stage.bytes, stage, at, end, !cap.bigEndian, ifaces, 1 << 28);
          expect(b).toEqual(a);
          const n = a[0];
          expect(Array.from(wasm.reasons.subarray(0, n))).toEqual(Array.from(ts.reasons.subarray(0, n)));
          expect(Array.from(wasm.caplens.subarray(0, n))).toEqual(Array.from(ts.caplens.subarray(0, n)));
          expect(Array.from(wasm.rowLinkTypes.subarray(0, n))).toEqual(Array.from(ts.rowLinkTypes.subarray(0, n)));
          for (let i = 0; i < n; i++) expect(row(wasm.batch, i)).toEqual(row(ts.batch, i));
          at += a[1];
          if (n < capacity) {
            if (a[2] !== 2) break;
            // Skip the refused block as the parser would, and go on.
            const len = new DataView(cap.bytes.buffer, cap.bytes.byteOffset).getUint32(at + 4, !cap.bigEndian);
            if (at + len > end) break;
            at += len;
          }
        }
        wasm.dispose();
      }),
      { numRuns: 300 },
    );
  });

  it('classifyCapture over damaged pcapng: with onError the same frames as the reader, then decodeFrame; without, the same typed error', async () => {
    const samples = fc.sample(fc.tuple(pcapngArb, fc.integer({ min: 1, max: 20 }), fc.integer({ min: 64, max: 500 })), { numRuns: 60, seed: 9 });
    for (const [cap, batchSize, chunkSize] of samples) {
      const refFrames = [...readFrames(cap.bytes, { onError: () => {} })];
      const ref = refFrames.length > 0 ? reference(refFrames.map((f) => ({ linkType: f.linkType, data: f.data }))) : { reasons: [], rows: [] };
      let strictErr: unknown;
      try {
        for (const _ of readFrames(cap.bytes)) void _;
      } catch (e) {
        strictErr = e;
      }
      for (const engine of ['wasm', 'ts'] as const) {
        const errors: string[] = [];
        const got = await collectOpts(cap.bytes, { engine, batchSize, chunkSize, onError: (e: DecodeError) => errors.push(e.code) });
        expect(got.reasons).toEqual(ref.reasons);
        expect(got.rows).toEqual(ref.rows);
        expect(got.lts).toEqual(refFrames.map((f) => f.linkType));
        expect(got.caplens).toEqual(refFrames.map((f) => f.caplen));
        let err: unknown;
        try {
          await collectOpts(cap.bytes, { engine, batchSize, chunkSize });
        } catch (e) {
          err = e;
        }
        expect((err as DecodeError | undefined)?.code).toBe((strictErr as DecodeError | undefined)?.code);
        expect((err as DecodeError | undefined)?.offset).toBe((strictErr as DecodeError | undefined)?.offset);
      }
    }
  });
});

async function collectOpts(source: Uint8Array | string, opts: Parameters<typeof classifyCapture>[1], onBatch?: (b: CaptureBatch) => void) {
  const reasons: number[] = [];
  const rows: number[][] = [];
  const lts: number[] = [];
  const caplens: number[] = [];
  for await (const b of classifyCapture(source, opts)) {
    onBatch?.(b);
    for (let i = 0; i < b.count; i++) {
      reasons.push(b.reasons[i]!);
      rows.push(row(b.batch, i));
      lts.push(b.linkTypes[i]!);
      caplens.push(b.caplens[i]!);
    }
  }
  return { reasons, rows, lts, caplens };
}

describe.skipIf(!wasmOk)('classifyCapture end to end (both engines, random batch sizes and chunkings)', () => {
  async function collect(source: Uint8Array | string, engine: 'wasm' | 'ts', batchSize: number, chunkSize: number) {
    let next = 1;
    return collectOpts(source, { engine, batchSize, chunkSize }, (b) => {
      expect(b.firstIndex).toBe(next);
      next += b.count;
    });
  }

  it('pcap and pcapng, from memory and from a file, equal the per-frame reference', async () => {
    const samples = fc.sample(fc.tuple(fc.array(frameArb, { minLength: 0, maxLength: 120 }), fc.integer({ min: 1, max: 70 }), fc.integer({ min: 64, max: 3000 })), { numRuns: 25, seed: 11 });
    for (const [frames, batchSize, chunkSize] of samples) {
      const lt1 = frames.map((f) => ({ linkType: 1, data: f.data }));
      const ref = frames.length > 0 ? reference(lt1) : { reasons: [], rows: [] };
      const pcap = writePcap(lt1.map((f) => ({ data: f.data })), { linkType: 1 });
      const ng = writePcapng([{ interfaces: [{ linkType: 1 }, { linkType: 101 }], blocks: frames.map((f) => ({ interfaceId: f.linkType === 101 ? 1 : 0, data: f.data })) }]);
      const ngFrames = frames.map((f) => ({ linkType: f.linkType === 101 ? 101 : 1, data: f.data }));
      const ngRef = frames.length > 0 ? reference(ngFrames) : { reasons: [], rows: [] };
      const path = join(dir, 'x.pcap');
      writeFileSync(path, pcap);
      for (const engine of ['wasm', 'ts'] as const) {
        for (const src of [pcap, path]) {
          const got = await collect(src, engine, batchSize, chunkSize);
          expect(got.reasons).toEqual(ref.reasons);
          expect(got.rows).toEqual(ref.rows);
          expect(got.caplens).toEqual(frames.map((f) => f.data.length));
        }
        const g = await collect(ng, engine, batchSize, chunkSize);
        expect(g.reasons).toEqual(ngRef.reasons);
        expect(g.rows).toEqual(ngRef.rows);
        expect(g.lts).toEqual(ngFrames.map((f) => f.linkType));
      }
    }
  });

  it('decodes into a caller batch: in place (ts, or wasm memory) or copied (a JS batch under wasm)', async () => {
    const frames = fc.sample(frameArb, { numRuns: 50, seed: 21 }).map((f) => ({ linkType: 1, data: f.data }));
    const ref = reference(frames);
    const pcap = writePcap(frames.map((f) => ({ data: f.data })), { linkType: 1 });
    for (const engine of ['wasm', 'ts'] as const) {
      const target = new TupleBatch(7);
      const rows: number[][] = [];
      for await (const b of classifyCapture(pcap, { engine, batch: target })) {
        expect(b.batch).toBe(target);
        expect(target.count).toBe(b.count);
        for (let i = 0; i < b.count; i++) rows.push(row(target, i));
      }
      expect(rows).toEqual(ref.rows);
    }
  });

  it('a truncated pcap yields its whole frames, then a typed error', async () => {
    const frames = fc.sample(frameArb, { numRuns: 10, seed: 5 });
    const pcap = writePcap(frames.map((f) => ({ data: f.data })), { linkType: 1 });
    for (const engine of ['wasm', 'ts'] as const) {
      let n = 0;
      await expect(
        (async () => {
          for await (const b of classifyCapture(pcap.subarray(0, pcap.length - 3), { engine, batchSize: 3, chunkSize: 100 })) n += b.count;
        })(),
      ).rejects.toMatchObject({ code: 'PCAP_TRUNCATED', truncated: true });
      expect(n).toBe(9);
    }
  });

  const shared = CAPTURES;
  it.skipIf(!present(shared, 'packet-wasm: skipping the real-capture comparison'))('real captures: both engines equal the reference', async () => {
    for (const name of readdirSync(shared)) {
      const bytes = new Uint8Array(readFileSync(join(shared, name)));
      const frames = [...readFrames(bytes)].map((f) => ({ linkType: f.linkType, data: f.data }));
      const ref = reference(frames);
      for (const engine of ['wasm', 'ts'] as const) {
        const got = await collect(bytes, engine, 2, 100);
        expect(got.reasons).toEqual(ref.reasons);
        expect(got.rows).toEqual(ref.rows);
      }
    }
  });
});
