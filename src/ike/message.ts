// A whole ISAKMP / IKEv2 message: header plus the generic payload chain, each payload typed by
// its number (unknown numbers keep their bytes). Decoding checks structure only; the semantic
// rules of an exchange live in verifiers (src/ike/ted.ts for discovery).
import { Flags, ISAKMP_HEADER_LENGTH, PayloadV1, PayloadV2 } from './constants.js';
import { header, type IsakmpHeader } from './header.js';
import { readGeneric, writeGeneric, type PayloadCodec } from './payload.js';
import {
  certV1,
  crV1,
  dataCodec,
  deleteV1,
  hashV1,
  idV1,
  keV1,
  natDV1,
  natOaV1,
  nonceV1,
  notifyV1,
  rawPayload,
  saV1,
  sigV1,
  vendorIdV1,
  type CertPayloadV1,
  type DataPayloadV1,
  type DeletePayloadV1,
  type IdPayloadV1,
  type NatOaPayloadV1,
  type NotifyPayloadV1,
  type RawPayload,
  type SaPayloadV1,
} from './payloads-v1.js';
import {
  keV2,
  nonceV2,
  notifyV2,
  saV2,
  tsV2,
  vendorIdV2,
  type DataPayloadV2,
  type EncryptedPayloadV2,
  type KePayloadV2,
  type NotifyPayloadV2,
  type SaPayloadV2,
  type TsPayloadV2,
} from './payloads-v2.js';
import { tedProxyPayload, tedResponsePayload, tedSummaryPayload, type TedProxyPayload, type TedSummaryPayload } from './ted-payloads.js';
import { TED_EXCHANGE_PROBE, TED_EXCHANGE_RESPONSE } from './ted-types.js';
import { ciscoFragmentV1, type CiscoFragmentPayload } from './fragments.js';
import { checkEncodeSpace, copyBytes, invalid, LIMITS, setViews, u32, withViews, type DecodeContext } from './wire.js';
import { DecodeError, TedError } from '../errors.js';

export type Payload =
  | SaPayloadV1
  | DataPayloadV1
  | IdPayloadV1
  | CertPayloadV1
  | NotifyPayloadV1
  | DeletePayloadV1
  | NatOaPayloadV1
  | TedProxyPayload
  | TedSummaryPayload
  | SaPayloadV2
  | KePayloadV2
  | DataPayloadV2
  | EncryptedPayloadV2
  | NotifyPayloadV2
  | TsPayloadV2
  | CiscoFragmentPayload
  | RawPayload;

export interface IkeMessage {
  /** On encode, `nextPayload` and `length` are computed from the payloads (see encodeMessage). */
  readonly header: IsakmpHeader;
  /** The top-level chain in wire order (empty for an encrypted IKEv1 message). */
  readonly payloads: readonly Payload[];
  /** IKEv1 with the E flag: every byte after the header, opaque. */
  readonly encrypted?: Uint8Array;
}

/** Where each top-level payload sits in the decoded buffer. */
export interface PayloadSpan {
  readonly type: number;
  readonly offset: number;
  readonly length: number;
}

export interface DecodedMessage extends IkeMessage {
  /** Where the message starts in the decoded buffer (error offsets and spans index that buffer). */
  readonly offset: number;
  readonly spans: readonly PayloadSpan[];
  /** Bytes after the message's Length (only with `allowTrailing`; absent when there are none). */
  readonly trailing?: number;
}

/**
 * What a damaged message still shows (decodeMessagePartial): the header when it reads, the
 * payloads before the damage, and the error that stopped the decode (none when it is whole).
 */
export interface PartialMessage {
  readonly header?: IsakmpHeader;
  readonly payloads: readonly Payload[];
  readonly spans: readonly PayloadSpan[];
  readonly offset: number;
  readonly encrypted?: Uint8Array;
  readonly trailing?: number;
  readonly error?: DecodeError;
}

const natDDraft = dataCodec('nat-d', PayloadV1.NAT_D_DRAFT);

