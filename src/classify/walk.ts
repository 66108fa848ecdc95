// The `ts` engine's lookup and the `linear` engine's scan over the structure built by ./tree.ts:
// the TypeScript twin of assembly/classify.ts (same layout, same steps).
import { FLAG_HAS_PORTS, type TupleBatch } from './batch.js';
import { H_COUNT4, H_COUNT6, H_RECORDS4, H_RECORDS6, H_ROOT4, H_ROOT6, NONE, NO_PORTS, PROTO_HAS_PORTS, SCAN_TABLE, TABLE_BITS, TREE_WORDS } from './tree.js';

// The IPv4 group layout of tree.ts (G4_*) as local literals: V8 does not constant-fold imported
// bindings, and loading them inside the record loop cost ~15% of the whole lookup (measured).
// test/classify-property.test.ts checks these (and LEAF) against tree.ts.
export const G4 = { words: 40, srcCare: 0, srcValue: 4, dstCare: 8, dstValue: 12, protoCare: 16, protoValue: 20, portsLo: 24, portsHi: 28, ordinal: 32, extra: 36 } as const;

const LIMIT = 0xffffffff;

function inPorts(w: Uint32Array, at: number, port: number): boolean {
  const n = w[at]!;
  for (let i = 0; i < n; i++) if (port >= w[at + 1 + 2 * i]! && port <= w[at + 2 + 2 * i]!) return true;
  return false;
}

/** Extra port lists of one record (bounding box already passed). */
function extraOk(w: Uint32Array, extra: number, sport: number, dport: number): boolean {
  if (!inPorts(w, extra, sport)) return false;
  return inPorts(w, extra + 1 + 2 * w[extra]!, dport);
}

/**
 * First matching IPv4 record among `count` records in groups of 4 at `r` (see tree.ts; ordinal
 * order) with an ordinal below `limit`; its ordinal or 0. Record by record: the scalar twin of
 * the SIMD group check in assembly/classify.ts, with the same checks and the same answer.
 * `proto` is the protocol key (protocol | PROTO_HAS_PORTS when the tuple has ports), `sport` and
 * `dport` are 0 for a tuple without ports.
 */
export function scan4(w: Uint32Array, r: number, count: number, src: number, dst: number, sport: number, dport: number, proto: number, limit: number): number {
  // Whole groups: the unused lanes of the last one have ordinal NONE (>= any limit), so the scan
  // stops there.
  for (let end = r + ((count + 3) >> 2) * 40; r < end; r += 40) {
    for (let g = r; g < r + 4; g++) {
      const ord = w[g + 32]!;
      if (ord >= limit) return 0;
      if (((src & w[g]!) >>> 0) !== w[g + 4]!) continue;
      if (((dst & w[g + 8]!) >>> 0) !== w[g + 12]!) continue;
      if ((proto & w[g + 16]!) !== w[g + 20]!) continue;
      // Packed port bounds: (port ^ 0x8000) per 16-bit half (tree.ts packPorts).
      const lo = w[g + 24]!;
      const hi = w[g + 28]!;
      if (sport < ((lo & 0xffff) ^ 0x8000) || sport > ((hi & 0xffff) ^ 0x8000)) continue;
      if (dport < ((lo >>> 16) ^ 0x8000) || dport > ((hi >>> 16) ^ 0x8000)) continue;
      const extra = w[g + 36]!;
      if (extra !== 0 && !extraOk(w, extra, sport, dport)) continue;
      return ord;
    }
  }
  return 0;
}

/**
 * IPv6 records in groups of 4 (see tree.ts): `key` holds the 8 address words at key[0..8); ports
 * and protocol key as for scan4.
 */
export function scan6(w: Uint32Array, r: number, count: number, key: Uint32Array, sport: number, dport: number, proto: number, limit: number): number {
  for (let end = r + ((count + 3) >> 2) * 88; r < end; r += 88) {
    next: for (let lane = 0; lane < 4; lane++) {
      const g = r + lane;
      const ord = w[g + 16]!;
      if (ord >= limit) return 0;
      if ((proto & w[g]!) !== w[g + 4]!) continue;
      const lo = w[g + 8]!;
      const hi = w[g + 12]!;
      if (sport < ((lo & 0xffff) ^ 0x8000) || sport > ((hi & 0xffff) ^ 0x8000)) continue;
      if (dport < ((lo >>> 16) ^ 0x8000) || dport > ((hi >>> 16) ^ 0x8000)) continue;
      const a = r + 24 + 16 * lane; // [srcValue x4, srcCare x4, dstValue x4, dstCare x4]
      for (let k = 0; k < 4; k++) if (((key[k]! & w[a + 4 + k]!) >>> 0) !== w[a + k]!) continue next;
      for (let k = 0; k < 4; k++) if (((key[4 + k]! & w[a + 12 + k]!) >>> 0) !== w[a + 8 + k]!) continue next;
      const extra = w[g + 20]!;
      if (extra !== 0 && !extraOk(w, extra, sport, dport)) continue;
      return ord;
    }
  }
  return 0;
}

