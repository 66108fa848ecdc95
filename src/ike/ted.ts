// The discovery messages on the wire: TED probe (exchange 240) and response (exchange 241).
// Layouts are this project's, documented in docs/wire-format.md. Encoding is straight-line code
// into the caller's buffer (one pass, no intermediate objects). decodeProbe/decodeResponse are the
// generic ISAKMP decoder (structure only); verifyProbe/verifyResponse apply the exchange's rules
// and yield the domain types; readProbe/readResponse do both, in one pass for the layout our
// encoders write and through decode + verify for anything else.
import { TedError } from '../errors.js';
import type { Selector } from '../selector/types.js';
import { Flags, IdType, ISAKMP_HEADER_LENGTH, PayloadV1 } from './constants.js';
import { decodeMessage, type DecodedMessage } from './message.js';
import { decodeProxyBody, encodeProxyBody, readSummary, encodeSummaryBody, proxyBodyLength, summaryBodyLength, TED_PROBE_HASH } from './ted-payloads.js';
import { TED_EXCHANGE_PROBE, TED_EXCHANGE_RESPONSE, TED_VERSION, type TedIdentity, type TedProbe, type TedResponse } from './ted-types.js';
import { checkEncodeSpace, invalid, LIMITS, readAddr, u16, u32, u64, w16, w32, w64, writeAddr, type DecodeContext } from './wire.js';

/** This implementation's Vendor ID: MD5("ipsec-ted"), followed on the wire by 4 bytes of capability flags. */
export const TED_VENDOR_ID: Uint8Array = Uint8Array.from([
  0xe0, 0x1f, 0xb9, 0x1c, 0xbe, 0x78, 0xae, 0x88, 0x91, 0x98, 0x5b, 0x74, 0x24, 0xe4, 0x23, 0x5f,
]);

/** Capability flags carried after the Vendor ID hash (big-endian 32 bits). */
export const TedCapability = Object.freeze({
  /** The sender understands the optional proxy-address payload (128). */
  PROXY_PAYLOAD: 0x1,
  /** The sender accepts port sets of more than one range (e.g. `neq`). */
  PORT_SETS: 0x2,
  /** The sender handles IPv6 proxies. */
  IPV6: 0x4,
});

/** IKE's own protocol and port, written in the ID payload (RFC 2407 4.6.2 allows 0/0 too). */
export const TED_ID_PROTOCOL = 17;
export const TED_ID_PORT = 500;

const VID_LEN = 4 + 20;
const idLen = (id: TedIdentity): number => 8 + (id.family === 4 ? 4 : 16);

function encodeFail(message: string): never {
  throw new TedError('IKE_ENCODE_INVALID', message);
}

function checkCookie(c: bigint, what: string): void {
  if (typeof c !== 'bigint' || c <= 0n || c > 0xffffffffffffffffn) encodeFail(`${what} must be a non-zero 64-bit value`);
}

function checkCapabilities(c: number): void {
  if (!Number.isInteger(c) || c < 0 || c > 0xffffffff) encodeFail(`capabilities ${c} is not a 32-bit unsigned value`);
}

const TOP6 = (1n << 128n) - 1n;

function checkIdentity(id: TedIdentity): void {
  const top = id.family === 4 ? 0xffffffffn : id.family === 6 ? TOP6 : -1n;
  if (top < 0n || typeof id.address !== 'bigint' || id.address < 0n || id.address > top) encodeFail(`identity address does not fit IPv${id.family}`);
}

export function probeEncodingLength(p: TedProbe): number {
  return ISAKMP_HEADER_LENGTH + VID_LEN + idLen(p.id) + (p.proxy ? 4 + proxyBodyLength(p.proxy) : 0) + (p.padding !== undefined ? 4 + p.padding : 0) + 4 + summaryBodyLength(p.summary);
}

/** IP + UDP header bytes of a datagram of `family`: what a message costs on the wire beyond itself. */
export function datagramOverhead(family: 4 | 6): number {
  return family === 4 ? 28 : 48;
}

/**
 * The largest response the protocol allows to a probe from `id` about traffic of `family`:
 * the responder's ID has the probe ID's family (a responder answers only its own family), the
 * proxy is the summary's family with the most port ranges the wire carries.
 */
