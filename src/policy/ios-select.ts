// Which access list of a Cisco configuration to use, and what is an error and what a warning:
//   acl          the list of that name or number
//   cryptoMap    `NAME [SEQ]`: the ACL the crypto map entry matches (`match address`, through its
//                dynamic map when it has one); without SEQ the map's only entry, else the one
//                marked `discover` (TED)
//   neither      the ACL of the file's only `discover` crypto map entry, else the only extended
//                or IPv6 list, else an error listing them
// Once a list is chosen only its own problems are errors; other lists that cannot be used, and
// lines outside any list that could not be read, become one warning each. Without a choice every
// problem of the candidate lists is an error, as a file of lists alone has always been read.
import { PolicyError, UsageError, type PolicyProblem } from '../errors.js';
import type { Entry, Family, Policy } from '../selector/types.js';
import { readIosConfig, type AccessList, type CryptoMapEntry, type IosConfig } from './ios-config.js';
import { MAX_PROBLEMS, Problems } from './problems.js';

/** A crypto map entry to follow: `NAME` or `NAME SEQ` (a string in that form is accepted too). */
export interface CryptoMapRef {
  readonly name: string;
  readonly sequence?: number;
}

/** `"VPN"`, `"VPN 10"`, or a CryptoMapRef. Throws UsageError on anything else. */
export function cryptoMapRef(ref: string | CryptoMapRef): CryptoMapRef {
  if (typeof ref !== 'string') return ref;
  const words = ref.trim().split(/\s+/);
  const seq = words[1];
  if (words[0] === '' || words.length > 2 || (seq !== undefined && !/^\d{1,10}$/.test(seq)))
    throw new UsageError('POLICY_BAD_CRYPTO_MAP', `crypto map '${ref}': expected 'NAME' or 'NAME SEQ'`);
  return seq === undefined ? { name: words[0]! } : { name: words[0]!, sequence: Number(seq) };
}

export interface IosSelectOptions {
  acl?: string;
  cryptoMap?: string | CryptoMapRef;
  /** Warnings are errors. */
  strict?: boolean;
}

/** How the list was chosen. */
export interface IosChoice {
  readonly by: 'acl' | 'crypto-map' | 'discover' | 'only';
  /** The crypto map entry followed (`crypto-map`, `discover`), and the dynamic map entry that holds the ACL. */
  readonly cryptoMap?: CryptoMapEntry;
  readonly dynamicMap?: CryptoMapEntry;
}

export interface IosSelection {
  readonly policy: Policy;
  readonly list: AccessList;
  readonly warnings: readonly PolicyProblem[];
  readonly choice: IosChoice;
}

function throwProblem(file: string, code: string, message: string, line: number, token?: string, expected?: string): never {
  const p = new Problems(file);
  p.add(code, message, line, 1, token, expected);
  p.throwIfAny();
  throw new Error('unreachable');
}

export function describeCryptoEntry(e: CryptoMapEntry): string {
  const parts = [`${e.dynamicMap ? 'dynamic map ' : ''}${e.map} ${e.sequence}`];
  if (e.type) parts.push(e.type);
  if (e.dynamic) parts.push(`dynamic ${e.dynamic}`);
  if (e.discover) parts.push('discover');
  const what = [...(e.acl ? [`match address ${e.acl}`] : e.dynamic === undefined ? ['no match address'] : []), ...(e.peers.length ? [`peer ${e.peers.join(', ')}`] : [])];
  return what.length ? `${parts.join(' ')} (${what.join('; ')})` : parts.join(' ');
}

