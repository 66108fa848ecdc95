// IKE messages out of a TCP byte stream (one direction, in order: src/packet/tcp-stream.ts).
//
// - 'isakmp': ISAKMP over TCP port 500 as Wireshark reads it: messages back to back, each
//   delimited by its own header Length.
// - 'rfc8229': IKE over TCP (RFC 8229, usually port 4500). The side that opened the connection
//   first sends the 6-byte prefix "IKETCP"; then every record is
//    0                   1                   2                   3
//    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |            Length             |      Non-ESP Marker (0) ...
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   ...                            |      IKE message ...
//   Length counts itself. A record whose first 4 bytes after Length are not zero is ESP (SPI):
//   skipped and counted. Length 0 or 1 cannot be framed.
// Framing that cannot go on (a length below its minimum or above the IKE maximum) loses the
// stream: the error is reported once, with its offset in the stream, and the rest is ignored.
// Memory: at most one record is buffered (65535 bytes plus the prefix).
import { DecodeError } from '../errors.js';
import { ISAKMP_HEADER_LENGTH } from './constants.js';
import { LIMITS } from './wire.js';

export type IkeTcpMode = 'isakmp' | 'rfc8229';

/** The 6-byte prefix an RFC 8229 initiator sends first ("IKETCP"). */
export const IKETCP_PREFIX: Uint8Array = Uint8Array.from([0x49, 0x4b, 0x45, 0x54, 0x43, 0x50]);

export interface IkeTcpMessage {
  /** The IKE message (RFC 8229: the record after the non-ESP marker; it may hold trailing bytes). */
  readonly bytes: Uint8Array;
  /** Frames whose bytes make up the message (its record), in stream order. */
  readonly frames: readonly number[];
  /** Offset of the message's first byte in the stream. */
  readonly streamOffset: number;
}

export class IkeTcpFramer {
  /** RFC 8229 records that were ESP, skipped. */
  esp = 0;
  /** The stream could not be framed any further (reported once). */
  error: DecodeError | undefined;
  private chunks: Uint8Array[] = [];
  /** The frame that carried each chunk. */
  private chunkFrames: number[] = [];
  private buffered = 0;
  /** Stream offset of the first buffered byte. */
  private at = 0;
  private prefixChecked: boolean;

  constructor(readonly mode: IkeTcpMode) {
    this.prefixChecked = mode !== 'rfc8229';
  }

  /**
   * Adds in-order stream bytes carried by `frame`; calls `emit` for each complete message and
   * returns the framing error when this push lost the stream.
   */
  push(bytes: Uint8Array, frame: number, emit: (m: IkeTcpMessage) => void): DecodeError | undefined {
    if (this.error) return undefined;
    if (bytes.length === 0) return undefined;
    this.chunks.push(bytes.slice());
    this.chunkFrames.push(frame);
    this.buffered += bytes.length;
    for (;;) {
      if (!this.prefixChecked) {
        if (!this.startsLikePrefix()) this.prefixChecked = true;
        else if (this.buffered < IKETCP_PREFIX.length) return undefined;
        else {
          this.consume(IKETCP_PREFIX.length);
          this.prefixChecked = true;
        }
      }
      const need = this.recordLength();
      if (need === undefined) return undefined;
      if (need < 0) return this.error;
      if (this.buffered < need) return undefined;
      const frames = this.framesFor(need);
      const start = this.at;
      const record = this.consume(need);
      if (this.mode === 'isakmp') emit({ bytes: record, frames, streamOffset: start });
      else if (record.length >= 6 && record[2] === 0 && record[3] === 0 && record[4] === 0 && record[5] === 0) emit({ bytes: record.subarray(6), frames, streamOffset: start + 6 });
      else this.esp++;
    }
  }

  /** Bytes still waiting for the rest of their record (a stream that ended inside one). */
  get pending(): number {
    return this.error ? 0 : this.buffered;
  }

  /** The length of the record at the head, undefined when not known yet, -1 when framing failed. */
  private recordLength(): number | undefined {
    if (this.mode === 'isakmp') {
      if (this.buffered < ISAKMP_HEADER_LENGTH) return undefined;
      const h = this.peek(24, 4);
      const len = ((h[0]! << 24) | (h[1]! << 16) | (h[2]! << 8) | h[3]!) >>> 0;
      if (len < ISAKMP_HEADER_LENGTH || len > LIMITS.maxMessageLength) return this.fail('IKE_TCP_BAD_LENGTH', `ISAKMP length ${len} cannot delimit a message on the stream`, this.at + 24);
      return len;
    }
    if (this.buffered < 2) return undefined;
    const h = this.peek(0, 2);
    const len = (h[0]! << 8) | h[1]!;
    if (len < 2) return this.fail('IKE_TCP_BAD_LENGTH', `RFC 8229 length ${len} cannot delimit a record`, this.at);
    return len;
  }

  private fail(code: string, message: string, offset: number): -1 {
    this.error = new DecodeError(code, message, offset);
    this.chunks = [];
    this.chunkFrames = [];
    this.buffered = 0;
    return -1;
  }

  private startsLikePrefix(): boolean {
    const n = Math.min(this.buffered, IKETCP_PREFIX.length);
    const head = this.peek(0, n);
    for (let i = 0; i < n; i++) if (head[i] !== IKETCP_PREFIX[i]) return false;
    return true;
  }

  /** `n` bytes from `from` in the buffered chunks (a view when they lie in one chunk). */
  private peek(from: number, n: number): Uint8Array {
    const c0 = this.chunks[0]!;
    if (from + n <= c0.length) return c0.subarray(from, from + n);
    const out = new Uint8Array(n);
    let skip = from;
    let o = 0;
    for (const c of this.chunks) {
      if (skip >= c.length) {
        skip -= c.length;
        continue;
      }
      const take = Math.min(c.length - skip, n - o);
      out.set(c.subarray(skip, skip + take), o);
      o += take;
      skip = 0;
      if (o === n) break;
    }
    return out;
  }

  /** Frames carrying the first `n` buffered bytes, each once, in order. */
  private framesFor(n: number): number[] {
    const out: number[] = [];
    for (let i = 0, used = 0; i < this.chunks.length && used < n; i++) {
      const f = this.chunkFrames[i]!;
      if (out[out.length - 1] !== f) out.push(f);
      used += this.chunks[i]!.length;
    }
    return out;
  }

  /** Removes and returns the first `n` buffered bytes. */
  private consume(n: number): Uint8Array {
    const out = this.peek(0, n).slice();
    let left = n;
    while (left > 0) {
      const c = this.chunks[0]!;
      if (c.length <= left) {
        left -= c.length;
        this.chunks.shift();
        this.chunkFrames.shift();
      } else {
        this.chunks[0] = c.subarray(left);
        left = 0;
      }
    }
    this.buffered -= n;
    this.at += n;
    return out;
  }
}
