// Typed IKEv1 payloads (RFC 2408 3.4-3.16, RFC 2407 4.6, RFC 3947 3.1-3.2). Each body layout is
// drawn beside its codec; every codec reads only inside [start, end) of its own payload.
import { IdType, PayloadV1 } from './constants.js';
import { bodyCodec, type PayloadCodec } from './payload.js';
import { copyBytes, invalid, LIMITS, fits, readAddr, u16, u32, w16, w32, writeAddr, type DecodeContext } from './wire.js';
import { TedError } from '../errors.js';

// ---------------------------------------------------------------- data attributes (RFC 2408 3.3)
//  ! A!       Attribute Type        !    AF=0  Attribute Length     !
//  !F!                              !    AF=1  Attribute Value      !
//  .                   AF=0  Attribute Value                        .

/** A data attribute: a number is the short form (TV, AF=1), bytes the long form (TLV). */
export interface Attribute {
  readonly type: number;
  readonly value: number | Uint8Array;
}

export function attributesLength(attrs: readonly Attribute[]): number {
  let n = 0;
  for (const a of attrs) n += typeof a.value === 'number' ? 4 : 4 + a.value.length;
  return n;
}

export function encodeAttributes(attrs: readonly Attribute[], buf: Uint8Array, o: number): number {
  const start = o;
  for (const a of attrs) {
    if (typeof a.value === 'number') {
      w16(buf, o, 0x8000 | (a.type & 0x7fff));
      w16(buf, o + 2, a.value);
      o += 4;
    } else {
      w16(buf, o, a.type & 0x7fff);
      w16(buf, o + 2, a.value.length);
      buf.set(a.value, o + 4);
      o += 4 + a.value.length;
    }
  }
  return o - start;
}

export function decodeAttributes(buf: Uint8Array, o: number, end: number, ctx?: DecodeContext): Attribute[] {
  const out: Attribute[] = [];
  while (o < end) {
    if (out.length >= LIMITS.maxAttributes) invalid('IKE_TOO_MANY', `more than ${LIMITS.maxAttributes} attributes`, o, ctx);
    if (o + 4 > end) invalid('IKE_BAD_ATTRIBUTE', 'attribute header crosses the end of its transform', o, ctx);
    const t = u16(buf, o);
    if (t & 0x8000) {
      out.push({ type: t & 0x7fff, value: u16(buf, o + 2) });
      o += 4;
    } else {
      const len = u16(buf, o + 2);
      if (o + 4 + len > end) invalid('IKE_BAD_ATTRIBUTE', `attribute length ${len} crosses the end of its transform`, o + 2, ctx);
      out.push({ type: t, value: copyBytes(buf, o + 4, o + 4 + len) });
      o += 4 + len;
    }
  }
  return out;
}

// ---------------------------------------------------------------- SA (RFC 2408 3.4, RFC 2407 4.6.1)
//  ! Next Payload  !   RESERVED    !         Payload Length        !
//  !              Domain of Interpretation  (DOI)                  !
//  !                           Situation (4 bytes for the IPsec DOI)
//  ! Proposal payloads ...
// Proposal (3.5):
//  ! Next (2 or 0) !   RESERVED    !         Payload Length        !
//  !  Proposal #   !  Protocol-Id  !    SPI Size   !# of Transforms!
//  !                        SPI (variable)                         !
//  ! Transform payloads ...
// Transform (3.6):
//  ! Next (3 or 0) !   RESERVED    !         Payload Length        !
//  !  Transform #  !  Transform-Id !           RESERVED2           !
//  !                        SA Attributes                          !

/** What the shared proposal encoder needs of a transform (IKEv1 or IKEv2). */
export interface TransformShape {
  readonly attributes: readonly Attribute[];
}

export interface TransformV1 {
  readonly number: number;
  readonly id: number;
  readonly attributes: readonly Attribute[];
}