/** The entry a CryptoMapRef names and the ACL it matches. Throws PolicyError (POLICY_CRYPTO_MAP_*). */
export function resolveCryptoMap(cfg: IosConfig, ref: CryptoMapRef): { entry: CryptoMapEntry; dynamic?: CryptoMapEntry; acl: string } {
  const file = cfg.file;
  const names = [...new Set(cfg.cryptoMaps.map((e) => e.map))];
  const dynNames = [...new Set(cfg.dynamicMaps.map((e) => e.map))];
  let entries = cfg.cryptoMaps.filter((e) => e.map === ref.name);
  if (entries.length === 0) entries = cfg.dynamicMaps.filter((e) => e.map === ref.name);
  if (entries.length === 0) {
    const has = [...names.map((n) => `crypto map ${n}`), ...dynNames.map((n) => `dynamic map ${n}`)];
    throwProblem(file, 'POLICY_CRYPTO_MAP_NOT_FOUND', `no crypto map '${ref.name}' in the file; ${has.length ? `it has ${has.join(', ')}` : 'it has none'}`, 1, ref.name, has.length ? `one of ${[...names, ...dynNames].join(', ')}` : 'a file with a crypto map');
  }
  let entry: CryptoMapEntry;
  const list = () => entries.map(describeCryptoEntry).join(', ');
  if (ref.sequence !== undefined) {
    const hit = entries.find((e) => e.sequence === ref.sequence);
    if (!hit) throwProblem(file, 'POLICY_CRYPTO_MAP_NOT_FOUND', `crypto map ${ref.name} has no entry ${ref.sequence}; it has ${list()}`, entries[0]!.line, String(ref.sequence), `one of ${entries.map((e) => e.sequence).join(', ')}`);
    entry = hit;
  } else if (entries.length === 1) entry = entries[0]!;
  else {
    const discover = entries.filter((e) => e.discover);
    if (discover.length !== 1)
      throwProblem(file, 'POLICY_CRYPTO_MAP_AMBIGUOUS', `crypto map ${ref.name} has ${entries.length} entries${discover.length ? `, ${discover.length} of them marked discover` : ', none marked discover'}: ${list()}; pick one (--crypto-map ${ref.name} SEQ)`, entries[0]!.line, ref.name, `one of ${entries.map((e) => `${ref.name} ${e.sequence}`).join(', ')}`);
    entry = discover[0]!;
  }
  if (entry.dynamic !== undefined) {
    const dyn = cfg.dynamicMaps.filter((e) => e.map === entry.dynamic);
    if (dyn.length === 0) throwProblem(file, 'POLICY_CRYPTO_MAP_NOT_FOUND', `crypto map ${entry.map} ${entry.sequence} uses dynamic map ${entry.dynamic}, which the file does not define`, entry.line, entry.dynamic, `'crypto dynamic-map ${entry.dynamic} SEQ' with 'match address ACL'`);
    const withAcl = dyn.filter((e) => e.acl !== undefined);
    if (withAcl.length === 0) throwProblem(file, 'POLICY_CRYPTO_MAP_NO_ACL', `dynamic map ${entry.dynamic} (line ${dyn[0]!.line}) has no 'match address'`, dyn[0]!.line, entry.dynamic, "' match address ACL' under the dynamic map");
    const acls = [...new Set(withAcl.map((e) => e.acl!))];
    if (acls.length > 1)
      throwProblem(file, 'POLICY_CRYPTO_MAP_AMBIGUOUS', `dynamic map ${entry.dynamic} matches ${acls.length} access lists: ${withAcl.map(describeCryptoEntry).join(', ')}; pick one (--crypto-map ${entry.dynamic} SEQ)`, withAcl[0]!.line, entry.dynamic, `one of ${withAcl.map((e) => `${e.map} ${e.sequence}`).join(', ')}`);
    return { entry, dynamic: withAcl[0]!, acl: acls[0]! };
  }
  if (entry.acl === undefined)
    throwProblem(file, 'POLICY_CRYPTO_MAP_NO_ACL', `crypto map ${entry.map} ${entry.sequence} has no 'match address'`, entry.line, entry.map, "' match address ACL' under the crypto map entry");
  return { entry, acl: entry.acl };
}

const isCandidate = (l: AccessList) => l.kind === 'extended' || l.kind === 'ipv6';

function describeList(l: AccessList): string {
  const kind = l.kind === 'standard' ? 'standard' : l.kind === 'unusable' ? 'not IP' : `IPv${l.family}`;
  return `${l.name} (${kind}, line ${l.line})`;
}

