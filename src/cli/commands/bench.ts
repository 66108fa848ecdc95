// `ted bench classify --policy FILE [--format F] [--acl NAME] --trace FILE [--engines LIST]
// [--batch N] [--time MS] [--json]`: per engine the median ns/packet, Mpps, build time and bytes.
// With `--workers N`: aggregate Mpps of one classifier in this thread and of pools of 1..N
// worker threads, in one run. `--pcap FILE` instead of `--trace`: a classic pcap decoded and
// classified pass after pass, by the one-thread reader and by pools of 1..N workers.
// Other areas may add `ted bench <what>` subcommands to the `bench` command made here.
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { UsageError } from '../../errors.js';
import { benchClassify, benchPool } from '../../classify/bench.js';
import { workerCount } from '../../classify/pool.js';
import { ENGINES } from '../../classify/index.js';
import { parseTrace } from '../../classify/trace.js';
import type { EngineName } from '../../classify/types.js';
import { POLICY_FORMATS } from '../../policy/index.js';
import { loadPolicyForCli } from './policy.js';
import { parseFormat } from './classify.js';
import { lineJson } from '../json.js';
import { inputFile } from '../../files.js';
import { benchCapturePool } from '../../pcap/bench.js';

interface BenchFlags {
  policy?: string;
  format?: string;
  acl?: string;
  cryptoMap?: string[];
  trace?: string;
  pcap?: string;
  engines?: string;
  batch?: string;
  time?: string;
  json?: boolean;
  workers?: string;
}

function positive(name: string, v: string | undefined, dflt: number, max: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > max) throw new UsageError('CLI_BAD_NUMBER', `${name} must be an integer from 1 to ${max}, got "${v}"`);
  return n;
}

export async function runBenchClassify(flags: BenchFlags): Promise<void> {
  if (!flags.policy) throw new UsageError('CLI_NO_POLICY', 'ted bench classify needs --policy FILE');
  if (flags.trace && flags.pcap) throw new UsageError('CLI_TWO_INPUTS', 'give either --trace or --pcap, not both');
  if (flags.pcap) return benchCapture(flags);
  if (!flags.trace) throw new UsageError('CLI_NO_INPUT', 'ted bench classify needs --trace FILE or --pcap FILE');
  const engines = (flags.engines ?? ENGINES.join(',')).split(',').map((e) => e.trim());
  for (const e of engines) if (!(ENGINES as readonly string[]).includes(e)) throw new UsageError('CLASSIFY_BAD_ENGINE', `unknown engine "${e}" in --engines (expected ${ENGINES.join(', ')})`);
  const batchSize = positive('--batch', flags.batch, 256, 65536);
  const timeMs = positive('--time', flags.time, 1000, 600_000);
  const policy = loadPolicyForCli(flags.policy, { format: parseFormat(flags.format), acl: flags.acl, cryptoMap: flags.cryptoMap });
  const trace = parseTrace(readFileSync(flags.trace, 'utf8'), flags.trace);
  if (trace.batch.count === 0) throw new UsageError('CLI_EMPTY_TRACE', `${flags.trace} holds no packets`);
  if (flags.workers !== undefined) {
    const n = workerCount(positive('--workers', flags.workers, 1, 256));
    if (engines.length !== 1 || engines[0] === 'linear') throw new UsageError('CLASSIFY_BAD_ENGINE', '--workers measures one engine: give --engines wasm or --engines ts');
    const rows = await benchPool(policy, trace.batch, { workers: Array.from({ length: n }, (_, i) => i + 1), engine: engines[0] as EngineName, batchSize: flags.batch === undefined ? undefined : batchSize, timeMs });
    if (flags.json) {
      for (const r of rows) process.stdout.write(lineJson(r) + '\n');
      return;
    }
    process.stdout.write(`policy ${policy.name}: ${policy.entries.length} entries; trace ${trace.batch.count} packets; engine ${engines[0]}\n`);
    process.stdout.write('workers   ms/pass      Mpps  scaling\n');
    for (const r of rows) process.stdout.write(`${(r.workers === 0 ? 'thread' : String(r.workers)).padEnd(7)} ${r.ms_per_pass.toFixed(2).padStart(9)} ${r.mpps.toFixed(2).padStart(9)} ${r.workers === 0 ? '' : r.scaling.toFixed(2).padStart(8)}\n`);
    return;
  }
  const results = await benchClassify(policy, trace.batch, { engines: engines as EngineName[], batchSize, timeMs });
  if (flags.json) {
    for (const r of results) process.stdout.write(lineJson(r) + '\n');
    return;
  }
  process.stdout.write(`policy ${policy.name}: ${policy.entries.length} entries; trace ${trace.batch.count} packets; batches of ${batchSize}\n`);
  process.stdout.write('engine   ns/pkt      Mpps   build ms      bytes  packets/pass\n');
  for (const r of results) {
    process.stdout.write(
      `${r.engine.padEnd(6)} ${r.ns_per_pkt.toFixed(1).padStart(8)} ${r.mpps.toFixed(2).padStart(9)} ${r.build_ms.toFixed(1).padStart(10)} ${String(r.bytes).padStart(10)}  ${r.packets}\n`,
    );
  }
}