const V1 = new Map<number, PayloadCodec<Payload>>([
  [PayloadV1.SA, saV1],
  [PayloadV1.KE, keV1],
  [PayloadV1.ID, idV1],
  [PayloadV1.CERT, certV1],
  [PayloadV1.CR, crV1],
  [PayloadV1.HASH, hashV1],
  [PayloadV1.SIG, sigV1],
  [PayloadV1.NONCE, nonceV1],
  [PayloadV1.NOTIFY, notifyV1],
  [PayloadV1.DELETE, deleteV1],
  [PayloadV1.VENDOR_ID, vendorIdV1],
  [PayloadV1.NAT_D, natDV1],
  [PayloadV1.NAT_OA, natOaV1],
  [PayloadV1.NAT_D_DRAFT, natDDraft],
  [PayloadV1.NAT_OA_DRAFT, natOaV1],
  [PayloadV1.CISCO_FRAGMENT, ciscoFragmentV1],
] as [number, PayloadCodec<Payload>][]);

// Private numbers mean TED only inside the TED exchanges; elsewhere they stay raw bytes.
const V1_TED = new Map<number, PayloadCodec<Payload>>([
  [PayloadV1.TED_PROXY, tedProxyPayload],
  [PayloadV1.TED_SUMMARY, tedSummaryPayload],
  [PayloadV1.TED_RESPONSE, tedResponsePayload],
] as [number, PayloadCodec<Payload>][]);

const V2 = new Map<number, PayloadCodec<Payload>>([
  [PayloadV2.SA, saV2],
  [PayloadV2.KE, keV2],
  // IKEv2 IDi/IDr (RFC 7296 3.5) share the IKEv1 layout; `protocol`/`port` then hold the
  // three RESERVED bytes, so they round-trip.
  [PayloadV2.IDI, idV1],
  [PayloadV2.IDR, idV1],
  [PayloadV2.CERT, certV1],
  [PayloadV2.CERTREQ, crV1],
  [PayloadV2.NONCE, nonceV2],
  [PayloadV2.NOTIFY, notifyV2],
  [PayloadV2.VENDOR_ID, vendorIdV2],
  [PayloadV2.TSI, tsV2],
  [PayloadV2.TSR, tsV2],
] as [number, PayloadCodec<Payload>][]);

/** Encoders by kind (the body layout); the payload's own `type` goes on the wire. */
const BY_KIND: Record<Payload['kind'], PayloadCodec<Payload>> = {
  sa: saV1,
  ke: keV1,
  hash: hashV1,
  sig: sigV1,
  nonce: nonceV1,
  vendor: vendorIdV1,
  'nat-d': natDV1,
  id: idV1,
  cert: certV1,
  cr: crV1,
  notify: notifyV1,
  delete: deleteV1,
  'nat-oa': natOaV1,
  'ted-proxy': tedProxyPayload,
  'ted-response': tedResponsePayload,
  'ted-summary': tedSummaryPayload,
  sa2: saV2,
  ke2: keV2,
  nonce2: nonceV2,
  vendor2: vendorIdV2,
  sk: rawPayload,
  notify2: notifyV2,
  ts: tsV2,
  frag: ciscoFragmentV1,
  raw: rawPayload,
} as Record<Payload['kind'], PayloadCodec<Payload>>;

function isEncryptedV2(type: number): boolean {
  return type === PayloadV2.SK || type === PayloadV2.SKF;
}

function isV1Encrypted(h: IsakmpHeader): boolean {
  return h.major === 1 && (h.flags & Flags.ENCRYPTION) !== 0;
}

export function payloadEncodingLength(p: Payload): number {
  return BY_KIND[p.kind].encodingLength(p);
}

export function messageEncodingLength(m: IkeMessage): number {
  if (m.encrypted) return ISAKMP_HEADER_LENGTH + m.encrypted.length;
  let n = ISAKMP_HEADER_LENGTH;
  for (const p of m.payloads) n += BY_KIND[p.kind].encodingLength(p);
  return n;
}

/**
 * Writes the message at `offset` and returns the bytes written. The header's `nextPayload` and
 * `length` are computed (first payload's type; total length), except that an encrypted IKEv1
 * message (`encrypted` set) keeps `header.nextPayload`. An SK payload ends the chain and writes
 * its `innerNext` as its Next Payload.
 */
