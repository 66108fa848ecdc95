// The grammar of one Cisco IOS access-list entry: `PROTOCOL SRC [PORTS] DST [PORTS] [log]` in
// extended and IPv6 lists, `SRC [log]` in standard lists. Reading whole files (running-configs,
// crypto maps, object groups) is ./ios-config.ts; this module knows one line at a time.
//
// Anything that would change which packets an entry covers and that a selector cannot express
// (established, fragments, dscp, ICMP and IGMP types, ...) is refused with a clear error rather
// than ignored: ignoring it would silently widen a crypto ACL. Object groups are references here,
// resolved against the file's definitions by the reader.
import { address, portSet } from '../selector/algebra.js';
import { formatIPv4, parseIPv4, parseIPv6, prefixMask } from '../selector/address.js';
import { MAX_LISTED_PORTS } from '../selector/format.js';
import type { Action, Address, Family, PortSet, Selector } from '../selector/types.js';
import { FULL_PORTS, allOnes } from '../selector/types.js';
import { Problems, parseDecimal, tokenize, type Token } from './problems.js';
import { PROTOCOLS_V4, PROTOCOLS_V6, TCP, UDP, lookupPort, portTable } from './services.js';

export const MAX_SEQUENCE = 2147483647;
const NOT_SUPPORTED_OPTIONS = new Set([
  'established', 'fragments', 'dscp', 'precedence', 'tos', 'time-range', 'ttl', 'option', 'reflect',
  'match-all', 'match-any', 'psh', 'ack', 'fin', 'rst', 'syn', 'urg', 'flow-label', 'routing',
  'routing-type', 'hbh', 'dest-option', 'mobility', 'mobility-type', 'auth', 'undetermined-transport',
]);
/** Protocols whose entries may end in a message type (ICMP, ICMPv6, IGMP): a selector has no such field. */
const TYPED_PROTOCOLS = new Set([1, 2, 58]);
/** IPv6 extension-header "protocols" IOS matches on; a selector cannot. */
const V6_HEADER_KEYWORDS = new Set(['hbh', 'dest-option', 'routing', 'mobility', 'auth']);

/** A located failure inside one line; the line loop turns it into a problem (or a warning). */
export class LineFail {
  constructor(
    readonly code: string,
    readonly message: string,
    readonly token: Token | undefined,
    readonly expected: string,
  ) {}
}

