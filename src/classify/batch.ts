// The batch of 5-tuples every data-plane stage shares: the packet decoder writes it, the
// classifiers read it and write `results`. Struct-of-arrays in one contiguous region, so that it
// can live in WebAssembly linear memory and be handed to an export as (ptr, capacity, count).
//
// Layout for capacity C (every column starts 16-byte aligned, in this order):
//   src    u32[C]    IPv4 source address (numeric value, host order)
//   dst    u32[C]    IPv4 destination address
//   src6   u32[4C]   IPv6 source: 4 words per tuple, word 0 = most significant 32 bits
//   dst6   u32[4C]   IPv6 destination
//   sport  u16[C]
//   dport  u16[C]
//   proto  u8[C]
//   family u8[C]     4, 6, or 0 = no tuple (an undecodable frame; it classifies as 0)
//   flags  u8[C]     bit 0 = HAS_PORTS (TCP/UDP/SCTP and not a non-first fragment)
//   results i32[C]   classifier output: 1-based ordinal of the first match, 0 = none
// assembly/batch.ts mirrors these offsets; change both together.
import type { Family, Tuple } from '../selector/types.js';

export const FLAG_HAS_PORTS = 1;

const align16 = (n: number) => (n + 15) & ~15;

export interface BatchLayout {
  readonly capacity: number;
  readonly src: number;
  readonly dst: number;
  readonly src6: number;
  readonly dst6: number;
  readonly sport: number;
  readonly dport: number;
  readonly proto: number;
  readonly family: number;
  readonly flags: number;
  readonly results: number;
  /** Total bytes. */
  readonly bytes: number;
}

/** Byte offsets of each column relative to the start of the region. */
export function batchLayout(capacity: number): BatchLayout {
  let at = 0;
  const take = (bytes: number) => {
    const start = at;
    at = align16(at + bytes);
    return start;
  };
  const src = take(4 * capacity);
  const dst = take(4 * capacity);
  const src6 = take(16 * capacity);
  const dst6 = take(16 * capacity);
  const sport = take(2 * capacity);
  const dport = take(2 * capacity);
  const proto = take(capacity);
  const family = take(capacity);
  const flags = take(capacity);
  const results = take(4 * capacity);
  return { capacity, src, dst, src6, dst6, sport, dport, proto, family, flags, results, bytes: at };
}

/**
 * Typed views over one batch region. `buffer` may be a WebAssembly memory's buffer at `base`;
 * call `refresh(buffer)` after the memory grows (growth detaches old views).
 */
export class TupleBatch {
  readonly layout: BatchLayout;
  readonly capacity: number;
  /** Byte offset of the region in its buffer (the pointer to pass to a WebAssembly export). */
  readonly base: number;
  /** Number of tuples currently in the batch. */
  count = 0;
  src!: Uint32Array;
  dst!: Uint32Array;
  src6!: Uint32Array;
  dst6!: Uint32Array;
  sport!: Uint16Array;
  dport!: Uint16Array;
  proto!: Uint8Array;
  family!: Uint8Array;
  flags!: Uint8Array;
  results!: Int32Array;
  buffer!: ArrayBuffer;

