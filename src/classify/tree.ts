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
//   node    internal: [dim, k, 0, 0, split0..split7, child0..child7] (NODE_WORDS): the key
//                     goes to child #{j : key[dim] > split_j} (unsigned; unused splits = NONE)
//           leaf:     [LEAF, count, recordsOffset, 0, NONE x8, self x8] (a step stays on it)
//   list    [k, root1, firstOrdinal1, ..., rootk, firstOrdinalk]: the trees of one family
//   record  IPv4: records go in groups of 4, struct-of-arrays (G4_WORDS = 48 words per group):
//             [srcCare x4, srcValue x4, dstCare x4, dstValue x4, pLo x4, pHi x4, sLo x4, sHi x4,
//              dLo x4, dHi x4, ordinal x4, extra x4]; record i is lane i & 3 of group i >> 2, so
//             one packet is checked against 4 records with a few 4-lane compares (SIMD build),
//             or record by record (scalar build, ts). Unused lanes of the last group never match
//             (srcCare 0, srcValue 1) and have ordinal NONE.
//           IPv6 (24 words): [ordinal, extra, pLo, pHi, sLo, sHi, dLo, dHi, srcValue x4,
//             srcCare x4, dstValue x4, dstCare x4] (most significant word first; each address
//             one 4-lane masked compare)
//   extra   0, or the offset of [nS, lo, hi, ..., nD, lo, hi, ...] for port sets with many ranges
// Dimensions: IPv4 0 src, 1 dst, 2 sport, 3 dport, 4 proto; IPv6 0-3 src words (0 = most
// significant), 4-7 dst words, 8 sport, 9 dport, 10 proto. NONE (0xffffffff) marks an empty tree.
// assembly/classify.ts reads exactly this layout; change both together.
import type { Entry, Family, Policy, PortSet } from '../selector/types.js';
import { entrySelectors, isAnyPort } from '../selector/algebra.js';

export const MAGIC = 0x54454431; // "TED1"
export const LEAF = 0xff;
export const NONE = 0xffffffff;
export const HEADER_WORDS = 16;
/** Words per node: internal [dim, children, 0, 0, split x8 (unused = NONE), child x8]; leaf [LEAF, count, records, 0, ...]. */
export const NODE_WORDS = 20;
export const NO_PORTS = 65536;
/** Words per group of 4 IPv4 records, and the word of each field's 4 lanes within a group. */
export const G4_WORDS = 48;
export const G4_SRC_CARE = 0;
export const G4_SRC_VALUE = 4;
export const G4_DST_CARE = 8;
export const G4_DST_VALUE = 12;
export const G4_PLO = 16;
export const G4_PHI = 20;
export const G4_SLO = 24;
export const G4_SHI = 28;
export const G4_DLO = 32;
export const G4_DHI = 36;
export const G4_ORDINAL = 40;
export const G4_EXTRA = 44;
/** Index of `extra` in a Box's record words (rec4 order below). */
const R4_EXTRA = 15;
export const H_ROOT4 = 1;
export const H_ROOT6 = 2;
export const H_WORDS = 3;
export const H_RECORDS4 = 5;
export const H_RECORDS6 = 6;
export const H_COUNT4 = 7;
export const H_COUNT6 = 8;

/** Words taken by `n` records of a family (IPv4: whole groups of 4). */
export function recordsWords(family: Family, n: number): number {
  return family === 4 ? ((n + 3) >> 2) * G4_WORDS : n * 24;
}