export function largestResponseLength(id: TedIdentity, family: 4 | 6): number {
  const ab = family === 4 ? 4 : 16;
  return ISAKMP_HEADER_LENGTH + VID_LEN + idLen(id) + 4 + 4 + 4 * ab + 4 * 2 * LIMITS.maxPortRanges;
}

/**
 * Padding (the TED padding payload's body length) that makes `p` at least as large on the wire
 * as the largest response to it (the probe travels in the summary's family, the response in the
 * ID's); undefined when it already is.
 */
export function answerPadding(p: TedProbe): number | undefined {
  const { padding: _ignored, ...bare } = p;
  const probeWire = probeEncodingLength(bare) + datagramOverhead(p.summary.family);
  const answerWire = largestResponseLength(p.id, p.summary.family) + datagramOverhead(p.id.family);
  if (probeWire >= answerWire) return undefined;
  return Math.max(0, answerWire - probeWire - 4);
}

export function responseEncodingLength(r: TedResponse): number {
  return ISAKMP_HEADER_LENGTH + VID_LEN + idLen(r.id) + 4 + proxyBodyLength(r.proxy);
}

function writeHeader(buf: Uint8Array, o: number, icookie: bigint, rcookie: bigint, exchange: number, length: number): void {
  w64(buf, o, icookie);
  w64(buf, o + 8, rcookie);
  buf[o + 16] = PayloadV1.VENDOR_ID;
  buf[o + 17] = 0x10;
  buf[o + 18] = exchange;
  buf[o + 19] = 0;
  w32(buf, o + 20, 0);
  w32(buf, o + 24, length);
}

function writeVendor(buf: Uint8Array, o: number, capabilities: number): number {
  buf[o] = PayloadV1.ID;
  buf[o + 1] = 0;
  w16(buf, o + 2, VID_LEN);
  buf.set(TED_VENDOR_ID, o + 4);
  w32(buf, o + 20, capabilities);
  return VID_LEN;
}

function writeId(buf: Uint8Array, o: number, next: number, id: TedIdentity): number {
  const len = idLen(id);
  buf[o] = next;
  buf[o + 1] = 0;
  w16(buf, o + 2, len);
  buf[o + 4] = id.family === 4 ? IdType.IPV4_ADDR : IdType.IPV6_ADDR;
  buf[o + 5] = TED_ID_PROTOCOL;
  w16(buf, o + 6, TED_ID_PORT);
  writeAddr(buf, o + 8, id.family === 4 ? 4 : 16, id.address);
  return len;
}

function writeProxy(buf: Uint8Array, o: number, next: number, proxy: Selector): number {
  const len = 4 + proxyBodyLength(proxy);
  buf[o] = next;
  buf[o + 1] = 0;
  w16(buf, o + 2, len);
  encodeProxyBody(proxy, buf, o + 4);
  return len;
}

/** Writes the probe at `offset`; returns the bytes written (= probeEncodingLength). */
export function encodeProbe(p: TedProbe, buf: Uint8Array, offset = 0): number {
  checkCookie(p.icookie, 'initiator cookie');
  checkCapabilities(p.capabilities);
  checkIdentity(p.id);
  const pad = p.padding;
  if (pad !== undefined && (!Number.isInteger(pad) || pad < 0 || pad > 0xffff - 4)) encodeFail(`padding ${pad} is not 0-65531 bytes`);
  const total = probeEncodingLength(p);
  checkEncodeSpace(buf, offset, total);
  writeHeader(buf, offset, p.icookie, 0n, TED_EXCHANGE_PROBE, total);
  let o = offset + ISAKMP_HEADER_LENGTH;
  const afterProxy = pad !== undefined ? PayloadV1.TED_PADDING : PayloadV1.TED_SUMMARY;
  o += writeVendor(buf, o, p.capabilities);
  o += writeId(buf, o, p.proxy ? PayloadV1.TED_PROXY : afterProxy, p.id);
  if (p.proxy) o += writeProxy(buf, o, afterProxy, p.proxy);
  if (pad !== undefined) {
    buf[o] = PayloadV1.TED_SUMMARY;
    buf[o + 1] = 0;
    w16(buf, o + 2, 4 + pad);
    buf.fill(0, o + 4, o + 4 + pad);
    o += 4 + pad;
  }
  const slen = 4 + summaryBodyLength(p.summary);
  buf[o] = 0;
  buf[o + 1] = 0;
  w16(buf, o + 2, slen);
  encodeSummaryBody(p.summary, TED_PROBE_HASH, buf, o + 4);
  return o + slen - offset;
}

