// IOS object groups, as a running-config defines them, and their expansion in entries that use
// them (`permit object-group SVC object-group NETS any`):
//   object-group network NAME      host A | A NETMASK | A/len | range A B | any | group-object G
//   object-group v6-network NAME   host X | X/len | any | group-object G
//   object-group ip address NAME   [SEQ] host A | A WILDCARD | A/len   (and `ipv6 address` with X/len)
//   object-group service NAME      tcp|udp|tcp-udp [source PORTS] [PORTS] | icmp | esp | 47 | ip | group-object G
//   (v6-service alike; PORTS = [eq] P [P ...] | neq P ... | lt P | gt P | range A B)
// An entry using groups covers the union of the cross product of their members, under one ordinal.
import { address } from '../selector/algebra.js';
import { parseIPv4, parseIPv6, prefixLength, prefixMask } from '../selector/address.js';
import type { Address, Family, PortSet, Selector } from '../selector/types.js';
import { FULL_PORTS, allOnes } from '../selector/types.js';
import { Cursor, LineFail, PORT_OPS, isGroupRef, kw, looksLikeNetmask, netmaskWarning, readPortCondition, type EntryTemplate, type GroupRef } from './cisco.js';
import { parseDecimal, type Token } from './problems.js';
import { PROTOCOLS_V4, PROTOCOLS_V6, TCP, UDP, lookupPort } from './services.js';

/** Selectors one entry may expand to, and all entries of one list together (bounds memory and compile time). */
export const MAX_ENTRY_SELECTORS = 4096;
export const MAX_LIST_SELECTORS = 65536;
/** Nesting depth of group-object references. */
const MAX_DEPTH = 16;

type Kind = 'network' | 'service' | 'other';

interface NetworkMember {
  readonly family: Family | 0; // 0: `any`, which fits both families
  readonly address: Address;
}

interface ServiceMember {
  readonly protocol: number;
  /** ICMP's number depends on the family (1 in IPv4, 58 in IPv6). */
  readonly icmp?: boolean;
  readonly sport: PortSet;
  readonly dport: PortSet;
}

type GroupItem = { readonly network: NetworkMember } | { readonly service: ServiceMember } | { readonly nested: string; readonly line: number };

/** A problem inside a group definition, with its line. */
export interface GroupProblem {
  readonly line: number;
  readonly fail: LineFail;
}

export interface ObjectGroup {
  readonly name: string;
  readonly kind: Kind;
  /** As written after `object-group` (`network`, `v6-service`, `ip address`, ...). */
  readonly type: string;
  readonly line: number;
  /** Members and nested groups in the order written (an entry's selectors keep that order). */
  readonly items: GroupItem[];
  readonly problems: GroupProblem[];
  readonly warnings: GroupProblem[];
}

/** What `object-group TYPE NAME` opens, or undefined for a type we do not read (skipped, refused when used). */
export function groupKind(typeToks: readonly Token[]): { kind: Kind; type: string; nameAt: number } {
  const a = kw(typeToks[0]);
  const b = kw(typeToks[1]);
  if (a === 'network' || a === 'v6-network') return { kind: 'network', type: a, nameAt: 1 };
  if (a === 'service' || a === 'v6-service') return { kind: 'service', type: a, nameAt: 1 };
  if ((a === 'ip' || a === 'ipv6') && b === 'address') return { kind: 'network', type: `${a} address`, nameAt: 2 };
  if (a === 'ip' && b === 'port') return { kind: 'other', type: 'ip port', nameAt: 2 };
  return { kind: 'other', type: a ?? '', nameAt: 1 };
}

export function newGroup(name: string, kind: Kind, type: string, line: number): ObjectGroup {
  return { name, kind, type, line, items: [], problems: [], warnings: [] };
}

/** Reads one member line of a group into it; a bad line becomes one of the group's problems. */
export function addGroupLine(g: ObjectGroup, toks: Token[], line: number): void {
  try {
    let k = 0;
    const w = kw(toks[0]);
    if (w === 'description') return;
    // NX-OS style groups number their members.
    if (toks.length > 1 && /^\d+$/.test(toks[0]!.text) && g.type.endsWith('address')) k = 1;
    if (kw(toks[k]) === 'group-object') {
      const name = toks[k + 1];
      if (!name) throw new LineFail('POLICY_SYNTAX', 'missing object group name', undefined, 'group-object NAME');
      g.items.push({ nested: name.text, line });
      return;
    }
    if (g.kind === 'network') networkLine(g, new Cursor(toks.slice(k)), line);
    else if (g.kind === 'service') serviceLine(g, new Cursor(toks.slice(k)));
  } catch (e) {
    if (!(e instanceof LineFail)) throw e;
    g.problems.push({ line, fail: e });
  }
}