/** A proposal substructure; IKEv1 and IKEv2 differ only in their transforms. */
export interface Proposal<T extends TransformShape> {
  readonly number: number;
  readonly protocol: number;
  readonly spi: Uint8Array;
  readonly transforms: readonly T[];
}

export type ProposalV1 = Proposal<TransformV1>;

export interface SaPayloadV1 {
  readonly kind: 'sa';
  readonly type: number;
  readonly doi: number;
  /** IPsec DOI (1) only; for other DOIs the body after the DOI is kept in `rest`. */
  readonly situation?: number;
  readonly proposals: readonly ProposalV1[];
  /** Body bytes after the DOI when their layout is not the IPsec DOI's (kept verbatim). */
  readonly rest?: Uint8Array;
}

// Situation bits after which RFC 2407 4.6.1 appends labelled-domain data we keep raw.
const SIT_SECRECY_OR_INTEGRITY = 0x06;

// IKEv2 (RFC 7296 3.3.1-3.3.2) kept this proposal and transform framing, with the same "more"
// markers (2 after a proposal, 3 after a transform); only bytes 4-7 of a transform differ.

function transformLength(t: TransformShape): number {
  return 8 + attributesLength(t.attributes);
}

function proposalLength(p: Proposal<TransformShape>): number {
  let n = 8 + p.spi.length;
  for (const t of p.transforms) n += transformLength(t);
  return n;
}

export function proposalsLength(proposals: readonly Proposal<TransformShape>[]): number {
  let n = 0;
  for (const p of proposals) n += proposalLength(p);
  return n;
}

/** Writes the proposals at `o`; `head` writes bytes 4-7 of each transform (version-specific). */
export function encodeProposals<T extends TransformShape>(proposals: readonly Proposal<T>[], buf: Uint8Array, o: number, head: (t: T, buf: Uint8Array, at: number) => void): void {
  proposals.forEach((pr, i) => {
    const plen = proposalLength(pr);
    buf[o] = i === proposals.length - 1 ? 0 : PayloadV1.PROPOSAL;
    buf[o + 1] = 0;
    w16(buf, o + 2, plen);
    buf[o + 4] = pr.number;
    buf[o + 5] = pr.protocol;
    buf[o + 6] = pr.spi.length;
    buf[o + 7] = pr.transforms.length;
    buf.set(pr.spi, o + 8);
    let t = o + 8 + pr.spi.length;
    pr.transforms.forEach((tr, j) => {
      const tlen = transformLength(tr);
      buf[t] = j === pr.transforms.length - 1 ? 0 : PayloadV1.TRANSFORM;
      buf[t + 1] = 0;
      w16(buf, t + 2, tlen);
      head(tr, buf, t + 4);
      encodeAttributes(tr.attributes, buf, t + 8);
      t += tlen;
    });
    o += plen;
  });
}

