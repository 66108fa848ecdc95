// Measures the classification engines on one policy and one trace: shared by `ted bench classify`
// and bench/classify.bench.mjs. tinybench times "passes" over batches already packed in each
// engine's own batches (as a packet decoder would leave them), after a warm-up long enough for V8
// to tier up the WebAssembly (it does not tier up a loop that is already running, so the batch
// export is called many times).
import { Bench } from 'tinybench';
import type { Policy } from '../selector/types.js';
import type { TupleBatch } from './batch.js';
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
