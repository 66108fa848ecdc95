// Negative results of the miss path, per (ACL entry, destination): "a probe is pending" or "held
// down until T". A packet of a storm towards destinations being probed or held down is then
// dropped after one lookup in typed arrays, without building a tuple or a key string. Only a
// cache: a result that is not here (evicted, never stored) is found again by the initiator, and
// the initiator removes a result when the probe ends; a hold-down result ends at its time.
import { finish, mix } from './hash32.js';

const WAYS = 2;
const W = 6; // entry | family bit, four destination words, kind

export const NEG_NONE = 0;
export const NEG_PROBING = 1;
export const NEG_HELD = 2;
export type NegativeKind = typeof NEG_NONE | typeof NEG_PROBING | typeof NEG_HELD;

const V6 = 0x80000000;

export class NegativeCache {
  private readonly keys: Uint32Array;
  private readonly until: Float64Array;
  private readonly mask: number;
  private rr = 0;
  private readonly w = new Uint32Array(4);

  /** About `capacity` results (rounded up to a power of two). */
  constructor(capacity = 16384) {
    let n = WAYS;
    while (n < capacity) n *= 2;
    this.mask = n / WAYS - 1;
    this.keys = new Uint32Array(n * W);
    this.until = new Float64Array(n);
  }

  get bytes(): number {
    return this.keys.byteLength + this.until.byteLength;
  }

  private bucket(e: number, d0: number, d1: number, d2: number, d3: number): number {
    return (finish(mix(mix(mix(mix(mix(0x3c6ef372, e), d0), d1), d2), d3)) & this.mask) * WAYS;
  }

  private find(e: number, d0: number, d1: number, d2: number, d3: number): number {
    const k = this.keys;
    const b = this.bucket(e, d0, d1, d2, d3);
    for (let s = b; s < b + WAYS; s++) {
      const o = s * W;
      if (k[o + 5] !== 0 && k[o] === e && k[o + 1] === d0 && k[o + 2] === d1 && k[o + 3] === d2 && k[o + 4] === d3) return s;
    }
    return -1;
  }

  private kindAt(s: number, now: number): NegativeKind {
    if (s < 0) return NEG_NONE;
    const kind = this.keys[s * W + 5] as NegativeKind;
    return kind === NEG_HELD && this.until[s]! <= now ? NEG_NONE : kind;
  }

  /** The result for an IPv4 destination (a 32-bit number). */
  get4(entry: number, dst: number, now: number): NegativeKind {
    return this.kindAt(this.find(entry, dst >>> 0, 0, 0, 0), now);
  }

  /** The result for an IPv6 destination held as four words at `at` (the TupleBatch dst6 layout). */
  get6(entry: number, dst6: Uint32Array, at: number, now: number): NegativeKind {
    return this.kindAt(this.find((entry | V6) >>> 0, dst6[at]!, dst6[at + 1]!, dst6[at + 2]!, dst6[at + 3]!), now);
  }

  private words(entry: number, family: 4 | 6, dst: bigint): number {
    const w = this.w;
    if (family === 4) {
      w[0] = Number(dst & 0xffffffffn);
      w[1] = w[2] = w[3] = 0;
      return entry >>> 0;
    }
    w[0] = Number((dst >> 96n) & 0xffffffffn);
    w[1] = Number((dst >> 64n) & 0xffffffffn);
    w[2] = Number((dst >> 32n) & 0xffffffffn);
    w[3] = Number(dst & 0xffffffffn);
    return (entry | V6) >>> 0;
  }

  /** Records a result (replacing any for the same key); `until` matters for NEG_HELD. */
  set(entry: number, family: 4 | 6, dst: bigint, kind: typeof NEG_PROBING | typeof NEG_HELD, until = Infinity): void {
    const e = this.words(entry, family, dst);
    const w = this.w;
    let s = this.find(e, w[0]!, w[1]!, w[2]!, w[3]!);
    if (s < 0) {
      const b = this.bucket(e, w[0]!, w[1]!, w[2]!, w[3]!);
      s = this.keys[b * W + 5] === 0 ? b : this.keys[(b + 1) * W + 5] === 0 ? b + 1 : b + (this.rr = (this.rr + 1) & (WAYS - 1));
    }
    const o = s * W;
    const k = this.keys;
    k[o] = e;
    k[o + 1] = w[0]!;
    k[o + 2] = w[1]!;
    k[o + 3] = w[2]!;
    k[o + 4] = w[3]!;
    k[o + 5] = kind;
    this.until[s] = until;
  }

  delete(entry: number, family: 4 | 6, dst: bigint): void {
    const e = this.words(entry, family, dst);
    const w = this.w;
    const s = this.find(e, w[0]!, w[1]!, w[2]!, w[3]!);
    if (s >= 0) this.keys[s * W + 5] = NEG_NONE;
  }

  clear(): void {
    this.keys.fill(0);
  }
}
