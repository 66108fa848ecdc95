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

export interface ClassifyBenchOptions {
  engines?: readonly EngineName[];
  /** Tuples per classify call (default 256). */
  batchSize?: number;
  /** Measuring time per engine in ms (default 1000). */
  timeMs?: number;
  /** Warm-up time per engine in ms (default 300). */
  warmupMs?: number;
}

export interface ClassifyBenchResult {
  engine: EngineName;
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
  const out: ClassifyBenchResult[] = [];
  for (const engine of engines) {
    const c = compile(policy, { engine });
    const packets = passPackets(engine, c.rules, trace.count, batchSize);
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
    const bench = new Bench({ time: options.timeMs ?? 1000, warmupTime: options.warmupMs ?? 300, warmupIterations: 20, iterations: 5 });
    bench.add(engine, pass);
    // Settle the heap first (with --expose-gc): garbage left by the previous engine (the linear
    // scan's long passes) otherwise gets collected, concurrently on this 2-core machine, during
    // the next engine's measurement and inflated it by up to 40%.
    (globalThis as { gc?: () => void }).gc?.();
    await bench.run();
    const r = bench.tasks[0]!.result as { latency?: { p50?: number; samplesCount?: number }; state?: string; error?: unknown };
    if (!r.latency?.p50) throw new Error(`benchmark of ${engine} failed: ${String(r.error ?? r.state)}`);
    const ns = (r.latency.p50 * 1e6) / packets;
    out.push({ engine, ns_per_pkt: round(ns), mpps: round(1e3 / ns), build_ms: round(c.buildMs), bytes: c.bytes, rules: c.rules, packets, batch: batchSize, samples: r.latency.samplesCount ?? 0 });
    c.dispose?.();
  }
  return out;
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}