export function encodeMessage(m: IkeMessage, buf: Uint8Array, offset = 0): number {
  const total = messageEncodingLength(m);
  if (total > LIMITS.maxMessageLength) throw new TedError('IKE_ENCODE_TOO_LONG', `message of ${total} bytes exceeds ${LIMITS.maxMessageLength}`);
  checkEncodeSpace(buf, offset, total);
  if (m.header.major === 1 && ((m.header.flags & Flags.ENCRYPTION) !== 0) !== (m.encrypted !== undefined)) {
    throw new TedError('IKE_ENCODE_INVALID', 'an IKEv1 message carries `encrypted` exactly when its E flag is set');
  }
  if (m.encrypted) {
    header.encode({ ...m.header, length: total }, buf, offset);
    buf.set(m.encrypted, offset + ISAKMP_HEADER_LENGTH);
    return total;
  }
  const first = m.payloads[0];
  header.encode({ ...m.header, nextPayload: first ? first.type : 0, length: total }, buf, offset);
  let o = offset + ISAKMP_HEADER_LENGTH;
  for (let i = 0; i < m.payloads.length; i++) {
    const p = m.payloads[i]!;
    if (p.kind === 'sk') {
      if (i !== m.payloads.length - 1) throw new TedError('IKE_ENCODE_INVALID', 'the Encrypted (SK) payload must be the last payload');
      const len = 4 + p.data.length;
      writeGeneric(buf, o, p.innerNext, p.critical ? 0x80 : 0, len);
      buf.set(p.data, o + 4);
      o += len;
      continue;
    }
    const next = m.payloads[i + 1]?.type ?? 0;
    const len = BY_KIND[p.kind].encode(p, buf, o, next);
    if ('critical' in p && p.critical) buf[o + 1]! |= 0x80;
    o += len;
  }
  return o - offset;
}

export interface DecodeMessageOptions {
  /** Decode the private TED payload numbers as TED payloads in every exchange (default: 240/241 only). */
  readonly tedPayloadsAnywhere?: boolean;
  /** Bytes after the header's Length are reported in `trailing` instead of failing with IKE_TRAILING_DATA. */
  readonly allowTrailing?: boolean;
  /**
   * Payload bytes (data, SPIs, encrypted bodies) are views into `buf` instead of copies: faster,
   * valid only while `buf` is left unchanged.
   */
  readonly views?: boolean;
}

/**
 * Decodes one message that must fill [offset, end) exactly (a UDP payload holds one message;
 * `allowTrailing` accepts and counts bytes after it). Throws DecodeError (IKE_*) only; `offset`
 * in errors indexes `buf`.
 */
export function decodeMessage(buf: Uint8Array, offset = 0, end = buf.length, options: DecodeMessageOptions = {}): DecodedMessage {
  if (!(buf instanceof Uint8Array)) throw new TypeError('decodeMessage: buf must be a Uint8Array');
  end = Math.min(end, buf.length);
  const h = header.decode(buf, offset, end);
  const msgEnd = offset + h.length;
  if (msgEnd < end && !options.allowTrailing) invalid('IKE_TRAILING_DATA', `${end - msgEnd} bytes after the ${h.length}-byte message`, msgEnd);
  const trailing = end - msgEnd;
  const m = options.views ? withViews(() => decodeBody(buf, offset, msgEnd, h, options, [], [])) : decodeBody(buf, offset, msgEnd, h, options, [], []);
  return trailing > 0 ? { ...m, trailing } : m;
}

/**
 * Decodes what can be decoded of one message and never throws a DecodeError: a broken payload
 * chain gives the header, the payloads before the break and the error (with its offset); a
 * message cut short gives the payloads that fit and IKE_TRUNCATED; bytes after the message are
 * counted in `trailing`. Only a header that does not read leaves `header` absent.
 */
