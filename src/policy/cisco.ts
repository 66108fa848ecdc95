// Cisco IOS extended access lists: numbered (`access-list 101 permit ...`), named
// (`ip access-list extended NAME` + entries) and IPv6 (`ipv6 access-list NAME` + entries), with
// optional sequence numbers, remarks and `!` comments. Several lists may share a file.
//
// Anything that would change which packets an entry covers and that a selector cannot express
// (established, fragments, dscp, ICMP types, object groups, ...) is refused with a clear error
// rather than ignored: ignoring it would silently widen a crypto ACL.
import { address, portSet } from '../selector/algebra.js';
import { parseIPv4, parseIPv6, prefixMask } from '../selector/address.js';
import type { Action, Address, Entry, Family, PortSet, Policy, Selector } from '../selector/types.js';
import { FULL_PORTS, allOnes } from '../selector/types.js';
import { Problems, parseDecimal, splitLines, tokenize, type Token } from './problems.js';
import { PROTOCOLS_V4, PROTOCOLS_V6, TCP, UDP, lookupPort, portTable } from './services.js';

const MAX_SEQUENCE = 2147483647;
const NOT_SUPPORTED_OPTIONS = new Set([
  'established', 'fragments', 'dscp', 'precedence', 'tos', 'time-range', 'ttl', 'option', 'reflect',
  'match-all', 'match-any', 'psh', 'ack', 'fin', 'rst', 'syn', 'urg', 'flow-label', 'routing',
  'routing-type', 'hbh', 'dest-option', 'mobility', 'mobility-type', 'auth', 'undetermined-transport',
]);

/** A located syntax failure inside one line; turned into a problem by the line loop. */
class LineFail {
  constructor(
    readonly code: string,
    readonly message: string,
    readonly token: Token | undefined,
    readonly expected: string,
  ) {}
}

/** Reads the tokens of one entry (after the action) left to right. */
class Cursor {
  private k = 0;
  constructor(
    readonly toks: Token[],
    readonly endColumn: number,
  ) {}
  peek(): Token | undefined {
    return this.toks[this.k];
  }
  next(): Token | undefined {
    return this.toks[this.k++];
  }
  fail(code: string, message: string, tok: Token | undefined, expected: string): never {
    throw new LineFail(code, message, tok, expected);
  }
  need(expected: string, what: string): Token {
    const t = this.next();
    if (!t) this.fail('POLICY_SYNTAX', `missing ${what}`, undefined, expected);
    return t;
  }
}

const kw = (t: Token | undefined) => t?.text.toLowerCase();

function parseProtocol(c: Cursor, family: Family): number {
  const t = c.need(family === 4 ? "a protocol: ip, tcp, udp, icmp, esp, ahp, gre, sctp or 0-255" : 'a protocol: ipv6, tcp, udp, icmp, esp, ahp, sctp or 0-255', 'protocol');
  const name = t.text.toLowerCase();
  const table = family === 4 ? PROTOCOLS_V4 : PROTOCOLS_V6;
  const known = table[name];
  if (known !== undefined) return known;
  if (/^\d+$/.test(name)) {
    const n = parseDecimal(name, 0, 255);
    if (n === undefined) c.fail('POLICY_BAD_PROTOCOL', 'protocol number out of range', t, 'a protocol number 0-255');
    return n;
  }
  if (family === 6 && name === 'ip') c.fail('POLICY_BAD_PROTOCOL', "'ip' is not a protocol in an IPv6 list", t, "'ipv6' for any protocol");
  if (family === 4 && name === 'ipv6') c.fail('POLICY_BAD_PROTOCOL', "'ipv6' is not a protocol in an IPv4 list", t, "'ip' for any protocol");
  if (name === 'object-group') c.fail('POLICY_UNSUPPORTED', 'service object groups are not supported', t, 'a protocol keyword or number');
  return c.fail('POLICY_BAD_PROTOCOL', 'unknown protocol', t, `one of ${Object.keys(table).join(', ')}, or a number 0-255`);
}