export const saV1: PayloadCodec<SaPayloadV1> = bodyCodec<SaPayloadV1>({
  length(p) {
    if (p.rest) return 4 + p.rest.length;
    return 8 + proposalsLength(p.proposals);
  },
  encode(p, buf, o) {
    w32(buf, o, p.doi);
    if (p.rest) {
      buf.set(p.rest, o + 4);
      return;
    }
    w32(buf, o + 4, p.situation ?? 0);
    encodeProposals(p.proposals, buf, o + 8, (tr, b, at) => {
      b[at] = tr.number;
      b[at + 1] = tr.id;
      w16(b, at + 2, 0);
    });
  },
  decode(buf, start, end, _flags, ctx, type) {
    fits(start, 4, end, 'SA DOI', ctx);
    const doi = u32(buf, start);
    if (doi !== 1) return { kind: 'sa', type: type ?? PayloadV1.SA, doi, proposals: [], rest: copyBytes(buf, start + 4, end) };
    fits(start + 4, 4, end, 'SA situation', ctx);
    const situation = u32(buf, start + 4);
    if (situation & SIT_SECRECY_OR_INTEGRITY) {
      return { kind: 'sa', type: type ?? PayloadV1.SA, doi, proposals: [], rest: copyBytes(buf, start + 4, end) };
    }
    const proposals: ProposalV1[] = [];
    let o = start + 8;
    let next = o < end ? PayloadV1.PROPOSAL : 0;
    while (next !== 0) {
      if (proposals.length >= LIMITS.maxProposals) invalid('IKE_TOO_MANY', `more than ${LIMITS.maxProposals} proposals`, o, ctx);
      if (next !== PayloadV1.PROPOSAL) invalid('IKE_BAD_PROPOSAL', `proposal chain names payload type ${next}`, o, ctx);
      if (o + 8 > end) invalid('IKE_BAD_PROPOSAL', 'proposal header crosses the end of the SA payload', o, ctx);
      const plen = u16(buf, o + 2);
      if (plen < 8 || o + plen > end) invalid('IKE_BAD_PAYLOAD_LENGTH', `proposal length ${plen} does not fit its SA payload`, o + 2, ctx);
      const pend = o + plen;
      const spiSize = buf[o + 6]!;
      const count = buf[o + 7]!;
      if (o + 8 + spiSize > pend) invalid('IKE_BAD_PROPOSAL', `SPI size ${spiSize} crosses the end of the proposal`, o + 6, ctx);
      const spi = copyBytes(buf, o + 8, o + 8 + spiSize);
      const transforms: TransformV1[] = [];
      let t = o + 8 + spiSize;
      let tnext = t < pend ? PayloadV1.TRANSFORM : 0;
      while (tnext !== 0) {
        if (transforms.length >= LIMITS.maxTransforms) invalid('IKE_TOO_MANY', `more than ${LIMITS.maxTransforms} transforms`, t, ctx);
        if (tnext !== PayloadV1.TRANSFORM) invalid('IKE_BAD_TRANSFORM', `transform chain names payload type ${tnext}`, t, ctx);
        if (t + 8 > pend) invalid('IKE_BAD_TRANSFORM', 'transform header crosses the end of its proposal', t, ctx);
        const tlen = u16(buf, t + 2);
        if (tlen < 8 || t + tlen > pend) invalid('IKE_BAD_PAYLOAD_LENGTH', `transform length ${tlen} does not fit its proposal`, t + 2, ctx);
        transforms.push({ number: buf[t + 4]!, id: buf[t + 5]!, attributes: decodeAttributes(buf, t + 8, t + tlen, ctx) });
        tnext = buf[t]!;
        t += tlen;
        if (tnext !== 0 && t >= pend) invalid('IKE_BAD_TRANSFORM', 'transform chain continues past the end of its proposal', t, ctx);
      }
      if (t !== pend) invalid('IKE_BAD_TRANSFORM', `${pend - t} bytes after the last transform`, t, ctx);
      if (transforms.length !== count) invalid('IKE_BAD_PROPOSAL', `proposal says ${count} transforms, carries ${transforms.length}`, o + 7, ctx);
      proposals.push({ number: buf[o + 4]!, protocol: buf[o + 5]!, spi, transforms });
      next = buf[o]!;
      o = pend;
      if (next !== 0 && o >= end) invalid('IKE_BAD_PROPOSAL', 'proposal chain continues past the end of the SA payload', o, ctx);
    }
    if (o !== end) invalid('IKE_BAD_PROPOSAL', `${end - o} bytes after the last proposal`, o, ctx);
    return { kind: 'sa', type: type ?? PayloadV1.SA, doi, situation, proposals };
  },
});

// ---------------------------------------------------------------- opaque-data payloads
// KE (3.7), HASH (3.11), SIG (3.12), NONCE (3.13), VENDOR ID (3.16), NAT-D (RFC 3947 3.1):
//  ! Next Payload  !   RESERVED    !         Payload Length        !
//  !                 Key Exchange / Hash / Signature / Nonce /     !
//  !                 Vendor ID / NAT-D hash data (variable)        !

