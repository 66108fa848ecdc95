// Frame counts for classified capture chunks: frames per decode reason and per classification
// result. A pool worker counts every frame it classifies; as a JavaScript loop that count runs
// unoptimised through a worker's first chunks (each thread optimises its own code), here never.
// Twins: src/pcap/frame-tally.ts.

/** counts[v]++ (u32 counts[256]) for each of the n bytes at ptr; eight zero bytes at a time. */
export function count_bytes(ptr: usize, n: i32, counts: usize): void {
  let i = 0;
  let zeros: u32 = 0;
  for (; i + 8 <= n; i += 8) {
    const w = load<u64>(ptr + <usize>i);
    if (w == 0) {
      zeros += 8;
      continue;
    }
    for (let j = 0; j < 8; j++) {
      const c = counts + (<usize>(<u8>(w >> (<u64>j << 3))) << 2);
      store<u32>(c, load<u32>(c) + 1);
    }
  }
  for (; i < n; i++) {
    const c = counts + (<usize>load<u8>(ptr + <usize>i) << 2);
    store<u32>(c, load<u32>(c) + 1);
  }
  store<u32>(counts, load<u32>(counts) + zeros);
}

/**
 * hits[r]++ (u32 hits[len]) for each of the n i32 results at ptr. Stops at the first result
 * outside [0, len) and returns its index (n when all were counted).
 */
export function count_results(ptr: usize, n: i32, hits: usize, len: i32): i32 {
  for (let i = 0; i < n; i++) {
    const r = load<i32>(ptr + (<usize>i << 2));
    if (<u32>r >= <u32>len) return i;
    const c = hits + (<usize>r << 2);
    store<u32>(c, load<u32>(c) + 1);
  }
  return n;
}

/** Writes (r, hits[r]) as two u32 to out for every non-zero hits[r], in order of r, and zeroes it; returns the pairs written. */
export function take_results(hits: usize, len: i32, out: usize): i32 {
  let k = 0;
  for (let r = 0; r < len; r++) {
    const c = hits + (<usize>r << 2);
    const v = load<u32>(c);
    if (v == 0) continue;
    const o = out + (<usize>k << 3);
    store<u32>(o, <u32>r);
    store<u32>(o, v, 4);
    store<u32>(c, 0);
    k++;
  }
  return k;
}

/** dst[i] += src[i] and src[i] = 0 for i in [0, len) (u32 arrays): one chunk's counts into a total. */
export function fold_results(src: usize, dst: usize, len: i32): void {
  for (let i = 0; i < len; i++) {
    const o = <usize>i << 2;
    store<u32>(dst + o, load<u32>(dst + o) + load<u32>(src + o));
    store<u32>(src + o, 0);
  }
}
