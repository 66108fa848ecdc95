// Bounded-time fuzzing's settings: a time budget and a seed from the environment (printed, so a
// failure can be replayed), and xorshift32 over that seed.

export interface Fuzz {
  readonly budgetMs: number;
  readonly seed: number;
  /** A reproducible integer in [0, n). */
  rnd(n: number): number;
}

/** `PREFIX_MS` and `PREFIX_SEED` from the environment; prints both under `name`. */
export function fuzzSettings(name: string, prefix: string, defaultMs: number): Fuzz {
  const budgetMs = Number(process.env[`${prefix}_MS`] ?? defaultMs);
  const seed = Number(process.env[`${prefix}_SEED`] ?? Date.now() % 0x7fffffff);
  console.log(`${name}: seed ${seed} (${prefix}_SEED), ${budgetMs} ms per target (${prefix}_MS)`);
  let state = seed || 1;
  return {
    budgetMs,
    seed,
    rnd(n: number): number {
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      return (state >>> 0) % n;
    },
  };
}

/** `ins` inserted into `b` at `at` (a new array). */
export function insertBytes(b: Uint8Array, at: number, ins: Uint8Array): Uint8Array {
  const c = new Uint8Array(b.length + ins.length);
  c.set(b.subarray(0, at));
  c.set(ins, at);
  c.set(b.subarray(at), at + ins.length);
  return c;
}

/**
 * One format-agnostic mutation: a byte changed, the end cut, bytes inserted (`insertByte` picks
 * them: values a format's type fields take make deeper paths likelier), bytes deleted, or a
 * 16-bit field set to an edge value (length fields).
 */
export function mutateBytes(src: Uint8Array, rnd: (n: number) => number, insertByte: () => number = () => rnd(256)): Uint8Array {
  let b = src;
  switch (rnd(5)) {
    case 0:
      if (b.length) b[rnd(b.length)] = rnd(256);
      return b;
    case 1:
      return b.subarray(0, rnd(b.length + 1));
    case 2:
      return insertBytes(b, rnd(b.length + 1), Uint8Array.from({ length: 1 + rnd(8) }, insertByte));
    case 3: {
      const at = rnd(b.length + 1);
      const c = new Uint8Array(Math.max(0, b.length - rnd(8)));
      c.set(b.subarray(0, Math.min(at, c.length)));
      c.set(b.subarray(at + (b.length - c.length)).subarray(0, c.length - Math.min(at, c.length)), Math.min(at, c.length));
      return c;
    }
    default:
      if (b.length > 2) {
        const at = rnd(b.length - 1);
        const v = [0, 1, 3, 4, 0xffff, 0x8000, b.length, b.length - at][rnd(8)]!;
        b = b.slice();
        b[at] = v >>> 8;
        b[at + 1] = v & 255;
      }
      return b;
  }
}
