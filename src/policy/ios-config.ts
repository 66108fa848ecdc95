// Cisco IOS configurations as engineers have them: a whole `show running-config` (or a part of
// one, or a file of access lists alone). Read here:
//   access lists    numbered (`access-list N ...`: 100-199/2000-2699 extended, 1-99/1300-1999
//                   standard), named (`ip access-list extended|standard NAME`), IPv6
//                   (`ipv6 access-list NAME`); `no access-list N` / `no ip access-list ... NAME`
//                   clear what was defined so far (the replace-then-define idiom)
//   object groups   ./object-groups.ts
//   crypto maps     `crypto map NAME SEQ ipsec-isakmp [dynamic D] [discover]` and `crypto
//                   dynamic-map D SEQ`, with ` match address ACL` and ` set peer A`; the
//                   interfaces a map is applied to
// Everything else is skipped and counted: a block is a top-level line and the indented lines
// under it; banners (`banner motd ^C ... ^C`), certificates and keys (`certificate ...` /
// `key-string` ... `quit`) and macros (... `@`) are skipped whole whatever their text. A named list
// ends at the next top-level line that is not an entry.
//
// Problems belong to the list they were found in, so that a broken list elsewhere in the file does
// not block the one asked for (./ios-select.ts decides what is an error and what a warning).
import type { PolicyProblem } from '../errors.js';
import type { Entry, Family, Selector } from '../selector/types.js';
import { Cursor, LineFail, MAX_SEQUENCE, kw, parseBody, parseStandardBody, type EntryTemplate } from './cisco.js';
import { GroupResolver, MAX_LIST_SELECTORS, addGroupLine, groupKind, newGroup, type ObjectGroup } from './object-groups.js';
import { Problems, parseDecimal, splitLines, tokenize, type Token } from './problems.js';

export type ListKind = 'extended' | 'ipv6' | 'standard' | 'unusable';

/** One access list of the file with what was found wrong in it. */
export interface AccessList {
  readonly name: string;
  readonly kind: ListKind;
  readonly family: Family;
  /** Line of its first header or entry. */
  readonly line: number;
  /** Entries in evaluation order (empty when the list has problems). */
  readonly entries: readonly Entry[];
  /** Errors in this list (including those of object groups it uses). */
  readonly problems: Problems;
  /** Warnings in this list (netmasks where wildcards belong). */
  readonly warnings: readonly PolicyProblem[];
  /** For an unusable list: why (a MAC list, a role-based list, ...). */
  readonly reason?: string;
}

/** A crypto map entry (`crypto map M 10 ...`) or a dynamic map entry (`crypto dynamic-map D 10`). */
export interface CryptoMapEntry {
  readonly map: string;
  readonly sequence: number;
  readonly line: number;
  readonly dynamicMap: boolean;
  /** `ipsec-isakmp`, `ipsec-manual`, `gdoi`; '' for a dynamic map entry. */
  type: string;
  /** The dynamic map a static entry points to. */
  dynamic?: string;
  /** Marked for Tunnel Endpoint Discovery. */
  discover: boolean;
  /** The `match address` ACL and its line. */
  acl?: string;
  aclLine?: number;
  readonly peers: string[];
}

/** Lines not read, one item per skipped block: its first line, its text (shortened) and how many lines. */
export interface SkippedBlock {
  readonly line: number;
  readonly text: string;
  lines: number;
}

export interface IosConfig {
  readonly file: string;
  /** Every access list, in order of first appearance. */
  readonly lists: readonly AccessList[];
  /** Problems outside any list (an entry outside a list, a bad list number, ...). */
  readonly fileProblems: Problems;
  readonly groups: ReadonlyMap<string, ObjectGroup>;
  /** Static crypto map entries, in file order. */
  readonly cryptoMaps: readonly CryptoMapEntry[];
  readonly dynamicMaps: readonly CryptoMapEntry[];
  /** Interfaces each crypto map is applied to (` crypto map NAME` under `interface X`). */
  readonly interfaces: ReadonlyMap<string, string[]>;
  readonly skipped: readonly SkippedBlock[];
  /** Lines skipped in all (the sum over `skipped`). */
  readonly skippedLines: number;
}

