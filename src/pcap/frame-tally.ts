// Frames of classified capture chunks counted per decode reason and per classification result
// (the pool workers' part of `ted classify --pcap --workers`: the consuming thread gets totals,
// not a loop over every frame). For the wasm engine the counting runs in WebAssembly
// (assembly/tally.ts) over the batch and reasons where they lie in its memory: a per-frame loop
// in JavaScript would run unoptimised through each worker's first chunks. The TypeScript loops
// below are its twin, used for arrays outside that memory.
import { loadWasm, type TedWasm } from '../wasm/load.js';

interface TallyExports {
  count_bytes(ptr: number, n: number, counts: number): void;
  count_results(ptr: number, n: number, hits: number, len: number): number;
  take_results(hits: number, len: number, out: number): number;
}

/** Decode reasons are bytes: one counter per value. */
const REASONS = 256;

export class FrameTally {
  private readonly wasm: TedWasm | undefined;
  private readonly ex: TallyExports | undefined;
  /** WebAssembly regions: u32 reasons[256], u32 hits[len], u32 pairs[2 * len]. */
  private regions: { reasons: number; hits: number; pairs: number } | undefined;
  private readonly len: number;
  /** Counts of the TypeScript path (and of results beyond `len`, which a classifier never gives). */
  private readonly reasonCounts = new Float64Array(REASONS);
  private hits = new Uint32Array(1024);
  private maxHit = -1;

  /**
   * `maxResult`: the largest result expected (the policy's entry count); with `wasm`, arrays in
   * that module's memory are counted there.
   */
  constructor(maxResult: number, wasm?: TedWasm) {
    this.len = Math.max(1, maxResult + 1);
    if (wasm) {
      const ex = wasm.exports as unknown as TallyExports & TedWasm['exports'];
      const reasons = ex.alloc(4 * REASONS);
      const hits = ex.alloc(4 * this.len);
      const pairs = ex.alloc(8 * this.len);
      new Uint32Array(ex.memory.buffer, reasons, REASONS).fill(0);
      new Uint32Array(ex.memory.buffer, hits, this.len).fill(0);
      this.wasm = wasm;
      this.ex = ex;
      this.regions = { reasons, hits, pairs };
    }
  }

  /** A tally counting in the process's WebAssembly module (the one the wasm engine uses). */
  static forEngine(engine: 'wasm' | 'ts', maxResult: number): FrameTally {
    return new FrameTally(maxResult, engine === 'wasm' ? loadWasm() : undefined);
  }

  /** Counts frames [0, n) of a chunk: their results (null: not classified) and decode reasons. */
  add(results: Int32Array | null, reasons: Uint8Array, n: number): void {
    const mem = this.regions ? this.wasm!.exports.memory.buffer : undefined; // none after dispose(): counted in TypeScript
    if (mem !== undefined && reasons.buffer === mem) this.ex!.count_bytes(reasons.byteOffset, n, this.regions!.reasons);
    else countReasons(reasons, n, this.reasonCounts);
    if (results === null) return;
    let from = 0;
    if (mem !== undefined && results.buffer === mem) {
      from = this.ex!.count_results(results.byteOffset, n, this.regions!.hits, this.len);
      if (from === n) return;
    }
    this.countHits(results, from, n);
  }

  /** Frames per decode reason since the last call (index = reason, up to the largest that occurred); starts over. */
  takeReasons(): number[] {
    const c = this.reasonCounts;
    if (this.regions) {
      const w = new Uint32Array(this.wasm!.exports.memory.buffer, this.regions.reasons, REASONS);
      for (let r = 0; r < REASONS; r++) c[r]! += w[r]!;
      w.fill(0);
    }
    let last = REASONS - 1;
    while (last > 0 && c[last] === 0) last--;
    const out = Array.from(c.subarray(0, last + 1));
    c.fill(0);
    return out;
  }

  /** (result, frames) pairs, in order of result, of what was counted since the last call; starts over. */
  takeResults(): Uint32Array {
    let fromWasm = new Uint32Array(0);
    if (this.regions) {
      const k = this.ex!.take_results(this.regions.hits, this.len, this.regions.pairs);
      fromWasm = new Uint32Array(this.wasm!.exports.memory.buffer, this.regions.pairs, 2 * k).slice();
    }
    const c = this.hits;
    let k = 0;
    for (let r = 0; r <= this.maxHit; r++) if (c[r] !== 0) k++;
    if (k === 0) return fromWasm;
    const mine = new Uint32Array(2 * k);
    for (let r = 0, j = 0; r <= this.maxHit; r++) {
      if (c[r] === 0) continue;
      mine[j++] = r;
      mine[j++] = c[r]!;
      c[r] = 0;
    }
    this.maxHit = -1;
    return fromWasm.length === 0 ? mine : mergePairs(fromWasm, mine);
  }

  /** Frees the WebAssembly regions (what was counted there is gone; later counts are kept in TypeScript). */
  dispose(): void {
    if (!this.regions) return;
    const ex = this.wasm!.exports;
    ex.free(this.regions.reasons);
    ex.free(this.regions.hits);
    ex.free(this.regions.pairs);
    this.regions = undefined;
  }

  /** The TypeScript path: a dense array of counters that grows with the largest result. */
  private countHits(results: Int32Array, from: number, n: number): void {
    let c = this.hits;
    let max = this.maxHit;
    for (let i = from; i < n; i++) {
      const r = results[i]!;
      if (r >= c.length) {
        const grown = new Uint32Array(Math.max(2 * c.length, r + 1));
        grown.set(c);
        this.hits = c = grown;
      }
      c[r]!++;
      if (r > max) max = r;
    }
    this.maxHit = max;
  }
}

/** Adds the decode reasons of n frames to `counts`: most frames decode (0), so four at a time. */
function countReasons(reasons: Uint8Array, n: number, counts: Float64Array): void {
  let others = 0;
  let i = 0;
  if (reasons.byteOffset % 4 === 0) {
    const words = new Uint32Array(reasons.buffer, reasons.byteOffset, n >>> 2);
    for (let k = 0; k < words.length; k++) {
      if (words[k] === 0) continue;
      for (let j = 4 * k; j < 4 * k + 4; j++) if (reasons[j] !== 0) counts[reasons[j]!]!++, others++;
    }
    i = 4 * words.length;
  }
  for (; i < n; i++) if (reasons[i] !== 0) counts[reasons[i]!]!++, others++;
  counts[0]! += n - others;
}

/** Two lists of (result, frames) pairs in order of result, as one (frames of a result in both added). */
function mergePairs(a: Uint32Array, b: Uint32Array): Uint32Array {
  const out: number[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (j >= b.length || (i < a.length && a[i]! < b[j]!)) out.push(a[i]!, a[i + 1]!), (i += 2);
    else if (i >= a.length || b[j]! < a[i]!) out.push(b[j]!, b[j + 1]!), (j += 2);
    else out.push(a[i]!, a[i + 1]! + b[j + 1]!), (i += 2), (j += 2);
  }
  return Uint32Array.from(out);
}