function parseAddress(c: Cursor, family: Family, what: string): Address {
  const expected = family === 4 ? "'any', 'host A.B.C.D', 'A.B.C.D WILDCARD' or 'A.B.C.D/len'" : "'any', 'host X:X::X' or 'X:X::X/len'";
  const t = c.need(expected, `${what} address`);
  const word = t.text.toLowerCase();
  const ones = allOnes(family);
  if (word === 'any') return { value: 0n, care: 0n };
  if (word === 'object-group' || word === 'addrgroup') c.fail('POLICY_UNSUPPORTED', 'object groups are not supported', t, expected);
  if (word === 'host') {
    const h = c.need(family === 4 ? 'an IPv4 address' : 'an IPv6 address', `${what} host address`);
    const v = family === 4 ? parseIPv4(h.text) : parseIPv6(h.text);
    if (v === undefined) familyFail(c, h, family, `bad ${what} host address`);
    return { value: v, care: ones };
  }
  const slash = t.text.indexOf('/');
  if (slash >= 0) {
    const v = family === 4 ? parseIPv4(t.text.slice(0, slash)) : parseIPv6(t.text.slice(0, slash));
    if (v === undefined) familyFail(c, t, family, `bad ${what} address`);
    const len = parseDecimal(t.text.slice(slash + 1), 0, family === 4 ? 32 : 128);
    if (len === undefined) c.fail('POLICY_BAD_PREFIX', `bad ${what} prefix length`, t, `a prefix length 0-${family === 4 ? 32 : 128}`);
    return address(v, prefixMask(family, len));
  }
  if (family === 6) {
    if (parseIPv6(t.text) !== undefined) c.fail('POLICY_BAD_PREFIX', `${what} address without a prefix length`, t, "'X:X::X/len' or 'host X:X::X'");
    familyFail(c, t, family, `bad ${what} address`);
  }
  const v = parseIPv4(t.text);
  if (v === undefined) familyFail(c, t, family, `bad ${what} address`);
  const w = c.next();
  const wild = w ? parseIPv4(w.text) : undefined;
  if (wild === undefined) c.fail('POLICY_BAD_WILDCARD', `${what} address needs a wildcard mask`, w, "a wildcard mask such as 0.0.0.255 (1 bits = don't care)");
  // Wildcard bits are "don't care": bits of the address under them are ignored.
  return address(v, ~wild & ones);
}

function familyFail(c: Cursor, t: Token, family: Family, message: string): never {
  if (family === 4 && parseIPv6(t.text.split('/')[0]!) !== undefined)
    c.fail('POLICY_FAMILY_MISMATCH', 'IPv6 address in an IPv4 access list', t, 'an IPv4 address (use an ipv6 access-list for IPv6)');
  if (family === 6 && parseIPv4(t.text.split('/')[0]!) !== undefined)
    c.fail('POLICY_FAMILY_MISMATCH', 'IPv4 address in an IPv6 access list', t, 'an IPv6 address');
  return c.fail('POLICY_BAD_ADDRESS', message, t, family === 4 ? "'any', 'host', or an IPv4 address" : "'any', 'host', or an IPv6 prefix X:X::X/len");
}

const PORT_OPS = new Set(['eq', 'neq', 'lt', 'gt', 'range']);

function parsePortValue(c: Cursor, protocol: number, what: string): number {
  const names = protocol === TCP ? 'TCP' : 'UDP';
  const expected = `a port number 0-65535 or a ${names} service name`;
  const t = c.need(expected, `${what} port`);
  const n = lookupPort(protocol, t.text);
  if (n === undefined) {
    if (/^\d+$/.test(t.text)) c.fail('POLICY_BAD_PORT', 'port number out of range', t, 'a port number 0-65535');
    const other = protocol === TCP ? UDP : TCP;
    const hint = portTable(other)?.[t.text.toLowerCase()] !== undefined ? ` (it is a ${names === 'TCP' ? 'UDP' : 'TCP'} service name)` : '';
    c.fail('POLICY_BAD_PORT', `unknown ${names} service name${hint}`, t, expected);
  }
  return n;
}