function anyFamilyAddress(text: string): { family: Family; value: bigint } | undefined {
  const v4 = parseIPv4(text);
  if (v4 !== undefined) return { family: 4, value: v4 };
  const v6 = parseIPv6(text);
  return v6 === undefined ? undefined : { family: 6, value: v6 };
}

function networkLine(g: ObjectGroup, c: Cursor, line: number): void {
  const expected = "'host A', 'A MASK', 'A/len', 'range A B', 'any' or 'group-object NAME'";
  const t = c.need(expected, 'member');
  const word = t.text.toLowerCase();
  const push = (family: Family | 0, a: Address) => g.items.push({ network: { family, address: a } });
  const bad = (tok: Token | undefined): never => c.fail('POLICY_BAD_ADDRESS', 'bad address in a network object group', tok, expected);
  if (word === 'any') push(0, { value: 0n, care: 0n });
  else if (word === 'host') {
    const h = c.need('an address', 'host address');
    const a = anyFamilyAddress(h.text) ?? bad(h);
    push(a.family, { value: a.value, care: allOnes(a.family) });
  } else if (word === 'range') {
    const from = c.need('an address', 'range start');
    const to = c.need('an address', 'range end');
    const a = anyFamilyAddress(from.text) ?? bad(from);
    const b = anyFamilyAddress(to.text) ?? bad(to);
    if (a.family !== b.family) c.fail('POLICY_FAMILY_MISMATCH', 'a range from one address family to another', to, `an IPv${a.family} address`);
    if (a.value > b.value) c.fail('POLICY_BAD_ADDRESS', 'address range is empty (start > end)', to, 'an end address >= the start');
    for (const p of rangePrefixes(a.family, a.value, b.value)) push(a.family, p);
  } else if (t.text.includes('/')) {
    const [text, lenText] = t.text.split('/') as [string, string];
    const a = anyFamilyAddress(text) ?? bad(t);
    const len = parseDecimal(lenText, 0, a.family === 4 ? 32 : 128);
    if (len === undefined) c.fail('POLICY_BAD_PREFIX', 'bad prefix length', t, `a prefix length 0-${a.family === 4 ? 32 : 128}`);
    push(a.family, address(a.value, prefixMask(a.family, len)));
  } else {
    const v4 = parseIPv4(t.text);
    // `X /len` (IOS prints the prefix length as a word of its own), for either family.
    const lenTok = c.peek();
    if (lenTok && /^\/\d{1,3}$/.test(lenTok.text)) {
      c.next();
      const a = anyFamilyAddress(t.text) ?? bad(t);
      const len = parseDecimal(lenTok.text.slice(1), 0, a.family === 4 ? 32 : 128);
      if (len === undefined) c.fail('POLICY_BAD_PREFIX', 'bad prefix length', lenTok, `a prefix length 0-${a.family === 4 ? 32 : 128}`);
      push(a.family, address(a.value, prefixMask(a.family, len)));
      const extra = c.next();
      if (extra) c.fail('POLICY_SYNTAX', 'unexpected text after the member', extra, 'end of line');
      return;
    }
    const v = v4 ?? bad(t);
    const m = c.next();
    const mask = m ? parseIPv4(m.text) : undefined;
    if (mask === undefined) c.fail('POLICY_BAD_WILDCARD', 'an address needs a mask', m, g.type === 'network' ? 'a subnet mask such as 255.255.255.0' : 'a wildcard mask such as 0.0.0.255');
    if (g.type === 'network') {
      // IOS network groups take subnet masks (the opposite of an ACL's wildcard).
      if (prefixLength(4, mask) === undefined)
        c.fail('POLICY_BAD_NETMASK', 'a network object group takes a subnet mask (ones then zeros), not a wildcard', m, `a subnet mask such as 255.255.255.0`);
      push(4, address(v, mask));
    } else {
      if (looksLikeNetmask(mask)) g.warnings.push({ line, fail: netmaskWarning(v, mask, m!) });
      push(4, address(v, ~mask & 0xffffffffn));
    }
  }
  const extra = c.next();
  if (extra) c.fail('POLICY_SYNTAX', 'unexpected text after the member', extra, 'end of line');
}