  constructor(capacity: number, buffer?: ArrayBuffer, base = 0) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`batch capacity must be a positive integer, got ${capacity}`);
    if (base % 16 !== 0) throw new RangeError('batch base must be 16-byte aligned');
    this.capacity = capacity;
    this.layout = batchLayout(capacity);
    this.base = base;
    this.refresh(buffer ?? new ArrayBuffer(this.layout.bytes));
  }

  /** Re-creates the views (after a WebAssembly memory grew, or to move to another buffer). */
  refresh(buffer: ArrayBuffer): void {
    const L = this.layout;
    const C = this.capacity;
    const b = this.base;
    this.buffer = buffer;
    this.src = new Uint32Array(buffer, b + L.src, C);
    this.dst = new Uint32Array(buffer, b + L.dst, C);
    this.src6 = new Uint32Array(buffer, b + L.src6, 4 * C);
    this.dst6 = new Uint32Array(buffer, b + L.dst6, 4 * C);
    this.sport = new Uint16Array(buffer, b + L.sport, C);
    this.dport = new Uint16Array(buffer, b + L.dport, C);
    this.proto = new Uint8Array(buffer, b + L.proto, C);
    this.family = new Uint8Array(buffer, b + L.family, C);
    this.flags = new Uint8Array(buffer, b + L.flags, C);
    this.results = new Int32Array(buffer, b + L.results, C);
  }

  /** Writes tuple `t` at index i (does not change `count`). */
  set(i: number, t: Tuple): void {
    this.family[i] = t.family;
    this.proto[i] = t.protocol;
    this.flags[i] = t.hasPorts ? FLAG_HAS_PORTS : 0;
    this.sport[i] = t.sport;
    this.dport[i] = t.dport;
    if (t.family === 4) {
      this.src[i] = Number(t.src);
      this.dst[i] = Number(t.dst);
    } else {
      writeWords(this.src6, i * 4, t.src);
      writeWords(this.dst6, i * 4, t.dst);
    }
  }

  /** Marks index i as "no tuple" (an undecodable frame). */
  setNone(i: number): void {
    this.family[i] = 0;
    this.proto[i] = 0;
    this.flags[i] = 0;
  }

  /** Appends a tuple; returns its index. */
  push(t: Tuple): number {
    if (this.count >= this.capacity) throw new RangeError('batch is full');
    const i = this.count++;
    this.set(i, t);
    return i;
  }

  /** The tuple at index i, or undefined for "no tuple". */
  get(i: number): Tuple | undefined {
    const family = this.family[i] as Family | 0;
    if (family === 0) return undefined;
    const hasPorts = (this.flags[i]! & FLAG_HAS_PORTS) !== 0;
    const src = family === 4 ? BigInt(this.src[i]!) : readWords(this.src6, i * 4);
    const dst = family === 4 ? BigInt(this.dst[i]!) : readWords(this.dst6, i * 4);
    return { family, protocol: this.proto[i]!, src, dst, sport: this.sport[i]!, dport: this.dport[i]!, hasPorts };
  }
}

/**
 * Copies tuples [at, at + n) of `from` to rows [0, n) of `to` and sets `to.count` to n. The IPv6
 * address columns (two thirds of a tuple's bytes) only when one of the tuples is IPv6: no row of
 * another family reads them.
 */
export function copyTuples(from: TupleBatch, at: number, to: TupleBatch, n: number): void {
  to.src.set(from.src.subarray(at, at + n));
  to.dst.set(from.dst.subarray(at, at + n));
  if (from.family.subarray(at, at + n).includes(6)) {
    to.src6.set(from.src6.subarray(at * 4, (at + n) * 4));
    to.dst6.set(from.dst6.subarray(at * 4, (at + n) * 4));
  }
  to.sport.set(from.sport.subarray(at, at + n));
  to.dport.set(from.dport.subarray(at, at + n));
  to.proto.set(from.proto.subarray(at, at + n));
  to.family.set(from.family.subarray(at, at + n));
  to.flags.set(from.flags.subarray(at, at + n));
  to.count = n;
}

function writeWords(a: Uint32Array, at: number, v: bigint): void {
  a[at] = Number((v >> 96n) & 0xffffffffn);
  a[at + 1] = Number((v >> 64n) & 0xffffffffn);
  a[at + 2] = Number((v >> 32n) & 0xffffffffn);
  a[at + 3] = Number(v & 0xffffffffn);
}

function readWords(a: Uint32Array, at: number): bigint {
  return (BigInt(a[at]!) << 96n) | (BigInt(a[at + 1]!) << 64n) | (BigInt(a[at + 2]!) << 32n) | BigInt(a[at + 3]!);
}
