// A classifier on every core: the policy is compiled once in the calling thread, and each of N
// worker threads (./pool-worker.ts) builds its own classifier over a copy of that structure (in
// its own WebAssembly memory for `wasm`). Batches are cut into jobs of up to `batchSize` tuples;
// a job is copied into a slot (a batch in a SharedArrayBuffer the worker sees too), the worker
// classifies it in place, and results are delivered in submission order. Each worker has
// `depth` slots, so it always has the next job waiting while the caller fills another.
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { TedError, UsageError } from '../errors.js';
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
  /**
   * Modules each worker loads to handle other kinds of jobs (URLs; a `.ts` file in src/ is
   * replaced by its dist/ build). Each exports `kind` and `createHandler({ classifier })`,
   * which returns the function called, one job at a time, with every message of that kind.
   */
  handlers?: readonly URL[];
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
  /** Jobs in flight per worker (slots). */
  readonly depth: number;
  /** Job kinds the workers handle besides tuples (`handlers` option). */
  readonly kinds: readonly string[];
  /**
   * The channel for other kinds of jobs (`handlers` option; src/pcap/pool-capture.ts uses it):
   * `send` posts a message to one worker, `request` posts it with a fresh `id` and resolves with
   * the handler's result (`{ id, result }`), or rejects when the handler threw or the pool failed.
   */
  send(worker: number, message: object): void;
  request(worker: number, message: object): Promise<PoolReply>;
  /** Stops the workers. Jobs still running are rejected; the pool is unusable afterwards. */
  close(): Promise<void>;
}

/** A worker's reply to a `request`: the handler's result. */
export interface PoolReply {
  id: number;
  result?: unknown;
}

export const MAX_WORKERS = 256;

interface Slot {
  id: number;
  worker: number;
  batch: TupleBatch;
  busy: boolean;
}

/** A worker's message about a job: done (with a handler's `result`), or failed (`error`). */
interface Reply {
  id: number;
  error?: string;
  code?: string;
  result?: unknown;
}

interface Job {
  slot: Slot;
  count: number;
  done: Promise<Slot>;
}

/** A module for a worker thread: the file itself when it is built JavaScript, else dist/'s copy. */
export function workerModule(url: URL): URL {
  const path = fileURLToPath(url);
  if (path.endsWith('.js') && existsSync(path)) return url;
  const js = path.replace(/\.ts$/, '.js');
  if (existsSync(js)) return new URL(`file://${js}`);
  // Running from TypeScript sources (tests): the build of the same file under dist/.
  return new URL(`file://${js.replace(/\/src\//, '/dist/')}`);
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
  const pool = new Pool(workers, depth, engine, batchSize, { words, rules: tree.rules, stats: tree.stats }, buildMs, options.handlers ?? []);
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
  readonly depth: number;
  kinds: readonly string[] = [];
  private readonly threads: Worker[] = [];
  private readonly slots: Slot[] = [];
  private readonly pending = new Map<number, { resolve: (m: Reply) => void; reject: (e: Error) => void }>();
  private nextId = 1 << 20; // request ids, above every slot id
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
    handlers: readonly URL[],
  ) {
    this.depth = depth;
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
      const t = new Worker(workerModule(new URL('./pool-worker.ts', import.meta.url)), { workerData: { tree, engine, capacity: batchSize, buffers, ids, handlers: handlers.map((h) => workerModule(h).href) } });
      this.threads.push(t);
      starts.push(
        new Promise<void>((resolve, reject) => {
          t.once('message', (m: { ready?: boolean; kinds?: string[]; error?: string; code?: string }) => {
            if (m.ready) {
              this.kinds = m.kinds ?? [];
              resolve();
            }
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
    if (m.error !== undefined) p.reject(new TedError(m.code ?? 'CLASSIFY_POOL_FAILED', `classifier worker: ${m.error}`));
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

  send(worker: number, message: object): void {
    if (this.failure) throw this.failure;
    this.threads[worker]!.postMessage(message);
  }

  request(worker: number, message: object): Promise<PoolReply> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    const done = new Promise<PoolReply>((resolve, reject) => this.pending.set(id, { resolve, reject }));
    if (this.inFlight++ === 0) for (const t of this.threads) t.ref();
    this.threads[worker]!.postMessage({ ...message, id });
    return done;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.fail(new TedError('CLASSIFY_POOL_CLOSED', 'the classifier pool was closed'));
    await Promise.all(this.threads.map((t) => t.terminate()));
  }
}

