// Batch proxy intersection: one proxy against many entries (a TED responder or initiator
// intersecting a proxy with every ACL entry), or many pairs. Exactly the semantics of
// src/selector/algebra.ts `intersect`, including which field is reported empty first.
//
// Selectors are encoded as u32 words so that WebAssembly (assembly/intersect.ts) and the TS twin
// below run the same kernel over the same data:
//   selector  [family, protocol, src value w0..w3, src care w0..w3, dst value w0..w3,
//              dst care w0..w3, sportOff, sportCount, dportOff, dportCount]     (SEL_WORDS)
//             addresses as 4 words, most significant first (IPv4 in w3); port ranges are
//             (lo, hi) pairs at offsets in the pool
//   status    one byte per pair: 0 = not empty, else STATUS_FIELDS[status] is the first empty field
//   result    [pair index, then a selector as above]                             (OUT_WORDS)
//             for the non-empty pairs only, in pair order
import { intersect, type Field, type Intersection } from '../selector/algebra.js';
import type { PortRange, PortSet, Selector } from '../selector/types.js';
import { FULL_PORTS } from '../selector/types.js';
import { loadWasm, type TedWasm } from '../wasm/load.js';
import { UsageError } from '../errors.js';
import { refreshBatches } from './index.js';

export const SEL_WORDS = 22;
export const OUT_WORDS = 24;
export const STATUS_FIELDS: readonly (Field | undefined)[] = [undefined, 'family', 'protocol', 'source', 'destination', 'sport', 'dport'];

export interface IntersectOptions {
  /** `wasm` (default, or TED_ENGINE) or `ts`; `linear` means the reference algebra itself. */
  engine?: 'wasm' | 'ts' | 'linear';
  /** A specific WebAssembly instance (tests load the non-SIMD build). */
  wasm?: TedWasm;
}

/** Encoded input of one batch. */
interface Encoded {
  sels: Uint32Array;
  pool: Uint32Array;
  pairs: Uint32Array;
  count: number;
  /** Upper bound of result port-range words. */
  outPoolWords: number;
}

function encode(selectors: readonly Selector[], pairs: Uint32Array, count: number): Encoded {
  let ranges = 0;
  for (const s of selectors) ranges += s.sport.length + s.dport.length;
  const sels = new Uint32Array(selectors.length * SEL_WORDS);
  const pool = new Uint32Array(Math.max(2, ranges * 2));
  let p = 0;
  for (let i = 0; i < selectors.length; i++) p = encodeInto(sels, i * SEL_WORDS, selectors[i]!, pool, p, p);
  let outPoolWords = 2;
  for (let i = 0; i < count; i++) {
    const a = selectors[pairs[2 * i]!]!;
    const b = selectors[pairs[2 * i + 1]!]!;
    outPoolWords += 2 * (a.sport.length + b.sport.length + a.dport.length + b.dport.length);
  }
  return { sels, pool, pairs, count, outPoolWords };
}

/**
 * Each selector's encoding (SEL_WORDS with range offsets from 0, then its port ranges), cached by
 * object: turning BigInt addresses into words (~12 ns per conversion here) was most of the cost of
 * a batch, and selectors are readonly values that callers pass again and again (ACL entries,
 * proxies). A selector changed in place after its first use would be seen stale: don't.
 */
const encoded = new WeakMap<Selector, Uint32Array>();

