// The `wasm` engine: lookup in the structure compiled by src/classify/tree.ts (read its header
// comment for the layout), the twin of src/classify/walk.ts. The structure and the batch both
// live in this module's memory; nothing here allocates.
import { batchDst, batchDst6, batchDport, batchFamily, batchFlags, batchProto, batchSport, batchSrc6 } from './batch';

const LEAF: u32 = 0xff;
const NONE: u32 = 0xffffffff;
const NO_PORTS: u32 = 65536;
const LIMIT: u32 = 0xffffffff;

// The current tuple's key per dimension (IPv6 needs 11).
const KEY: usize = memory.data(64, 16);

@inline function word(base: usize, off: u32): u32 {
  return load<u32>(base + (<usize>off << 2));
}

function inPorts(t: usize, at: u32, port: u32): bool {
  const n = word(t, at);
  for (let i: u32 = 0; i < n; i++) {
    if (port >= word(t, at + 1 + 2 * i) && port <= word(t, at + 2 + 2 * i)) return true;
  }
  return false;
}

function extraOk(t: usize, extra: u32, sport: u32, dport: u32): bool {
  if (!inPorts(t, extra, sport)) return false;
  return inPorts(t, extra + 1 + 2 * word(t, extra), dport);
}

/**
 * First IPv4 record (ordinal order) matching, with ordinal below limit; 0 if none. Records are in
 * groups of 4, struct-of-arrays (48 words a group, see tree.ts): [srcCare, srcValue, dstCare,
 * dstValue, pLo, pHi, sLo, sHi, dLo, dHi, ordinal, extra] x 4 lanes each.
 */
@inline function scan4(t: usize, r: u32, count: u32, src: u32, dst: u32, sport: u32, dport: u32, proto: u32, limit: u32): u32 {
  const base = t + (<usize>r << 2);
  if (ASC_FEATURE_SIMD) {
    // One packet against 4 records per step, without a branch per field: addresses as masked
    // equality, protocol and ports (all below 2^31) as signed range compares, then the lowest
    // set lane is the group's first match. Unused lanes never match.
    const ks = i32x4.splat(src);
    const kd = i32x4.splat(dst);
    const kp = i32x4.splat(proto);
    const ksp = i32x4.splat(sport);
    const kdp = i32x4.splat(dport);
    const end = base + <usize>((count + 3) >> 2) * 192;
    for (let p = base; p < end; p += 192) {
      if (load<u32>(p, 160) >= limit) return 0;
      let m = i32x4.eq(v128.and(ks, v128.load(p)), v128.load(p, 16));
      m = v128.and(m, i32x4.eq(v128.and(kd, v128.load(p, 32)), v128.load(p, 48)));
      m = v128.andnot(m, i32x4.gt_s(v128.load(p, 64), kp));
      m = v128.andnot(m, i32x4.gt_s(kp, v128.load(p, 80)));
      m = v128.andnot(m, i32x4.gt_s(v128.load(p, 96), ksp));
      m = v128.andnot(m, i32x4.gt_s(ksp, v128.load(p, 112)));
      m = v128.andnot(m, i32x4.gt_s(v128.load(p, 128), kdp));
      m = v128.andnot(m, i32x4.gt_s(kdp, v128.load(p, 144)));
      let bits = i32x4.bitmask(m);
      while (bits != 0) {
        const lane = <usize>ctz(bits) << 2;
        const ord = load<u32>(p + lane, 160);
        if (ord >= limit) return 0;
        const extra = load<u32>(p + lane, 176);
        if (extra == 0 || extraOk(t, extra, sport, dport)) return ord;
        bits &= bits - 1;
      }
    }
    return 0;
  }
  // Record by record over whole groups: the unused lanes of the last group have ordinal NONE
  // (>= any limit), so the scan stops there.
  const end = base + <usize>((count + 3) >> 2) * 192;
  for (let g = base; g < end; g += 192) {
    for (let p = g; p < g + 16; p += 4) {
      const ord = load<u32>(p, 160);
      if (ord >= limit) return 0;
      if ((src & load<u32>(p)) != load<u32>(p, 16)) continue;
      if ((dst & load<u32>(p, 32)) != load<u32>(p, 48)) continue;
      if (proto - load<u32>(p, 64) > load<u32>(p, 80) - load<u32>(p, 64)) continue;
      if (sport - load<u32>(p, 96) > load<u32>(p, 112) - load<u32>(p, 96)) continue;
      if (dport - load<u32>(p, 128) > load<u32>(p, 144) - load<u32>(p, 128)) continue;
      const extra = load<u32>(p, 176);
      if (extra != 0 && !extraOk(t, extra, sport, dport)) continue;
      return ord;
    }
  }
  return 0;
}

