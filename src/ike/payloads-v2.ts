// Typed IKEv2 payloads (RFC 7296 3.3-3.14). The second header byte carries the critical bit,
// kept on every payload so that re-encoding gives the same bytes.
import { PayloadV2, TsType } from './constants.js';
import { bodyCodec, type PayloadCodec } from './payload.js';
import { decodeAttributes, decodeNotifyFields, encodeNotifyFields, encodeProposals, notifyFieldsLength, proposalsLength, type Attribute, type Proposal } from './payloads-v1.js';
import { copyBytes, invalid, LIMITS, fits, readAddr, u16, w16, writeAddr } from './wire.js';

const crit = (p: { critical?: boolean }): number => (p.critical ? 0x80 : 0);
const isCrit = (flags: number): { critical?: boolean } => (flags & 0x80 ? { critical: true } : {});

// ---------------------------------------------------------------- SA (3.3)
// Proposal substructure:
//  ! Last Substruc !   RESERVED    !         Proposal Length       !
//  ! Proposal Num  !  Protocol ID  !    SPI Size   !Num  Transforms!
//  ~                        SPI (variable)                         ~
//  ~                        <Transforms>                           ~
// Transform substructure:
//  ! Last Substruc !   RESERVED    !        Transform Length       !
//  !Transform Type !   RESERVED    !          Transform ID         !
//  ~                      Transform Attributes                     ~

export interface TransformV2 {
  readonly transformType: number;
  readonly id: number;
  readonly attributes: readonly Attribute[];
}

export type ProposalV2 = Proposal<TransformV2>;

export interface SaPayloadV2 {
  readonly kind: 'sa2';
  readonly type: number;
  readonly critical?: boolean;
  readonly proposals: readonly ProposalV2[];
}

export const saV2: PayloadCodec<SaPayloadV2> = bodyCodec<SaPayloadV2>({
  flags: crit,
  length: (p) => proposalsLength(p.proposals),
  encode(p, buf, o) {
    encodeProposals(p.proposals, buf, o, (tr, b, at) => {
      b[at] = tr.transformType;
      b[at + 1] = 0;
      w16(b, at + 2, tr.id);
    });
  },
  decode(buf, start, end, flags, ctx, type) {
    const proposals: ProposalV2[] = [];
    let o = start;
    let more = o < end;
    while (more) {
      if (proposals.length >= LIMITS.maxProposals) invalid('IKE_TOO_MANY', `more than ${LIMITS.maxProposals} proposals`, o, ctx);
      if (o + 8 > end) invalid('IKE_BAD_PROPOSAL', 'proposal header crosses the end of the SA payload', o, ctx);
      const last = buf[o]!;
      if (last !== 0 && last !== 2) invalid('IKE_BAD_PROPOSAL', `proposal "last substructure" is ${last}, not 0 or 2`, o, ctx);
      const plen = u16(buf, o + 2);
      if (plen < 8 || o + plen > end) invalid('IKE_BAD_PAYLOAD_LENGTH', `proposal length ${plen} does not fit its SA payload`, o + 2, ctx);
      const pend = o + plen;
      const spiSize = buf[o + 6]!;
      const count = buf[o + 7]!;
      if (o + 8 + spiSize > pend) invalid('IKE_BAD_PROPOSAL', `SPI size ${spiSize} crosses the end of the proposal`, o + 6, ctx);
      const transforms: TransformV2[] = [];
      let t = o + 8 + spiSize;
      while (t < pend) {
        if (transforms.length >= LIMITS.maxTransforms) invalid('IKE_TOO_MANY', `more than ${LIMITS.maxTransforms} transforms`, t, ctx);
        if (t + 8 > pend) invalid('IKE_BAD_TRANSFORM', 'transform header crosses the end of its proposal', t, ctx);
        const tlen = u16(buf, t + 2);
        if (tlen < 8 || t + tlen > pend) invalid('IKE_BAD_PAYLOAD_LENGTH', `transform length ${tlen} does not fit its proposal`, t + 2, ctx);
        const tl = buf[t]!;
        if (tl !== 0 && tl !== 3) invalid('IKE_BAD_TRANSFORM', `transform "last substructure" is ${tl}, not 0 or 3`, t, ctx);
        transforms.push({ transformType: buf[t + 4]!, id: u16(buf, t + 6), attributes: decodeAttributes(buf, t + 8, t + tlen, ctx) });
        t += tlen;
        if ((tl === 0) !== (t === pend)) invalid('IKE_BAD_TRANSFORM', 'transform "last substructure" disagrees with the proposal length', t - tlen, ctx);
      }
      if (transforms.length !== count) invalid('IKE_BAD_PROPOSAL', `proposal says ${count} transforms, carries ${transforms.length}`, o + 7, ctx);
      proposals.push({ number: buf[o + 4]!, protocol: buf[o + 5]!, spi: copyBytes(buf, o + 8, o + 8 + spiSize), transforms });
      o = pend;
      more = last === 2;
      if (more !== o < end) invalid('IKE_BAD_PROPOSAL', 'proposal "last substructure" disagrees with the SA payload length', o, ctx);
    }
    return { kind: 'sa2', type: type ?? PayloadV2.SA, ...isCrit(flags), proposals };
  },
});

