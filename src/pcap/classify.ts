// Capture -> tuples -> classification results, batch by batch. Classic pcap takes the fast path:
// record framing and the header walk both run in one engine call over the raw capture bytes
// (for `wasm`, bytes read straight into linear memory). pcapng is framed by the TypeScript
// parser (blocks vary in layout) and its frames are walked in one engine call per batch.
import { open, type FileHandle } from 'node:fs/promises';
import { DecodeError } from '../errors.js';
import type { TupleBatch } from '../classify/batch.js';
import type { Classifier } from '../classify/types.js';
import { BatchDecoder, type DecodeEngine, type WasmRegion } from '../packet/batch-decode.js';
import { CaptureParser, type CaptureFormat, type Frame, type ReadOptions } from './reader.js';

export interface CaptureBatch {
  /** 1-based index of row 0's frame in the capture. */
  readonly firstIndex: number;
  readonly count: number;
  /** Rows 0..count-1 hold the frames' tuples (family 0 = none). */
  readonly batch: TupleBatch;
  /** Reason per row (src/packet/decode.ts Reason; 0 = decoded). */
  readonly reasons: Uint8Array;
  /** Link type per row. */
  readonly linkTypes: Uint32Array;
  /** Classification results per row (with a classifier; frames without a tuple get 0). */
  readonly results?: Int32Array;
  /** Original (wire) length per row is not kept; caplen per row. */
  readonly caplens: Uint32Array;
}

export interface ClassifyCaptureOptions extends ReadOptions {
  classifier?: Classifier;
  /** Header-walk engine (default wasm). */
  engine?: DecodeEngine;
  /** Frames per batch (default 4096). */
  batchSize?: number;
  /** Bytes read per call (default 1 MiB). */
  chunkSize?: number;
  /** Called after each batch with (bytes consumed, total bytes). */
  onProgress?: (done: number, total: number) => void;
  /** Called once the capture header was read. */
  onHeader?: (info: { format: CaptureFormat; parser: CaptureParser }) => void;
}

/** Something to read capture bytes from: in memory or a file. */
interface Source {
  size: number;
  read(into: Uint8Array, at: number, length: number, position: number): Promise<number>;
  close(): Promise<void>;
}

function memorySource(bytes: Uint8Array): Source {
  return {
    size: bytes.length,
    async read(into, at, length, position) {
      const n = Math.max(0, Math.min(length, bytes.length - position));
      into.set(bytes.subarray(position, position + n), at);
      return n;
    },
    async close() {},
  };
}

async function fileSource(path: string): Promise<Source> {
  const fh: FileHandle = await open(path, 'r');
  const size = (await fh.stat()).size;
  return {
    size,
    async read(into, at, length, position) {
      let done = 0;
      while (done < length) {
        const { bytesRead } = await fh.read(into, at + done, length - done, position + done);
        if (bytesRead === 0) break;
        done += bytesRead;
      }
      return done;
    },
    close: () => fh.close(),
  };
}

/**
 * Streams a capture (bytes in memory, or a file path read with bounded memory) through the
 * header walk and, when given, a classifier. Each yielded batch is valid until the next one.
 */
export async function* classifyCapture(source: Uint8Array | string, opts: ClassifyCaptureOptions = {}): AsyncGenerator<CaptureBatch> {
  const src = typeof source === 'string' ? await fileSource(source) : memorySource(source);
  try {
    yield* run(src, opts);
  } finally {
    await src.close();
  }
}

