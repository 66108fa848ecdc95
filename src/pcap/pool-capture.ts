// Classic pcap captures decoded and classified in a classifier pool's workers (I/O side of the
// pool, src/classify/pool.ts). The file is cut into chunks of bytes; each worker
// (./pool-capture-worker.ts, loaded through the pool's `handlers` option) reads its chunks from
// the file itself, straight into its decoder's window, and guesses where the chunk's first
// record starts (a chunk holds the records whose header starts in its range). This thread
// neither reads nor copies capture bytes: it hands out chunks, checks each chunk's start against
// the end of the chunk before (a chunk whose guess was wrong runs again from the right start)
// and delivers the results, decode reasons and counts in capture order. Framing damage gives the
// one-thread reader's DecodeError at the same file offset, after every frame before it.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { open } from 'node:fs/promises';
import type { ClassifierPool, PoolReply } from '../classify/pool.js';
import { DecodeError, TedError } from '../errors.js';
import { checkInputFile } from '../files.js';
import { CAPTURE_DEPTH, type ChunkReply } from './pool-capture-worker.js';
import { CaptureParser } from './reader.js';

/** The worker module to pass in `createClassifierPool(policy, { handlers: [CAPTURE_WORKER] })`. */
export const CAPTURE_WORKER = new URL('./pool-capture-worker.ts', import.meta.url);

const kind = 'capture';

export interface PcapFileOptions {
  /**
   * File bytes per job, at least 4096 (default: a quarter of what is left per worker, from
   * 256 KiB to 4 MiB: large chunks while there is much to do, smaller ones towards the end).
   */
  chunkBytes?: number;
  /** Called after each chunk with (file bytes done, file size). */
  onProgress?: (done: number, total: number) => void;
  /** Called once the file header was read (errors after it are framing errors). */
  onHeader?: () => void;
  /** Filled in as chunks are delivered: chunks, and those run again because their start was guessed wrong. */
  stats?: { chunks: number; reruns: number };
  /**
   * Count the frames per result in the workers: once the capture was read to its end or to
   * framing damage (then before the error is thrown: the counts cover the frames before the
   * damage), this is called with each worker's (result, frames) pairs, in order of result; a
   * result may come from several workers (add them up). Not called for a capture of no records. Totals per entry without a loop over
   * every frame, or a message per chunk, in the consuming thread.
   */
  onResultCounts?: (pairs: Uint32Array) => void;
  /**
   * false: the workers do not hand over each frame's result and decode reason (the chunks'
   * `results`, `reasons` and `linkTypes` are empty), for a consumer that wants only the counts
   * (`reasonCounts`, onResultCounts): no shared memory per slot to fill and fault in. Default true.
   */
  perFrame?: boolean;
}

/** One chunk of a capture classified in a worker. */
export interface PcapChunkResult {
  /** 1-based index of the chunk's first frame in the capture. */
  firstIndex: number;
  count: number;
  /** Result per frame (empty with `perFrame: false`). */
  results: Int32Array;
  /** Decode reason per frame (src/packet/decode.ts Reason; 0 = decoded; empty with `perFrame: false`). */
  reasons: Uint8Array;
  /** Link type per frame (a classic pcap has one: `linkType`; read-only, shared by chunks). */
  linkTypes: Uint32Array;
  /** The file's link type. */
  linkType: number;
  /** Frames of this chunk per decode reason (index = reason, up to the largest that occurred; counted in the worker). */
  reasonCounts: readonly number[];
}

interface CaptureSlot {
  slot: number;
  worker: number;
  results: SharedArrayBuffer;
  reasons: SharedArrayBuffer;
  /** Frames the slot holds. */
  frames: number;
}

// Slots of finished captures, kept per pool for the next one: megabytes of shared memory per
// capture, allocated afresh each time, cost page faults and garbage collections.
const spareSlots = new WeakMap<ClassifierPool, CaptureSlot[]>();

