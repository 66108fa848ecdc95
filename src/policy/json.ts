// JSON policies, for programs (schema/policy.schema.json describes the same shape):
//   { "name"?: string, "family"?: 4|6, "entries": [ ENTRY, ... ] }
// ENTRY is either a Cisco entry line ("permit tcp any host 10.0.0.1 eq 22") or an object
//   { "action"?: "permit"|"deny", "sequence"?: int, "protocol"?: 0-255 | keyword,
//     "source"?: ADDRESS, "destination"?: ADDRESS, "sport"?: PORTS, "dport"?: PORTS, "remark"?: string }
// ADDRESS: "any" | "host A" | "A W" | "A/len" | "X/len" | {"value": A, "wildcard": W} | {"prefix": "X/len"} | {"host": A}
// PORTS: N | [lo, hi] | [[lo, hi], ...]
// Unlike Cisco text, ports may go with any protocol here (ClassBench sets do that), with the
// algebra's rule: a packet without ports never matches an entry with a port condition.
import { PolicyError } from '../errors.js';
import { address, portSet } from '../selector/algebra.js';
import { parseAnyAddress, parseIPv4, parseIPv6, prefixMask } from '../selector/address.js';
import type { Action, Address, Entry, Family, PortRange, PortSet, Policy, Selector } from '../selector/types.js';
import { FULL_PORTS, MAX_PORT_RANGES, allOnes } from '../selector/types.js';
import { baseName } from './classbench.js';
import { inferEntryFamily, parseEntry, type ParsedEntryLine } from './cisco.js';
import { JsonSyntaxError, parseJsonWithPositions, type JsonNode } from './json-source.js';
import { Problems, parseDecimal } from './problems.js';
import { PROTOCOLS_V4, PROTOCOLS_V6 } from './services.js';

const MAX_SEQUENCE = 2147483647;
const ENTRY_KEYS = new Set(['action', 'sequence', 'protocol', 'source', 'destination', 'sport', 'dport', 'remark']);
const TOP_KEYS = new Set(['$schema', 'name', 'family', 'entries', 'description']);

class Bad {
  constructor(
    readonly node: { line: number; column: number; text: string },
    readonly message: string,
    readonly expected: string,
    readonly code = 'POLICY_JSON_SCHEMA',
  ) {}
}