function encodingOf(s: Selector): Uint32Array {
  let c = encoded.get(s);
  if (c) return c;
  const ranges = s.sport.length + s.dport.length;
  c = new Uint32Array(SEL_WORDS + 2 * ranges);
  const pool = c.subarray(SEL_WORDS);
  c[0] = s.family;
  c[1] = s.protocol;
  if (s.family === 4 && s.src.care <= 0xffffffffn && s.dst.care <= 0xffffffffn && s.src.value <= 0xffffffffn && s.dst.value <= 0xffffffffn) {
    // IPv4: one word per field.
    const sc = Number(s.src.care);
    const dc = Number(s.dst.care);
    c[5] = Number(s.src.value) & sc;
    c[9] = sc;
    c[13] = Number(s.dst.value) & dc;
    c[17] = dc;
  } else {
    putAddress(c, 2, s.src.value);
    putAddress(c, 6, s.src.care);
    putAddress(c, 10, s.dst.value);
    putAddress(c, 14, s.dst.care);
    // value & care word by word
    for (let k = 2; k < 6; k++) c[k] = c[k]! & c[k + 4]!;
    for (let k = 10; k < 14; k++) c[k] = c[k]! & c[k + 4]!;
  }
  let p = 0;
  c[18] = 0;
  c[19] = s.sport.length;
  for (const r of s.sport) (pool[p++] = r.lo), (pool[p++] = r.hi);
  c[20] = p;
  c[21] = s.dport.length;
  for (const r of s.dport) (pool[p++] = r.lo), (pool[p++] = r.hi);
  encoded.set(s, c);
  return c;
}

/**
 * Writes selector `s` at sels[o..o+SEL_WORDS) and its port ranges at pool[p..]; the selector's
 * range offsets are written as `ref` + their place after p (pool offsets the kernel will see).
 * Returns the pool word after the ranges.
 */
function encodeInto(sels: Uint32Array, o: number, s: Selector, pool: Uint32Array, p: number, ref: number): number {
  const c = encodingOf(s);
  for (let k = 0; k < 18; k++) sels[o + k] = c[k]!;
  sels[o + 18] = ref;
  sels[o + 19] = c[19]!;
  sels[o + 20] = ref + c[20]!;
  sels[o + 21] = c[21]!;
  for (let k = SEL_WORDS; k < c.length; k++) pool[p++] = c[k]!;
  return p;
}

function putAddress(w: Uint32Array, at: number, v: bigint): void {
  if (v <= 0xffffffffn) {
    w[at] = 0;
    w[at + 1] = 0;
    w[at + 2] = 0;
    w[at + 3] = Number(v);
    return;
  }
  w[at] = Number((v >> 96n) & 0xffffffffn);
  w[at + 1] = Number((v >> 64n) & 0xffffffffn);
  w[at + 2] = Number((v >> 32n) & 0xffffffffn);
  w[at + 3] = Number(v & 0xffffffffn);
}

function getAddress(w: Uint32Array, at: number): bigint {
  if (w[at] === 0 && w[at + 1] === 0 && w[at + 2] === 0) return BigInt(w[at + 3]!);
  return (BigInt(w[at]!) << 96n) | (BigInt(w[at + 1]!) << 64n) | (BigInt(w[at + 2]!) << 32n) | BigInt(w[at + 3]!);
}

/** Intersects two sorted, disjoint, non-adjacent range lists into `outPool` at `o`; returns the pair count. */
function intersectRanges(pool: Uint32Array, a: number, na: number, b: number, nb: number, outPool: Uint32Array, o: number): number {
  let i = 0;
  let j = 0;
  let n = 0;
  while (i < na && j < nb) {
    const alo = pool[a + 2 * i]!;
    const ahi = pool[a + 2 * i + 1]!;
    const blo = pool[b + 2 * j]!;
    const bhi = pool[b + 2 * j + 1]!;
    const lo = alo > blo ? alo : blo;
    const hi = ahi < bhi ? ahi : bhi;
    if (lo <= hi) {
      // Merge with the previous piece when adjacent, as algebra.portSet does.
      if (n > 0 && lo <= outPool[o + 2 * n - 1]! + 1) {
        if (hi > outPool[o + 2 * n - 1]!) outPool[o + 2 * n - 1] = hi;
      } else {
        outPool[o + 2 * n] = lo;
        outPool[o + 2 * n + 1] = hi;
        n++;
      }
    }
    if (ahi < bhi) i++;
    else j++;
  }
  return n;
}

