import fc from 'fast-check';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DecodeError } from '../src/errors.js';
import { decodeFrame } from '../src/packet/decode.js';
import { writePcapng } from '../src/pcap/pcapng-writer.js';
import { classifyCapture } from '../src/pcap/classify.js';
import { BATCH_FRAMES, detectCaptureFormat, openCapture, readCaptureFile, readCaptureFileBatches, readFrames, type Frame } from '../src/pcap/reader.js';
import { PcapFileWriter, writePcap } from '../src/pcap/writer.js';
import { buildFrame, specArb } from './packet-gen.js';
import { CAPTURES, present } from './support/shared.js';

const dir = mkdtempSync(join(tmpdir(), 'ted-pcap-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const frames = (n: number, linkTypes = [1]) => fc.sample(specArb({ linkTypes }), { numRuns: n, seed: 42 }).map(buildFrame);

const strip = (f: Frame) => ({ index: f.index, linkType: f.linkType, tsSec: f.tsSec, tsNsec: f.tsNsec, caplen: f.caplen, origLen: f.origLen, data: Array.from(f.data), interfaceId: f.interfaceId });

async function collectFile(path: string, chunkSize: number): Promise<Frame[]> {
  const out: Frame[] = [];
  for await (const f of readCaptureFile(path, { chunkSize })) out.push(f);
  return out;
}

/** Reads everything; returns frames and the error that stopped reading, if any. */
function readAll(bytes: Uint8Array, onError?: (e: DecodeError) => void): { frames: Frame[]; error?: unknown } {
  const out: Frame[] = [];
  try {
    for (const f of readFrames(bytes, { onError })) out.push(f);
    return { frames: out };
  } catch (error) {
    return { frames: out, error };
  }
}

describe('classic pcap', () => {
  const built = frames(20);
  for (const nanos of [false, true]) {
    for (const bigEndian of [false, true]) {
      it(`reads what the writer wrote (${nanos ? 'ns' : 'us'}, ${bigEndian ? 'big' : 'little'}-endian)`, () => {
        const bytes = writePcap(
          built.map((f, i) => ({ data: f.data, tsSec: 1700000000 + i, tsNsec: i * 1001 })),
          { nanos, bigEndian, linkType: 1 },
        );
        expect(detectCaptureFormat(bytes)).toBe('pcap');
        const cap = openCapture(bytes);
        const got = [...cap];
        expect(cap.format).toBe('pcap');
        expect(cap.linkTypes).toEqual([1]);
        expect(got.map((f) => f.index)).toEqual(built.map((_, i) => i + 1));
        got.forEach((f, i) => {
          expect(f.data).toEqual(built[i]!.data);
          expect(f.tsSec).toBe(1700000000 + i);
          expect(f.tsNsec).toBe(nanos ? i * 1001 : Math.floor((i * 1001) / 1000) * 1000);
          expect(decodeFrame(f.linkType, f.data)).toMatchObject({ ok: true, tuple: built[i]!.tuple });
        });
      });
    }
  }

  it('keeps records cut by the snaplen (caplen < origLen) and decodes their headers', () => {
    const bytes = writePcap(built.map((f) => ({ data: f.data })), { snaplen: 54 });
    const got = [...readFrames(bytes)];
    got.forEach((f, i) => {
      expect(f.caplen).toBe(Math.min(54, built[i]!.data.length));
      expect(f.origLen).toBe(built[i]!.data.length);
    });
  });

  it('reads the Kuznetzov (modified) format with 24-byte record headers', () => {
    const data = built[0]!.data;
    const b = new Uint8Array(24 + 24 + data.length);
    const v = new DataView(b.buffer);
    v.setUint32(0, 0xa1b2cd34, true);
    v.setUint16(4, 2, true);
    v.setUint16(6, 4, true);
    v.setUint32(16, 65535, true);
    v.setUint32(20, 1, true);
    v.setUint32(24 + 8, data.length, true);
    v.setUint32(24 + 12, data.length, true);
    b.set(data, 48);
    expect([...readFrames(b)].map((f) => f.data)).toEqual([data]);
  });

  it('refuses a capture length beyond the snaplen limit after delivering earlier frames', () => {
    const bytes = writePcap(built.slice(0, 3).map((f) => ({ data: f.data })));
    const third = 24 + 16 + built[0]!.data.length + 16 + built[1]!.data.length;
    new DataView(bytes.buffer).setUint32(third + 8, 0x7fffffff, true);
    const r = readAll(bytes);
    expect(r.frames.length).toBe(2);
    expect(r.error).toBeInstanceOf(DecodeError);
    expect(r.error).toMatchObject({ code: 'PCAP_BAD_CAPLEN', offset: third + 8 });
  });

  it('bad magic, unsupported version and empty input are typed errors', () => {
    expect(() => openCapture(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]))).toThrow(expect.objectContaining({ code: 'PCAP_BAD_MAGIC', offset: 0 }));
    expect(() => openCapture(new Uint8Array(0))).toThrow(expect.objectContaining({ code: 'PCAP_EMPTY' }));
    const b = writePcap([]);
    b[4] = 3;
    expect(() => openCapture(b)).toThrow(expect.objectContaining({ code: 'PCAP_BAD_VERSION', offset: 4 }));
  });
});

