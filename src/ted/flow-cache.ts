// The flow cache in front of the tunnel table: 5-tuple -> tunnel slot, so a packet of a flow that
// already has a tunnel costs one hash probe after classification. Bounded: a fixed number of
// 4-way buckets in typed arrays; a full bucket evicts round-robin. Invalidation is per tunnel slot
// and O(1): every record carries the generation its slot had when it was written, and a tunnel
// going away bumps its slot's generation, so its flows (and only its flows) stop matching; a
// reused slot never inherits them.
import { finish, mix } from './hash32.js';

const WAYS = 4;
// IPv4 record, 16 bytes per slot so a 4-way bucket is one 64-byte cache line:
// [src, dst, ports, tag] with tag = proto (8 bits) | hasPorts (1) | generation (6) << 9 | value (17) << 15.
// Values (tunnel slots) from 2^17 up are not cached (those flows take the miss path). The 6-bit
// generation skips 0 (an empty record never matches); when one slot's wraps, the IPv4 records are
// cleared (once per 63 removals of that slot).
const R4 = 4;
const GEN_BITS = 6;
const GEN_MASK = (1 << GEN_BITS) - 1;
/** Largest value (tunnel slot) the IPv4 cache stores. */
export const MAX_CACHED_SLOT = (1 << 17) - 1;
const W6 = 10; // src6 x4, dst6 x4, ports, proto|flags

export class FlowCache {
  readonly slots: number;
  private readonly mask: number;
  private rr = 0;
  private readonly rec4: Uint32Array;
  private readonly keys6: Uint32Array;
  private readonly val6: Int32Array;
  /** Generation of the value's slot when the IPv6 record was written (0: empty). */
  private readonly gen6: Uint32Array;
  /** Current generation per value (tunnel slot), from 1. */
  private readonly gen: Uint32Array;
  private readonly mask6: number;
  /** Entries written since the last full clear (an upper bound: evictions and invalidations are not subtracted). */
  private writes = 0;
  /** Memory held, fixed at construction. */
  readonly bytes: number;

  /**
   * `capacity` IPv4 flows, `capacity6` IPv6 flows (each rounded up to a power of two, at least 4),
   * for values (tunnel slots) 0 .. values - 1.
   */
  constructor(capacity = 65536, capacity6 = Math.max(WAYS, capacity >> 4), values = MAX_CACHED_SLOT + 1) {
    const pow2 = (n: number) => {
      let c = WAYS;
      while (c < n) c *= 2;
      return c;
    };
    this.slots = pow2(capacity);
    this.mask = this.slots / WAYS - 1;
    this.rec4 = new Uint32Array(this.slots * R4);
    const s6 = pow2(capacity6);
    this.mask6 = s6 / WAYS - 1;
    this.keys6 = new Uint32Array(s6 * W6);
    this.val6 = new Int32Array(s6);
    this.gen6 = new Uint32Array(s6);
    this.gen = new Uint32Array(Math.max(1, values)).fill(1);
    this.bytes = this.rec4.byteLength + this.keys6.byteLength + this.val6.byteLength + this.gen6.byteLength + this.gen.byteLength;
  }

  /** Forgets the flows of one value (a tunnel slot that went away): O(1). */
  invalidateValue(value: number): void {
    if (value < 0 || value >= this.gen.length) return;
    let g = (this.gen[value]! + 1) >>> 0;
    if ((g & GEN_MASK) === 0) {
      // The 6 bits IPv4 records keep would come round to values older records still hold.
      this.rec4.fill(0);
      this.writes = 0;
      g = (g + 1) >>> 0;
    }
    if (g === 1) this.gen6.fill(0); // 32-bit wrap (after 4 billion removals of one slot)
    this.gen[value] = g;
  }

  /** Forgets every flow (O(size)). */
  invalidate(): void {
    this.writes = 0;
    this.rec4.fill(0);
    this.gen6.fill(0);
  }

  get size(): number {
    return Math.min(this.writes, this.slots);
  }

