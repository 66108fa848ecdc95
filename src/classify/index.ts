// compile(policy) -> Classifier: the three engines behind one interface.
//   linear  the obvious scan of every entry in order (the oracle the benchmarks compare against)
//   ts      the decision-tree lookup of ./tree.ts, in TypeScript (the pure-TS baseline)
//   wasm    the same lookup in WebAssembly (assembly/classify.ts), structure and batches in its memory
import { UsageError } from '../errors.js';
import type { Entry, Policy, Tuple } from '../selector/types.js';
import { loadWasm, type TedWasm } from '../wasm/load.js';
import { TupleBatch, batchLayout, copyTuples } from './batch.js';
import { buildTree, type CompiledTree, type TreeOptions } from './tree.js';
import type { Classifier, EngineName } from './types.js';
import { scanBatch, walkBatch } from './walk.js';

export const ENGINES: readonly EngineName[] = ['wasm', 'ts', 'linear'];

export interface CompileOptions extends TreeOptions {
  /** Engine; default: the TED_ENGINE environment variable, else `wasm`. */
  engine?: EngineName;
  /** A specific WebAssembly instance (tests load the non-SIMD build this way); default loadWasm(). */
  wasm?: TedWasm;
}

/** Resolves the engine name: explicit option, then TED_ENGINE, then `wasm`. */
export function engineName(engine?: string): EngineName {
  const name = engine ?? process.env.TED_ENGINE ?? 'wasm';
  if (!(ENGINES as readonly string[]).includes(name)) {
    throw new UsageError('CLASSIFY_BAD_ENGINE', `unknown engine "${name}" (expected ${ENGINES.join(', ')})`);
  }
  return name as EngineName;
}

/** Compiles a policy (or a list of entries) for fast first-match classification. */
export function compile(policy: Policy | readonly Entry[], options: CompileOptions = {}): Classifier {
  const engine = engineName(options.engine);
  const t0 = performance.now();
  return classifierOf(buildTree(policy, options), { engine, wasm: options.wasm }, t0);
}

/**
 * A classifier over an already compiled structure (e.g. one built in another thread: the
 * structure is plain words). `t0` is when compiling started, for `buildMs`.
 */
export function classifierOf(tree: CompiledTree, options: { engine?: EngineName; wasm?: TedWasm } = {}, t0 = performance.now()): Classifier {
  const engine = engineName(options.engine);
  if (engine === 'wasm') return new WasmClassifier(tree, t0, options.wasm ?? loadWasm());
  return new TsClassifier(engine, tree, performance.now() - t0);
}

class TsClassifier implements Classifier {
  readonly rules: number;
  readonly bytes: number;
  private readonly words: Uint32Array;
  private readonly signed: Int32Array;
  private one: TupleBatch | undefined;
  constructor(
    readonly engine: EngineName,
    tree: CompiledTree,
    readonly buildMs: number,
  ) {
    this.rules = tree.rules;
    this.words = tree.words;
    this.signed = new Int32Array(tree.words.buffer, tree.words.byteOffset, tree.words.length);
    this.bytes = tree.words.byteLength;
  }
  classify(batch: TupleBatch, results: Int32Array): void {
    checkResults(batch, results);
    if (this.engine === 'ts') walkBatch(this.words, batch, batch.count, results, this.signed);
    else scanBatch(this.words, batch, batch.count, results);
  }
  classifyOne(t: Tuple): number {
    const b = (this.one ??= new TupleBatch(1));
    b.set(0, t);
    b.count = 1;
    this.classify(b, b.results);
    return b.results[0]!;
  }
  createBatch(capacity: number): TupleBatch {
    return new TupleBatch(capacity);
  }
  dispose(): void {}
}

function checkResults(batch: TupleBatch, results: Int32Array): void {
  if (results.length < batch.count) throw new RangeError(`results holds ${results.length} values, the batch has ${batch.count} tuples`);
}

type ClassifyExport = (tree: number, batch: number, capacity: number, count: number, results: number) => void;

/** Tuples copied per call when the caller's batch lives outside WebAssembly memory. */
const SCRATCH = 1024;

const freeOnCollect = new FinalizationRegistry<{ wasm: TedWasm; ptrs: number[] }>(({ wasm, ptrs }) => {
  for (const p of ptrs) wasm.exports.free(p);
});

/** Batches handed out by any classifier's createBatch, per module instance. */
const liveBatches = new WeakMap<TedWasm, Set<WeakRef<TupleBatch>>>();

function batchesOf(wasm: TedWasm): Set<WeakRef<TupleBatch>> {
  let set = liveBatches.get(wasm);
  if (!set) liveBatches.set(wasm, (set = new Set()));
  return set;
}

