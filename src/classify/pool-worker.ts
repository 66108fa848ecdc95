// One worker of a classifier pool (./pool.ts): builds its classifier over the shared compiled
// structure (copied into its own WebAssembly memory for `wasm`), then classifies slot after slot
// in place: a message { id, count } means "slot id holds count tuples"; the reply { id } means
// its results are written. Messages with a `kind` go to the handler module of that kind (the
// pool's `handlers` option, e.g. src/pcap/pool-capture-worker.ts); a request's reply is
// { id, result } or, when the handler threw, { id, error, code }. One job at a time.
import { parentPort, workerData } from 'node:worker_threads';
import { TupleBatch, copyTuples } from './batch.js';
import { classifierOf, refreshBatches } from './index.js';
import type { CompiledTree } from './tree.js';
import type { Classifier, EngineName } from './types.js';

interface Setup {
  tree: CompiledTree;
  engine: EngineName;
  capacity: number;
  buffers: SharedArrayBuffer[];
  ids: number[];
  /** Handler modules (URLs). */
  handlers: string[];
}

/** What a handler module exports. */
export interface PoolHandlerModule {
  kind: string;
  createHandler(ctx: { classifier: Classifier }): ((message: Record<string, unknown>) => unknown) | Promise<(message: Record<string, unknown>) => unknown>;
}

const port = parentPort!;
const setup = workerData as Setup;
try {
  const classifier = classifierOf(setup.tree, { engine: setup.engine });
  const handlers = new Map<string, (m: Record<string, unknown>) => unknown>();
  for (const href of setup.handlers) {
    const mod = (await import(href)) as PoolHandlerModule;
    handlers.set(mod.kind, await mod.createHandler({ classifier }));
  }
  const slots = new Map<number, TupleBatch>();
  setup.ids.forEach((id, k) => slots.set(id, new TupleBatch(setup.capacity, setup.buffers[k] as unknown as ArrayBuffer)));
  // The engine's own batch (in WebAssembly memory for wasm): one copy in, one copy of results out.
  const own = classifier.createBatch(setup.capacity);
  // Warm-up: V8 runs WebAssembly in a baseline tier first and optimises a function once it has
  // run enough; each worker has its own instance, so it tiers up here rather than on its first
  // jobs (a one-shot `ted classify --workers` otherwise spends much of its time there).
  for (let i = 0; i < Math.min(own.capacity, 1024); i++) {
    const x = Math.imul(i + 1, 0x9e3779b1) >>> 0;
    own.set(i, { family: 4, protocol: i & 1 ? 6 : 17, src: BigInt(x), dst: BigInt(Math.imul(x, 0x85ebca6b) >>> 0), sport: x & 0xffff, dport: x >>> 16, hasPorts: true });
  }
  own.count = Math.min(own.capacity, 1024);
  for (let k = 0; k < 200; k++) classifier.classify(own, own.results);
  const tuples = (m: { id: number; count: number }) => {
    const b = slots.get(m.id);
    if (!b) throw new RangeError(`no slot ${m.id} in this worker`);
    if (classifier.engine === 'wasm') refreshBatches(); // another job may have grown the memory
    copyTuples(b, 0, own, m.count);
    classifier.classify(own, own.results);
    b.results.set(own.results.subarray(0, m.count));
    port.postMessage({ id: m.id });
  };
  // One job at a time: a handler may await between steps, and the classifier is shared.
  let queue = Promise.resolve();
  port.on('message', (m: { id?: number; count?: number; kind?: string }) => {
    queue = queue.then(async () => {
      try {
        if (m.kind === undefined) return tuples(m as { id: number; count: number });
        const h = handlers.get(m.kind);
        if (!h) throw new RangeError(`no handler for jobs of kind ${m.kind}`);
        const result = await h(m as Record<string, unknown>);
        if (m.id !== undefined) port.postMessage({ id: m.id, result });
      } catch (e) {
        if (m.id !== undefined) port.postMessage({ id: m.id, error: (e as Error).message, code: (e as { code?: string }).code ?? 'CLASSIFY_POOL_FAILED' });
      }
    });
  });
  port.postMessage({ ready: true, kinds: [...handlers.keys()] });
} catch (e) {
  port.postMessage({ ready: false, error: (e as Error).message, code: (e as { code?: string }).code });
}