  /** Tunnel slot for an IPv4 flow, or -1. `pf` = protocol | flags << 8 (only the HAS_PORTS bit counts). */
  get4(src: number, dst: number, ports: number, pf: number): number {
    const key = pf & 0x1ff;
    const r = this.rec4;
    let o = (finish(mix(mix(mix(mix(0x2545f491, src), dst), ports), key)) & this.mask) * (WAYS * R4);
    for (const end = o + WAYS * R4; o < end; o += R4) {
      const tag = r[o + 3]!;
      if ((tag & 0x1ff) === key && r[o] === src && r[o + 1] === dst && r[o + 2] === ports) {
        const v = tag >>> 15;
        if (((tag >>> 9) & GEN_MASK) === (this.gen[v]! & GEN_MASK)) return v;
      }
    }
    return -1;
  }

  set4(src: number, dst: number, ports: number, pf: number, slot: number): void {
    if (slot > MAX_CACHED_SLOT || slot < 0 || slot >= this.gen.length) return;
    const r = this.rec4;
    const b = (finish(mix(mix(mix(mix(0x2545f491, src), dst), ports), pf & 0x1ff)) & this.mask) * (WAYS * R4);
    let o = -1;
    for (let x = b; x < b + WAYS * R4; x += R4) {
      const tag = r[x + 3]!;
      if (((tag >>> 9) & GEN_MASK) !== (this.gen[tag >>> 15]! & GEN_MASK)) {
        o = x; // empty, or written for a tunnel that went away
        break;
      }
    }
    if (o < 0) {
      this.rr = (this.rr + 1) & (WAYS - 1);
      o = b + this.rr * R4;
    }
    r[o] = src;
    r[o + 1] = dst;
    r[o + 2] = ports;
    r[o + 3] = ((pf & 0x1ff) | ((this.gen[slot]! & GEN_MASK) << 9) | (slot << 15)) >>> 0;
    this.writes++;
  }

  /** IPv6: `a6`/`b6` hold the addresses as 4 words each at `at` (the TupleBatch src6/dst6 layout). */
  get6(a6: Uint32Array, b6: Uint32Array, at: number, ports: number, pf: number): number {
    const b = (this.hash6(a6, b6, at, ports, pf) & this.mask6) * WAYS;
    const k = this.keys6;
    for (let s = b; s < b + WAYS; s++) {
      const g = this.gen6[s]!;
      if (g === 0) continue;
      const o = s * W6;
      if (k[o + 8] !== ports || k[o + 9] !== pf) continue;
      let same = true;
      for (let j = 0; j < 4 && same; j++) same = k[o + j] === a6[at + j] && k[o + 4 + j] === b6[at + j];
      if (same) {
        const v = this.val6[s]!;
        if (g === this.gen[v]) return v;
      }
    }
    return -1;
  }

  set6(a6: Uint32Array, b6: Uint32Array, at: number, ports: number, pf: number, slot: number): void {
    if (slot < 0 || slot >= this.gen.length) return;
    const b = (this.hash6(a6, b6, at, ports, pf) & this.mask6) * WAYS;
    const s = this.victim6(b);
    const o = s * W6;
    const k = this.keys6;
    for (let j = 0; j < 4; j++) {
      k[o + j] = a6[at + j]!;
      k[o + 4 + j] = b6[at + j]!;
    }
    k[o + 8] = ports;
    k[o + 9] = pf;
    this.val6[s] = slot;
    this.gen6[s] = this.gen[slot]!;
    this.writes++;
  }

  private hash6(a6: Uint32Array, b6: Uint32Array, at: number, ports: number, pf: number): number {
    let h = 0x6a09e667;
    for (let j = 0; j < 4; j++) h = mix(mix(h, a6[at + j]!), b6[at + j]!);
    return finish(mix(mix(h, ports), pf));
  }

  private victim6(b: number): number {
    for (let s = b; s < b + WAYS; s++) if (this.gen6[s] !== this.gen[this.val6[s]!]) return s;
    this.rr = (this.rr + 1) & (WAYS - 1);
    return b + this.rr;
  }
}
