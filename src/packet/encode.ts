// Header encoders: IPv4 and IPv6 (with options / extension headers when a test needs them), UDP,
// TCP, SCTP and ICMP/ICMPv6 headers, Ethernet II with VLAN tags. Checksums are computed (IPv4
// header, UDP/TCP/ICMPv6 over the pseudo-header, ICMP), so frames can go out through a raw
// socket or into a capture that tshark reads without complaint.
//
// Every encoder comes in two forms: `xxxLength(opts)` (bytes it will write) and
// `encodeXxx(opts, buf?, offset?)` which writes at `offset` of `buf` (allocating when absent)
// and returns the bytes written as a view.
import type { Family } from '../selector/types.js';

/** RFC 1071 one's-complement sum of buf[off, off+len), folded, starting from `initial`. */
export function onesSum(buf: Uint8Array, off: number, len: number, initial = 0): number {
  let sum = initial;
  let i = off;
  const end = off + len;
  for (; i + 1 < end; i += 2) sum += (buf[i]! << 8) | buf[i + 1]!;
  if (i < end) sum += buf[i]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

/** The Internet checksum of buf[off, off+len) (with `initial` for a pseudo-header sum). */
export function internetChecksum(buf: Uint8Array, off: number, len: number, initial = 0): number {
  return ~onesSum(buf, off, len, initial) & 0xffff;
}

function put16(b: Uint8Array, o: number, v: number): void {
  b[o] = (v >>> 8) & 255;
  b[o + 1] = v & 255;
}

function put32(b: Uint8Array, o: number, v: number): void {
  b[o] = (v >>> 24) & 255;
  b[o + 1] = (v >>> 16) & 255;
  b[o + 2] = (v >>> 8) & 255;
  b[o + 3] = v & 255;
}

function putAddr(b: Uint8Array, o: number, v: bigint, bytes: number): void {
  for (let k = bytes - 1; k >= 0; k--) {
    b[o + k] = Number(v & 0xffn);
    v >>= 8n;
  }
}

function sumAddr(v: bigint, bytes: number): number {
  let s = 0;
  for (let k = 0; k < bytes; k += 2) s += Number((v >> BigInt(8 * (bytes - k - 2))) & 0xffffn);
  return s;
}

/** Pseudo-header sum (RFC 768 / RFC 8200 8.1) for an upper-layer checksum. */
export function pseudoHeaderSum(family: Family, src: bigint, dst: bigint, protocol: number, length: number): number {
  const bytes = family === 4 ? 4 : 16;
  let s = sumAddr(src, bytes) + sumAddr(dst, bytes) + protocol + (length & 0xffff) + (length >>> 16);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s;
}

export interface L4Options {
  protocol: number;
  sport?: number;
  dport?: number;
  payload?: Uint8Array;
  /** ICMP/ICMPv6 type and code (default echo request). */
  icmpType?: number;
  icmpCode?: number;
  /** TCP flags (default SYN). */
  tcpFlags?: number;
  /** TCP sequence and acknowledgment numbers (default 1 and 0). */
  seq?: number;
  ack?: number;
}

/** Length of the L4 header plus payload `encodeL4` writes. */
export function l4Length(o: L4Options): number {
  const pl = o.payload?.length ?? 0;
  switch (o.protocol) {
    case 6:
      return 20 + pl;
    case 17:
      return 8 + pl;
    case 132:
      return 12 + pl;
    case 1:
    case 58:
      return 8 + pl;
    default:
      return pl;
  }
}

/**
 * Writes an L4 header and payload at buf[offset]. The checksum needs the IP addresses:
 * UDP/TCP/ICMPv6 use the pseudo-header; SCTP's CRC32c is left 0 (receivers we feed ignore it).
 */
export function encodeL4(o: L4Options, family: Family, src: bigint, dst: bigint, buf?: Uint8Array, offset = 0): Uint8Array {
  const len = l4Length(o);
  const b = buf ?? new Uint8Array(offset + len);
  const at = offset;
  const pl = o.payload ?? new Uint8Array(0);
  b.fill(0, at, at + len);
  let csumAt = -1;
  let hdr = 0;
  switch (o.protocol) {
    case 17:
      put16(b, at, o.sport ?? 0);
      put16(b, at + 2, o.dport ?? 0);
      put16(b, at + 4, len);
      csumAt = 6;
      hdr = 8;
      break;
    case 6:
      put16(b, at, o.sport ?? 0);
      put16(b, at + 2, o.dport ?? 0);
      put32(b, at + 4, (o.seq ?? 1) >>> 0);
      put32(b, at + 8, (o.ack ?? 0) >>> 0);
      b[at + 12] = 5 << 4;
      b[at + 13] = o.tcpFlags ?? 0x02;
      put16(b, at + 14, 65535);
      csumAt = 16;
      hdr = 20;
      break;
    case 132:
      put16(b, at, o.sport ?? 0);
      put16(b, at + 2, o.dport ?? 0);
      hdr = 12;
      break;
    case 1:
    case 58:
      b[at] = o.icmpType ?? (o.protocol === 1 ? 8 : 128);
      b[at + 1] = o.icmpCode ?? 0;
      csumAt = 2;
      hdr = 8;
      break;
    default:
      hdr = 0;
  }
  b.set(pl, at + hdr);
  if (csumAt >= 0) {
    const pseudo = o.protocol === 1 ? 0 : pseudoHeaderSum(family, src, dst, o.protocol, len);
    let c = internetChecksum(b, at, len, pseudo);
    if (c === 0 && o.protocol === 17) c = 0xffff; // UDP: 0 means "no checksum"
    put16(b, at + csumAt, c);
  }
  return b.subarray(at, at + len);
}

export interface IPv4Options {
  src: bigint;
  dst: bigint;
  protocol: number;
  /** The L4 bytes (use encodeL4 or encodeIPv4Udp for headers with checksums). */
  payload: Uint8Array;
  ttl?: number;
  tos?: number;
  id?: number;
  dontFragment?: boolean;
  moreFragments?: boolean;
  /** Fragment offset in bytes (a multiple of 8). */
  fragmentOffset?: number;
  /** Raw IPv4 options, padded to a multiple of 4 with end-of-options (0) bytes. */
  options?: Uint8Array;
}

export function ipv4Length(o: IPv4Options): number {
  return 20 + (((o.options?.length ?? 0) + 3) & ~3) + o.payload.length;
}

export function encodeIPv4(o: IPv4Options, buf?: Uint8Array, offset = 0): Uint8Array {
  const optLen = ((o.options?.length ?? 0) + 3) & ~3;
  const hl = 20 + optLen;
  if (hl > 60) throw new RangeError(`IPv4 options of ${o.options!.length} bytes do not fit in a header (max 40)`);
  const total = hl + o.payload.length;
  if (total > 65535) throw new RangeError(`IPv4 packet of ${total} bytes exceeds 65535`);
  const b = buf ?? new Uint8Array(offset + total);
  const at = offset;
  b.fill(0, at, at + hl);
  b[at] = 0x40 | (hl >> 2);
  b[at + 1] = o.tos ?? 0;
  put16(b, at + 2, total);
  put16(b, at + 4, o.id ?? 0);
  const fo = o.fragmentOffset ?? 0;
  if (fo % 8 !== 0 || fo > 0xffff) throw new RangeError(`IPv4 fragment offset ${fo} is not a multiple of 8 below 65536`);
  put16(b, at + 6, (o.dontFragment ? 0x4000 : 0) | (o.moreFragments ? 0x2000 : 0) | (fo >> 3));
  b[at + 8] = o.ttl ?? 64;
  b[at + 9] = o.protocol;
  putAddr(b, at + 12, o.src, 4);
  putAddr(b, at + 16, o.dst, 4);
  if (o.options) b.set(o.options, at + 20);
  put16(b, at + 10, internetChecksum(b, at, hl));
  b.set(o.payload, at + hl);
  return b.subarray(at, at + total);
}

/** An IPv6 extension header: hop-by-hop (0), routing (43), destination options (60), fragment (44) or AH (51). */
export interface IPv6Extension {
  type: 0 | 43 | 44 | 51 | 60;
  /** Body after the 2 bytes of next-header and length (fragment: ignored; padded as the type requires). */
  body?: Uint8Array;
  /** Fragment header fields. */
  fragmentOffset?: number;
  moreFragments?: boolean;
  id?: number;
}

export interface IPv6Options {
  src: bigint;
  dst: bigint;
  /** The upper-layer protocol after the extension headers. */
  protocol: number;
  payload: Uint8Array;
  hopLimit?: number;
  trafficClass?: number;
  flowLabel?: number;
  extensions?: readonly IPv6Extension[];
}

function extLength(e: IPv6Extension): number {
  if (e.type === 44) return 8;
  const body = e.body?.length ?? 0;
  // AH in IPv6 is a multiple of 8 bytes: SPI, sequence and at least a 4-byte ICV.
  if (e.type === 51) return Math.max(16, (2 + body + 7) & ~7);
  return Math.max(8, (2 + body + 7) & ~7);
}

export function ipv6Length(o: IPv6Options): number {
  let n = 40 + o.payload.length;
  for (const e of o.extensions ?? []) n += extLength(e);
  return n;
}

export function encodeIPv6(o: IPv6Options, buf?: Uint8Array, offset = 0): Uint8Array {
  const total = ipv6Length(o);
  if (total - 40 > 65535) throw new RangeError(`IPv6 payload of ${total - 40} bytes exceeds 65535`);
  const b = buf ?? new Uint8Array(offset + total);
  const at = offset;
  const exts = o.extensions ?? [];
  b.fill(0, at, at + total - o.payload.length);
  put32(b, at, (6 << 28) | ((o.trafficClass ?? 0) << 20) | ((o.flowLabel ?? 0) & 0xfffff));
  put16(b, at + 4, total - 40);
  b[at + 6] = exts.length > 0 ? exts[0]!.type : o.protocol;
  b[at + 7] = o.hopLimit ?? 64;
  putAddr(b, at + 8, o.src, 16);
  putAddr(b, at + 24, o.dst, 16);
  let q = at + 40;
  exts.forEach((e, k) => {
    const len = extLength(e);
    b[q] = k + 1 < exts.length ? exts[k + 1]!.type : o.protocol;
    if (e.type === 44) {
      const fo = e.fragmentOffset ?? 0;
      if (fo % 8 !== 0 || fo > 0xfff8) throw new RangeError(`IPv6 fragment offset ${fo} is not a multiple of 8 below 65536`);
      put16(b, q + 2, fo | (e.moreFragments ? 1 : 0));
      put32(b, q + 4, e.id ?? 0);
    } else {
      b[q + 1] = e.type === 51 ? len / 4 - 2 : len / 8 - 1;
      if (e.body) b.set(e.body, q + 2);
    }
    q += len;
  });
  b.set(o.payload, q);
  return b.subarray(at, at + total);
}

export interface UdpPacketOptions {
  family: Family;
  src: bigint;
  dst: bigint;
  sport: number;
  dport: number;
  payload: Uint8Array;
  ttl?: number;
  id?: number;
  dontFragment?: boolean;
}

/** An IPv4 or IPv6 packet carrying UDP, every checksum filled in (what a raw socket sends). */
export function encodeUdpPacket(o: UdpPacketOptions): Uint8Array {
  const l4 = encodeL4({ protocol: 17, sport: o.sport, dport: o.dport, payload: o.payload }, o.family, o.src, o.dst);
  if (o.family === 4) return encodeIPv4({ src: o.src, dst: o.dst, protocol: 17, payload: l4, ttl: o.ttl, id: o.id, dontFragment: o.dontFragment });
  return encodeIPv6({ src: o.src, dst: o.dst, protocol: 17, payload: l4, hopLimit: o.ttl });
}

export function encodeIPv4Udp(o: Omit<UdpPacketOptions, 'family'>): Uint8Array {
  return encodeUdpPacket({ ...o, family: 4 });
}

export function encodeIPv6Udp(o: Omit<UdpPacketOptions, 'family'>): Uint8Array {
  return encodeUdpPacket({ ...o, family: 6 });
}

export interface EthernetOptions {
  /** 6 bytes each (default 02:00:00:00:00:01 / :02, locally administered). */
  srcMac?: Uint8Array;
  dstMac?: Uint8Array;
  /** Ethertype of the payload (default from its IP version: 0x0800 / 0x86dd). */
  etherType?: number;
  /** VLAN tags outermost first; tpid defaults to 0x8100 (use 0x88a8 for an 802.1ad outer tag). */
  vlans?: readonly { id: number; tpid?: number; pcp?: number }[];
}

export function encodeEthernet(o: EthernetOptions, payload: Uint8Array): Uint8Array {
  const tags = o.vlans ?? [];
  const hl = 14 + 4 * tags.length;
  const b = new Uint8Array(hl + payload.length);
  b.set(o.dstMac ?? [2, 0, 0, 0, 0, 2], 0);
  b.set(o.srcMac ?? [2, 0, 0, 0, 0, 1], 6);
  let q = 12;
  for (const t of tags) {
    put16(b, q, t.tpid ?? 0x8100);
    put16(b, q + 2, ((t.pcp ?? 0) << 13) | (t.id & 0xfff));
    q += 4;
  }
  const et = o.etherType ?? (payload.length > 0 && payload[0]! >> 4 === 6 ? 0x86dd : 0x0800);
  put16(b, q, et);
  b.set(payload, hl);
  return b;
}
