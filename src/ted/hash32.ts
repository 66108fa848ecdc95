// 32-bit mixing for the engine's hashed tables (flow cache, negative cache, answer budgets):
// cheap, well-spread, not cryptographic (tables that attackers fill are keyed with a random seed).

/** Folds one 32-bit word into a running hash. */
export function mix(h: number, v: number): number {
  h = Math.imul(h ^ v, 0x9e3779b1);
  return (h << 13) | (h >>> 19);
}

/** Final avalanche of a running hash (unsigned). */
export function finish(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return h >>> 0;
}

/** MurmurHash3's full 32-bit finalizer: every input bit affects every output bit. */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
