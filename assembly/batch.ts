// Byte offsets of the tuple batch columns for a batch of capacity C: the mirror of
// src/classify/batch.ts (batchLayout). Every column starts 16-byte aligned, in this order.

@inline function align16(n: usize): usize {
  return (n + 15) & ~(<usize>15);
}

@inline export function batchSrc(_c: usize): usize {
  return 0;
}
@inline export function batchDst(c: usize): usize {
  return align16(4 * c);
}
@inline export function batchSrc6(c: usize): usize {
  return batchDst(c) + align16(4 * c);
}
@inline export function batchDst6(c: usize): usize {
  return batchSrc6(c) + align16(16 * c);
}
@inline export function batchSport(c: usize): usize {
  return batchDst6(c) + align16(16 * c);
}
@inline export function batchDport(c: usize): usize {
  return batchSport(c) + align16(2 * c);
}
@inline export function batchProto(c: usize): usize {
  return batchDport(c) + align16(2 * c);
}
@inline export function batchFamily(c: usize): usize {
  return batchProto(c) + align16(c);
}
@inline export function batchFlags(c: usize): usize {
  return batchFamily(c) + align16(c);
}
@inline export function batchResults(c: usize): usize {
  return batchFlags(c) + align16(c);
}
@inline export function batchBytes(c: usize): usize {
  return batchResults(c) + align16(4 * c);
}

/** For the host's check that both sides agree on the layout. */
export function batchLayoutBytes(capacity: i32): i32 {
  return <i32>batchBytes(<usize>capacity);
}