/** CAPTURE_DEPTH slots per worker for chunks of up to `frames` frames (spares reused). */
function takeSlots(pool: ClassifierPool, frames: number): CaptureSlot[] {
  const spare = spareSlots.get(pool);
  spareSlots.delete(pool); // one capture at a time uses them; a concurrent one allocates its own
  if (spare && spare[0]!.frames >= frames) return spare;
  const slots: CaptureSlot[] = [];
  for (let w = 0; w < pool.workers; w++) {
    for (let k = 0; k < CAPTURE_DEPTH; k++) slots.push({ slot: slots.length + 1, worker: w, results: new SharedArrayBuffer(4 * frames), reasons: new SharedArrayBuffer(frames), frames });
  }
  return slots;
}

let nextCapture = 1;

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

/** Chunk sizes when the caller does not give one: from this... */
const MIN_CHUNK = 256 << 10;
/** ...to this (a slot holds the results of a chunk this large). */
const MAX_CHUNK = 8 << 20;

/**
 * The next chunk's size: half a worker's share of what is left (at most MAX_CHUNK, at least
 * MIN_CHUNK), so chunks are large while there is much to do (fewer messages, fewer wake-ups of
 * this thread) and small towards the end of the file (the workers finish together).
 */
function nextChunk(left: number, workers: number): number {
  return Math.min(MAX_CHUNK, Math.max(MIN_CHUNK, Math.ceil(left / (2 * workers))));
}

// A link type per frame for the chunks of a capture: the same value throughout a classic pcap.
const linkTypeRuns = new Map<number, Uint32Array>();

/** At least n copies of link type lt (shared, read-only by contract). */
function linkTypeRun(lt: number, n: number): Uint32Array {
  let a = linkTypeRuns.get(lt);
  if (!a || a.length < n) {
    a = new Uint32Array(n).fill(lt);
    if (linkTypeRuns.size >= 4) linkTypeRuns.clear(); // a few link types in use at a time
    linkTypeRuns.set(lt, a);
  }
  return a;
}

/**
 * Decodes and classifies a classic pcap file in the pool's workers (the pool was created with
 * `handlers: [CAPTURE_WORKER]`). Yields per chunk, in capture order, the frames' results, decode
 * reasons and link types (views valid until the generator resumes). The file must be a regular
 * file (the workers read it at their own offsets).
 */
