// The engine's wire codec over src/ike/ted.ts (the ISAKMP discovery messages).
import { TedError } from '../errors.js';
import type { TedWire } from './wire.js';

export function defaultWire(): TedWire {
  throw new TedError('TED_NO_CODEC', 'the ISAKMP discovery codec (src/ike/ted.ts) is not available yet; pass options.wire');
}
