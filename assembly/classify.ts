// The `wasm` engine: lookup in the structure compiled by src/classify/tree.ts (read its header
// comment for the layout), the twin of src/classify/walk.ts. The structure and the batch both
// live in this module's memory; nothing here allocates.
import { batchDst, batchDst6, batchDport, batchFamily, batchFlags, batchProto, batchSport, batchSrc6 } from './batch';

const NONE: u32 = 0xffffffff;
const NO_PORTS: u32 = 65536;
const LIMIT: u32 = 0xffffffff;
const PROTO_HAS_PORTS: u32 = 0x100;
// Split values are stored with the top bit flipped (tree.ts), so that an unsigned "key > split"
// is a signed compare of the flipped key: one instruction per 4 lanes on x86 (unsigned takes 4).
const BIAS: u32 = 0x80000000;
// A tree's scan mode (tree.ts): leaves scanned without branching on their records.
const SCAN_FLAT: u32 = 1;
// A tree starting at a root table of 2^TABLE_BITS node words (tree.ts), indexed by the top bits
// of the address dimension in mode bits 4-7.
const SCAN_TABLE: u32 = 2;
const TABLE_SHIFT: u32 = 32 - 10;

/** The node word a root table at word offset `tab` holds for the key row `row`. */
@inline function tableWord(t: usize, tab: u32, row: usize, dim: usize): u32 {
  return word(t, tab + ((load<u32>(row + (dim << 2)) ^ BIAS) >> TABLE_SHIFT));
}

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

// Each packet's key goes into a row of ROW bytes (tree.ts has the dimensions):
//   IPv4  [src, dst, sport, dport, proto, ports, protoKey, 0, ..., best]
//   IPv6  [src x4, dst x4, sport, dport, proto, ports, protoKey, 0, 0, best]
// where src, dst, sport, dport and proto are the tree's keys, stored with the top bit flipped
// (BIAS) as the split values are, so that a step broadcasts its key straight from the row
// (sport/dport: NO_PORTS for a tuple without ports); protoKey is
// proto | PROTO_HAS_PORTS when the tuple has ports, ports packs both (port ^ 0x8000) in 16-bit
// halves (the records' keys: 0 for a tuple without ports); best is the smallest
// matching ordinal found so far (LIMIT: none yet).
const ROW: usize = 64;
const R4_PORTS: usize = 20;
const R4_PROTO_KEY: usize = 24;
const R6_PORTS: usize = 44;
const R6_PROTO_KEY: usize = 48;
const R_BEST: usize = 60;

/** Bits 0-3: which records of the IPv4 group at p match the key (ordinal below the limit kl). */
@inline function match4(p: usize, ks: v128, kd: v128, kp: v128, kq: v128, kl: v128): u32 {
  let m = i32x4.eq(v128.and(ks, v128.load(p)), v128.load(p, 16));
  m = v128.and(m, i32x4.eq(v128.and(kd, v128.load(p, 32)), v128.load(p, 48)));
  m = v128.and(m, i32x4.eq(v128.and(kp, v128.load(p, 64)), v128.load(p, 80)));
  m = v128.and(m, i32x4.gt_s(kl, v128.load(p, 128)));
  const out = v128.or(i16x8.gt_s(v128.load(p, 96), kq), i16x8.gt_s(kq, v128.load(p, 112)));
  return i32x4.bitmask(v128.and(m, i32x4.eq(out, i32x4.splat(0))));
}

/** The first of the hits `bits` (lanes of the two IPv4 groups from p) whose port lists hold the ports; 0 if none. */
function firstWithPorts(t: usize, p: usize, bits: u32, ports: u32): u32 {
  while (bits != 0) {
    const q = p + <usize>(ctz(bits) >> 2) * 160 + (<usize>(ctz(bits) & 3) << 2);
    const extra = load<u32>(q, 144);
    if (extra == 0 || extraOk(t, extra, (ports & 0xffff) ^ 0x8000, (ports >> 16) ^ 0x8000)) return load<u32>(q, 128);
    bits &= bits - 1;
  }
  return 0;
}

