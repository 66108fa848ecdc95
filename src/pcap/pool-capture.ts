// Classic pcap captures decoded and classified in a classifier pool's workers (I/O side of the
// pool, src/classify/pool.ts): this thread reads the file and cuts it at record boundaries into
// chunks of about 4 MiB, each copied after the file header into a capture slot in shared memory;
// a worker (./pool-capture-worker.ts, loaded through the pool's `handlers` option) walks the
// chunk's headers and classifies its frames. Results come back in capture order; framing damage
// gives the one-thread reader's DecodeError at the same file offset, after every frame before it.
import { open } from 'node:fs/promises';
import type { ClassifierPool, PoolReply } from '../classify/pool.js';
import { DecodeError, TedError } from '../errors.js';
import { fileSource } from './classify.js';
import { CaptureParser } from './reader.js';

/** The worker module to pass in `createClassifierPool(policy, { handlers: [CAPTURE_WORKER] })`. */
export const CAPTURE_WORKER = new URL('./pool-capture-worker.ts', import.meta.url);

const kind = 'capture';

export interface PcapFileOptions {
  /** Bytes of records per job (default 4 MiB). */
  chunkBytes?: number;
  /** Called after each chunk with (file bytes done, file size). */
  onProgress?: (done: number, total: number) => void;
  /** Called once the file header was read (errors after it are framing errors). */
  onHeader?: () => void;
}

/** One chunk of a capture classified in a worker. */
export interface PcapChunkResult {
  /** 1-based index of the chunk's first frame in the capture. */
  firstIndex: number;
  count: number;
  results: Int32Array;
  /** Decode reason per frame (src/packet/decode.ts Reason; 0 = decoded). */
  reasons: Uint8Array;
  linkTypes: Uint32Array;
}

interface CaptureSlot {
  slot: number;
  worker: number;
  input: SharedArrayBuffer;
  results: SharedArrayBuffer;
  reasons: SharedArrayBuffer;
  linkTypes: SharedArrayBuffer;
}

interface CaptureResult {
  frames: number;
  error?: string;
  code?: string;
  offset?: number;
  truncated?: boolean;
}

/** Capture chunks in flight per worker (each holds up to a chunk of the file). */
const CAPTURE_DEPTH = 2;
let nextSlot = 1;

