// Canonical Cisco text for selectors and entries: `any`, `host A`, `A W` (wildcard), `X/len`
// (IPv6), and port conditions `eq`, `lt`, `gt`, `neq`, `range`. Ports are printed as numbers
// and protocols by IOS keyword, so parsing the output gives back exactly the same selector; what
// Cisco text cannot say (ports with protocol any, from JSON policies) is printed as a JSON entry
// object, which parses back too.
import { formatAddress, formatIPv4, formatIPv4Number, prefixLength } from './address.js';
import { isAnyPort } from './algebra.js';
import type { Action, Address, Entry, Family, PortRange, PortSet, Selector } from './types.js';
import { allOnes } from './types.js';

/** Protocol keywords of IPv4 lists (`ip` = any). `icmp` is 1 here, 58 in IPv6 lists. */
export const PROTOCOLS_V4: Readonly<Record<string, number>> = Object.freeze({
  ip: 0, tcp: 6, udp: 17, icmp: 1, igmp: 2, ipinip: 4, gre: 47, esp: 50, ahp: 51, eigrp: 88,
  ospf: 89, nos: 94, pim: 103, pcp: 108, sctp: 132,
});

/** Protocol keywords of IPv6 lists (`ipv6` = any). */
export const PROTOCOLS_V6: Readonly<Record<string, number>> = Object.freeze({
  ipv6: 0, tcp: 6, udp: 17, icmp: 58, gre: 47, esp: 50, ahp: 51, pcp: 108, sctp: 132,
});

/** The keyword for a protocol number, for canonical output (numbers when IOS has no keyword). */
export function protocolName(family: 4 | 6, protocol: number): string {
  return (family === 4 ? NAMES_V4 : NAMES_V6)[protocol] ?? String(protocol);
}

const reverse = (table: Readonly<Record<string, number>>): string[] => {
  const out: string[] = [];
  for (const [name, n] of Object.entries(table)) out[n] ??= name;
  return out;
};
const NAMES_V4 = reverse(PROTOCOLS_V4);
const NAMES_V6 = reverse(PROTOCOLS_V6);

/** `any`, `host A`, `A W` (IPv4, any wildcard incl. non-contiguous), `X/len` (IPv6). */
export function formatAddressField(family: Family, a: Address): string {
  const ones = allOnes(family);
  if (a.care === 0n) return 'any';
  if (a.care === ones) return `host ${formatAddress(family, a.value)}`;
  // The wildcard in number arithmetic (each BigInt operation allocates).
  if (family === 4) return `${formatIPv4(a.value)} ${a.care >= 0n && a.care <= ones ? formatIPv4Number(~Number(a.care) >>> 0) : formatIPv4(~a.care & ones)}`;
  const len = prefixLength(6, a.care);
  // Cisco has no IPv6 wildcard masks; a non-prefix IPv6 care-mask (only reachable from the API)
  // is shown as `X W` here, and entries holding one are printed as JSON (formatSelectorLines).
  if (len === undefined) return `${formatAddress(6, a.value)} ${formatAddress(6, ~a.care & ones)}`;
  return `${formatAddress(6, a.value)}/${len}`;
}

/** IOS-XE accepts up to this many ports after one `eq` or `neq`. */
export const MAX_LISTED_PORTS = 10;

/** Every port of the set when there are at most MAX_LISTED_PORTS, else undefined. */
function fewPorts(set: PortSet): number[] | undefined {
  const out: number[] = [];
  for (const r of set) {
    if (out.length + (r.hi - r.lo + 1) > MAX_LISTED_PORTS) return undefined;
    for (let p = r.lo; p <= r.hi; p++) out.push(p);
  }
  return out;
}

/** The ports a set leaves out (the holes of a `neq`) when there are at most MAX_LISTED_PORTS, else undefined. */
function fewMissingPorts(set: PortSet): number[] | undefined {
  const gaps = [];
  let next = 0;
  for (const r of set) {
    if (r.lo > next) gaps.push({ lo: next, hi: r.lo - 1 });
    next = r.hi + 1;
  }
  if (next <= 65535) gaps.push({ lo: next, hi: 65535 });
  return fewPorts(gaps);
}

/**
 * The single Cisco port condition for a port set, '' for any port, or undefined when no single
 * operator expresses the set. `eq`/`neq` take up to 10 ports (IOS-XE's non-contiguous ports).
 */
export function formatPortCondition(set: PortSet): string | undefined {
  if (isAnyPort(set)) return '';
  if (set.length === 1) {
    const { lo, hi } = set[0]!;
    if (lo === hi) return `eq ${lo}`;
    if (lo === 0) return `lt ${hi + 1}`;
    if (hi === 65535) return `gt ${lo - 1}`;
    return `range ${lo} ${hi}`;
  }
  const ports = fewPorts(set);
  if (ports) return `eq ${ports.join(' ')}`;
  const holes = fewMissingPorts(set);
  if (holes) return `neq ${holes.join(' ')}`;
  return undefined;
}

/** Cisco port conditions whose union is the set: one when possible, else single ports grouped by `eq` and one per range. */
function portPieces(set: PortSet): string[] {
  const whole = formatPortCondition(set);
  if (whole !== undefined) return [whole];
  // In port order, each `eq` list placed at its first port.
  const out: { at: number; text: string }[] = [];
  const singles = set.filter((r) => r.lo === r.hi);
  for (let i = 0; i < singles.length; i += MAX_LISTED_PORTS) out.push({ at: singles[i]!.lo, text: formatPortCondition(singles.slice(i, i + MAX_LISTED_PORTS))! });
  for (const r of set) if (r.lo !== r.hi) out.push({ at: r.lo, text: formatPortCondition([r])! });
  return out.sort((a, b) => a.at - b.at).map((p) => p.text);
}