/**
 * The kernel (TS twin of assembly/intersect.ts intersectPairs): for each pair i of selector
 * indices (pairs[2i], pairs[2i+1]) writes its status to status[i] (0 = not empty, else the index
 * of the first empty field in STATUS_FIELDS) and, for the non-empty ones only, a result record at
 * out[k * OUT_WORDS] (k-th non-empty pair; word 0 = i) with its port ranges in outPool. Statuses
 * are compact so that mostly-empty batches touch little memory. Returns the outPool words used.
 */
export function intersectKernel(sels: Uint32Array, pool: Uint32Array, pairs: Uint32Array, count: number, out: Uint32Array, outPool: Uint32Array, status: Uint8Array): number {
  let op = 0;
  let kept = 0;
  for (let i = 0; i < count; i++) {
    const a = pairs[2 * i]! * SEL_WORDS;
    const b = pairs[2 * i + 1]! * SEL_WORDS;
    const r = kept * OUT_WORDS;
    if (sels[a] !== sels[b]) {
      status[i] = 1;
      continue;
    }
    out[r + 1] = sels[a]!;
    const pa = sels[a + 1]!;
    const pb = sels[b + 1]!;
    if (pa !== 0 && pb !== 0 && pa !== pb) {
      status[i] = 2;
      continue;
    }
    out[r + 2] = pa === 0 ? pb : pa;
    let st = 0;
    for (let f = 0; f < 2 && st === 0; f++) {
      const va = a + 2 + 8 * f;
      const vb = b + 2 + 8 * f;
      for (let k = 0; k < 4; k++) {
        const ca = sels[va + 4 + k]!;
        const cb = sels[vb + 4 + k]!;
        const xa = sels[va + k]!;
        const xb = sels[vb + k]!;
        if (((xa ^ xb) & ca & cb) !== 0) {
          st = 3 + f;
          break;
        }
        out[r + 3 + 8 * f + k] = (xa | xb) >>> 0;
        out[r + 7 + 8 * f + k] = (ca | cb) >>> 0;
      }
    }
    if (st !== 0) {
      status[i] = st;
      continue;
    }
    const ns = intersectRanges(pool, sels[a + 18]!, sels[a + 19]!, sels[b + 18]!, sels[b + 19]!, outPool, op);
    if (ns === 0) {
      status[i] = 5;
      continue;
    }
    out[r + 19] = op;
    out[r + 20] = ns;
    const nd = intersectRanges(pool, sels[a + 20]!, sels[a + 21]!, sels[b + 20]!, sels[b + 21]!, outPool, op + 2 * ns);
    if (nd === 0) {
      status[i] = 6;
      continue;
    }
    out[r + 21] = op + 2 * ns;
    out[r + 22] = nd;
    op += 2 * (ns + nd);
    out[r] = i;
    status[i] = 0;
    kept++;
  }
  return op;
}

function ranges(outPool: Uint32Array, at: number, n: number): PortSet {
  if (n === 1 && outPool[at] === 0 && outPool[at + 1] === 65535) return FULL_PORTS;
  const out: PortRange[] = [];
  for (let i = 0; i < n; i++) out.push({ lo: outPool[at + 2 * i]!, hi: outPool[at + 2 * i + 1]! });
  return out;
}

/** The empty results, one frozen object per field, shared by every call (they carry no per-pair data). */
const EMPTY: readonly Intersection[] = STATUS_FIELDS.map((field) => Object.freeze({ empty: true as const, field: field ?? 'family' }));

