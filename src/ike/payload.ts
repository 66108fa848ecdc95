// The generic payload header shared by every ISAKMP / IKEv2 payload (RFC 2408 3.2, RFC 7296 3.2),
// and the codec shape every payload follows.
//
//  0                   1                   2                   3
//  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// ! Next Payload  !C!  RESERVED   !         Payload Length        !
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// C (critical) exists in IKEv2 only; in IKEv1 the whole second byte is RESERVED.
import { GENERIC_HEADER_LENGTH } from './constants.js';
import { checkEncodeSpace, invalid, fits, u16, w16, type DecodeContext } from './wire.js';
import { TedError } from '../errors.js';

/**
 * A payload codec (the dns-packet shape): `encodingLength` counts the generic header too;
 * `encode` writes the whole payload (generic header with `next` as its Next Payload) at `offset`
 * and returns the bytes written; `decode` reads one whole payload at `offset`, bounded by `end`
 * (`type` overrides the payload type recorded, for codecs shared by several type numbers).
 */
export interface PayloadCodec<P> {
  encodingLength(p: P): number;
  encode(p: P, buf: Uint8Array, offset: number, next?: number): number;
  decode(buf: Uint8Array, offset: number, end?: number, ctx?: DecodeContext, type?: number): P;
  /** decode() for a caller that already read (and checked) the generic header `g` at `offset`. */
  decodeAfterHeader(buf: Uint8Array, offset: number, g: GenericHeader, ctx?: DecodeContext, type?: number): P;
}

export interface GenericHeader {
  readonly next: number;
  readonly flags: number;
  readonly length: number;
}

export function readGeneric(buf: Uint8Array, offset: number, end: number, ctx?: DecodeContext): GenericHeader {
  fits(offset, GENERIC_HEADER_LENGTH, end, 'payload header', ctx);
  const length = u16(buf, offset + 2);
  if (length < GENERIC_HEADER_LENGTH) invalid('IKE_BAD_PAYLOAD_LENGTH', `payload length ${length} is shorter than its header`, offset + 2, ctx);
  if (offset + length > end) invalid('IKE_BAD_PAYLOAD_LENGTH', `payload length ${length} runs ${offset + length - end} bytes past its container`, offset + 2, ctx);
  return { next: buf[offset]!, flags: buf[offset + 1]!, length };
}

export function writeGeneric(buf: Uint8Array, offset: number, next: number, flags: number, length: number): void {
  if (length > 0xffff) throw new TedError('IKE_ENCODE_TOO_LONG', `payload of ${length} bytes does not fit a 16-bit length`);
  checkEncodeSpace(buf, offset, length);
  buf[offset] = next;
  buf[offset + 1] = flags;
  w16(buf, offset + 2, length);
}

/**
 * Builds a codec from a body codec: the body is everything after the 4-byte generic header.
 * `flagsOf` gives the second header byte (IKEv2 critical bit); `fromFlags` stores it back.
 */
export function bodyCodec<P>(body: {
  length(p: P): number;
  encode(p: P, buf: Uint8Array, offset: number): void;
  decode(buf: Uint8Array, start: number, end: number, flags: number, ctx: DecodeContext | undefined, type: number | undefined): P;
  flags?(p: P): number;
}): PayloadCodec<P> {
  return {
    encodingLength: (p) => GENERIC_HEADER_LENGTH + body.length(p),
    encode(p, buf, offset, next = 0) {
      const len = GENERIC_HEADER_LENGTH + body.length(p);
      writeGeneric(buf, offset, next, body.flags ? body.flags(p) : 0, len);
      body.encode(p, buf, offset + GENERIC_HEADER_LENGTH);
      return len;
    },
    decode(buf, offset, end = buf.length, ctx, type) {
      const g = readGeneric(buf, offset, Math.min(end, buf.length), ctx);
      return body.decode(buf, offset + GENERIC_HEADER_LENGTH, offset + g.length, g.flags, ctx, type);
    },
    decodeAfterHeader(buf, offset, g, ctx, type) {
      return body.decode(buf, offset + GENERIC_HEADER_LENGTH, offset + g.length, g.flags, ctx, type);
    },
  };
}