/** An optional port condition; FULL_PORTS when the next token is not a port operator. */
function parsePorts(c: Cursor, protocol: number, what: string): PortSet {
  const op = kw(c.peek());
  if (op === undefined || !PORT_OPS.has(op)) return FULL_PORTS;
  const opTok = c.next()!;
  if (protocol !== TCP && protocol !== UDP)
    c.fail('POLICY_PORT_NOT_ALLOWED', 'port conditions are allowed only after a tcp or udp address', opTok, "the protocol 'tcp' or 'udp', or no port condition");
  const p = parsePortValue(c, protocol, what);
  switch (op) {
    case 'eq':
      return portSet([{ lo: p, hi: p }]);
    case 'neq':
      return portSet([{ lo: 0, hi: p - 1 }, { lo: p + 1, hi: 65535 }]);
    case 'lt':
      if (p === 0) c.fail('POLICY_EMPTY_PORT_SET', "'lt 0' matches no port", opTok, 'lt 1-65535');
      return portSet([{ lo: 0, hi: p - 1 }]);
    case 'gt':
      if (p === 65535) c.fail('POLICY_EMPTY_PORT_SET', "'gt 65535' matches no port", opTok, 'gt 0-65534');
      return portSet([{ lo: p + 1, hi: 65535 }]);
    default: {
      const hiTok = c.peek();
      const hi = parsePortValue(c, protocol, `${what} range end`);
      if (p > hi) c.fail('POLICY_BAD_PORT_RANGE', `port range is empty (${p} > ${hi})`, hiTok, `a range end >= ${p}`);
      return portSet([{ lo: p, hi }]);
    }
  }
}

/** The selector of an entry body: `PROTOCOL SRC [PORTS] DST [PORTS] [log]`. */
function parseBody(c: Cursor, family: Family): { selector: Selector; trailingSequence?: { value: number; token: Token } } {
  const protocol = parseProtocol(c, family);
  const src = parseAddress(c, family, 'source');
  const sport = parsePorts(c, protocol, 'source');
  const dst = parseAddress(c, family, 'destination');
  const dport = parsePorts(c, protocol, 'destination');
  let trailingSequence: { value: number; token: Token } | undefined;
  for (let t = c.next(); t; t = c.next()) {
    const word = t.text.toLowerCase();
    if (word === 'log' || word === 'log-input') {
      // `log [cookie]`: logging does not change what the entry covers.
      const cookie = c.peek();
      const ck = kw(cookie);
      if (ck !== undefined && !['log', 'log-input', 'sequence'].includes(ck) && !NOT_SUPPORTED_OPTIONS.has(ck) && !PORT_OPS.has(ck)) c.next();
      continue;
    }
    if (word === 'sequence' && family === 6) {
      // IPv6 lists put the sequence number at the end of the entry.
      const n = c.next();
      const v = n ? parseDecimal(n.text, 1, MAX_SEQUENCE) : undefined;
      if (v === undefined) c.fail('POLICY_BAD_SEQUENCE', 'bad sequence number', n, `a sequence number 1-${MAX_SEQUENCE}`);
      trailingSequence = { value: v, token: n! };
      continue;
    }
    if (PORT_OPS.has(word)) {
      if (protocol !== TCP && protocol !== UDP)
        c.fail('POLICY_PORT_NOT_ALLOWED', 'port conditions are allowed only after a tcp or udp address', t, "the protocol 'tcp' or 'udp', or no port condition");
      c.fail('POLICY_SYNTAX', 'port condition in the wrong place', t, 'port conditions right after the source or destination address');
    }
    if (NOT_SUPPORTED_OPTIONS.has(word) || ((protocol === 1 || protocol === 58) && /^[a-z0-9-]+$/.test(word)))
      c.fail('POLICY_UNSUPPORTED', `'${t.text}' would narrow the entry in a way a selector cannot express`, t, "end of entry or 'log'");
    c.fail('POLICY_SYNTAX', 'unexpected text after the entry', t, "end of entry or 'log'");
  }
  return { selector: { family, protocol, src, dst, sport, dport }, trailingSequence };
}

/** The family an entry line implies: its first `ip`/`ipv6` keyword or address; undefined for e.g. `tcp any any`. */
export function inferEntryFamily(text: string): Family | undefined {
  for (const t of text.trim().split(/\s+/)) {
    const w = t.toLowerCase();
    if (w === 'ipv6') return 6;
    if (w === 'ip') return 4;
    if (w.includes(':') && parseIPv6(w.split('/')[0]!) !== undefined) return 6;
    if (parseIPv4(w.split('/')[0]!) !== undefined && w.includes('.')) return 4;
  }
  return undefined;
}

export interface ParsedEntryLine {
  readonly action: Action;
  /** False when the text had no leading permit/deny. */
  readonly hasAction: boolean;
  readonly selector: Selector;
}

