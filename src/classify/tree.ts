// Compiles a policy into the flat search structure the `ts` and `wasm` engines walk: one
// HyperSplit-style decision tree per address family (binary range splits on one dimension per
// node), whose leaves hold a few rule records in first-match order.
//
// Why this works for everything the policy language expresses: the tree only narrows the
// candidates. Each rule enters the tree as the bounding box of what it covers (a non-contiguous
// wildcard mask A/C spans [A, A | ~C]; a port set spans [first.lo, last.hi]), and every leaf
// record is checked exactly (address under its care mask, each port range, protocol). A rule is
// copied into every leaf whose region its box meets, so it is never missed; the leaf's records are
// in ordinal order, so the first exact hit is the first match of the whole policy.
//
// Ports live in 0..65536: 65536 is "this tuple has no ports", which only the any-port range
// [0, 65536] contains, so a tuple without ports never matches an entry with a port condition.
//
// Layout (u32 words, offsets in words from the start of the structure):
//   header  [MAGIC, list4, list6, words, ports, records4, records6, count4, count6, 0...]  (16 words)
//   node    one 64-byte cache line (NODE_WORDS = 16, nodes 64-byte aligned from the start of
//           the structure), reached through a node word: its word offset << 4 | its dimension
//           (LEAF_DIM for a leaf), so that a step knows the next node's dimension before it
//           loads it, and the walk knows a lane is at a leaf without loading anything.
//           internal: [split0..split7, child0..child7]: the key goes to child
//                     #{j : key[dim] > split_j} (unsigned), a node word. Splits are stored with
//                     the top bit flipped (splitWord), so that the walk compares signed: one x86
//                     instruction per 4 lanes. Unused splits are SPLIT_NEVER (no key is above).
//           leaf:     [SPLIT_NEVER x8, self, count, recordsOffset, 0 x5] (a step stays on it),
//                     its records right after it (recordsOffset = its offset + 16; the
//                     WebAssembly walk relies on that, the leaf's slot among its siblings
//                     stays unused)
//           At word 16, right after the header, an empty leaf (where the WebAssembly walk
//           starts its padding lanes).
//   list    [k, root1, firstOrdinal1, scan1, ..., rootk, firstOrdinalk, scank]: the trees of one
//           family (roots as node words); scan is the tree's leaf scan mode for the SIMD build,
//           SCAN_FLAT when the tree holds under FLAT_SHARE of the family's records (its leaves
//           then often hold no match for a packet, and a scan branching on that mispredicts),
//           | SCAN_TABLE | dim << 4 when the root is a root table (2^TABLE_BITS node words
//           indexed by the top bits of address dimension dim; IPv4 trees of TABLE_MIN_BOXES)
//   padding 2 x G4_WORDS words at the end: the flat scan reads two record groups at a time
//   record  A record checks one rule (part) exactly. Protocol and "has ports" are one masked
//             compare: the key is protocol | hasPorts << 8, and a record with a port condition
//             cares about bit 8 (a tuple without ports never matches it). Ports are then 16-bit
//             ranges (a tuple without ports has port key 0, inside every any-port range).
//           IPv4: records go in groups of 4, struct-of-arrays (G4_WORDS = 40 words per group):
//             [srcCare x4, srcValue x4, dstCare x4, dstValue x4, protoCare x4, protoValue x4,
//              portsLo x4, portsHi x4, ordinal x4, extra x4] where portsLo/Hi pack both ports'
//             bounds as (sport ^ 0x8000) | (dport ^ 0x8000) << 16 (signed 16-bit lanes: the SIMD
//             build checks both ports of 4 records with two compares). Record i is lane i & 3 of
//             group i >> 2: one packet is checked against 4 records with a few 4-lane compares
//             (SIMD build), or record by record (scalar build, ts). Unused lanes of the last group
//             never match (srcCare 0, srcValue 1) and have ordinal NONE.
//           IPv6: groups of 4 too (G6_WORDS = 88 words per group): [protoCare x4, protoValue x4,
//             portsLo x4, portsHi x4, ordinal x4, extra x4], then per record [srcValue x4,
//             srcCare x4, dstValue x4, dstCare x4] (most significant word first): the SIMD build
//             checks protocol and ports of 4 records at once, then each candidate's addresses
//             with one 4-lane masked compare per address.
//   extra   0, or the offset of [nS, lo, hi, ..., nD, lo, hi, ...] for port sets with many ranges
// Dimensions: IPv4 0 src, 1 dst, 2 sport, 3 dport, 4 proto; IPv6 0-3 src words (0 = most
// significant), 4-7 dst words, 8 sport, 9 dport, 10 proto. NONE (0xffffffff) marks an empty tree.
// assembly/classify.ts reads exactly this layout; change both together.
import type { Entry, Family, Policy, PortSet } from '../selector/types.js';
import { entrySelectors, isAnyPort } from '../selector/algebra.js';

