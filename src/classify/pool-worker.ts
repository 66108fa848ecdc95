// One worker of a classifier pool (./pool.ts): builds its classifier over the shared compiled
// structure (copied into its own WebAssembly memory for `wasm`), then classifies slot after slot
// in place: a message { id, count } means "slot id holds count tuples"; the reply { id } means
// its results are written.
import { parentPort, workerData } from 'node:worker_threads';
import { TupleBatch, copyTuples } from './batch.js';
import { classifierOf } from './index.js';
import type { CompiledTree } from './tree.js';
import type { EngineName } from './types.js';

interface Setup {
  tree: CompiledTree;
  engine: EngineName;
  capacity: number;
  buffers: SharedArrayBuffer[];
  ids: number[];
}

const port = parentPort!;
const setup = workerData as Setup;
try {
  const classifier = classifierOf(setup.tree, { engine: setup.engine });
  const slots = new Map<number, TupleBatch>();
  setup.ids.forEach((id, k) => slots.set(id, new TupleBatch(setup.capacity, setup.buffers[k] as unknown as ArrayBuffer)));
  // The engine's own batch (in WebAssembly memory for wasm): one copy in, one copy of results out.
  const own = classifier.createBatch(setup.capacity);
  port.on('message', (m: { id: number; count: number }) => {
    const b = slots.get(m.id);
    try {
      if (!b) throw new RangeError(`no slot ${m.id} in this worker`);
      copyTuples(b, 0, own, m.count);
      classifier.classify(own, own.results);
      b.results.set(own.results.subarray(0, m.count));
      port.postMessage({ id: m.id });
    } catch (e) {
      port.postMessage({ id: m.id, error: (e as Error).message, code: (e as { code?: string }).code });
    }
  });
  port.postMessage({ ready: true });
} catch (e) {
  port.postMessage({ ready: false, error: (e as Error).message, code: (e as { code?: string }).code });
}