/** Writes the response at `offset`; returns the bytes written (= responseEncodingLength). */
export function encodeResponse(r: TedResponse, buf: Uint8Array, offset = 0): number {
  checkCookie(r.icookie, 'initiator cookie');
  checkCookie(r.rcookie, 'responder cookie');
  checkCapabilities(r.capabilities);
  checkIdentity(r.id);
  const total = responseEncodingLength(r);
  checkEncodeSpace(buf, offset, total);
  writeHeader(buf, offset, r.icookie, r.rcookie, TED_EXCHANGE_RESPONSE, total);
  let o = offset + ISAKMP_HEADER_LENGTH;
  o += writeVendor(buf, o, r.capabilities);
  o += writeId(buf, o, PayloadV1.TED_RESPONSE, r.id);
  o += writeProxy(buf, o, 0, r.proxy);
  return o - offset;
}

/** Convenience: a fresh buffer holding the probe. */
export function probeToBytes(p: TedProbe): Uint8Array {
  const b = new Uint8Array(probeEncodingLength(p));
  encodeProbe(p, b, 0);
  return b;
}

/** Convenience: a fresh buffer holding the response. */
export function responseToBytes(r: TedResponse): Uint8Array {
  const b = new Uint8Array(responseEncodingLength(r));
  encodeResponse(r, b, 0);
  return b;
}

/**
 * Structural decode of a TED probe: the ISAKMP message with the private TED payloads typed.
 * Accepts any exchange; `verifyProbe` applies the rules.
 */
export function decodeProbe(buf: Uint8Array, offset = 0, end = buf.length): DecodedMessage {
  return decodeMessage(buf, offset, end, { tedPayloadsAnywhere: true });
}

/** Structural decode of a TED response (see decodeProbe). */
export function decodeResponse(buf: Uint8Array, offset = 0, end = buf.length): DecodedMessage {
  return decodeMessage(buf, offset, end, { tedPayloadsAnywhere: true });
}

function fail(code: string, message: string, offset: number, payloadIndex?: number): never {
  const ctx: DecodeContext = payloadIndex === undefined ? {} : { payloadIndex };
  invalid(code, message, offset, ctx);
}

interface Common {
  capabilities: number;
  id: TedIdentity;
}

// Rules both exchanges share: version 1.0, unencrypted, no flags, message ID 0, non-zero
// initiator cookie; exactly one of our Vendor IDs and one IPV4_ADDR / IPV6_ADDR ID payload.
function verifyCommon(m: DecodedMessage, exchange: number, what: string): Common {
  const h = m.header;
  const at = m.offset;
  if (h.major !== 1 || h.minor !== 0) fail('IKE_TED_BAD_VERSION', `${what}: ISAKMP version ${h.major}.${h.minor}, expected 1.0`, at + 17);
  if (h.exchange !== exchange) fail('IKE_TED_BAD_EXCHANGE', `${what}: exchange type ${h.exchange}, expected ${exchange}`, at + 18);
  if (h.flags & Flags.ENCRYPTION) fail('IKE_TED_ENCRYPTED', `${what}: must not be encrypted`, at + 19);
  if (h.flags !== 0) fail('IKE_TED_BAD_FLAGS', `${what}: flags 0x${h.flags.toString(16)}, expected 0`, at + 19);
  if (h.msgid !== 0) fail('IKE_TED_BAD_MSGID', `${what}: message ID ${h.msgid}, expected 0`, at + 20);
  if (h.icookie === 0n) fail('IKE_TED_ZERO_COOKIE', `${what}: initiator cookie is zero`, at);
  let capabilities = -1;
  let id: TedIdentity | undefined;
  for (let i = 0; i < m.payloads.length; i++) {
    const p = m.payloads[i]!;
    const po = m.spans[i]!.offset;
    if (p.kind === 'vendor' && p.data.length === 20 && sameHash(p.data)) {
      if (capabilities >= 0) fail('IKE_TED_DUPLICATE_PAYLOAD', `${what}: a second ipsec-ted Vendor ID`, po, i);
      capabilities = u32(p.data, 16);
    } else if (p.kind === 'id') {
      if (id) fail('IKE_TED_DUPLICATE_PAYLOAD', `${what}: a second ID payload`, po, i);
      const t = p.id.idType;
      if (t !== IdType.IPV4_ADDR && t !== IdType.IPV6_ADDR) fail('IKE_TED_BAD_ID', `${what}: ID type ${t}, expected IPV4_ADDR (1) or IPV6_ADDR (5)`, po + 4, i);
      id = { family: t === IdType.IPV4_ADDR ? 4 : 6, address: (p.id as { address: bigint }).address };
    }
  }
  if (capabilities < 0) fail('IKE_TED_MISSING_PAYLOAD', `${what}: no ipsec-ted Vendor ID payload`, at + 16);
  if (!id) fail('IKE_TED_MISSING_PAYLOAD', `${what}: no ID payload`, at + 16);
  return { capabilities, id };
}