/**
 * Writes IPv4 record `i` of the group array at `at` from a Box's rec words
 * [pLo, sLo, dLo, 0, pHi, sHi, dHi, NONE, srcCare, dstCare, 0, 0, srcValue, dstValue, ordinal, extra];
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
  a[g + G4_SRC_CARE] = rec[8]!;
  a[g + G4_SRC_VALUE] = rec[12]!;
  a[g + G4_DST_CARE] = rec[9]!;
  a[g + G4_DST_VALUE] = rec[13]!;
  a[g + G4_PLO] = rec[0]!;
  a[g + G4_PHI] = rec[4]!;
  a[g + G4_SLO] = rec[1]!;
  a[g + G4_SHI] = rec[5]!;
  a[g + G4_DLO] = rec[2]!;
  a[g + G4_DHI] = rec[6]!;
  a[g + G4_ORDINAL] = rec[14]!;
  a[g + G4_EXTRA] = rec[R4_EXTRA]!;
}

/** Writes the records of `boxes` in order at `at` (IPv4 groups padded to 4; IPv6 copied from `src`). */
function putRecords(st: { out: Words; family: Family }, at: number, boxes: readonly Box[], src?: (b: Box) => number): void {
  const a = st.out.a;
  if (st.family === 4) {
    const n = ((boxes.length + 3) >> 2) << 2;
    for (let i = 0; i < n; i++) putRecord4(a, at, i, boxes[i]?.rec);
    return;
  }
  for (let i = 0; i < boxes.length; i++) {
    if (src) {
      const from = src(boxes[i]!);
      a.copyWithin(at + i * 24, from, from + 24);
    } else for (let k = 0; k < 24; k++) a[at + i * 24 + k] = boxes[i]!.rec[k]! >>> 0;
  }
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
  const sr = portRanges(e.sport);
  const dr = portRanges(e.dport);
  const boxes: Box[] = [];
  const make = (s: [number, number], d: [number, number], ex: boolean, extra?: [PortSet, PortSet]): Box => ({
    ordinal: e.ordinal,
    lo: [...addrLo, s[0], d[0], pLo],
    hi: [...addrHi, s[1], d[1], pHi],
    exact: ex,
    rec: f === 4 ? [pLo, s[0], d[0], 0, pHi, s[1], d[1], NONE, sc[0]!, dc[0]!, 0, 0, sv[0]!, dv[0]!, e.ordinal, 0] : [e.ordinal, 0, pLo, pHi, s[0], s[1], d[0], d[1], ...sv, ...sc, ...dv, ...dc],
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
  recordOffset: Map<Box, number>;
  /** Word count at which the current tree attempt gives up. */
  budget: number;
}

/** Builds the structure for a policy (entries of both families are allowed). */
export function buildTree(policy: Policy | readonly Entry[], options: TreeOptions = {}): CompiledTree {
  const entries = Array.isArray(policy) ? (policy as readonly Entry[]) : (policy as Policy).entries;
  const leafSize = options.leafSize ?? 8;
  const maxExpand = options.maxExpand ?? 16;
  const maxWords = options.maxTreeWords ?? 4 << 20;
  const out = new Words();
  out.reserve(HEADER_WORDS);
  out.a[0] = MAGIC;
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
      b.rec[family === 4 ? R4_EXTRA : 1] = out.push(s.length, ...s.flatMap((r) => [r.lo, r.hi]), d.length, ...d.flatMap((r) => [r.lo, r.hi]));
    }
    const recordOffset = new Map<Box, number>();
    const recStart = out.reserve(recordsWords(family, boxes.length));
    putRecords({ out, family }, recStart, boxes);
    if (family === 6) boxes.forEach((b, i) => recordOffset.set(b, recStart + i * 24));
    out.a[family === 4 ? H_RECORDS4 : H_RECORDS6] = recStart;
    out.a[family === 4 ? H_COUNT4 : H_COUNT6] = boxes.length;
    if (boxes.length === 0) {
      out.a[family === 4 ? H_ROOT4 : H_ROOT6] = NONE;
      continue;
    }
    // Wildcard-heavy rules make one tree blow up (each split on a dimension copies every rule
    // that is wide in it), so rules are partitioned by which address fields are wide, CutSplit
    // style, and each group gets its own tree; a lookup walks every tree and keeps the smallest
    // ordinal (leaf scans stop at the best ordinal found so far).
    const groups: Box[][] = [[], [], [], []];
    for (const b of boxes) groups[(wide(b.lo, b.hi, family, 0) ? 1 : 0) | (wide(b.lo, b.hi, family, 1) ? 2 : 0)]!.push(b);
    const used = groups.filter((g) => g.length > 0);
    // Trees in order of their first ordinal: once a match is found, every later tree whose first
    // ordinal is not smaller is skipped.
    used.sort((x, y) => x[0]!.ordinal - y[0]!.ordinal);
    const list = out.reserve(1 + 2 * used.length);
    out.a[list] = used.length;
    const st: BuildState = { out, family, leafSize, nodes: 0, leafRecords: 0, maxDepth: 0, recordOffset, budget: 0 };
    used.forEach((g, k) => {
      const root = buildGroup(st, g, maxWords); // may reallocate out.a: read it after
      out.a[list + 1 + 2 * k] = root;
      out.a[list + 2 + 2 * k] = g[0]!.ordinal;
    });
    out.a[family === 4 ? H_ROOT4 : H_ROOT6] = list;
    if (family === 4) stats.nodes4 = st.nodes;
    else stats.nodes6 = st.nodes;
    stats.leafRecords += st.leafRecords;
    stats.maxDepth = Math.max(stats.maxDepth, st.maxDepth);
    stats.trees += used.length;
  }
  out.a[H_WORDS] = out.n;
  return { words: out.a.subarray(0, out.n), rules: entries.length, stats };
}

