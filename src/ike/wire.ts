// Bounds-checked byte helpers and the one way an IKE decoder fails. Every decoder in src/ike
// reads through these so that, whatever the bytes, only a DecodeError with an IKE_* code escapes.
import { DecodeError } from '../errors.js';

/** Where a decode is: which top-level payload (for error reports). */
export interface DecodeContext {
  payloadIndex?: number;
}

/** Limits against hostile lengths and counts (a UDP datagram is at most 65535 bytes anyway). */
export const LIMITS = Object.freeze({
  maxMessageLength: 65535,
  maxPayloads: 64,
  maxProposals: 64,
  maxTransforms: 64,
  maxAttributes: 128,
  maxTrafficSelectors: 64,
  maxSpis: 1024,
  maxPortRanges: 16,
});

export function invalid(code: string, message: string, offset: number, ctx?: DecodeContext): never {
  throw new DecodeError(code, message, offset, { truncated: false, payloadIndex: ctx?.payloadIndex });
}

export function truncated(message: string, offset: number, ctx?: DecodeContext): never {
  throw new DecodeError('IKE_TRUNCATED', message, offset, { truncated: true, payloadIndex: ctx?.payloadIndex });
}

/** Fails with IKE_TRUNCATED unless `need` bytes are available at `offset` before `end`. */
export function need(offset: number, n: number, end: number, what: string, ctx?: DecodeContext): void {
  if (offset + n > end) truncated(`${what}: need ${n} bytes, ${Math.max(0, end - offset)} left`, offset, ctx);
}

export function u16(b: Uint8Array, o: number): number {
  return (b[o]! << 8) | b[o + 1]!;
}

export function u32(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}

export function w16(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 8;
  b[o + 1] = v;
}

export function w32(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 24;
  b[o + 1] = v >>> 16;
  b[o + 2] = v >>> 8;
  b[o + 3] = v;
}

/** 64-bit big-endian as bigint (cookies / SPIs). */
export function u64(b: Uint8Array, o: number): bigint {
  const hi = u32(b, o);
  const lo = u32(b, o + 4);
  if (hi === 0 && lo === 0) return 0n;
  return (BigInt(hi) << 32n) | BigInt(lo);
}

export function w64(b: Uint8Array, o: number, v: bigint): void {
  w32(b, o, Number((v >> 32n) & 0xffffffffn));
  w32(b, o + 4, Number(v & 0xffffffffn));
}

/** An address of `n` bytes (4 or 16) as an unsigned bigint. */
export function readAddr(b: Uint8Array, o: number, n: number): bigint {
  if (n === 4) return BigInt(u32(b, o));
  let v = 0n;
  for (let i = 0; i < n; i += 4) v = (v << 32n) | BigInt(u32(b, o + i));
  return v;
}

export function writeAddr(b: Uint8Array, o: number, n: number, v: bigint): void {
  if (n === 4) {
    w32(b, o, Number(v & 0xffffffffn));
    return;
  }
  for (let i = n - 4; i >= 0; i -= 4) {
    w32(b, o + i, Number(v & 0xffffffffn));
    v >>= 32n;
  }
}

/** A copy (not a view) so decoded messages never alias the caller's buffer. */
export function copyBytes(b: Uint8Array, start: number, end: number): Uint8Array {
  return b.slice(start, end);
}

export function checkEncodeSpace(buf: Uint8Array, offset: number, n: number): void {
  if (!Number.isInteger(offset) || offset < 0 || offset + n > buf.length) {
    throw new RangeError(`encode: need ${n} bytes at offset ${offset}, buffer has ${buf.length}`);
  }
}

export function hex(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i++) s += (b[i]! < 16 ? '0' : '') + b[i]!.toString(16);
  return s;
}

export function fromHex(s: string): Uint8Array {
  const out = new Uint8Array(s.length >>> 1);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.substr(i * 2, 2), 16);
  return out;
}