/** Parses a JSON policy. `acl`, when given, must equal the policy's name. Throws PolicyError. */
export function parseJsonPolicy(text: string, opts: { file?: string; acl?: string } = {}): Policy {
  const file = opts.file ?? '<input>';
  const problems = new Problems(file);
  let root: JsonNode;
  try {
    root = parseJsonWithPositions(text);
  } catch (e) {
    if (!(e instanceof JsonSyntaxError)) throw e;
    problems.add('POLICY_JSON_SYNTAX', e.message, e.line, e.column, e.token, e.expected);
    problems.throwIfAny();
    throw e;
  }
  const add = (b: Bad) => problems.add(b.code, b.message, b.node.line, b.node.column, b.node.text, b.expected);
  if (root.kind !== 'object') {
    add(new Bad(root, 'a JSON policy is an object', '{"entries": [...]}'));
    problems.throwIfAny();
  }
  const top = root as Extract<JsonNode, { kind: 'object' }>;
  let name = baseName(file).replace(/\.json$/i, '');
  let family: Family | undefined;
  let entriesNode: Extract<JsonNode, { kind: 'array' }> | undefined;
  const seen = new Set<string>();
  for (const m of top.members) {
    const keyNode = { line: m.keyLine, column: m.keyColumn, text: JSON.stringify(m.key) };
    if (seen.has(m.key)) add(new Bad(keyNode, `duplicate key '${m.key}'`, 'each key once'));
    seen.add(m.key);
    const v = m.value;
    if (m.key === 'name') {
      if (v.kind !== 'string' || !/^\S+$/.test(v.value)) add(new Bad(v, "'name' must be a non-empty string without spaces", 'a list name such as "VPN"'));
      else name = v.value;
    } else if (m.key === 'family') {
      if (v.kind !== 'number' || (v.value !== 4 && v.value !== 6)) add(new Bad(v, "'family' must be 4 or 6", '4 or 6'));
      else family = v.value;
    } else if (m.key === 'entries') {
      if (v.kind !== 'array') add(new Bad(v, "'entries' must be an array", 'an array of entries'));
      else entriesNode = v;
    } else if (m.key === '$schema' || m.key === 'description') {
      if (v.kind !== 'string') add(new Bad(v, `'${m.key}' must be a string`, 'a string'));
    } else add(new Bad(keyNode, `unknown key '${m.key}'`, [...TOP_KEYS].join(', ')));
  }
  if (!entriesNode && !seen.has('entries')) add(new Bad(top, "missing 'entries'", '"entries": [...]'));
  if (opts.acl !== undefined && opts.acl !== name)
    problems.add('POLICY_ACL_NOT_FOUND', `no access list '${opts.acl}' in the file; it has ${name}`, top.line, top.column, opts.acl, name);

  const items = entriesNode?.items ?? [];
  // The family: given, else from the first entry that implies one, else IPv4.
  if (family === undefined) family = items.map(familyHint).find((f) => f !== undefined) ?? 4;
  const fam = family;

  const raw: { selector: Selector; action: Action; sequence?: number; line: number; column: number; node: JsonNode }[] = [];
  for (const item of items) {
    try {
      raw.push({ ...entryOf(item, fam, file), line: item.line, column: item.column, node: item });
    } catch (e) {
      if (e instanceof Bad) add(e);
      else if (e instanceof PolicyError) {
        // A Cisco entry string: re-anchor its problem inside the file (column inside the string).
        for (const p of e.problems) problems.add(p.code, p.message, item.line, item.column + p.column, p.token, p.expected);
      } else throw e;
    }
  }

  const withSeq = raw.filter((r) => r.sequence !== undefined);
  if (withSeq.length > 0 && withSeq.length < raw.length) {
    const r = raw.find((x) => x.sequence === undefined)!;
    add(new Bad(r.node, 'either every entry has a sequence number or none has', '"sequence" on every entry'));
  }
  const ordered = withSeq.length === raw.length ? [...raw].sort((a, b) => (a.sequence ?? 0) - (b.sequence ?? 0)) : raw;
  for (let i = 1; i < ordered.length; i++) {
    const a = ordered[i - 1]!;
    const b = ordered[i]!;
    if (a.sequence !== undefined && a.sequence === b.sequence) {
      const later = a.line > b.line || (a.line === b.line && a.column > b.column) ? a : b;
      const earlier = later === a ? b : a;
      problems.add('POLICY_DUPLICATE_SEQUENCE', `sequence number ${b.sequence} is already used on line ${earlier.line}`, later.line, later.column, String(b.sequence), 'a sequence number not used in this list');
    }
  }
  problems.throwIfAny();
  const entries: Entry[] = ordered.map((r, i) => ({ ...r.selector, ordinal: i + 1, action: r.action, ...(r.sequence !== undefined ? { sequence: r.sequence } : {}), line: r.line }));
  return { name, family: fam, entries };
}

function familyHint(item: JsonNode): Family | undefined {
  if (item.kind === 'string') return inferEntryFamily(item.value);
  if (item.kind !== 'object') return undefined;
  for (const m of item.members) {
    // `ipv6` / `ip` name "any protocol" in one family only.
    if (m.key === 'protocol' && m.value.kind === 'string') {
      const p = m.value.value.toLowerCase();
      if (p === 'ipv6') return 6;
      if (p === 'ip') return 4;
    }
    if (m.key !== 'source' && m.key !== 'destination') continue;
    const v = m.value;
    const text = v.kind === 'string' ? v.value : v.kind === 'object' ? v.members.map((x) => (x.value.kind === 'string' ? x.value.value : '')).join(' ') : '';
    for (const word of text.split(/[\s/]+/)) {
      const a = parseAnyAddress(word);
      if (a) return a.family;
    }
  }
  return undefined;
}

/**
 * One entry written as a JSON object (the policy schema's entry form), on its own:
 * `{"protocol": "ip", "source": "10.0.0.0/8", "dport": 80}`. The family is `family`, else what
 * the addresses or an `ip`/`ipv6` protocol imply, else IPv4. Throws PolicyError.
 */
export function parseJsonEntry(text: string, opts: { family?: Family; file?: string } = {}): ParsedEntryLine {
  const file = opts.file ?? '<entry>';
  const problems = new Problems(file);
  try {
    const node = parseJsonWithPositions(text);
    if (node.kind !== 'object') throw new Bad(node, 'a JSON entry is an object', '{"action": ..., "protocol": ..., "source": ..., ...}');
    const family = opts.family ?? familyHint(node) ?? 4;
    const e = entryOf(node, family, file);
    if (e.sequence !== undefined) {
      const seq = node.members.find((m) => m.key === 'sequence')!;
      throw new Bad({ line: seq.keyLine, column: seq.keyColumn, text: '"sequence"' }, 'a sequence number is not part of a single entry', 'no "sequence"', 'POLICY_SYNTAX');
    }
    return { action: e.action, hasAction: node.members.some((m) => m.key === 'action'), selector: e.selector };
  } catch (e) {
    if (e instanceof JsonSyntaxError) problems.add('POLICY_JSON_SYNTAX', e.message, e.line, e.column, e.token, e.expected);
    else if (e instanceof Bad) problems.add(e.code, e.message, e.node.line, e.node.column, e.node.text, e.expected);
    else throw e;
    problems.throwIfAny();
    throw e; // unreachable
  }
}

