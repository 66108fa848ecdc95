// `ted classify --policy FILE [--format F] [--acl NAME] --trace FILE [--engine E] [--out FILE]
// [--json]`: classify every packet of a ClassBench trace against a policy and summarise.
//
// The input side is pluggable: a TupleSource fills the classifier's batch again and again. To add
// an input (e.g. `--pcap`), write a source and pick it in `sourceOf` below; nothing else changes.
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import type { Command } from 'commander';
import { UsageError } from '../../errors.js';
import { compile, ENGINES, engineName } from '../../classify/index.js';
import { TupleBatch } from '../../classify/batch.js';
import { createClassifierPool, workerCount, type ClassifierPool } from '../../classify/pool.js';
import { CAPTURE_WORKER, classifyPcapFile, isClassicPcap } from '../../pcap/pool-capture.js';
import { classifyCapture, syncFileSource } from '../../pcap/classify.js';
import { FrameTally } from '../../pcap/frame-tally.js';
import { parseTrace } from '../../classify/trace.js';
import type { Classifier } from '../../classify/types.js';
import { POLICY_FORMATS, type PolicyFormat } from '../../policy/index.js';
import { loadPolicyForCli } from './policy.js';
import type { Policy } from '../../selector/types.js';
import { lineJson } from '../json.js';
import { captureFailure, formatPcapTally, newPcapTally, pcapSource, talliedCapture, type FrameCounts, type PcapTally } from './pcap.js';
import { inputFile, outputFile } from '../../files.js';

/**
 * Fills `batch` (setting `batch.count`) and yields, until the input is exhausted. Tuples that
 * could not be decoded are marked with `batch.setNone(i)` (they classify as 0).
 */
export type TupleSource = (batch: TupleBatch) => Iterable<void> | AsyncIterable<void>;

/** A ClassBench trace file as a source. */
export function traceSource(file: string): TupleSource {
  const trace = parseTrace(readFileSync(file, 'utf8'), file);
  return function* (batch: TupleBatch) {
    const all = trace.batch;
    for (let at = 0; at < all.count; at += batch.capacity) {
      const n = Math.min(batch.capacity, all.count - at);
      for (let i = 0; i < n; i++) batch.set(i, all.get(at + i)!);
      batch.count = n;
      yield;
    }
  };
}

export interface ClassifySummary {
  policy: string;
  engine: string;
  rules: number;
  packets: number;
  matched: number;
  unmatched: number;
  /** Packets that were no tuple at all (undecodable frames). */
  undecodable: number;
  actions: Record<string, number>;
  /** Worker threads (with --workers). */
  workers?: number;
  top: { ordinal: number; action: string; line?: number; hits: number }[];
  build_ms: number;
  /** Time spent in classify calls only (with workers: wall time of the whole pipeline). */
  elapsed_ms: number;
  mpps: number;
}

const BATCH = 4096;

