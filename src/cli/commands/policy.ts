// `ted policy check FILE [--format cisco|classbench|json] [--acl NAME | --crypto-map NAME [SEQ]]
// [--strict] [--verbose] [--json]`: the canonical listing of one access list with ordinals, or
// every problem in the file (exit 2). On a running-config it also lists the crypto maps found and
// counts the lines that are not access lists.
import { Command, Option } from 'commander';
import { PolicyError, formatProblem, type PolicyProblem } from '../../errors.js';
import { POLICY_FORMATS, describeCryptoEntry, loadPolicyReport, type CryptoMapEntry, type IosConfig, type PolicyFormat, type PolicyReport } from '../../policy/index.js';
import { entrySelectors } from '../../selector/algebra.js';
import { formatEntryLines, selectorJson } from '../../selector/format.js';
import type { Policy } from '../../selector/types.js';
import { printable } from '../../terminal.js';
import { lineJson } from '../json.js';
import { inputFile } from '../../files.js';

export interface PolicyCheckOptions {
  format?: PolicyFormat;
  acl?: string;
  /** `--crypto-map NAME [SEQ]` (commander gives the words). */
  cryptoMap?: string[];
  strict?: boolean;
  verbose?: boolean;
  json?: boolean;
}

/** `--crypto-map NAME [SEQ]` as the loader takes it. */
export function cryptoMapOption(words: string[] | undefined): string | undefined {
  return words === undefined ? undefined : words.join(' ');
}