/** The family a JSON entry object implies (an address, or protocol `ip`/`ipv6`), or undefined. */
export function jsonEntryFamily(text: string): Family | undefined {
  try {
    return familyHint(parseJsonWithPositions(text));
  } catch {
    return undefined;
  }
}

function entryOf(item: JsonNode, family: Family, file: string): { selector: Selector; action: Action; sequence?: number } {
  if (item.kind === 'string') {
    const e = parseEntry(item.value, { family, file });
    return { selector: e.selector, action: e.action };
  }
  if (item.kind !== 'object') throw new Bad(item, 'an entry is a Cisco entry string or an object', '"permit ip any any" or {"action": ..., "protocol": ..., ...}');
  let action: Action = 'permit';
  let sequence: number | undefined;
  let protocol = 0;
  let src: Address = { value: 0n, care: 0n };
  let dst: Address = { value: 0n, care: 0n };
  let sport: PortSet = FULL_PORTS;
  let dport: PortSet = FULL_PORTS;
  const seen = new Set<string>();
  for (const m of item.members) {
    const v = m.value;
    const keyNode = { line: m.keyLine, column: m.keyColumn, text: JSON.stringify(m.key) };
    if (seen.has(m.key)) throw new Bad(keyNode, `duplicate key '${m.key}'`, 'each key once');
    seen.add(m.key);
    switch (m.key) {
      case 'action':
        if (v.kind !== 'string' || (v.value !== 'permit' && v.value !== 'deny')) throw new Bad(v, "'action' must be \"permit\" or \"deny\"", '"permit" or "deny"');
        action = v.value;
        break;
      case 'sequence':
        if (v.kind !== 'number' || !Number.isInteger(v.value) || v.value < 1 || v.value > MAX_SEQUENCE)
          throw new Bad(v, 'bad sequence number', `an integer 1-${MAX_SEQUENCE}`, 'POLICY_BAD_SEQUENCE');
        sequence = v.value;
        break;
      case 'protocol':
        protocol = protocolOf(v, family);
        break;
      case 'source':
      case 'destination': {
        const a = addressOf(v, family, m.key);
        if (m.key === 'source') src = a;
        else dst = a;
        break;
      }
      case 'sport':
      case 'dport': {
        const p = portsOf(v);
        if (m.key === 'sport') sport = p;
        else dport = p;
        break;
      }
      case 'remark':
        if (v.kind !== 'string') throw new Bad(v, "'remark' must be a string", 'a string');
        break;
      default:
        throw new Bad(keyNode, `unknown key '${m.key}'`, [...ENTRY_KEYS].join(', '));
    }
  }
  return { selector: { family, protocol, src, dst, sport, dport }, action, ...(sequence !== undefined ? { sequence } : {}) };
}

function protocolOf(v: JsonNode, family: Family): number {
  const table = family === 4 ? PROTOCOLS_V4 : PROTOCOLS_V6;
  if (v.kind === 'number') {
    if (!Number.isInteger(v.value) || v.value < 0 || v.value > 255) throw new Bad(v, 'protocol number out of range', 'an integer 0-255 (0 = any)', 'POLICY_BAD_PROTOCOL');
    return v.value;
  }
  if (v.kind === 'string') {
    const n = table[v.value.toLowerCase()];
    if (n !== undefined) return n;
    throw new Bad(v, 'unknown protocol', `an integer 0-255 or one of ${Object.keys(table).join(', ')}`, 'POLICY_BAD_PROTOCOL');
  }
  throw new Bad(v, "'protocol' must be a number or a keyword", 'an integer 0-255 or a keyword such as "tcp"', 'POLICY_BAD_PROTOCOL');
}