/**
 * One entry in Cisco syntax, action optional (`permit tcp any host 10.0.0.1 eq 22`,
 * `ip 10.0.0.0 0.0.0.255 any`); a leading `access-list N` or sequence number is ignored. Family from `family`, else inferred (IPv6 when an IPv6 address or
 * `ipv6` appears, else IPv4). Throws PolicyError.
 */
export function parseEntry(text: string, opts: { family?: Family; file?: string } = {}): ParsedEntryLine {
  const problems = new Problems(opts.file ?? '<entry>');
  const family = opts.family ?? inferEntryFamily(text) ?? 4;
  const toks = tokenize(text);
  // A line pasted from a configuration: drop `access-list N` or a leading sequence number.
  if (kw(toks[0]) === 'access-list' && toks.length > 2 && /^\d+$/.test(toks[1]!.text)) toks.splice(0, 2);
  if (toks.length > 1 && /^\d+$/.test(toks[0]!.text) && ['permit', 'deny'].includes(kw(toks[1])!)) toks.shift();
  let action: Action = 'permit';
  let hasAction = false;
  const first = kw(toks[0]);
  if (first === 'permit' || first === 'deny') {
    action = first;
    hasAction = true;
    toks.shift();
  }
  const c = new Cursor(toks, text.length + 1);
  try {
    if (toks.length === 0) c.fail('POLICY_SYNTAX', 'empty entry', undefined, "an entry such as 'permit ip any any'");
    const { selector, trailingSequence } = parseBody(c, family);
    if (trailingSequence) c.fail('POLICY_SYNTAX', 'a sequence number is not part of a single entry', trailingSequence.token, 'end of entry');
    return { action, hasAction, selector };
  } catch (e) {
    if (!(e instanceof LineFail)) throw e;
    problems.add(e.code, e.message, 1, e.token?.column ?? text.length + 1, e.token?.text ?? '<end of line>', e.expected);
    problems.throwIfAny();
    throw e; // unreachable
  }
}

interface RawEntry {
  readonly selector: Selector;
  readonly action: Action;
  readonly sequence: number;
  readonly explicit: boolean;
  readonly line: number;
  /** Column of the sequence number (or of the action when it has none), for messages. */
  readonly column: number;
}

interface RawAcl {
  readonly name: string;
  readonly family: Family;
  readonly line: number;
  readonly entries: RawEntry[];
  lastSequence: number;
}

/** One access list of a Cisco file, with where it starts. */
export interface CiscoAcl extends Policy {
  /** Line of the first header or entry of this list. */
  readonly line: number;
}

function isExtendedNumber(n: number): boolean {
  return (n >= 100 && n <= 199) || (n >= 2000 && n <= 2699);
}

function isStandardNumber(n: number): boolean {
  return (n >= 1 && n <= 99) || (n >= 1300 && n <= 1999);
}