describe('pcapng', () => {
  const eth = frames(6, [1]);
  const raw = frames(6, [101]);
  const sll = frames(4, [113]);
  const make = (bigEndian: boolean) =>
    writePcapng(
      [
        {
          interfaces: [{ linkType: 1, name: 'eth0' }, { linkType: 101, tsresol: 9 }],
          blocks: [
            { interfaceId: 0, data: eth[0]!.data, ticks: 1700000000123456n },
            { type: 0x0bad, body: new Uint8Array([1, 2, 3, 4, 5]) }, // custom block: skipped
            { interfaceId: 1, data: raw[0]!.data, ticks: 1700000000123456789n },
            { type: 5, body: new Uint8Array(20) }, // interface statistics: skipped
            { kind: 'spb', data: eth[1]!.data },
            { kind: 'opb', interfaceId: 1, data: raw[1]!.data, ticks: 5n },
            ...eth.slice(2).map((f, i) => ({ interfaceId: i % 2 === 0 ? 0 : 0, data: f.data })),
            ...raw.slice(2).map((f) => ({ interfaceId: 1, data: f.data })),
          ],
        },
        // A second section restarts interface numbering.
        { interfaces: [{ linkType: 113 }], blocks: sll.map((f) => ({ interfaceId: 0, data: f.data })) },
      ],
      { bigEndian },
    );

  for (const bigEndian of [false, true]) {
    it(`two interfaces of different link types, SPB/OPB, unknown blocks, two sections (${bigEndian ? 'big' : 'little'}-endian)`, () => {
      const bytes = make(bigEndian);
      expect(detectCaptureFormat(bytes)).toBe('pcapng');
      const cap = openCapture(bytes);
      const got = [...cap];
      expect(cap.format).toBe('pcapng');
      expect(cap.linkTypes).toEqual([1, 101, 113]);
      const expected = [eth[0]!, raw[0]!, eth[1]!, raw[1]!, ...eth.slice(2), ...raw.slice(2), ...sll];
      expect(got.length).toBe(expected.length);
      got.forEach((f, i) => {
        expect(f.index).toBe(i + 1);
        expect(f.linkType).toBe(expected[i]!.linkType);
        expect(f.data).toEqual(expected[i]!.data);
        expect(decodeFrame(f.linkType, f.data)).toMatchObject({ ok: true, tuple: expected[i]!.tuple });
      });
      expect([got[0]!.tsSec, got[0]!.tsNsec]).toEqual([1700000000, 123456000]);
      expect([got[1]!.tsSec, got[1]!.tsNsec]).toEqual([1700000000, 123456789]);
      expect(got[1]!.interfaceId).toBe(1);
    });
  }

  it('a packet block naming an unknown interface, or longer than its block, is skipped with an error; reading goes on', () => {
    const bytes = writePcapng([{ interfaces: [{ linkType: 1 }], blocks: [{ data: eth[0]!.data }, { interfaceId: 3, data: eth[1]!.data }, { data: eth[2]!.data }, { data: eth[3]!.data }] }]);
    // Make the fourth packet's caplen lie (longer than its block).
    const all = [...readFrames(bytes, { onError: () => {} })];
    const lastAt = all[all.length - 1]!.fileOffset;
    new DataView(bytes.buffer).setUint32(lastAt + 20, 100000, true);
    const errors: DecodeError[] = [];
    const got = [...readFrames(bytes, { onError: (e) => errors.push(e) })];
    expect(got.map((f) => f.data)).toEqual([eth[0]!.data, eth[2]!.data]);
    expect(errors.map((e) => e.code)).toEqual(['PCAP_NO_INTERFACE', 'PCAP_BAD_CAPLEN']);
    expect(errors[1]!.offset).toBe(lastAt + 20);
    // Without onError the first such error is thrown, after the frames before it.
    const strict = readAll(bytes);
    expect(strict.frames.length).toBe(1);
    expect(strict.error).toMatchObject({ code: 'PCAP_NO_INTERFACE' });
  });

  it('block lengths that break the framing are fatal with the offset', () => {
    const bytes = writePcapng([{ interfaces: [{ linkType: 1 }], blocks: [{ data: eth[0]!.data }, { data: eth[1]!.data }] }]);
    const second = [...readFrames(bytes)][1]!.fileOffset;
    const odd = bytes.slice();
    new DataView(odd.buffer).setUint32(second + 4, 70, true);
    expect(readAll(odd)).toMatchObject({ frames: [{ index: 1 }], error: { code: 'PCAP_BAD_BLOCK_LENGTH', offset: second + 4 } });
    const mismatch = bytes.slice();
    new DataView(mismatch.buffer).setUint32(mismatch.length - 4, 8, true);
    expect(readAll(mismatch).error).toMatchObject({ code: 'PCAP_BLOCK_LENGTH_MISMATCH', offset: mismatch.length - 4 });
    const tiny = bytes.slice();
    new DataView(tiny.buffer).setUint32(second + 4, 8, true);
    expect(readAll(tiny).error).toMatchObject({ code: 'PCAP_BAD_BLOCK_LENGTH' });
    const bom = bytes.slice();
    bom[8] = 0;
    expect(() => openCapture(bom)).toThrow(expect.objectContaining({ code: 'PCAP_BAD_BOM', offset: 8 }));
  });
});

