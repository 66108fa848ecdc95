// This project's private TED payloads (docs/wire-format.md has the full description):
// 128 TED proxy (probe, optional), 129 TED packet summary (probe), 133 TED response.
//
// Proxy body (payload 128 and 133); A = 4 (IPv4) or 16 (IPv6) bytes:
//  0                   1                   2                   3
//  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// !  IP Version   !   Protocol    !  # Src Ranges ! # Dst Ranges  !
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// ~                  Source Address (A bytes)                     ~
// ~                  Source Care-Mask (A bytes)                   ~
// ~                Destination Address (A bytes)                  ~
// ~               Destination Care-Mask (A bytes)                 ~
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// !         Src Port Low          !         Src Port High         !  x # Src Ranges
// !         Dst Port Low          !         Dst Port High         !  x # Dst Ranges
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// Summary body (payload 129):
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// ~        MD5("Cisco TED Probe version #3") (16 bytes)           ~
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// !  TED Version  !  IP Version   !   Protocol    !   RESERVED    !
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// !          Source Port          !       Destination Port        !
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// ~                  Source Address (A bytes)                     ~
// ~                Destination Address (A bytes)                  ~
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
import { TedError } from '../errors.js';
import type { Address, Family, PortRange, PortSet, Selector } from '../selector/types.js';
import { PayloadV1 } from './constants.js';
import { bodyCodec, type PayloadCodec } from './payload.js';
import type { TedSummary } from './ted-types.js';
import { copyBytes, invalid, LIMITS, fits, readAddr, u16, w16, writeAddr, type DecodeContext } from './wire.js';

/** MD5("Cisco TED Probe version #3"), the summary's first 16 bytes (design 2.1 item 1). */
export const TED_PROBE_HASH: Uint8Array = Uint8Array.from([
  0x83, 0x20, 0x35, 0x5d, 0x3c, 0x37, 0xc2, 0xd9, 0x5b, 0xad, 0xba, 0x15, 0xe7, 0x3c, 0x79, 0xf5,
]);

export interface TedProxyPayload {
  readonly kind: 'ted-proxy' | 'ted-response';
  readonly type: number;
  readonly proxy: Selector;
}

export interface TedSummaryPayload {
  readonly kind: 'ted-summary';
  readonly type: number;
  /** The 16-byte vendor hash as received (verification compares it with TED_PROBE_HASH). */
  readonly hash: Uint8Array;
  readonly summary: TedSummary;
}

const addrBytes = (f: Family): number => (f === 4 ? 4 : 16);
const MAX_PORT = 65535;
const TOP4 = 0xffffffffn;
const TOP6 = (1n << 128n) - 1n;

function encodeFail(message: string): never {
  throw new TedError('IKE_ENCODE_INVALID', message);
}

function checkFamily(f: number): Family {
  if (f !== 4 && f !== 6) encodeFail(`IP version ${f} is not 4 or 6`);
  return f;
}

function checkPortSet(set: PortSet, what: string): void {
  if (set.length < 1 || set.length > LIMITS.maxPortRanges) encodeFail(`${what}: ${set.length} port ranges (1 to ${LIMITS.maxPortRanges} fit the wire)`);
  let prev = -2;
  for (const r of set) {
    if (!Number.isInteger(r.lo) || !Number.isInteger(r.hi) || r.lo < 0 || r.hi > MAX_PORT || r.lo > r.hi || r.lo <= prev + 1) {
      encodeFail(`${what}: port ranges must be sorted, disjoint, non-adjacent and within 0-65535`);
    }
    prev = r.hi;
  }
}

// Range only (comparisons allocate nothing); value & ~care is checked on the written bytes.
function checkAddress(a: Address, f: Family, what: string): void {
  const top = f === 4 ? TOP4 : TOP6;
  if (typeof a.value !== 'bigint' || typeof a.care !== 'bigint' || a.value < 0n || a.care < 0n || a.value > top || a.care > top) {
    encodeFail(`${what}: address and care-mask must be bigints that fit IPv${f}`);
  }
}

function checkMaskedBytes(buf: Uint8Array, o: number, n: number, what: string): void {
  for (let i = 0; i < n; i++) if ((buf[o + i]! & ~buf[o + n + i]!) !== 0) encodeFail(`${what}: value has bits set under zero (don't-care) mask bits`);
}

