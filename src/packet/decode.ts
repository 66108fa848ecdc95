// The header walk: from a captured frame's bytes to its IP 5-tuple, or a reason it has none.
//
// Link layers: Ethernet II (with any number up to 8 of 802.1Q / 802.1ad / 0x9100 tags), raw IP
// (101, 228 IPv4-only, 229 IPv6-only), Linux cooked v1 (113) and v2 (276), BSD null (0, host
// byte order of the writer) and OpenBSD loop (108, network order). IPv4 with options and
// fragments; IPv6 through hop-by-hop, routing, fragment, destination options and AH (ESP, like
// any upper-layer protocol, ends the chain). Ports for TCP, UDP and SCTP, unless the packet is a
// non-first fragment (then hasPorts = false and it matches only entries without port conditions).
//
// `walkFrame` is the allocation-free core; assembly/decode.ts is its WebAssembly twin and must
// return the same reason and fields for every input (test/packet-wasm.test.ts checks).
import { DecodeError } from '../errors.js';
import type { Family, Tuple } from '../selector/types.js';

/** Why a frame has no 5-tuple (0 = it has one). Stable numbers: the wasm twin uses them too. */
export const Reason = {
  OK: 0,
  UNSUPPORTED_LINK_TYPE: 1,
  LINK_TRUNCATED: 2,
  NOT_IP: 3,
  IP_TRUNCATED: 4,
  BAD_IP_VERSION: 5,
  BAD_IP_HEADER_LENGTH: 6,
  BAD_IP_TOTAL_LENGTH: 7,
  IPV6_EXT_TRUNCATED: 8,
  IPV6_EXT_TOO_MANY: 9,
  L4_TRUNCATED: 10,
  TOO_MANY_VLAN_TAGS: 11,
} as const;
export type ReasonCode = (typeof Reason)[keyof typeof Reason];

/** Short names for summaries, indexed by reason code. */
export const REASON_NAMES: readonly string[] = [
  'ok',
  'unsupported-link-type',
  'link-truncated',
  'not-ip',
  'ip-truncated',
  'bad-ip-version',
  'bad-ip-header-length',
  'bad-ip-total-length',
  'ipv6-ext-truncated',
  'ipv6-ext-too-many',
  'l4-truncated',
  'too-many-vlan-tags',
];

/** Stable error codes (PKT_*) for each reason, for callers that want a DecodeError. */
export const REASON_CODES: readonly string[] = [
  'PKT_OK',
  'PKT_UNSUPPORTED_LINK_TYPE',
  'PKT_LINK_TRUNCATED',
  'PKT_NOT_IP',
  'PKT_IP_TRUNCATED',
  'PKT_BAD_IP_VERSION',
  'PKT_BAD_IP_HEADER_LENGTH',
  'PKT_BAD_IP_TOTAL_LENGTH',
  'PKT_IPV6_EXT_TRUNCATED',
  'PKT_IPV6_EXT_TOO_MANY',
  'PKT_L4_TRUNCATED',
  'PKT_TOO_MANY_VLAN_TAGS',
];

export const LinkType = {
  NULL: 0,
  ETHERNET: 1,
  RAW: 101,
  LOOP: 108,
  LINUX_SLL: 113,
  IPV4: 228,
  IPV6: 229,
  LINUX_SLL2: 276,
} as const;

export const LINK_TYPE_NAMES: Readonly<Record<number, string>> = {
  0: 'null',
  1: 'ethernet',
  101: 'raw',
  108: 'loop',
  113: 'linux-sll',
  228: 'ipv4',
  229: 'ipv6',
  276: 'linux-sll2',
};

export const IPPROTO = { ICMP: 1, TCP: 6, UDP: 17, GRE: 47, ESP: 50, AH: 51, ICMPV6: 58, NONE: 59, SCTP: 132 } as const;

export const MAX_VLAN_TAGS = 8;
export const MAX_IPV6_EXT = 16;