function rd32(b: Uint8Array, o: number, le: boolean): number {
  return le ? (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0 : ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}

/** Is the file a classic pcap (any byte order, micro- or nanosecond, Kuznetzov)? */
export async function isClassicPcap(file: string): Promise<boolean> {
  const fh = await open(file, 'r');
  try {
    const head = new Uint8Array(4);
    const { bytesRead } = await fh.read(head, 0, 4, 0);
    if (bytesRead < 4) return false;
    const le = (head[0]! | (head[1]! << 8) | (head[2]! << 16) | (head[3]! << 24)) >>> 0;
    const be = ((head[0]! << 24) | (head[1]! << 16) | (head[2]! << 8) | head[3]!) >>> 0;
    return [le, be].some((m) => m === 0xa1b2c3d4 || m === 0xa1b23c4d || m === 0xa1b2cd34);
  } finally {
    await fh.close();
  }
}

/**
 * Decodes and classifies a classic pcap file in the pool's workers (the pool was created with
 * `handlers: [CAPTURE_WORKER]`). Yields per chunk, in capture order, the frames' results, decode
 * reasons and link types (views valid until the generator resumes).
 */
export async function* classifyPcapFile(pool: ClassifierPool, file: string, options: PcapFileOptions = {}): AsyncGenerator<PcapChunkResult> {
  if (!pool.kinds.includes(kind)) throw new TedError('CLASSIFY_POOL_HANDLER', 'the classifier pool was created without the capture handler: pass handlers: [CAPTURE_WORKER]');
  const src = await fileSource(file);
  const size = src.size;
  const read = (into: Uint8Array, at: number, length: number, position: number) => src.read(into, at, length, position);
  const registered: number[][] = [];
  const queue: { slot: CaptureSlot; done: Promise<PoolReply>; fileStart: number; firstIndex: number }[] = [];
  try {
    // The file header, through the reader's parser (it knows every magic and its limits).
    const parser = new CaptureParser();
    const head = new Uint8Array(Math.min(size, 24));
    await read(head, 0, head.length, 0);
    const headLen = parser.step(head, 0, head.length, 0, head.length === size);
    if (parser.format !== 'pcap') throw new TedError('CLASSIFY_POOL_FORMAT', `${file} is not a classic pcap capture`);
    options.onHeader?.();
    const H = parser.recordHeader;
    const le = parser.littleEndian;
    const maxCaplen = parser.maxCaplen;
    const chunk = Math.max(4096, options.chunkBytes ?? 4 << 20);
    // Capture slots for this file: a chunk, or one record of the largest allowed size.
    const inputBytes = headLen + Math.max(chunk, H + maxCaplen);
    const maxFrames = Math.ceil(inputBytes / H);
    const free: CaptureSlot[] = [];
    for (let w = 0; w < pool.workers; w++) {
      const mine: CaptureSlot[] = [];
      for (let k = 0; k < CAPTURE_DEPTH; k++) {
        const slot: CaptureSlot = {
          slot: nextSlot++,
          worker: w,
          input: new SharedArrayBuffer(inputBytes),
          results: new SharedArrayBuffer(4 * maxFrames),
          reasons: new SharedArrayBuffer(maxFrames),
          linkTypes: new SharedArrayBuffer(4 * maxFrames),
        };
        mine.push(slot);
        free.push(slot);
      }
      pool.send(w, { kind, op: 'register', slots: mine.map(({ worker: _, ...c }) => c) });
      registered.push(mine.map((c) => c.slot));
    }
    // Round-robin over the workers' slots; a slot is reused once its chunk was delivered.
    const window = new Uint8Array(Math.max(2 * chunk, H + maxCaplen));
    let sOff = 0;
    let sEnd = 0;
    let filePos = headLen;
    let frames = 1;
    const deliver = async function* (job: (typeof queue)[number]): AsyncGenerator<PcapChunkResult> {
      const m = (await job.done).result as CaptureResult;
      const n = m.frames ?? 0;
      if (n > 0) yield { firstIndex: job.firstIndex, count: n, results: new Int32Array(job.slot.results, 0, n), reasons: new Uint8Array(job.slot.reasons, 0, n), linkTypes: new Uint32Array(job.slot.linkTypes, 0, n) };
      free.push(job.slot);
      if (m.error) {
        // The chunk held the file header, then file bytes from fileStart on.
        const offset = m.offset === undefined ? job.fileStart : job.fileStart + m.offset - headLen;
        throw new DecodeError(m.code ?? 'PCAP_TRUNCATED', m.error, offset, { truncated: m.truncated });
      }
      options.onProgress?.(job.fileStart, size);
    };
    let eof = filePos >= size;
    for (;;) {
      // Whole records from sOff, up to about `chunk` bytes (at least one record).
      let at = sOff;
      let damaged = false;
      let records = 0;
      while (at + H <= sEnd) {
        const caplen = rd32(window, at + 8, le);
        if (caplen > maxCaplen) {
          damaged = true;
          break;
        }
        const end = at + H + caplen;
        if (end > sEnd || (end - sOff > chunk && at > sOff)) break;
        at = end;
        records++;
      }
      let last = false;
      if (at === sOff) {
        if (!eof && !damaged) {
          // Need more bytes: keep the tail, read on.
          window.copyWithin(0, sOff, sEnd);
          sEnd -= sOff;
          sOff = 0;
          at = 0;
          const got = await read(window, sEnd, window.length - sEnd, filePos);
          filePos += got;
          sEnd += got;
          eof = filePos >= size || got === 0;
          continue;
        }
        if (sEnd === sOff) break; // clean end
        // Damage or a cut record: the worker reads what is left and reports the error.
        at = sEnd;
        last = true;
      }
      if (free.length === 0) yield* deliver(queue.shift()!);
      const slot = free.shift()!;
      const bytes = new Uint8Array(slot.input);
      bytes.set(head.subarray(0, headLen), 0);
      bytes.set(window.subarray(sOff, at), headLen);
      const fileStart = filePos - (sEnd - sOff);
      const done = pool.request(slot.worker, { kind, op: 'run', slot: slot.slot, bytes: headLen + (at - sOff) });
      queue.push({ slot, done, fileStart, firstIndex: frames });
      frames += records; // a damaged last chunk: the worker reports how many it decoded
      sOff = at;
      if (last) break;
    }
    while (queue.length > 0) yield* deliver(queue.shift()!);
  } finally {
    for (const j of queue) await j.done.catch(() => undefined);
    for (let w = 0; w < registered.length; w++) {
      try {
        pool.send(w, { kind, op: 'forget', slots: registered[w] });
      } catch {
        // the pool failed or was closed: nothing to forget
      }
    }
    await src.close();
  }
}
