// One entry point for every policy language: parsePolicy(text, {format}) and loadPolicy(path);
// readPolicy / loadPolicyReport also say how a Cisco file was read (lists, crypto maps, skipped
// lines, warnings).
import { readFileSync } from 'node:fs';
import { UsageError, type PolicyProblem } from '../errors.js';
import { checkInputFile } from '../files.js';
import type { Policy } from '../selector/types.js';
import { parseClassBench } from './classbench.js';
import { readIosConfig, type IosConfig } from './ios-config.js';
import { selectFromConfig, type CryptoMapRef, type IosChoice } from './ios-select.js';
import { parseJsonPolicy } from './json.js';
import { Problems } from './problems.js';

export type PolicyFormat = 'cisco' | 'classbench' | 'json';
export const POLICY_FORMATS: readonly PolicyFormat[] = ['cisco', 'classbench', 'json'];

export interface ParsePolicyOptions {
  format: PolicyFormat;
  /** Name used in error messages (and the policy name of ClassBench/JSON sets). */
  file?: string;
  /** Which access list of a Cisco file (name or number); default the only one. */
  acl?: string;
  /** Cisco: use the ACL this crypto map entry matches (`"NAME"`, `"NAME SEQ"` or {name, sequence}). */
  cryptoMap?: string | CryptoMapRef;
  /** Warnings (a netmask where a wildcard belongs, other lists that cannot be used) are errors. */
  strict?: boolean;
}

/** A policy and how it was read. */
export interface PolicyReport {
  readonly policy: Policy;
  readonly format: PolicyFormat;
  readonly warnings: readonly PolicyProblem[];
  /** Cisco: everything read from the file (lists, object groups, crypto maps, skipped lines). */
  readonly config?: IosConfig;
  /** Cisco: how the list was chosen (by name, through a crypto map, the only one). */
  readonly choice?: IosChoice;
}

function notCisco(file: string, what: string): never {
  const p = new Problems(file);
  p.add('POLICY_CRYPTO_MAP_NOT_FOUND', `a ${what} policy has no crypto maps; only Cisco configurations do`, 1, 1, undefined, 'a Cisco configuration with a crypto map');
  p.throwIfAny();
  throw new Error('unreachable');
}

/** Parses a policy and reports how. Throws PolicyError listing every problem. */
export function readPolicy(text: string, opts: ParsePolicyOptions): PolicyReport {
  const file = opts.file ?? '<input>';
  switch (opts.format) {
    case 'cisco': {
      const config = readIosConfig(text, file);
      const s = selectFromConfig(config, opts);
      return { policy: s.policy, format: 'cisco', warnings: s.warnings, config, choice: s.choice };
    }
    case 'json':
      if (opts.cryptoMap !== undefined) notCisco(file, 'JSON');
      return { policy: parseJsonPolicy(text, { file, acl: opts.acl }), format: 'json', warnings: [] };
    case 'classbench': {
      if (opts.cryptoMap !== undefined) notCisco(file, 'ClassBench');
      const policy = parseClassBench(text, file);
      if (opts.acl !== undefined && opts.acl !== policy.name) {
        const p = new Problems(file);
        p.add('POLICY_ACL_NOT_FOUND', `no access list '${opts.acl}' in the file; a ClassBench set is one list, ${policy.name}`, 1, 1, opts.acl, policy.name);
        p.throwIfAny();
      }
      return { policy, format: 'classbench', warnings: [] };
    }
    default:
      throw new UsageError('POLICY_UNKNOWN_FORMAT', `unknown policy format '${String(opts.format)}'; expected one of ${POLICY_FORMATS.join(', ')}`);
  }
}

/** Parses a policy in the given language (warnings ride along in `policy.warnings`). Throws PolicyError listing every problem. */
export function parsePolicy(text: string, opts: ParsePolicyOptions): Policy {
  return readPolicy(text, opts).policy;
}

/**
 * The language of a policy file: `.json` or a leading `{` is JSON, a first rule starting with
 * `@` (after any `#` comment lines) is ClassBench, anything else is Cisco.
 */
export function detectFormat(text: string, path?: string): PolicyFormat {
  if (path && /\.json$/i.test(path)) return 'json';
  const first = text.replace(/^\uFEFF/, '').replace(/^(?:[ \t]*(?:#[^\n]*)?\r?\n)*/, '').trimStart();
  if (first.startsWith('{')) return 'json';
  if (first.startsWith('@')) return 'classbench';
  return 'cisco';
}

export type LoadPolicyOptions = Partial<Omit<ParsePolicyOptions, 'file'>>;

/**
 * Reads and parses a policy file and reports how; the format is detected when not given. A path
 * that is not a readable regular text file is a PathError (TED_INPUT_*) before anything is read.
 */
export function loadPolicyReport(path: string, opts: LoadPolicyOptions = {}): PolicyReport {
  checkInputFile(path, 'policy', { text: true });
  const text = readFileSync(path, 'utf8');
  return readPolicy(text, { ...opts, format: opts.format ?? detectFormat(text, path), file: path });
}

/** Reads and parses a policy file; the format is detected when not given. */
export function loadPolicy(path: string, opts: LoadPolicyOptions = {}): Policy {
  return loadPolicyReport(path, opts).policy;
}

export { parseClassBench } from './classbench.js';
export { parseEntry, inferEntryFamily, type ParsedEntryLine } from './cisco.js';
export { readIosConfig, type AccessList, type CryptoMapEntry, type IosConfig, type SkippedBlock } from './ios-config.js';
export { parseCisco, parseCiscoAcls, resolveCryptoMap, cryptoMapRef, describeCryptoEntry, type CiscoAcl, type CryptoMapRef, type IosChoice } from './ios-select.js';
export { parseJsonPolicy, parseJsonEntry } from './json.js';
export { parseAnyEntry, inferAnyEntryFamily } from './entry.js';
export { MAX_PROBLEMS } from './problems.js';