/** Reusable scratch the walk fills in; numbers only, so the walk allocates nothing. */
export class WalkState {
  /** Reason of the last walk (0 = ok). */
  reason = 0;
  /** Byte offset (in the frame) where the walk stopped for a failure, or of the L3 header. */
  errOffset = 0;
  l3 = 0;
  family = 0;
  protocol = 0;
  /** Offsets of the source and destination address in the frame. */
  srcAt = 0;
  dstAt = 0;
  l4 = 0;
  hasPorts = false;
  sport = 0;
  dport = 0;
  /** End of the IP packet as declared by its header, cut to the captured bytes. */
  ipEnd = 0;
  /** The IP header declared more bytes than were captured. */
  ipTruncated = false;
  isFragment = false;
  fragOffset = 0;
  moreFragments = false;
  fragId = 0;
  /**
   * For a fragment: where its fragmentable part starts in the frame (IPv4: after the header;
   * IPv6: after the fragment header), and the protocol that part begins with (IPv4 protocol;
   * the fragment header's Next Header). The reassembly layer (./reassembly.ts) reads these;
   * the WebAssembly twin has no use for them.
   */
  fragStart = 0;
  fragNext = 0;
  /** The L4 payload, set by payloadBounds (not by the walk itself). */
  payloadStart = 0;
  payloadEnd = 0;
  vlanCount = 0;
  /** VLAN ids, outermost first (vlanCount of them). */
  readonly vlans = new Uint16Array(MAX_VLAN_TAGS);
  ttl = 0;
}

function be16(d: Uint8Array, o: number): number {
  return (d[o]! << 8) | d[o + 1]!;
}

/**
 * Walks the headers of d[start, end) for link type `linkType` into `s`. Returns the reason code
 * (also in s.reason). Never throws and never reads outside [start, end).
 */
export function walkFrame(linkType: number, d: Uint8Array, start: number, end: number, s: WalkState): number {
  s.hasPorts = false;
  s.sport = 0;
  s.dport = 0;
  s.isFragment = false;
  s.fragOffset = 0;
  s.moreFragments = false;
  s.fragId = 0;
  s.fragStart = 0;
  s.fragNext = 0;
  s.vlanCount = 0;
  s.family = 0;
  s.protocol = 0;
  let p = start;
  let etype = 0;
  switch (linkType) {
    case 1: {
      if (end - p < 14) return fail(s, Reason.LINK_TRUNCATED, end);
      etype = be16(d, p + 12);
      p += 14;
      break;
    }
    case 101:
    case 228:
    case 229: {
      if (end - p < 1) return fail(s, Reason.IP_TRUNCATED, p);
      const v = d[p]! >> 4;
      if (v === 4 && linkType !== 229) etype = 0x0800;
      else if (v === 6 && linkType !== 228) etype = 0x86dd;
      else return fail(s, Reason.BAD_IP_VERSION, p);
      break;
    }
    case 113: {
      if (end - p < 16) return fail(s, Reason.LINK_TRUNCATED, end);
      etype = be16(d, p + 14);
      p += 16;
      break;
    }
    case 276: {
      if (end - p < 20) return fail(s, Reason.LINK_TRUNCATED, end);
      etype = be16(d, p);
      p += 20;
      break;
    }
    case 0:
    case 108: {
      if (end - p < 4) return fail(s, Reason.LINK_TRUNCATED, end);
      let af: number;
      if (linkType === 108) af = be16(d, p + 2) | (be16(d, p) << 16);
      else {
        // Host byte order of the machine that wrote it: a small value read the wrong way round
        // has its low 16 bits zero (the test libpcap uses).
        af = ((d[p]! << 24) | (d[p + 1]! << 16) | (d[p + 2]! << 8) | d[p + 3]!) >>> 0;
        if ((af & 0xffff) === 0) af = d[p]! | (d[p + 1]! << 8);
      }
      p += 4;
      if (af === 2) etype = 0x0800;
      else if (af === 10 || af === 24 || af === 28 || af === 30) etype = 0x86dd;
      else return fail(s, Reason.NOT_IP, start);
      break;
    }
    default:
      return fail(s, Reason.UNSUPPORTED_LINK_TYPE, start);
  }
  // VLAN tags (802.1Q 0x8100, 802.1ad 0x88a8, the pre-standard QinQ 0x9100).
  while (etype === 0x8100 || etype === 0x88a8 || etype === 0x9100) {
    if (s.vlanCount === MAX_VLAN_TAGS) return fail(s, Reason.TOO_MANY_VLAN_TAGS, p);
    if (end - p < 4) return fail(s, Reason.LINK_TRUNCATED, end);
    const tci = be16(d, p) & 0x0fff;
    s.vlans[s.vlanCount++] = tci;
    etype = be16(d, p + 2);
    p += 4;
  }
  s.l3 = p;
  if (etype === 0x0800) return walkIPv4(d, p, end, s);
  if (etype === 0x86dd) return walkIPv6(d, p, end, s);
  return fail(s, Reason.NOT_IP, p - 2);
}