function decode(status: Uint8Array, out: Uint32Array, outPool: Uint32Array, count: number): Intersection[] {
  const res: Intersection[] = new Array(count);
  let kept = 0;
  for (let i = 0; i < count; i++) {
    const st = status[i]!;
    if (st !== 0) {
      res[i] = EMPTY[st]!;
      continue;
    }
    const r = kept++ * OUT_WORDS;
    const family = out[r + 1] as 4 | 6;
    res[i] = {
      empty: false,
      selector: {
        family,
        protocol: out[r + 2]!,
        src: { value: getAddress(out, r + 3), care: getAddress(out, r + 7) },
        dst: { value: getAddress(out, r + 11), care: getAddress(out, r + 15) },
        sport: ranges(outPool, out[r + 19]!, out[r + 20]!),
        dport: ranges(outPool, out[r + 21]!, out[r + 22]!),
      },
    };
  }
  return res;
}

type PairsExport = (sels: number, pool: number, pairs: number, count: number, out: number, outPool: number, status: number) => number;

/** The WebAssembly scratch region per instance, grown when a batch needs more. */
const scratch = new WeakMap<TedWasm, { ptr: number; bytes: number }>();
/** The TS engine's scratch arrays, grown when a batch needs more. */
let tsScratch: Record<'sels' | 'pool' | 'pairs' | 'out' | 'outPool' | 'status', Uint32Array> = { sels: new Uint32Array(0), pool: new Uint32Array(0), pairs: new Uint32Array(0), out: new Uint32Array(0), outPool: new Uint32Array(0), status: new Uint32Array(0) };

/** Views of one call's areas: [sels, pool, pairs, out, outPool, status] for word counts `words`. */
function scratchViews(engine: 'wasm' | 'ts', wasm: TedWasm | undefined, words: readonly number[]): Uint32Array[] {
  if (engine === 'ts') {
    const s = tsScratch;
    const keys = ['sels', 'pool', 'pairs', 'out', 'outPool', 'status'] as const;
    if (keys.some((k, i) => s[k].length < words[i]!)) {
      tsScratch = { sels: grow(s.sels, words[0]!), pool: grow(s.pool, words[1]!), pairs: grow(s.pairs, words[2]!), out: grow(s.out, words[3]!), outPool: grow(s.outPool, words[4]!), status: grow(s.status, words[5]!) };
    }
    return keys.map((k) => tsScratch[k]);
  }
  const w = wasm!;
  const sizes = words.map((n) => (n * 4 + 15) & ~15);
  const need = sizes.reduce((x, y) => x + y, 0);
  let s = scratch.get(w);
  if (!s || s.bytes < need) {
    if (s) w.exports.free(s.ptr);
    const bytes = Math.max(need, 64 * 1024, s ? 2 * s.bytes : 0);
    const ptr = w.exports.alloc(bytes);
    if (!ptr) throw new RangeError(`WebAssembly allocation of ${bytes} bytes failed`);
    s = { ptr, bytes };
    scratch.set(w, s);
    refreshBatches(w); // memory may have grown: classify batches re-view it
  }
  const buf = w.exports.memory.buffer;
  const views: Uint32Array[] = [];
  let p = s.ptr;
  sizes.forEach((z, i) => {
    views.push(new Uint32Array(buf, p, words[i]!));
    p += z;
  });
  return views;
}

function grow(a: Uint32Array, n: number): Uint32Array {
  return a.length >= n ? a : new Uint32Array(Math.max(n, 2 * a.length, 256));
}

/** Below this many entries one proxy is encoded with them per call; from it on, the entries' encoding is cached. */
const TABLE_MIN = 16;

/**
 * Encoded entry tables per entries array (and engine/instance), so that repeated one-shot calls
 * with the same array encode only the proxy. The array's elements are compared by identity on
 * every call (a changed array is re-encoded); selectors are readonly and are not re-read.
 */
const tables = new WeakMap<readonly Selector[], { snap: Selector[]; byKey: Map<TedWasm | 'ts', SelectorTable> }>();

