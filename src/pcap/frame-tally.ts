// Frames of classified capture chunks counted per decode reason and per classification result
// (the pool workers' part of `ted classify --pcap --workers`: the consuming thread gets totals,
// not a loop over every frame). For the wasm engine the counting runs in WebAssembly
// (assembly/tally.ts) over the batch and reasons where they lie in its memory: a per-frame loop
// in JavaScript would run unoptimised through each worker's first chunks. The TypeScript loops
// below are its twin, used for arrays outside that memory.
//
// Results are counted into one of several arrays (a worker keeps one per chunk in flight and one
// for the capture's total, and folds a chunk in once the calling thread accepted it).
import { loadWasm, type TedWasm } from '../wasm/load.js';

interface TallyExports {
  count_bytes(ptr: number, n: number, counts: number): void;
  count_results(ptr: number, n: number, hits: number, len: number): number;
  take_results(hits: number, len: number, out: number): number;
  fold_results(src: number, dst: number, len: number): void;
}

/** Decode reasons are bytes: one counter per value. */
const REASONS = 256;

/** Counters of the TypeScript path: dense, growing with the largest result. */
class DenseCounts {
  c: Uint32Array = new Uint32Array(64);
  max = -1;
  add(results: Int32Array, from: number, n: number): void {
    let c = this.c;
    let max = this.max;
    for (let i = from; i < n; i++) {
      const r = results[i]!;
      if (r >= c.length) c = this.room(r);
      c[r]!++;
      if (r > max) max = r;
    }
    this.max = max;
  }
  /** Adds `o`'s counts here and clears `o`. */
  fold(o: DenseCounts): void {
    const c = o.max >= this.c.length ? this.room(o.max) : this.c;
    for (let r = 0; r <= o.max; r++) {
      c[r]! += o.c[r]!;
      o.c[r] = 0;
    }
    if (o.max > this.max) this.max = o.max;
    o.max = -1;
  }
  /** Grows the counters to hold result r. */
  private room(r: number): Uint32Array {
    const grown = new Uint32Array(Math.max(2 * this.c.length, r + 1));
    grown.set(this.c);
    return (this.c = grown);
  }
  clear(): void {
    this.c.fill(0, 0, this.max + 1);
    this.max = -1;
  }
  /** (result, frames) pairs in order of result; clears. */
  take(): Uint32Array {
    const c = this.c;
    let k = 0;
    for (let r = 0; r <= this.max; r++) if (c[r] !== 0) k++;
    const pairs = new Uint32Array(2 * k);
    for (let r = 0, j = 0; r <= this.max; r++) {
      if (c[r] === 0) continue;
      pairs[j++] = r;
      pairs[j++] = c[r]!;
      c[r] = 0;
    }
    this.max = -1;
    return pairs;
  }
}

export class FrameTally {
  private readonly wasm: TedWasm | undefined;
  private readonly ex: TallyExports | undefined;
  /** WebAssembly regions: u32 reasons[256], u32 hits[len] per array, u32 pairs[2 * len]. */
  private regions: { reasons: number; hits: number[]; pairs: number } | undefined;
  private readonly len: number;
  /** Counts of the TypeScript path (and of results beyond `len`, which a classifier never gives). */
  private readonly reasonCounts = new Float64Array(REASONS);
  private readonly dense: DenseCounts[];

  /**
   * `maxResult`: the largest result expected (the policy's entry count); `arrays`: how many
   * result arrays (0 .. arrays-1); with `wasm`, arrays in that module's memory are counted there.
   * The caller refreshes its views of that memory afterwards (the regions may have grown it).
   */
  constructor(maxResult: number, wasm?: TedWasm, arrays = 1) {
    this.len = Math.max(1, maxResult + 1);
    this.dense = Array.from({ length: arrays }, () => new DenseCounts());
    if (wasm) {
      const ex = wasm.exports as unknown as TallyExports & TedWasm['exports'];
      const reasons = ex.alloc(4 * REASONS);
      const hits = this.dense.map(() => ex.alloc(4 * this.len));
      const pairs = ex.alloc(8 * this.len);
      new Uint32Array(ex.memory.buffer, reasons, REASONS).fill(0);
      for (const h of hits) new Uint32Array(ex.memory.buffer, h, this.len).fill(0);
      this.wasm = wasm;
      this.ex = ex;
      this.regions = { reasons, hits, pairs };
    }
  }