export const MAGIC = 0x54454431; // "TED1"
/** The dimension of a leaf in a node word. */
export const LEAF_DIM = 15;
/** The empty leaf's node word (word 16, right after the header). */
export const EMPTY_LEAF = (16 << 4) | 15;
export const NONE = 0xffffffff;
/** Words per tree in a family's tree list: root, first ordinal, scan mode. */
export const TREE_WORDS = 3;
/** Scan mode of a tree whose leaves are scanned without branching on their records (classify.ts). */
export const SCAN_FLAT = 1;
/**
 * Mode bit of a tree that starts at a root table: the tree-list root is then the word offset of
 * 2^TABLE_BITS node words, indexed by the top TABLE_BITS bits of the key's dimension in mode
 * bits 4-7 (an IPv4 address).
 */
export const SCAN_TABLE = 2;
export const TABLE_BITS = 10;
/**
 * IPv4 trees of at least this many boxes start at a root table. 10 bits measured best
 * (interleaved, acl1_10K / fw1_10K: 10 bits 17.8 / 23.1 ns, 12 bits 17.9 / 24.1, 14 bits
 * 18.2 / 26.5, none 19.4 / 27.2): the table takes the place of the tree's top two or three
 * steps (acl1_10K: 4.5 -> 2.2 steps per packet) for one load.
 */
const TABLE_MIN_BOXES = 256;
/**
 * A tree holding less than this share of its family's records gets SCAN_FLAT. Interleaved on
 * this machine: fw1_10K (its trees hold 75%, 24%, 2%) 35.6 -> ~26 ns; acl1_10K and the 1K sets
 * (one tree holds 96-100%) are faster with the branching scan.
 */
const FLAT_SHARE = 0.9;
export const HEADER_WORDS = 16;
/** Words per node (one cache line): internal [split x8, child x8]; leaf [SPLIT_NEVER x8, self, count, records, 0 x5]. */
export const NODE_WORDS = 16;
/** Node words hold word offsets below 2^28. */
const MAX_OFFSET = 2 ** 28;
export const NO_PORTS = 65536;
/** A split value no key is above (NONE with the top bit flipped). */
export const SPLIT_NEVER = 0x7fffffff;

/** A split value as stored: the top bit flipped, so that unsigned order is signed order. */
export function splitWord(v: number): number {
  return (v ^ 0x80000000) >>> 0;
}
/** Words per group of 4 IPv4 records, and the word of each field's 4 lanes within a group. */
export const G4_WORDS = 40;
export const G4_SRC_CARE = 0;
export const G4_SRC_VALUE = 4;
export const G4_DST_CARE = 8;
export const G4_DST_VALUE = 12;
export const G4_PROTO_CARE = 16;
export const G4_PROTO_VALUE = 20;
export const G4_PORTS_LO = 24;
export const G4_PORTS_HI = 28;
export const G4_ORDINAL = 32;
export const G4_EXTRA = 36;
/** Fields of an IPv4 record in a Box's rec words, in group order. */
const R4_FIELDS = 10;
const R4_EXTRA = 9;
/** Words per group of 4 IPv6 records; the lanes' common fields, then 16 address words per record. */
export const G6_WORDS = 88;
export const G6_PROTO_CARE = 0;
export const G6_PROTO_VALUE = 4;
export const G6_PORTS_LO = 8;
export const G6_PORTS_HI = 12;
export const G6_ORDINAL = 16;
export const G6_EXTRA = 20;
export const G6_ADDRESSES = 24;
/** IPv6 rec words: the 6 lane fields (group order), then the 16 address words. */
const R6_EXTRA = 5;
/** Bit of the protocol key set when the tuple has ports. */
export const PROTO_HAS_PORTS = 0x100;

