// Public API of ipsec-ted. Each area adds its exports here.
export * from './errors.js';
export * from './selector/types.js';
export * from './selector/address.js';
export * from './selector/algebra.js';
export * from './selector/format.js';
export * from './policy/index.js';
export * from './classify/batch.js';
export type * from './classify/types.js';
export * from './pcap/reader.js';
export * from './packet/decode.js';
export * from './packet/encode.js';
export * from './pcap/writer.js';
export * from './pcap/pcapng-writer.js';
export * from './ike/index.js';
export * from './packet/batch-decode.js';
export * from './pcap/classify.js';
