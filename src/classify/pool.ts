// A classifier on every core: the policy is compiled once in the calling thread, and each of N
// worker threads (./pool-worker.ts) builds its own classifier over a copy of that structure (in
// its own WebAssembly memory for `wasm`). Batches are cut into jobs of up to `batchSize` tuples;
// a job is copied into a slot (a batch in a SharedArrayBuffer the worker sees too), the worker
// classifies it in place, and results are delivered in submission order. Each worker has
// `depth` slots, so it always has the next job waiting while the caller fills another.
import { existsSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { DecodeError, TedError, UsageError } from '../errors.js';
import { CaptureParser } from '../pcap/reader.js';
import type { Entry, Policy } from '../selector/types.js';
import { TupleBatch, batchLayout, copyTuples } from './batch.js';
import { engineName } from './index.js';
import { buildTree, type TreeOptions } from './tree.js';
import type { EngineName } from './types.js';

export interface PoolOptions extends TreeOptions {
  /** Worker threads (default: os.availableParallelism()). */
  workers?: number;
  /** Engine in each worker; default: the TED_ENGINE environment variable, else `wasm`. */
  engine?: EngineName;
  /** Tuples per job (default 16384). */
  batchSize?: number;
  /** Jobs in flight per worker (default 4). */
  depth?: number;
}

/** One job's results, in submission order. */
export interface PoolResult {
  /** Index of the source batch (0-based, in the order the source gave them). */
  batch: number;
  /** Offset of the first tuple of this job in its source batch. */
  offset: number;
  count: number;
  /** results[0 .. count): ordinals, 0 = none. Valid until the generator resumes. */
  results: Int32Array;
}

export interface ClassifierPool {
  readonly workers: number;
  readonly engine: EngineName;
  readonly rules: number;
  /** Bytes of the compiled structure (each worker holds a copy). */
  readonly bytes: number;
  /** Milliseconds spent compiling (in the calling thread; workers copy the result). */
  readonly buildMs: number;
  readonly batchSize: number;
  /** Classifies batch.count tuples of any TupleBatch into results, sharded over the workers. */
  classify(batch: TupleBatch, results: Int32Array): Promise<void>;
  /**
   * Classifies every batch a source yields, in order. Each source batch is copied into the pool
   * before the next one is asked for, so a source may reuse its batch (a capture reader does).
   */
  classifyAll(source: Iterable<TupleBatch> | AsyncIterable<TupleBatch>): AsyncGenerator<PoolResult>;
  /**
   * Decodes and classifies a classic pcap file in the workers: this thread only reads the file
   * and cuts it at record boundaries (chunks of about `chunkBytes`, default 4 MiB); each worker
   * walks its chunks' headers and classifies them. Yields per chunk, in capture order, the
   * frames' results, decode reasons and link types (views valid until the generator resumes).
   * Framing damage throws the reader's DecodeError (byte offset in the file) after every frame
   * before it was yielded. Not for pcapng (`isClassicPcap` tells).
   */
  classifyPcapFile(file: string, options?: PcapFileOptions): AsyncGenerator<PcapChunkResult>;
  /** Stops the workers. Jobs still running are rejected; the pool is unusable afterwards. */
  close(): Promise<void>;
}

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

export const MAX_WORKERS = 256;

interface Slot {
  id: number;
  worker: number;
  batch: TupleBatch;
  busy: boolean;
}

/** A worker's reply to a job. */
interface Reply {
  id: number;
  error?: string;
  code?: string;
  /** Capture jobs: frames written (also when the framing broke after them). */
  frames?: number;
  offset?: number;
  truncated?: boolean;
}

interface CaptureSlot {
  id: number;
  worker: number;
  input: SharedArrayBuffer;
  results: SharedArrayBuffer;
  reasons: SharedArrayBuffer;
  linkTypes: SharedArrayBuffer;
}

/** Capture chunks in flight per worker (each holds up to a chunk of the file). */
const CAPTURE_DEPTH = 2;

function rd32(b: Uint8Array, o: number, le: boolean): number {
  return le ? (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0 : ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}

interface Job {
  slot: Slot;
  count: number;
  done: Promise<Slot>;
}

/** The worker script: next to this module when running from dist/, else dist/'s copy. */
function workerFile(): URL {
  const here = new URL('./pool-worker.js', import.meta.url);
  if (existsSync(fileURLToPath(here))) return here;
  return new URL('../../dist/classify/pool-worker.js', import.meta.url);
}

/** Checks the worker count option: an integer in 1..MAX_WORKERS. */
export function workerCount(n: number | undefined): number {
  if (n === undefined) return Math.min(MAX_WORKERS, Math.max(1, availableParallelism()));
  if (!Number.isInteger(n) || n < 1 || n > MAX_WORKERS) throw new UsageError('CLASSIFY_BAD_WORKERS', `workers must be an integer from 1 to ${MAX_WORKERS}, got ${n}`);
  return n;
}

/** Compiles the policy once and starts the workers; resolves when every worker is ready. */
export async function createClassifierPool(policy: Policy | readonly Entry[], options: PoolOptions = {}): Promise<ClassifierPool> {
  const workers = workerCount(options.workers);
  const engine = engineName(options.engine);
  const batchSize = options.batchSize ?? 16384;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new UsageError('CLASSIFY_BAD_BATCH', `batch size must be a positive integer, got ${batchSize}`);
  const depth = Math.max(1, Math.floor(options.depth ?? 4));
  const t0 = performance.now();
  const tree = buildTree(policy, options);
  // One shared copy of the structure for all workers to read.
  const words = new Uint32Array(new SharedArrayBuffer(tree.words.byteLength));
  words.set(tree.words);
  const buildMs = performance.now() - t0;
  const pool = new Pool(workers, depth, engine, batchSize, { words, rules: tree.rules, stats: tree.stats }, buildMs);
  try {
    await pool.ready;
  } catch (e) {
    await pool.close();
    throw e;
  }
  return pool;
}

class Pool implements ClassifierPool {
  readonly engine: EngineName;
  readonly rules: number;
  readonly bytes: number;
  readonly ready: Promise<void>;
  private readonly threads: Worker[] = [];
  private readonly slots: Slot[] = [];
  private readonly pending = new Map<number, { resolve: (m: Reply) => void; reject: (e: Error) => void }>();
  private nextCapture = 1 << 20;
  private readonly waiting: (() => void)[] = [];
  private inFlight = 0;
  private failure: Error | undefined;
  private closed = false;

  constructor(
    readonly workers: number,
    depth: number,
    engine: EngineName,
    readonly batchSize: number,
    tree: { words: Uint32Array; rules: number; stats: object },
    readonly buildMs: number,
  ) {
    this.engine = engine;
    this.rules = tree.rules;
    this.bytes = tree.words.byteLength;
    const bytes = batchLayout(batchSize).bytes;
    const starts: Promise<void>[] = [];
    for (let w = 0; w < workers; w++) {
      const buffers: SharedArrayBuffer[] = [];
      const ids: number[] = [];
      for (let k = 0; k < depth; k++) {
        const sab = new SharedArrayBuffer(bytes);
        const slot: Slot = { id: this.slots.length, worker: w, batch: new TupleBatch(batchSize, sab as unknown as ArrayBuffer), busy: false };
        this.slots.push(slot);
        buffers.push(sab);
        ids.push(slot.id);
      }
      const t = new Worker(workerFile(), { workerData: { tree, engine, capacity: batchSize, buffers, ids } });
      this.threads.push(t);
      starts.push(
        new Promise<void>((resolve, reject) => {
          t.once('message', (m: { ready?: boolean; error?: string; code?: string }) => {
            if (m.ready) resolve();
            else reject(new TedError(m.code ?? 'CLASSIFY_POOL_FAILED', `classifier worker ${w} did not start: ${m.error}`));
          });
          t.once('error', reject);
        }).then(() => {
          t.on('message', (m: Reply) => this.finished(m));
          t.on('error', (e) => this.fail(new TedError('CLASSIFY_POOL_FAILED', `classifier worker ${w} failed: ${e.message}`, { cause: e })));
          t.on('exit', (code) => {
            if (!this.closed) this.fail(new TedError('CLASSIFY_POOL_FAILED', `classifier worker ${w} exited (code ${code})`));
          });
          t.unref(); // an idle pool does not keep the process alive (referenced while jobs run)
        }),
      );
    }
    this.ready = Promise.all(starts).then(() => undefined);
  }

  private finished(m: Reply): void {
    const p = this.pending.get(m.id);
    if (!p) return;
    this.pending.delete(m.id);
    if (--this.inFlight === 0) for (const t of this.threads) t.unref();
    // Capture jobs report framing damage in the reply (with the frames before it).
    if (m.error && m.frames === undefined) p.reject(new TedError(m.code ?? 'CLASSIFY_POOL_FAILED', `classifier worker: ${m.error}`));
    else p.resolve(m);
  }

  private fail(e: Error): void {
    if (this.failure) return;
    this.failure = e;
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
    for (const w of this.waiting.splice(0)) w();
  }

  /** A free slot, preferring the worker with the fewest jobs in flight; waits for one if none. */
  private async acquire(): Promise<Slot> {
    for (;;) {
      if (this.failure) throw this.failure;
      if (this.closed) throw new TedError('CLASSIFY_POOL_CLOSED', 'the classifier pool was closed');
      let best: Slot | undefined;
      let load = Infinity;
      for (const s of this.slots) {
        if (s.busy) continue;
        const l = this.slots.reduce((n, o) => n + (o.busy && o.worker === s.worker ? 1 : 0), 0);
        if (l < load) {
          best = s;
          load = l;
        }
      }
      if (best) {
        best.busy = true;
        return best;
      }
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
  }

  private release(slot: Slot): void {
    slot.busy = false;
    this.waiting.shift()?.();
  }

  /** Copies tuples [at, at + n) of `from` into the slot and hands it to its worker. */
  private start(slot: Slot, from: TupleBatch, at: number, n: number): Job {
    copyTuples(from, at, slot.batch, n);
    const done = new Promise<Reply>((resolve, reject) => this.pending.set(slot.id, { resolve, reject })).then(() => slot);
    if (this.inFlight++ === 0) for (const t of this.threads) t.ref();
    this.threads[slot.worker]!.postMessage({ id: slot.id, count: n });
    return { slot, count: n, done };
  }

  async classify(batch: TupleBatch, results: Int32Array): Promise<void> {
    if (results.length < batch.count) throw new RangeError(`results holds ${results.length} values, the batch has ${batch.count} tuples`);
    const jobs: Promise<void>[] = [];
    try {
      for (let at = 0; at < batch.count; at += this.batchSize) {
        const n = Math.min(this.batchSize, batch.count - at);
        const slot = await this.acquire();
        const job = this.start(slot, batch, at, n);
        jobs.push(
          job.done.then((s) => {
            results.set(s.batch.results.subarray(0, n), at);
            this.release(s);
          }),
        );
      }
    } finally {
      // Settle every started job before returning or rethrowing (their slots go back).
      const settled = await Promise.allSettled(jobs);
      const bad = settled.find((r) => r.status === 'rejected');
      if (bad) throw (bad as PromiseRejectedResult).reason;
    }
  }

  async *classifyAll(source: Iterable<TupleBatch> | AsyncIterable<TupleBatch>): AsyncGenerator<PoolResult> {
    const queue: (Job & { batch: number; offset: number })[] = [];
    const total = this.slots.length;
    let held: Slot | undefined; // the slot whose results the consumer is reading
    let index = 0;
    const next = async function* (this: Pool, job: Job & { batch: number; offset: number }): AsyncGenerator<PoolResult> {
      held = await job.done;
      yield { batch: job.batch, offset: job.offset, count: job.count, results: held.batch.results.subarray(0, job.count) };
      this.release(held);
      held = undefined;
    }.bind(this);
    try {
      for await (const b of source as AsyncIterable<TupleBatch>) {
        for (let at = 0; at < b.count; at += this.batchSize) {
          // Every slot busy with an earlier job of ours: deliver the oldest first.
          while (queue.length >= total) yield* next(queue.shift()!);
          const n = Math.min(this.batchSize, b.count - at);
          const slot = await this.acquire();
          queue.push({ ...this.start(slot, b, at, n), batch: index, offset: at });
        }
        index++;
      }
      while (queue.length > 0) yield* next(queue.shift()!);
    } finally {
      // Abandoned (break, throw) or finished: wait for what is still running, free its slots.
      if (held) this.release(held);
      for (const j of queue) {
        try {
          this.release(await j.done);
        } catch {
          // the pool failed: the slot is not handed back, the pool is unusable anyway
        }
      }
    }
  }

  async *classifyPcapFile(file: string, options: PcapFileOptions = {}): AsyncGenerator<PcapChunkResult> {
    const fh = await open(file, 'r');
    const size = (await fh.stat()).size;
    const read = async (into: Uint8Array, at: number, length: number, position: number): Promise<number> => {
      let done = 0;
      while (done < length) {
        const { bytesRead } = await fh.read(into, at + done, length - done, position + done);
        if (bytesRead === 0) break;
        done += bytesRead;
      }
      return done;
    };
    const registered: number[][] = [];
    const queue: { slot: CaptureSlot; done: Promise<Reply>; fileStart: number; firstIndex: number }[] = [];
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
      for (let w = 0; w < this.threads.length; w++) {
        const mine: CaptureSlot[] = [];
        for (let k = 0; k < CAPTURE_DEPTH; k++) {
          const slot: CaptureSlot = {
            id: this.nextCapture++,
            worker: w,
            input: new SharedArrayBuffer(inputBytes),
            results: new SharedArrayBuffer(4 * maxFrames),
            reasons: new SharedArrayBuffer(maxFrames),
            linkTypes: new SharedArrayBuffer(4 * maxFrames),
          };
          mine.push(slot);
          free.push(slot);
        }
        this.threads[w]!.postMessage({ register: mine.map(({ worker: _, ...c }) => c) });
        registered.push(mine.map((c) => c.id));
      }
      // Round-robin over the workers' slots; a slot is reused once its chunk was delivered.
      const window = new Uint8Array(Math.max(2 * chunk, H + maxCaplen));
      let sOff = 0;
      let sEnd = 0;
      let filePos = headLen;
      let frames = 1;
      const deliver = async function* (this: Pool, job: (typeof queue)[number]): AsyncGenerator<PcapChunkResult> {
        const m = await job.done;
        const n = m.frames ?? 0;
        if (n > 0) yield { firstIndex: job.firstIndex, count: n, results: new Int32Array(job.slot.results, 0, n), reasons: new Uint8Array(job.slot.reasons, 0, n), linkTypes: new Uint32Array(job.slot.linkTypes, 0, n) };
        free.push(job.slot);
        if (m.error) {
          // The chunk held the file header, then file bytes from fileStart on.
          const offset = m.offset === undefined ? job.fileStart : job.fileStart + m.offset - headLen;
          throw new DecodeError(m.code ?? 'PCAP_TRUNCATED', m.error, offset, { truncated: m.truncated });
        }
        options.onProgress?.(job.fileStart, size);
      }.bind(this);
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
        const done = new Promise<Reply>((resolve, reject) => this.pending.set(slot.id, { resolve, reject }));
        if (this.inFlight++ === 0) for (const t of this.threads) t.ref();
        this.threads[slot.worker]!.postMessage({ id: slot.id, capture: headLen + (at - sOff) });
        queue.push({ slot, done, fileStart, firstIndex: frames });
        frames += records; // a damaged last chunk: the worker reports how many it decoded
        sOff = at;
        if (last) break;
      }
      while (queue.length > 0) yield* deliver(queue.shift()!);
    } finally {
      for (const j of queue) await j.done.catch(() => undefined);
      for (let w = 0; w < registered.length; w++) if (!this.closed) this.threads[w]!.postMessage({ forget: registered[w] });
      await fh.close();
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.fail(new TedError('CLASSIFY_POOL_CLOSED', 'the classifier pool was closed'));
    await Promise.all(this.threads.map((t) => t.terminate()));
  }
}