interface RawEntry {
  readonly template: EntryTemplate;
  readonly action: 'permit' | 'deny';
  readonly sequence: number;
  readonly explicit: boolean;
  readonly line: number;
  /** Column of the sequence number (or of the action when it has none), for messages. */
  readonly column: number;
  /** The entry's words after the action, lower case: what `no permit ...` names. */
  readonly words: string;
}

interface RawList {
  readonly name: string;
  kind: ListKind;
  readonly family: Family;
  readonly line: number;
  entries: RawEntry[];
  lastSequence: number;
  problems: Problems;
  warnings: PolicyProblem[];
  reason?: string;
}

const MAX_WARNINGS = 100;
const SKIPPED_TEXT = 72;

export function isExtendedNumber(n: number): boolean {
  return (n >= 100 && n <= 199) || (n >= 2000 && n <= 2699);
}

export function isStandardNumber(n: number): boolean {
  return (n >= 1 && n <= 99) || (n >= 1300 && n <= 1999);
}

/** Numbered lists that are not IP lists, as IOS assigns the ranges. */
const OTHER_NUMBERED: [number, number, string][] = [
  [200, 299, 'a protocol type-code list (200-299)'],
  [300, 399, 'a DECnet list (300-399)'],
  [400, 499, 'an XNS list (400-499)'],
  [500, 599, 'an extended XNS list (500-599)'],
  [600, 699, 'an AppleTalk list (600-699)'],
  [700, 799, 'a MAC access list (700-799, 48-bit MAC addresses)'],
  [800, 899, 'an IPX list (800-899)'],
  [900, 999, 'an extended IPX list (900-999)'],
  [1000, 1099, 'an IPX SAP list (1000-1099)'],
  [1100, 1199, 'an extended MAC access list (1100-1199, 48-bit MAC addresses)'],
  [1200, 1299, 'an IPX summary list (1200-1299)'],
];

function otherNumbered(n: number): string | undefined {
  return OTHER_NUMBERED.find(([lo, hi]) => n >= lo && n <= hi)?.[2];
}

const isSeq = (t: Token | undefined) => t !== undefined && /^\d+$/.test(t.text);

/** `[SEQ | sequence SEQ] permit|deny|remark ...`: a line that belongs to an open list. */
function entryLineAction(toks: Token[]): string | undefined {
  let k = 0;
  if (isSeq(toks[0])) k = 1;
  else if (kw(toks[0]) === 'sequence' && isSeq(toks[1])) k = 2;
  const a = kw(toks[k]);
  return a === 'permit' || a === 'deny' || a === 'remark' ? a : undefined;
}