/** IPv6 records (24 words, see tree.ts); the address words are at KEY[0..8). */
function scan6(t: usize, r: u32, count: u32, sport: u32, dport: u32, proto: u32, limit: u32): u32 {
  let p = t + (<usize>r << 2);
  const end = p + <usize>count * 96;
  for (; p < end; p += 96) {
    const ord = load<u32>(p);
    if (ord >= limit) return 0;
    if (proto - load<u32>(p, 8) > load<u32>(p, 12) - load<u32>(p, 8)) continue;
    if (sport - load<u32>(p, 16) > load<u32>(p, 20) - load<u32>(p, 16)) continue;
    if (dport - load<u32>(p, 24) > load<u32>(p, 28) - load<u32>(p, 24)) continue;
    if (ASC_FEATURE_SIMD) {
      // Each address is one 4-lane masked compare: [value x4, care x4] per address.
      const ks = v128.and(v128.load(KEY), v128.load(p, 48));
      const kd = v128.and(v128.load(KEY, 16), v128.load(p, 80));
      if (!i32x4.all_true(v128.and(i32x4.eq(ks, v128.load(p, 32)), i32x4.eq(kd, v128.load(p, 64))))) continue;
    } else {
      let ok = true;
      for (let k: usize = 0; k < 4; k++) {
        if ((load<u32>(KEY + (k << 2)) & load<u32>(p + 48 + (k << 2))) != load<u32>(p + 32 + (k << 2))) ok = false;
        if ((load<u32>(KEY + 16 + (k << 2)) & load<u32>(p + 80 + (k << 2))) != load<u32>(p + 64 + (k << 2))) ok = false;
      }
      if (!ok) continue;
    }
    const extra = load<u32>(p, 4);
    if (extra != 0 && !extraOk(t, extra, sport, dport)) continue;
    return ord;
  }
  return 0;
}

/** One step down from the internal node at `p` for the key row at `key`; the child's address. */
@inline function step(t: usize, p: usize, key: usize): usize {
  const k = load<u32>(key + (<usize>load<u32>(p) << 2));
  let c: u32;
  if (ASC_FEATURE_SIMD) {
    // The child is the number of split values below the key: two unsigned compares of 4 lanes.
    const kv = i32x4.splat(k);
    const lt0 = i32x4.gt_u(kv, v128.load(p, 16));
    const lt1 = i32x4.gt_u(kv, v128.load(p, 32));
    c = popcnt<u32>(i32x4.bitmask(lt0)) + popcnt<u32>(i32x4.bitmask(lt1));
  } else {
    // Branch-free: seven compares summed (split 7 is NONE and never below a key).
    c = <u32>(k > load<u32>(p, 16)) + <u32>(k > load<u32>(p, 20)) + <u32>(k > load<u32>(p, 24)) + <u32>(k > load<u32>(p, 28));
    c += <u32>(k > load<u32>(p, 32)) + <u32>(k > load<u32>(p, 36)) + <u32>(k > load<u32>(p, 40));
  }
  return t + (<usize>load<u32>(p + 48 + (<usize>c << 2)) << 2);
}

/** Walks one tree from node `n` to its leaf with the key row at `key`; the leaf's address. */
@inline function descend(t: usize, n: u32, key: usize): usize {
  let p = t + (<usize>n << 2);
  while (load<u32>(p) != LEAF) p = step(t, p, key);
  return p;
}

// IPv4 packets go through in chunks, tree by tree: each tree is walked for four packets at a
// time in lock-step (their dependent loads overlap), then each packet scans its leaf.
const CHUNK: usize = 64;
const KEYS: usize = memory.data(<i32>(CHUNK * 32), 16); // 8 words per packet
const LEAVES: usize = memory.data(<i32>(CHUNK * 4), 16);
const BEST: usize = memory.data(<i32>(CHUNK * 4), 16);
// An empty leaf: where packets start that skip the current tree.
// Its splits are NONE and its children point back to it (set per call: children are offsets
// from the structure).
const EMPTY: usize = memory.data<u32>([0xff, 0, 0, 0, NONE, NONE, NONE, NONE, NONE, NONE, NONE, NONE, 0, 0, 0, 0, 0, 0, 0, 0], 16);

/** Leaf of tree `root` for each packet j < n whose start is not EMPTY (start[j] from `first`). */
function walkChunk(t: usize, root: u32, first: u32, n: usize): void {
  const r = t + (<usize>root << 2);
  let j: usize = 0;
  for (; j < n; j += 4) {
    // Packets past n, not IPv4, or with a match below this tree's first ordinal start at EMPTY.
    let pa = j < n && load<u32>(BEST + (j << 2)) > first ? r : EMPTY;
    let pb = j + 1 < n && load<u32>(BEST + (j << 2), 4) > first ? r : EMPTY;
    let pc = j + 2 < n && load<u32>(BEST + (j << 2), 8) > first ? r : EMPTY;
    let pd = j + 3 < n && load<u32>(BEST + (j << 2), 12) > first ? r : EMPTY;
    const ka = KEYS + (j << 5);
    // Every lane steps each round: a step from a leaf stays on it (tree.ts), so there is no
    // per-lane branch to mispredict when the four packets reach leaves at different depths.
    // Dimensions are below LEAF (0xff), so the AND of the four is LEAF only when all are leaves.
    while ((load<u32>(pa) & load<u32>(pb) & load<u32>(pc) & load<u32>(pd)) != LEAF) {
      pa = step(t, pa, ka);
      pb = step(t, pb, ka + 32);
      pc = step(t, pc, ka + 64);
      pd = step(t, pd, ka + 96);
    }
    store<usize>(LEAVES + (j << 2), pa);
    store<usize>(LEAVES + (j << 2), pb, 4);
    store<usize>(LEAVES + (j << 2), pc, 8);
    store<usize>(LEAVES + (j << 2), pd, 12);
  }
}