/** Both ports' bounds in one word, as the IPv4 group stores them (signed 16-bit lanes). */
export function packPorts(sport: number, dport: number): number {
  return ((sport ^ 0x8000) | ((dport ^ 0x8000) << 16)) >>> 0;
}

export const H_ROOT4 = 1;
export const H_ROOT6 = 2;
export const H_WORDS = 3;
export const H_RECORDS4 = 5;
export const H_RECORDS6 = 6;
export const H_COUNT4 = 7;
export const H_COUNT6 = 8;

/** Words taken by `n` records of a family (IPv4: whole groups of 4). */
export function recordsWords(family: Family, n: number): number {
  return ((n + 3) >> 2) * (family === 4 ? G4_WORDS : G6_WORDS);
}

/**
 * Writes IPv4 record `i` of the group array at `at` from a Box's rec words (group field order);
 * `rec` undefined writes a lane that never matches.
 */
function putRecord4(a: Uint32Array, at: number, i: number, rec: readonly number[] | undefined): void {
  const g = at + (i >> 2) * G4_WORDS + (i & 3);
  if (!rec) {
    for (let f = 0; f < G4_WORDS; f += 4) a[g + f] = 0;
    a[g + G4_SRC_VALUE] = 1;
    a[g + G4_ORDINAL] = NONE;
    return;
  }
  for (let f = 0; f < R4_FIELDS; f++) a[g + 4 * f] = rec[f]!;
}

/** Writes IPv6 record `i` of the group array at `at` (see putRecord4). */
function putRecord6(a: Uint32Array, at: number, i: number, rec: readonly number[] | undefined): void {
  const g = at + (i >> 2) * G6_WORDS;
  const lane = g + (i & 3);
  const addr = g + G6_ADDRESSES + 16 * (i & 3);
  if (!rec) {
    for (let f = 0; f < G6_ADDRESSES; f += 4) a[lane + f] = 0;
    a[lane + G6_PROTO_VALUE] = 1;
    a[lane + G6_ORDINAL] = NONE;
    a.fill(0, addr, addr + 16);
    return;
  }
  for (let f = 0; f < 6; f++) a[lane + 4 * f] = rec[f]!;
  for (let k = 0; k < 16; k++) a[addr + k] = rec[6 + k]!;
}

/** Writes the records of `boxes` in order at `at`, in groups of 4 (the last one padded). */
function putRecords(st: { out: Words; family: Family }, at: number, boxes: readonly Box[]): void {
  const a = st.out.a;
  const put = st.family === 4 ? putRecord4 : putRecord6;
  const n = ((boxes.length + 3) >> 2) << 2;
  for (let i = 0; i < n; i++) put(a, at, i, boxes[i]?.rec);
}
export function dims(family: Family): number {
  return family === 4 ? 5 : 11;
}

export interface TreeOptions {
  /** Leaf size at which splitting stops. */
  leafSize?: number;
  /** Port-set cross products up to this many boxes are expanded into exact boxes. */
  maxExpand?: number;
  /** Words one tree may take before it is rebuilt with 4x larger leaves (bounds memory). */
  maxTreeWords?: number;
  /** IPv4 trees of at least this many boxes start at a root table (tests vary it). */
  tableMinBoxes?: number;
  /** Trees under this share of their family's records get SCAN_FLAT (tests vary it). */
  flatShare?: number;
}

/** One box of one rule during the build. */
interface Box {
  ordinal: number;
  lo: number[];
  hi: number[];
  /** The box is exactly the set the rule (part) covers, so covering a region means matching all of it. */
  exact: boolean;
  /** Record words (without the final layout offset of `extra`). */
  rec: number[];
  extraPorts?: [PortSet, PortSet];
}

/** Growable u32 word buffer. */
class Words {
  a = new Uint32Array(1024);
  n = 0;
  /** Reserves k words (rounded up to 4, keeping everything 16-byte aligned); returns the offset. */
  reserve(k: number): number {
    k = (k + 3) & ~3;
    const at = this.n;
    if (this.n + k > this.a.length) {
      let size = this.a.length * 2;
      while (size < this.n + k) size *= 2;
      const b = new Uint32Array(size);
      b.set(this.a.subarray(0, this.n));
      this.a = b;
    }
    this.n += k;
    return at;
  }
  /** Reserves k words starting at a multiple of 16 words (64 bytes: a cache line). */
  reserveLine(k: number): number {
    const pad = (16 - (this.n & 15)) & 15;
    if (pad) this.reserve(pad);
    return this.reserve(k);
  }
  push(...v: number[]): number {
    const at = this.reserve(v.length);
    for (let i = 0; i < v.length; i++) this.a[at + i] = v[i]! >>> 0;
    return at;
  }
}