/** The non-empty parts, space-separated. */
function join(...parts: string[]): string {
  let out = '';
  for (const p of parts) if (p !== '') out = out === '' ? p : `${out} ${p}`;
  return out;
}

/**
 * Can Cisco entry text say this selector? Not when it has ports and a protocol other than TCP or
 * UDP (a JSON policy can write that), nor for an IPv6 care-mask that is not a prefix.
 */
export function ciscoExpressible(s: Selector): boolean {
  if ((s.protocol !== 6 && s.protocol !== 17) && (!isAnyPort(s.sport) || !isAnyPort(s.dport))) return false;
  return s.family === 4 || (prefixLength(6, s.src.care) !== undefined && prefixLength(6, s.dst.care) !== undefined);
}

/**
 * Cisco entry lines for a selector: one line when a single entry expresses it; several lines
 * whose union is exactly the selector for port sets no single condition expresses; and for a
 * selector Cisco text cannot say at all (see ciscoExpressible), one line holding the JSON entry
 * object (the policy schema's entry form), which the entry readers also accept.
 */
export function formatSelectorLines(s: Selector, action: Action = 'permit'): string[] {
  if (!ciscoExpressible(s)) return [jsonEntryText(s, action)];
  const proto = protocolName(s.family, s.protocol);
  const src = formatAddressField(s.family, s.src);
  const dst = formatAddressField(s.family, s.dst);
  const out: string[] = [];
  for (const sp of portPieces(s.sport)) for (const dp of portPieces(s.dport)) out.push(join(action, proto, src, sp, dst, dp));
  return out;
}

/** A selector as Cisco entry text (lines joined by '\n' when it needs several). */
export function formatSelector(s: Selector, action: Action = 'permit'): string {
  return formatSelectorLines(s, action).join('\n');
}

/** Every line of an entry: its selectors in order, each as formatSelectorLines prints it. */
export function formatEntryLines(e: Entry): string[] {
  return (e.selectors ?? [e]).flatMap((s) => formatSelectorLines(s, e.action));
}

/** An entry as Cisco text with its own action (one line per selector of an object-group entry). */
export function formatEntry(e: Entry): string {
  return formatEntryLines(e).join('\n');
}

/**
 * The JSON entry object of a selector on one line, e.g. `{"action": "permit", "protocol": "ip",
 * "source": "any", "destination": "10.0.0.0 0.0.0.255", "dport": 80}`. The protocol is written as
 * a keyword where there is one, so that `ip`/`ipv6` carries the family of an any/any selector.
 */
export function jsonEntryText(s: Selector, action: Action = 'permit'): string {
  const name = protocolName(s.family, s.protocol);
  const addr = (a: Address) => {
    // IPv6 `any` as ::/0, so that the line says its family even when the protocol cannot.
    if (s.family === 6 && a.care === 0n) return '"::/0"';
    if (s.family === 4 || prefixLength(6, a.care) !== undefined) return JSON.stringify(formatAddressField(s.family, a));
    const j = addressJson(6, a) as { value: string; wildcard: string };
    return `{"value": ${JSON.stringify(j.value)}, "wildcard": ${JSON.stringify(j.wildcard)}}`;
  };
  const ports = (set: PortSet) => (set.length === 1 && set[0]!.lo === set[0]!.hi ? String(set[0]!.lo) : JSON.stringify(portsJson(set)).replace(/,/g, ', '));
  const parts = [`"action": "${action}"`, `"protocol": ${/^\d+$/.test(name) ? name : JSON.stringify(name)}`, `"source": ${addr(s.src)}`, `"destination": ${addr(s.dst)}`];
  if (!isAnyPort(s.sport)) parts.push(`"sport": ${ports(s.sport)}`);
  if (!isAnyPort(s.dport)) parts.push(`"dport": ${ports(s.dport)}`);
  return `{${parts.join(', ')}}`;
}

/** JSON form of an address: IPv4 `{value, wildcard}`, IPv6 `{prefix: "X/len"}`. */
export function addressJson(family: Family, a: Address): { value: string; wildcard: string } | { prefix: string } {
  const ones = allOnes(family);
  if (family === 6) {
    const len = prefixLength(6, a.care);
    if (len !== undefined) return { prefix: `${formatAddress(6, a.value)}/${len}` };
  }
  return { value: formatAddress(family, a.value), wildcard: formatAddress(family, ~a.care & ones) };
}

/** JSON form of a port set: `[lo, hi]` for one range, `[[lo, hi], ...]` for several. */
export function portsJson(set: PortSet): [number, number] | [number, number][] {
  if (set.length === 1) return [set[0]!.lo, set[0]!.hi];
  return set.map((r) => [r.lo, r.hi] as [number, number]);
}

export interface SelectorJson {
  protocol: number;
  source: { value: string; wildcard: string } | { prefix: string };
  destination: { value: string; wildcard: string } | { prefix: string };
  sport: [number, number] | [number, number][];
  dport: [number, number] | [number, number][];
  entry: string;
}

export function selectorJson(s: Selector, action: Action = 'permit'): SelectorJson {
  return {
    protocol: s.protocol,
    source: addressJson(s.family, s.src),
    destination: addressJson(s.family, s.dst),
    sport: portsJson(s.sport),
    dport: portsJson(s.dport),
    entry: formatSelector(s, action),
  };
}
