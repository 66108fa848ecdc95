// The engine's wire codec over src/ike/ted.ts (the ISAKMP discovery messages, docs/wire-format.md).
// Decoding is structural first; the TED rules (verifyProbe / verifyResponse) run only when the
// header checks the engine counts by name (message ID, cookies) pass, so those get their own
// counters instead of a generic "malformed".
import { decodeProbe, encodeResponse, probeToBytes, responseToBytes, verifyProbe, verifyResponse } from '../ike/ted.js';
import { TED_EXCHANGE_PROBE, TED_EXCHANGE_RESPONSE } from '../ike/ted-types.js';
import type { DecodedTed, TedWire } from './wire.js';

export const ikeWire: TedWire = {
  encodeProbe: probeToBytes,
  encodeResponse: responseToBytes,
  encodeResponseInto: (r, buf) => encodeResponse(r, buf, 0),
  decode(bytes: Uint8Array): DecodedTed {
    const m = decodeProbe(bytes);
    const h = m.header;
    const ok = h.msgid === 0 && h.icookie !== 0n;
    const probe = ok && h.exchange === TED_EXCHANGE_PROBE && h.rcookie === 0n ? verifyProbe(m) : undefined;
    const response = ok && h.exchange === TED_EXCHANGE_RESPONSE && h.rcookie !== 0n ? verifyResponse(m) : undefined;
    return { exchange: h.exchange, messageId: h.msgid, icookie: h.icookie, rcookie: h.rcookie, probe, response };
  },
};

export function defaultWire(): TedWire {
  return ikeWire;
}