/** Reads a Cisco configuration. Never throws for bad content: problems are recorded where they belong. */
export function readIosConfig(text: string, file = '<input>'): IosConfig {
  const fileProblems = new Problems(file);
  const lists = new Map<string, RawList>();
  const groups = new Map<string, ObjectGroup>();
  const cryptoMaps: CryptoMapEntry[] = [];
  const dynamicMaps: CryptoMapEntry[] = [];
  const interfaces = new Map<string, string[]>();
  const skipped: SkippedBlock[] = [];
  let skippedLines = 0;

  type Block =
    | { kind: 'list'; list: RawList }
    | { kind: 'swallow' } // a refused list header: its entries are not reported one by one
    | { kind: 'group'; group: ObjectGroup }
    | { kind: 'crypto'; entry: CryptoMapEntry }
    | { kind: 'interface'; name: string; skip: SkippedBlock }
    | { kind: 'skip'; skip: SkippedBlock; certificates: boolean };
  let block: Block | undefined;
  /** Free text skipped up to a terminator: a banner's delimiter, `quit`, or `@`. */
  let raw: { until: string; skip: SkippedBlock } | undefined;

  const skipBlock = (lineNo: number, lineText: string): SkippedBlock => {
    const t = lineText.trim();
    const b: SkippedBlock = { line: lineNo, text: t.length > SKIPPED_TEXT ? t.slice(0, SKIPPED_TEXT - 3) + '...' : t, lines: 1 };
    skipped.push(b);
    skippedLines++;
    return b;
  };
  const skipMore = (b: SkippedBlock) => {
    b.lines++;
    skippedLines++;
  };

  const newList = (name: string, kind: ListKind, family: Family, line: number): RawList => {
    const l: RawList = { name, kind, family, line, entries: [], lastSequence: 0, problems: new Problems(file), warnings: [] };
    lists.set(name, l);
    return l;
  };
  /** The list NAME of this kind, made on first use; undefined (and a problem) when NAME is a list of another family. */
  const listFor = (name: string, kind: ListKind, family: Family, line: number, tok: Token): RawList | undefined => {
    const l = lists.get(name);
    if (!l) return newList(name, kind, family, line);
    if (l.family !== family || (l.kind === 'standard') !== (kind === 'standard')) {
      const what = (x: { kind: ListKind; family: Family }) => (x.kind === 'standard' ? 'a standard' : `an IPv${x.family}`);
      l.problems.add('POLICY_ACL_FAMILY_CONFLICT', `access list ${name} is already ${what(l)} list (line ${l.line})`, line, tok.column, tok.text, 'a different name');
      return undefined;
    }
    return l;
  };
  const unusable = (name: string, reason: string, line: number, tok: Token | undefined) => {
    const l = lists.get(name) ?? newList(name, 'unusable', 4, line);
    if (l.kind !== 'unusable') return;
    if (!l.reason) {
      l.reason = reason;
      l.problems.add('POLICY_UNSUPPORTED', `access list ${name} is ${reason}, not an IP access list a crypto map can use`, line, tok?.column ?? 1, tok?.text, 'an extended IP access list');
    }
  };
  const fail = (p: Problems, e: LineFail, lineNo: number, lineText: string) =>
    p.add(e.code, e.message, lineNo, e.token?.column ?? lineText.length + 1, e.token?.text ?? '<end of line>', e.expected);
  const warn = (list: RawList, e: LineFail, lineNo: number) => {
    if (list.warnings.length < MAX_WARNINGS) list.warnings.push({ code: e.code, message: e.message, file, line: lineNo, column: e.token?.column ?? 1, ...(e.token ? { token: e.token.text } : {}), expected: e.expected });
  };

  /** An entry line of `list`: `[SEQ] permit|deny|remark ...`, `no SEQ`, `exit`, ... */
  const listLine = (list: RawList, toks: Token[], lineNo: number, lineText: string): void => {
    let k = 0;
    let sequence: { value: number; token: Token } | undefined;
    const w0 = kw(toks[0]);
    if (w0 === 'no') {
      // ` no 10` / ` no permit ...`: delete an entry, as when editing a list.
      const what = toks[1];
      if (isSeq(what)) list.entries = list.entries.filter((e) => e.sequence !== Number(what!.text));
      else {
        const words = toks.slice(2).map((t) => t.text.toLowerCase()).join(' ');
        const act = kw(what);
        if (act !== 'permit' && act !== 'deny' && act !== 'remark') throw new LineFail('POLICY_SYNTAX', "expected a sequence number or an entry after 'no'", what, "'no SEQ' or 'no permit ...'");
        list.entries = list.entries.filter((e) => !(e.action === act && e.words === words));
      }
      return;
    }
    if (isSeq(toks[0]) || (w0 === 'sequence' && list.family === 6)) {
      const seqTok = w0 === 'sequence' ? toks[++k] : toks[0];
      const v = seqTok ? parseDecimal(seqTok.text, 1, MAX_SEQUENCE) : undefined;
      if (v === undefined) throw new LineFail('POLICY_BAD_SEQUENCE', 'bad sequence number', seqTok, `a sequence number 1-${MAX_SEQUENCE}`);
      sequence = { value: v, token: seqTok! };
      k++;
    }
    const act = kw(toks[k]);
    if (act === 'remark') return;
    if (act === 'permit' || act === 'deny') return addEntry(list, toks.slice(k), lineNo, sequence);
    if ((act === 'exit' || act === 'end') && toks.length === k + 1 && !sequence) {
      block = undefined;
      return;
    }
    if (act === 'statistics' && !sequence) return; // `statistics per-entry`: counters only
    if (act === 'evaluate') throw new LineFail('POLICY_UNSUPPORTED', 'reflexive access lists are not supported', toks[k], "'permit', 'deny' or 'remark'");
    if (act === 'dynamic') throw new LineFail('POLICY_UNSUPPORTED', 'dynamic access list entries are not supported', toks[k], "'permit', 'deny' or 'remark'");
    throw new LineFail('POLICY_SYNTAX', 'expected an entry', toks[k], "'permit', 'deny' or 'remark'");
  };

  const addEntry = (list: RawList, toks: Token[], lineNo: number, sequence: { value: number; token: Token } | undefined) => {
    const actTok = toks[0]!;
    const action = actTok.text.toLowerCase() as 'permit' | 'deny';
    const c = new Cursor(toks.slice(1));
    let template: EntryTemplate;
    let trailing: { value: number; token: Token } | undefined;
    if (list.kind === 'standard') template = parseStandardBody(c);
    else ({ template, trailingSequence: trailing } = parseBody(c, list.family));
    if (sequence && trailing) c.fail('POLICY_BAD_SEQUENCE', 'two sequence numbers on one entry', trailing.token, 'one sequence number');
    const explicit = sequence ?? trailing;
    // IOS numbers an entry without a sequence number 10 past the last one added.
    const seq = explicit ? explicit.value : list.lastSequence + 10;
    if (seq > MAX_SEQUENCE) c.fail('POLICY_BAD_SEQUENCE', 'implicit sequence number past the maximum', actTok, 'explicit sequence numbers');
    list.lastSequence = Math.max(list.lastSequence, seq);
    for (const w of c.warnings) warn(list, w, lineNo);
    const words = toks.slice(1).map((t) => t.text.toLowerCase()).join(' ');
    list.entries.push({ template, action, sequence: seq, explicit: explicit !== undefined, line: lineNo, column: explicit?.token.column ?? actTok.column, words });
  };

  /** `access-list N ...` */
  const numberedLine = (toks: Token[], lineNo: number, lineText: string) => {
    block = undefined;
    const numTok = toks[1];
    const n = numTok ? parseDecimal(numTok.text, 1, 2699) : undefined;
    if (n === undefined) throw new LineFail('POLICY_BAD_ACL_NUMBER', 'bad access list number', numTok, 'an extended list number 100-199 or 2000-2699');
    const name = String(n);
    const other = otherNumbered(n);
    if (other) return unusable(name, other, lineNo, numTok);
    const standard = isStandardNumber(n);
    const list = listFor(name, standard ? 'standard' : 'extended', 4, lineNo, numTok!);
    if (!list) return;
    const w2 = kw(toks[2]);
    try {
      if (w2 === 'remark') return;
      if (w2 === 'permit' || w2 === 'deny') return addEntry(list, toks.slice(2), lineNo, undefined);
      if (w2 === 'dynamic') throw new LineFail('POLICY_UNSUPPORTED', 'dynamic access list entries are not supported', toks[2], "'permit', 'deny' or 'remark'");
      throw new LineFail('POLICY_SYNTAX', toks[2] ? 'expected an action' : 'missing action', toks[2], "'permit', 'deny' or 'remark'");
    } catch (e) {
      if (!(e instanceof LineFail)) throw e;
      fail(list.problems, e, lineNo, lineText);
    }
  };

  /** `ip access-list KIND NAME`, `ipv6 access-list NAME`, `mac access-list extended NAME`. */
  const namedHeader = (toks: Token[], lineNo: number): boolean => {
    const w0 = kw(toks[0]);
    if (kw(toks[1]) !== 'access-list') return false;
    if (w0 === 'mac') {
      const nameTok = toks[3] ?? toks[2];
      if (nameTok) unusable(nameTok.text, 'a MAC access list', lineNo, nameTok);
      block = { kind: 'swallow' };
      return true;
    }
    let family: Family;
    let kind: ListKind;
    let nameTok: Token | undefined;
    let extra: Token | undefined;
    if (w0 === 'ip') {
      const k = kw(toks[2]);
      if (k === 'role-based' || k === 'fqdn') {
        const n = toks[3];
        if (n) unusable(n.text, k === 'role-based' ? 'a role-based (TrustSec) access list' : 'an FQDN access list', lineNo, toks[2]);
        block = { kind: 'swallow' };
        return true;
      }
      // Other `ip access-list ...` commands (resequence, logging, persistent, ...) are global settings.
      if (k !== 'extended' && k !== 'standard') return false;
      family = 4;
      kind = k;
      nameTok = toks[3];
      extra = toks[4];
    } else if (w0 === 'ipv6') {
      // `ipv6 access-list log-update threshold N` and the like are global settings.
      if (toks.length > 3) return false;
      family = 6;
      kind = 'ipv6';
      nameTok = toks[2];
    } else return false;
    block = { kind: 'swallow' };
    if (!nameTok) throw new LineFail('POLICY_SYNTAX', 'missing access list name', undefined, 'a list name');
    if (/^\d+$/.test(nameTok.text)) {
      const n = Number(nameTok.text);
      const ok = family === 4 && (kind === 'standard' ? isStandardNumber(n) : isExtendedNumber(n));
      if (!ok)
        throw new LineFail('POLICY_BAD_ACL_NUMBER', `a numeric list name must be ${kind === 'standard' ? 'a standard' : 'an extended'} list number`, nameTok, family === 6 ? 'a name that starts with a letter' : kind === 'standard' ? '1-99 or 1300-1999, or a name' : '100-199 or 2000-2699, or a name');
    }
    const list = listFor(nameTok.text, kind, family, lineNo, nameTok);
    if (!list) return true;
    block = { kind: 'list', list };
    if (extra) list.problems.add('POLICY_SYNTAX', 'unexpected text after the list name', lineNo, extra.column, extra.text, 'end of line');
    return true;
  };

  /** `no ...` at the top level: the forms that clear something we read. */
  const noLine = (toks: Token[], lineNo: number, lineText: string) => {
    const rest = toks.slice(1);
    const w = rest.map((t) => t.text.toLowerCase());
    let name: string | undefined;
    if (w[0] === 'access-list' && rest[1]) name = rest[1].text;
    else if (w[0] === 'ip' && w[1] === 'access-list' && (w[2] === 'extended' || w[2] === 'standard') && rest[3]) name = rest[3].text;
    else if (w[0] === 'ipv6' && w[1] === 'access-list' && rest.length === 3) name = rest[2]!.text;
    if (name !== undefined) {
      lists.delete(name);
      return;
    }
    if (w[0] === 'object-group') {
      const g = groupKind(rest.slice(1));
      const n = rest[1 + g.nameAt];
      if (n) groups.delete(n.text);
      return;
    }
    if (w[0] === 'crypto' && (w[1] === 'map' || w[1] === 'dynamic-map') && rest[2]) {
      const from = w[1] === 'map' ? cryptoMaps : dynamicMaps;
      const seq = rest[3] && isSeq(rest[3]) ? Number(rest[3].text) : undefined;
      for (let i = from.length - 1; i >= 0; i--) if (from[i]!.map === rest[2]!.text && (seq === undefined || from[i]!.sequence === seq)) from.splice(i, 1);
      return;
    }
    block = { kind: 'skip', skip: skipBlock(lineNo, lineText), certificates: false };
  };

  /** `crypto map NAME SEQ TYPE [dynamic D] [discover] ...` and `crypto dynamic-map NAME SEQ`. */
  const cryptoHeader = (toks: Token[], lineNo: number): boolean => {
    const w1 = kw(toks[1]);
    if ((w1 !== 'map' && w1 !== 'dynamic-map') || !toks[2] || !isSeq(toks[3])) return false;
    const dynamicMap = w1 === 'dynamic-map';
    const map = toks[2].text;
    const sequence = Number(toks[3].text);
    const list = dynamicMap ? dynamicMaps : cryptoMaps;
    let entry = list.find((e) => e.map === map && e.sequence === sequence);
    if (!entry) {
      entry = { map, sequence, line: lineNo, dynamicMap, type: '', discover: false, peers: [] };
      list.push(entry);
    }
    if (!dynamicMap) {
      const words = toks.slice(4).map((t) => t.text.toLowerCase());
      if (words[0]) entry.type = words[0];
      const d = words.indexOf('dynamic');
      if (d >= 0 && toks[4 + d + 1]) entry.dynamic = toks[4 + d + 1]!.text;
      if (words.includes('discover')) entry.discover = true;
    }
    block = { kind: 'crypto', entry };
    return true;
  };

  /** An indented line under a block we read, or skip. */
  const subLine = (b: Block, toks: Token[], lineNo: number, lineText: string) => {
    const w0 = kw(toks[0]);
    switch (b.kind) {
      case 'group':
        return addGroupLine(b.group, toks, lineNo);
      case 'crypto': {
        if (w0 === 'match' && kw(toks[1]) === 'address' && toks[2]) {
          b.entry.acl = toks[2].text;
          b.entry.aclLine = lineNo;
        } else if (w0 === 'set' && kw(toks[1]) === 'peer' && toks[2]) b.entry.peers.push(toks[2].text);
        return;
      }
      case 'interface':
        skipMore(b.skip);
        if (w0 === 'crypto' && kw(toks[1]) === 'map' && toks[2] && toks.length === 3) {
          const on = interfaces.get(toks[2].text) ?? [];
          if (!on.includes(b.name)) on.push(b.name);
          interfaces.set(toks[2].text, on);
        }
        return;
      case 'skip':
        skipMore(b.skip);
        // Hex data of a certificate or a key, up to `quit`, whatever its indentation.
        if ((b.certificates && w0 === 'certificate') || (w0 === 'key-string' && toks.length === 1)) raw = { until: 'quit', skip: b.skip };
        return;
      case 'swallow':
        if (w0 === 'exit' || w0 === 'end') block = undefined;
        return;
      case 'list':
        return listLine(b.list, toks, lineNo, lineText);
    }
  };

  const topLine = (toks: Token[], lineNo: number, lineText: string) => {
    const w0 = kw(toks[0])!;
    block = undefined;
    if (w0 === 'access-list') return numberedLine(toks, lineNo, lineText);
    if (w0 === 'no') return noLine(toks, lineNo, lineText);
    if (namedHeader(toks, lineNo)) return;
    if (w0 === 'object-group' && toks.length >= 3) {
      const g = groupKind(toks.slice(1));
      const nameTok = toks[1 + g.nameAt];
      if (nameTok) {
        const existing = groups.get(nameTok.text);
        const group = existing && existing.kind === g.kind && existing.type === g.type ? existing : newGroup(nameTok.text, g.kind, g.type, lineNo);
        groups.set(nameTok.text, group);
        block = { kind: 'group', group };
        return;
      }
    }
    if (w0 === 'crypto' && cryptoHeader(toks, lineNo)) return;
    if (entryLineAction(toks)) throw new LineFail('POLICY_ENTRY_OUTSIDE_ACL', 'entry outside an access list', toks.find((t) => !isSeq(t) && kw(t) !== 'sequence'), "'ip access-list extended NAME' or 'ipv6 access-list NAME' before it");
    const skip = skipBlock(lineNo, lineText);
    if (w0 === 'banner') {
      // `banner [TYPE] DELIM text DELIM`: DELIM is the first character after the type, which
      // show running-config prints as ^C (two characters).
      const BANNER_TYPES = ['motd', 'login', 'exec', 'incoming', 'slip-ppp', 'prompt-timeout', 'config-save'];
      const typed = BANNER_TYPES.includes(kw(toks[1]) ?? '');
      const start = toks[typed ? 2 : 1];
      if (start) {
        const rest = lineText.slice(start.column - 1);
        const delim = rest.startsWith('^') && rest.length > 1 ? rest.slice(0, 2) : rest[0]!;
        if (!rest.slice(delim.length).includes(delim)) raw = { until: delim, skip };
      }
      return;
    }
    if (w0 === 'macro' && kw(toks[1]) === 'name') {
      raw = { until: '@', skip };
      return;
    }
    if (w0 === 'interface' && toks[1]) {
      block = { kind: 'interface', name: toks.slice(1).map((t) => t.text).join(' '), skip };
      return;
    }
    const chain = w0 === 'crypto' && (kw(toks[1]) === 'pki' || kw(toks[1]) === 'ca') && kw(toks[2]) === 'certificate' && kw(toks[3]) === 'chain';
    block = { kind: 'skip', skip, certificates: chain };
  };

  const lines = splitLines(text);
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const lineText = lines[i]!;
    if (raw) {
      skipMore(raw.skip);
      if (raw.until === 'quit' || raw.until === '@' ? lineText.trim() === raw.until : lineText.includes(raw.until)) raw = undefined;
      continue;
    }
    const toks = tokenize(lineText);
    if (toks.length === 0 || toks[0]!.text.startsWith('!')) continue;
    const indented = /^\s/.test(lineText);
    const b = block;
    try {
      if (b && (b.kind === 'list' || b.kind === 'swallow') && (indented || entryLineAction(toks) || kw(toks[0]) === 'exit' || (isSeq(toks[0]) && toks.length > 1))) subLine(b, toks, lineNo, lineText);
      else if (b && b.kind !== 'list' && b.kind !== 'swallow' && indented) subLine(b, toks, lineNo, lineText);
      else if (indented && !b && !entryLineAction(toks) && kw(toks[0]) !== 'exit') skipBlock(lineNo, lineText);
      else topLine(toks, lineNo, lineText);
    } catch (e) {
      if (!(e instanceof LineFail)) throw e;
      // A problem belongs to the open list, else to the file.
      fail(block?.kind === 'list' ? block.list.problems : fileProblems, e, lineNo, lineText);
    }
  }

  return {
    file,
    lists: [...lists.values()].map((l) => finishList(l, groups, file)),
    fileProblems,
    groups,
    cryptoMaps,
    dynamicMaps,
    interfaces,
    skipped,
    skippedLines,
  };
}