/**
 * First IPv4 record (ordinal order) matching the key row, with ordinal below limit; 0 if none.
 * Records are in groups of 4, struct-of-arrays (40 words a group, see tree.ts): [srcCare,
 * srcValue, dstCare, dstValue, protoCare, protoValue, portsLo, portsHi, ordinal, extra] x 4.
 * `flat` (the tree's scan mode, see tree.ts) checks two groups per step and branches on
 * nothing the records hold (unless a hit has a port list), for trees whose leaves often hold no
 * match: there, a branch on "this group has a hit" mispredicts about once per leaf (ClassBench
 * fw1_10K: ~2 mispredicts per lookup, a quarter of its time). Where a leaf almost always holds
 * the packet's match, the branches predict well and let the core run ahead of the loads: the
 * branching scan is faster there (acl1_10K 16.7 vs 20.2 ns, interleaved).
 */
@inline function scan4(t: usize, r: u32, count: u32, row: usize, limit: u32, flat: bool): u32 {
  const base = t + (<usize>r << 2);
  const end = base + <usize>((count + 3) >> 2) * 160;
  const src = load<u32>(row) ^ BIAS;
  const dst = load<u32>(row, 4) ^ BIAS;
  const ports = load<u32>(row, R4_PORTS);
  const proto = load<u32>(row, R4_PROTO_KEY);
  if (ASC_FEATURE_SIMD && flat) {
    // Lanes past the leaf's count are masked off (the structure is padded for the read past
    // its last leaf); the ordinal test is a signed compare (ordinals are below 2^31).
    const ks = i32x4.splat(src);
    const kd = i32x4.splat(dst);
    const kp = i32x4.splat(proto);
    const kq = i32x4.splat(ports);
    const kl = i32x4.splat(<i32>min(limit, 0x7fffffff));
    let p = base;
    let left = count;
    for (;;) {
      const bits = (match4(p, ks, kd, kp, kq, kl) | (match4(p + 160, ks, kd, kp, kq, kl) << 4)) & (left >= 8 ? 0xff : (1 << left) - 1);
      const lane = ctz(bits) & 7;
      const q = p + <usize>(lane >> 2) * 160 + (<usize>(lane & 3) << 2);
      const ord = load<u32>(q, 128);
      // Bitwise, not short-circuit: one branch, taken unless a hit has a port list.
      if (((load<u32>(q, 144) != 0) & (bits != 0)) != 0) {
        const hit = firstWithPorts(t, p, bits, ports);
        if (hit != 0 || left <= 8) return hit;
      } else if (((left <= 8) | (bits != 0)) != 0) return bits != 0 ? ord : 0;
      left -= 8;
      p += 320;
      if (load<u32>(p, 128) >= limit) return 0;
    }
  }
  if (ASC_FEATURE_SIMD) {
    // One packet against 4 records per step, without a branch per field: addresses and the
    // protocol key as masked equality, both ports as signed 16-bit range compares, then the
    // lowest set lane is the group's first match. Unused lanes never match.
    const ks = i32x4.splat(src);
    const kd = i32x4.splat(dst);
    const kp = i32x4.splat(proto);
    const kq = i32x4.splat(ports);
    // The leaf has at least one record: test the loop's end after the first group.
    let p = base;
    do {
      if (load<u32>(p, 128) >= limit) return 0;
      let m = i32x4.eq(v128.and(ks, v128.load(p)), v128.load(p, 16));
      m = v128.and(m, i32x4.eq(v128.and(kd, v128.load(p, 32)), v128.load(p, 48)));
      m = v128.and(m, i32x4.eq(v128.and(kp, v128.load(p, 64)), v128.load(p, 80)));
      const out = v128.or(i16x8.gt_s(v128.load(p, 96), kq), i16x8.gt_s(kq, v128.load(p, 112)));
      m = v128.and(m, i32x4.eq(out, i32x4.splat(0)));
      let bits = i32x4.bitmask(m);
      while (bits != 0) {
        const lane = <usize>ctz(bits) << 2;
        const ord = load<u32>(p + lane, 128);
        if (ord >= limit) return 0;
        const extra = load<u32>(p + lane, 144);
        if (extra == 0 || extraOk(t, extra, (ports & 0xffff) ^ 0x8000, (ports >> 16) ^ 0x8000)) return ord;
        bits &= bits - 1;
      }
      p += 160;
    } while (p < end);
    return 0;
  }
  // Record by record over whole groups: the unused lanes of the last group have ordinal NONE
  // (>= any limit), so the scan stops there.
  const sport = (ports & 0xffff) ^ 0x8000;
  const dport = (ports >> 16) ^ 0x8000;
  for (let g = base; g < end; g += 160) {
    for (let p = g; p < g + 16; p += 4) {
      const ord = load<u32>(p, 128);
      if (ord >= limit) return 0;
      if ((src & load<u32>(p)) != load<u32>(p, 16)) continue;
      if ((dst & load<u32>(p, 32)) != load<u32>(p, 48)) continue;
      if ((proto & load<u32>(p, 64)) != load<u32>(p, 80)) continue;
      const lo = load<u32>(p, 96);
      const hi = load<u32>(p, 112);
      if (sport < ((lo & 0xffff) ^ 0x8000) || sport > ((hi & 0xffff) ^ 0x8000)) continue;
      if (dport < ((lo >> 16) ^ 0x8000) || dport > ((hi >> 16) ^ 0x8000)) continue;
      const extra = load<u32>(p, 144);
      if (extra != 0 && !extraOk(t, extra, sport, dport)) continue;
      return ord;
    }
  }
  return 0;
}