describe('truncation at every byte offset', () => {
  const built = frames(5, [1]);
  const files = {
    pcap: writePcap(built.map((f) => ({ data: f.data }))),
    pcapng: writePcapng([{ interfaces: [{ linkType: 1 }, { linkType: 101 }], blocks: built.map((f) => ({ data: f.data })) }]),
  };
  for (const [name, bytes] of Object.entries(files)) {
    it(`${name}: a prefix yields a prefix of the frames, then a typed truncation error (or ends at a record boundary)`, () => {
      const full = [...readFrames(bytes)];
      const ends = new Set(full.map((f, i) => (i + 1 < full.length ? full[i + 1]!.fileOffset : bytes.length)));
      const headerEnd = full[0]!.fileOffset;
      for (let cut = 0; cut < bytes.length; cut++) {
        const r = readAll(bytes.subarray(0, cut));
        expect(r.frames.map(strip)).toEqual(full.slice(0, r.frames.length).map(strip));
        if (r.error === undefined) {
          expect(ends.has(cut) || cut === headerEnd || (name === 'pcapng' && cut >= 28 && cut <= headerEnd)).toBe(true);
        } else {
          expect(r.error).toBeInstanceOf(DecodeError);
          expect((r.error as DecodeError).code).toMatch(/^PCAP_(TRUNCATED|EMPTY)$/);
          expect((r.error as DecodeError).truncated).toBe(true);
          expect((r.error as DecodeError).offset).toBeLessThanOrEqual(cut);
        }
      }
    });
  }
});