export function decodeMessagePartial(buf: Uint8Array, offset = 0, end = buf.length, options: DecodeMessageOptions = {}): PartialMessage {
  if (!(buf instanceof Uint8Array)) throw new TypeError('decodeMessagePartial: buf must be a Uint8Array');
  end = Math.min(end, buf.length);
  let h: IsakmpHeader;
  let cut: DecodeError | undefined;
  try {
    h = header.decode(buf, offset, end);
  } catch (err) {
    if (!(err instanceof DecodeError)) throw err;
    // A message cut short still has a header when its 28 bytes and a sane length are there.
    if (err.code !== 'IKE_TRUNCATED' || end - offset < ISAKMP_HEADER_LENGTH) return { payloads: [], spans: [], offset, error: err };
    cut = err;
    h = header.decode(buf, offset, offset + u32(buf, offset + 24));
  }
  const msgEnd = Math.min(offset + h.length, end);
  const trailing = end - msgEnd;
  const payloads: Payload[] = [];
  const spans: PayloadSpan[] = [];
  let m: DecodedMessage | undefined;
  let error: DecodeError | undefined;
  const viewsBefore = options.views ? setViews(true) : undefined;
  try {
    m = decodeBody(buf, offset, msgEnd, h, options, payloads, spans);
  } catch (err) {
    if (!(err instanceof DecodeError)) throw err;
    error = err;
  } finally {
    if (viewsBefore !== undefined) setViews(viewsBefore);
  }
  // When the bytes ran out, that is the error, whatever the chain did at the cut.
  if (cut) error = cut;
  if (m && trailing === 0 && !error) return m;
  const base = m ?? { header: h, payloads, spans, offset, ...(isV1Encrypted(h) ? { encrypted: copyBytes(buf, offset + ISAKMP_HEADER_LENGTH, msgEnd) } : {}) };
  return { ...base, ...(trailing > 0 ? { trailing } : {}), ...(error ? { error } : {}) };
}

/** The payload chain of [offset, msgEnd) after header `h`, pushed into `payloads`/`spans` as it goes. */
function decodeBody(buf: Uint8Array, offset: number, msgEnd: number, h: IsakmpHeader, options: DecodeMessageOptions, payloads: Payload[], spans: PayloadSpan[]): DecodedMessage {
  if (h.major !== 1 && h.major !== 2) invalid('IKE_BAD_VERSION', `major version ${h.major} is neither 1 (ISAKMP) nor 2 (IKEv2)`, offset + 17);
  if (isV1Encrypted(h)) {
    return { header: h, payloads, encrypted: copyBytes(buf, offset + ISAKMP_HEADER_LENGTH, msgEnd), offset, spans };
  }
  const v2 = h.major === 2;
  const ted = !v2 && (options.tedPayloadsAnywhere || h.exchange === TED_EXCHANGE_PROBE || h.exchange === TED_EXCHANGE_RESPONSE);
  let next = h.nextPayload;
  let nextAt = offset + 16;
  let o = offset + ISAKMP_HEADER_LENGTH;
  const ctx: DecodeContext = { payloadIndex: 0 };
  while (next !== 0) {
    ctx.payloadIndex = payloads.length;
    if (payloads.length >= LIMITS.maxPayloads) invalid('IKE_TOO_MANY', `more than ${LIMITS.maxPayloads} payloads`, o, ctx);
    if (o >= msgEnd) invalid('IKE_BAD_CHAIN', `Next Payload ${next} names a payload after the end of the message`, nextAt, ctx);
    const g = readGeneric(buf, o, msgEnd, ctx);
    let p: Payload;
    if (v2 && isEncryptedV2(next)) {
      const crit = g.flags & 0x80 ? { critical: true } : {};
      if (next === PayloadV2.SKF) {
        if (g.length < 8) invalid('IKE_BAD_PAYLOAD_LENGTH', `SKF payload of ${g.length} bytes has no room for its fragment numbers`, o + 2, ctx);
        const fragment = { number: (buf[o + 4]! << 8) | buf[o + 5]!, total: (buf[o + 6]! << 8) | buf[o + 7]! };
        p = { kind: 'sk', type: next, ...crit, innerNext: g.next, data: copyBytes(buf, o + 4, o + g.length), fragment };
      } else p = { kind: 'sk', type: next, ...crit, innerNext: g.next, data: copyBytes(buf, o + 4, o + g.length) };
    } else {
      const codec = (v2 ? V2.get(next) : (V1.get(next) ?? (ted ? V1_TED.get(next) : undefined))) ?? rawPayload;
      p = codec.decodeAfterHeader(buf, o, g, ctx, next);
      // Layouts shared with IKEv1 (ID, CERT, CR) do not read the critical bit themselves.
      if (v2 && g.flags & 0x80 && !('critical' in p)) p = { ...p, critical: true } as Payload;
    }
    payloads.push(p);
    spans.push({ type: next, offset: o, length: g.length });
    nextAt = o;
    o += g.length;
    next = p.kind === 'sk' ? 0 : g.next;
  }
  if (o !== msgEnd) invalid('IKE_TRAILING_DATA', `${msgEnd - o} bytes after the last payload`, o, { payloadIndex: payloads.length });
  return { header: h, payloads, offset, spans };
}