/**
 * First IPv6 record matching the key row, as scan4. Records are in groups of 4 (88 words a group,
 * see tree.ts): [protoCare, protoValue, portsLo, portsHi, ordinal, extra] x 4 lanes, then per
 * record [srcValue x4, srcCare x4, dstValue x4, dstCare x4].
 */
@inline function scan6(t: usize, r: u32, count: u32, row: usize, limit: u32): u32 {
  const base = t + (<usize>r << 2);
  const end = base + <usize>((count + 3) >> 2) * 352;
  const ports = load<u32>(row, R6_PORTS);
  const proto = load<u32>(row, R6_PROTO_KEY);
  if (ASC_FEATURE_SIMD) {
    // Protocol and ports of 4 records at once; then each candidate's addresses, one 4-lane
    // masked compare per address.
    const kp = i32x4.splat(proto);
    const kq = i32x4.splat(ports);
    const ks = v128.xor(v128.load(row), i32x4.splat(BIAS));
    const kd = v128.xor(v128.load(row, 16), i32x4.splat(BIAS));
    let p = base;
    do {
      if (load<u32>(p, 64) >= limit) return 0;
      const out = v128.or(i16x8.gt_s(v128.load(p, 32), kq), i16x8.gt_s(kq, v128.load(p, 48)));
      const m = v128.and(i32x4.eq(v128.and(kp, v128.load(p)), v128.load(p, 16)), i32x4.eq(out, i32x4.splat(0)));
      let bits = i32x4.bitmask(m);
      while (bits != 0) {
        const lane = <usize>ctz(bits);
        const ord = load<u32>(p + (lane << 2), 64);
        if (ord >= limit) return 0;
        const a = p + 96 + (lane << 6);
        const hit = v128.and(i32x4.eq(v128.and(ks, v128.load(a, 16)), v128.load(a)), i32x4.eq(v128.and(kd, v128.load(a, 48)), v128.load(a, 32)));
        if (i32x4.all_true(hit)) {
          const extra = load<u32>(p + (lane << 2), 80);
          if (extra == 0 || extraOk(t, extra, (ports & 0xffff) ^ 0x8000, (ports >> 16) ^ 0x8000)) return ord;
        }
        bits &= bits - 1;
      }
      p += 352;
    } while (p < end);
    return 0;
  }
  const sport = (ports & 0xffff) ^ 0x8000;
  const dport = (ports >> 16) ^ 0x8000;
  for (let g = base; g < end; g += 352) {
    for (let lane: usize = 0; lane < 4; lane++) {
      const p = g + (lane << 2);
      const ord = load<u32>(p, 64);
      if (ord >= limit) return 0;
      if ((proto & load<u32>(p)) != load<u32>(p, 16)) continue;
      const lo = load<u32>(p, 32);
      const hi = load<u32>(p, 48);
      if (sport < ((lo & 0xffff) ^ 0x8000) || sport > ((hi & 0xffff) ^ 0x8000)) continue;
      if (dport < ((lo >> 16) ^ 0x8000) || dport > ((hi >> 16) ^ 0x8000)) continue;
      const a = g + 96 + (lane << 6);
      let ok = true;
      for (let k: usize = 0; k < 16; k += 4) {
        if (((load<u32>(row + k) ^ BIAS) & load<u32>(a + 16 + k)) != load<u32>(a + k)) ok = false;
        if (((load<u32>(row + 16 + k) ^ BIAS) & load<u32>(a + 48 + k)) != load<u32>(a + 32 + k)) ok = false;
      }
      if (!ok) continue;
      const extra = load<u32>(p, 80);
      if (extra != 0 && !extraOk(t, extra, sport, dport)) continue;
      return ord;
    }
  }
  return 0;
}

