// Capture -> tuples -> classification results, batch by batch. Classic pcap takes the fast path:
// record framing and the header walk both run in one engine call over the raw capture bytes
// (for `wasm`, bytes read straight into linear memory). pcapng is framed by the TypeScript
// parser (blocks vary in layout) and its frames are walked in one engine call per batch.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { DecodeError } from '../errors.js';
import type { TupleBatch } from '../classify/batch.js';
import type { Classifier } from '../classify/types.js';
import { BatchDecoder, type DecodeEngine, type WasmRegion } from '../packet/batch-decode.js';
import { CaptureParser, type CaptureFormat, type ReadOptions } from './reader.js';

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
  /**
   * Decode into this batch (e.g. a classifier's createBatch): rows are written in place when the
   * engine can (wasm: the batch is in the module's memory; ts: any batch), else copied into it.
   * Its capacity is the batch size.
   */
  batch?: TupleBatch;
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
  /**
   * Classic pcap only: just the records whose header starts in file bytes [from, to) (`from`
   * must be where a record starts: a pool worker's share of a file). Frames are numbered from 1.
   */
  range?: { from: number; to: number };
}

/** Something to read capture bytes from: in memory or a file (`read` fills `length` bytes unless the end comes first). */
export interface Source {
  size: number;
  read(into: Uint8Array, at: number, length: number, position: number): Promise<number>;
  close(): Promise<void>;
}

/** A Source whose reads are also offered synchronously. */
export interface SyncSource extends Source {
  readSync(into: Uint8Array, at: number, length: number, position: number): number;
}

/**
 * A file read with positional reads in the calling thread: no round trip through libuv's thread
 * pool per read (a pool worker, or a one-shot command with nothing else to do meanwhile). With
 * `size`, the file must hold at least that many bytes (the caller planned its reads on it);
 * reads stop there.
 */
export function syncFileSource(file: string, size?: number): SyncSource {
  const fd = openSync(file, 'r');
  let limit: number;
  try {
    const st = fstatSync(fd);
    if (size !== undefined && (!st.isFile() || st.size < size)) throw new RangeError(`${file} changed while it was being read (${st.size} bytes, was ${size})`);
    limit = size ?? st.size;
  } catch (e) {
    closeSync(fd);
    throw e;
  }
  const readAt = (into: Uint8Array, at: number, length: number, position: number): number => {
    let done = 0;
    const n = Math.max(0, Math.min(length, limit - position));
    while (done < n) {
      const got = readSync(fd, into, at + done, n - done, position + done);
      if (got === 0) break;
      done += got;
    }
    return done;
  };
  return {
    size: limit,
    readSync: readAt,
    async read(into, at, length, position) {
      return readAt(into, at, length, position);
    },
    async close() {
      closeSync(fd);
    },
  };
}

/** Capture bytes in memory as a source (reads copy out of them). */
export function memorySource(bytes: Uint8Array): SyncSource {
  const readSync = (into: Uint8Array, at: number, length: number, position: number): number => {
    const n = Math.max(0, Math.min(length, bytes.length - position));
    into.set(bytes.subarray(position, position + n), at);
    return n;
  };
  return {
    size: bytes.length,
    readSync,
    async read(into, at, length, position) {
      return readSync(into, at, length, position);
    },
    async close() {},
  };
}