function isContiguous(care: number): boolean {
  const inv = ~care >>> 0;
  return ((inv & (inv + 1)) >>> 0) === 0;
}

function portBounds(set: PortSet): [number, number] {
  if (isAnyPort(set)) return [0, NO_PORTS];
  return [set[0]!.lo, set[set.length - 1]!.hi];
}

function portRanges(set: PortSet): [number, number][] {
  if (isAnyPort(set)) return [[0, NO_PORTS]];
  return set.map((r) => [r.lo, r.hi]);
}

function addressWords(v: bigint, family: Family): number[] {
  if (family === 4) return [Number(v & 0xffffffffn)];
  return [Number((v >> 96n) & 0xffffffffn), Number((v >> 64n) & 0xffffffffn), Number((v >> 32n) & 0xffffffffn), Number(v & 0xffffffffn)];
}

/** Splits an entry into boxes (one per port-range pair when few, else one bounding box plus lists). */
export function entryBoxes(e: Entry, maxExpand: number): Box[] {
  const f = e.family;
  const sv = addressWords(e.src.value & e.src.care, f);
  const sc = addressWords(e.src.care, f);
  const dv = addressWords(e.dst.value & e.dst.care, f);
  const dc = addressWords(e.dst.care, f);
  const addrLo: number[] = [];
  const addrHi: number[] = [];
  let exact = true;
  for (const [v, c] of [...sv.map((v, i) => [v, sc[i]!]), ...dv.map((v, i) => [v, dc[i]!])] as [number, number][]) {
    addrLo.push(v);
    addrHi.push((v | ~c) >>> 0);
    if (!isContiguous(c)) exact = false;
  }
  const pLo = e.protocol === 0 ? 0 : e.protocol;
  const pHi = e.protocol === 0 ? 255 : e.protocol;
  // Records check the protocol and "has ports" as one masked compare, ports as 16-bit ranges.
  const portCondition = !isAnyPort(e.sport) || !isAnyPort(e.dport);
  const protoCare = (e.protocol === 0 ? 0 : 0xff) | (portCondition ? PROTO_HAS_PORTS : 0);
  const protoValue = e.protocol | (portCondition ? PROTO_HAS_PORTS : 0);
  const sr = portRanges(e.sport);
  const dr = portRanges(e.dport);
  const boxes: Box[] = [];
  const make = (s: [number, number], d: [number, number], ex: boolean, extra?: [PortSet, PortSet]): Box => ({
    ordinal: e.ordinal,
    lo: [...addrLo, s[0], d[0], pLo],
    hi: [...addrHi, s[1], d[1], pHi],
    exact: ex,
    rec: f === 4 ? [sc[0]!, sv[0]!, dc[0]!, dv[0]!, protoCare, protoValue, packPorts(s[0], d[0]), packPorts(Math.min(s[1], 65535), Math.min(d[1], 65535)), e.ordinal, 0] : [protoCare, protoValue, packPorts(s[0], d[0]), packPorts(Math.min(s[1], 65535), Math.min(d[1], 65535)), e.ordinal, 0, ...sv, ...sc, ...dv, ...dc],
    extraPorts: extra,
  });
  if (sr.length * dr.length <= maxExpand) {
    for (const s of sr) for (const d of dr) boxes.push(make(s, d, exact));
  } else {
    boxes.push(make(portBounds(e.sport), portBounds(e.dport), false, [e.sport, e.dport]));
  }
  return boxes;
}

export interface CompiledTree {
  /** The structure, `words` long (the array may be longer). */
  words: Uint32Array;
  /** Number of entries compiled. */
  rules: number;
  /** Records per family in ordinal order (offset, count): the linear engine scans these. */
  stats: { nodes4: number; nodes6: number; leafRecords: number; maxDepth: number; trees: number };
}

interface BuildState {
  out: Words;
  family: Family;
  leafSize: number;
  nodes: number;
  leafRecords: number;
  maxDepth: number;
  /** Word count at which the current tree attempt gives up. */
  budget: number;
  tableMinBoxes: number;
}

