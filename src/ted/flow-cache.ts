// The flow cache in front of the tunnel table: 5-tuple -> tunnel slot, so a packet of a flow that
// already has a tunnel costs one hash probe after classification. Bounded: a fixed number of
// 4-way buckets in typed arrays; a full bucket evicts round-robin. Invalidation is O(1): every
// slot carries the epoch it was written in, and bumping the epoch empties the whole cache (done
// whenever a tunnel goes away, so a cached slot can never name a dead or reused tunnel).
const WAYS = 4;
// IPv4 record, 16 bytes per slot so a 4-way bucket is one 64-byte cache line:
// [src, dst, ports, tag] with tag = proto (8 bits) | hasPorts (1) | epoch (6) << 9 | value (17) << 15.
// Values (tunnel slots) from 2^17 up are not cached (those flows take the miss path); the 6-bit
// epoch wraps every 63 invalidations, when the whole table is cleared.
const R4 = 4;
const EPOCH_BITS = 6;
const MAX_EPOCH4 = (1 << EPOCH_BITS) - 1;
const KEY_MASK = (1 << (9 + EPOCH_BITS)) - 1;
/** Largest value (tunnel slot) the IPv4 cache stores. */
export const MAX_CACHED_SLOT = (1 << 17) - 1;
const W6 = 10; // src6 x4, dst6 x4, ports, proto|flags

function mix(h: number, v: number): number {
  h = Math.imul(h ^ v, 0x9e3779b1);
  return (h << 13) | (h >>> 19);
}

function finish(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return h >>> 0;
}

export class FlowCache {
  readonly slots: number;
  private readonly mask: number;
  private epoch = 1;
  private epoch4 = 1;
  private rr = 0;
  private readonly rec4: Uint32Array;
  private readonly keys6: Uint32Array;
  private readonly val6: Int32Array;
  private readonly ep6: Uint32Array;
  /** Entries written in the current epoch (an upper bound: evictions are not subtracted). */
  private writes = 0;

  /** `capacity` flows per family (rounded up to a power of two, at least 4). */
  constructor(capacity = 65536, capacity6 = Math.max(WAYS, capacity >> 4)) {
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
    this.ep6 = new Uint32Array(s6);
    this.bytes = this.rec4.byteLength + this.keys6.byteLength + this.val6.byteLength + this.ep6.byteLength;
  }

  private readonly mask6: number;
  /** Memory held, fixed at construction. */
  readonly bytes: number;

  /** Forgets every flow. */
  invalidate(): void {
    this.writes = 0;
    if (++this.epoch4 > MAX_EPOCH4) {
      this.epoch4 = 1;
      this.rec4.fill(0);
    }
    if (++this.epoch > 0xfffffff0) {
      this.epoch = 1;
      this.ep6.fill(0);
    }
  }

  get size(): number {
    return Math.min(this.writes, this.slots);
  }

  /** Tunnel slot for an IPv4 flow, or -1. `pf` = protocol | flags << 8 (only the HAS_PORTS bit counts). */
  get4(src: number, dst: number, ports: number, pf: number): number {
    const key = (pf & 0x1ff) | (this.epoch4 << 9);
    const r = this.rec4;
    let o = (finish(mix(mix(mix(mix(0x2545f491, src), dst), ports), pf & 0x1ff)) & this.mask) * (WAYS * R4);
    for (const end = o + WAYS * R4; o < end; o += R4) {
      const tag = r[o + 3]!;
      if ((tag & KEY_MASK) === key && r[o] === src && r[o + 1] === dst && r[o + 2] === ports) return tag >>> 15;
    }
    return -1;
  }

  set4(src: number, dst: number, ports: number, pf: number, slot: number): void {
    if (slot > MAX_CACHED_SLOT || slot < 0) return;
    const r = this.rec4;
    const b = (finish(mix(mix(mix(mix(0x2545f491, src), dst), ports), pf & 0x1ff)) & this.mask) * (WAYS * R4);
    const e = this.epoch4;
    let o = -1;
    for (let x = b; x < b + WAYS * R4; x += R4)
      if (((r[x + 3]! >>> 9) & MAX_EPOCH4) !== e) {
        o = x;
        break;
      }
    if (o < 0) {
      this.rr = (this.rr + 1) & (WAYS - 1);
      o = b + this.rr * R4;
    }
    r[o] = src;
    r[o + 1] = dst;
    r[o + 2] = ports;
    r[o + 3] = ((pf & 0x1ff) | (e << 9) | (slot << 15)) >>> 0;
    this.writes++;
  }

  /** IPv6: `a6`/`b6` hold the addresses as 4 words each at `at` (the TupleBatch src6/dst6 layout). */
  get6(a6: Uint32Array, b6: Uint32Array, at: number, ports: number, pf: number): number {
    const b = (this.hash6(a6, b6, at, ports, pf) & this.mask6) * WAYS;
    const e = this.epoch;
    const k = this.keys6;
    for (let s = b; s < b + WAYS; s++) {
      if (this.ep6[s] !== e) continue;
      const o = s * W6;
      if (k[o + 8] !== ports || k[o + 9] !== pf) continue;
      let same = true;
      for (let j = 0; j < 4 && same; j++) same = k[o + j] === a6[at + j] && k[o + 4 + j] === b6[at + j];
      if (same) return this.val6[s]!;
    }
    return -1;
  }

  set6(a6: Uint32Array, b6: Uint32Array, at: number, ports: number, pf: number, slot: number): void {
    const b = (this.hash6(a6, b6, at, ports, pf) & this.mask6) * WAYS;
    const s = this.victim(this.ep6, b);
    const o = s * W6;
    const k = this.keys6;
    for (let j = 0; j < 4; j++) {
      k[o + j] = a6[at + j]!;
      k[o + 4 + j] = b6[at + j]!;
    }
    k[o + 8] = ports;
    k[o + 9] = pf;
    this.val6[s] = slot;
    this.ep6[s] = this.epoch;
    this.writes++;
  }

  private hash6(a6: Uint32Array, b6: Uint32Array, at: number, ports: number, pf: number): number {
    let h = 0x6a09e667;
    for (let j = 0; j < 4; j++) h = mix(mix(h, a6[at + j]!), b6[at + j]!);
    return finish(mix(mix(h, ports), pf));
  }

  private victim(ep: Uint32Array, b: number): number {
    for (let s = b; s < b + WAYS; s++) if (ep[s] !== this.epoch) return s;
    this.rr = (this.rr + 1) & (WAYS - 1);
    return b + this.rr;
  }
}