/** Hits per ordinal and the summary built from them: shared by the one-thread and pool paths. */
class Tally {
  // Indexed by ordinal (parsers number entries 1..n; a hand-built policy may leave gaps).
  readonly hits: Float64Array;
  packets = 0;
  undecodable = 0;
  constructor(private readonly policy: Policy) {
    this.hits = new Float64Array(policy.entries.reduce((m, e) => Math.max(m, e.ordinal), 0) + 1);
  }
  /** Adds (result, frames) pairs counted elsewhere (pool workers), and `count` packets. */
  addCounted(pairs: Uint32Array, count: number): void {
    const hits = this.hits;
    for (let i = 0; i < pairs.length; i += 2) hits[pairs[i]!]! += pairs[i + 1]!;
    this.packets += count;
  }
  add(r: Int32Array, count: number): void {
    const hits = this.hits; // a local: V8 keeps the field load out of the loop
    for (let i = 0; i < count; i++) hits[r[i]!]!++;
    this.packets += count;
  }
  /** Frames without a tuple (they classify as 0). */
  countNone(batch: TupleBatch): void {
    for (let i = 0; i < batch.count; i++) if (batch.family[i] === 0) this.undecodable++;
  }
  summary(c: { engine: string; rules: number; buildMs: number }, elapsed: number, topN: number, workers?: number): ClassifySummary {
    const { hits, packets, undecodable } = this;
    const byOrdinal = new Map(this.policy.entries.map((e) => [e.ordinal, e]));
    const actions: Record<string, number> = { permit: 0, deny: 0 };
    const top: ClassifySummary['top'] = [];
    for (let o = 1; o < hits.length; o++) {
      if (hits[o] === 0) continue;
      const e = byOrdinal.get(o);
      const action = e?.action ?? 'unknown';
      actions[action] = (actions[action] ?? 0) + hits[o]!;
      top.push({ ordinal: o, action, line: e?.line, hits: hits[o]! });
    }
    top.sort((a, b) => b.hits - a.hits || a.ordinal - b.ordinal);
    return {
      policy: this.policy.name,
      engine: c.engine,
      rules: c.rules,
      ...(workers !== undefined ? { workers } : {}),
      packets,
      matched: packets - hits[0]!,
      unmatched: hits[0]! - undecodable,
      undecodable,
      actions,
      top: top.slice(0, topN),
      build_ms: round(c.buildMs),
      elapsed_ms: round(elapsed),
      mpps: elapsed > 0 ? round(packets / elapsed / 1e3) : 0,
    };
  }
}

/** Classifies everything `source` yields; `onResults` sees each batch's results. */
export async function classifySource(
  policy: Policy,
  classifier: Classifier,
  source: TupleSource,
  onResults?: (results: Int32Array, count: number) => void,
  topN = 10,
): Promise<ClassifySummary> {
  const batch = classifier.createBatch(BATCH);
  const tally = new Tally(policy);
  let elapsed = 0;
  for await (const _ of source(batch)) {
    const t0 = performance.now();
    classifier.classify(batch, batch.results);
    elapsed += performance.now() - t0;
    tally.countNone(batch);
    tally.add(batch.results, batch.count);
    onResults?.(batch.results, batch.count);
  }
  return tally.summary(classifier, elapsed, topN);
}

/**
 * Classifies everything `source` yields through a pool of worker threads; results in input
 * order. The source fills one batch in this thread (decoding a capture, reading a trace) while
 * the workers classify earlier ones; `elapsed_ms` is the wall time of the whole pipeline.
 */
export async function classifySourcePool(
  policy: Policy,
  pool: ClassifierPool,
  source: TupleSource,
  onResults?: (results: Int32Array, count: number) => void,
  topN = 10,
): Promise<ClassifySummary> {
  const batch = new TupleBatch(pool.batchSize);
  const tally = new Tally(policy);
  const t0 = performance.now();
  const batches = async function* () {
    for await (const _ of source(batch)) {
      tally.countNone(batch);
      yield batch;
    }
  };
  for await (const r of pool.classifyAll(batches())) {
    tally.add(r.results, r.count);
    onResults?.(r.results, r.count);
  }
  return tally.summary(pool, performance.now() - t0, topN, pool.workers);
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}

export function parseFormat(format: string | undefined): PolicyFormat | undefined {
  if (format === undefined) return undefined;
  if (!(POLICY_FORMATS as readonly string[]).includes(format)) throw new UsageError('CLI_BAD_FORMAT', `--format must be one of ${POLICY_FORMATS.join(', ')}, got "${format}"`);
  return format as PolicyFormat;
}

interface ClassifyFlags {
  policy?: string;
  format?: string;
  acl?: string;
  cryptoMap?: string[];
  trace?: string;
  pcap?: string;
  engine?: string;
  out?: string;
  json?: boolean;
  workers?: string;
}

/** Picks the input source from the flags (one input option must be given). */
function sourceOf(flags: ClassifyFlags): TupleSource {
  if (flags.trace) return traceSource(flags.trace);
  throw new UsageError('CLI_NO_INPUT', 'ted classify needs --trace FILE or --pcap FILE');
}

