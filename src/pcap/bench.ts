// Capture classification throughput on this machine: one classic pcap file decoded and classified
// over and over by the one-thread reader and by classifier pools of 1..N workers (`ted bench
// classify --pcap FILE --workers N`, and the npm bench). Pools are kept for the whole run, so
// this is the rate a long-lived process reaches (a daemon, a service classifying one capture
// after another); a one-shot `ted classify --pcap` also pays for the start of its threads.
import { availableParallelism } from 'node:os';
import { compile } from '../classify/index.js';
import { createClassifierPool, type ClassifierPool } from '../classify/pool.js';
import type { EngineName } from '../classify/types.js';
import { TedError } from '../errors.js';
import type { Policy } from '../selector/types.js';
import { classifyCapture } from './classify.js';
import { CAPTURE_WORKER, classifyPcapFile } from './pool-capture.js';

export interface CaptureBenchOptions {
  /** Worker counts to measure (default 1 .. os.availableParallelism()). */
  workers?: readonly number[];
  engine?: EngineName;
  /** Measuring time per row in ms (default 1000; at least 5 passes each). */
  timeMs?: number;
  /** Passes of each row before measuring (default 3: V8 optimises what ran). */
  warmUp?: number;
}

export interface CaptureBenchResult {
  /** 0 = the one-thread reader in this thread, else the pool's worker count. */
  workers: number;
  engine: string;
  /** Median wall ms of a pass over the whole capture. */
  ms_per_pass: number;
  /** Aggregate million frames per second. */
  mpps: number;
  /** mpps / the first pool row's mpps (the thread row too). */
  scaling: number;
  frames: number;
  passes: number;
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}

/**
 * Median pass times of the one-thread reader and of pools of 1..N workers on one classic pcap
 * file. The rows take turns pass by pass, so that load from elsewhere on the machine falls on
 * every row alike.
 */
export async function benchCapturePool(policy: Policy, file: string, options: CaptureBenchOptions = {}): Promise<CaptureBenchResult[]> {
  const counts = options.workers ?? Array.from({ length: Math.max(1, availableParallelism()) }, (_, i) => i + 1);
  const timeMs = options.timeMs ?? 1000;
  const engine = options.engine ?? 'wasm';
  const decode = engine === 'wasm' ? 'wasm' : 'ts';
  const classifier = compile(policy, { engine });
  const pools: ClassifierPool[] = [];
  try {
    for (const w of counts) pools.push(await createClassifierPool(policy, { workers: w, engine, handlers: [CAPTURE_WORKER] }));
    let frames = -1;
    const passes: (() => Promise<number>)[] = [
      async () => {
        let n = 0;
        for await (const b of classifyCapture(file, { classifier, engine: decode })) n += b.count;
        return n;
      },
      ...pools.map((pool) => async () => {
        let n = 0;
        for await (const c of classifyPcapFile(pool, file, { onResultCounts: () => undefined })) n += c.count;
        return n;
      }),
    ];
    const times: number[][] = passes.map(() => []);
    const once = async (k: number): Promise<number> => {
      const t0 = performance.now();
      const n = await passes[k]!();
      if (frames >= 0 && n !== frames) throw new TedError('TED_INTERNAL', `capture bench: pass ${k} saw ${n} frames, an earlier one ${frames}`);
      frames = n;
      return performance.now() - t0;
    };
    for (let r = 0; r < (options.warmUp ?? 3); r++) for (let k = 0; k < passes.length; k++) await once(k);
    const end = performance.now() + timeMs * passes.length;
    while (performance.now() < end || times[0]!.length < 5) for (let k = 0; k < passes.length; k++) times[k]!.push(await once(k));
    const out: CaptureBenchResult[] = times.map((t, k) => {
      t.sort((a, b) => a - b);
      const ms = t[t.length >> 1]!;
      return { workers: k === 0 ? 0 : counts[k - 1]!, engine, ms_per_pass: round(ms), mpps: round(frames / ms / 1e3), scaling: 0, frames, passes: t.length };
    });
    const base = out[1]?.mpps ?? 1;
    for (const r of out) r.scaling = round(r.mpps / base);
    return out;
  } finally {
    classifier.dispose?.();
    for (const p of pools) await p.close();
  }
}