function fail(s: WalkState, reason: number, at: number): number {
  s.reason = reason;
  s.errOffset = at;
  s.family = 0;
  s.hasPorts = false;
  return reason;
}

function walkIPv4(d: Uint8Array, p: number, end: number, s: WalkState): number {
  if (end - p < 20) return fail(s, Reason.IP_TRUNCATED, end);
  const vihl = d[p]!;
  if (vihl >> 4 !== 4) return fail(s, Reason.BAD_IP_VERSION, p);
  const hl = (vihl & 15) * 4;
  if (hl < 20) return fail(s, Reason.BAD_IP_HEADER_LENGTH, p);
  if (end - p < hl) return fail(s, Reason.IP_TRUNCATED, end);
  const total = be16(d, p + 2);
  let ipEnd: number;
  if (total === 0) ipEnd = end; // segmentation offload captures carry 0: trust the capture
  else if (total < hl) return fail(s, Reason.BAD_IP_TOTAL_LENGTH, p + 2);
  else ipEnd = p + total;
  s.ipTruncated = ipEnd > end;
  if (ipEnd > end) ipEnd = end;
  s.ipEnd = ipEnd;
  const frag = be16(d, p + 6);
  s.fragId = be16(d, p + 4);
  s.fragOffset = (frag & 0x1fff) * 8;
  s.moreFragments = (frag & 0x2000) !== 0;
  s.isFragment = s.fragOffset !== 0 || s.moreFragments;
  s.ttl = d[p + 8]!;
  s.protocol = d[p + 9]!;
  s.fragStart = p + hl;
  s.fragNext = s.protocol;
  s.srcAt = p + 12;
  s.dstAt = p + 16;
  s.family = 4;
  s.l4 = p + hl;
  return ports(d, ipEnd, s);
}

function walkIPv6(d: Uint8Array, p: number, end: number, s: WalkState): number {
  if (end - p < 40) return fail(s, Reason.IP_TRUNCATED, end);
  if (d[p]! >> 4 !== 6) return fail(s, Reason.BAD_IP_VERSION, p);
  const plen = be16(d, p + 4);
  // Payload length 0 is a jumbogram (or offload): trust the capture.
  let ipEnd = plen === 0 ? end : p + 40 + plen;
  s.ipTruncated = ipEnd > end;
  if (ipEnd > end) ipEnd = end;
  s.ipEnd = ipEnd;
  s.ttl = d[p + 7]!;
  s.srcAt = p + 8;
  s.dstAt = p + 24;
  let nh = d[p + 6]!;
  let q = p + 40;
  let count = 0;
  for (;;) {
    if (nh === 0 || nh === 43 || nh === 60 || nh === 51) {
      if (count === MAX_IPV6_EXT) return fail(s, Reason.IPV6_EXT_TOO_MANY, q);
      if (ipEnd - q < 2) return fail(s, Reason.IPV6_EXT_TRUNCATED, q);
      const len = nh === 51 ? (d[q + 1]! + 2) * 4 : (d[q + 1]! + 1) * 8;
      if (ipEnd - q < len) return fail(s, Reason.IPV6_EXT_TRUNCATED, q);
      nh = d[q]!;
      q += len;
      count++;
    } else if (nh === 44) {
      if (count === MAX_IPV6_EXT) return fail(s, Reason.IPV6_EXT_TOO_MANY, q);
      if (ipEnd - q < 8) return fail(s, Reason.IPV6_EXT_TRUNCATED, q);
      const fo = be16(d, q + 2);
      s.fragOffset = fo & 0xfff8;
      s.moreFragments = (fo & 1) !== 0;
      s.fragId = ((d[q + 4]! << 24) | (d[q + 5]! << 16) | (d[q + 6]! << 8) | d[q + 7]!) >>> 0;
      s.isFragment = true;
      nh = d[q]!;
      q += 8;
      s.fragStart = q;
      s.fragNext = nh;
      count++;
      // Headers after a non-first fragment's fragment header are not in this packet.
      if (s.fragOffset !== 0) break;
    } else break;
  }
  s.protocol = nh;
  s.family = 6;
  s.l4 = q;
  return ports(d, ipEnd, s);
}

