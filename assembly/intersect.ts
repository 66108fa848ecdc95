// Batch proxy intersection: the twin of src/classify/intersect.ts intersectKernel (read its
// header comment for the word layouts). Exactly algebra.intersect, first empty field included.

const SEL_WORDS: usize = 22;
const OUT_WORDS: usize = 24;

@inline function w(base: usize, i: usize): u32 {
  return load<u32>(base + (i << 2));
}
@inline function put(base: usize, i: usize, v: u32): void {
  store<u32>(base + (i << 2), v);
}

/** Intersects two sorted range lists (pool word offsets) into outPool at `o`; returns the pair count. */
function intersectRanges(pool: usize, a: usize, na: usize, b: usize, nb: usize, outPool: usize, o: usize): usize {
  let i: usize = 0;
  let j: usize = 0;
  let n: usize = 0;
  while (i < na && j < nb) {
    const alo = w(pool, a + 2 * i);
    const ahi = w(pool, a + 2 * i + 1);
    const blo = w(pool, b + 2 * j);
    const bhi = w(pool, b + 2 * j + 1);
    const lo = alo > blo ? alo : blo;
    const hi = ahi < bhi ? ahi : bhi;
    if (lo <= hi) {
      if (n > 0 && lo <= w(outPool, o + 2 * n - 1) + 1) {
        if (hi > w(outPool, o + 2 * n - 1)) put(outPool, o + 2 * n - 1, hi);
      } else {
        put(outPool, o + 2 * n, lo);
        put(outPool, o + 2 * n + 1, hi);
        n++;
      }
    }
    if (ahi < bhi) i++;
    else j++;
  }
  return n;
}

/**
 * For each pair i of selector indices (pairs[2i], pairs[2i+1]) writes its status byte at
 * status + i and, for non-empty pairs only, a result record (word 0 = i) at out + k * OUT_WORDS
 * words for the k-th of them, port ranges to outPool. Returns the outPool words used.
 */
export function intersectPairs(sels: usize, pool: usize, pairs: usize, count: i32, out: usize, outPool: usize, status: usize): i32 {
  let op: usize = 0;
  let kept: usize = 0;
  for (let i: usize = 0; i < <usize>count; i++) {
    const a = sels + ((<usize>w(pairs, 2 * i) * SEL_WORDS) << 2);
    const b = sels + ((<usize>w(pairs, 2 * i + 1) * SEL_WORDS) << 2);
    const r = out + ((kept * OUT_WORDS) << 2);
    if (w(a, 0) != w(b, 0)) {
      store<u8>(status + i, 1);
      continue;
    }
    put(r, 1, w(a, 0));
    const pa = w(a, 1);
    const pb = w(b, 1);
    if (pa != 0 && pb != 0 && pa != pb) {
      store<u8>(status + i, 2);
      continue;
    }
    put(r, 2, pa == 0 ? pb : pa);
    let st: u32 = 0;
    for (let f: usize = 0; f < 2 && st == 0; f++) {
      const va: usize = 2 + 8 * f;
      for (let k: usize = 0; k < 4; k++) {
        const ca = w(a, va + 4 + k);
        const cb = w(b, va + 4 + k);
        const xa = w(a, va + k);
        const xb = w(b, va + k);
        if (((xa ^ xb) & ca & cb) != 0) {
          st = 3 + <u32>f;
          break;
        }
        put(r, 3 + 8 * f + k, xa | xb);
        put(r, 7 + 8 * f + k, ca | cb);
      }
    }
    if (st != 0) {
      store<u8>(status + i, <u8>st);
      continue;
    }
    const ns = intersectRanges(pool, <usize>w(a, 18), <usize>w(a, 19), <usize>w(b, 18), <usize>w(b, 19), outPool, op);
    if (ns == 0) {
      store<u8>(status + i, 5);
      continue;
    }
    put(r, 19, <u32>op);
    put(r, 20, <u32>ns);
    const nd = intersectRanges(pool, <usize>w(a, 20), <usize>w(a, 21), <usize>w(b, 20), <usize>w(b, 21), outPool, op + 2 * ns);
    if (nd == 0) {
      store<u8>(status + i, 6);
      continue;
    }
    put(r, 21, <u32>(op + 2 * ns));
    put(r, 22, <u32>nd);
    op += 2 * (ns + nd);
    put(r, 0, <u32>i);
    store<u8>(status + i, 0);
    kept++;
  }
  return <i32>op;
}