// ---------------------------------------------------------------- KE (3.4)
//  !   Diffie-Hellman Group Num    !           RESERVED            !
//  ~                       Key Exchange Data                       ~

export interface KePayloadV2 {
  readonly kind: 'ke2';
  readonly type: number;
  readonly critical?: boolean;
  readonly group: number;
  readonly data: Uint8Array;
}

export const keV2: PayloadCodec<KePayloadV2> = bodyCodec<KePayloadV2>({
  flags: crit,
  length: (p) => 4 + p.data.length,
  encode(p, buf, o) {
    w16(buf, o, p.group);
    w16(buf, o + 2, 0);
    buf.set(p.data, o + 4);
  },
  decode(buf, start, end, flags, ctx, type) {
    fits(start, 4, end, 'KE payload', ctx);
    return { kind: 'ke2', type: type ?? PayloadV2.KE, ...isCrit(flags), group: u16(buf, start), data: copyBytes(buf, start + 4, end) };
  },
});

// ---------------------------------------------------------------- Nonce (3.9), Vendor ID (3.12)
// ---------------------------------------------------------------- and SK (3.14, opaque)

export interface DataPayloadV2 {
  readonly kind: 'nonce2' | 'vendor2';
  readonly type: number;
  readonly critical?: boolean;
  readonly data: Uint8Array;
}

function data2(kind: DataPayloadV2['kind'], type: number): PayloadCodec<DataPayloadV2> {
  return bodyCodec<DataPayloadV2>({
    flags: crit,
    length: (p) => p.data.length,
    encode(p, buf, o) {
      buf.set(p.data, o);
    },
    decode: (buf, start, end, flags, _c, t) => ({ kind, type: t ?? type, ...isCrit(flags), data: copyBytes(buf, start, end) }),
  });
}

export const nonceV2 = data2('nonce2', PayloadV2.NONCE);
export const vendorIdV2 = data2('vendor2', PayloadV2.VENDOR_ID);

/**
 * The Encrypted payload (SK) and Encrypted Fragment (SKF): IV, ciphertext and ICV stay opaque.
 * Its Next Payload field names the first payload inside the ciphertext (`innerNext`).
 */
export interface EncryptedPayloadV2 {
  readonly kind: 'sk';
  readonly type: number;
  readonly critical?: boolean;
  readonly innerNext: number;
  /** The body after the generic header (SKF: Fragment Number and Total Fragments included). */
  readonly data: Uint8Array;
  /** SKF (RFC 7383 2.5): the first 4 bytes of `data`, read. Encoding writes `data` only. */
  readonly fragment?: { readonly number: number; readonly total: number };
}

// ---------------------------------------------------------------- Notify (3.10)
//  !  Protocol ID  !   SPI Size    !      Notify Message Type      !
//  ~                Security Parameter Index (SPI)                 ~
//  ~                       Notification Data                       ~

export interface NotifyPayloadV2 {
  readonly kind: 'notify2';
  readonly type: number;
  readonly critical?: boolean;
  readonly protocol: number;
  readonly notifyType: number;
  readonly spi: Uint8Array;
  readonly data: Uint8Array;
}

export const notifyV2: PayloadCodec<NotifyPayloadV2> = bodyCodec<NotifyPayloadV2>({
  flags: crit,
  length: notifyFieldsLength,
  encode: encodeNotifyFields,
  decode(buf, start, end, flags, ctx, type) {
    fits(start, 4, end, 'Notify payload', ctx);
    return { kind: 'notify2', type: type ?? PayloadV2.NOTIFY, ...isCrit(flags), ...decodeNotifyFields(buf, start, end, ctx) };
  },
});