/** `--pcap FILE`: capture scaling over pools of 1..N workers (N: --workers, default every core). */
async function benchCapture(flags: BenchFlags): Promise<void> {
  const engines = (flags.engines ?? 'wasm').split(',').map((e) => e.trim());
  if (engines.length !== 1 || (engines[0] !== 'wasm' && engines[0] !== 'ts')) throw new UsageError('CLASSIFY_BAD_ENGINE', '--pcap measures one engine: give --engines wasm or --engines ts');
  const n = workerCount(flags.workers === undefined ? undefined : positive('--workers', flags.workers, 1, 256));
  const timeMs = positive('--time', flags.time, 1000, 600_000);
  const policy = loadPolicyForCli(flags.policy!, { format: parseFormat(flags.format), acl: flags.acl, cryptoMap: flags.cryptoMap });
  const rows = await benchCapturePool(policy, flags.pcap!, { workers: Array.from({ length: n }, (_, i) => i + 1), engine: engines[0] as EngineName, timeMs });
  if (flags.json) {
    for (const r of rows) process.stdout.write(lineJson(r) + '\n');
    return;
  }
  process.stdout.write(`policy ${policy.name}: ${policy.entries.length} entries; capture ${flags.pcap}: ${rows[0]!.frames} frames; engine ${engines[0]}\n`);
  process.stdout.write('workers   ms/pass      Mpps  scaling  passes\n');
  for (const r of rows) process.stdout.write(`${(r.workers === 0 ? 'thread' : String(r.workers)).padEnd(7)} ${r.ms_per_pass.toFixed(2).padStart(9)} ${r.mpps.toFixed(2).padStart(9)} ${r.workers === 0 ? '        ' : r.scaling.toFixed(2).padStart(8)} ${String(r.passes).padStart(7)}\n`);
}

export function registerBench(program: Command): void {
  const bench = program.command('bench').description('measure the hot paths');
  bench
    .command('classify')
    .description('median ns/packet, Mpps, build time and compiled bytes of each classification engine')
    .option('--policy <file>', 'policy file (Cisco ACL, ClassBench filter set or JSON)', inputFile('policy', { text: true }))
    .option('--format <format>', `policy format: ${POLICY_FORMATS.join('|')} (default: detected)`)
    .option('--acl <name>', 'which access list of a Cisco or JSON file')
    .option('--crypto-map <name...>', 'NAME [SEQ]: the ACL this crypto map entry of a Cisco running-config matches')
    .option('--trace <file>', 'ClassBench trace', inputFile('trace', { text: true }))
    .option('--pcap <file>', 'classic pcap capture: decode + classify passes by one thread and by pools of 1..--workers workers (--batch does not apply)', inputFile('capture'))
    .option('--engines <list>', `comma-separated engines (default ${ENGINES.join(',')})`)
    .option('--batch <n>', 'tuples per classify call (default 256)')
    .option('--time <ms>', 'measuring time per engine (default 1000)')
    .option('--json', 'one JSON line per engine')
    .option('--workers <n>', 'aggregate Mpps of pools of 1..n worker threads (one engine; --batch = tuples per job, default 16384; with --pcap default: every core)')
    .action(async (flags: BenchFlags) => {
      await runBenchClassify(flags);
    });
}