/** The fewest prefixes covering exactly [lo, hi]. */
export function rangePrefixes(family: Family, lo: bigint, hi: bigint): Address[] {
  const bits = family === 4 ? 32 : 128;
  const out: Address[] = [];
  let at = lo;
  while (at <= hi) {
    let size = 0; // the largest aligned block at `at` that fits
    while (size < bits && (at & ((1n << BigInt(size + 1)) - 1n)) === 0n && at + (1n << BigInt(size + 1)) - 1n <= hi) size++;
    out.push(address(at, prefixMask(family, bits - size)));
    at += 1n << BigInt(size);
  }
  return out;
}

function serviceLine(g: ObjectGroup, c: Cursor): void {
  const t = c.need("'tcp', 'udp', 'tcp-udp', a protocol keyword or number, or 'group-object NAME'", 'member');
  const word = t.text.toLowerCase();
  if (word === 'tcp' || word === 'udp' || word === 'tcp-udp') {
    const protocols = word === 'tcp' ? [TCP] : word === 'udp' ? [UDP] : [TCP, UDP];
    const start = c.toks.indexOf(t) + 1;
    for (const p of protocols) {
      // Each protocol reads the ports on its own: service names differ between TCP and UDP.
      const pc = new Cursor(c.toks.slice(start));
      let sport: PortSet = FULL_PORTS;
      if (kw(pc.peek()) === 'source') {
        pc.next();
        // `tcp source 2000 ftp`: one source port, then the destination's (so no port list here).
        sport = servicePorts(pc, p, 'source', 1);
      }
      const dport = pc.peek() ? servicePorts(pc, p, 'destination') : FULL_PORTS;
      const extra = pc.next();
      if (extra) pc.fail('POLICY_SYNTAX', 'unexpected text after the ports', extra, 'end of line');
      g.items.push({ service: { protocol: p, sport, dport } });
    }
    return;
  }
  const isV6 = g.type === 'v6-service';
  if (word === 'icmp') {
    if (c.peek()) c.fail('POLICY_UNSUPPORTED', `ICMP type '${c.peek()!.text}' would narrow the entry in a way a selector cannot express`, c.peek(), "'icmp' alone");
    g.items.push({ service: { protocol: isV6 ? 58 : 1, icmp: true, sport: FULL_PORTS, dport: FULL_PORTS } });
    return;
  }
  const n = (isV6 ? PROTOCOLS_V6 : PROTOCOLS_V4)[word] ?? (word === 'ip' || word === 'ipv6' ? 0 : /^\d+$/.test(word) ? parseDecimal(word, 0, 255) : undefined);
  if (n === undefined) c.fail('POLICY_BAD_PROTOCOL', 'unknown protocol in a service object group', t, "'tcp', 'udp', 'tcp-udp', a protocol keyword or a number 0-255");
  if (c.peek()) c.fail(n === 2 ? 'POLICY_UNSUPPORTED' : 'POLICY_SYNTAX', n === 2 ? 'IGMP types are not supported' : 'unexpected text after the protocol', c.peek(), 'end of line');
  g.items.push({ service: { protocol: n, sport: FULL_PORTS, dport: FULL_PORTS } });
}

/** A service group's port condition; `eq` may be left out (`tcp www` = `tcp eq www`). */
function servicePorts(c: Cursor, protocol: number, what: string, maxPorts?: number): PortSet {
  const t = c.peek();
  const op = kw(t);
  if (op !== undefined && PORT_OPS.has(op)) {
    c.next();
    return readPortCondition(c, op, t!, protocol, what, maxPorts);
  }
  if (t && lookupPort(protocol, t.text) !== undefined) return readPortCondition(c, 'eq', t, protocol, what, maxPorts);
  return c.fail('POLICY_BAD_PORT', `bad ${what} port condition`, t, "'eq', 'neq', 'lt', 'gt', 'range', or a port");
}

/**
 * Expands templates against the file's groups. Results are cached per (group, family); a cycle,
 * a missing group, a group of the wrong kind or a broken group is a LineFail at the reference.
 */
export class GroupResolver {
  private readonly nets = new Map<string, Address[]>();
  private readonly svcs = new Map<string, ServiceMember[]>();
  constructor(private readonly groups: ReadonlyMap<string, ObjectGroup>) {}

  /** Groups a reference uses, directly or nested (for reporting their problems with the list). */
  closure(name: string, out = new Set<string>()): Set<string> {
    if (out.has(name)) return out;
    const g = this.groups.get(name);
    if (!g) return out;
    out.add(name);
    for (const i of g.items) if ('nested' in i) this.closure(i.nested, out);
    return out;
  }