export function proxyBodyLength(s: Selector): number {
  return 4 + 4 * addrBytes(s.family) + 4 * (s.sport.length + s.dport.length);
}

function checkProtocol(p: number): void {
  if (!Number.isInteger(p) || p < 0 || p > 255) encodeFail(`protocol ${p} is not 0-255`);
}

export function encodeProxyBody(s: Selector, buf: Uint8Array, o: number): void {
  const f = checkFamily(s.family);
  checkProtocol(s.protocol);
  checkPortSet(s.sport, 'source ports');
  checkPortSet(s.dport, 'destination ports');
  checkAddress(s.src, f, 'source');
  checkAddress(s.dst, f, 'destination');
  const n = addrBytes(f);
  buf[o] = f;
  buf[o + 1] = s.protocol;
  buf[o + 2] = s.sport.length;
  buf[o + 3] = s.dport.length;
  o += 4;
  writeAddr(buf, o, n, s.src.value);
  writeAddr(buf, o + n, n, s.src.care);
  writeAddr(buf, o + 2 * n, n, s.dst.value);
  writeAddr(buf, o + 3 * n, n, s.dst.care);
  checkMaskedBytes(buf, o, n, 'source');
  checkMaskedBytes(buf, o + 2 * n, n, 'destination');
  o += 4 * n;
  for (const r of s.sport) {
    w16(buf, o, r.lo);
    w16(buf, o + 2, r.hi);
    o += 4;
  }
  for (const r of s.dport) {
    w16(buf, o, r.lo);
    w16(buf, o + 2, r.hi);
    o += 4;
  }
}

function readPorts(buf: Uint8Array, o: number, count: number, ctx?: DecodeContext): PortRange[] {
  const out: PortRange[] = [];
  let prev = -2;
  for (let i = 0; i < count; i++, o += 4) {
    const lo = u16(buf, o);
    const hi = u16(buf, o + 2);
    if (lo > hi) invalid('IKE_TED_BAD_PORTS', `port range ${lo}-${hi} is reversed`, o, ctx);
    if (lo <= prev + 1) invalid('IKE_TED_BAD_PORTS', `port range ${lo}-${hi} is not after the previous range with a gap`, o, ctx);
    prev = hi;
    out.push({ lo, hi });
  }
  return out;
}

function readMasked(buf: Uint8Array, o: number, n: number, ctx?: DecodeContext): Address {
  // Byte-wise: cheaper than BigInt arithmetic.
  for (let i = 0; i < n; i++) if ((buf[o + i]! & ~buf[o + n + i]!) !== 0) invalid('IKE_TED_BAD_ADDRESS', "address has bits set under zero (don't-care) mask bits", o, ctx);
  return { value: readAddr(buf, o, n), care: readAddr(buf, o + n, n) };
}

export function decodeProxyBody(buf: Uint8Array, start: number, end: number, ctx?: DecodeContext): Selector {
  fits(start, 4, end, 'TED proxy', ctx);
  const family = buf[start]!;
  if (family !== 4 && family !== 6) invalid('IKE_TED_BAD_FAMILY', `IP version ${family} is not 4 or 6`, start, ctx);
  const ns = buf[start + 2]!;
  const nd = buf[start + 3]!;
  if (ns < 1 || ns > LIMITS.maxPortRanges) invalid('IKE_TED_BAD_PORTS', `${ns} source port ranges (1 to ${LIMITS.maxPortRanges} allowed)`, start + 2, ctx);
  if (nd < 1 || nd > LIMITS.maxPortRanges) invalid('IKE_TED_BAD_PORTS', `${nd} destination port ranges (1 to ${LIMITS.maxPortRanges} allowed)`, start + 3, ctx);
  const n = addrBytes(family);
  const want = 4 + 4 * n + 4 * (ns + nd);
  if (end - start !== want) invalid('IKE_TED_BAD_LENGTH', `TED proxy of IPv${family} with ${ns}+${nd} port ranges is ${want} bytes, payload body has ${end - start}`, start, ctx);
  const o = start + 4;
  const src = readMasked(buf, o, n, ctx);
  const dst = readMasked(buf, o + 2 * n, n, ctx);
  const sport = readPorts(buf, o + 4 * n, ns, ctx);
  const dport = readPorts(buf, o + 4 * n + 4 * ns, nd, ctx);
  return { family, protocol: buf[start + 1]!, src, dst, sport, dport };
}