export async function* classifyPcapFile(pool: ClassifierPool, file: string, options: PcapFileOptions = {}): AsyncGenerator<PcapChunkResult> {
  if (!pool.kinds.includes(kind)) throw new TedError('CLASSIFY_POOL_HANDLER', 'the classifier pool was created without the capture handler: pass handlers: [CAPTURE_WORKER]');
  checkInputFile(file, 'capture');
  const capture = nextCapture++;
  const openedOn: number[] = [];
  const queue: { slot: CaptureSlot; from: number; to: number; done: Promise<PoolReply> }[] = [];
  let slots: CaptureSlot[] | undefined;
  try {
    // The file header, read at once (the workers wait for their first chunk meanwhile).
    const fd = openSync(file, 'r');
    let size: number;
    let head: Uint8Array;
    try {
      size = fstatSync(fd).size;
      head = new Uint8Array(Math.min(size, 24));
      readSync(fd, head, 0, head.length, 0);
    } finally {
      closeSync(fd);
    }
    // The file header, through the reader's parser (it knows every magic and its limits).
    const parser = new CaptureParser();
    const headLen = parser.step(head, 0, head.length, 0, head.length === size);
    if (parser.format !== 'pcap') throw new TedError('CLASSIFY_POOL_FORMAT', `${file} is not a classic pcap capture`);
    options.onHeader?.();
    if (size <= headLen) return; // no records
    const fixed = options.chunkBytes === undefined ? undefined : Math.max(4096, options.chunkBytes);
    // A chunk holds the records starting in its range: at most one per record header's bytes.
    const perFrame = options.perFrame !== false;
    const maxFrames = perFrame ? Math.ceil((fixed ?? MAX_CHUNK) / parser.recordHeader) + 1 : 0;
    slots = takeSlots(pool, maxFrames);
    const free = slots.slice();
    const load = new Array<number>(pool.workers).fill(0);
    // Each worker opens the file before its first chunk (messages to a worker are handled in
    // order); a failure to open is the one reported, not the chunks' failures that follow from it.
    const opening: Promise<PoolReply>[] = [];
    for (let w = 0; w < pool.workers; w++) {
      const mine = slots.filter((c) => c.worker === w);
      openedOn.push(w);
      opening.push(pool.request(w, { kind, op: 'open', capture, file, size, slots: mine.map((c) => ({ slot: c.slot, results: c.results, reasons: c.reasons })), countResults: options.onResultCounts !== undefined, perFrame }));
    }
    const ready = Promise.all(opening);
    ready.catch(() => undefined); // awaited with the first chunk
    const run = (job: (typeof queue)[number], start?: number, rerun = false) => pool.request(job.slot.worker, { kind, op: 'run', capture, slot: job.slot.slot, from: job.from, to: job.to, start, rerun });
    // The frames per result, once the last chunk to count was delivered: each worker adds up
    // its slots' chunks but those still in flight (not delivered: after framing damage).
    const totals = async () => {
      if (!options.onResultCounts) return;
      const inFlight = new Set(queue.map((j) => j.slot));
      const replies = await Promise.all(openedOn.map((w) => pool.request(w, { kind, op: 'totals', capture, accepted: slots!.filter((c) => c.worker === w && !inFlight.has(c)).map((c) => c.slot) })));
      for (const r of replies) options.onResultCounts!(r.result as Uint32Array);
    };
    let frames = 1;
    let next = headLen; // where the next chunk's first record starts
    const deliver = async function* (job: (typeof queue)[number]): AsyncGenerator<PcapChunkResult> {
      await ready;
      let m = (await job.done).result as ChunkReply;
      if (m.start !== next) {
        // The worker guessed the chunk's start wrong (or found none): run it again from the right one.
        m = (await run(job, next, true)).result as ChunkReply;
        if (options.stats) options.stats.reruns++;
      }
      if (options.stats) options.stats.chunks++;
      load[job.slot.worker]!--;
      const n = m.frames;
      if (n > 0) {
        const k = perFrame ? n : 0;
        yield { firstIndex: frames, count: n, results: new Int32Array(job.slot.results, 0, k), reasons: new Uint8Array(job.slot.reasons, 0, k), linkTypes: linkTypeRun(parser.pcapLinkType, k).subarray(0, k), linkType: parser.pcapLinkType, reasonCounts: m.reasonCounts };
        frames += n;
      }
      free.push(job.slot);
      if (m.error !== undefined) {
        await totals();
        throw new DecodeError(m.code ?? 'PCAP_TRUNCATED', m.error, m.offset ?? 0, { truncated: m.truncated });
      }
      // A record may run past the chunk's range (then the next chunk has no records of its own).
      next = m.end;
      options.onProgress?.(job.to, size);
    };
    for (let from = headLen; from < size; ) {
      if (free.length === 0) yield* deliver(queue.shift()!);
      // The free slot of the worker with the fewest chunks in flight.
      let best = 0;
      for (let i = 1; i < free.length; i++) if (load[free[i]!.worker]! < load[free[best]!.worker]!) best = i;
      const slot = free.splice(best, 1)[0]!;
      load[slot.worker]!++;
      const to = from + Math.min(size - from, fixed ?? nextChunk(size - from, pool.workers));
      const job = { slot, from, to, done: Promise.resolve({ id: 0 }) as Promise<PoolReply> };
      // The first chunk starts with the first record; the workers guess the others' starts.
      job.done = run(job, from === headLen ? headLen : undefined);
      job.done.catch(() => undefined); // a failure is rethrown when the chunk is delivered
      queue.push(job);
      from = to;
    }
    while (queue.length > 0) yield* deliver(queue.shift()!);
    await totals();
  } finally {
    // Finished, failed or abandoned: let the chunks still running finish, then close the file.
    for (const j of queue) await j.done.catch(() => undefined);
    for (const w of openedOn) {
      try {
        pool.send(w, { kind, op: 'close', capture });
      } catch {
        // the pool failed or was closed: nothing to close
      }
    }
    // The workers forget the slots with the capture ('close' comes after every chunk of it).
    if (slots) spareSlots.set(pool, slots);
  }
}