export type DataKind = 'ke' | 'hash' | 'sig' | 'nonce' | 'vendor' | 'nat-d';

export interface DataPayloadV1 {
  readonly kind: DataKind;
  readonly type: number;
  readonly data: Uint8Array;
}

export function dataCodec<K extends string>(kind: K, type: number) {
  return bodyCodec<{ kind: K; type: number; data: Uint8Array }>({
    length: (p) => p.data.length,
    encode(p, buf, o) {
      buf.set(p.data, o);
    },
    decode: (buf, start, end, _f, _c, t) => ({ kind, type: t ?? type, data: copyBytes(buf, start, end) }),
  });
}

// ---------------------------------------------------------------- ID (RFC 2407 4.6.2)
//  ! Next Payload  !   RESERVED    !         Payload Length        !
//  !   ID Type     !  Protocol ID  !             Port              !
//  ~                     Identification Data                       ~

/** Identification data, typed by ID type; any other type keeps its bytes in `data`. */
export type Identification =
  | { readonly idType: 1 | 5; readonly address: bigint }
  | { readonly idType: 4 | 6; readonly address: bigint; readonly mask: bigint }
  | { readonly idType: 7 | 8; readonly start: bigint; readonly end: bigint }
  | { readonly idType: 2 | 3; readonly text: string }
  | { readonly idType: number; readonly data: Uint8Array };

export interface IdPayloadV1 {
  readonly kind: 'id';
  readonly type: number;
  /** IKEv2 IDi/IDr only (this layout is shared with RFC 7296 3.5). */
  readonly critical?: boolean;
  readonly protocol: number;
  readonly port: number;
  readonly id: Identification;
}

function idDataLength(id: Identification): number {
  switch (id.idType) {
    case IdType.IPV4_ADDR:
      return 4;
    case IdType.IPV6_ADDR:
      return 16;
    case IdType.IPV4_ADDR_SUBNET:
    case IdType.IPV4_ADDR_RANGE:
      return 8;
    case IdType.IPV6_ADDR_SUBNET:
    case IdType.IPV6_ADDR_RANGE:
      return 32;
    case IdType.FQDN:
    case IdType.USER_FQDN:
      return latin1Length((id as { text: string }).text);
    default:
      return (id as { data: Uint8Array }).data.length;
  }
}

function latin1Length(s: string): number {
  return s.length;
}

function writeLatin1(s: string, buf: Uint8Array, o: number): void {
  for (let i = 0; i < s.length; i++) buf[o + i] = s.charCodeAt(i) & 0xff;
}

function readLatin1(buf: Uint8Array, start: number, end: number): string {
  let s = '';
  for (let i = start; i < end; i++) s += String.fromCharCode(buf[i]!);
  return s;
}

export function encodeIdentification(id: Identification, buf: Uint8Array, o: number): void {
  const t = id.idType;
  if (t === IdType.IPV4_ADDR || t === IdType.IPV6_ADDR) {
    writeAddr(buf, o, t === 1 ? 4 : 16, (id as { address: bigint }).address);
  } else if (t === IdType.IPV4_ADDR_SUBNET || t === IdType.IPV6_ADDR_SUBNET) {
    const n = t === 4 ? 4 : 16;
    const s = id as { address: bigint; mask: bigint };
    writeAddr(buf, o, n, s.address);
    writeAddr(buf, o + n, n, s.mask);
  } else if (t === IdType.IPV4_ADDR_RANGE || t === IdType.IPV6_ADDR_RANGE) {
    const n = t === 7 ? 4 : 16;
    const r = id as { start: bigint; end: bigint };
    writeAddr(buf, o, n, r.start);
    writeAddr(buf, o + n, n, r.end);
  } else if (t === IdType.FQDN || t === IdType.USER_FQDN) {
    writeLatin1((id as { text: string }).text, buf, o);
  } else {
    buf.set((id as { data: Uint8Array }).data, o);
  }
}