function proxyCodec(kind: TedProxyPayload['kind'], type: number): PayloadCodec<TedProxyPayload> {
  return bodyCodec<TedProxyPayload>({
    length: (p) => proxyBodyLength(p.proxy),
    encode: (p, buf, o) => encodeProxyBody(p.proxy, buf, o),
    decode: (buf, start, end, _f, ctx, t) => ({ kind, type: t ?? type, proxy: decodeProxyBody(buf, start, end, ctx) }),
  });
}

export const tedProxyPayload = proxyCodec('ted-proxy', PayloadV1.TED_PROXY);
export const tedResponsePayload = proxyCodec('ted-response', PayloadV1.TED_RESPONSE);

function isPort(p: number): boolean {
  return Number.isInteger(p) && p >= 0 && p <= MAX_PORT;
}

export function summaryBodyLength(s: TedSummary): number {
  return 24 + 2 * addrBytes(s.family);
}

export function encodeSummaryBody(s: TedSummary, hash: Uint8Array, buf: Uint8Array, o: number): void {
  const f = checkFamily(s.family);
  checkProtocol(s.protocol);
  if (!Number.isInteger(s.tedVersion) || s.tedVersion < 0 || s.tedVersion > 255) encodeFail(`TED version ${s.tedVersion} is not 0-255`);
  if (!isPort(s.sport) || !isPort(s.dport)) encodeFail(`ports ${s.sport}/${s.dport} are not 0-65535`);
  const top = f === 4 ? TOP4 : TOP6;
  if (typeof s.src !== 'bigint' || typeof s.dst !== 'bigint' || s.src < 0n || s.src > top || s.dst < 0n || s.dst > top) encodeFail(`summary address does not fit IPv${f}`);
  if (hash.length !== 16) encodeFail('summary hash must be 16 bytes');
  const n = addrBytes(f);
  buf.set(hash, o);
  buf[o + 16] = s.tedVersion;
  buf[o + 17] = f;
  buf[o + 18] = s.protocol;
  buf[o + 19] = 0;
  w16(buf, o + 20, s.sport);
  w16(buf, o + 22, s.dport);
  writeAddr(buf, o + 24, n, s.src);
  writeAddr(buf, o + 24 + n, n, s.dst);
}

/** The summary fields of a summary body (the hash is left to the caller). */
export function readSummary(buf: Uint8Array, start: number, end: number, ctx?: DecodeContext): TedSummary {
  fits(start, 24, end, 'TED summary', ctx);
  const family = buf[start + 17]!;
  if (family !== 4 && family !== 6) invalid('IKE_TED_BAD_FAMILY', `IP version ${family} is not 4 or 6`, start + 17, ctx);
  const n = addrBytes(family);
  if (end - start !== 24 + 2 * n) invalid('IKE_TED_BAD_LENGTH', `TED summary for IPv${family} is ${24 + 2 * n} bytes, payload body has ${end - start}`, start, ctx);
  return {
    tedVersion: buf[start + 16]!,
    family,
    protocol: buf[start + 18]!,
    sport: u16(buf, start + 20),
    dport: u16(buf, start + 22),
    src: readAddr(buf, start + 24, n),
    dst: readAddr(buf, start + 24 + n, n),
  };
}

export function decodeSummaryBody(buf: Uint8Array, start: number, end: number, ctx?: DecodeContext): { hash: Uint8Array; summary: TedSummary } {
  const summary = readSummary(buf, start, end, ctx);
  return { hash: copyBytes(buf, start, start + 16), summary };
}

export const tedSummaryPayload: PayloadCodec<TedSummaryPayload> = bodyCodec<TedSummaryPayload>({
  length: (p) => summaryBodyLength(p.summary),
  encode: (p, buf, o) => encodeSummaryBody(p.summary, p.hash, buf, o),
  decode(buf, start, end, _f, ctx, t) {
    const { hash, summary } = decodeSummaryBody(buf, start, end, ctx);
    return { kind: 'ted-summary', type: t ?? PayloadV1.TED_SUMMARY, hash, summary };
  },
});