function summaryText(s: ClassifySummary): string {
  const pct = (n: number) => (s.packets ? ((100 * n) / s.packets).toFixed(1) : '0.0');
  const lines = [
    `policy ${s.policy}: ${s.rules} entries, engine ${s.engine}${s.workers !== undefined ? ` in ${s.workers} worker thread${s.workers === 1 ? '' : 's'}` : ''}, built in ${s.build_ms.toFixed(1)} ms`,
    `packets ${s.packets}, matched ${s.matched} (${pct(s.matched)}%), no match ${s.unmatched}${s.undecodable ? `, undecodable ${s.undecodable}` : ''}`,
    `actions: ${Object.entries(s.actions)
      .map(([a, n]) => `${a} ${n}`)
      .join(', ')}`,
  ];
  if (s.top.length > 0) {
    lines.push('top entries by hits:');
    for (const t of s.top) lines.push(`  #${t.ordinal}${t.line !== undefined ? ` (line ${t.line})` : ''} ${t.action}: ${t.hits}`);
  }
  lines.push(`elapsed ${s.elapsed_ms.toFixed(2)} ms, ${s.mpps.toFixed(2)} Mpps`);
  return lines.join('\n') + '\n';
}

export async function runClassify(flags: ClassifyFlags): Promise<ClassifySummary> {
  if (!flags.policy) throw new UsageError('CLI_NO_POLICY', 'ted classify needs --policy FILE');
  const engine = engineName(flags.engine);
  if (flags.trace && flags.pcap) throw new UsageError('CLI_TWO_INPUTS', 'give either --trace or --pcap, not both');
  // --pcap: the header walk runs in the engine's language (wasm writes into the classifier's batch).
  const tally = flags.pcap ? newPcapTally(flags.pcap) : undefined;
  const source = tally ? pcapSource(tally.file, engine === 'wasm' ? 'wasm' : 'ts', tally) : sourceOf(flags);
  const workers = flags.workers === undefined ? undefined : workerCount(integer('--workers', flags.workers));
  const policy = loadPolicyForCli(flags.policy, { format: parseFormat(flags.format), acl: flags.acl, cryptoMap: flags.cryptoMap });
  const pool = workers === undefined ? undefined : await createClassifierPool(policy, { engine, workers, handlers: flags.pcap ? [CAPTURE_WORKER] : [] });
  const classifier = pool ? undefined : compile(policy, { engine });
  const fd = flags.out ? openSync(flags.out, 'w') : undefined;
  try {
    const write = (r: Int32Array, n: number) => {
      if (fd === undefined) return;
      let text = '';
      for (let i = 0; i < n; i++) text += `${r[i]}\n`;
      writeSync(fd, text);
    };
    const summary = pool
      ? tally && (await isClassicPcap(tally.file))
        ? await classifyCaptureInPool(policy, pool, tally, write, fd !== undefined)
        : await classifySourcePool(policy, pool, source, write)
      : tally
        ? await classifyCaptureInThread(policy, classifier!, tally, write, fd !== undefined)
        : await classifySource(policy, classifier!, source, write);
    process.stdout.write(flags.json ? lineJson(tally ? { ...summary, capture: tally } : summary) + '\n' : summaryText(summary) + (tally ? formatPcapTally(tally) : ''));
    const broken = tally && captureFailure(tally);
    if (broken) throw broken; // after the summary of the frames before it (exit 2)
    return summary;
  } finally {
    if (fd !== undefined) closeSync(fd);
    classifier?.dispose?.();
    await pool?.close();
  }
}

/**
 * `--pcap FILE` in this thread: the file read with blocking reads (nothing else to do meanwhile),
 * headers walked and frames classified batch by batch, the frames per decode reason and per result
 * counted in WebAssembly for the wasm engine (FrameTally). `elapsed` is the whole pipeline's.
 */