export function decodeIdentification(idType: number, buf: Uint8Array, start: number, end: number, ctx?: DecodeContext): Identification {
  const len = end - start;
  const exact = (n: number): void => {
    if (len !== n) invalid('IKE_BAD_ID', `ID type ${idType} needs ${n} bytes of data, has ${len}`, start, ctx);
  };
  switch (idType) {
    case IdType.IPV4_ADDR:
      exact(4);
      return { idType, address: readAddr(buf, start, 4) };
    case IdType.IPV6_ADDR:
      exact(16);
      return { idType, address: readAddr(buf, start, 16) };
    case IdType.IPV4_ADDR_SUBNET:
      exact(8);
      return { idType, address: readAddr(buf, start, 4), mask: readAddr(buf, start + 4, 4) };
    case IdType.IPV6_ADDR_SUBNET:
      exact(32);
      return { idType, address: readAddr(buf, start, 16), mask: readAddr(buf, start + 16, 16) };
    case IdType.IPV4_ADDR_RANGE:
      exact(8);
      return { idType, start: readAddr(buf, start, 4), end: readAddr(buf, start + 4, 4) };
    case IdType.IPV6_ADDR_RANGE:
      exact(32);
      return { idType, start: readAddr(buf, start, 16), end: readAddr(buf, start + 16, 16) };
    case IdType.FQDN:
    case IdType.USER_FQDN:
      return { idType, text: readLatin1(buf, start, end) };
    default:
      return { idType, data: copyBytes(buf, start, end) };
  }
}

export const idV1: PayloadCodec<IdPayloadV1> = bodyCodec<IdPayloadV1>({
  length: (p) => 4 + idDataLength(p.id),
  encode(p, buf, o) {
    buf[o] = p.id.idType;
    buf[o + 1] = p.protocol;
    w16(buf, o + 2, p.port);
    encodeIdentification(p.id, buf, o + 4);
  },
  decode(buf, start, end, _flags, ctx, type) {
    fits(start, 4, end, 'ID payload', ctx);
    return {
      kind: 'id',
      type: type ?? PayloadV1.ID,
      protocol: buf[start + 1]!,
      port: u16(buf, start + 2),
      id: decodeIdentification(buf[start]!, buf, start + 4, end, ctx),
    };
  },
});

// ---------------------------------------------------------------- CERT (3.9) / CR (3.10)
//  ! Next Payload  !   RESERVED    !         Payload Length        !
//  ! Cert Encoding !                                               !
//  +-+-+-+-+-+-+-+-+  Certificate Data / Certificate Authority     ~

export interface CertPayloadV1 {
  readonly kind: 'cert' | 'cr';
  readonly type: number;
  /** IKEv2 CERT/CERTREQ only (same layout, RFC 7296 3.6-3.7). */
  readonly critical?: boolean;
  readonly encoding: number;
  readonly data: Uint8Array;
}

function certCodec(kind: 'cert' | 'cr', type: number): PayloadCodec<CertPayloadV1> {
  return bodyCodec<CertPayloadV1>({
    length: (p) => 1 + p.data.length,
    encode(p, buf, o) {
      buf[o] = p.encoding;
      buf.set(p.data, o + 1);
    },
    decode(buf, start, end, _f, ctx, t) {
      fits(start, 1, end, 'certificate encoding', ctx);
      return { kind, type: t ?? type, encoding: buf[start]!, data: copyBytes(buf, start + 1, end) };
    },
  });
}

export const certV1 = certCodec('cert', PayloadV1.CERT);
export const crV1 = certCodec('cr', PayloadV1.CR);

// ---------------------------------------------------------------- NOTIFY (3.14)
//  ! Next Payload  !   RESERVED    !         Payload Length        !
//  !              Domain of Interpretation  (DOI)                  !
//  !  Protocol-ID  !   SPI Size    !      Notify Message Type      !
//  ~                Security Parameter Index (SPI)                 ~
//  ~                       Notification Data                       ~