/**
 * Classifies `count` tuples of the batch at `batch` (capacity `capacity`) against the structure
 * at `tree`, writing the 1-based ordinal of the first match (0 = none) to results[i] (i32).
 */
export function classifyBatch(tree: usize, batch: usize, capacity: i32, count: i32, results: usize): void {
  const c = <usize>capacity;
  const root4 = load<u32>(tree, 4);
  const root6 = load<u32>(tree, 8);
  const srcCol = batch;
  const dstCol = batch + batchDst(c);
  const src6Col = batch + batchSrc6(c);
  const dst6Col = batch + batchDst6(c);
  const sportCol = batch + batchSport(c);
  const dportCol = batch + batchDport(c);
  const protoCol = batch + batchProto(c);
  const famCol = batch + batchFamily(c);
  const flagCol = batch + batchFlags(c);
  // EMPTY's children: itself, as an offset in words from `tree` (wraps around in 32 bits).
  const self = <u32>((EMPTY - tree) >> 2);
  for (let j: usize = 0; j < 8; j++) store<u32>(EMPTY + 48 + (j << 2), self);
  const trees4: u32 = root4 == NONE ? 0 : word(tree, root4);
  const trees6: u32 = root6 == NONE ? 0 : word(tree, root6);
  for (let base: usize = 0; base < <usize>count; base += CHUNK) {
    const n: usize = min(CHUNK, <usize>count - base);
    // Keys of the chunk (8 words per packet; IPv6 packets fill theirs below).
    for (let j: usize = 0; j < n; j++) {
      const i = base + j;
      const hp = (load<u8>(flagCol + i) & 1) != 0;
      const row = KEYS + (j << 5);
      store<u32>(row, load<u32>(srcCol + (i << 2)));
      store<u32>(row, load<u32>(dstCol + (i << 2)), 4);
      store<u32>(row, hp ? <u32>load<u16>(sportCol + (i << 1)) : NO_PORTS, 8);
      store<u32>(row, hp ? <u32>load<u16>(dportCol + (i << 1)) : NO_PORTS, 12);
      store<u32>(row, <u32>load<u8>(protoCol + i), 16);
    }
    // IPv4: tree by tree over the chunk. BEST is LIMIT for IPv4 packets still looking, 0 for others.
    for (let j: usize = 0; j < n; j++) store<u32>(BEST + (j << 2), load<u8>(famCol + base + j) == 4 ? LIMIT : 0);
    for (let k: u32 = 0; k < trees4; k++) {
      const first = word(tree, root4 + 2 + 2 * k);
      walkChunk(tree, word(tree, root4 + 1 + 2 * k), first, n);
      for (let j: usize = 0; j < n; j++) {
        const leaf = load<usize>(LEAVES + (j << 2));
        const count = load<u32>(leaf, 4);
        if (count == 0) continue;
        const row = KEYS + (j << 5);
        const m = scan4(tree, load<u32>(leaf, 8), count, load<u32>(row), load<u32>(row, 4), load<u32>(row, 8), load<u32>(row, 12), load<u32>(row, 16), load<u32>(BEST + (j << 2)));
        if (m != 0) store<u32>(BEST + (j << 2), m);
      }
    }
    for (let j: usize = 0; j < n; j++) {
      const i = base + j;
      const f = load<u8>(famCol + i);
      const row = KEYS + (j << 5);
      const sp = load<u32>(row, 8);
      const dp = load<u32>(row, 12);
      const pr = load<u32>(row, 16);
      let best: u32 = LIMIT;
      if (f == 4) {
        best = load<u32>(BEST + (j << 2));
      } else if (f == 6) {
        const o = i << 4;
        store<u64>(KEY, load<u64>(src6Col + o));
        store<u64>(KEY, load<u64>(src6Col + o, 8), 8);
        store<u64>(KEY, load<u64>(dst6Col + o), 16);
        store<u64>(KEY, load<u64>(dst6Col + o, 8), 24);
        store<u32>(KEY, sp, 32);
        store<u32>(KEY, dp, 36);
        store<u32>(KEY, pr, 40);
        for (let k: u32 = 0; k < trees6; k++) {
          if (word(tree, root6 + 2 + 2 * k) >= best) break;
          const leaf = descend(tree, word(tree, root6 + 1 + 2 * k), KEY);
          const m = scan6(tree, load<u32>(leaf, 8), load<u32>(leaf, 4), sp, dp, pr, best);
          if (m != 0) best = m;
        }
      }
      store<i32>(results + (i << 2), best == LIMIT ? 0 : <i32>best);
    }
  }
}