/** Builds the structure for a policy (entries of both families are allowed). */
export function buildTree(policy: Policy | readonly Entry[], options: TreeOptions = {}): CompiledTree {
  const entries = Array.isArray(policy) ? (policy as readonly Entry[]) : (policy as Policy).entries;
  const leafSize = options.leafSize ?? 8;
  const maxExpand = options.maxExpand ?? 16;
  const maxWords = options.maxTreeWords ?? 4 << 20;
  const flatShare = options.flatShare ?? FLAT_SHARE;
  const out = new Words();
  out.reserve(HEADER_WORDS);
  out.a[0] = MAGIC;
  writeLeaf(out.a, out.reserve(NODE_WORDS), 0, 0);
  const sorted = [...entries].sort((a, b) => a.ordinal - b.ordinal);
  const stats = { nodes4: 0, nodes6: 0, leafRecords: 0, maxDepth: 0, trees: 0 };
  for (const family of [4, 6] as Family[]) {
    const boxes: Box[] = [];
    // An entry written with object groups covers several selectors: each becomes records with the
    // entry's ordinal, so the first of them to match gives the entry.
    for (const e of sorted)
      for (const s of entrySelectors(e)) if (s.family === family) boxes.push(...entryBoxes(s === e ? e : { ...s, ordinal: e.ordinal, action: e.action }, maxExpand));
    // Canonical records in ordinal order (for the linear engine and for port lists).
    // Port lists first, so that every record carries its final `extra` offset.
    for (const b of boxes) {
      if (!b.extraPorts) continue;
      const [s, d] = b.extraPorts;
      b.rec[family === 4 ? R4_EXTRA : R6_EXTRA] = out.push(s.length, ...s.flatMap((r) => [r.lo, r.hi]), d.length, ...d.flatMap((r) => [r.lo, r.hi]));
    }
    const recStart = out.reserve(recordsWords(family, boxes.length));
    putRecords({ out, family }, recStart, boxes);
    out.a[family === 4 ? H_RECORDS4 : H_RECORDS6] = recStart;
    out.a[family === 4 ? H_COUNT4 : H_COUNT6] = boxes.length;
    if (boxes.length === 0) {
      out.a[family === 4 ? H_ROOT4 : H_ROOT6] = NONE;
      continue;
    }
    // Wildcard-heavy rules make one tree blow up (each split on a dimension copies every rule
    // that is wide in it), so rules are partitioned by which address fields are wide, CutSplit
    // style, and each group gets its own tree; a lookup walks every tree and keeps the smallest
    // ordinal (leaf scans stop at the best ordinal found so far). Rules specific in both
    // addresses join the larger of the one-wide groups (its tree cuts the other address, where
    // they are specific too): one tree fewer to walk for most packets (fw1: 2.9 -> 2.0 trees per
    // packet, with fewer steps and leaf groups in all).
    const groups: Box[][] = [[], [], [], []];
    for (const b of boxes) groups[(wide(b.lo, b.hi, family, 0) ? 1 : 0) | (wide(b.lo, b.hi, family, 1) ? 2 : 0)]!.push(b);
    const into = groups[1]!.length >= groups[2]!.length ? 1 : 2;
    groups[into] = mergeByOrdinal(groups[0]!, groups[into]!);
    groups[0] = [];
    const st: BuildState = { out, family, leafSize, nodes: 0, leafRecords: 0, maxDepth: 0, budget: 0, tableMinBoxes: options.tableMinBoxes ?? TABLE_MIN_BOXES };
    const trees: { root: number; first: number; boxes: number; table?: number }[] = [];
    // Better still, one tree for both one-wide groups, when it stays small (a policy of at most
    // MERGE_MAX_BOXES boxes, MERGE_WORDS_PER_BOX words each): then most packets walk one tree
    // (fw1_1K: ~37 -> ~22 ns/packet). Its leaves are smaller (MERGE_LEAF): these rules overlap
    // more, and a leaf scan then checks fewer candidates. Over its budget, the attempt is
    // dropped and each group gets its own tree.
    const one = [groups[1]!, groups[2]!];
    if (one[0]!.length > 0 && one[1]!.length > 0 && one[0]!.length + one[1]!.length <= MERGE_MAX_BOXES) {
      const merged = mergeByOrdinal(one[0]!, one[1]!);
      const built = buildGroup(st, merged, merged.length * MERGE_WORDS_PER_BOX, Math.min(leafSize, MERGE_LEAF), false);
      if (built !== undefined) {
        trees.push({ ...built, first: merged[0]!.ordinal, boxes: merged.length });
        groups[1] = [];
        groups[2] = [];
      }
    }
    for (const g of groups) if (g.length > 0) trees.push({ ...buildGroup(st, g, maxWords, leafSize, true)!, first: g[0]!.ordinal, boxes: g.length });
    // Trees in order of their first ordinal: once a match is found, every later tree whose first
    // ordinal is not smaller is skipped.
    trees.sort((x, y) => x.first - y.first);
    const list = out.reserve(1 + TREE_WORDS * trees.length);
    out.a[list] = trees.length;
    trees.forEach((t, k) => {
      out.a[list + 1 + TREE_WORDS * k] = t.root;
      out.a[list + 2 + TREE_WORDS * k] = t.first;
      out.a[list + 3 + TREE_WORDS * k] = (t.boxes < flatShare * boxes.length ? SCAN_FLAT : 0) | (t.table !== undefined ? SCAN_TABLE | (t.table << 4) : 0);
    });
    out.a[family === 4 ? H_ROOT4 : H_ROOT6] = list;
    if (family === 4) stats.nodes4 = st.nodes;
    else stats.nodes6 = st.nodes;
    stats.leafRecords += st.leafRecords;
    stats.maxDepth = Math.max(stats.maxDepth, st.maxDepth);
    stats.trees += trees.length;
  }
  // The flat scan reads two record groups at a time, past the end of a leaf's records.
  out.reserve(2 * G4_WORDS);
  out.a[H_WORDS] = out.n;
  return { words: out.a.subarray(0, out.n), rules: entries.length, stats };
}