function tableFor(entries: readonly Selector[], engine: 'wasm' | 'ts', wasm: TedWasm | undefined): SelectorTable {
  let c = tables.get(entries);
  if (c) {
    if (!sameElements(c.snap, entries)) {
      for (const t of c.byKey.values()) t.dispose();
      c = undefined;
    }
  }
  if (!c) {
    c = { snap: entries.slice(), byKey: new Map() };
    tables.set(entries, c);
  }
  const key = engine === 'wasm' ? wasm! : 'ts';
  let t = c.byKey.get(key);
  if (!t) c.byKey.set(key, (t = new SelectorTable(c.snap, { engine, wasm })));
  return t;
}

/** Encoded selectors of one side of a batch: SEL_WORDS each, range offsets from 0 into `pool`. */
interface Block {
  sels: Uint32Array;
  pool: Uint32Array;
}

/** Blocks of long arrays, checked element by element against a snapshot on every use. */
const blocks = new WeakMap<readonly Selector[], Block & { snap: Selector[] }>();

function blockFor(list: readonly Selector[]): Block {
  const long = list.length >= TABLE_MIN;
  if (long) {
    const c = blocks.get(list);
    if (c && sameElements(c.snap, list)) return c;
  }
  const e = encode(list, new Uint32Array(0), 0);
  let words = 0;
  for (const s of list) words += 2 * (s.sport.length + s.dport.length);
  const block = { sels: e.sels, pool: e.pool.subarray(0, words) };
  if (long) blocks.set(list, { ...block, snap: list.slice() });
  return block;
}

function proxyBlock(s: Selector): Block {
  const c = encodingOf(s);
  return { sels: c.subarray(0, SEL_WORDS), pool: c.subarray(SEL_WORDS) };
}

function sameElements(snap: readonly Selector[], list: readonly Selector[]): boolean {
  if (snap.length !== list.length) return false;
  for (let i = 0; i < snap.length; i++) if (snap[i] !== list[i]) return false;
  return true;
}

/**
 * The last few long entries arrays intersectBatch saw (a second call with one of them gives it a
 * SelectorTable). A small ring of weak references rather than a WeakSet: callers passing a new
 * array every call would otherwise fill an ephemeron table the collector has to walk (measured:
 * 2-3x slower calls on fw1_10K).
 */
const recent: (WeakRef<readonly Selector[]> | undefined)[] = [undefined, undefined, undefined, undefined];
let recentAt = 0;

function seenBefore(b: readonly Selector[]): boolean {
  for (const r of recent) if (r?.deref() === b) return true;
  recent[recentAt] = new WeakRef(b);
  recentAt = (recentAt + 1) % recent.length;
  return false;
}

/** One proxy against entries, each encoded (from its cached encoding) straight into the scratch area. */
function oneShot(proxy: Selector, b: readonly Selector[], engine: 'wasm' | 'ts', wasm: TedWasm | undefined): Intersection[] {
  const count = b.length;
  const pr = proxy.sport.length + proxy.dport.length;
  let ranges = 0;
  for (let i = 0; i < count; i++) ranges += b[i]!.sport.length + b[i]!.dport.length;
  const words = [(1 + count) * SEL_WORDS, Math.max(2, 2 * (pr + ranges)), 2 * count, count * OUT_WORDS, 2 + 2 * (count * pr + ranges), (count + 3) >> 2];
  const [sels, pool, pairs, out, outPool, st] = scratchViews(engine, wasm, words) as [Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array];
  let p = encodeInto(sels, 0, proxy, pool, 0, 0);
  for (let i = 0; i < count; i++) {
    p = encodeInto(sels, (1 + i) * SEL_WORDS, b[i]!, pool, p, p);
    pairs[2 * i] = 0;
    pairs[2 * i + 1] = 1 + i;
  }
  return runKernel(engine, wasm, sels, pool, pairs, count, out, outPool, new Uint8Array(st.buffer, st.byteOffset, count));
}

