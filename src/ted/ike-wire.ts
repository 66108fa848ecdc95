// The engine's wire codec over src/ike/ted.ts (the ISAKMP discovery messages, docs/wire-format.md).
// The header fields the engine counts by name (exchange, message ID, cookies) are read first;
// the full decode + TED rules (readProbe / readResponse, one pass for the canonical layout) run
// only when those pass, so a bad message ID or cookie gets its own counter rather than a generic
// "malformed". Messages of other exchanges are not decoded further (the engine ignores them).
import { probeToBytes, readProbe, readResponse, responseToBytes } from '../ike/ted.js';
import { TED_EXCHANGE_PROBE, TED_EXCHANGE_RESPONSE } from '../ike/ted-types.js';
import { truncated } from '../ike/wire.js';
import type { DecodedTed, TedWire } from './wire.js';

const HEADER = 28;

function u64(b: Uint8Array, o: number): bigint {
  const hi = ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
  const lo = ((b[o + 4]! << 24) | (b[o + 5]! << 16) | (b[o + 6]! << 8) | b[o + 7]!) >>> 0;
  return hi === 0 && lo === 0 ? 0n : (BigInt(hi) << 32n) | BigInt(lo);
}

export const ikeWire: TedWire = {
  encodeProbe: probeToBytes,
  encodeResponse: responseToBytes,
  decode(bytes: Uint8Array): DecodedTed {
    if (bytes.length < HEADER) truncated(`ISAKMP header: need ${HEADER} bytes, ${bytes.length} left`, 0);
    const icookie = u64(bytes, 0);
    const rcookie = u64(bytes, 8);
    const exchange = bytes[18]!;
    const messageId = ((bytes[20]! << 24) | (bytes[21]! << 16) | (bytes[22]! << 8) | bytes[23]!) >>> 0;
    const ok = messageId === 0 && icookie !== 0n;
    const probe = ok && exchange === TED_EXCHANGE_PROBE && rcookie === 0n ? readProbe(bytes) : undefined;
    const response = ok && exchange === TED_EXCHANGE_RESPONSE && rcookie !== 0n ? readResponse(bytes) : undefined;
    return { exchange, messageId, icookie, rcookie, probe, response };
  },
};

export function defaultWire(): TedWire {
  return ikeWire;
}