/** Is address field `which` (0 src, 1 dst) wider than a /16 (IPv4) or /48 (IPv6)? */
function wide(lo: number[], hi: number[], family: Family, which: 0 | 1): boolean {
  if (family === 4) return hi[which]! - lo[which]! >= 0x10000;
  const w = which * 4;
  return lo[w] !== hi[w] || hi[w + 1]! - lo[w + 1]! >= 0x10000;
}

/** Largest policy (in boxes) for which one tree of both one-wide groups is tried. */
const MERGE_MAX_BOXES = 4096;
/** Words per box that tree may take (8 KB per rule). */
const MERGE_WORDS_PER_BOX = 2048;
/** Its leaf size. */
const MERGE_LEAF = 4;

/** Two lists of boxes in ordinal order, merged in ordinal order (stable: `a` first on ties). */
function mergeByOrdinal(a: readonly Box[], b: readonly Box[]): Box[] {
  const out: Box[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (j >= b.length || (i < a.length && a[i]!.ordinal <= b[j]!.ordinal)) out.push(a[i++]!);
    else out.push(b[j++]!);
  }
  return out;
}

class OverBudget extends Error {}

/**
 * Builds one tree for `boxes` with leaves of `leafSize`; returns its root offset. Over
 * `maxWords`, retries with 4x larger leaves when `grow`, else gives up (undefined, nothing kept).
 */
function buildGroup(st: BuildState, boxes: Box[], maxWords: number, leafSize: number, grow: boolean): { root: number; table?: number } | undefined {
  const D = dims(st.family);
  const lo: number[] = [];
  const hi: number[] = [];
  for (let d = 0; d < D; d++) {
    lo.push(0);
    hi.push(d < D - 3 ? 0xffffffff : d === D - 1 ? 255 : NO_PORTS);
  }
  const start = st.out.n;
  const saved = { nodes: st.nodes, leafRecords: st.leafRecords, maxDepth: st.maxDepth };
  st.leafSize = leafSize;
  // Over the budget with a root table, the next attempt goes without one, then with larger leaves.
  let table = st.family === 4 && boxes.length >= st.tableMinBoxes;
  for (;;) {
    st.budget = start + maxWords;
    try {
      if (table) {
        const s = bestSplit(boxes, lo, hi, [0, 1]);
        if (s) return { root: buildTable(st, boxes, lo, hi, s.dim), table: s.dim };
      }
      return { root: build(st, boxes, lo, hi, st.out.reserveLine(NODE_WORDS), 0) };
    } catch (err) {
      if (!(err instanceof OverBudget)) throw err;
      st.out.n = start;
      st.nodes = saved.nodes;
      st.leafRecords = saved.leafRecords;
      st.maxDepth = saved.maxDepth;
      if (table) {
        table = false;
        continue;
      }
      if (!grow) return undefined;
      st.leafSize *= 4;
    }
  }
}