function addressOf(v: JsonNode, family: Family, what: string): Address {
  const ones = allOnes(family);
  const parse = (text: string) => (family === 4 ? parseIPv4(text) : parseIPv6(text));
  const bad = (node: JsonNode, message: string): never => {
    throw new Bad(node, message, family === 4 ? '"any", "host A", "A W", "A/len" or {"value": A, "wildcard": W}' : '"any", "host X", "X/len" or {"prefix": "X/len"}', 'POLICY_BAD_ADDRESS');
  };
  if (v.kind === 'string') {
    const words = v.value.trim().split(/\s+/);
    if (words.length === 1 && words[0]!.toLowerCase() === 'any') return { value: 0n, care: 0n };
    if (words.length === 2 && words[0]!.toLowerCase() === 'host') {
      const a = parse(words[1]!);
      if (a === undefined) bad(v, `bad ${what} host address`);
      return { value: a!, care: ones };
    }
    if (words.length === 1) return prefixOf(v, words[0]!, family, what);
    if (words.length === 2 && family === 4) {
      const a = parseIPv4(words[0]!);
      const w = parseIPv4(words[1]!);
      if (a === undefined || w === undefined) bad(v, `bad ${what} address or wildcard`);
      return address(a!, ~w! & ones);
    }
    return bad(v, `bad ${what} address`);
  }
  if (v.kind === 'object') {
    const keys = v.members.map((m) => m.key).sort().join(',');
    const get = (k: string) => v.members.find((m) => m.key === k)!.value;
    if (keys === 'prefix') {
      const p = get('prefix');
      if (p.kind !== 'string') bad(p, "'prefix' must be a string");
      return prefixOf(p, (p as { value: string }).value, family, what);
    }
    if (keys === 'host') {
      const h = get('host');
      const a = h.kind === 'string' ? parse(h.value) : undefined;
      if (a === undefined) bad(h, `bad ${what} host address`);
      return { value: a!, care: ones };
    }
    if (keys === 'value,wildcard') {
      const a = get('value');
      const w = get('wildcard');
      const av = a.kind === 'string' ? parse(a.value) : undefined;
      const wv = w.kind === 'string' ? parse(w.value) : undefined;
      if (av === undefined) bad(a, `bad ${what} address value`);
      if (wv === undefined) bad(w, `bad ${what} wildcard`);
      return address(av!, ~wv! & ones);
    }
    return bad(v, `an address object has exactly the keys {prefix}, {host} or {value, wildcard}`);
  }
  return bad(v, `'${what}' must be a string or an object`);
}

function prefixOf(node: JsonNode, text: string, family: Family, what: string): Address {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(text);
  const a = m ? (family === 4 ? parseIPv4(m[1]!) : parseIPv6(m[1]!)) : undefined;
  const len = m ? parseDecimal(m[2]!, 0, family === 4 ? 32 : 128) : undefined;
  if (a === undefined || len === undefined) {
    const other = parseAnyAddress((m?.[1] ?? text).trim());
    if (other && other.family !== family)
      throw new Bad(node, `IPv${other.family} address in an IPv${family} policy`, `an IPv${family} address`, 'POLICY_FAMILY_MISMATCH');
    throw new Bad(node, `bad ${what} prefix`, family === 4 ? '"A.B.C.D/len" with len 0-32' : '"X:X::X/len" with len 0-128', 'POLICY_BAD_ADDRESS');
  }
  return address(a, prefixMask(family, len));
}

function portsOf(v: JsonNode): PortSet {
  const port = (n: JsonNode): number => {
    if (n.kind !== 'number' || !Number.isInteger(n.value) || n.value < 0 || n.value > 65535) throw new Bad(n, 'bad port', 'an integer 0-65535', 'POLICY_BAD_PORT');
    return n.value;
  };
  const range = (n: JsonNode): PortRange => {
    if (n.kind !== 'array' || n.items.length !== 2) throw new Bad(n, 'a port range is [lo, hi]', '[lo, hi]', 'POLICY_BAD_PORT');
    const lo = port(n.items[0]!);
    const hi = port(n.items[1]!);
    if (lo > hi) throw new Bad(n, `port range is empty (${lo} > ${hi})`, '[lo, hi] with lo <= hi', 'POLICY_BAD_PORT_RANGE');
    return { lo, hi };
  };
  if (v.kind === 'number') {
    const p = port(v);
    return portSet([{ lo: p, hi: p }]);
  }
  if (v.kind === 'array' && v.items.length > 0 && v.items[0]!.kind === 'array') {
    const set = portSet(v.items.map(range));
    // Counted after merging overlapping and adjacent ranges: what the entry needs on the wire.
    if (set.length > MAX_PORT_RANGES)
      throw new Bad(v, `${set.length} separate port ranges; a TED proxy carries at most ${MAX_PORT_RANGES}`, `at most ${MAX_PORT_RANGES} ranges (split the entry)`, 'POLICY_TOO_MANY_PORT_RANGES');
    return set;
  }
  if (v.kind === 'array') return portSet([range(v)]);
  throw new Bad(v, 'bad port condition', 'N, [lo, hi] or [[lo, hi], ...]', 'POLICY_BAD_PORT');
}
