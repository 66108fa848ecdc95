// Measures the classification engines on one policy and one trace: shared by `ted bench classify`
// and bench/classify.bench.mjs. tinybench times "passes" over batches already packed in each
// engine's own batches (as a packet decoder would leave them), after a warm-up long enough for V8
// to tier up the WebAssembly (it does not tier up a loop that is already running, so the batch
// export is called many times).
import { Bench } from 'tinybench';
import type { Policy } from '../selector/types.js';
import { copyTuples, type TupleBatch } from './batch.js';
import { compile } from './index.js';
import type { EngineName } from './types.js';
import type { TedWasm } from '../wasm/load.js';

export interface ClassifyBenchOptions {
  engines?: readonly EngineName[];
  /** Tuples per classify call (default 256). */
  batchSize?: number;
  /** Measuring time per engine in ms (default 1000). */
  timeMs?: number;
  /** Warm-up time per engine in ms (default 300). */
  warmupMs?: number;
  /** Interleaved measuring rounds (default 3); the result is the median of the rounds' medians. */
  rounds?: number;
  /** More WebAssembly instances to measure as the `wasm` engine, reported under `name` (e.g. the scalar build). */
  extra?: readonly { name: string; wasm: TedWasm }[];
}

export interface ClassifyBenchResult {
  /** Engine name, or the `name` of an `extra` instance. */
  engine: string;
  /** Median ns per packet. */
  ns_per_pkt: number;
  /** Million packets per second at that median. */
  mpps: number;
  build_ms: number;
  /** Bytes of the compiled rules and search structure. */
  bytes: number;
  rules: number;
  /** Packets per timed pass (the linear scan uses a prefix of a long trace). */
  packets: number;
  batch: number;
  /** Timed passes. */
  samples: number;
}

/** Packets per pass: the whole trace, except for the slow linear scan at many rules. */
function passPackets(engine: EngineName, rules: number, total: number, batchSize: number): number {
  if (engine !== 'linear') return total;
  const budget = Math.floor(4e6 / Math.max(1, rules)); // ~ a few ms per pass
  return Math.min(total, Math.max(batchSize, Math.ceil(budget / batchSize) * batchSize));
}

export async function benchClassify(policy: Policy, trace: TupleBatch, options: ClassifyBenchOptions = {}): Promise<ClassifyBenchResult[]> {
  const engines = options.engines ?? ['wasm', 'ts', 'linear'];
  const batchSize = options.batchSize ?? 256;
  const rounds = Math.max(1, options.rounds ?? 3);
  const timeMs = options.timeMs ?? 1000;
  // Every engine (and extra WebAssembly instance) is set up first, then measured in `rounds`
  // interleaved rounds: a burst of load from other work on this shared machine then hits one
  // round of each rather than all of one engine. The figure is the median of the rounds' medians.
  const runs = [...engines.map((engine) => ({ name: engine as string, engine, wasm: undefined as TedWasm | undefined })), ...(options.extra ?? []).map((x) => ({ name: x.name, engine: 'wasm' as EngineName, wasm: x.wasm }))].map((v) => {
    const c = compile(policy, { engine: v.engine, wasm: v.wasm });
    const packets = passPackets(v.engine, c.rules, trace.count, batchSize);
    const batches: TupleBatch[] = [];
    for (let at = 0; at < packets; at += batchSize) {
      const b = c.createBatch(batchSize);
      const n = Math.min(batchSize, packets - at);
      for (let i = 0; i < n; i++) {
        const t = trace.get(at + i);
        if (t) b.set(i, t);
        else b.setNone(i);
      }
      b.count = n;
      batches.push(b);
    }
    const pass = () => {
      for (const b of batches) c.classify(b, b.results);
    };
    return { ...v, c, packets, pass, p50: [] as number[], samples: 0 };
  });
  for (let r = 0; r < rounds; r++) {
    for (const v of runs) {
      const bench = new Bench({ time: timeMs / rounds, warmupTime: r === 0 ? (options.warmupMs ?? 300) : 50, warmupIterations: r === 0 ? 20 : 2, iterations: 5 });
      bench.add(v.name, v.pass);
      // Settle the heap first (with --expose-gc): garbage left by the previous engine (the linear
      // scan's long passes) otherwise gets collected, concurrently on this 2-core machine, during
      // the next engine's measurement and inflated it by up to 40%.
      (globalThis as { gc?: () => void }).gc?.();
      await bench.run();
      const res = bench.tasks[0]!.result as { latency?: { p50?: number; samplesCount?: number }; state?: string; error?: unknown };
      if (!res.latency?.p50) throw new Error(`benchmark of ${v.name} failed: ${String(res.error ?? res.state)}`);
      v.p50.push(res.latency.p50);
      v.samples += res.latency.samplesCount ?? 0;
    }
  }
  const out: ClassifyBenchResult[] = [];
  for (const v of runs) {
    const ms = v.p50.sort((a, b) => a - b)[v.p50.length >> 1]!;
    const ns = (ms * 1e6) / v.packets;
    out.push({ engine: v.name, ns_per_pkt: round(ns), mpps: round(1e3 / ns), build_ms: round(v.c.buildMs), bytes: v.c.bytes, rules: v.c.rules, packets: v.packets, batch: batchSize, samples: v.samples });
    v.c.dispose?.();
  }
  return out;
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}