/**
 * A root table over the top TABLE_BITS bits of address dimension `dim`: one subtree per run of
 * cells that the same boxes meet (a subtree is exact for any part of its region). A lookup
 * indexes it instead of taking the tree's top steps. Returns the table's word offset.
 */
function buildTable(st: BuildState, boxes: Box[], lo: number[], hi: number[], dim: number): number {
  const cells = 2 ** TABLE_BITS;
  const width = 2 ** (32 - TABLE_BITS);
  const table = st.out.reserveLine(cells);
  const first = new Int32Array(boxes.length);
  const last = new Int32Array(boxes.length);
  boxes.forEach((b, i) => {
    first[i] = Math.floor(b.lo[dim]! / width);
    last[i] = Math.floor(b.hi[dim]! / width);
  });
  // The set of boxes changes only at a cell where a box starts or after one where a box ends.
  const cuts = [...new Set([0, ...first, ...Array.from(last, (c) => c + 1)])].filter((c) => c < cells).sort((a, b) => a - b);
  cuts.push(cells);
  for (let k = 0; k + 1 < cuts.length; k++) {
    const c = cuts[k]!;
    const run: Box[] = [];
    for (let i = 0; i < boxes.length; i++) if (first[i]! <= c && last[i]! >= c) run.push(boxes[i]!);
    const clo = lo.slice();
    const chi = hi.slice();
    clo[dim] = c * width;
    chi[dim] = cuts[k + 1]! * width - 1;
    const word = build(st, run, clo, chi, st.out.reserveLine(NODE_WORDS), 1);
    st.out.a.fill(word, table + c, table + cuts[k + 1]!); // after the build: it may reallocate
  }
  return table;
}

function covers(b: Box, lo: number[], hi: number[]): boolean {
  if (!b.exact) return false;
  for (let d = 0; d < lo.length; d++) if (b.lo[d]! > lo[d]! || b.hi[d]! < hi[d]!) return false;
  return true;
}

interface Split {
  dim: number;
  split: number;
  /** max(left, right) rule count after the split, then left + right. */
  cost: number;
  sum: number;
}

/**
 * The split of the region [lo, hi] over `dims` that minimises the larger side's rule count (ties:
 * the total, i.e. the least replication). Left gets boxes starting <= v, right boxes ending > v.
 */
function bestSplit(boxes: readonly Box[], lo: readonly number[], hi: readonly number[], dimsToTry: readonly number[]): Split | undefined {
  const n = boxes.length;
  const los = new Float64Array(n);
  const his = new Float64Array(n);
  let best: Split | undefined;
  const consider = (d: number, v: number, left: number, right: number) => {
    const cost = Math.max(left, right);
    const sum = left + right;
    if (!best || cost < best.cost || (cost === best.cost && sum < best.sum)) best = { dim: d, split: v, cost, sum };
  };
  for (const d of dimsToTry) {
    const rlo = lo[d]!;
    const rhi = hi[d]!;
    if (rlo === rhi) continue;
    for (let i = 0; i < n; i++) {
      const b = boxes[i]!;
      los[i] = Math.max(b.lo[d]!, rlo);
      his[i] = Math.min(b.hi[d]!, rhi);
    }
    los.sort();
    his.sort();
    // Candidates: each box end below the region end ...
    let l = 0;
    for (let j = 0; j < n; j++) {
      const v = his[j]!;
      if (v >= rhi) break;
      if (j + 1 < n && his[j + 1] === v) continue;
      while (l < n && los[l]! <= v) l++;
      consider(d, v, l, n - (j + 1));
    }
    // ... and just before each box start inside the region.
    let h = 0;
    for (let j = 0; j < n; j++) {
      const start = los[j]!;
      if (start <= rlo) continue;
      if (j > 0 && los[j - 1] === start) continue;
      const v = start - 1;
      while (h < n && his[h]! <= v) h++;
      consider(d, v, j, n - h);
    }
  }
  return best;
}

/** Children per internal node (at most): one 16-word node holds 7 split values and 8 children. */
const FANOUT_ROUNDS = 3;