export interface NotifyPayloadV1 {
  readonly kind: 'notify';
  readonly type: number;
  readonly doi: number;
  readonly protocol: number;
  readonly notifyType: number;
  readonly spi: Uint8Array;
  readonly data: Uint8Array;
}

/** The Notify fields after the IKEv1 DOI, laid out the same in IKEv2 (RFC 7296 3.10). */
export interface NotifyFields {
  readonly protocol: number;
  readonly notifyType: number;
  readonly spi: Uint8Array;
  readonly data: Uint8Array;
}

export const notifyFieldsLength = (p: NotifyFields): number => 4 + p.spi.length + p.data.length;

export function encodeNotifyFields(p: NotifyFields, buf: Uint8Array, o: number): void {
  buf[o] = p.protocol;
  buf[o + 1] = p.spi.length;
  w16(buf, o + 2, p.notifyType);
  buf.set(p.spi, o + 4);
  buf.set(p.data, o + 4 + p.spi.length);
}

/** The caller has checked that the 4 fixed bytes at `o` are inside the payload. */
export function decodeNotifyFields(buf: Uint8Array, o: number, end: number, ctx?: DecodeContext): NotifyFields {
  const spiSize = buf[o + 1]!;
  if (o + 4 + spiSize > end) invalid('IKE_BAD_NOTIFY', `SPI size ${spiSize} crosses the end of the payload`, o + 1, ctx);
  return { protocol: buf[o]!, notifyType: u16(buf, o + 2), spi: copyBytes(buf, o + 4, o + 4 + spiSize), data: copyBytes(buf, o + 4 + spiSize, end) };
}

export const notifyV1: PayloadCodec<NotifyPayloadV1> = bodyCodec<NotifyPayloadV1>({
  length: (p) => 4 + notifyFieldsLength(p),
  encode(p, buf, o) {
    w32(buf, o, p.doi);
    encodeNotifyFields(p, buf, o + 4);
  },
  decode(buf, start, end, _f, ctx, type) {
    fits(start, 8, end, 'NOTIFY payload', ctx);
    return { kind: 'notify', type: type ?? PayloadV1.NOTIFY, doi: u32(buf, start), ...decodeNotifyFields(buf, start + 4, end, ctx) };
  },
});

// ---------------------------------------------------------------- DELETE (3.15)
//  ! Next Payload  !   RESERVED    !         Payload Length        !
//  !              Domain of Interpretation  (DOI)                  !
//  !  Protocol-Id  !   SPI Size    !           # of SPIs           !
//  ~               Security Parameter Index(es) (SPI)              ~

export interface DeletePayloadV1 {
  readonly kind: 'delete';
  readonly type: number;
  readonly doi: number;
  readonly protocol: number;
  readonly spiSize: number;
  readonly spis: readonly Uint8Array[];
}

export const deleteV1: PayloadCodec<DeletePayloadV1> = bodyCodec<DeletePayloadV1>({
  length: (p) => 8 + p.spiSize * p.spis.length,
  encode(p, buf, o) {
    w32(buf, o, p.doi);
    buf[o + 4] = p.protocol;
    buf[o + 5] = p.spiSize;
    w16(buf, o + 6, p.spis.length);
    o += 8;
    for (const s of p.spis) {
      if (s.length !== p.spiSize) throw new TedError('IKE_ENCODE_INVALID', `DELETE SPI of ${s.length} bytes, SPI size is ${p.spiSize}`);
      buf.set(s, o);
      o += s.length;
    }
  },
  decode(buf, start, end, _f, ctx, type) {
    fits(start, 8, end, 'DELETE payload', ctx);
    const spiSize = buf[start + 5]!;
    const n = u16(buf, start + 6);
    if (n > LIMITS.maxSpis) invalid('IKE_TOO_MANY', `${n} SPIs exceed ${LIMITS.maxSpis}`, start + 6, ctx);
    if (start + 8 + n * spiSize !== end) invalid('IKE_BAD_DELETE', `${n} SPIs of ${spiSize} bytes do not fill the ${end - start - 8} bytes left`, start + 6, ctx);
    const spis: Uint8Array[] = [];
    for (let i = 0, o = start + 8; i < n; i++, o += spiSize) spis.push(copyBytes(buf, o, o + spiSize));
    return { kind: 'delete', type: type ?? PayloadV1.DELETE, doi: u32(buf, start), protocol: buf[start + 4]!, spiSize, spis };
  },
});