/**
 * One step from the node word `nw` (offset << 4 | dimension, see tree.ts) for the key row `row`:
 * the child's node word. The node is one cache line; its dimension came with its word, so the
 * key's load does not wait for the node's. A leaf (dimension 15) steps to itself.
 */
@inline function step(t: usize, nw: u32, row: usize): u32 {
  const p = t + (<usize>(nw >> 4) << 2);
  // The key, flipped in the row; a leaf reads the row's last word: harmless.
  const key = row + (<usize>(nw & 15) << 2);
  let c: usize;
  if (ASC_FEATURE_SIMD) {
    // The child is the number of split values below the key: two signed compares of 4 lanes,
    // narrowed to 8 lanes of 16 bits, whose byte mask has 2 bits per split below the key.
    const kv = v128.load32_splat(key);
    const below = i16x8.narrow_i32x4_s(i32x4.gt_s(kv, v128.load(p)), i32x4.gt_s(kv, v128.load(p, 16)));
    c = <usize>popcnt<u32>(i8x16.bitmask(below)) << 1;
  } else {
    // Branch-free: seven compares summed (split 7 is never below a key).
    const s = load<i32>(key);
    let n = <u32>(s > load<i32>(p)) + <u32>(s > load<i32>(p, 4)) + <u32>(s > load<i32>(p, 8)) + <u32>(s > load<i32>(p, 12));
    n += <u32>(s > load<i32>(p, 16)) + <u32>(s > load<i32>(p, 20)) + <u32>(s > load<i32>(p, 24));
    c = <usize>n << 2;
  }
  return load<u32>(p + 32 + c);
}

// The batch goes through in chunks of CHUNK packets. Per family, a list holds the chunk's packets
// of that family. Tree by tree (in order of their first ordinal), the packets whose best match so
// far is above the tree's first ordinal are walked LANES at a time in lock-step (their dependent
// loads overlap), and each scans its leaf right after. A tree that no packet needs ends the
// family's walk: later trees start later.
const CHUNK: usize = 64;
const KEYS: usize = memory.data(<i32>(CHUNK * ROW), 16);
// Packets walked together: eight independent chains of dependent loads overlap (four: acl1_1K
// 14.7 ns, eight: 11.8, sixteen: no better, interleaved on this machine).
const LANES: u32 = 8;
// Key row addresses (+LANES for the padding of the last group).
const LIST4: usize = memory.data(<i32>((CHUNK + LANES) * 4), 16);
const LIST6: usize = memory.data(<i32>((CHUNK + LANES) * 4), 16);
// The structure's empty leaf (tree.ts), where the padding lanes of a group start.
const EMPTY_LEAF: u32 = (16 << 4) | 15;

/**
 * Scans the leaf at `leaf` for the packet whose key row is `row`, keeps a better match, and
 * lists the packet at `next` (returns 1) when the next tree could still hold a better one.
 */