/**
 * From the node word `nw` down to a leaf; the leaf's word offset. The child is the number of
 * split values below the key. Splits are stored with the top bit flipped (tree.ts splitWord):
 * `s` is the structure as signed words, and the key is flipped the same way. A node word is the
 * node's offset << 4 | its dimension, 15 for a leaf (literals: see G4 above).
 */
function descend(w: Uint32Array, s: Int32Array, nw: number, key: Uint32Array): number {
  for (let dim = nw & 15; dim !== 15; dim = nw & 15) {
    const n = nw >>> 4;
    const k = key[dim]! ^ 0x80000000;
    let c = 0;
    while (k > s[n + c]!) c++; // split 7 is SPLIT_NEVER: stops there at the latest
    nw = w[n + 8 + c]!;
  }
  return nw >>> 4;
}

/** Tree lookup for one batch (the `ts` engine); `sw` is `w` as signed words (see descend). */
export function walkBatch(w: Uint32Array, batch: TupleBatch, count: number, results: Int32Array, sw = new Int32Array(w.buffer, w.byteOffset, w.length)): void {
  const root4 = w[H_ROOT4]!;
  const root6 = w[H_ROOT6]!;
  const key = new Uint32Array(11);
  const { family, src, dst, src6, dst6, sport, dport, proto, flags } = batch;
  for (let i = 0; i < count; i++) {
    const f = family[i]!;
    const hp = (flags[i]! & FLAG_HAS_PORTS) !== 0;
    // Tree keys: a tuple without ports has port NO_PORTS; record keys: port 0 and no
    // PROTO_HAS_PORTS bit in the protocol key.
    const sp = hp ? sport[i]! : 0;
    const dp = hp ? dport[i]! : 0;
    const p = proto[i]!;
    const pk = hp ? p | PROTO_HAS_PORTS : p;
    if (f === 4) {
      if (root4 === NONE) {
        results[i] = 0;
        continue;
      }
      const s = src[i]!;
      const d = dst[i]!;
      key[0] = s;
      key[1] = d;
      key[2] = hp ? sp : NO_PORTS;
      key[3] = hp ? dp : NO_PORTS;
      key[4] = p;
      let best = LIMIT;
      for (let t = 0, k = w[root4]!; t < k; t++) {
        const at = root4 + 1 + TREE_WORDS * t;
        if (w[at + 1]! >= best) break;
        // A tree with a root table starts at the node word its cell holds (tree.ts).
        const mode = w[at + 2]!;
        const start = (mode & SCAN_TABLE) !== 0 ? w[w[at]! + (key[(mode >>> 4) & 15]! >>> (32 - TABLE_BITS))]! : w[at]!;
        const n = descend(w, sw, start, key);
        const m = scan4(w, w[n + 10]!, w[n + 9]!, s, d, sp, dp, pk, best);
        if (m !== 0) best = m;
      }
      results[i] = best === LIMIT ? 0 : best;
    } else if (f === 6) {
      if (root6 === NONE) {
        results[i] = 0;
        continue;
      }
      const o = i * 4;
      key[0] = src6[o]!;
      key[1] = src6[o + 1]!;
      key[2] = src6[o + 2]!;
      key[3] = src6[o + 3]!;
      key[4] = dst6[o]!;
      key[5] = dst6[o + 1]!;
      key[6] = dst6[o + 2]!;
      key[7] = dst6[o + 3]!;
      key[8] = hp ? sp : NO_PORTS;
      key[9] = hp ? dp : NO_PORTS;
      key[10] = p;
      let best = LIMIT;
      for (let t = 0, k = w[root6]!; t < k; t++) {
        const at = root6 + 1 + TREE_WORDS * t;
        if (w[at + 1]! >= best) break;
        const n = descend(w, sw, w[at]!, key);
        const m = scan6(w, w[n + 10]!, w[n + 9]!, key, sp, dp, pk, best);
        if (m !== 0) best = m;
      }
      results[i] = best === LIMIT ? 0 : best;
    } else {
      results[i] = 0;
    }
  }
}

/** The obvious scan over every record in ordinal order (the `linear` engine). */
export function scanBatch(w: Uint32Array, batch: TupleBatch, count: number, results: Int32Array): void {
  const r4 = w[H_RECORDS4]!;
  const n4 = w[H_COUNT4]!;
  const r6 = w[H_RECORDS6]!;
  const n6 = w[H_COUNT6]!;
  const key = new Uint32Array(11);
  const { family, src, dst, src6, dst6, sport, dport, proto, flags } = batch;
  for (let i = 0; i < count; i++) {
    const f = family[i]!;
    const hp = (flags[i]! & FLAG_HAS_PORTS) !== 0;
    const sp = hp ? sport[i]! : 0;
    const dp = hp ? dport[i]! : 0;
    const pk = hp ? proto[i]! | PROTO_HAS_PORTS : proto[i]!;
    if (f === 4) results[i] = scan4(w, r4, n4, src[i]!, dst[i]!, sp, dp, pk, LIMIT);
    else if (f === 6) {
      const o = i * 4;
      for (let k = 0; k < 4; k++) {
        key[k] = src6[o + k]!;
        key[4 + k] = dst6[o + k]!;
      }
      results[i] = scan6(w, r6, n6, key, sp, dp, pk, LIMIT);
    } else results[i] = 0;
  }
}