function ports(d: Uint8Array, ipEnd: number, s: WalkState): number {
  const proto = s.protocol;
  if ((proto === 6 || proto === 17 || proto === 132) && s.fragOffset === 0) {
    const q = s.l4;
    if (ipEnd - q < 4) return fail(s, Reason.L4_TRUNCATED, q);
    s.sport = be16(d, q);
    s.dport = be16(d, q + 2);
    s.hasPorts = true;
  }
  s.reason = 0;
  s.errOffset = s.l3;
  return 0;
}

/**
 * Sets s.payloadStart / s.payloadEnd for a successful walk: the L4 payload after the UDP, TCP
 * (its data offset) or SCTP common header (the IP payload for other protocols), cut to the IP
 * length and the capture. UDP delimits its own datagram: a length field shorter than the IP
 * payload ends it early (as tshark reads it); one that is too small or runs past the IP packet
 * is ignored.
 */
export function payloadBounds(d: Uint8Array, s: WalkState): void {
  let hdr = 0;
  if (s.hasPorts) {
    if (s.protocol === 17) hdr = 8;
    else if (s.protocol === 132) hdr = 12;
    else if (s.protocol === 6) hdr = s.ipEnd - s.l4 >= 13 ? Math.max(20, (d[s.l4 + 12]! >> 4) * 4) : 20;
  }
  s.payloadStart = Math.min(s.l4 + hdr, s.ipEnd);
  let end = s.ipEnd;
  if (s.hasPorts && s.protocol === 17 && s.ipEnd - s.l4 >= 6) {
    const udpLen = be16(d, s.l4 + 4);
    if (udpLen >= 8 && s.l4 + udpLen < end) end = s.l4 + udpLen;
  }
  s.payloadEnd = Math.max(end, s.payloadStart);
}

/** Writes the walk's tuple (or "none") into batch index i. Returns the reason. */
export function writeWalk(d: Uint8Array, s: WalkState, batch: import('../classify/batch.js').TupleBatch, i: number): number {
  if (s.reason !== 0) {
    batch.family[i] = 0;
    batch.proto[i] = 0;
    batch.flags[i] = 0;
    batch.sport[i] = 0;
    batch.dport[i] = 0;
    batch.src[i] = 0;
    batch.dst[i] = 0;
    const w = i * 4;
    batch.src6.fill(0, w, w + 4);
    batch.dst6.fill(0, w, w + 4);
    return s.reason;
  }
  batch.family[i] = s.family;
  batch.proto[i] = s.protocol;
  batch.flags[i] = s.hasPorts ? 1 : 0;
  batch.sport[i] = s.sport;
  batch.dport[i] = s.dport;
  const w = i * 4;
  if (s.family === 4) {
    batch.src[i] = rd32(d, s.srcAt);
    batch.dst[i] = rd32(d, s.dstAt);
    batch.src6.fill(0, w, w + 4);
    batch.dst6.fill(0, w, w + 4);
  } else {
    batch.src[i] = 0;
    batch.dst[i] = 0;
    for (let k = 0; k < 4; k++) {
      batch.src6[w + k] = rd32(d, s.srcAt + 4 * k);
      batch.dst6[w + k] = rd32(d, s.dstAt + 4 * k);
    }
  }
  return 0;
}

function rd32(d: Uint8Array, o: number): number {
  return ((d[o]! << 24) | (d[o + 1]! << 16) | (d[o + 2]! << 8) | d[o + 3]!) >>> 0;
}

