// The worker side of src/pcap/pool-capture.ts, loaded by classifier pool workers (the pool's
// `handlers` option): capture slots in shared memory are registered and forgotten with each
// capture; a `run` job walks the headers of one slot's classic pcap bytes (file header + whole
// records) and classifies them, writing per frame the result, decode reason and link type. The
// result is { frames } or, when the framing broke, also the reader's { error, code, offset,
// truncated } (offset in those bytes), after the frames before it.
import { refreshBatches } from '../classify/index.js';
import type { Classifier } from '../classify/types.js';
import { classifyCapture } from './classify.js';

export const kind = 'capture';

interface Slot {
  input: Uint8Array;
  results: Int32Array;
  reasons: Uint8Array;
  linkTypes: Uint32Array;
}

export function createHandler({ classifier }: { classifier: Classifier }): (m: Record<string, unknown>) => unknown {
  const slots = new Map<number, Slot>();
  // Frames are decoded and classified 4096 at a time: batch and structure stay in cache.
  const batch = classifier.createBatch(4096);
  const engine = classifier.engine === 'wasm' ? 'wasm' : 'ts';
  return async (m) => {
    if (m.op === 'register') {
      for (const c of m.slots as { slot: number; input: SharedArrayBuffer; results: SharedArrayBuffer; reasons: SharedArrayBuffer; linkTypes: SharedArrayBuffer }[]) {
        slots.set(c.slot, { input: new Uint8Array(c.input), results: new Int32Array(c.results), reasons: new Uint8Array(c.reasons), linkTypes: new Uint32Array(c.linkTypes) });
      }
      return undefined;
    }
    if (m.op === 'forget') {
      for (const id of m.slots as number[]) slots.delete(id);
      return undefined;
    }
    const c = slots.get(m.slot as number);
    if (!c) throw new RangeError(`no capture slot ${String(m.slot)} in this worker`);
    let frames = 0;
    try {
      // Read in place: the reader copies windows of it into the decoder, as from a file.
      for await (const b of classifyCapture(c.input.subarray(0, m.bytes as number), { classifier, batch, engine })) {
        // The decoder may have grown the module's memory: re-view the batches before reading.
        if (classifier.engine === 'wasm') refreshBatches();
        c.results.set(b.batch.results.subarray(0, b.count), frames);
        c.reasons.set(b.reasons.subarray(0, b.count), frames);
        c.linkTypes.set(b.linkTypes.subarray(0, b.count), frames);
        frames += b.count;
      }
      return { frames };
    } catch (e) {
      const x = e as { message: string; code?: string; offset?: number; truncated?: boolean };
      return { frames, error: x.message, code: x.code, offset: x.offset, truncated: x.truncated };
    }
  };
}