/**
 * Writes the node for `boxes` (in ordinal order) restricted to the region [lo, hi] at `at`.
 * Internal nodes split one dimension into up to 8 intervals (the best split, then the best splits
 * of each half in the same dimension, three rounds), so a lookup takes a third of the steps of a
 * binary tree and picks the child with two SIMD compares.
 */
function build(st: BuildState, boxes: Box[], lo: number[], hi: number[], at: number, depth: number): number {
  if (st.out.n > st.budget) throw new OverBudget();
  st.nodes++;
  if (depth > st.maxDepth) st.maxDepth = depth;
  // Everything after a rule that covers the whole region is unreachable here.
  for (let i = 0; i < boxes.length; i++)
    if (covers(boxes[i]!, lo, hi)) {
      boxes = boxes.slice(0, i + 1);
      break;
    }
  const n = boxes.length;
  const all = lo.map((_, d) => d);
  const first = n > st.leafSize ? bestSplit(boxes, lo, hi, all) : undefined;
  const out = st.out;
  if (!first || first.cost >= n) {
    st.leafRecords += n;
    if (n === 0) return writeLeaf(out.a, at, 0, 0);
    // The leaf's line right before its records (its slot at `at` stays unused): a lookup
    // knows where the records are from the leaf's node word, without waiting for the leaf.
    const leaf = out.reserveLine(NODE_WORDS + recordsWords(st.family, n));
    putRecords(st, leaf + NODE_WORDS, boxes);
    return writeLeaf(out.a, leaf, n, leaf + NODE_WORDS);
  }
  const dim = first.dim;
  type Part = { lo: number; hi: number; boxes: Box[] };
  const cut = (p: Part, v: number): [Part, Part] => {
    const l: Box[] = [];
    const r: Box[] = [];
    for (const b of p.boxes) {
      if (Math.max(b.lo[dim]!, p.lo) <= v) l.push(b);
      if (Math.min(b.hi[dim]!, p.hi) > v) r.push(b);
    }
    return [
      { lo: p.lo, hi: v, boxes: l },
      { lo: v + 1, hi: p.hi, boxes: r },
    ];
  };
  let parts: Part[] = cut({ lo: lo[dim]!, hi: hi[dim]!, boxes }, first.split);
  for (let round = 1; round < FANOUT_ROUNDS; round++) {
    const next: Part[] = [];
    for (const p of parts) {
      const m = p.boxes.length;
      if (m <= st.leafSize) {
        next.push(p);
        continue;
      }
      const plo = lo.slice();
      const phi = hi.slice();
      plo[dim] = p.lo;
      phi[dim] = p.hi;
      const s = bestSplit(p.boxes, plo, phi, [dim]);
      if (!s || s.cost >= m) next.push(p);
      else next.push(...cut(p, s.split));
    }
    parts = next;
  }
  const k = parts.length;
  const children = out.reserveLine(k * NODE_WORDS);
  if (children + k * NODE_WORDS >= MAX_OFFSET) throw new OverBudget();
  const words = parts.map((p, j) => {
    const clo = lo.slice();
    const chi = hi.slice();
    clo[dim] = p.lo;
    chi[dim] = p.hi;
    return build(st, p.boxes, clo, chi, children + j * NODE_WORDS, depth + 1);
  });
  const a = out.a; // read after the children: building may have reallocated it
  for (let j = 0; j < 8; j++) {
    a[at + j] = j < k - 1 ? splitWord(parts[j]!.hi) : SPLIT_NEVER;
    a[at + 8 + j] = words[Math.min(j, k - 1)]!;
  }
  return nodeWord(at, dim);
}

/** The node word of the node at word offset `at` with dimension `dim` (LEAF_DIM: a leaf). */
export function nodeWord(at: number, dim: number): number {
  return ((at << 4) | dim) >>> 0;
}

/**
 * Writes a leaf of `count` records at `records` into node `at`; returns its node word. A step
 * from a leaf stays on it (no split is below any key, child 0 is the leaf itself), so the wasm
 * lock-step walk steps every lane without a branch per lane.
 */
function writeLeaf(a: Uint32Array, at: number, count: number, records: number): number {
  const self = nodeWord(at, LEAF_DIM);
  for (let j = 0; j < 8; j++) a[at + j] = SPLIT_NEVER;
  a.fill(0, at + 8, at + 16);
  a[at + 8] = self;
  a[at + 9] = count;
  a[at + 10] = records;
  return self;
}