describe('streaming reader', () => {
  it('gives the same frames as the in-memory reader for any chunk size (random chunkings)', async () => {
    const built = frames(30, [1, 101, 113]);
    const pcapPath = join(dir, 'a.pcap');
    writeFileSync(pcapPath, writePcap(built.map((f) => ({ data: f.data })), { linkType: 1 }));
    const ngPath = join(dir, 'a.pcapng');
    writeFileSync(ngPath, writePcapng([{ interfaces: [{ linkType: 1 }, { linkType: 101 }, { linkType: 113 }], blocks: built.map((f) => ({ interfaceId: [1, 101, 113].indexOf(f.linkType), data: f.data })) }]));
    for (const path of [pcapPath, ngPath]) {
      const mem = [...readFrames(readFileSync(path))].map(strip);
      for (const chunk of [1, 3, 7, 64, 100, 1000, 1 << 20]) expect((await collectFile(path, chunk)).map(strip)).toEqual(mem);
    }
  });

  it('a truncated file throws a typed error after its whole frames', async () => {
    const built = frames(3, [1]);
    const bytes = writePcap(built.map((f) => ({ data: f.data })));
    const path = join(dir, 'cut.pcap');
    writeFileSync(path, bytes.subarray(0, bytes.length - 5));
    const got: Frame[] = [];
    await expect(
      (async () => {
        for await (const f of readCaptureFile(path, { chunkSize: 50 })) got.push(f);
      })(),
    ).rejects.toMatchObject({ code: 'PCAP_TRUNCATED', truncated: true });
    expect(got.length).toBe(2);
  });

  it('batches: the same frames, each batch from one chunk read and at most BATCH_FRAMES, a truncation thrown after the frames before it', async () => {
    const built = frames(40, [1, 101]);
    const path = join(dir, 'batches.pcapng');
    writeFileSync(path, writePcapng([{ interfaces: [{ linkType: 1 }, { linkType: 101 }], blocks: built.map((f) => ({ interfaceId: f.linkType === 1 ? 0 : 1, data: f.data })) }]));
    const mem = [...readFrames(readFileSync(path))].map(strip);
    for (const chunk of [1, 5, 300, 4096, 1 << 20]) {
      const batches: Frame[][] = [];
      for await (const b of readCaptureFileBatches(path, { chunkSize: chunk })) batches.push(b);
      expect(batches.flat().map(strip)).toEqual(mem);
      expect(batches.every((b) => b.length > 0 && b.length <= BATCH_FRAMES)).toBe(true);
      // A batch holds what one read brought in: frames of one buffer (records longer than the chunk come alone).
      for (const b of batches) expect(new Set(b.map((f) => f.data.buffer)).size).toBe(1);
      if (chunk === 1 << 20) expect(batches.length).toBe(1);
    }
    // A chunk holding more frames than a batch: full batches, then the rest.
    const many = join(dir, 'batches-many.pcap');
    writeFileSync(many, writePcap(Array.from({ length: 2 * BATCH_FRAMES + 7 }, (_, i) => ({ data: built[i % built.length]!.data }))));
    const sizes: number[] = [];
    for await (const b of readCaptureFileBatches(many)) sizes.push(b.length);
    expect(sizes).toEqual([BATCH_FRAMES, BATCH_FRAMES, 7]);
    const bytes = readFileSync(path);
    writeFileSync(join(dir, 'batches-cut.pcapng'), bytes.subarray(0, bytes.length - 3));
    const got: Frame[] = [];
    await expect(
      (async () => {
        for await (const b of readCaptureFileBatches(join(dir, 'batches-cut.pcapng'), { chunkSize: 1 << 20 })) got.push(...b);
      })(),
    ).rejects.toMatchObject({ code: 'PCAP_TRUNCATED', truncated: true });
    expect(got.map(strip)).toEqual(mem.slice(0, -1));
  });

  it('streams a capture many times larger than its chunk with the file writer', async () => {
    const path = join(dir, 'big.pcap');
    const w = new PcapFileWriter(path, { linkType: 101 }, 4096);
    const built = frames(50, [101]);
    for (let i = 0; i < 2000; i++) w.write({ data: built[i % 50]!.data, tsSec: i });
    w.close();
    let n = 0;
    for await (const f of readCaptureFile(path, { chunkSize: 8192 })) {
      expect(f.data).toEqual(built[n % 50]!.data);
      expect(f.tsSec).toBe(n);
      n++;
    }
    expect(n).toBe(2000);
  });
});