@inline function scanLane(t: usize, leafWord: u32, row: usize, v6: bool, flat: bool, next: usize, nextFirst: u32): u32 {
  const leaf = t + (<usize>(leafWord >> 4) << 2);
  const at = row + R_BEST;
  let best = load<u32>(at);
  const count = load<u32>(leaf, 36);
  if (count != 0) {
    // The records follow the leaf's line (tree.ts): their address does not wait for the leaf.
    const records = (leafWord >> 4) + 16;
    const m = v6 ? scan6(t, records, count, row, best) : scan4(t, records, count, row, best, flat);
    if (flat) {
      best = m != 0 ? m : best;
      store<u32>(at, best);
    } else if (m != 0) {
      store<u32>(at, m);
      best = m;
    }
  }
  store<u32>(next, <u32>row);
  return <u32>(best > nextFirst);
}

/**
 * Walks the m packets listed at `list` (padded to a multiple of LANES) through the tree whose root
 * node word is `root`;
 * rewrites the list in place with the packets whose best match is still above `nextFirst` (the
 * next tree's first ordinal) and returns how many.
 */
@inline function walkTree(t: usize, r: u32, mode: u32, list: usize, m: u32, v6: bool, flat: bool, nextFirst: u32): u32 {
  let kept: u32 = 0;
  for (let i: u32 = 0; i < m; i += LANES) {
    const l = list + (<usize>i << 2);
    const r0 = <usize>load<u32>(l, 0);
    const r1 = <usize>load<u32>(l, 4);
    const r2 = <usize>load<u32>(l, 8);
    const r3 = <usize>load<u32>(l, 12);
    const r4 = <usize>load<u32>(l, 16);
    const r5 = <usize>load<u32>(l, 20);
    const r6 = <usize>load<u32>(l, 24);
    const r7 = <usize>load<u32>(l, 28);
    let p0 = r;
    let p1 = i + 1 < m ? r : EMPTY_LEAF;
    let p2 = i + 2 < m ? r : EMPTY_LEAF;
    let p3 = i + 3 < m ? r : EMPTY_LEAF;
    let p4 = i + 4 < m ? r : EMPTY_LEAF;
    let p5 = i + 5 < m ? r : EMPTY_LEAF;
    let p6 = i + 6 < m ? r : EMPTY_LEAF;
    let p7 = i + 7 < m ? r : EMPTY_LEAF;
    if ((mode & SCAN_TABLE) != 0) {
      const d = <usize>((mode >> 4) & 15);
      p0 = tableWord(t, r, r0, d);
      p1 = i + 1 < m ? tableWord(t, r, r1, d) : EMPTY_LEAF;
      p2 = i + 2 < m ? tableWord(t, r, r2, d) : EMPTY_LEAF;
      p3 = i + 3 < m ? tableWord(t, r, r3, d) : EMPTY_LEAF;
      p4 = i + 4 < m ? tableWord(t, r, r4, d) : EMPTY_LEAF;
      p5 = i + 5 < m ? tableWord(t, r, r5, d) : EMPTY_LEAF;
      p6 = i + 6 < m ? tableWord(t, r, r6, d) : EMPTY_LEAF;
      p7 = i + 7 < m ? tableWord(t, r, r7, d) : EMPTY_LEAF;
    }
    // Every lane steps each round: a step from a leaf stays on it (tree.ts), so there is no
    // per-lane branch to mispredict when the packets reach leaves at different depths.
    // Dimensions are below 15, so the AND of the lanes is 15 only when all are leaves: the
    // test loads nothing.
    while ((p0 & p1 & p2 & p3 & p4 & p5 & p6 & p7 & 15) != 15) {
      p0 = step(t, p0, r0);
      p1 = step(t, p1, r1);
      p2 = step(t, p2, r2);
      p3 = step(t, p3, r3);
      p4 = step(t, p4, r4);
      p5 = step(t, p5, r5);
      p6 = step(t, p6, r6);
      p7 = step(t, p7, r7);
    }
    // The kept list overwrites entries already read (kept <= i + lanes done).
    kept += scanLane(t, p0, r0, v6, flat, list + (<usize>kept << 2), nextFirst);
    if (i + 1 < m) kept += scanLane(t, p1, r1, v6, flat, list + (<usize>kept << 2), nextFirst);
    if (i + 2 < m) kept += scanLane(t, p2, r2, v6, flat, list + (<usize>kept << 2), nextFirst);
    if (i + 3 < m) kept += scanLane(t, p3, r3, v6, flat, list + (<usize>kept << 2), nextFirst);
    if (i + 4 < m) kept += scanLane(t, p4, r4, v6, flat, list + (<usize>kept << 2), nextFirst);
    if (i + 5 < m) kept += scanLane(t, p5, r5, v6, flat, list + (<usize>kept << 2), nextFirst);
    if (i + 6 < m) kept += scanLane(t, p6, r6, v6, flat, list + (<usize>kept << 2), nextFirst);
    if (i + 7 < m) kept += scanLane(t, p7, r7, v6, flat, list + (<usize>kept << 2), nextFirst);
  }
  return kept;
}

