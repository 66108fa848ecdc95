// Canonical Cisco text for selectors and entries: `any`, `host A`, `A W` (wildcard), `X/len`
// (IPv6), and port conditions `eq`, `lt`, `gt`, `neq`, `range`. Ports are printed as numbers
// and protocols by IOS keyword, so parsing the output gives back exactly the same selector.
import { formatAddress, formatIPv4, prefixLength } from './address.js';
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
  if (family === 4) return `${formatIPv4(a.value)} ${formatIPv4(~a.care & ones)}`;
  const len = prefixLength(6, a.care);
  // Cisco has no IPv6 wildcard masks; a non-prefix IPv6 care-mask (only reachable from the API)
  // is printed as `X W` so that nothing is hidden, though IOS would not accept it.
  if (len === undefined) return `${formatAddress(6, a.value)} ${formatAddress(6, ~a.care & ones)}`;
  return `${formatAddress(6, a.value)}/${len}`;
}

/**
 * The single Cisco port condition for a port set, '' for any port, or undefined when no single
 * operator expresses the set (several ranges that are not a one-port hole).
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
  if (set.length === 2) {
    const [a, b] = set as [PortRange, PortRange];
    if (a.lo === 0 && b.hi === 65535 && b.lo === a.hi + 2) return `neq ${a.hi + 1}`;
  }
  return undefined;
}

/** One Cisco port condition per range: the union of the pieces is the set. */
function portPieces(set: PortSet): string[] {
  const whole = formatPortCondition(set);
  if (whole !== undefined) return [whole];
  return set.map((r) => formatPortCondition([r])!);
}

function join(...parts: string[]): string {
  return parts.filter((p) => p !== '').join(' ');
}

/**
 * Cisco entry lines for a selector: one line when a single entry expresses it (always, except
 * for port sets of several ranges that are not a `neq` hole); otherwise several lines whose union
 * is exactly the selector.
 */
export function formatSelectorLines(s: Selector, action: Action = 'permit'): string[] {
  const proto = protocolName(s.family, s.protocol);
  const src = formatAddressField(s.family, s.src);
  const dst = formatAddressField(s.family, s.dst);
  const out: string[] = [];
  for (const sp of portPieces(s.sport)) for (const dp of portPieces(s.dport)) out.push(join(action, proto, src, sp, dst, dp));
  return out;
}

/** A selector as Cisco entry text (lines joined by '\n' in the rare case it needs several). */
export function formatSelector(s: Selector, action: Action = 'permit'): string {
  return formatSelectorLines(s, action).join('\n');
}

/** An entry as Cisco text with its own action. */
export function formatEntry(e: Entry): string {
  return formatSelector(e, e.action);
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