/** Every access list in a Cisco file, in order of first appearance. Throws PolicyError. */
export function parseCiscoAcls(text: string, file = '<input>'): CiscoAcl[] {
  const problems = new Problems(file);
  const acls = new Map<string, RawAcl>();
  let current: RawAcl | undefined;
  const lines = splitLines(text);

  const aclFor = (name: string, family: Family, line: number, tok: Token): RawAcl | undefined => {
    const existing = acls.get(name);
    if (existing) {
      if (existing.family !== family) {
        problems.add('POLICY_ACL_FAMILY_CONFLICT', `access list ${name} is already an IPv${existing.family} list (line ${existing.line})`, line, tok.column, tok.text, 'a different name');
        return undefined;
      }
      return existing;
    }
    const acl: RawAcl = { name, family, line, entries: [], lastSequence: 0 };
    acls.set(name, acl);
    return acl;
  };

  const addEntry = (acl: RawAcl, toks: Token[], lineNo: number, lineText: string, sequence: { value: number; token: Token } | undefined) => {
    const actTok = toks[0]!;
    const action = actTok.text.toLowerCase() as Action;
    const c = new Cursor(toks.slice(1), lineText.length + 1);
    const { selector, trailingSequence } = parseBody(c, acl.family);
    if (sequence && trailingSequence) c.fail('POLICY_BAD_SEQUENCE', 'two sequence numbers on one entry', trailingSequence.token, 'one sequence number');
    const explicit = sequence ?? trailingSequence;
    // IOS numbers an entry without a sequence number 10 past the last one added.
    const seq = explicit ? explicit.value : acl.lastSequence + 10;
    if (seq > MAX_SEQUENCE) c.fail('POLICY_BAD_SEQUENCE', 'implicit sequence number past the maximum', actTok, 'explicit sequence numbers');
    acl.lastSequence = Math.max(acl.lastSequence, seq);
    acl.entries.push({ selector, action, sequence: seq, explicit: explicit !== undefined, line: lineNo, column: explicit?.token.column ?? actTok.column });
  };

  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const lineText = lines[i]!;
    const toks = tokenize(lineText);
    if (toks.length === 0 || toks[0]!.text.startsWith('!')) continue;
    const w0 = kw(toks[0])!;
    try {
      if (w0 === 'access-list') {
        current = undefined;
        const numTok = toks[1];
        const n = numTok ? parseDecimal(numTok.text, 1, 2699) : undefined;
        if (n === undefined || !isExtendedNumber(n)) {
          if (n !== undefined && isStandardNumber(n))
            throw new LineFail('POLICY_UNSUPPORTED', 'standard access lists (1-99, 1300-1999) are not supported', numTok, 'an extended list number 100-199 or 2000-2699');
          throw new LineFail('POLICY_BAD_ACL_NUMBER', 'bad access list number', numTok, 'an extended list number 100-199 or 2000-2699');
        }
        const acl = aclFor(String(n), 4, lineNo, numTok!);
        if (!acl) continue;
        const w2 = kw(toks[2]);
        if (w2 === 'remark') continue;
        if (w2 === 'permit' || w2 === 'deny') addEntry(acl, toks.slice(2), lineNo, lineText, undefined);
        else if (w2 === 'dynamic') throw new LineFail('POLICY_UNSUPPORTED', 'dynamic access list entries are not supported', toks[2], "'permit', 'deny' or 'remark'");
        else throw new LineFail('POLICY_SYNTAX', toks[2] ? 'expected an action' : 'missing action', toks[2], "'permit', 'deny' or 'remark'");
        continue;
      }
      if ((w0 === 'ip' || w0 === 'ipv6') && kw(toks[1]) === 'access-list') {
        current = undefined;
        let nameTok: Token | undefined;
        let family: Family;
        if (w0 === 'ip') {
          family = 4;
          const kind = kw(toks[2]);
          if (kind === 'standard') throw new LineFail('POLICY_UNSUPPORTED', 'standard access lists are not supported', toks[2], "'extended'");
          if (kind !== 'extended') throw new LineFail('POLICY_SYNTAX', "expected 'extended'", toks[2], "'ip access-list extended NAME'");
          nameTok = toks[3];
          if (toks[4]) throw new LineFail('POLICY_SYNTAX', 'unexpected text after the list name', toks[4], 'end of line');
        } else {
          family = 6;
          nameTok = toks[2];
          if (toks[3]) throw new LineFail('POLICY_SYNTAX', 'unexpected text after the list name', toks[3], 'end of line');
        }
        if (!nameTok) throw new LineFail('POLICY_SYNTAX', 'missing access list name', undefined, 'a list name');
        if (/^\d+$/.test(nameTok.text)) {
          const n = Number(nameTok.text);
          if (family === 6 || !isExtendedNumber(n))
            throw new LineFail('POLICY_BAD_ACL_NUMBER', 'a numeric list name must be an extended list number', nameTok, family === 6 ? 'a name that starts with a letter' : '100-199 or 2000-2699, or a name');
        }
        current = aclFor(nameTok.text, family, lineNo, nameTok);
        continue;
      }
      // Inside a named list: [SEQ | sequence SEQ] permit|deny|remark ...
      let k = 0;
      let sequence: { value: number; token: Token } | undefined;
      if (/^\d+$/.test(toks[0]!.text) || (w0 === 'sequence' && current?.family === 6)) {
        const seqTok = w0 === 'sequence' ? toks[++k] : toks[0];
        const v = seqTok ? parseDecimal(seqTok.text, 1, MAX_SEQUENCE) : undefined;
        if (v === undefined) throw new LineFail('POLICY_BAD_SEQUENCE', 'bad sequence number', seqTok, `a sequence number 1-${MAX_SEQUENCE}`);
        sequence = { value: v, token: seqTok! };
        k++;
      }
      const act = kw(toks[k]);
      if (act === 'permit' || act === 'deny' || act === 'remark') {
        if (!current)
          throw new LineFail('POLICY_ENTRY_OUTSIDE_ACL', 'entry outside an access list', toks[k], "'ip access-list extended NAME' or 'ipv6 access-list NAME' before it");
        if (act !== 'remark') addEntry(current, toks.slice(k), lineNo, lineText, sequence);
        continue;
      }
      // `exit` leaves a named list; `end` closes a configuration snippet (both as IOS prints them).
      if ((act === 'exit' || act === 'end') && toks.length === k + 1 && !sequence) {
        current = undefined;
        continue;
      }
      if (current && act === 'evaluate')
        throw new LineFail('POLICY_UNSUPPORTED', 'reflexive access lists are not supported', toks[k], "'permit', 'deny' or 'remark'");
      throw new LineFail(
        'POLICY_SYNTAX',
        current || sequence ? 'expected an entry' : 'not an access list line',
        toks[k],
        current || sequence ? "'permit', 'deny' or 'remark'" : "'access-list N ...', 'ip access-list extended NAME', 'ipv6 access-list NAME', or a '!' comment",
      );
    } catch (e) {
      if (!(e instanceof LineFail)) throw e;
      problems.add(e.code, e.message, lineNo, e.token?.column ?? lineText.length + 1, e.token?.text ?? '<end of line>', e.expected);
    }
  }

  const out: CiscoAcl[] = [];
  for (const acl of acls.values()) {
    const sorted = [...acl.entries].sort((a, b) => a.sequence - b.sequence || a.line - b.line);
    for (let j = 1; j < sorted.length; j++) {
      const a = sorted[j - 1]!;
      const b = sorted[j]!;
      if (a.sequence === b.sequence) {
        const later = a.line > b.line ? a : b;
        const earlier = later === a ? b : a;
        const how = earlier.explicit ? '' : ' (given implicitly: 10 past the previous entry)';
        problems.add('POLICY_DUPLICATE_SEQUENCE', `sequence number ${b.sequence} is already used on line ${earlier.line}${how}`, later.line, later.column, String(b.sequence), 'a sequence number not used in this list');
      }
    }
    const entries: Entry[] = sorted.map((r, idx) => ({
      ...r.selector,
      ordinal: idx + 1,
      action: r.action,
      ...(r.explicit ? { sequence: r.sequence } : {}),
      line: r.line,
    }));
    out.push({ name: acl.name, family: acl.family, line: acl.line, entries });
  }
  if (out.length === 0 && problems.count === 0)
    problems.add('POLICY_EMPTY', 'no access list in the file', 1, 1, undefined, "'access-list N permit ...', 'ip access-list extended NAME' or 'ipv6 access-list NAME'");
  problems.throwIfAny();
  return out;
}

