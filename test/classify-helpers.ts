// Shared by the classify tests: the non-SIMD WebAssembly build loaded explicitly (the process-wide
// loader picks the SIMD one), and random policy/tuple generators.
import { join } from 'node:path';
import { instantiateWasm, WASM_BUILD_DIR, type TedWasm } from '../src/wasm/load.js';

let noSimd: TedWasm | undefined;

export function loadNoSimd(): TedWasm {
  noSimd ??= instantiateWasm(join(WASM_BUILD_DIR, 'ted.wasm'), false);
  return noSimd;
}

import fc from 'fast-check';
import type { Entry, Family, PortSet, Tuple } from '../src/selector/types.js';
import { FULL_PORTS } from '../src/selector/types.js';
import { portSet } from '../src/selector/algebra.js';

const word32 = fc.integer({ min: 0, max: 0xffffffff }).map((v) => BigInt(v));

/** Address words drawn from a small pool so that random tuples actually hit random entries. */
function addrValue(family: Family, pool: bigint[]): fc.Arbitrary<bigint> {
  const bits = family === 4 ? 32 : 128;
  const any = family === 4 ? word32 : fc.tuple(word32, word32, word32, word32).map(([a, b, c, d]) => (a << 96n) | (b << 64n) | (c << 32n) | d);
  return fc.oneof({ arbitrary: fc.constantFrom(...pool), weight: 3 }, { arbitrary: any, weight: 1 }).map((v) => v & ((1n << BigInt(bits)) - 1n));
}

function careMask(family: Family): fc.Arbitrary<bigint> {
  const bits = family === 4 ? 32 : 128;
  const all = (1n << BigInt(bits)) - 1n;
  return fc.oneof(
    // A prefix.
    fc.integer({ min: 0, max: bits }).map((len) => (len === 0 ? 0n : (all << BigInt(bits - len)) & all)),
    // A non-contiguous wildcard: random bits, or a prefix with holes.
    (family === 4 ? word32 : fc.tuple(word32, word32, word32, word32).map(([a, b, c, d]) => (a << 96n) | (b << 64n) | (c << 32n) | d)),
    fc.tuple(fc.integer({ min: 1, max: bits }), fc.integer({ min: 0, max: bits - 1 })).map(([len, hole]) => ((all << BigInt(bits - len)) & all & ~(1n << BigInt(hole)))),
  );
}

const PORT_EDGES = [0, 1, 21, 22, 23, 80, 443, 500, 1023, 1024, 4500, 65534, 65535];
const port = fc.oneof(fc.constantFrom(...PORT_EDGES), fc.integer({ min: 0, max: 65535 }));

export const portSetArb: fc.Arbitrary<PortSet> = fc.oneof(
  { arbitrary: fc.constant(FULL_PORTS), weight: 4 },
  { arbitrary: port.map((p) => portSet([{ lo: p, hi: p }])), weight: 2 }, // eq
  { arbitrary: port.map((p) => portSet([{ lo: 0, hi: p - 1 }, { lo: p + 1, hi: 65535 }])), weight: 1 }, // neq
  { arbitrary: fc.tuple(port, port).map(([a, b]) => portSet([{ lo: Math.min(a, b), hi: Math.max(a, b) }])), weight: 2 }, // range, lt, gt
  { arbitrary: fc.array(fc.tuple(port, port), { minLength: 1, maxLength: 6 }).map((rs) => portSet(rs.map(([a, b]) => ({ lo: Math.min(a, b), hi: Math.max(a, b) })))), weight: 1 },
).filter((s) => s.length > 0);

const PROTOS = [0, 0, 1, 6, 17, 50];

export interface World {
  family: Family;
  pool: bigint[];
}

export const worldArb: fc.Arbitrary<World> = fc
  .constantFrom<Family>(4, 6, 4)
  .chain((family) => fc.array(family === 4 ? word32 : fc.tuple(word32, word32, word32, word32).map(([a, b, c, d]) => (a << 96n) | (b << 64n) | (c << 32n) | d), { minLength: 1, maxLength: 6 }).map((pool) => ({ family, pool })));

export function entryArb(w: World): fc.Arbitrary<Omit<Entry, 'ordinal'>> {
  return fc.record({
    family: fc.constant(w.family),
    protocol: fc.constantFrom(...PROTOS),
    src: fc.tuple(addrValue(w.family, w.pool), careMask(w.family)).map(([v, c]) => ({ value: v & c, care: c })),
    dst: fc.tuple(addrValue(w.family, w.pool), careMask(w.family)).map(([v, c]) => ({ value: v & c, care: c })),
    sport: portSetArb,
    dport: portSetArb,
    action: fc.constantFrom('permit' as const, 'deny' as const),
  });
}

export function tupleArb(w: World): fc.Arbitrary<Tuple> {
  return fc.record({
    family: fc.constant(w.family),
    protocol: fc.constantFrom(...PROTOS, 2, 255),
    src: addrValue(w.family, w.pool),
    dst: addrValue(w.family, w.pool),
    sport: port,
    dport: port,
    hasPorts: fc.boolean(),
  });
}

/** Numbers entries 1..n in order; optionally repeats some (duplicates and shadowed entries). */
export function numbered(raw: readonly Omit<Entry, 'ordinal'>[], dupEvery = 0): Entry[] {
  const out: Entry[] = [];
  for (const e of raw) {
    out.push({ ...e, ordinal: out.length + 1 });
    if (dupEvery > 0 && out.length % dupEvery === 0) out.push({ ...e, ordinal: out.length + 1 });
  }
  return out;
}

/**
 * Moves tuple `t` inside entry `e` (address bits under the care mask, a port of each set, the
 * protocol), keeping t's other bits as entropy; `hasPorts` is kept, so some such tuples still miss.
 */
export function insideEntry(t: Tuple, e: Entry): Tuple {
  const pick = (set: PortSet, r: number) => {
    const range = set[r % set.length]!;
    return range.lo + (r % (range.hi - range.lo + 1));
  };
  return {
    ...t,
    family: e.family,
    protocol: e.protocol === 0 ? t.protocol : e.protocol,
    src: (e.src.value & e.src.care) | (t.src & ~e.src.care & (e.family === 4 ? 0xffffffffn : (1n << 128n) - 1n)),
    dst: (e.dst.value & e.dst.care) | (t.dst & ~e.dst.care & (e.family === 4 ? 0xffffffffn : (1n << 128n) - 1n)),
    sport: pick(e.sport, t.sport),
    dport: pick(e.dport, t.dport),
  };
}