// One copy of the walk per family and scan mode, each with its constants folded.
function walkTree4(t: usize, r: u32, mode: u32, list: usize, m: u32, nextFirst: u32): u32 {
  return walkTree(t, r, mode, list, m, false, false, nextFirst);
}
function walkTree4Flat(t: usize, r: u32, mode: u32, list: usize, m: u32, nextFirst: u32): u32 {
  return walkTree(t, r, mode, list, m, false, true, nextFirst);
}
function walkTree6(t: usize, r: u32, mode: u32, list: usize, m: u32, nextFirst: u32): u32 {
  return walkTree(t, r, mode, list, m, true, false, nextFirst);
}

/** All trees of one family (the list at `treeList` in the structure) for the n packets at `list`. */
function walkFamily(t: usize, treeList: u32, list: usize, n: u32, v6: bool): void {
  const trees = word(t, treeList);
  let m = n;
  for (let k: u32 = 0; k < trees && m != 0; k++) {
    // Padding lanes read the first row (any will do: they start at the empty leaf, not scanned).
    for (let x: usize = 0; x < LANES; x++) store<u32>(list + ((<usize>m + x) << 2), <u32>KEYS);
    // Later trees are walked only by packets whose best match so far is above their first
    // ordinal (first ordinals only grow along the list, best matches only shrink).
    const at = treeList + 1 + 3 * k;
    const nextFirst = k + 1 < trees ? word(t, at + 4) : LIMIT;
    const root = word(t, at);
    const mode = word(t, at + 2);
    m = v6 ? walkTree6(t, root, 0, list, m, nextFirst) : (mode & SCAN_FLAT) != 0 ? walkTree4Flat(t, root, mode, list, m, nextFirst) : walkTree4(t, root, mode, list, m, nextFirst);
  }
}

// Batch column addresses for the current call (set by classifyBatch).
let srcCol: usize = 0;
let dstCol: usize = 0;
let src6Col: usize = 0;
let dst6Col: usize = 0;
let sportCol: usize = 0;
let dportCol: usize = 0;
let protoCol: usize = 0;
let famCol: usize = 0;
let flagCol: usize = 0;
let n4: u32 = 0;
let n6: u32 = 0;