/**
 * Re-creates the views of every live batch made by createBatch on this module after its memory
 * grew. Classifiers call it after each of their allocations; code that allocates from the module
 * elsewhere should call it too (or `batch.refresh(memory.buffer)`), before writing into a batch.
 */
export function refreshBatches(wasm: TedWasm = loadWasm()): void {
  const buf = wasm.exports.memory.buffer;
  const set = liveBatches.get(wasm);
  if (!set) return;
  for (const ref of set) {
    const b = ref.deref();
    if (!b) set.delete(ref);
    else if (b.buffer !== buf) b.refresh(buf);
  }
}

class WasmClassifier implements Classifier {
  readonly engine = 'wasm' as const;
  readonly rules: number;
  readonly bytes: number;
  readonly buildMs: number;
  private readonly wasm: TedWasm;
  private readonly run: ClassifyExport;
  private readonly tree: number;
  private readonly scratch: TupleBatch;
  private readonly ptrs: number[] = [];
  private readonly own = new WeakSet<TupleBatch>();
  private disposed = false;

  constructor(tree: CompiledTree, t0: number, wasm: TedWasm) {
    this.wasm = wasm;
    this.run = wasm.exports.classifyBatch as ClassifyExport;
    if (typeof this.run !== 'function') throw new TypeError('this WebAssembly build has no classifyBatch export: rebuild with `npm run build:wasm`');
    this.rules = tree.rules;
    this.bytes = tree.words.byteLength;
    // Size everything before the first batch: the structure, then a scratch batch.
    // 64-byte aligned: nodes are cache lines from the start of the structure (tree.ts).
    this.tree = (this.alloc(this.bytes + 48) + 63) & ~63;
    new Uint32Array(wasm.exports.memory.buffer, this.tree, tree.words.length).set(tree.words);
    this.scratch = this.createBatch(SCRATCH);
    this.buildMs = performance.now() - t0;
    freeOnCollect.register(this, { wasm, ptrs: this.ptrs }, this);
  }

  private alloc(bytes: number): number {
    const p = this.wasm.exports.alloc(bytes);
    if (!p) throw new RangeError(`WebAssembly allocation of ${bytes} bytes failed`);
    this.ptrs.push(p);
    this.refreshAll();
    return p;
  }

  private refreshAll(): void {
    refreshBatches(this.wasm);
  }

  createBatch(capacity: number): TupleBatch {
    if (this.disposed) throw new RangeError('classifier was disposed');
    const bytes = batchLayout(capacity).bytes;
    const p = this.alloc(bytes);
    const b = new TupleBatch(capacity, this.wasm.exports.memory.buffer, p);
    batchesOf(this.wasm).add(new WeakRef(b));
    this.own.add(b);
    return b;
  }

  classify(batch: TupleBatch, results: Int32Array): void {
    checkResults(batch, results);
    if (this.disposed) throw new RangeError('classifier was disposed');
    const buf = this.wasm.exports.memory.buffer;
    if (this.own.has(batch)) {
      if (batch.buffer !== buf) batch.refresh(buf);
      const direct = results.buffer === buf;
      const out = direct ? results.byteOffset : batch.base + batch.layout.results;
      this.run(this.tree, batch.base, batch.capacity, batch.count, out);
      if (!direct) results.set(batch.results.subarray(0, batch.count));
      return;
    }
    // A batch outside WebAssembly memory: classify it through the scratch batch, chunk by chunk.
    const s = this.scratch;
    if (s.buffer !== buf) s.refresh(buf);
    for (let at = 0; at < batch.count; at += SCRATCH) {
      const n = Math.min(SCRATCH, batch.count - at);
      copyTuples(batch, at, s, n);
      this.run(this.tree, s.base, s.capacity, n, s.base + s.layout.results);
      results.set(s.results.subarray(0, n), at);
    }
  }

  classifyOne(t: Tuple): number {
    const s = this.scratch;
    if (s.buffer !== this.wasm.exports.memory.buffer) s.refresh(this.wasm.exports.memory.buffer);
    s.set(0, t);
    this.run(this.tree, s.base, s.capacity, 1, s.base + s.layout.results);
    return s.results[0]!;
  }

  /** Returns the structure and batches to the WebAssembly heap; the classifier is unusable after. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    freeOnCollect.unregister(this);
    for (const p of this.ptrs) this.wasm.exports.free(p);
    this.ptrs.length = 0;
  }
}

export { TupleBatch, batchLayout, FLAG_HAS_PORTS } from './batch.js';
export type { Classifier, EngineName } from './types.js';
export { parseTrace, type Trace } from './trace.js';
