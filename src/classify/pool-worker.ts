// One worker of a classifier pool (./pool.ts): builds its classifier over the shared compiled
// structure (copied into its own WebAssembly memory for `wasm`), then classifies slot after slot
// in place: a message { id, count } means "slot id holds count tuples"; the reply { id } means
// its results are written. A message { id, capture: n } means "capture slot id holds a classic
// pcap of n bytes (file header + whole records)": the worker walks its headers and classifies
// them, writing per frame the result, decode reason and link type; the reply { id, frames }
// (with `error`, `code` and the byte `offset` in those bytes when the framing broke).
import { parentPort, workerData } from 'node:worker_threads';
import { classifyCapture } from '../pcap/classify.js';
import { TupleBatch, copyTuples } from './batch.js';
import { classifierOf, refreshBatches } from './index.js';
import type { CompiledTree } from './tree.js';
import type { EngineName } from './types.js';

interface Setup {
  tree: CompiledTree;
  engine: EngineName;
  capacity: number;
  buffers: SharedArrayBuffer[];
  ids: number[];
  /** Capture slots: input bytes, and per frame outputs (results i32, reasons u8, link types u32). */
}

/** A capture slot: input bytes, and per frame outputs (results i32, reasons u8, link types u32). */
interface CaptureSlot {
  id: number;
  input: SharedArrayBuffer;
  results: SharedArrayBuffer;
  reasons: SharedArrayBuffer;
  linkTypes: SharedArrayBuffer;
}

const port = parentPort!;
const setup = workerData as Setup;
try {
  const classifier = classifierOf(setup.tree, { engine: setup.engine });
  const slots = new Map<number, TupleBatch>();
  setup.ids.forEach((id, k) => slots.set(id, new TupleBatch(setup.capacity, setup.buffers[k] as unknown as ArrayBuffer)));
  // The engine's own batch (in WebAssembly memory for wasm): one copy in, one copy of results out.
  const own = classifier.createBatch(setup.capacity);
  // Capture slots come and go with each capture (register / forget messages).
  const captures = new Map<number, { input: Uint8Array; results: Int32Array; reasons: Uint8Array; linkTypes: Uint32Array }>();
  const tuples = (m: { id: number; count: number }) => {
    const b = slots.get(m.id);
    if (!b) throw new RangeError(`no slot ${m.id} in this worker`);
    if (classifier.engine === 'wasm') refreshBatches(); // a capture job may have grown the memory
    copyTuples(b, 0, own, m.count);
    classifier.classify(own, own.results);
    b.results.set(own.results.subarray(0, m.count));
    port.postMessage({ id: m.id });
  };
  // Capture frames are decoded and classified 4096 at a time: batch and structure stay in cache.
  const frameBatch = classifier.createBatch(Math.min(setup.capacity, 4096));
  const capture = async (m: { id: number; capture: number }) => {
    const c = captures.get(m.id);
    if (!c) throw new RangeError(`no capture slot ${m.id} in this worker`);
    let frames = 0;
    try {
      // Read in place: the reader copies windows of it into the decoder, as from a file.
      for await (const b of classifyCapture(c.input.subarray(0, m.capture), { classifier, batch: frameBatch, engine: classifier.engine === 'wasm' ? 'wasm' : 'ts' })) {
        // The decoder may have grown the module's memory: re-view the batches before reading.
        if (classifier.engine === 'wasm') refreshBatches();
        c.results.set(b.batch.results.subarray(0, b.count), frames);
        c.reasons.set(b.reasons.subarray(0, b.count), frames);
        c.linkTypes.set(b.linkTypes.subarray(0, b.count), frames);
        frames += b.count;
      }
      port.postMessage({ id: m.id, frames });
    } catch (e) {
      const x = e as { message: string; code?: string; offset?: number; truncated?: boolean };
      port.postMessage({ id: m.id, frames, error: x.message, code: x.code, offset: x.offset, truncated: x.truncated });
    }
  };
  // One job at a time: a capture job awaits between batches, and the classifier is shared.
  let queue = Promise.resolve();
  port.on('message', (m: { id: number; count: number; capture?: number; register?: CaptureSlot[]; forget?: number[] }) => {
    if (m.register) {
      for (const c of m.register) captures.set(c.id, { input: new Uint8Array(c.input), results: new Int32Array(c.results), reasons: new Uint8Array(c.reasons), linkTypes: new Uint32Array(c.linkTypes) });
      return;
    }
    if (m.forget) {
      const ids = m.forget;
      queue = queue.then(() => ids.forEach((id) => captures.delete(id)));
      return;
    }
    queue = queue.then(async () => {
      try {
        if (m.capture !== undefined) await capture(m as { id: number; capture: number });
        else tuples(m);
      } catch (e) {
        port.postMessage({ id: m.id, error: (e as Error).message, code: (e as { code?: string }).code });
      }
    });
  });
  port.postMessage({ ready: true });
} catch (e) {
  port.postMessage({ ready: false, error: (e as Error).message, code: (e as { code?: string }).code });
}