/** The key row of batch tuple i at chunk position j, one packet at a time; lists it by family. */
function keyOne(i: usize, j: usize): void {
  const f = load<u8>(famCol + i);
  const hp = (load<u8>(flagCol + i) & 1) != 0;
  const row = KEYS + j * ROW;
  const sp = hp ? <u32>load<u16>(sportCol + (i << 1)) : 0;
  const dp = hp ? <u32>load<u16>(dportCol + (i << 1)) : 0;
  const pr = <u32>load<u8>(protoCol + i);
  const pk = hp ? pr | PROTO_HAS_PORTS : pr;
  if (f == 4) {
    store<u32>(row, load<u32>(srcCol + (i << 2)) ^ BIAS);
    store<u32>(row, load<u32>(dstCol + (i << 2)) ^ BIAS, 4);
    store<u32>(row, (hp ? sp : NO_PORTS) ^ BIAS, 8);
    store<u32>(row, (hp ? dp : NO_PORTS) ^ BIAS, 12);
    store<u32>(row, pr ^ BIAS, 16);
    store<u32>(row, (sp ^ 0x8000) | ((dp ^ 0x8000) << 16), R4_PORTS);
    store<u32>(row, pk, R4_PROTO_KEY);
    store<u32>(row, LIMIT, R_BEST);
    store<u32>(LIST4 + (<usize>n4 << 2), <u32>row);
    n4++;
  } else if (f == 6) {
    if (ASC_FEATURE_SIMD) {
      v128.store(row, v128.xor(v128.load(src6Col + (i << 4)), i32x4.splat(BIAS)));
      v128.store(row, v128.xor(v128.load(dst6Col + (i << 4)), i32x4.splat(BIAS)), 16);
    } else {
      const b2: u64 = 0x8000000080000000;
      store<u64>(row, load<u64>(src6Col + (i << 4)) ^ b2);
      store<u64>(row, load<u64>(src6Col + (i << 4), 8) ^ b2, 8);
      store<u64>(row, load<u64>(dst6Col + (i << 4)) ^ b2, 16);
      store<u64>(row, load<u64>(dst6Col + (i << 4), 8) ^ b2, 24);
    }
    store<u32>(row, (hp ? sp : NO_PORTS) ^ BIAS, 32);
    store<u32>(row, (hp ? dp : NO_PORTS) ^ BIAS, 36);
    store<u32>(row, pr ^ BIAS, 40);
    store<u32>(row, (sp ^ 0x8000) | ((dp ^ 0x8000) << 16), R6_PORTS);
    store<u32>(row, pk, R6_PROTO_KEY);
    store<u32>(row, LIMIT, R_BEST);
    store<u32>(LIST6 + (<usize>n6 << 2), <u32>row);
    n6++;
  } else {
    store<u32>(row, LIMIT, R_BEST);
  }
}

/** Stores lane k of a, b, c, d as words [0, 4) at row + k * ROW + off (a 4x4 transpose). */
@inline function transpose4(a: v128, b: v128, c: v128, d: v128, row: usize, off: usize): void {
  const a0 = i32x4.shuffle(a, b, 0, 4, 1, 5);
  const a1 = i32x4.shuffle(a, b, 2, 6, 3, 7);
  const c0 = i32x4.shuffle(c, d, 0, 4, 1, 5);
  const c1 = i32x4.shuffle(c, d, 2, 6, 3, 7);
  v128.store(row + off, i32x4.shuffle(a0, c0, 0, 1, 4, 5));
  v128.store(row + off, i32x4.shuffle(a0, c0, 2, 3, 6, 7), ROW);
  v128.store(row + off, i32x4.shuffle(a1, c1, 0, 1, 4, 5), 2 * ROW);
  v128.store(row + off, i32x4.shuffle(a1, c1, 2, 3, 6, 7), 3 * ROW);
}

/**
 * Key rows of batch tuples [i, i + 4) at chunk positions [j, j + 4) when all four are of one
 * family: the columns are read 4 tuples at a time and transposed into rows with shuffles.
 */