/** The `--json` document: `{acl, family, entries, list}` (entries = number of ordinals). */
export function policyJson(p: Policy): Record<string, unknown> {
  return {
    acl: p.name,
    family: p.family,
    entries: p.entries.length,
    list: p.entries.map((e) => {
      const { entry: _first, ...fields } = selectorJson(e, e.action);
      const selectors = e.selectors ? { selectors: entrySelectors(e).map((s) => selectorJson(s, e.action)) } : {};
      return { ordinal: e.ordinal, ...(e.sequence !== undefined ? { sequence: e.sequence } : {}), ...(e.line !== undefined ? { line: e.line } : {}), action: e.action, ...fields, ...selectors, entry: formatEntryLines(e).join('\n') };
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
    const lines = formatEntryLines(e);
    out.push(`${String(e.ordinal).padStart(ordW + 2)}  ${String(e.sequence ?? '-').padStart(seqW)}  ${lines[0]}`);
    // The other selectors of an object-group entry, and the pieces of port sets no single Cisco
    // entry expresses, follow under the same ordinal: the entry covers their union.
    for (const more of lines.slice(1)) out.push(`${''.padStart(ordW + 2)}  ${''.padStart(seqW)}  ${more}`);
  }
  return out.join('\n') + '\n';
}

function cryptoLine(cfg: IosConfig, e: CryptoMapEntry): string {
  const on = cfg.interfaces.get(e.map);
  let text = describeCryptoEntry(e);
  if (e.dynamic !== undefined) {
    const dyn = cfg.dynamicMaps.filter((d) => d.map === e.dynamic);
    text += dyn.length ? ` -> ${dyn.map(describeCryptoEntry).join(', ')}` : ` -> dynamic map ${e.dynamic} not defined`;
  }
  return text + (on ? ` on ${on.join(', ')}` : '');
}

/** What a Cisco configuration held besides the list: crypto maps, object groups, skipped lines. */
function configSummary(r: PolicyReport, verbose: boolean): string {
  const cfg = r.config;
  if (!cfg) return '';
  const out: string[] = [];
  const c = r.choice;
  if (cfg.cryptoMaps.length > 0) {
    out.push('crypto maps:');
    for (const e of cfg.cryptoMaps) out.push(`  ${e === c?.cryptoMap ? '*' : ' '} ${cryptoLine(cfg, e)}`);
  }
  if (c?.cryptoMap) {
    const how = c.cryptoMap.dynamicMap ? `followed ${describeCryptoEntry(c.cryptoMap)}` : `* the entry followed${c.by === 'discover' ? ' (the only one marked discover)' : ''}`;
    out.push(`  ${how}; its ACL is ${r.policy.name}`);
  }
  const nLists = cfg.lists.length;
  if (cfg.skippedLines > 0 || cfg.groups.size > 0 || nLists > 1 || cfg.cryptoMaps.length > 0) {
    const parts = [`${nLists} access ${nLists === 1 ? 'list' : 'lists'}`];
    if (cfg.groups.size) parts.push(`${cfg.groups.size} object ${cfg.groups.size === 1 ? 'group' : 'groups'}`);
    const nMaps = cfg.cryptoMaps.length + cfg.dynamicMaps.length;
    if (nMaps) parts.push(`${nMaps} crypto map ${nMaps === 1 ? 'entry' : 'entries'}`);
    const skipped = cfg.skippedLines ? `; ${cfg.skippedLines} other ${cfg.skippedLines === 1 ? 'line' : 'lines'} skipped${verbose ? '' : ' (--verbose lists them)'}` : '';
    out.push(`read: ${parts.join(', ')}${skipped}`);
  }
  if (verbose && cfg.skipped.length > 0) {
    out.push('skipped:');
    const w = String(cfg.skipped[cfg.skipped.length - 1]!.line).length;
    for (const b of cfg.skipped) out.push(`  ${String(b.line).padStart(w)}  ${b.text}${b.lines > 1 ? ` (+${b.lines - 1} ${b.lines === 2 ? 'line' : 'lines'})` : ''}`);
  }
  return out.length ? out.join('\n') + '\n' : '';
}

function summaryJson(r: PolicyReport, verbose: boolean): Record<string, unknown> {
  const cfg = r.config;
  const out: Record<string, unknown> = {};
  if (r.warnings.length) out.warnings = r.warnings;
  if (!cfg) return out;
  if (r.choice?.cryptoMap) out.cryptoMap = { map: r.choice.cryptoMap.map, sequence: r.choice.cryptoMap.sequence, by: r.choice.by, ...(r.choice.dynamicMap ? { dynamicMap: { map: r.choice.dynamicMap.map, sequence: r.choice.dynamicMap.sequence } } : {}) };
  if (cfg.cryptoMaps.length || cfg.dynamicMaps.length)
    out.cryptoMaps = [...cfg.cryptoMaps, ...cfg.dynamicMaps].map((e) => ({
      map: e.map,
      sequence: e.sequence,
      line: e.line,
      ...(e.dynamicMap ? { dynamicMap: true } : { type: e.type }),
      ...(e.dynamic !== undefined ? { dynamic: e.dynamic } : {}),
      discover: e.discover,
      acl: e.acl,
      peers: e.peers,
      ...(cfg.interfaces.get(e.map) ? { interfaces: cfg.interfaces.get(e.map) } : {}),
    }));
  if (cfg.skippedLines) out.skipped = verbose ? cfg.skipped : cfg.skippedLines;
  return out;
}

/** One stderr line per warning, as errors are printed (`ted: FILE:LINE:COLUMN: CODE: ...`); the codes say warning. */
function printWarnings(warnings: readonly PolicyProblem[]): void {
  for (const w of warnings) process.stderr.write(`ted: ${printable(formatProblem(w))}\n`);
}

/** Loads a policy for a command (classify, bench, demo): its warnings go to stderr, one line each. */
export function loadPolicyForCli(file: string, opts: { format?: PolicyFormat; acl?: string; cryptoMap?: string[] }): Policy {
  const r = loadPolicyReport(file, { format: opts.format, acl: opts.acl, cryptoMap: cryptoMapOption(opts.cryptoMap) });
  printWarnings(r.warnings);
  return r.policy;
}

export function runPolicyCheck(file: string, opts: PolicyCheckOptions): void {
  let r: PolicyReport;
  try {
    r = loadPolicyReport(file, { format: opts.format, acl: opts.acl, cryptoMap: cryptoMapOption(opts.cryptoMap), strict: opts.strict });
  } catch (e) {
    if (opts.json && e instanceof PolicyError) process.stdout.write(lineJson({ errors: e.problems }) + '\n');
    throw e;
  }
  printWarnings(r.warnings);
  if (opts.json) process.stdout.write(lineJson({ ...policyJson(r.policy), ...summaryJson(r, opts.verbose === true) }) + '\n');
  else process.stdout.write(policyListing(r.policy) + configSummary(r, opts.verbose === true));
}

export function registerPolicy(program: Command): void {
  const policy = program.command('policy').description('policy files: check and list them');
  policy
    .command('check')
    .description('parse a policy file (ACLs, a whole running-config, ClassBench or JSON) and print its canonical listing with ordinals, or every error (exit 2)')
    .argument('<file>', 'policy file (Cisco IOS ACLs or running-config, ClassBench filter set, or JSON)', inputFile('policy', { text: true }))
    .addOption(new Option('--format <format>', 'policy language (default: from the extension and content)').choices([...POLICY_FORMATS]))
    .option('--acl <name>', 'which access list of the file (name or number); needed when it has several')
    .option('--crypto-map <name...>', "NAME [SEQ]: the ACL this crypto map entry matches (put it after the file); default: the only entry marked discover")
    .option('--strict', 'warnings (a netmask where a wildcard belongs, other lists that cannot be used) are errors')
    .option('--verbose', 'list the lines of a running-config that were skipped')
    .option('--json', 'print {"acl", "family", "entries", "list"} (errors as {"errors": [...]})')
    .action((file: string, opts: PolicyCheckOptions) => runPolicyCheck(file, opts));
}