async function classifyCaptureInThread(
  policy: Policy,
  classifier: Classifier,
  tally: PcapTally,
  onResults: (results: Int32Array, count: number) => void,
  wantResults: boolean,
  topN = 10,
): Promise<ClassifySummary> {
  const t = new Tally(policy);
  const engine = classifier.engine === 'wasm' ? 'wasm' : 'ts';
  // Before the batch: the tally's regions may grow the module's memory (the batch sees that).
  const frames = FrameTally.forEngine(engine, t.hits.length - 1);
  const batch = classifier.createBatch(BATCH);
  const src = syncFileSource(tally.file);
  try {
    // The decode reasons go in at the end (also when framing damage ended the input early).
    const addReasons = (counts: FrameCounts) => {
      const reasons = frames.takeReasons();
      counts.addReasons(reasons);
      t.undecodable = tally.frames - (reasons[0] ?? 0);
    };
    for await (const { counts, b } of talliedCapture(tally, (hooks) => classifyCapture(src, { classifier, engine, batch, ...hooks }), addReasons)) {
      frames.add(b.results!, b.reasons, b.count);
      counts.addLinkTypes(b.linkTypes, b.count);
      tally.frames += b.count;
      t.packets += b.count;
      if (wantResults) onResults(b.results!, b.count);
    }
    // The hits of every frame read (those before framing damage, when it ended the input).
    t.addCounted(frames.takeResults(), 0);
  } finally {
    frames.dispose();
    await src.close();
  }
  return t.summary(classifier, tally.elapsedMs, topN);
}

/**
 * `--pcap FILE --workers N` on a classic pcap: the workers read the file, walk the headers and
 * classify; this thread tallies the results in capture order.
 */
async function classifyCaptureInPool(
  policy: Policy,
  pool: ClassifierPool,
  tally: PcapTally,
  onResults: (results: Int32Array, count: number) => void,
  wantResults: boolean,
  topN = 10,
): Promise<ClassifySummary> {
  const t = new Tally(policy);
  // Frames per result are counted in the workers and come once, at the end.
  // Each frame's result is only needed for --out.
  const chunks = talliedCapture(tally, (hooks) => classifyPcapFile(pool, tally.file, { onResultCounts: (pairs) => t.addCounted(pairs, 0), perFrame: wantResults, ...hooks }));
  for await (const { counts, b: c } of chunks) {
    // Decode outcomes were counted in the worker: only the results are looked at here.
    counts.addCounted(c.reasonCounts, c.linkType, c.count);
    tally.frames += c.count;
    t.undecodable += c.count - (c.reasonCounts[0] ?? 0);
    t.packets += c.count;
    if (wantResults) onResults(c.results, c.count);
  }
  return t.summary(pool, tally.elapsedMs, topN, pool.workers);
}

/** A decimal integer option value (range checks are the caller's). */
export function integer(name: string, v: string): number {
  if (!/^\d+$/.test(v.trim())) throw new UsageError('CLI_BAD_NUMBER', `${name} must be a whole number, got "${v}"`);
  return Number(v);
}

export function registerClassify(program: Command): void {
  program
    .command('classify')
    .description('classify every packet of a trace against a policy (first match) and summarise')
    .option('--policy <file>', 'policy file (Cisco ACL, ClassBench filter set or JSON)', inputFile('policy', { text: true }))
    .option('--format <format>', `policy format: ${POLICY_FORMATS.join('|')} (default: detected)`)
    .option('--acl <name>', 'which access list of a Cisco or JSON file')
    .option('--crypto-map <name...>', 'NAME [SEQ]: the ACL this crypto map entry of a Cisco running-config matches')
    .option('--trace <file>', 'ClassBench trace: "src dst sport dport proto [flags] [id]" per line', inputFile('trace', { text: true }))
    .option('--pcap <file>', 'capture (pcap or pcapng): one result per frame in capture order, 0 for none or not decodable', inputFile('capture'))
    .option('--engine <engine>', `${ENGINES.join('|')} (default: $TED_ENGINE or wasm)`)
    .option('--out <file>', 'write the ordinal of the first matching entry per packet, one per line (0 = none)', outputFile('--out'))
    .option('--json', 'print the summary as one JSON line')
    .option('--workers <n>', 'classify in n worker threads (results still in input order)')
    .action(async (flags: ClassifyFlags) => {
      await runClassify(flags);
    });
}
