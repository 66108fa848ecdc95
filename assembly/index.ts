// The one WebAssembly module of the hot path. Each concern lives in its own file and is
// re-exported here, so that all of them share one linear memory: the header walk writes tuples
// where the classifier reads them, with nothing copied in between.
//
// The host owns the layout: it asks for regions with `alloc`, writes into them through typed
// views and passes (ptr, count) to the batch exports. Nothing here allocates per call.

/** A region of `size` bytes, 16-byte aligned (the TLSF allocator aligns every block to 16). */
export function alloc(size: usize): usize {
  return heap.alloc(size);
}

export function free(ptr: usize): void {
  heap.free(ptr);
}
export * from './decode';
export * from './classify';
export * from './intersect';
export * from './tally';