/** Expands object groups, orders by sequence number, checks duplicates, numbers the entries. */
function finishList(l: RawList, groups: ReadonlyMap<string, ObjectGroup>, file: string): AccessList {
  const resolver = new GroupResolver(groups);
  const warnings = [...l.warnings];
  const reported = new Set<string>();
  const expanded: { raw: RawEntry; selectors: readonly Selector[] }[] = [];
  let total = 0;
  for (const r of l.entries) {
    try {
      const selectors = resolver.expand(r.template);
      total += selectors.length;
      if (total > MAX_LIST_SELECTORS) {
        l.problems.add('POLICY_OBJECT_GROUP_TOO_LARGE', `the list expands to more than ${MAX_LIST_SELECTORS} selectors`, r.line, r.column, undefined, 'smaller object groups');
        break;
      }
      expanded.push({ raw: r, selectors });
    } catch (e) {
      if (!(e instanceof LineFail)) throw e;
      l.problems.add(e.code, e.message, r.line, e.token?.column ?? 1, e.token?.text, e.expected);
    }
    // Problems and warnings inside the groups an entry uses belong to the list too (once each).
    for (const ref of [r.template.protocol, r.template.src, r.template.dst])
      if (typeof ref === 'object' && 'group' in ref)
        for (const name of resolver.closure(ref.group)) {
          if (reported.has(name)) continue;
          reported.add(name);
          const g = groups.get(name)!;
          for (const p of g.problems) l.problems.add(p.fail.code, `object group '${name}': ${p.fail.message}`, p.line, p.fail.token?.column ?? 1, p.fail.token?.text ?? '<end of line>', p.fail.expected);
          for (const p of g.warnings)
            if (warnings.length < MAX_WARNINGS) warnings.push({ code: p.fail.code, message: `object group '${name}': ${p.fail.message}`, file, line: p.line, column: p.fail.token?.column ?? 1, ...(p.fail.token ? { token: p.fail.token.text } : {}), expected: p.fail.expected });
        }
  }
  const sorted = [...expanded].sort((a, b) => a.raw.sequence - b.raw.sequence || a.raw.line - b.raw.line);
  for (let j = 1; j < sorted.length; j++) {
    const a = sorted[j - 1]!.raw;
    const b = sorted[j]!.raw;
    if (a.sequence === b.sequence) {
      const later = a.line > b.line ? a : b;
      const earlier = later === a ? b : a;
      const how = earlier.explicit ? '' : ' (given implicitly: 10 past the previous entry)';
      l.problems.add('POLICY_DUPLICATE_SEQUENCE', `sequence number ${b.sequence} is already used on line ${earlier.line}${how}`, later.line, later.column, String(b.sequence), 'a sequence number not used in this list');
    }
  }
  const entries: Entry[] = l.problems.count > 0 ? [] : sorted.map(({ raw: r, selectors }, idx) => ({
    ...selectors[0]!,
    ordinal: idx + 1,
    action: r.action,
    ...(r.explicit ? { sequence: r.sequence } : {}),
    line: r.line,
    ...(selectors.length > 1 ? { selectors } : {}),
  }));
  warnings.sort((a, b) => a.line - b.line || a.column - b.column);
  return { name: l.name, kind: l.kind, family: l.family, line: l.line, entries, problems: l.problems, warnings, ...(l.reason ? { reason: l.reason } : {}) };
}