@inline function keyFour(i: usize, j: usize, v6: bool): void {
  const sp = i32x4.extend_low_i16x8_u(v128.load64_zero(sportCol + (i << 1)));
  const dp = i32x4.extend_low_i16x8_u(v128.load64_zero(dportCol + (i << 1)));
  const pr = i32x4.extend_low_i16x8_u(i16x8.extend_low_i8x16_u(v128.load32_zero(protoCol + i)));
  const fl = i32x4.extend_low_i16x8_u(i16x8.extend_low_i8x16_u(v128.load32_zero(flagCol + i)));
  const hp = i32x4.ne(v128.and(fl, i32x4.splat(1)), i32x4.splat(0));
  // Tree keys flipped (see ROW).
  const bias = i32x4.splat(BIAS);
  const tsp = v128.xor(v128.bitselect(sp, i32x4.splat(NO_PORTS), hp), bias);
  const tdp = v128.xor(v128.bitselect(dp, i32x4.splat(NO_PORTS), hp), bias);
  const pk = v128.or(pr, v128.and(hp, i32x4.splat(PROTO_HAS_PORTS)));
  const ports = v128.or(v128.xor(v128.and(sp, hp), i32x4.splat(0x8000)), i32x4.shl(v128.xor(v128.and(dp, hp), i32x4.splat(0x8000)), 16));
  const row = KEYS + j * ROW;
  const none = i32x4.splat(LIMIT);
  const zero = i32x4.splat(0);
  if (v6) {
    for (let k: usize = 0; k < 4; k++) {
      v128.store(row + k * ROW, v128.xor(v128.load(src6Col + ((i + k) << 4)), bias));
      v128.store(row + k * ROW, v128.xor(v128.load(dst6Col + ((i + k) << 4)), bias), 16);
    }
    transpose4(tsp, tdp, v128.xor(pr, bias), ports, row, 32);
    transpose4(pk, zero, zero, none, row, 48);
  } else {
    transpose4(v128.xor(v128.load(srcCol + (i << 2)), bias), v128.xor(v128.load(dstCol + (i << 2)), bias), tsp, tdp, row, 0);
    transpose4(v128.xor(pr, bias), ports, pk, zero, row, 16);
    for (let k: usize = 0; k < 4; k++) store<u32>(row + k * ROW, LIMIT, R_BEST);
  }
  const l = <u32>row;
  v128.store((v6 ? LIST6 + (<usize>n6 << 2) : LIST4 + (<usize>n4 << 2)), i32x4(l, l + <u32>ROW, l + 2 * <u32>ROW, l + 3 * <u32>ROW));
  if (v6) n6 += 4;
  else n4 += 4;
}

/**
 * Classifies `count` tuples of the batch at `batch` (capacity `capacity`) against the structure
 * at `tree`, writing the 1-based ordinal of the first match (0 = none) to results[i] (i32).
 */
export function classifyBatch(tree: usize, batch: usize, capacity: i32, count: i32, results: usize): void {
  const c = <usize>capacity;
  const root4 = load<u32>(tree, 4);
  const root6 = load<u32>(tree, 8);
  srcCol = batch;
  dstCol = batch + batchDst(c);
  src6Col = batch + batchSrc6(c);
  dst6Col = batch + batchDst6(c);
  sportCol = batch + batchSport(c);
  dportCol = batch + batchDport(c);
  protoCol = batch + batchProto(c);
  famCol = batch + batchFamily(c);
  flagCol = batch + batchFlags(c);
  for (let base: usize = 0; base < <usize>count; base += CHUNK) {
    const n: usize = min(CHUNK, <usize>count - base);
    n4 = 0;
    n6 = 0;
    let j: usize = 0;
    if (ASC_FEATURE_SIMD) {
      for (; j + 4 <= n; j += 4) {
        const i = base + j;
        const f = load<u32>(famCol + i);
        if (f == 0x04040404) keyFour(i, j, false);
        else if (f == 0x06060606) keyFour(i, j, true);
        else for (let k: usize = 0; k < 4; k++) keyOne(i + k, j + k);
      }
    }
    for (; j < n; j++) keyOne(base + j, j);
    if (n4 != 0 && root4 != NONE) walkFamily(tree, root4, LIST4, n4, false);
    if (n6 != 0 && root6 != NONE) walkFamily(tree, root6, LIST6, n6, true);
    const out = results + (base << 2);
    j = 0;
    if (ASC_FEATURE_SIMD) {
      // Four rows' best at a time; LIMIT (no match) becomes 0.
      for (; j + 4 <= n; j += 4) {
        const r = KEYS + j * ROW + R_BEST;
        let v = v128.load32_zero(r);
        v = v128.load32_lane(r + ROW, v, 1);
        v = v128.load32_lane(r + 2 * ROW, v, 2);
        v = v128.load32_lane(r + 3 * ROW, v, 3);
        v128.store(out + (j << 2), v128.andnot(v, i32x4.eq(v, i32x4.splat(LIMIT))));
      }
    }
    for (; j < n; j++) {
      const b = load<u32>(KEYS + j * ROW, R_BEST);
      store<i32>(out + (j << 2), b == LIMIT ? 0 : <i32>b);
    }
  }
}