// ---------------------------------------------------------------- TSi / TSr (3.13)
//  ! Number of TSs !                 RESERVED                      !
//  ~                       <Traffic Selectors>                     ~
// Traffic selector (3.13.1):
//  !   TS Type     !IP Protocol ID*|       Selector Length         |
//  |           Start Port*         |           End Port*           |
//  ~                         Starting Address*                     ~
//  ~                         Ending Address*                       ~

/** TS_IPV4_ADDR_RANGE (7) / TS_IPV6_ADDR_RANGE (8); other TS types keep their body in `data`. */
export type TrafficSelector =
  | {
      readonly tsType: 7 | 8;
      readonly protocol: number;
      readonly startPort: number;
      readonly endPort: number;
      readonly start: bigint;
      readonly end: bigint;
    }
  | { readonly tsType: number; readonly protocol: number; readonly data: Uint8Array };

export interface TsPayloadV2 {
  readonly kind: 'ts';
  readonly type: number;
  readonly critical?: boolean;
  readonly selectors: readonly TrafficSelector[];
}

function tsLength(ts: TrafficSelector): number {
  if (ts.tsType === TsType.IPV4_ADDR_RANGE) return 16;
  if (ts.tsType === TsType.IPV6_ADDR_RANGE) return 40;
  return 4 + (ts as { data: Uint8Array }).data.length;
}

export const tsV2: PayloadCodec<TsPayloadV2> = bodyCodec<TsPayloadV2>({
  flags: crit,
  length(p) {
    let n = 4;
    for (const s of p.selectors) n += tsLength(s);
    return n;
  },
  encode(p, buf, o) {
    buf[o] = p.selectors.length;
    buf[o + 1] = 0;
    w16(buf, o + 2, 0);
    o += 4;
    for (const s of p.selectors) {
      const len = tsLength(s);
      buf[o] = s.tsType;
      w16(buf, o + 2, len);
      if ('data' in s) {
        buf[o + 1] = s.protocol;
        buf.set(s.data, o + 4);
      } else {
        const n = s.tsType === TsType.IPV4_ADDR_RANGE ? 4 : 16;
        buf[o + 1] = s.protocol;
        w16(buf, o + 4, s.startPort);
        w16(buf, o + 6, s.endPort);
        writeAddr(buf, o + 8, n, s.start);
        writeAddr(buf, o + 8 + n, n, s.end);
      }
      o += len;
    }
  },
  decode(buf, start, end, flags, ctx, type) {
    fits(start, 4, end, 'TS payload', ctx);
    const count = buf[start]!;
    if (count > LIMITS.maxTrafficSelectors) invalid('IKE_TOO_MANY', `${count} traffic selectors exceed ${LIMITS.maxTrafficSelectors}`, start, ctx);
    const selectors: TrafficSelector[] = [];
    let o = start + 4;
    for (let i = 0; i < count; i++) {
      if (o + 4 > end) invalid('IKE_BAD_TS', `traffic selector ${i + 1} of ${count} crosses the end of the payload`, o, ctx);
      const tsType = buf[o]!;
      const len = u16(buf, o + 2);
      if (len < 4 || o + len > end) invalid('IKE_BAD_TS', `selector length ${len} does not fit the payload`, o + 2, ctx);
      if (tsType === TsType.IPV4_ADDR_RANGE || tsType === TsType.IPV6_ADDR_RANGE) {
        const n = tsType === TsType.IPV4_ADDR_RANGE ? 4 : 16;
        if (len !== 8 + 2 * n) invalid('IKE_BAD_TS', `TS type ${tsType} needs length ${8 + 2 * n}, has ${len}`, o + 2, ctx);
        selectors.push({
          tsType,
          protocol: buf[o + 1]!,
          startPort: u16(buf, o + 4),
          endPort: u16(buf, o + 6),
          start: readAddr(buf, o + 8, n),
          end: readAddr(buf, o + 8 + n, n),
        });
      } else {
        // Unknown TS types (e.g. RFC 8168 Fibre Channel): the body after the length, verbatim.
        selectors.push({ tsType, protocol: buf[o + 1]!, data: copyBytes(buf, o + 4, o + len) });
      }
      o += len;
    }
    if (o !== end) invalid('IKE_BAD_TS', `${end - o} bytes after the last traffic selector`, o, ctx);
    return { kind: 'ts', type: type ?? PayloadV2.TSI, ...isCrit(flags), selectors };
  },
});

