// The IKE area's public surface (re-exported by src/index.ts).
export * from './constants.js';
export { header as isakmpHeader, type IsakmpHeader } from './header.js';
export { readGeneric, writeGeneric, type PayloadCodec, type GenericHeader } from './payload.js';
export * from './payloads-v1.js';
export * from './payloads-v2.js';
export * from './ted-payloads.js';
export * from './message.js';
export * from './ted.js';
export * from './ted-types.js';
export { exchangeName, payloadName } from './names.js';
export { LIMITS as IKE_LIMITS, type DecodeContext } from './wire.js';
export * from './fragments.js';
export * from './tcp-framing.js';
