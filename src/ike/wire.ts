// Bounds-checked byte helpers and the one way an IKE decoder fails. Every decoder in src/ike
// reads through these so that, whatever the bytes, only a DecodeError with an IKE_* code escapes.
import { DecodeError } from '../errors.js';
import { MAX_PORT_RANGES } from '../selector/types.js';

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
  maxPortRanges: MAX_PORT_RANGES,
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

/**
 * Inside a payload whose length already checked out against the message, too few bytes for the
 * fixed fields is a length that lies (invalid), not input that ended early.
 */
export function fits(offset: number, n: number, end: number, what: string, ctx?: DecodeContext): void {
  if (offset + n > end) invalid('IKE_BAD_PAYLOAD_LENGTH', `${what}: needs ${n} bytes, its payload has ${Math.max(0, end - offset)} left`, offset, ctx);
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

// BigInt arithmetic allocates, so 64-bit halves go through DataView's native BigInt accessors.
// One DataView is kept for the most recently used Uint8Array (encoders usually reuse theirs);
// identity of the array is checked, not `.buffer` (that getter costs as much as the write).
// A detached array has length 0, so bounds checks stop every access before the view is used.
let dvArray: Uint8Array | undefined;
let dvView: DataView | undefined;
function view(b: Uint8Array): DataView {
  if (b !== dvArray) {
    dvArray = b;
    dvView = new DataView(b.buffer, b.byteOffset, b.byteLength);
  }
  return dvView!;
}

// Reading goes through 8 scratch bytes instead: decoders see a new array (a view of each packet)
// almost every call, and a DataView per message cost more than copying 8 bytes.
const scratch8 = new Uint8Array(8);
const scratchView = new DataView(scratch8.buffer);

/** 64-bit big-endian as bigint (cookies / SPIs). */
export function u64(b: Uint8Array, o: number): bigint {
  if (u32(b, o) === 0 && u32(b, o + 4) === 0) return 0n;
  for (let i = 0; i < 8; i++) scratch8[i] = b[o + i]!;
  return scratchView.getBigUint64(0);
}

/** Writes the low 64 bits of `v`. */
export function w64(b: Uint8Array, o: number, v: bigint): void {
  view(b).setBigUint64(o, v);
}

// IPv6 care-masks are nearly always prefixes (and many values are ::): those come from a table
// instead of four BigInt operations each.
const PREFIX128: bigint[] = [];
for (let len = 0; len <= 128; len++) PREFIX128.push(len === 0 ? 0n : ((1n << BigInt(len)) - 1n) << BigInt(128 - len));
const PARTIAL_BYTE: Record<number, number> = { 0: 0, 0x80: 1, 0xc0: 2, 0xe0: 3, 0xf0: 4, 0xf8: 5, 0xfc: 6, 0xfe: 7 };

/** Prefix length when the 16 bytes at `o` are a prefix mask (:: is 0), else -1. */
function prefixLength16(b: Uint8Array, o: number): number {
  let i = 0;
  while (i < 16 && b[o + i] === 0xff) i++;
  if (i === 16) return 128;
  const part = PARTIAL_BYTE[b[o + i]!];
  if (part === undefined) return -1;
  for (let k = i + 1; k < 16; k++) if (b[o + k] !== 0) return -1;
  return i * 8 + part;
}

/** An address of `n` bytes (4 or 16) as an unsigned bigint. */
export function readAddr(b: Uint8Array, o: number, n: number): bigint {
  if (n === 4) return BigInt(u32(b, o));
  const pl = prefixLength16(b, o);
  if (pl >= 0) return PREFIX128[pl]!;
  const d = view(b);
  const hi = d.getBigUint64(o);
  const lo = d.getBigUint64(o + 8);
  return hi === 0n ? lo : (hi << 64n) | lo;
}

/** Writes the low 32 or 128 bits of `v` (callers check the range). */
export function writeAddr(b: Uint8Array, o: number, n: number, v: bigint): void {
  if (n === 4) {
    w32(b, o, Number(BigInt.asUintN(32, v)));
    return;
  }
  const d = view(b);
  d.setBigUint64(o, v >> 64n);
  d.setBigUint64(o + 8, v);
}

// Decoded messages hold copies so they never alias the caller's buffer, unless the decode runs
// inside withViews() (a caller that drops the message before reusing the buffer, like ted decode:
// copying every nonce and ciphertext was a large share of its time).
let views = false;

// Empty fields (SPIs of IKE SA proposals, empty notify data) share one view: it has no byte to alias.
const EMPTY = new Uint8Array(0);

/** A copy of b[start, end), or a view inside withViews(). */
export function copyBytes(b: Uint8Array, start: number, end: number): Uint8Array {
  if (!views) return b.slice(start, end);
  return start < end ? b.subarray(start, end) : EMPTY;
}

/** Runs `fn` with payload bytes decoded as views into the input instead of copies. */
export function withViews<T>(fn: () => T): T {
  const before = setViews(true);
  try {
    return fn();
  } finally {
    setViews(before);
  }
}

/** Sets whether copyBytes gives views (withViews without a closure); returns the setting before, to restore. */
export function setViews(on: boolean): boolean {
  const before = views;
  views = on;
  return before;
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