// ---------------------------------------------------------------- NAT-OA (RFC 3947 3.2)
//  ! Next Payload  !   RESERVED    !         Payload Length        !
//  !    ID Type    !   RESERVED    !            RESERVED           !
//  !         IPv4 (4 octets) or IPv6 address (16 octets)           !

export interface NatOaPayloadV1 {
  readonly kind: 'nat-oa';
  readonly type: number;
  /** IPV4_ADDR (1) or IPV6_ADDR (5). */
  readonly idType: number;
  readonly address: bigint;
}

export function natOaCodec(type: number): PayloadCodec<NatOaPayloadV1> {
  return bodyCodec<NatOaPayloadV1>({
    length: (p) => 4 + (p.idType === IdType.IPV6_ADDR ? 16 : 4),
    encode(p, buf, o) {
      buf[o] = p.idType;
      buf[o + 1] = 0;
      w16(buf, o + 2, 0);
      writeAddr(buf, o + 4, p.idType === IdType.IPV6_ADDR ? 16 : 4, p.address);
    },
    decode(buf, start, end, _f, ctx, t) {
      fits(start, 4, end, 'NAT-OA payload', ctx);
      const idType = buf[start]!;
      if (idType !== IdType.IPV4_ADDR && idType !== IdType.IPV6_ADDR) invalid('IKE_BAD_ID', `NAT-OA ID type ${idType} is not IPV4_ADDR or IPV6_ADDR`, start, ctx);
      const n = idType === IdType.IPV6_ADDR ? 16 : 4;
      if (end - start - 4 !== n) invalid('IKE_BAD_ID', `NAT-OA address needs ${n} bytes, has ${end - start - 4}`, start + 4, ctx);
      return { kind: 'nat-oa', type: t ?? type, idType, address: readAddr(buf, start + 4, n) };
    },
  });
}

export const keV1 = dataCodec('ke', PayloadV1.KE);
export const hashV1 = dataCodec('hash', PayloadV1.HASH);
export const sigV1 = dataCodec('sig', PayloadV1.SIG);
export const nonceV1 = dataCodec('nonce', PayloadV1.NONCE);
export const vendorIdV1 = dataCodec('vendor', PayloadV1.VENDOR_ID);
export const natDV1 = dataCodec('nat-d', PayloadV1.NAT_D);
export const natOaV1 = natOaCodec(PayloadV1.NAT_OA);

/** Payload types whose layout this codec does not know: the body bytes, verbatim. */
export interface RawPayload {
  readonly kind: 'raw';
  readonly type: number;
  /** IKEv2 critical bit (always false for IKEv1). */
  readonly critical?: boolean;
  readonly data: Uint8Array;
}

export const rawPayload: PayloadCodec<RawPayload> = rawCodec(0);

function rawCodec(type: number): PayloadCodec<RawPayload> {
  return bodyCodec<RawPayload>({
    length: (p) => p.data.length,
    encode(p, buf, o) {
      buf.set(p.data, o);
    },
    decode: (buf, start, end, flags, _c, t) => (flags & 0x80 ? { kind: 'raw', type: t ?? type, critical: true, data: copyBytes(buf, start, end) } : { kind: 'raw', type: t ?? type, data: copyBytes(buf, start, end) }),
    flags: (p) => (p.critical ? 0x80 : 0),
  });
}