function sameHash(d: Uint8Array): boolean {
  for (let i = 0; i < 16; i++) if (d[i] !== TED_VENDOR_ID[i]) return false;
  return true;
}

/**
 * The probe rules: exchange 240, message ID 0, non-zero initiator cookie, zero responder
 * cookie, unencrypted; our Vendor ID, an address ID, at most one proxy payload, exactly one
 * summary carrying MD5("Cisco TED Probe version #3") and TED version 3, proxy and summary of the
 * same IP version. Throws DecodeError (IKE_TED_*) with the offset of the offending field.
 */
export function verifyProbe(m: DecodedMessage): TedProbe {
  const { capabilities, id } = verifyCommon(m, TED_EXCHANGE_PROBE, 'TED probe');
  if (m.header.rcookie !== 0n) fail('IKE_TED_BAD_COOKIE', 'TED probe: responder cookie must be zero', m.offset + 8);
  let proxy: Selector | undefined;
  let summary: TedProbe['summary'] | undefined;
  let summaryIndex = -1;
  let padding: number | undefined;
  for (let i = 0; i < m.payloads.length; i++) {
    const p = m.payloads[i]!;
    const po = m.spans[i]!.offset;
    if (p.kind === 'raw' && p.type === PayloadV1.TED_PADDING) {
      if (padding !== undefined) fail('IKE_TED_DUPLICATE_PAYLOAD', 'TED probe: a second padding payload', po, i);
      padding = p.data.length;
    } else if (p.kind === 'ted-proxy') {
      if (proxy) fail('IKE_TED_DUPLICATE_PAYLOAD', 'TED probe: a second proxy payload', po, i);
      proxy = p.proxy;
    } else if (p.kind === 'ted-summary') {
      if (summary) fail('IKE_TED_DUPLICATE_PAYLOAD', 'TED probe: a second summary payload', po, i);
      for (let k = 0; k < 16; k++) if (p.hash[k] !== TED_PROBE_HASH[k]) fail('IKE_TED_BAD_HASH', 'TED probe: summary hash is not MD5("Cisco TED Probe version #3")', po + 4 + k, i);
      if (p.summary.tedVersion !== TED_VERSION) fail('IKE_TED_BAD_VERSION', `TED probe: TED version ${p.summary.tedVersion}, expected ${TED_VERSION}`, po + 20, i);
      summary = p.summary;
      summaryIndex = i;
    } else if (p.kind === 'ted-response') {
      fail('IKE_TED_UNEXPECTED_PAYLOAD', 'TED probe: carries a TED response payload', po, i);
    }
  }
  if (!summary) fail('IKE_TED_MISSING_PAYLOAD', 'TED probe: no summary payload', m.offset + 16);
  if (proxy && proxy.family !== summary.family) fail('IKE_TED_FAMILY_MISMATCH', `TED probe: proxy is IPv${proxy.family}, summary IPv${summary.family}`, m.spans[summaryIndex]!.offset + 21, summaryIndex);
  return probeOf(m.header.icookie, capabilities, id, proxy, summary, padding);
}

