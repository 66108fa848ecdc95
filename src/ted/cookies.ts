// Cookies. The initiator's are random; the responder's is computed, not stored: a keyed hash of a
// local secret, the initiator cookie and the initiator's address, so answering a probe leaves no
// state behind (a flood cannot exhaust the responder) and the same probe always gets the same
// responder cookie.
import { randomFillSync } from 'node:crypto';
import type { TedIdentity } from '../ike/ted-types.js';
import { SipHash } from './siphash.js';

const POOL = 4096;

/** Random non-zero 64-bit values, drawn from a pooled CSPRNG buffer. */
export class CookieSource {
  private pool = new Uint8Array(POOL);
  private view = new DataView(this.pool.buffer);
  private at = POOL;

  constructor(private readonly fill: (buf: Uint8Array) => void = (b) => void randomFillSync(b)) {}

  next(): bigint {
    for (;;) {
      if (this.at + 8 > POOL) {
        this.fill(this.pool);
        this.at = 0;
      }
      const v = this.view.getBigUint64(this.at);
      this.at += 8;
      if (v !== 0n) return v;
    }
  }
}

export function randomSecret(): Uint8Array {
  const s = new Uint8Array(32);
  randomFillSync(s);
  return s;
}

/**
 * The responder cookie: SipHash-2-4 keyed with the first 16 bytes of the secret over
 * icookie (8 bytes, big-endian) || family (1 byte) || initiator address (4 or 16 bytes); never zero.
 */
export class ResponderCookies {
  private readonly sip: SipHash;
  private readonly msg = new Uint8Array(25);

  constructor(secret: Uint8Array) {
    this.sip = new SipHash(secret);
  }

  cookie(icookie: bigint, initiator: TedIdentity): bigint {
    const c = icookie & 0xffffffffffffffffn;
    const hi = Number(c >> 32n);
    const lo = Number(c & 0xffffffffn);
    const m = this.msg;
    m[0] = hi >>> 24; m[1] = hi >>> 16; m[2] = hi >>> 8; m[3] = hi;
    m[4] = lo >>> 24; m[5] = lo >>> 16; m[6] = lo >>> 8; m[7] = lo;
    return this.finish(initiator);
  }

  /** The same, with the initiator cookie read from its 8 wire bytes at `at` (no BigInt arithmetic). */
  cookieFromWire(bytes: Uint8Array, at: number, initiator: TedIdentity): bigint {
    this.writeFromWire(bytes, at, initiator, this.out, 0);
    return this.outView.getBigUint64(0);
  }

  /** Computes the cookie for the initiator cookie at bytes[at..at+8) and writes it big-endian at out[to..to+8). */
  writeFromWire(bytes: Uint8Array, at: number, initiator: TedIdentity, out: Uint8Array, to: number): void {
    const m = this.msg;
    for (let i = 0; i < 8; i++) m[i] = bytes[at + i]!;
    this.hash(initiator);
    let { hi, lo } = this.sip;
    if (hi === 0 && lo === 0) lo = 1;
    out[to] = hi >>> 24; out[to + 1] = hi >>> 16; out[to + 2] = hi >>> 8; out[to + 3] = hi;
    out[to + 4] = lo >>> 24; out[to + 5] = lo >>> 16; out[to + 6] = lo >>> 8; out[to + 7] = lo;
  }

  private readonly out = new Uint8Array(8);
  private readonly outView = new DataView(this.out.buffer);

  private finish(initiator: TedIdentity): bigint {
    this.hash(initiator);
    const v = this.sip.value();
    return v === 0n ? 1n : v;
  }

  private hash(initiator: TedIdentity): void {
    const m = this.msg;
    let c: bigint;
    m[8] = initiator.family;
    const n = initiator.family === 4 ? 4 : 16;
    if (n === 4) {
      const a = Number(initiator.address) >>> 0;
      m[9] = a >>> 24; m[10] = a >>> 16; m[11] = a >>> 8; m[12] = a;
    } else {
      c = initiator.address;
      for (let i = 8 + n; i > 8; i--) {
        m[i] = Number(c & 0xffn);
        c >>= 8n;
      }
    }
    this.sip.hash(m, 9 + n);
  }
}

/** One-shot form of ResponderCookies (tests, tools). */
export function responderCookie(secret: Uint8Array, icookie: bigint, initiator: TedIdentity): bigint {
  return new ResponderCookies(secret).cookie(icookie, initiator);
}