export async function fileSource(path: string): Promise<Source> {
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
 * Streams a capture (bytes in memory, a file path read with bounded memory, or a Source, which
 * stays open) through the header walk and, when given, a classifier. Each yielded batch is valid
 * until the next one.
 */
export async function* classifyCapture(source: Uint8Array | string | Source, opts: ClassifyCaptureOptions = {}): AsyncGenerator<CaptureBatch> {
  if (!(source instanceof Uint8Array) && typeof source !== 'string') return yield* run(source, opts);
  const src = typeof source === 'string' ? await fileSource(source) : memorySource(source);
  try {
    yield* run(src, opts);
  } finally {
    await src.close();
  }
}

/**
 * A window over the capture: bytes [sOff, sEnd) of `bytes` are file bytes [base + sOff,
 * base + sEnd). For the wasm engine it lives in linear memory, so the header walk reads the
 * capture where it was read to.
 */
class Window {
  size: number;
  region: WasmRegion | undefined;
  plain: Uint8Array | undefined;
  sOff = 0;
  sEnd = 0;
  eof: boolean;
  constructor(
    private readonly dec: BatchDecoder,
    private readonly src: Source,
    size: number,
    /** File offset just past the window's bytes. */
    public filePos: number,
    /**
     * Reads stop here (a little past the end of a range of records) unless the next record
     * needs more: a chunk of a file does not read a window's worth of its successor's bytes.
     */
    private readonly stopAt = Infinity,
  ) {
    this.size = size;
    if (dec.engine === 'wasm') this.region = dec.staging(size);
    else this.plain = new Uint8Array(size);
    this.eof = filePos >= src.size;
  }
  get bytes(): Uint8Array {
    return this.region ? this.region.bytes : this.plain!;
  }
  /** File offset of bytes[0]. */
  get base(): number {
    return this.filePos - this.sEnd;
  }
  get avail(): number {
    return this.sEnd - this.sOff;
  }
  /**
   * Keeps the unconsumed tail, grows to hold `want` bytes from sOff when needed, reads more: up to
   * the window's end, or to stopAt when that comes first and the tail plus what lies before it
   * holds the `need` bytes the next record takes.
   */
  async refill(want: number, need = 0): Promise<void> {
    const length = this.prepare(want, need);
    this.commit(await this.src.read(this.bytes, this.sEnd, length, this.filePos));
  }
  /** refill, reading synchronously. */
  refillSync(want: number, need: number, src: SyncSource): void {
    const length = this.prepare(want, need);
    this.commit(src.readSync(this.bytes, this.sEnd, length, this.filePos));
  }
  /** Moves the tail to the front, grows when needed; the bytes to read next (at sEnd, from filePos). */
  private prepare(want: number, need: number): number {
    const tail = this.bytes.slice(this.sOff, this.sEnd);
    if (want > this.size) {
      this.size = want;
      if (this.region) {
        this.region.free();
        this.region = this.dec.staging(want);
      } else this.plain = new Uint8Array(want);
    }
    const b = this.bytes;
    b.set(tail, 0);
    this.sOff = 0;
    this.sEnd = tail.length;
    return Math.min(this.size - this.sEnd, Math.max(this.stopAt - this.filePos, need - this.sEnd, 1));
  }
  /** `got` bytes were read at sEnd. */
  private commit(got: number): void {
    this.dec.sync();
    this.filePos += got;
    this.sEnd += got;
    if (this.filePos >= this.src.size || got === 0) this.eof = true;
  }
}

/** Copies tuple rows 0..n-1 between batches of possibly different capacities. */
function copyRows(from: TupleBatch, to: TupleBatch, n: number): void {
  to.src.set(from.src.subarray(0, n));
  to.dst.set(from.dst.subarray(0, n));
  to.src6.set(from.src6.subarray(0, 4 * n));
  to.dst6.set(from.dst6.subarray(0, 4 * n));
  to.sport.set(from.sport.subarray(0, n));
  to.dport.set(from.dport.subarray(0, n));
  to.proto.set(from.proto.subarray(0, n));
  to.family.set(from.family.subarray(0, n));
  to.flags.set(from.flags.subarray(0, n));
  to.count = n;
}

/** Bytes read past the end of a range: the record that starts before it and ends after, usually. */
const RANGE_SLACK = 4096;

/** Bytes of the reader's window (bytes read per call). */
function windowSize(opts: ClassifyCaptureOptions): number {
  return Math.max(64, opts.chunkSize ?? 1 << 20);
}

function rd32(b: Uint8Array, o: number, le: boolean): number {
  return le ? (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0 : ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}

/**
 * The error for the classic pcap record at bytes[off] that cannot be read: its capture length
 * is beyond the limit, or the file ends (at file offset base + end) inside it. The parser's own
 * error, so that every reader reports the same code, message and offset as `ted pcap info`.
 */
function pcapRecordError(parser: CaptureParser, bytes: Uint8Array, off: number, end: number, base: number): DecodeError {
  try {
    parser.step(bytes, off, end, base, true);
  } catch (e) {
    if (e instanceof DecodeError) return e;
    throw e;
  }
  return new DecodeError('PCAP_TRUNCATED', `capture ends inside a record: ${end - off} bytes left over`, base + end, { truncated: true });
}

/**
 * The decoder and batches of one pass over a capture: decoded rows, copied into the caller's
 * batch when they cannot be written there, classified when there is a classifier.
 */
class Batches {
  readonly dec: BatchDecoder;
  readonly linkTypes: Uint32Array;
  readonly caplens: Uint32Array;
  readonly capacity: number;
  private readonly copyOut: boolean;
  private index = 1;
  constructor(private readonly opts: ClassifyCaptureOptions) {
    const engine = opts.engine ?? 'wasm';
    const target = opts.batch;
    const cls = opts.classifier;
    this.capacity = target ? target.capacity : Math.max(1, opts.batchSize ?? 4096);
    this.dec = new BatchDecoder(engine, this.capacity, target ?? (engine === 'wasm' && cls?.engine === 'wasm' ? cls.createBatch(this.capacity) : undefined));
    this.copyOut = target !== undefined && this.dec.batch !== target;
    this.linkTypes = new Uint32Array(this.capacity);
    this.caplens = new Uint32Array(this.capacity);
  }
  /** The batch of the `count` frames just decoded by the fast paths (their caplens copied out). */
  emitDecoded(count: number): CaptureBatch {
    this.caplens.set(this.dec.caplens.subarray(0, count));
    return this.emit(count);
  }
  /** The batch of the `count` frames just decoded, classified. */
  emit(count: number): CaptureBatch {
    const { dec, opts } = this;
    dec.batch.count = count;
    let out = dec.batch;
    if (this.copyOut) {
      copyRows(dec.batch, opts.batch!, count);
      out = opts.batch!;
    }
    if (opts.classifier) {
      opts.classifier.classify(out, out.results);
      dec.sync();
    }
    const b: CaptureBatch = { firstIndex: this.index, count, batch: out, reasons: dec.reasons, linkTypes: this.linkTypes, results: opts.classifier ? out.results : undefined, caplens: this.caplens };
    this.index += count;
    return b;
  }
}

/**
 * The classic pcap records of a window, a batch at a time: step() decodes the next batch (its
 * frame count), or returns 0 when the window needs bytes (at least `want` from its offset: refill
 * it, then step again) or -1 when the records (of the range) are done; framing damage throws the
 * parser's error, after the batch of the records before it. The async reader and the synchronous
 * range reader below are two loops around it.
 */
class PcapSteps {
  /** File offset past the last record decoded. */
  recordAt: number;
  /** Bytes the next record needs from the window's offset (after step() returned 0). */
  want = 0;
  private broken = false;
  private readonly H: number;
  private readonly lt: number;
  private readonly le: boolean;
  private readonly maxCaplen: number;
  constructor(
    private readonly dec: BatchDecoder,
    private readonly w: Window,
    private readonly parser: CaptureParser,
    private readonly to: number,
  ) {
    this.H = parser.recordHeader;
    this.lt = parser.pcapLinkType;
    this.le = parser.littleEndian;
    this.maxCaplen = parser.maxCaplen;
    this.recordAt = w.base + w.sOff;
  }
  step(): number {
    const { w, H, le } = this;
    if (this.broken) throw pcapRecordError(this.parser, w.bytes, w.sOff, w.sEnd, w.base);
    const [n, consumed, status] = this.dec.decodePcap(w.bytes, w.region, w.sOff, w.sEnd, le, H, this.lt, this.maxCaplen, Math.min(w.sEnd, this.to - w.base));
    this.recordAt = w.base + w.sOff + consumed;
    w.sOff += consumed;
    if (status === 1) {
      this.broken = true;
      if (n > 0) return n;
      throw pcapRecordError(this.parser, w.bytes, w.sOff, w.sEnd, w.base);
    }
    if (n > 0) return n;
    if (w.base + w.sOff >= this.to) return -1; // the range's records are done
    // Out of whole records in the window.
    if (w.eof) {
      if (w.avail === 0) return -1;
      throw pcapRecordError(this.parser, w.bytes, w.sOff, w.sEnd, w.base);
    }
    // Grow the window when the next record is larger than it.
    this.want = w.avail >= H ? H + rd32(w.bytes, w.sOff + 8, le) : H;
    return 0;
  }
}

/**
 * The classic pcap records whose header starts in file bytes [from, to) (`from` where a record
 * starts) of a file read synchronously, decoded and classified (options as classifyCapture's) a
 * batch at a time, each batch handed to `each` with the file offset past its last record.
 * `head`: the file's header bytes. classifyCapture with a range, as a plain loop: a pool worker
 * runs one per chunk, and V8 compiles this far more cheaply than an async generator (tens of ms
 * of its helper threads in every worker, which on a small machine are the workers' cores).
 */
export function classifyPcapRange(src: SyncSource, head: Uint8Array, from: number, to: number, opts: ClassifyCaptureOptions, each: (b: CaptureBatch, end: number) => void): void {
  const parser = new CaptureParser(opts);
  parser.step(head, 0, head.length, 0, head.length === src.size);
  if (parser.format !== 'pcap') throw new RangeError('classifyPcapRange: the header is not a classic pcap header');
  const batches = new Batches(opts);
  try {
    batches.linkTypes.fill(parser.pcapLinkType);
    const w = new Window(batches.dec, src, windowSize(opts), from, to + RANGE_SLACK);
    const steps = new PcapSteps(batches.dec, w, parser, to);
    for (let n = steps.step(); n >= 0; n = steps.step()) {
      if (n > 0) each(batches.emitDecoded(n), steps.recordAt);
      else w.refillSync(Math.max(w.size, steps.want), steps.want, src);
    }
  } finally {
    batches.dec.dispose();
  }
}

async function* run(src: Source, opts: ClassifyCaptureOptions): AsyncGenerator<CaptureBatch> {
  const batches = new Batches(opts);
  const { dec, capacity, linkTypes, caplens } = batches;
  try {
    // The file header, through the one parser that knows every format.
    const parser = new CaptureParser(opts);
    const head = new Uint8Array(Math.min(src.size, 24));
    await src.read(head, 0, head.length, 0);
    const headLen = parser.step(head, 0, head.length, 0, head.length === src.size);
    if (parser.format === undefined) throw new DecodeError('PCAP_TRUNCATED', 'capture ends inside its header', head.length, { truncated: true });
    opts.onHeader?.({ format: parser.format, parser });
    const range = parser.format === 'pcap' ? opts.range : undefined;
    const w = new Window(dec, src, windowSize(opts), parser.format === 'pcap' ? (range?.from ?? headLen) : 0, range ? range.to + RANGE_SLACK : Infinity);

    if (parser.format === 'pcap') {
      linkTypes.fill(parser.pcapLinkType);
      const steps = new PcapSteps(dec, w, parser, range?.to ?? Infinity);
      for (let n = steps.step(); n >= 0; n = steps.step()) {
        if (n > 0) {
          yield batches.emitDecoded(n);
          opts.onProgress?.(steps.recordAt, src.size);
        } else await w.refill(Math.max(w.size, steps.want), steps.want);
      }
      return;
    }

    // pcapng: packet blocks through the engine's fast path; everything else (section and
    // interface blocks, unknown blocks, damaged blocks) one at a time through the parser.
    for (;;) {
      const [n, consumed, status] = dec.decodePcapng(w.bytes, w.region, w.sOff, w.sEnd, parser.littleEndian, parser.interfaces, parser.maxBlock);
      w.sOff += consumed;
      if (n > 0) {
        linkTypes.set(dec.rowLinkTypes.subarray(0, n));
        yield batches.emitDecoded(n);
        opts.onProgress?.(w.base + w.sOff, src.size);
      }
      if (n === capacity) continue;
      if (status === 2) {
        const got = w.bytes;
        const step = parser.step(got, w.sOff, w.sEnd, w.base, w.eof);
        if (step === 0) {
          if (w.eof) break;
          await w.refill(Math.max(w.size, parser.need));
          continue;
        }
        w.sOff += step;
        const f = parser.frame;
        if (f) {
          // Only reached if the parser accepts a packet block the fast path left to it.
          dec.decodeFrames([f]);
          linkTypes[0] = f.linkType;
          caplens[0] = f.caplen;
          yield batches.emit(1);
        }
        continue;
      }
      // Out of whole blocks in the window.
      if (w.eof) {
        if (w.avail === 0) break;
        parser.step(w.bytes, w.sOff, w.sEnd, w.base, true); // throws the truncation error
        throw new DecodeError('PCAP_TRUNCATED', `capture ends inside a block: ${w.avail} bytes left over`, src.size, { truncated: true });
      }
      let want = 0;
      if (w.avail >= 8) {
        const type = rd32(w.bytes, w.sOff, parser.littleEndian);
        const blen = rd32(w.bytes, w.sOff + 4, parser.littleEndian);
        if ((type === 6 || type === 3 || type === 2) && blen <= parser.maxBlock) want = blen;
      }
      await w.refill(Math.max(w.size, want));
    }
  } finally {
    dec.dispose();
  }
}