  private find(ref: GroupRef, kind: 'network' | 'service'): ObjectGroup {
    const g = this.groups.get(ref.group);
    if (!g) throw new LineFail('POLICY_OBJECT_GROUP_NOT_FOUND', `no object group '${ref.group}' in the file`, ref.token, `an object group defined in the file (${[...this.groups.values()].filter((x) => x.kind === kind).map((x) => x.name).join(', ') || 'none'})`);
    if (g.kind === 'other')
      throw new LineFail('POLICY_UNSUPPORTED', `object group '${g.name}' (line ${g.line}) is an 'object-group ${g.type}', which is not supported`, ref.token, `a network or service object group`);
    if (g.kind !== kind) throw new LineFail('POLICY_OBJECT_GROUP_TYPE', `object group '${g.name}' (line ${g.line}) is a ${g.kind} group; a ${kind} group belongs here`, ref.token, `a ${kind} object group`);
    if (g.problems.length > 0) throw new LineFail('POLICY_OBJECT_GROUP_INVALID', `object group '${g.name}' (line ${g.line}) has errors`, ref.token, 'an object group without errors');
    return g;
  }

  /** Every member of a group and of the groups it nests, in the order written. */
  private members<T>(ref: GroupRef, kind: 'network' | 'service', take: (i: GroupItem) => T | undefined): T[] {
    const out: T[] = [];
    const walk = (g: ObjectGroup, path: string[]) => {
      for (const i of g.items) {
        if (!('nested' in i)) {
          const m = take(i);
          if (m !== undefined) out.push(m);
          continue;
        }
        if (path.includes(i.nested) || path.length > MAX_DEPTH)
          throw new LineFail('POLICY_OBJECT_GROUP_CYCLE', `object group '${i.nested}' nests itself (${[...path, i.nested].join(' -> ')})`, ref.token, 'group-object references without a cycle');
        walk(this.find({ group: i.nested, token: ref.token }, kind), [...path, i.nested]);
      }
    };
    walk(this.find(ref, kind), [ref.group]);
    return out;
  }

  network(ref: GroupRef, family: Family): Address[] {
    const key = `${ref.group}/${family}`;
    const hit = this.nets.get(key);
    if (hit) return hit;
    const all = this.members(ref, 'network', (i) => ('network' in i && (i.network.family === 0 || i.network.family === family) ? i.network.address : undefined));
    const out = [...new Map(all.map((a) => [`${a.value}/${a.care}`, a])).values()];
    if (out.length === 0) throw new LineFail('POLICY_OBJECT_GROUP_EMPTY', `object group '${ref.group}' has no IPv${family} member`, ref.token, `a group with IPv${family} addresses`);
    this.nets.set(key, out);
    return out;
  }

  service(ref: GroupRef, family: Family): ServiceMember[] {
    const key = `${ref.group}/${family}`;
    const hit = this.svcs.get(key);
    if (hit) return hit;
    const out = this.members(ref, 'service', (i) => ('service' in i ? (i.service.icmp ? { ...i.service, protocol: family === 4 ? 1 : 58 } : i.service) : undefined));
    if (out.length === 0) throw new LineFail('POLICY_OBJECT_GROUP_EMPTY', `object group '${ref.group}' has no member`, ref.token, 'a group with services');
    this.svcs.set(key, out);
    return out;
  }

  /** The selectors of a template: the cross product of its groups' members, duplicates dropped. */
  expand(t: EntryTemplate): Selector[] {
    const srcs = isGroupRef(t.src) ? this.network(t.src, t.family) : [t.src];
    const dsts = isGroupRef(t.dst) ? this.network(t.dst, t.family) : [t.dst];
    const svcs: ServiceMember[] = isGroupRef(t.protocol) ? this.service(t.protocol, t.family) : [{ protocol: t.protocol, sport: t.sport, dport: t.dport }];
    const n = srcs.length * dsts.length * svcs.length;
    if (n > MAX_ENTRY_SELECTORS) {
      const ref = [t.protocol, t.src, t.dst].find(isGroupRef)!;
      throw new LineFail('POLICY_OBJECT_GROUP_TOO_LARGE', `the entry expands to ${n} selectors (${svcs.length} services x ${srcs.length} sources x ${dsts.length} destinations), more than ${MAX_ENTRY_SELECTORS}`, ref.token, 'smaller object groups, or several entries');
    }
    const out = new Map<string, Selector>();
    for (const s of svcs)
      for (const src of srcs)
        for (const dst of dsts) {
          const key = `${s.protocol}|${src.value}/${src.care}|${dst.value}/${dst.care}|${JSON.stringify(s.sport)}|${JSON.stringify(s.dport)}`;
          if (!out.has(key)) out.set(key, { family: t.family, protocol: s.protocol, src, dst, sport: s.sport, dport: s.dport });
        }
    return [...out.values()];
  }
}