/** Reads the tokens of one entry (after the action) left to right; collects warnings on the way. */
export class Cursor {
  private k = 0;
  readonly warnings: LineFail[] = [];
  constructor(readonly toks: Token[]) {}
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

export const kw = (t: Token | undefined) => t?.text.toLowerCase();

/** `object-group NAME` where an address or a protocol belongs: resolved by the file reader. */
export interface GroupRef {
  readonly group: string;
  readonly token: Token;
}

export function isGroupRef(x: unknown): x is GroupRef {
  return typeof x === 'object' && x !== null && 'group' in x;
}

/** An entry body before object groups are expanded. */
export interface EntryTemplate {
  readonly family: Family;
  /** A protocol number, or a service object group (which also brings the ports). */
  readonly protocol: number | GroupRef;
  readonly src: Address | GroupRef;
  readonly dst: Address | GroupRef;
  readonly sport: PortSet;
  readonly dport: PortSet;
}

function groupRef(c: Cursor, kwTok: Token, what: string): GroupRef {
  const name = c.next();
  if (!name) c.fail('POLICY_SYNTAX', `missing ${what} object group name`, undefined, 'an object group name');
  return { group: name.text, token: name };
}

function parseProtocol(c: Cursor, family: Family): number | GroupRef {
  const t = c.need(family === 4 ? 'a protocol: ip, tcp, udp, icmp, esp, ahp, gre, sctp or 0-255' : 'a protocol: ipv6, tcp, udp, icmp, esp, ahp, sctp or 0-255', 'protocol');
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
  if (name === 'object-group') return groupRef(c, t, 'service');
  if (family === 6 && V6_HEADER_KEYWORDS.has(name))
    c.fail('POLICY_UNSUPPORTED', `'${t.text}' matches an IPv6 extension header, which a selector cannot express`, t, 'a protocol keyword or number');
  return c.fail('POLICY_BAD_PROTOCOL', 'unknown protocol', t, `one of ${Object.keys(table).join(', ')}, or a number 0-255`);
}

/** Is `wildcard` shaped like a netmask (ones then zeros, neither all zeros nor all ones)? */
export function looksLikeNetmask(wildcard: bigint): boolean {
  const inverse = ~wildcard & 0xffffffffn;
  return wildcard !== 0n && wildcard !== 0xffffffffn && (inverse & (inverse + 1n)) === 0n;
}

/** The warning for `A NETMASK` where a wildcard belongs (IOS accepts it and reads it as a wildcard). */
export function netmaskWarning(value: bigint, wildcard: bigint, token: Token): LineFail {
  const ones = 0xffffffffn;
  let len = 0;
  while (len < 32 && ((wildcard >> BigInt(31 - len)) & 1n) === 1n) len++;
  const meant = value & wildcard;
  return new LineFail(
    'POLICY_WARN_NETMASK',
    `'${formatIPv4(wildcard)}' is a netmask where a wildcard mask belongs: IOS reads it as a wildcard (1 bits = don't care), so this matches every address whose last ${32 - len} bits equal those of ${formatIPv4(value)}, not the network ${formatIPv4(meant)}/${len}`,
    token,
    `'${formatIPv4(meant)} ${formatIPv4(~wildcard & ones)}' for the network ${formatIPv4(meant)}/${len}`,
  );
}

function parseAddress(c: Cursor, family: Family, what: string): Address | GroupRef {
  const expected = family === 4 ? "'any', 'host A.B.C.D', 'A.B.C.D WILDCARD', 'A.B.C.D/len' or 'object-group NAME'" : "'any', 'host X:X::X', 'X:X::X/len' or 'object-group NAME'";
  const t = c.need(expected, `${what} address`);
  const word = t.text.toLowerCase();
  const ones = allOnes(family);
  if (word === 'any') return { value: 0n, care: 0n };
  if (word === 'object-group') return groupRef(c, t, `${what} network`);
  if (word === 'addrgroup') c.fail('POLICY_UNSUPPORTED', "NX-OS address groups ('addrgroup') are not supported", t, "an IOS 'object-group NAME' or an address");
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
  if (looksLikeNetmask(wild)) c.warnings.push(netmaskWarning(v, wild, w!));
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

export const PORT_OPS = new Set(['eq', 'neq', 'lt', 'gt', 'range']);

export function parsePortValue(c: Cursor, protocol: number, what: string): number {
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

/**
 * A port condition starting at operator `op` (already read): `eq`/`neq` take one port or several
 * (IOS-XE: up to 10, one port set), `lt`, `gt`, `range A B`. `protocol` is TCP or UDP. With
 * `maxPorts` 1 a single port is read (where a port list would run into the next condition).
 */
export function readPortCondition(c: Cursor, op: string, opTok: Token, protocol: number, what: string, maxPorts = MAX_LISTED_PORTS): PortSet {
  const p = parsePortValue(c, protocol, what);
  switch (op) {
    case 'eq':
    case 'neq': {
      const ports = [p];
      if (maxPorts > 1)
        for (let t = c.peek(); t && lookupPort(protocol, t.text) !== undefined; t = c.peek()) {
          if (ports.length === maxPorts) c.fail('POLICY_BAD_PORT', `at most ${maxPorts} ports after '${op}'`, t, `up to ${maxPorts} ports, or 'range A B'`);
          ports.push(lookupPort(protocol, c.next()!.text)!);
        }
      if (op === 'eq') return portSet(ports.map((n) => ({ lo: n, hi: n })));
      const holes = [...new Set(ports)].sort((a, b) => a - b);
      const ranges = [];
      let from = 0;
      for (const h of holes) {
        ranges.push({ lo: from, hi: h - 1 });
        from = h + 1;
      }
      ranges.push({ lo: from, hi: 65535 });
      const set = portSet(ranges);
      if (set.length === 0) c.fail('POLICY_EMPTY_PORT_SET', `'neq' leaves no port`, opTok, 'fewer ports after neq');
      return set;
    }
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

/** An optional port condition; FULL_PORTS when the next token is not a port operator. */
function parsePorts(c: Cursor, protocol: number | GroupRef, what: string): PortSet {
  const op = kw(c.peek());
  if (op === 'portgroup') c.fail('POLICY_UNSUPPORTED', "NX-OS port groups ('portgroup') are not supported", c.peek(), "a port condition, or an IOS service 'object-group'");
  if (op === undefined || !PORT_OPS.has(op)) return FULL_PORTS;
  const opTok = c.next()!;
  if (isGroupRef(protocol))
    c.fail('POLICY_PORT_NOT_ALLOWED', 'an entry with a service object group takes its ports from the group', opTok, 'no port condition here');
  if (protocol !== TCP && protocol !== UDP)
    c.fail('POLICY_PORT_NOT_ALLOWED', 'port conditions are allowed only after a tcp or udp address', opTok, "the protocol 'tcp' or 'udp', or no port condition");
  return readPortCondition(c, op, opTok, protocol, what);
}

export interface ParsedBody {
  readonly template: EntryTemplate;
  readonly trailingSequence?: { value: number; token: Token };
}

/** The body of an extended entry: `PROTOCOL SRC [PORTS] DST [PORTS] [log]` (object groups left as references). */
export function parseBody(c: Cursor, family: Family): ParsedBody {
  const protocol = parseProtocol(c, family);
  const src = parseAddress(c, family, 'source');
  const sport = parsePorts(c, protocol, 'source');
  const dst = parseAddress(c, family, 'destination');
  const dport = parsePorts(c, protocol, 'destination');
  const trailingSequence = parseTail(c, family, typeof protocol === 'number' ? protocol : -1);
  return { template: { family, protocol, src, dst, sport, dport }, trailingSequence };
}

/** What may follow the addresses and ports: `log [cookie]`, `log-input`, IPv6 `sequence N`. */
function parseTail(c: Cursor, family: Family, protocol: number): { value: number; token: Token } | undefined {
  let trailingSequence: { value: number; token: Token } | undefined;
  for (let t = c.next(); t; t = c.next()) {
    const word = t.text.toLowerCase();
    if (word === 'log' || word === 'log-input') {
      // `log [cookie]`: logging does not change what the entry covers.
      const ck = kw(c.peek());
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
    if (word === 'portgroup') c.fail('POLICY_UNSUPPORTED', "NX-OS port groups ('portgroup') are not supported", t, "a port condition, or an IOS service 'object-group'");
    if (NOT_SUPPORTED_OPTIONS.has(word) || (TYPED_PROTOCOLS.has(protocol) && /^[a-z0-9-]+$/.test(word)))
      c.fail('POLICY_UNSUPPORTED', `'${t.text}' would narrow the entry in a way a selector cannot express`, t, "end of entry or 'log'");
    c.fail('POLICY_SYNTAX', 'unexpected text after the entry', t, "end of entry or 'log'");
  }
  return trailingSequence;
}

/**
 * The body of a standard-list entry: `any`, `host A`, `A` (a host) or `A WILDCARD`, then `log`.
 * It covers any protocol from that source to any destination.
 */
export function parseStandardBody(c: Cursor): EntryTemplate {
  const t = c.need("'any', 'host A.B.C.D' or 'A.B.C.D [WILDCARD]'", 'source address');
  const word = t.text.toLowerCase();
  let src: Address;
  if (word === 'any') src = { value: 0n, care: 0n };
  else {
    const hostTok = word === 'host' ? c.need('an IPv4 address', 'source host address') : t;
    const v = parseIPv4(hostTok.text);
    if (v === undefined) familyFail(c, hostTok, 4, 'bad source address');
    src = { value: v, care: 0xffffffffn };
    const w = word === 'host' ? undefined : c.peek();
    const wild = w ? parseIPv4(w.text) : undefined;
    if (wild !== undefined) {
      c.next();
      if (looksLikeNetmask(wild)) c.warnings.push(netmaskWarning(v, wild, w!));
      src = address(v, ~wild & 0xffffffffn);
    }
  }
  parseTail(c, 4, 0);
  return { family: 4, protocol: 0, src, dst: { value: 0n, care: 0n }, sport: FULL_PORTS, dport: FULL_PORTS };
}

/** The single selector of a template without object groups. */
export function plainTemplate(t: EntryTemplate): Selector | undefined {
  if (isGroupRef(t.protocol) || isGroupRef(t.src) || isGroupRef(t.dst)) return undefined;
  return { family: t.family, protocol: t.protocol, src: t.src, dst: t.dst, sport: t.sport, dport: t.dport };
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
 * `ip 10.0.0.0 0.0.0.255 any`); a leading `access-list N` or sequence number is ignored. Family
 * from `family`, else inferred (IPv6 when an IPv6 address or `ipv6` appears, else IPv4). Object
 * groups need the configuration that defines them, so they are refused here. Throws PolicyError.
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
  const c: Cursor = new Cursor(toks);
  try {
    if (toks.length === 0) c.fail('POLICY_SYNTAX', 'empty entry', undefined, "an entry such as 'permit ip any any'");
    const { template, trailingSequence } = parseBody(c, family);
    if (trailingSequence) c.fail('POLICY_SYNTAX', 'a sequence number is not part of a single entry', trailingSequence.token, 'end of entry');
    const selector = plainTemplate(template);
    if (!selector) {
      const ref = [template.protocol, template.src, template.dst].find(isGroupRef)!;
      c.fail('POLICY_UNSUPPORTED', 'an object group is defined in a configuration file; a single entry cannot use one', ref.token, 'addresses and ports written out');
    }
    return { action, hasAction, selector };
  } catch (e) {
    if (!(e instanceof LineFail)) throw e;
    problems.add(e.code, e.message, 1, e.token?.column ?? text.length + 1, e.token?.text ?? '<end of line>', e.expected);
    problems.throwIfAny();
    throw e; // unreachable
  }
}