async function* run(src: Source, opts: ClassifyCaptureOptions): AsyncGenerator<CaptureBatch> {
  const engine = opts.engine ?? 'wasm';
  const capacity = Math.max(1, opts.batchSize ?? 4096);
  const chunk = Math.max(64, opts.chunkSize ?? 1 << 20);
  const cls = opts.classifier;
  const dec = new BatchDecoder(engine, capacity, engine === 'wasm' && cls?.engine === 'wasm' ? cls.createBatch(capacity) : undefined);
  const linkTypes = new Uint32Array(capacity);
  const caplens = new Uint32Array(capacity);
  try {
    // The file header, through the one parser that knows every format.
    const parser = new CaptureParser(opts);
    const head = new Uint8Array(Math.min(src.size, 24));
    await src.read(head, 0, head.length, 0);
    parser.step(head, 0, head.length, 0, head.length === src.size);
    if (parser.format === undefined) throw new DecodeError('PCAP_TRUNCATED', 'capture ends inside its header', head.length, { truncated: true });
    opts.onHeader?.({ format: parser.format, parser });
    let index = 1;
    const framed = parser.format === 'pcapng';
    const emit = (count: number): CaptureBatch => {
      const results = cls ? dec.batch.results : undefined;
      dec.batch.count = count;
      if (cls) {
        cls.classify(dec.batch, dec.batch.results);
        dec.sync();
      }
      const b: CaptureBatch = { firstIndex: index, count, batch: dec.batch, reasons: dec.reasons, linkTypes, results: cls ? dec.batch.results : results, caplens: framed ? caplens : dec.caplens };
      index += count;
      return b;
    };

    if (parser.format === 'pcap') {
      const H = parser.recordHeader;
      const lt = parser.pcapLinkType;
      const le = parser.littleEndian;
      const maxCaplen = parser.maxCaplen;
      linkTypes.fill(lt);
      // Staging window: bytes [sOff, sEnd) of the window are file bytes [filePos - (sEnd - sOff), filePos).
      let size = chunk;
      let region: WasmRegion | undefined = engine === 'wasm' ? dec.staging(size) : undefined;
      let plain = region ? undefined : new Uint8Array(size);
      const bytes = () => (region ? region.bytes : plain!);
      let sOff = 0;
      let sEnd = 0;
      let filePos = 24;
      let eof = filePos >= src.size;
      for (;;) {
        const buf = bytes();
        const [n, consumed, status] = dec.decodePcap(buf, region, sOff, sEnd, le, H, lt, maxCaplen);
        const recordAt = filePos - (sEnd - sOff) + consumed;
        sOff += consumed;
        if (n > 0) {
          yield emit(n);
          opts.onProgress?.(recordAt, src.size);
        }
        if (status === 1) {
          const b = bytes();
          const o = sOff + 8;
          const c = le ? (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0 : ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
          throw new DecodeError('PCAP_BAD_CAPLEN', `record capture length ${c} exceeds the limit ${maxCaplen} (snaplen ${parser.snaplen})`, recordAt + 8);
        }
        if (n === capacity) continue;
        // Out of whole records in the window.
        if (eof) {
          if (sOff === sEnd) break;
          throw new DecodeError('PCAP_TRUNCATED', `capture ends inside a record: ${sEnd - sOff} bytes left over`, src.size, { truncated: true });
        }
        // Grow the window when the next record is larger than it.
        let want = size;
        if (sEnd - sOff >= H) {
          const b = bytes();
          const o = sOff + 8;
          const c = le ? (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0 : ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
          want = Math.max(size, H + c);
        }
        const tail = bytes().slice(sOff, sEnd);
        if (want > size) {
          size = want;
          if (region) {
            region.free();
            region = dec.staging(size);
          } else plain = new Uint8Array(size);
        }
        const b = bytes();
        b.set(tail, 0);
        sOff = 0;
        sEnd = tail.length;
        const got = await src.read(b, sEnd, size - sEnd, filePos);
        dec.sync();
        filePos += got;
        sEnd += got;
        if (filePos >= src.size || got === 0) eof = true;
      }
      return;
    }

    // pcapng: frames from the TypeScript parser, walked one batch at a time.
    const pending: Frame[] = [];
    let buf = new Uint8Array(0);
    let off = 0;
    let end = 0;
    let base = 0;
    let eof = false;
    let want = 1;
    for (;;) {
      if (!eof && end - off < want) {
        const keep = end - off;
        const size = Math.max(chunk, want);
        const next = new Uint8Array(size);
        next.set(buf.subarray(off, end), 0);
        base += off;
        buf = next;
        off = 0;
        end = keep;
        const got = await src.read(buf, end, size - end, base + end);
        end += got;
        if (got === 0 || base + end >= src.size) eof = true;
        want = 0;
        continue;
      }
      const n = parser.step(buf, off, end, base, eof);
      if (n === 0) {
        if (eof) break;
        want = Math.max(parser.need, end - off + 1);
        continue;
      }
      off += n;
      want = 0;
      const f = parser.frame;
      if (f) {
        linkTypes[pending.length] = f.linkType;
        caplens[pending.length] = f.caplen;
        pending.push(f);
        if (pending.length === capacity) {
          dec.decodeFrames(pending);
          pending.length = 0;
          yield emit(capacity);
          opts.onProgress?.(base + off, src.size);
        }
      }
    }
    if (pending.length > 0) {
      dec.decodeFrames(pending);
      const n = pending.length;
      pending.length = 0;
      yield emit(n);
      opts.onProgress?.(src.size, src.size);
    }
  } finally {
    dec.dispose();
  }
}