/** Chooses the list and sorts problems into errors and warnings. Throws PolicyError. */
export function selectFromConfig(cfg: IosConfig, opts: IosSelectOptions = {}): IosSelection {
  const file = cfg.file;
  if (opts.acl !== undefined && opts.cryptoMap !== undefined) throw new UsageError('POLICY_ACL_AND_CRYPTO_MAP', 'give an access list or a crypto map, not both');
  let name = opts.acl;
  let choice: IosChoice = { by: 'acl' };
  if (opts.cryptoMap !== undefined) {
    const r = resolveCryptoMap(cfg, cryptoMapRef(opts.cryptoMap));
    name = r.acl;
    choice = { by: 'crypto-map', cryptoMap: r.entry, ...(r.dynamic ? { dynamicMap: r.dynamic } : {}) };
  } else if (name === undefined) {
    const discover = cfg.cryptoMaps.filter((e) => e.discover);
    if (discover.length === 1) {
      const r = resolveCryptoMap(cfg, { name: discover[0]!.map, sequence: discover[0]!.sequence });
      name = r.acl;
      choice = { by: 'discover', cryptoMap: r.entry, ...(r.dynamic ? { dynamicMap: r.dynamic } : {}) };
    }
  }
  if (name === undefined) return chooseOnly(cfg, opts);
  const list = cfg.lists.find((l) => l.name === name);
  if (!list) {
    const via = choice.cryptoMap ? `crypto map ${choice.cryptoMap.map} ${choice.cryptoMap.sequence} matches address '${name}', but the file defines no such access list` : `no access list '${name}' in the file`;
    const has = cfg.lists.length ? `it has ${cfg.lists.map(describeList).join(', ')}` : `it has none${cfg.skippedLines ? ` (${cfg.skippedLines} lines that are not access lists were skipped)` : ''}`;
    throwProblem(file, 'POLICY_ACL_NOT_FOUND', `${via}; ${has}`, (choice.dynamicMap ?? choice.cryptoMap)?.aclLine ?? 1, name, cfg.lists.length ? `one of ${cfg.lists.map((l) => l.name).join(', ')}` : 'an access list defined in the file');
  }
  return chosen(cfg, list, choice, opts);
}

/** No list named and no discover entry: the only candidate, or every problem, or a question. */
function chooseOnly(cfg: IosConfig, opts: IosSelectOptions): IosSelection {
  const file = cfg.file;
  const candidates = cfg.lists.filter(isCandidate);
  const problems = new Problems(file);
  for (const l of candidates) problems.absorb(l.problems);
  problems.absorb(cfg.fileProblems);
  problems.throwIfAny();
  if (candidates.length === 1) return chosen(cfg, candidates[0]!, { by: 'only' }, opts);
  if (candidates.length === 0) {
    // A file of a single standard (or other) list: choosing it says why it cannot be used.
    if (cfg.lists.length === 1) return chosen(cfg, cfg.lists[0]!, { by: 'only' }, opts);
    const skippedNote = cfg.skippedLines ? `; ${cfg.skippedLines} other lines were skipped` : '';
    const has = cfg.lists.length ? `no extended or IPv6 access list in the file (it has ${cfg.lists.map(describeList).join(', ')})` : `no access list in the file${skippedNote}`;
    throwProblem(file, 'POLICY_EMPTY', has, 1, undefined, "'access-list N permit ...', 'ip access-list extended NAME' or 'ipv6 access-list NAME'");
  }
  const maps = cfg.cryptoMaps.length ? ` or --crypto-map NAME; crypto maps: ${cfg.cryptoMaps.map(describeCryptoEntry).join(', ')}` : '';
  throwProblem(file, 'POLICY_ACL_AMBIGUOUS', `the file has ${candidates.length} access lists: ${candidates.map(describeList).join(', ')}; pick one (--acl NAME${maps})`, candidates[1]!.line, undefined, `one of ${candidates.map((a) => a.name).join(', ')}`);
}