/** A TedProbe with only the optional fields that are present (so that round trips compare equal). */
function probeOf(icookie: bigint, capabilities: number, id: TedIdentity, proxy: Selector | undefined, summary: TedProbe['summary'], padding: number | undefined): TedProbe {
  const p: { -readonly [K in keyof TedProbe]: TedProbe[K] } = { icookie, capabilities, id, summary };
  if (proxy) p.proxy = proxy;
  if (padding !== undefined) p.padding = padding;
  return p;
}

export interface VerifyResponseOptions {
  /** The initiator cookie of the probe this should answer (IKE_TED_COOKIE_MISMATCH otherwise). */
  readonly icookie?: bigint;
}

/**
 * The response rules: exchange 241, message ID 0, non-zero initiator and responder cookies,
 * unencrypted; our Vendor ID, an address ID and exactly one TED response payload.
 */
export function verifyResponse(m: DecodedMessage, options: VerifyResponseOptions = {}): TedResponse {
  const { capabilities, id } = verifyCommon(m, TED_EXCHANGE_RESPONSE, 'TED response');
  if (m.header.rcookie === 0n) fail('IKE_TED_ZERO_COOKIE', 'TED response: responder cookie is zero', m.offset + 8);
  if (options.icookie !== undefined && options.icookie !== m.header.icookie) fail('IKE_TED_COOKIE_MISMATCH', 'TED response: initiator cookie does not match the probe', m.offset);
  let proxy: Selector | undefined;
  for (let i = 0; i < m.payloads.length; i++) {
    const p = m.payloads[i]!;
    const po = m.spans[i]!.offset;
    if (p.kind === 'ted-response') {
      if (proxy) fail('IKE_TED_DUPLICATE_PAYLOAD', 'TED response: a second response payload', po, i);
      proxy = p.proxy;
    } else if (p.kind === 'ted-summary' || p.kind === 'ted-proxy') {
      fail('IKE_TED_UNEXPECTED_PAYLOAD', 'TED response: carries a probe payload', po, i);
    }
  }
  if (!proxy) fail('IKE_TED_MISSING_PAYLOAD', 'TED response: no response payload', m.offset + 16);
  return { icookie: m.header.icookie, rcookie: m.header.rcookie, capabilities, id, proxy };
}

// ---------------------------------------------------------------- one-pass fast path
// readProbe / readResponse first try a single pass over the canonical layout (the one our
// encoders write: Vendor ID, ID, [proxy], summary / response, nothing else). Anything else
// (another order, extra payloads, any rule broken) returns undefined and the general path
// decodeX + verifyX runs, so results and errors are the general path's by construction; tests
// check both paths agree on random and mutated messages.

function fastHeader(buf: Uint8Array, offset: number, end: number, exchange: number): boolean {
  return (
    end - offset >= ISAKMP_HEADER_LENGTH &&
    u32(buf, offset + 24) === end - offset &&
    buf[offset + 16] === PayloadV1.VENDOR_ID &&
    buf[offset + 17] === 0x10 &&
    buf[offset + 18] === exchange &&
    buf[offset + 19] === 0 &&
    u32(buf, offset + 20) === 0 &&
    (u32(buf, offset) !== 0 || u32(buf, offset + 4) !== 0)
  );
}

/** Our Vendor ID then an address ID; returns the offset after the ID or -1. */
function fastVendorId(buf: Uint8Array, o: number, end: number): number {
  if (o + VID_LEN + 12 > end || buf[o] !== PayloadV1.ID || u16(buf, o + 2) !== VID_LEN) return -1;
  for (let i = 0; i < 16; i++) if (buf[o + 4 + i] !== TED_VENDOR_ID[i]) return -1;
  const id = o + VID_LEN;
  const t = buf[id + 4];
  const len = u16(buf, id + 2);
  if (!((t === IdType.IPV4_ADDR && len === 12) || (t === IdType.IPV6_ADDR && len === 24)) || id + len > end) return -1;
  return id + len;
}

function fastIdentity(buf: Uint8Array, idAt: number): TedIdentity {
  return buf[idAt + 4] === IdType.IPV4_ADDR ? { family: 4, address: readAddr(buf, idAt + 8, 4) } : { family: 6, address: readAddr(buf, idAt + 8, 16) };
}