const shared = CAPTURES;
// Time budget of each fuzz loop (CI default 3 s; TED_FUZZ_MS=60000 for a longer local run).
const FUZZ_MS = Number(process.env.TED_FUZZ_MS ?? 3000);
/** Endless seeded cases, drawn a thousand at a time (the loops stop at their deadline). */
function* cases<T>(arb: fc.Arbitrary<T>, seed: number): Generator<T> {
  for (let k = 0; ; k++) yield* fc.sample(arb, { numRuns: 1000, seed: seed * 100003 + k });
}
const haveShared = present(shared, 'skipping fuzz over real captures');

describe.skipIf(!haveShared)('fuzz over mutated real captures (bounded time)', () => {
  it('only typed errors escape; with onError, reading continues past recoverable damage', () => {
    const seeds: Uint8Array[] = readdirSync(shared).map((f) => new Uint8Array(readFileSync(join(shared, f))));
    const ng = writePcapng([{ interfaces: [{ linkType: 1 }, { linkType: 101 }], blocks: [...readFrames(seeds[0]!)].map((f) => ({ data: f.data })) }]);
    seeds.push(ng);
    const deadline = Date.now() + FUZZ_MS;
    let runs = 0;
    const rnd = cases(fc.tuple(fc.nat(seeds.length - 1), fc.array(fc.tuple(fc.nat(), fc.nat(255)), { minLength: 1, maxLength: 8 }), fc.nat()), 7);
    for (const [which, muts, cutSeed] of rnd) {
      if (Date.now() > deadline) break;
      const b = seeds[which]!.slice();
      for (const [at, v] of muts) b[at % b.length] = v;
      const cut = cutSeed % 5 === 0 ? b.subarray(0, cutSeed % b.length) : b;
      for (const onError of [undefined, () => {}]) {
        try {
          for (const f of readFrames(cut, { onError })) decodeFrame(f.linkType, f.data);
        } catch (e) {
          if (!(e instanceof DecodeError)) throw e;
          expect(e.code).toMatch(/^PCAP_/);
          expect(e.offset).toBeGreaterThanOrEqual(0);
          expect(e.offset).toBeLessThanOrEqual(cut.length);
        }
      }
      runs++;
    }
    expect(runs).toBeGreaterThan(100);
  }, FUZZ_MS + 60000);

  it('classifyCapture (wasm and ts engines) on mutated real captures: the frames the reader gives, or the same typed error', async () => {
    const seeds: Uint8Array[] = readdirSync(shared).map((f) => new Uint8Array(readFileSync(join(shared, f))));
    seeds.push(writePcapng([{ interfaces: [{ linkType: 1 }, { linkType: 101 }], blocks: [...readFrames(seeds[0]!)].map((f, i) => ({ interfaceId: i % 2, data: f.data })) }]));
    const deadline = Date.now() + FUZZ_MS;
    let runs = 0;
    const rnd = cases(fc.tuple(fc.nat(seeds.length - 1), fc.array(fc.tuple(fc.nat(), fc.nat(255)), { minLength: 1, maxLength: 6 }), fc.nat(), fc.integer({ min: 1, max: 9 })), 8);
    for (const [which, muts, cutSeed, batchSize] of rnd) {
      if (Date.now() > deadline) break;
      const b = seeds[which]!.slice();
      for (const [at, v] of muts) b[at % b.length] = v;
      const cut = cutSeed % 5 === 0 ? b.subarray(0, cutSeed % b.length) : b;
      const expected: number[] = [];
      let expectedErr: string | undefined;
      try {
        for (const f of readFrames(cut, { onError: () => {} })) expected.push(decodeFrame(f.linkType, f.data).reason);
      } catch (e) {
        if (!(e instanceof DecodeError)) throw e;
        expectedErr = `${e.code}@${e.offset}`;
      }
      for (const engine of ['wasm', 'ts'] as const) {
        const got: number[] = [];
        let err: string | undefined;
        try {
          for await (const x of classifyCapture(cut, { engine, batchSize, chunkSize: 97, onError: () => {} })) for (let i = 0; i < x.count; i++) got.push(x.reasons[i]!);
        } catch (e) {
          if (!(e instanceof DecodeError)) throw e;
          err = `${e.code}@${e.offset}`;
        }
        expect(got).toEqual(expected);
        expect(err).toBe(expectedErr);
      }
      runs++;
    }
    expect(runs).toBeGreaterThan(50);
  }, FUZZ_MS + 60000);
});