function chosen(cfg: IosConfig, list: AccessList, choice: IosChoice, opts: IosSelectOptions): IosSelection {
  const file = cfg.file;
  if (list.kind === 'standard')
    throwProblem(file, 'POLICY_STANDARD_ACL', `access list ${list.name} (line ${list.line}) is a standard list: it matches source addresses only, so it cannot say which traffic to protect toward which destination; a crypto ACL is an extended list ('access-list 100-199/2000-2699' or 'ip access-list extended')`, list.line, list.name, 'an extended or IPv6 access list');
  list.problems.throwIfAny();
  const warnings: PolicyProblem[] = [...list.warnings];
  for (const l of cfg.lists) {
    if (l === list || l.problems.count === 0 || l.kind === 'unusable') continue;
    const first = [...l.problems.list].sort((a, b) => a.line - b.line || a.column - b.column)[0]!;
    const n = l.problems.count;
    warnings.push({
      code: 'POLICY_WARN_ACL_UNUSABLE',
      message: `access list ${l.name} (line ${l.line}) cannot be used (${n} problem${n === 1 ? '' : 's'}; the first: ${first.code}: ${first.message})`,
      file,
      line: first.line,
      column: first.column,
      ...(first.token !== undefined ? { token: first.token } : {}),
    });
  }
  for (const p of cfg.fileProblems.list) warnings.push({ ...p, code: 'POLICY_WARN_LINE_IGNORED', message: `not read (${p.code}): ${p.message}` });
  warnings.sort((a, b) => a.line - b.line || a.column - b.column);
  // One warning per unusable list could be many in a large file: bounded like problems.
  if (warnings.length > MAX_PROBLEMS) {
    const more = warnings.length - MAX_PROBLEMS;
    warnings.length = MAX_PROBLEMS;
    const last = warnings[MAX_PROBLEMS - 1]!;
    warnings.push({ code: 'POLICY_WARN_TOO_MANY', message: `${more} more warning(s) not listed (limit ${MAX_PROBLEMS})`, file, line: last.line, column: last.column });
  }
  if (opts.strict && warnings.length > 0) {
    const p = new Problems(file);
    for (const w of warnings) p.add(w.code, `${w.message} (an error with --strict)`, w.line, w.column, w.token, w.expected);
    p.throwIfAny();
  }
  const entries: readonly Entry[] = list.entries;
  const policy: Policy = { name: list.name, family: list.family as Family, entries, ...(warnings.length ? { warnings } : {}) };
  return { policy, list, warnings, choice };
}

/** One access list of a Cisco file, with where it starts. */
export interface CiscoAcl extends Policy {
  /** Line of the first header or entry of this list. */
  readonly line: number;
}

/**
 * Every extended and IPv6 access list in a Cisco file, in order of first appearance. Throws
 * PolicyError when any of them (or a line outside them) has a problem.
 */
export function parseCiscoAcls(text: string, file = '<input>'): CiscoAcl[] {
  const cfg = readIosConfig(text, file);
  const candidates = cfg.lists.filter(isCandidate);
  const problems = new Problems(file);
  for (const l of candidates) problems.absorb(l.problems);
  problems.absorb(cfg.fileProblems);
  if (candidates.length === 0 && problems.count === 0) problems.add('POLICY_EMPTY', 'no access list in the file', 1, 1, undefined, "'access-list N permit ...', 'ip access-list extended NAME' or 'ipv6 access-list NAME'");
  problems.throwIfAny();
  return candidates.map((l) => ({ name: l.name, family: l.family, line: l.line, entries: l.entries }));
}

/**
 * The one access list to use from a Cisco file or running-config (see the top of this module).
 * Throws PolicyError (POLICY_ACL_NOT_FOUND, POLICY_ACL_AMBIGUOUS, POLICY_CRYPTO_MAP_*, or the list's problems).
 */
export function parseCisco(text: string, opts: { file?: string } & IosSelectOptions = {}): Policy {
  return selectFromConfig(readIosConfig(text, opts.file ?? '<input>'), opts).policy;
}
