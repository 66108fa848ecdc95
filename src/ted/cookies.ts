// Cookies. The initiator's are random; the responder's is computed, not stored: a keyed hash of a
// local secret, the initiator cookie and the initiator's address, so answering a probe leaves no
// state behind (a flood cannot exhaust the responder) and the same probe always gets the same
// responder cookie.
import { createHmac, randomFillSync } from 'node:crypto';
import type { TedIdentity } from '../ike/ted-types.js';

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

/** HMAC-SHA-256(secret, icookie || family || initiator address), first 8 bytes, never zero. */
export function responderCookie(secret: Uint8Array, icookie: bigint, initiator: TedIdentity): bigint {
  const n = initiator.family === 4 ? 4 : 16;
  const msg = Buffer.allocUnsafe(9 + n);
  msg.writeBigUInt64BE(icookie & 0xffffffffffffffffn, 0);
  msg[8] = initiator.family;
  let a = initiator.address;
  for (let i = 8 + n; i > 8; i--) {
    msg[i] = Number(a & 0xffn);
    a >>= 8n;
  }
  const mac = createHmac('sha256', secret).update(msg).digest();
  const v = mac.readBigUInt64BE(0);
  return v === 0n ? 1n : v;
}
