// `ted bench classify --policy FILE [--format F] [--acl NAME] --trace FILE [--engines LIST]
// [--batch N] [--time MS] [--json]`: per engine the median ns/packet, Mpps, build time and bytes.
// Other areas may add `ted bench <what>` subcommands to the `bench` command made here.
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { UsageError } from '../../errors.js';
import { benchClassify } from '../../classify/bench.js';
import { ENGINES } from '../../classify/index.js';
import { parseTrace } from '../../classify/trace.js';
import type { EngineName } from '../../classify/types.js';
import { POLICY_FORMATS } from '../../policy/index.js';
import { loadPolicyForCli } from './policy.js';
import { parseFormat } from './classify.js';
import { lineJson } from '../json.js';
import { inputFile } from '../../files.js';

interface BenchFlags {
  policy?: string;
  format?: string;
  acl?: string;
  cryptoMap?: string[];
  trace?: string;
  engines?: string;
  batch?: string;
  time?: string;
  json?: boolean;
}

function positive(name: string, v: string | undefined, dflt: number, max: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > max) throw new UsageError('CLI_BAD_NUMBER', `${name} must be an integer from 1 to ${max}, got "${v}"`);
  return n;
}

export async function runBenchClassify(flags: BenchFlags): Promise<void> {
  if (!flags.policy) throw new UsageError('CLI_NO_POLICY', 'ted bench classify needs --policy FILE');
  if (!flags.trace) throw new UsageError('CLI_NO_INPUT', 'ted bench classify needs --trace FILE');
  const engines = (flags.engines ?? ENGINES.join(',')).split(',').map((e) => e.trim());
  for (const e of engines) if (!(ENGINES as readonly string[]).includes(e)) throw new UsageError('CLASSIFY_BAD_ENGINE', `unknown engine "${e}" in --engines (expected ${ENGINES.join(', ')})`);
  const batchSize = positive('--batch', flags.batch, 256, 65536);
  const timeMs = positive('--time', flags.time, 1000, 600_000);
  const policy = loadPolicyForCli(flags.policy, { format: parseFormat(flags.format), acl: flags.acl, cryptoMap: flags.cryptoMap });
  const trace = parseTrace(readFileSync(flags.trace, 'utf8'), flags.trace);
  if (trace.batch.count === 0) throw new UsageError('CLI_EMPTY_TRACE', `${flags.trace} holds no packets`);
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
    .option('--engines <list>', `comma-separated engines (default ${ENGINES.join(',')})`)
    .option('--batch <n>', 'tuples per classify call (default 256)')
    .option('--time <ms>', 'measuring time per engine (default 1000)')
    .option('--json', 'one JSON line per engine')
    .action(async (flags: BenchFlags) => {
      await runBenchClassify(flags);
    });
}
