// The ISAKMP / IKE header (RFC 2408 3.1, RFC 7296 3.1): same 28 bytes for both versions.
//
//                      1                   2                   3
//  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// !                 Initiator Cookie (IKEv2: SPI)                 !
// !                                                               !
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// !                 Responder Cookie (IKEv2: SPI)                 !
// !                                                               !
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// !  Next Payload ! MjVer ! MnVer ! Exchange Type !     Flags     !
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// !                          Message ID                           !
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// !                            Length                             !
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
import { ISAKMP_HEADER_LENGTH } from './constants.js';
import { checkEncodeSpace, invalid, LIMITS, need, u32, u64, w32, w64, type DecodeContext } from './wire.js';

export interface IsakmpHeader {
  readonly icookie: bigint;
  readonly rcookie: bigint;
  /** Type of the first payload. */
  readonly nextPayload: number;
  readonly major: number;
  readonly minor: number;
  readonly exchange: number;
  readonly flags: number;
  readonly msgid: number;
  /** Total message length including this header. */
  readonly length: number;
}

export const header = {
  encodingLength(): number {
    return ISAKMP_HEADER_LENGTH;
  },
  encode(h: IsakmpHeader, buf: Uint8Array, offset = 0): number {
    checkEncodeSpace(buf, offset, ISAKMP_HEADER_LENGTH);
    w64(buf, offset, h.icookie);
    w64(buf, offset + 8, h.rcookie);
    buf[offset + 16] = h.nextPayload;
    buf[offset + 17] = ((h.major & 15) << 4) | (h.minor & 15);
    buf[offset + 18] = h.exchange;
    buf[offset + 19] = h.flags;
    w32(buf, offset + 20, h.msgid);
    w32(buf, offset + 24, h.length);
    return ISAKMP_HEADER_LENGTH;
  },
  /**
   * Reads the header and checks only what framing needs: the length field covers at least the
   * header, at most LIMITS.maxMessageLength, and fits in the bytes given (else IKE_TRUNCATED).
   */
  decode(buf: Uint8Array, offset = 0, end = buf.length, ctx?: DecodeContext): IsakmpHeader {
    need(offset, ISAKMP_HEADER_LENGTH, end, 'ISAKMP header', ctx);
    const length = u32(buf, offset + 24);
    if (length < ISAKMP_HEADER_LENGTH) invalid('IKE_BAD_LENGTH', `message length ${length} is shorter than the header`, offset + 24, ctx);
    if (length > LIMITS.maxMessageLength) invalid('IKE_BAD_LENGTH', `message length ${length} exceeds ${LIMITS.maxMessageLength}`, offset + 24, ctx);
    const vb = buf[offset + 17]!;
    const h: IsakmpHeader = {
      icookie: u64(buf, offset),
      rcookie: u64(buf, offset + 8),
      nextPayload: buf[offset + 16]!,
      major: vb >>> 4,
      minor: vb & 15,
      exchange: buf[offset + 18]!,
      flags: buf[offset + 19]!,
      msgid: u32(buf, offset + 20),
      length,
    };
    if (offset + length > end) need(offset, length, end, `message of ${length} bytes`, ctx);
    return h;
  },
};
