// The engine's view of the wire: encode a probe or a response into bytes, and decode any datagram
// far enough to dispatch and verify it. Kept as a small interface so the engine can be driven
// with the real ISAKMP codec (src/ike/ted.ts) and tests can hand it damaged bytes.
import type { TedProbe, TedResponse } from '../ike/ted-types.js';

/** What the engine needs from any received ISAKMP message. */
export interface DecodedTed {
  readonly exchange: number;
  readonly messageId: number;
  readonly icookie: bigint;
  readonly rcookie: bigint;
  /** Present when exchange is 240 and the body parsed. */
  readonly probe?: TedProbe;
  /** Present when exchange is 241 and the body parsed. */
  readonly response?: TedResponse;
}

export interface TedWire {
  encodeProbe(p: TedProbe): Uint8Array;
  /**
   * Encodes a response. The engine encodes one per ACL entry and writes the cookies into bytes
   * 0..15 (the ISAKMP header's initiator and responder cookies) per answer, so nothing else in
   * the message may depend on the cookies.
   */
  encodeResponse(r: TedResponse): Uint8Array;
  /**
   * Decodes a datagram payload. Throws DecodeError (truncated or invalid) for bytes that are not
   * a well-formed ISAKMP message with a well-formed TED body when the exchange is 240 or 241;
   * other exchanges decode to the header fields only.
   */
  decode(bytes: Uint8Array): DecodedTed;
}
