// `ted classify --policy FILE [--format F] [--acl NAME] --trace FILE [--engine E] [--out FILE]
// [--json]`: classify every packet of a ClassBench trace against a policy and summarise.
//
// The input side is pluggable: a TupleSource fills the classifier's batch again and again. To add
// an input (e.g. `--pcap`), write a source and pick it in `sourceOf` below; nothing else changes.
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import type { Command } from 'commander';
import { UsageError } from '../../errors.js';
import { compile, ENGINES, engineName } from '../../classify/index.js';
import type { TupleBatch } from '../../classify/batch.js';
import { parseTrace } from '../../classify/trace.js';
import type { Classifier } from '../../classify/types.js';
import { POLICY_FORMATS, type PolicyFormat } from '../../policy/index.js';
import { loadPolicyForCli } from './policy.js';
import type { Policy } from '../../selector/types.js';
import { lineJson } from '../json.js';
import { captureFailure, formatPcapTally, newPcapTally, pcapSource } from './pcap.js';
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
  top: { ordinal: number; action: string; line?: number; hits: number }[];
  build_ms: number;
  /** Time spent in classify calls only. */
  elapsed_ms: number;
  mpps: number;
}

const BATCH = 4096;

/** Classifies everything `source` yields; `onResults` sees each batch's results. */
export async function classifySource(
  policy: Policy,
  classifier: Classifier,
  source: TupleSource,
  onResults?: (results: Int32Array, count: number) => void,
  topN = 10,
): Promise<ClassifySummary> {
  const batch = classifier.createBatch(BATCH);
  // Indexed by ordinal (parsers number entries 1..n; a hand-built policy may leave gaps).
  const hits = new Float64Array(policy.entries.reduce((m, e) => Math.max(m, e.ordinal), 0) + 1);
  let packets = 0;
  let undecodable = 0;
  let elapsed = 0;
  for await (const _ of source(batch)) {
    const t0 = performance.now();
    classifier.classify(batch, batch.results);
    elapsed += performance.now() - t0;
    const r = batch.results;
    for (let i = 0; i < batch.count; i++) {
      hits[r[i]!]!++;
      if (batch.family[i] === 0) undecodable++;
    }
    packets += batch.count;
    onResults?.(r, batch.count);
  }
  const byOrdinal = new Map(policy.entries.map((e) => [e.ordinal, e]));
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
  const matched = packets - hits[0]!;
  return {
    policy: policy.name,
    engine: classifier.engine,
    rules: classifier.rules,
    packets,
    matched,
    unmatched: hits[0]! - undecodable,
    undecodable,
    actions,
    top: top.slice(0, topN),
    build_ms: round(classifier.buildMs),
    elapsed_ms: round(elapsed),
    mpps: elapsed > 0 ? round(packets / elapsed / 1e3) : 0,
  };
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
}

/** Picks the input source from the flags (one input option must be given). */
function sourceOf(flags: ClassifyFlags): TupleSource {
  if (flags.trace) return traceSource(flags.trace);
  throw new UsageError('CLI_NO_INPUT', 'ted classify needs --trace FILE or --pcap FILE');
}

function summaryText(s: ClassifySummary): string {
  const pct = (n: number) => (s.packets ? ((100 * n) / s.packets).toFixed(1) : '0.0');
  const lines = [
    `policy ${s.policy}: ${s.rules} entries, engine ${s.engine}, built in ${s.build_ms.toFixed(1)} ms`,
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
  const policy = loadPolicyForCli(flags.policy, { format: parseFormat(flags.format), acl: flags.acl, cryptoMap: flags.cryptoMap });
  const classifier = compile(policy, { engine });
  const fd = flags.out ? openSync(flags.out, 'w') : undefined;
  try {
    const summary = await classifySource(policy, classifier, source, (r, n) => {
      if (fd === undefined) return;
      let text = '';
      for (let i = 0; i < n; i++) text += `${r[i]}\n`;
      writeSync(fd, text);
    });
    process.stdout.write(flags.json ? lineJson(tally ? { ...summary, capture: tally } : summary) + '\n' : summaryText(summary) + (tally ? formatPcapTally(tally) : ''));
    const broken = tally && captureFailure(tally);
    if (broken) throw broken; // after the summary of the frames before it (exit 2)
    return summary;
  } finally {
    if (fd !== undefined) closeSync(fd);
    classifier.dispose?.();
  }
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
    .action(async (flags: ClassifyFlags) => {
      await runClassify(flags);
    });
}
