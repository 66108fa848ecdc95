// One entry point for every policy language: parsePolicy(text, {format}) and loadPolicy(path).
import { readFileSync } from 'node:fs';
import { UsageError } from '../errors.js';
import { checkInputFile } from '../files.js';
import type { Policy } from '../selector/types.js';
import { parseClassBench } from './classbench.js';
import { parseCisco } from './cisco.js';
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
}

/** Parses a policy in the given language. Throws PolicyError listing every problem. */
export function parsePolicy(text: string, opts: ParsePolicyOptions): Policy {
  const file = opts.file ?? '<input>';
  switch (opts.format) {
    case 'cisco':
      return parseCisco(text, { file, acl: opts.acl });
    case 'json':
      return parseJsonPolicy(text, { file, acl: opts.acl });
    case 'classbench': {
      const policy = parseClassBench(text, file);
      if (opts.acl !== undefined && opts.acl !== policy.name) {
        const p = new Problems(file);
        p.add('POLICY_ACL_NOT_FOUND', `no access list '${opts.acl}' in the file; a ClassBench set is one list, ${policy.name}`, 1, 1, opts.acl, policy.name);
        p.throwIfAny();
      }
      return policy;
    }
    default:
      throw new UsageError('POLICY_UNKNOWN_FORMAT', `unknown policy format '${String(opts.format)}'; expected one of ${POLICY_FORMATS.join(', ')}`);
  }
}

/**
 * The language of a policy file: `.json` or a leading `{` is JSON, a first rule starting with
 * `@` is ClassBench, anything else is Cisco.
 */
export function detectFormat(text: string, path?: string): PolicyFormat {
  if (path && /\.json$/i.test(path)) return 'json';
  const first = text.replace(/^\uFEFF/, '').trimStart();
  if (first.startsWith('{')) return 'json';
  if (first.startsWith('@')) return 'classbench';
  return 'cisco';
}

/**
 * Reads and parses a policy file; the format is detected when not given. A path that is not a
 * readable regular text file is a PathError (TED_INPUT_*) before anything is read.
 */
export function loadPolicy(path: string, opts: { format?: PolicyFormat; acl?: string } = {}): Policy {
  checkInputFile(path, 'policy', { text: true });
  const text = readFileSync(path, 'utf8');
  return parsePolicy(text, { format: opts.format ?? detectFormat(text, path), file: path, acl: opts.acl });
}

export { parseClassBench } from './classbench.js';
export { parseCisco, parseCiscoAcls, parseEntry, inferEntryFamily, type CiscoAcl, type ParsedEntryLine } from './cisco.js';
export { parseJsonPolicy } from './json.js';
export { MAX_PROBLEMS } from './problems.js';
