// Text <-> bigint for IPv4 and IPv6 addresses and masks. Parsing returns undefined on bad text so
// that each caller can raise the error that fits its context (policy, CLI, config).
import type { Family } from './types.js';
import { allOnes } from './types.js';

const V4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

export function parseIPv4(text: string): bigint | undefined {
  const m = V4.exec(text);
  if (!m) return undefined;
  let v = 0n;
  for (let i = 1; i <= 4; i++) {
    const n = Number(m[i]);
    if (n > 255) return undefined;
    v = (v << 8n) | BigInt(n);
  }
  return v;
}

export function formatIPv4(v: bigint): string {
  // The mask (a BigInt operation: an allocation) only when the value is out of range.
  return formatIPv4Number(v >= 0n && v <= 0xffffffffn ? Number(v) : Number(v & 0xffffffffn));
}

/** Dotted decimal of a 32-bit unsigned number. */
export function formatIPv4Number(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

export function parseIPv6(text: string): bigint | undefined {
  if (text.length === 0 || text.length > 45) return undefined;
  let head = text;
  let tail4: bigint | undefined;
  // An embedded dotted quad in the last 32 bits (::ffff:192.0.2.1).
  const lastColon = text.lastIndexOf(':');
  if (lastColon >= 0 && text.indexOf('.', lastColon) >= 0) {
    tail4 = parseIPv4(text.slice(lastColon + 1));
    if (tail4 === undefined) return undefined;
    head = text.slice(0, lastColon + 1) + '0:0';
  }
  const dbl = head.indexOf('::');
  if (dbl !== head.lastIndexOf('::')) return undefined;
  const parseGroups = (s: string): number[] | undefined => {
    if (s === '') return [];
    const out: number[] = [];
    for (const g of s.split(':')) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  let groups: number[];
  if (dbl >= 0) {
    const left = parseGroups(head.slice(0, dbl));
    const right = parseGroups(head.slice(dbl + 2));
    if (!left || !right || left.length + right.length > 7) return undefined;
    groups = [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
  } else {
    const all = parseGroups(head);
    if (!all || all.length !== 8) return undefined;
    groups = all;
  }
  let v = 0n;
  for (const g of groups) v = (v << 16n) | BigInt(g);
  if (tail4 !== undefined) v = (v & ~0xffffffffn) | tail4;
  return v;
}

/** RFC 5952 text: lower case, longest run (>= 2) of zero groups compressed, first on ties. */
export function formatIPv6(v: bigint): string {
  const groups: number[] = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((v >> BigInt(i * 16)) & 0xffffn));
  return formatIPv6Groups(groups);
}

/** RFC 5952 text of eight 16-bit groups. */
function formatIPv6Groups(groups: number[]): string {
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (gs: number[]) => gs.map((g) => g.toString(16)).join(':');
  if (bestStart < 0) return hex(groups);
  return `${hex(groups.slice(0, bestStart))}::${hex(groups.slice(bestStart + bestLen))}`;
}

export function parseAddress(family: Family, text: string): bigint | undefined {
  return family === 4 ? parseIPv4(text) : parseIPv6(text);
}

export function formatAddress(family: Family, v: bigint): string {
  return family === 4 ? formatIPv4(v) : formatIPv6(v);
}

/** Either family, guessed from the text. */
export function parseAnyAddress(text: string): { family: Family; value: bigint } | undefined {
  if (text.includes(':')) {
    const value = parseIPv6(text);
    return value === undefined ? undefined : { family: 6, value };
  }
  const value = parseIPv4(text);
  return value === undefined ? undefined : { family: 4, value };
}

/** Care-mask of a prefix length. */
export function prefixMask(family: Family, len: number): bigint {
  const bits = family === 4 ? 32 : 128;
  if (len <= 0) return 0n;
  return (allOnes(family) << BigInt(bits - len)) & allOnes(family);
}

/** The prefix length when `care` is contiguous (ones then zeros), else undefined. */
export function prefixLength(family: Family, care: bigint): number | undefined {
  const bits = family === 4 ? 32 : 128;
  for (let len = 0; len <= bits; len++) if (prefixMask(family, len) === care) return len;
  return undefined;
}

/** The address of `family` stored in network order at bytes[offset] (packet headers), as text. */
export function formatAddressAt(bytes: Uint8Array, offset: number, family: Family): string {
  if (family === 4) return `${bytes[offset]}.${bytes[offset + 1]}.${bytes[offset + 2]}.${bytes[offset + 3]}`;
  const groups: number[] = [];
  for (let k = 0; k < 16; k += 2) groups.push((bytes[offset + k]! << 8) | bytes[offset + k + 1]!);
  return formatIPv6Groups(groups);
}

/** What kind of destination an address is (RFC 6890 special-purpose ranges that matter to a sender). */
export type AddressScope = 'unicast' | 'unspecified' | 'loopback' | 'link-local' | 'multicast' | 'broadcast' | 'reserved' | 'v4-mapped';

/**
 * Whether a datagram to `v` reaches one host elsewhere: IPv4 0/8 (this network), 127/8, 169.254/16,
 * 224/4, 255.255.255.255 and the rest of 240/4; IPv6 ::, ::1, fe80::/10, ff00::/8 and IPv4-mapped
 * ::ffff:0:0/96 (never valid on the wire) are not unicast.
 */
export function addressScope(family: Family, v: bigint): AddressScope {
  if (family === 4) {
    const a = Number(v & 0xffffffffn) >>> 0;
    const top = a >>> 24;
    if (top === 0) return 'unspecified';
    if (top === 127) return 'loopback';
    if (a >>> 16 === 0xa9fe) return 'link-local';
    if (top >= 224 && top < 240) return 'multicast';
    if (a === 0xffffffff) return 'broadcast';
    if (top >= 240) return 'reserved';
    return 'unicast';
  }
  if (v === 0n) return 'unspecified';
  if (v === 1n) return 'loopback';
  const hi16 = Number(v >> 112n);
  if (hi16 >>> 8 === 0xff) return 'multicast';
  if ((hi16 & 0xffc0) === 0xfe80) return 'link-local';
  if (v >> 32n === 0xffffn) return 'v4-mapped';
  return 'unicast';
}