function readAddr(d: Uint8Array, at: number, bytes: number): bigint {
  let v = 0n;
  for (let k = 0; k < bytes; k += 4) v = (v << 32n) | BigInt(rd32(d, at + k));
  return v;
}

/** A frame's decoded IP header facts. Offsets are into the `data` given to decodeFrame. */
export interface DecodedPacket {
  readonly ok: true;
  readonly reason: 0;
  readonly linkType: number;
  /** VLAN ids, outermost first. */
  readonly vlans: readonly number[];
  readonly l3Offset: number;
  readonly family: Family;
  readonly protocol: number;
  readonly src: bigint;
  readonly dst: bigint;
  readonly ttl: number;
  /** Fragment facts when the packet is a fragment (IPv4 MF/offset, or an IPv6 fragment header). */
  readonly fragment?: { readonly id: number; readonly offset: number; readonly more: boolean };
  /** False for protocols without ports and for non-first fragments. */
  readonly hasPorts: boolean;
  readonly sport: number;
  readonly dport: number;
  readonly l4Offset: number;
  /** Start of the L4 payload (after the UDP/TCP/SCTP header; = l4Offset for other protocols). */
  readonly payloadOffset: number;
  /** Payload bytes present (cut to the IP length and to the capture). */
  readonly payloadLength: number;
  /** The IP header declares more bytes than were captured. */
  readonly truncated: boolean;
  readonly tuple: Tuple;
}

export interface DecodeFailure {
  readonly ok: false;
  readonly reason: number;
  /** REASON_NAMES[reason] */
  readonly reasonName: string;
  /** Stable PKT_* code. */
  readonly code: string;
  readonly offset: number;
}

export type DecodeResult = DecodedPacket | DecodeFailure;

const scratch = new WalkState();

/** Decodes one frame into its IP facts, or the reason it has none. Never throws. */
export function decodeFrame(linkType: number, data: Uint8Array): DecodeResult {
  const s = scratch;
  const r = walkFrame(linkType, data, 0, data.length, s);
  if (r !== 0) return { ok: false, reason: r, reasonName: REASON_NAMES[r]!, code: REASON_CODES[r]!, offset: s.errOffset };
  const bytes = s.family === 4 ? 4 : 16;
  const src = readAddr(data, s.srcAt, bytes);
  const dst = readAddr(data, s.dstAt, bytes);
  payloadBounds(data, s);
  const payloadOffset = s.payloadStart;
  const payloadEnd = s.payloadEnd;
  const vlans = Array.from(s.vlans.subarray(0, s.vlanCount));
  const family = s.family as Family;
  return {
    ok: true,
    reason: 0,
    linkType,
    vlans,
    l3Offset: s.l3,
    family,
    protocol: s.protocol,
    src,
    dst,
    ttl: s.ttl,
    fragment: s.isFragment ? { id: s.fragId, offset: s.fragOffset, more: s.moreFragments } : undefined,
    hasPorts: s.hasPorts,
    sport: s.sport,
    dport: s.dport,
    l4Offset: s.l4,
    payloadOffset,
    payloadLength: payloadEnd - payloadOffset,
    truncated: s.ipTruncated,
    tuple: { family, protocol: s.protocol, src, dst, sport: s.sport, dport: s.dport, hasPorts: s.hasPorts },
  };
}

/** decodeFrame that throws DecodeError (code PKT_*, offset into data) instead of returning a failure. */
export function decodeFrameOrThrow(linkType: number, data: Uint8Array): DecodedPacket {
  const r = decodeFrame(linkType, data);
  if (!r.ok) {
    const truncated = r.reason === Reason.LINK_TRUNCATED || r.reason === Reason.IP_TRUNCATED || r.reason === Reason.IPV6_EXT_TRUNCATED || r.reason === Reason.L4_TRUNCATED;
    throw new DecodeError(r.code, `frame has no IP 5-tuple: ${r.reasonName}`, r.offset, { truncated });
  }
  return r;
}

/** The 5-tuple of a frame, or undefined. */
export function frameTuple(linkType: number, data: Uint8Array): Tuple | undefined {
  const r = decodeFrame(linkType, data);
  return r.ok ? r.tuple : undefined;
}