function runKernel(engine: 'wasm' | 'ts', wasm: TedWasm | undefined, sels: Uint32Array, pool: Uint32Array, pairs: Uint32Array, count: number, out: Uint32Array, outPool: Uint32Array, status: Uint8Array): Intersection[] {
  if (engine === 'ts') {
    const used = intersectKernel(sels, pool, pairs, count, out, outPool, status);
    return decode(status, out, outPool.subarray(0, used), count);
  }
  const fn = wasm!.exports.intersectPairs as PairsExport;
  if (typeof fn !== 'function') throw new TypeError('this WebAssembly build has no intersectPairs export: rebuild with `npm run build:wasm`');
  const used = fn(sels.byteOffset, pool.byteOffset, pairs.byteOffset, count, out.byteOffset, outPool.byteOffset, status.byteOffset);
  return decode(status, out, outPool.subarray(0, Math.max(used, 0)), count);
}

/**
 * Intersects `a` with every selector of `b` (a single selector), or a[i] with b[i] (arrays of
 * equal length). Each result equals algebra.intersect's: the largest selector inside both, or the
 * first empty field (empty results are shared frozen objects).
 *
 * One proxy against 16 or more entries: from the second call with the same array on, its
 * entries' encoding is cached (a WeakMap; the array is checked element by element for changes on
 * each call), so a responder calling it with its ACL's entries pays only for the proxy. Otherwise
 * everything is copied into a reused scratch area; long arrays (either side of many pairs) keep their encoding cached the
 * same way, and every selector's own encoding is cached too (see `encoded`).
 */
export function intersectBatch(a: Selector | readonly Selector[], b: readonly Selector[], options: IntersectOptions = {}): Intersection[] {
  const engine = pickEngine(options);
  const many = Array.isArray(a);
  const left = a as readonly Selector[];
  if (many && left.length !== b.length) throw new RangeError(`intersectBatch: ${left.length} left selectors but ${b.length} right ones`);
  const count = b.length;
  if (count === 0) return [];
  if (engine === 'linear') {
    const res: Intersection[] = new Array(count);
    for (let i = 0; i < count; i++) res[i] = intersect(many ? left[i]! : (a as Selector), b[i]!);
    return res;
  }
  const wasm = engine === 'wasm' ? (options.wasm ?? loadWasm()) : undefined;
  // The same long array again: its entries get a SelectorTable (encoded once, in WebAssembly
  // memory for `wasm`); only a second sighting builds one, so callers passing a fresh array every
  // time do not leave a region per call behind them until the collector runs the finalizers.
  if (!many && count >= TABLE_MIN) {
    if (tables.has(b) || seenBefore(b)) return tableFor(b, engine, wasm).intersect(a as Selector);
    return oneShot(a as Selector, b, engine, wasm);
  }
  // Selectors: the left ones (or the proxy) first, then b's; pairs index them. Each side is an
  // encoded block (cached per array when long), copied in with b's range offsets moved past a's.
  const nLeft = many ? count : 1;
  const lb = many ? blockFor(left) : proxyBlock(a as Selector);
  const rb = blockFor(b);
  const lp = lb.pool.length;
  const rp = rb.pool.length;
  const words = [(nLeft + count) * SEL_WORDS, Math.max(2, lp + rp), 2 * count, count * OUT_WORDS, 2 + (many ? lp + rp : count * lp + rp), (count + 3) >> 2];
  const [sels, pool, pairs, out, outPool, st] = scratchViews(engine, wasm, words) as [Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array];
  sels.set(lb.sels);
  sels.set(rb.sels, nLeft * SEL_WORDS);
  pool.set(lb.pool);
  pool.set(rb.pool, lp);
  for (let i = 0; i < count; i++) {
    const o = (nLeft + i) * SEL_WORDS;
    sels[o + 18] += lp;
    sels[o + 20] += lp;
    pairs[2 * i] = many ? i : 0;
    pairs[2 * i + 1] = nLeft + i;
  }
  return runKernel(engine, wasm, sels, pool, pairs, count, out, outPool, new Uint8Array(st.buffer, st.byteOffset, count));
}

