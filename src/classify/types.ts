// The one interface behind which the three classification engines sit.
import type { Tuple } from '../selector/types.js';
import type { TupleBatch } from './batch.js';

export type EngineName = 'wasm' | 'ts' | 'linear';

export interface Classifier {
  readonly engine: EngineName;
  /** Number of entries (ordinals) in the compiled policy. */
  readonly rules: number;
  /** Bytes of the compiled rules and search structure. */
  readonly bytes: number;
  /** Milliseconds spent compiling. */
  readonly buildMs: number;
  /**
   * Fills results[0 .. batch.count) with the 1-based ordinal of the first matching entry
   * (0 = none). `results` may be `batch.results`.
   */
  classify(batch: TupleBatch, results: Int32Array): void;
  /** The rare path: one tuple. */
  classifyOne(t: Tuple): number;
  /** A batch this engine classifies without copying (in WebAssembly memory for `wasm`). */
  createBatch(capacity: number): TupleBatch;
  /** Releases what the engine holds (WebAssembly memory for `wasm`); unusable afterwards. */
  dispose?(): void;
}
