// VICI transport and packet layers (strongSwan's vici README, "Transport protocol" and "Packet
// layer"): each packet travels in a frame of a 4-byte big-endian length (of the data after it, at
// most 512 KiB) followed by the packet; a packet is a type byte, a name (u8 length + ASCII) for
// the named types, and a message (src/vici/message.ts) for the types that carry one.
//
//   frame:  +------------------+------+----------------------+------------------------+
//           | length u32 (BE)  | type | name (named types)   | message (some types)   |
//           +------------------+------+----------------------+------------------------+
import { DecodeError, TedError } from '../errors.js';
import { decodeMessage, prepareMessage, type DecodeOptions, type ViciInput, type ViciSection } from './message.js';

export const CMD_REQUEST = 0;
export const CMD_RESPONSE = 1;
export const CMD_UNKNOWN = 2;
export const EVENT_REGISTER = 3;
export const EVENT_UNREGISTER = 4;
export const EVENT_CONFIRM = 5;
export const EVENT_UNKNOWN = 6;
export const EVENT = 7;

export const PACKET_TYPE_NAMES = ['CMD_REQUEST', 'CMD_RESPONSE', 'CMD_UNKNOWN', 'EVENT_REGISTER', 'EVENT_UNREGISTER', 'EVENT_CONFIRM', 'EVENT_UNKNOWN', 'EVENT'] as const;

/** Largest frame payload charon sends or accepts (the README's 512 KB). */
export const MAX_FRAME = 512 * 1024;

export type ViciPacket =
  | { readonly type: typeof CMD_REQUEST; readonly name: string; readonly message: ViciSection }
  | { readonly type: typeof CMD_RESPONSE; readonly message: ViciSection }
  | { readonly type: typeof CMD_UNKNOWN | typeof EVENT_CONFIRM | typeof EVENT_UNKNOWN }
  | { readonly type: typeof EVENT_REGISTER | typeof EVENT_UNREGISTER; readonly name: string }
  | { readonly type: typeof EVENT; readonly name: string; readonly message: ViciSection };

/** A packet to send: messages may use the encoder's conveniences (numbers, booleans). */
export type OutgoingPacket =
  | { readonly type: typeof CMD_REQUEST; readonly name: string; readonly message?: ViciInput }
  | { readonly type: typeof CMD_RESPONSE; readonly message?: ViciInput }
  | { readonly type: typeof CMD_UNKNOWN | typeof EVENT_CONFIRM | typeof EVENT_UNKNOWN }
  | { readonly type: typeof EVENT_REGISTER | typeof EVENT_UNREGISTER; readonly name: string }
  | { readonly type: typeof EVENT; readonly name: string; readonly message?: ViciInput };

const NAMED = new Set<number>([CMD_REQUEST, EVENT_REGISTER, EVENT_UNREGISTER, EVENT]);
const WITH_MESSAGE = new Set<number>([CMD_REQUEST, CMD_RESPONSE, EVENT]);

/** The whole frame (length prefix included) for one packet. */
export function encodeFrame(p: OutgoingPacket): Uint8Array {
  const name = 'name' in p ? p.name : undefined;
  if (name !== undefined && (name.length > 255 || !/^[\x20-\x7e]*$/.test(name)))
    throw new TedError('VICI_BAD_NAME', `packet name '${name}' must be at most 255 printable ASCII characters`);
  const msg = WITH_MESSAGE.has(p.type) ? prepareMessage(('message' in p ? p.message : undefined) ?? {}) : undefined;
  const length = 1 + (name !== undefined ? 1 + name.length : 0) + (msg?.length ?? 0);
  if (length > MAX_FRAME) throw new TedError('VICI_FRAME_TOO_LARGE', `packet of ${length} bytes; a VICI frame holds at most ${MAX_FRAME}`);
  const out = new Uint8Array(4 + length);
  new DataView(out.buffer).setUint32(0, length);
  out[4] = p.type;
  let o = 5;
  if (name !== undefined) {
    out[o++] = name.length;
    for (let i = 0; i < name.length; i++) out[o++] = name.charCodeAt(i);
  }
  if (msg) o += msg.write(out, o);
  return out;
}

/** Decodes one packet: the bytes of one frame without its length prefix. Offsets are relative to `buf`. */
export function decodePacket(buf: Uint8Array, offset = 0, end = buf.length, options: DecodeOptions = {}): ViciPacket {
  if (offset >= end) throw new DecodeError('VICI_TRUNCATED', 'empty packet (no type byte)', offset, { truncated: true });
  const type = buf[offset]!;
  if (type > EVENT) throw new DecodeError('VICI_BAD_PACKET_TYPE', `unknown packet type ${type}`, offset);
  let o = offset + 1;
  let name: string | undefined;
  if (NAMED.has(type)) {
    if (o >= end) throw new DecodeError('VICI_TRUNCATED', `${PACKET_TYPE_NAMES[type]}: name length missing`, o, { truncated: true });
    const n = buf[o]!;
    if (o + 1 + n > end) throw new DecodeError('VICI_TRUNCATED', `${PACKET_TYPE_NAMES[type]}: name of ${n} bytes runs past the end`, o, { truncated: true });
    name = '';
    for (let i = 0; i < n; i++) name += String.fromCharCode(buf[o + 1 + i]!);
    o += 1 + n;
  }
  if (WITH_MESSAGE.has(type)) {
    const message = decodeMessage(buf, o, end, options);
    if (type === CMD_RESPONSE) return { type, message };
    return { type: type as typeof CMD_REQUEST | typeof EVENT, name: name!, message };
  }
  if (o !== end) throw new DecodeError('VICI_TRAILING_BYTES', `${PACKET_TYPE_NAMES[type]} carries no message, yet ${end - o} bytes follow`, o);
  if (name !== undefined) return { type: type as typeof EVENT_REGISTER | typeof EVENT_UNREGISTER, name };
  return { type: type as typeof CMD_UNKNOWN | typeof EVENT_CONFIRM | typeof EVENT_UNKNOWN };
}

/**
 * Cuts a byte stream into frames. `push` returns the complete frames' payloads (copies); a
 * length above MAX_FRAME fails with VICI_FRAME_TOO_LARGE at its stream offset (the stream is
 * then unusable: the caller drops the connection). Memory held is at most one frame.
 */
export class FrameReader {
  private buf: Uint8Array = new Uint8Array(0);
  /** Stream offset of buf[0]. */
  private base = 0;

  push(chunk: Uint8Array): Uint8Array[] {
    let b: Uint8Array;
    if (this.buf.length === 0) b = chunk;
    else {
      b = new Uint8Array(this.buf.length + chunk.length);
      b.set(this.buf);
      b.set(chunk, this.buf.length);
    }
    const frames: Uint8Array[] = [];
    let o = 0;
    for (;;) {
      if (b.length - o < 4) break;
      const len = ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
      if (len > MAX_FRAME) throw new DecodeError('VICI_FRAME_TOO_LARGE', `frame length ${len} exceeds ${MAX_FRAME}`, this.base + o);
      if (b.length - o - 4 < len) break;
      frames.push(b.slice(o + 4, o + 4 + len));
      o += 4 + len;
    }
    this.base += o;
    this.buf = o === b.length ? new Uint8Array(0) : b.slice(o);
    return frames;
  }

  /** Bytes held of an incomplete frame. */
  get buffered(): number {
    return this.buf.length;
  }
}