export interface PoolBenchOptions {
  /** Worker counts to measure (default 1 .. os.availableParallelism()). */
  workers?: readonly number[];
  engine?: EngineName;
  /** Tuples per job (default the pool's). */
  batchSize?: number;
  /** Measuring time per worker count in ms (default 1000). */
  timeMs?: number;
}

export interface PoolBenchResult {
  /** 0 = one classifier in this thread (batches of the same size), else the pool's worker count. */
  workers: number;
  engine: string;
  /** Median wall ms of a pass over the whole trace. */
  ms_per_pass: number;
  /** Aggregate million packets per second. */
  mpps: number;
  /** mpps / the first pool row's mpps. */
  scaling: number;
  packets: number;
  passes: number;
}

/**
 * Aggregate throughput of classifier pools of 1..N workers on one trace (`pool.classify` over
 * the whole trace per pass: copy into the slots, classify in the workers, results back in order),
 * and of one classifier in this thread, in one run.
 */
export async function benchPool(policy: Policy, trace: TupleBatch, options: PoolBenchOptions = {}): Promise<PoolBenchResult[]> {
  const { createClassifierPool } = await import('./pool.js');
  const { availableParallelism } = await import('node:os');
  const counts = options.workers ?? Array.from({ length: Math.max(1, availableParallelism()) }, (_, i) => i + 1);
  const timeMs = options.timeMs ?? 1000;
  const engine = options.engine ?? 'wasm';
  const results = new Int32Array(trace.count);
  const measure = async (pass: () => Promise<void> | void): Promise<{ ms: number; passes: number }> => {
    for (let k = 0; k < 5; k++) await pass(); // warm-up (and tier-up in the workers)
    const times: number[] = [];
    const end = performance.now() + timeMs;
    while (performance.now() < end || times.length < 5) {
      const t0 = performance.now();
      await pass();
      times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    return { ms: times[times.length >> 1]!, passes: times.length };
  };
  const out: PoolBenchResult[] = [];
  // One classifier in this thread, the trace in its own batches of the pool's job size.
  const c = compile(policy, { engine });
  const size = options.batchSize ?? 16384;
  const own: TupleBatch[] = [];
  for (let at = 0; at < trace.count; at += size) {
    const b = c.createBatch(size);
    copyTuples(trace, at, b, Math.min(size, trace.count - at));
    own.push(b);
  }
  const single = await measure(() => {
    for (const b of own) c.classify(b, b.results);
  });
  c.dispose?.();
  out.push({ workers: 0, engine, ms_per_pass: round(single.ms), mpps: round(trace.count / single.ms / 1e3), scaling: 0, packets: trace.count, passes: single.passes });
  for (const w of counts) {
    const pool = await createClassifierPool(policy, { workers: w, engine, batchSize: size });
    try {
      const r = await measure(() => pool.classify(trace, results));
      out.push({ workers: w, engine, ms_per_pass: round(r.ms), mpps: round(trace.count / r.ms / 1e3), scaling: 0, packets: trace.count, passes: r.passes });
    } finally {
      await pool.close();
    }
  }
  const base = out.find((r) => r.workers > 0)?.mpps ?? 1;
  for (const r of out) r.scaling = round(r.mpps / base);
  return out;
}