function fastProbe(buf: Uint8Array, offset: number, end: number): TedProbe | undefined {
  if (!fastHeader(buf, offset, end, TED_EXCHANGE_PROBE) || u32(buf, offset + 8) !== 0 || u32(buf, offset + 12) !== 0) return undefined;
  const vid = offset + ISAKMP_HEADER_LENGTH;
  let o = fastVendorId(buf, vid, end);
  if (o < 0) return undefined;
  const idAt = vid + VID_LEN;
  let proxy: Selector | undefined;
  try {
    let next = buf[idAt]!;
    if (next === PayloadV1.TED_PROXY) {
      if (o + 4 > end) return undefined;
      const len = u16(buf, o + 2);
      if (len < 4 || o + len > end) return undefined;
      next = buf[o]!;
      proxy = decodeProxyBody(buf, o + 4, o + len);
      o += len;
    }
    let padding: number | undefined;
    if (next === PayloadV1.TED_PADDING) {
      if (o + 4 > end) return undefined;
      const len = u16(buf, o + 2);
      if (len < 4 || o + len > end) return undefined;
      next = buf[o]!;
      padding = len - 4;
      o += len;
    }
    if (next !== PayloadV1.TED_SUMMARY || o + 4 > end || buf[o] !== 0 || o + u16(buf, o + 2) !== end) return undefined;
    for (let i = 0; i < 16; i++) if (buf[o + 4 + i] !== TED_PROBE_HASH[i]) return undefined;
    const summary = readSummary(buf, o + 4, end);
    if (summary.tedVersion !== TED_VERSION || (proxy && proxy.family !== summary.family)) return undefined;
    const capabilities = u32(buf, vid + 20);
    const id = fastIdentity(buf, idAt);
    return probeOf(u64(buf, offset), capabilities, id, proxy, summary, padding);
  } catch {
    return undefined;
  }
}

function fastResponse(buf: Uint8Array, offset: number, end: number): TedResponse | undefined {
  if (!fastHeader(buf, offset, end, TED_EXCHANGE_RESPONSE) || (u32(buf, offset + 8) === 0 && u32(buf, offset + 12) === 0)) return undefined;
  const vid = offset + ISAKMP_HEADER_LENGTH;
  const o = fastVendorId(buf, vid, end);
  const idAt = vid + VID_LEN;
  if (o < 0 || buf[idAt] !== PayloadV1.TED_RESPONSE || o + 4 > end || buf[o] !== 0 || o + u16(buf, o + 2) !== end || u16(buf, o + 2) < 4) return undefined;
  try {
    const proxy = decodeProxyBody(buf, o + 4, end);
    return { icookie: u64(buf, offset), rcookie: u64(buf, offset + 8), capabilities: u32(buf, vid + 20), id: fastIdentity(buf, idAt), proxy };
  } catch {
    return undefined;
  }
}

/** decodeProbe then verifyProbe (in one pass when the layout is the canonical one). */
export function readProbe(buf: Uint8Array, offset = 0, end = buf.length): TedProbe {
  return fastProbe(buf, offset, Math.min(end, buf.length)) ?? verifyProbe(decodeProbe(buf, offset, end));
}

/** decodeResponse then verifyResponse (in one pass when the layout is the canonical one). */
export function readResponse(buf: Uint8Array, offset = 0, end = buf.length, options?: VerifyResponseOptions): TedResponse {
  const r = fastResponse(buf, offset, Math.min(end, buf.length));
  if (r && (options?.icookie === undefined || options.icookie === r.icookie)) return r;
  return verifyResponse(decodeResponse(buf, offset, end), options);
}

/** The general path only (for tests that compare it with the fast path). */
export function readProbeGeneral(buf: Uint8Array, offset = 0, end = buf.length): TedProbe {
  return verifyProbe(decodeProbe(buf, offset, end));
}

/** The general path only (for tests that compare it with the fast path). */
export function readResponseGeneral(buf: Uint8Array, offset = 0, end = buf.length, options?: VerifyResponseOptions): TedResponse {
  return verifyResponse(decodeResponse(buf, offset, end), options);
}