/** Is address field `which` (0 src, 1 dst) wider than a /16 (IPv4) or /48 (IPv6)? */
function wide(lo: number[], hi: number[], family: Family, which: 0 | 1): boolean {
  if (family === 4) return hi[which]! - lo[which]! >= 0x10000;
  const w = which * 4;
  return lo[w] !== hi[w] || hi[w + 1]! - lo[w + 1]! >= 0x10000;
}

class OverBudget extends Error {}

/** Builds one tree for `boxes`; returns its root offset. Retries with larger leaves when too big. */
function buildGroup(st: BuildState, boxes: Box[], maxWords: number): number {
  const D = dims(st.family);
  const lo: number[] = [];
  const hi: number[] = [];
  for (let d = 0; d < D; d++) {
    lo.push(0);
    hi.push(d < D - 3 ? 0xffffffff : d === D - 1 ? 255 : NO_PORTS);
  }
  const start = st.out.n;
  const saved = { nodes: st.nodes, leafRecords: st.leafRecords, leafSize: st.leafSize };
  for (;;) {
    st.budget = start + maxWords;
    try {
      const root = st.out.reserve(NODE_WORDS);
      build(st, boxes, lo, hi, root, 0);
      st.leafSize = saved.leafSize;
      return root;
    } catch (err) {
      if (!(err instanceof OverBudget)) throw err;
      st.out.n = start;
      st.nodes = saved.nodes;
      st.leafRecords = saved.leafRecords;
      st.leafSize *= 4;
    }
  }
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
function build(st: BuildState, boxes: Box[], lo: number[], hi: number[], at: number, depth: number): void {
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
    const recs = out.reserve(recordsWords(st.family, n));
    putRecords(st, recs, boxes, (b) => st.recordOffset.get(b)!);
    st.leafRecords += n;
    const a = out.a;
    a[at] = LEAF;
    a[at + 1] = n;
    a[at + 2] = recs;
    a[at + 3] = 0;
    // A step from a leaf stays on it (no split is below any key, child 0 is the leaf itself), so
    // the wasm lock-step walk steps every lane without a branch per lane.
    for (let j = 0; j < 8; j++) a[at + 4 + j] = NONE;
    for (let j = 0; j < 8; j++) a[at + 12 + j] = at;
    return;
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
  const children = out.reserve(k * NODE_WORDS);
  const a = out.a;
  a[at] = dim;
  a[at + 1] = k;
  a[at + 2] = 0;
  a[at + 3] = 0;
  for (let j = 0; j < 8; j++) {
    a[at + 4 + j] = j < k - 1 ? parts[j]!.hi : NONE;
    a[at + 12 + j] = j < k ? children + j * NODE_WORDS : children + (k - 1) * NODE_WORDS;
  }
  parts.forEach((p, j) => {
    const clo = lo.slice();
    const chi = hi.slice();
    clo[dim] = p.lo;
    chi[dim] = p.hi;
    build(st, p.boxes, clo, chi, children + j * NODE_WORDS, depth + 1);
  });
}