/**
 * Entries encoded once (in WebAssembly memory for `wasm`), intersected with one proxy at a time:
 * what a TED responder does for every probe against its ACL. Only the proxy is encoded per call.
 */
export class SelectorTable {
  readonly size: number;
  private readonly engine: 'wasm' | 'ts' | 'linear';
  private readonly selectors: readonly Selector[];
  private readonly e: Encoded;
  /** Pool words reserved at the end for the proxy's port ranges. */
  private proxyRoom = 0;
  private entryPoolWords = 0;
  private wasm: TedWasm | undefined;
  private region: { ptr: number; bytes: number; at: number[] } | undefined;
  private out: Uint32Array = new Uint32Array(0);
  private outPool: Uint32Array = new Uint32Array(0);
  private statusOut: Uint8Array = new Uint8Array(0);
  /** The proxy's encoding (SEL_WORDS), then its port ranges: reused by every call. */
  private head: Uint32Array = new Uint32Array(SEL_WORDS + 16);
  /** What the finalizer frees if the table is dropped without dispose(). */
  private readonly hold: { wasm: TedWasm | undefined; ptr: number } = { wasm: undefined, ptr: 0 };

  constructor(selectors: readonly Selector[], options: IntersectOptions = {}) {
    this.engine = pickEngine(options);
    this.selectors = selectors;
    this.size = selectors.length;
    const n = selectors.length;
    const pairs = new Uint32Array(2 * n);
    for (let i = 0; i < n; i++) pairs[2 * i + 1] = i + 1; // (proxy, entry i)
    // Slot 0 is the proxy (a placeholder until the first call).
    this.e = encode([ANY4, ...selectors], pairs, n);
    this.entryPoolWords = this.e.pool.length;
    if (this.engine === 'wasm') this.wasm = options.wasm ?? loadWasm();
    this.layout(8);
  }

  /** Sizes the proxy's pool room and the result areas for proxies of up to `ranges` port ranges. */
  private layout(ranges: number): void {
    this.proxyRoom = 2 * ranges;
    const pool = new Uint32Array(this.entryPoolWords + this.proxyRoom);
    pool.set(this.e.pool.subarray(0, this.entryPoolWords));
    this.e.pool = pool;
    let entryRanges = 0;
    for (const s of this.selectors) entryRanges += s.sport.length + s.dport.length;
    this.e.outPoolWords = 2 * (entryRanges + this.size * ranges) + 2;
    if (this.engine !== 'wasm') {
      this.out = new Uint32Array(this.size * OUT_WORDS);
      this.outPool = new Uint32Array(this.e.outPoolWords);
      this.statusOut = new Uint8Array(this.size);
      return;
    }
    const wasm = this.wasm!;
    const a16 = (x: number) => (x + 15) & ~15;
    const sizes = [this.e.sels.byteLength, this.e.pool.byteLength, this.size * 8, this.size * OUT_WORDS * 4, this.e.outPoolWords * 4, this.size].map(a16);
    const bytes = sizes.reduce((x, y) => x + y, 0);
    if (this.region) wasm.exports.free(this.region.ptr);
    const ptr = wasm.exports.alloc(bytes);
    if (!ptr) throw new RangeError(`WebAssembly allocation of ${bytes} bytes failed`);
    if (!this.hold.wasm) {
      this.hold.wasm = wasm;
      freeRegion.register(this, this.hold, this);
    }
    this.hold.ptr = ptr;
    refreshBatches(wasm); // memory may have grown: classify batches re-view it
    const at: number[] = [];
    let q = ptr;
    for (const z of sizes) at.push(q), (q += z);
    this.region = { ptr, bytes, at };
    const buf = wasm.exports.memory.buffer;
    new Uint32Array(buf, at[0], this.e.sels.length).set(this.e.sels);
    new Uint32Array(buf, at[1], this.e.pool.length).set(this.e.pool);
    new Uint32Array(buf, at[2], this.size * 2).set(this.e.pairs);
  }