  /** A tally counting in the process's WebAssembly module (the one the wasm engine uses). */
  static forEngine(engine: 'wasm' | 'ts', maxResult: number, arrays = 1): FrameTally {
    return new FrameTally(maxResult, engine === 'wasm' ? loadWasm() : undefined, arrays);
  }

  /** Counts frames [0, n) of a chunk: their decode reasons, and their results (null: not counted) into array `into`. */
  add(results: Int32Array | null, reasons: Uint8Array, n: number, into = 0): void {
    const mem = this.regions ? this.wasm!.exports.memory.buffer : undefined; // none after dispose(): counted in TypeScript
    if (mem !== undefined && reasons.buffer === mem) this.ex!.count_bytes(reasons.byteOffset, n, this.regions!.reasons);
    else countReasons(reasons, n, this.reasonCounts);
    if (results === null) return;
    let from = 0;
    if (mem !== undefined && results.buffer === mem) {
      from = this.ex!.count_results(results.byteOffset, n, this.regions!.hits[into]!, this.len);
      if (from === n) return;
    }
    this.dense[into]!.add(results, from, n);
  }

  /** Adds what array `from` counted to array `to`, and clears `from`. */
  fold(from: number, to: number): void {
    if (this.regions) this.ex!.fold_results(this.regions.hits[from]!, this.regions.hits[to]!, this.len);
    this.dense[to]!.fold(this.dense[from]!);
  }

  /** How many result arrays. */
  get arrays(): number {
    return this.dense.length;
  }

  /** Forgets everything counted. */
  reset(): void {
    for (let k = 0; k < this.dense.length; k++) this.clear(k);
    this.takeReasons();
  }

  /** Forgets what array `k` counted. */
  clear(k: number): void {
    if (this.regions) new Uint32Array(this.wasm!.exports.memory.buffer, this.regions.hits[k]!, this.len).fill(0);
    this.dense[k]!.clear();
  }

  /** Frames per decode reason since the last call (index = reason, up to the largest that occurred); starts over. */
  takeReasons(): number[] {
    // Plain loops: this runs once per chunk, and V8 compiles it in every worker.
    const c = this.reasonCounts;
    if (this.regions) {
      const w = new Uint32Array(this.wasm!.exports.memory.buffer, this.regions.reasons, REASONS);
      for (let r = 0; r < REASONS; r++) {
        if (w[r] === 0) continue;
        c[r]! += w[r]!;
        w[r] = 0;
      }
    }
    let last = REASONS - 1;
    while (last > 0 && c[last] === 0) last--;
    const out: number[] = [];
    for (let r = 0; r <= last; r++) {
      out.push(c[r]!);
      c[r] = 0;
    }
    return out;
  }

  /** (result, frames) pairs, in order of result, of what array `k` counted since it was last taken or cleared; clears it. */
  takeResults(k = 0): Uint32Array {
    let fromWasm = new Uint32Array(0);
    if (this.regions) {
      const n = this.ex!.take_results(this.regions.hits[k]!, this.len, this.regions.pairs);
      fromWasm = new Uint32Array(this.wasm!.exports.memory.buffer, this.regions.pairs, 2 * n).slice();
    }
    const mine = this.dense[k]!.take();
    if (mine.length === 0) return fromWasm;
    return fromWasm.length === 0 ? mine : mergePairs(fromWasm, mine);
  }

  /** Frees the WebAssembly regions (what was counted there is gone; later counts are kept in TypeScript). */
  dispose(): void {
    if (!this.regions) return;
    const ex = this.wasm!.exports;
    ex.free(this.regions.reasons);
    for (const h of this.regions.hits) ex.free(h);
    ex.free(this.regions.pairs);
    this.regions = undefined;
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
export function mergePairs(a: Uint32Array, b: Uint32Array): Uint32Array {
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
