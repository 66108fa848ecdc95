// `ted policy check FILE [--format cisco|classbench|json] [--acl NAME] [--json]`: the canonical
// listing of one access list with ordinals, or every problem in the file (exit 2).
import { Command, Option } from 'commander';
import { PolicyError } from '../../errors.js';
import { POLICY_FORMATS, loadPolicy, type PolicyFormat } from '../../policy/index.js';
import { formatSelectorLines, selectorJson } from '../../selector/format.js';
import type { Policy } from '../../selector/types.js';
import { lineJson } from '../json.js';
import { inputFile } from '../../files.js';

export interface PolicyCheckOptions {
  format?: PolicyFormat;
  acl?: string;
  json?: boolean;
}

/** The `--json` document: `{acl, family, entries, list}` (entries = number of ordinals). */
export function policyJson(p: Policy): Record<string, unknown> {
  return {
    acl: p.name,
    family: p.family,
    entries: p.entries.length,
    list: p.entries.map((e) => {
      const { entry, ...fields } = selectorJson(e, e.action);
      return { ordinal: e.ordinal, ...(e.sequence !== undefined ? { sequence: e.sequence } : {}), ...(e.line !== undefined ? { line: e.line } : {}), action: e.action, ...fields, entry };
    }),
  };
}

/** Human listing: a header, then `ordinal  sequence  entry` per entry. */
export function policyListing(p: Policy): string {
  const out = [`${p.name}: IPv${p.family}, ${p.entries.length} ${p.entries.length === 1 ? 'entry' : 'entries'}`];
  const ordW = Math.max(1, String(p.entries.length).length);
  // A loop, not Math.max(...spread): a list of a million entries exceeds the argument limit.
  let seqW = 3;
  for (const e of p.entries) seqW = Math.max(seqW, String(e.sequence ?? '').length);
  out.push(`${'#'.padStart(ordW + 2)}  ${'seq'.padStart(seqW)}  entry`);
  for (const e of p.entries) {
    const lines = formatSelectorLines(e, e.action);
    out.push(`${String(e.ordinal).padStart(ordW + 2)}  ${String(e.sequence ?? '-').padStart(seqW)}  ${lines[0]}`);
    // A JSON policy can hold port sets no single Cisco entry expresses: their pieces follow.
    for (const more of lines.slice(1)) out.push(`${''.padStart(ordW + 2)}  ${''.padStart(seqW)}  ${more}`);
  }
  return out.join('\n') + '\n';
}

export function runPolicyCheck(file: string, opts: PolicyCheckOptions): void {
  let policy: Policy;
  try {
    policy = loadPolicy(file, { format: opts.format, acl: opts.acl });
  } catch (e) {
    if (opts.json && e instanceof PolicyError) process.stdout.write(lineJson({ errors: e.problems }) + '\n');
    throw e;
  }
  process.stdout.write(opts.json ? lineJson(policyJson(policy)) + '\n' : policyListing(policy));
}

export function registerPolicy(program: Command): void {
  const policy = program.command('policy').description('policy files: check and list them');
  policy
    .command('check')
    .description('parse a policy file and print its canonical listing with ordinals, or every error (exit 2)')
    .argument('<file>', 'policy file (Cisco IOS ACLs, ClassBench filter set, or JSON)', inputFile('policy', { text: true }))
    .addOption(new Option('--format <format>', 'policy language (default: from the extension and content)').choices([...POLICY_FORMATS]))
    .option('--acl <name>', 'which access list of the file (name or number); needed when it has several')
    .option('--json', 'print {"acl", "family", "entries", "list"} (errors as {"errors": [...]})')
    .action((file: string, opts: PolicyCheckOptions) => runPolicyCheck(file, opts));
}