  /** Runs the kernel for `proxy`; results in this.out / this.outPool. */
  private run(proxy: Selector): void {
    const ranges = proxy.sport.length + proxy.dport.length;
    if (2 * ranges > this.proxyRoom) this.layout(Math.max(ranges, 2 * this.proxyRoom));
    if (this.head.length < SEL_WORDS + 2 * ranges) this.head = new Uint32Array(SEL_WORDS + 2 * ranges);
    const head = this.head.subarray(0, SEL_WORDS);
    const pr = this.head.subarray(SEL_WORDS, SEL_WORDS + 2 * ranges);
    const base = this.entryPoolWords;
    encodeInto(head, 0, proxy, pr, 0, base);
    if (this.engine !== 'wasm') {
      this.e.sels.set(head, 0);
      this.e.pool.set(pr, base);
      intersectKernel(this.e.sels, this.e.pool, this.e.pairs, this.size, this.out, this.outPool, this.statusOut);
      return;
    }
    const wasm = this.wasm!;
    const { at } = this.region!;
    let buf = wasm.exports.memory.buffer;
    new Uint32Array(buf, at[0], SEL_WORDS).set(head);
    new Uint32Array(buf, at[1]! + base * 4, pr.length).set(pr);
    const used = (wasm.exports.intersectPairs as PairsExport)(at[0]!, at[1]!, at[2]!, this.size, at[3]!, at[4]!, at[5]!);
    buf = wasm.exports.memory.buffer;
    this.out = new Uint32Array(buf, at[3], this.size * OUT_WORDS);
    this.outPool = new Uint32Array(buf, at[4], Math.max(used, 0));
    this.statusOut = new Uint8Array(buf, at[5], this.size);
  }

  /** `intersect(proxy, entry)` for every entry, as the reference algebra gives it. */
  intersect(proxy: Selector): Intersection[] {
    if (this.size === 0) return [];
    if (this.engine === 'linear') return this.selectors.map((s) => intersect(proxy, s));
    this.run(proxy);
    return decode(this.statusOut, this.out, this.outPool, this.size);
  }

  /** Status per entry: 0 = the intersection is not empty, else the index of the first empty field in STATUS_FIELDS. */
  status(proxy: Selector, into = new Uint8Array(this.size)): Uint8Array {
    if (this.engine === 'linear') {
      this.selectors.forEach((s, i) => {
        const r = intersect(proxy, s);
        into[i] = r.empty ? STATUS_FIELDS.indexOf(r.field) : 0;
      });
      return into;
    }
    if (this.size === 0) return into;
    this.run(proxy);
    into.set(this.statusOut.subarray(0, this.size));
    return into;
  }

  /** Returns the WebAssembly region. */
  dispose(): void {
    if (this.region && this.wasm) this.wasm.exports.free(this.region.ptr);
    this.region = undefined;
    this.hold.ptr = 0;
    freeRegion.unregister(this);
  }
}

/** Frees a SelectorTable's WebAssembly region when the table is collected without dispose() (cached tables). */
const freeRegion = new FinalizationRegistry<{ wasm: TedWasm | undefined; ptr: number }>((h) => {
  if (h.wasm && h.ptr) h.wasm.exports.free(h.ptr);
});

const ANY4: Selector = { family: 4, protocol: 0, src: { value: 0n, care: 0n }, dst: { value: 0n, care: 0n }, sport: FULL_PORTS, dport: FULL_PORTS };

function pickEngine(options: IntersectOptions): 'wasm' | 'ts' | 'linear' {
  const engine = options.engine ?? (process.env.TED_ENGINE as IntersectOptions['engine']) ?? 'wasm';
  if (engine !== 'wasm' && engine !== 'ts' && engine !== 'linear') throw new UsageError('CLASSIFY_BAD_ENGINE', `unknown engine "${engine as string}" (expected wasm, ts, linear)`);
  return engine;
}