/**
 * The one access list to use from a Cisco file: the one named by `acl`, or the only one.
 * Throws PolicyError (POLICY_ACL_NOT_FOUND, POLICY_ACL_AMBIGUOUS, or the file's problems).
 */
export function parseCisco(text: string, opts: { file?: string; acl?: string } = {}): Policy {
  const file = opts.file ?? '<input>';
  const acls = parseCiscoAcls(text, file);
  return selectAcl(acls, file, opts.acl);
}

function listAcls(acls: readonly CiscoAcl[]): string {
  return acls.map((a) => `${a.name} (IPv${a.family}, line ${a.line})`).join(', ');
}

export function selectAcl(acls: readonly CiscoAcl[], file: string, acl: string | undefined): Policy {
  const strip = (a: CiscoAcl): Policy => ({ name: a.name, family: a.family, entries: a.entries });
  if (acl !== undefined) {
    const hit = acls.find((a) => a.name === acl);
    if (hit) return strip(hit);
    const problems = new Problems(file);
    problems.add('POLICY_ACL_NOT_FOUND', `no access list '${acl}' in the file; it has ${listAcls(acls)}`, 1, 1, acl, `one of ${acls.map((a) => a.name).join(', ')}`);
    problems.throwIfAny();
  }
  if (acls.length === 1) return strip(acls[0]!);
  const problems = new Problems(file);
  problems.add('POLICY_ACL_AMBIGUOUS', `the file has ${acls.length} access lists: ${listAcls(acls)}; pick one (--acl NAME)`, acls[1]!.line, 1, undefined, `one of ${acls.map((a) => a.name).join(', ')}`);
  problems.throwIfAny();
  throw new Error('unreachable');
}
