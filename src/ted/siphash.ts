// SipHash-2-4 (Aumasson and Bernstein, 2012): a fast keyed pseudo-random function for short
// inputs, used for the responder's stateless cookie. 64-bit lanes as pairs of 32-bit halves so
// that no BigInt arithmetic runs per message.

/** SipHash-2-4 of msg[0..len) under a 16-byte key; returns [hi, lo] 32-bit halves of the 64-bit result. */
export class SipHash {
  private readonly k0h: number;
  private readonly k0l: number;
  private readonly k1h: number;
  private readonly k1l: number;
  // state v0..v3 as hi/lo halves
  private h0 = 0;
  private l0 = 0;
  private h1 = 0;
  private l1 = 0;
  private h2 = 0;
  private l2 = 0;
  private h3 = 0;
  private l3 = 0;
  hi = 0;
  lo = 0;

  constructor(key: Uint8Array) {
    if (key.length < 16) throw new RangeError('SipHash key must be 16 bytes');
    const le32 = (o: number) => (key[o]! | (key[o + 1]! << 8) | (key[o + 2]! << 16) | (key[o + 3]! << 24)) >>> 0;
    this.k0l = le32(0);
    this.k0h = le32(4);
    this.k1l = le32(8);
    this.k1h = le32(12);
  }

  private round(): void {
    let h0 = this.h0, l0 = this.l0, h1 = this.h1, l1 = this.l1, h2 = this.h2, l2 = this.l2, h3 = this.h3, l3 = this.l3;
    let t: number, c: number;
    // v0 += v1
    t = (l0 + l1) >>> 0; c = t < l0 ? 1 : 0; l0 = t; h0 = (h0 + h1 + c) >>> 0;
    // v1 = rotl(v1, 13)
    t = ((h1 << 13) | (l1 >>> 19)) >>> 0; l1 = ((l1 << 13) | (h1 >>> 19)) >>> 0; h1 = t;
    h1 ^= h0; l1 ^= l0;
    // v0 = rotl(v0, 32)
    t = h0; h0 = l0; l0 = t;
    // v2 += v3
    t = (l2 + l3) >>> 0; c = t < l2 ? 1 : 0; l2 = t; h2 = (h2 + h3 + c) >>> 0;
    // v3 = rotl(v3, 16)
    t = ((h3 << 16) | (l3 >>> 16)) >>> 0; l3 = ((l3 << 16) | (h3 >>> 16)) >>> 0; h3 = t;
    h3 ^= h2; l3 ^= l2;
    // v0 += v3
    t = (l0 + (l3 >>> 0)) >>> 0; c = t < l0 ? 1 : 0; l0 = t; h0 = (h0 + (h3 >>> 0) + c) >>> 0;
    // v3 = rotl(v3, 21)
    t = ((h3 << 21) | (l3 >>> 11)) >>> 0; l3 = ((l3 << 21) | (h3 >>> 11)) >>> 0; h3 = t;
    h3 ^= h0; l3 ^= l0;
    // v2 += v1
    t = (l2 + (l1 >>> 0)) >>> 0; c = t < l2 ? 1 : 0; l2 = t; h2 = (h2 + (h1 >>> 0) + c) >>> 0;
    // v1 = rotl(v1, 17)
    t = ((h1 << 17) | (l1 >>> 15)) >>> 0; l1 = ((l1 << 17) | (h1 >>> 15)) >>> 0; h1 = t;
    h1 ^= h2; l1 ^= l2;
    // v2 = rotl(v2, 32)
    t = h2; h2 = l2; l2 = t;
    this.h0 = h0 >>> 0; this.l0 = l0 >>> 0; this.h1 = h1 >>> 0; this.l1 = l1 >>> 0;
    this.h2 = h2 >>> 0; this.l2 = l2 >>> 0; this.h3 = h3 >>> 0; this.l3 = l3 >>> 0;
  }

  private compress(mh: number, ml: number): void {
    this.h3 = (this.h3 ^ mh) >>> 0;
    this.l3 = (this.l3 ^ ml) >>> 0;
    this.round();
    this.round();
    this.h0 = (this.h0 ^ mh) >>> 0;
    this.l0 = (this.l0 ^ ml) >>> 0;
  }

  /** Hashes msg[0..len); the result is in `hi`/`lo`. */
  hash(msg: Uint8Array, len: number = msg.length): void {
    // "somepseudorandomlygeneratedbytes"
    this.h0 = (this.k0h ^ 0x736f6d65) >>> 0;
    this.l0 = (this.k0l ^ 0x70736575) >>> 0;
    this.h1 = (this.k1h ^ 0x646f7261) >>> 0;
    this.l1 = (this.k1l ^ 0x6e646f6d) >>> 0;
    this.h2 = (this.k0h ^ 0x6c796765) >>> 0;
    this.l2 = (this.k0l ^ 0x6e657261) >>> 0;
    this.h3 = (this.k1h ^ 0x74656462) >>> 0;
    this.l3 = (this.k1l ^ 0x79746573) >>> 0;
    const full = len - (len % 8);
    for (let o = 0; o < full; o += 8) {
      const ml = (msg[o]! | (msg[o + 1]! << 8) | (msg[o + 2]! << 16) | (msg[o + 3]! << 24)) >>> 0;
      const mh = (msg[o + 4]! | (msg[o + 5]! << 8) | (msg[o + 6]! << 16) | (msg[o + 7]! << 24)) >>> 0;
      this.compress(mh, ml);
    }
    // last block: remaining bytes, length in the top byte
    let ml = 0;
    let mh = (len & 0xff) << 24;
    for (let i = full; i < len; i++) {
      const b = msg[i]!;
      const k = i - full;
      if (k < 4) ml |= b << (8 * k);
      else mh |= b << (8 * (k - 4));
    }
    this.compress(mh >>> 0, ml >>> 0);
    this.l2 = (this.l2 ^ 0xff) >>> 0;
    this.round();
    this.round();
    this.round();
    this.round();
    this.hi = (this.h0 ^ this.h1 ^ this.h2 ^ this.h3) >>> 0;
    this.lo = (this.l0 ^ this.l1 ^ this.l2 ^ this.l3) >>> 0;
  }

  private readonly out = new DataView(new ArrayBuffer(8));

  /** The 64-bit result as a BigInt. */
  value(): bigint {
    this.out.setUint32(0, this.hi);
    this.out.setUint32(4, this.lo);
    return this.out.getBigUint64(0);
  }
}
