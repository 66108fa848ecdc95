// The header walk in WebAssembly: capture bytes in linear memory -> 5-tuples written straight into
// a TupleBatch (src/classify/batch.ts layout) plus one reason byte per frame. The TypeScript twin
// is src/packet/batch-decode.ts (walk: src/packet/decode.ts); both must give identical bytes for
// every input, which test/packet-wasm.test.ts checks on random, mutated and real frames.
//
// Reason codes (src/packet/decode.ts `Reason`): 0 ok, 1 unsupported link type, 2 link header
// truncated, 3 not IP, 4 IP truncated, 5 bad IP version, 6 bad header length, 7 bad total length,
// 8 IPv6 extension header truncated, 9 too many extension headers, 10 L4 truncated, 11 too many
// VLAN tags.

const MAX_VLAN_TAGS: i32 = 8;
const MAX_IPV6_EXT: i32 = 16;

// Column bases of the current batch (set once per call).
let cSrc: usize = 0;
let cDst: usize = 0;
let cSrc6: usize = 0;
let cDst6: usize = 0;
let cSport: usize = 0;
let cDport: usize = 0;
let cProto: usize = 0;
let cFamily: usize = 0;
let cFlags: usize = 0;

@inline function al16(n: usize): usize {
  return (n + 15) & ~(<usize>15);
}

function setColumns(batch: usize, capacity: i32): void {
  const c = <usize>capacity;
  cSrc = batch;
  cDst = cSrc + al16(4 * c);
  cSrc6 = cDst + al16(4 * c);
  cDst6 = cSrc6 + al16(16 * c);
  cSport = cDst6 + al16(16 * c);
  cDport = cSport + al16(2 * c);
  cProto = cDport + al16(2 * c);
  cFamily = cProto + al16(c);
  cFlags = cFamily + al16(c);
}

@inline function be16(p: usize): u32 {
  return <u32>bswap<u16>(load<u16>(p));
}

@inline function be32(p: usize): u32 {
  return bswap<u32>(load<u32>(p));
}

function none(row: usize, reason: i32): i32 {
  store<u8>(cFamily + row, 0);
  store<u8>(cProto + row, 0);
  store<u8>(cFlags + row, 0);
  store<u16>(cSport + 2 * row, 0);
  store<u16>(cDport + 2 * row, 0);
  store<u32>(cSrc + 4 * row, 0);
  store<u32>(cDst + 4 * row, 0);
  const w6: usize = row << 4;
  store<u64>(cSrc6 + w6, 0);
  store<u64>(cSrc6 + w6, 0, 8);
  store<u64>(cDst6 + w6, 0);
  store<u64>(cDst6 + w6, 0, 8);
  return reason;
}

/** Ports (when the protocol has them and this is not a non-first fragment) and the row's common fields. */
function finish(row: usize, family: u32, proto: u32, l4: usize, ipEnd: usize, nonFirst: bool): i32 {
  let sport: u32 = 0;
  let dport: u32 = 0;
  let flags: u32 = 0;
  if ((proto == 6 || proto == 17 || proto == 132) && !nonFirst) {
    if (<isize>(ipEnd - l4) < 4) return none(row, 10);
    sport = be16(l4);
    dport = be16(l4 + 2);
    flags = 1;
  }
  store<u8>(cFamily + row, <u8>family);
  store<u8>(cProto + row, <u8>proto);
  store<u8>(cFlags + row, <u8>flags);
  store<u16>(cSport + 2 * row, <u16>sport);
  store<u16>(cDport + 2 * row, <u16>dport);
  return 0;
}

function walkV4(p: usize, end: usize, row: usize): i32 {
  if (<isize>(end - p) < 20) return none(row, 4);
  const vihl = <u32>load<u8>(p);
  if (vihl >> 4 != 4) return none(row, 5);
  const hl = <usize>((vihl & 15) << 2);
  if (hl < 20) return none(row, 6);
  if (<usize>(end - p) < hl) return none(row, 4);
  const total = <usize>be16(p + 2);
  let ipEnd: usize;
  if (total == 0) ipEnd = end;
  else if (total < hl) return none(row, 7);
  else ipEnd = p + total;
  if (ipEnd > end) ipEnd = end;
  const frag = be16(p + 6);
  const r = finish(row, 4, <u32>load<u8>(p + 9), p + hl, ipEnd, (frag & 0x1fff) != 0);
  if (r != 0) return r;
  store<u32>(cSrc + 4 * row, be32(p + 12));
  store<u32>(cDst + 4 * row, be32(p + 16));
  const w6: usize = row << 4;
  store<u64>(cSrc6 + w6, 0);
  store<u64>(cSrc6 + w6, 0, 8);
  store<u64>(cDst6 + w6, 0);
  store<u64>(cDst6 + w6, 0, 8);
  return 0;
}

function walkV6(p: usize, end: usize, row: usize): i32 {
  if (<isize>(end - p) < 40) return none(row, 4);
  if (<u32>load<u8>(p) >> 4 != 6) return none(row, 5);
  const plen = <usize>be16(p + 4);
  let ipEnd: usize = plen == 0 ? end : p + 40 + plen;
  if (ipEnd > end) ipEnd = end;
  let nh = <u32>load<u8>(p + 6);
  let q = p + 40;
  let count = 0;
  let nonFirst = false;
  while (true) {
    if (nh == 0 || nh == 43 || nh == 60 || nh == 51) {
      if (count == MAX_IPV6_EXT) return none(row, 9);
      if (<isize>(ipEnd - q) < 2) return none(row, 8);
      const l = <u32>load<u8>(q + 1);
      const len = <usize>(nh == 51 ? (l + 2) << 2 : (l + 1) << 3);
      if (<usize>(ipEnd - q) < len) return none(row, 8);
      nh = <u32>load<u8>(q);
      q += len;
      count++;
    } else if (nh == 44) {
      if (count == MAX_IPV6_EXT) return none(row, 9);
      if (<isize>(ipEnd - q) < 8) return none(row, 8);
      const fo = be16(q + 2) & 0xfff8;
      nh = <u32>load<u8>(q);
      q += 8;
      count++;
      if (fo != 0) {
        nonFirst = true;
        break;
      }
    } else break;
  }
  const r = finish(row, 6, nh, q, ipEnd, nonFirst);
  if (r != 0) return r;
  store<u32>(cSrc + 4 * row, 0);
  store<u32>(cDst + 4 * row, 0);
  const w6: usize = row << 4;
  // Words most significant first, each word a host-order u32 of the big-endian bytes.
  store<u32>(cSrc6 + w6, be32(p + 8));
  store<u32>(cSrc6 + w6, be32(p + 12), 4);
  store<u32>(cSrc6 + w6, be32(p + 16), 8);
  store<u32>(cSrc6 + w6, be32(p + 20), 12);
  store<u32>(cDst6 + w6, be32(p + 24));
  store<u32>(cDst6 + w6, be32(p + 28), 4);
  store<u32>(cDst6 + w6, be32(p + 32), 8);
  store<u32>(cDst6 + w6, be32(p + 36), 12);
  return 0;
}

/** Walks one frame [p, end) of link type lt into batch row `row`; returns the reason. */
function walkFrame(lt: u32, p: usize, end: usize, row: usize): i32 {
  let etype: u32 = 0;
  const start = p;
  if (lt == 1) {
    if (<isize>(end - p) < 14) return none(row, 2);
    etype = be16(p + 12);
    p += 14;
  } else if (lt == 101 || lt == 228 || lt == 229) {
    if (<isize>(end - p) < 1) return none(row, 4);
    const v = <u32>load<u8>(p) >> 4;
    if (v == 4 && lt != 229) etype = 0x0800;
    else if (v == 6 && lt != 228) etype = 0x86dd;
    else return none(row, 5);
  } else if (lt == 113) {
    if (<isize>(end - p) < 16) return none(row, 2);
    etype = be16(p + 14);
    p += 16;
  } else if (lt == 276) {
    if (<isize>(end - p) < 20) return none(row, 2);
    etype = be16(p);
    p += 20;
  } else if (lt == 0 || lt == 108) {
    if (<isize>(end - p) < 4) return none(row, 2);
    let af: u32;
    if (lt == 108) af = be32(p);
    else {
      af = be32(p);
      if ((af & 0xffff) == 0) af = <u32>load<u8>(p) | (<u32>load<u8>(p + 1) << 8);
    }
    p += 4;
    if (af == 2) etype = 0x0800;
    else if (af == 10 || af == 24 || af == 28 || af == 30) etype = 0x86dd;
    else return none(row, 3);
  } else {
    return none(row, 1);
  }
  let tags = 0;
  while (etype == 0x8100 || etype == 0x88a8 || etype == 0x9100) {
    if (tags == MAX_VLAN_TAGS) return none(row, 11);
    if (<isize>(end - p) < 4) return none(row, 2);
    etype = be16(p + 2);
    p += 4;
    tags++;
  }
  if (etype == 0x0800) return walkV4(p, end, row);
  if (etype == 0x86dd) return walkV6(p, end, row);
  return none(row, 3);
}

/**
 * Decodes `count` frames described at `descs` (3 u32 each: byte offset from `buf`, length, link
 * type) into batch rows 0..count-1 (batch of `capacity` at `batch`), reasons into u8 reasons[].
 */
export function decode_frames(buf: usize, descs: usize, count: i32, batch: usize, capacity: i32, reasons: usize): void {
  setColumns(batch, capacity);
  for (let i = 0; i < count; i++) {
    const d = descs + 12 * <usize>i;
    const p = buf + <usize>load<u32>(d);
    const r = walkFrame(load<u32>(d, 8), p, p + <usize>load<u32>(d, 4), <usize>i);
    store<u8>(reasons + <usize>i, <u8>r);
  }
}

/**
 * Walks classic pcap records in [buf, buf+len) (record header of `recHdr` bytes, byte order `le`,
 * one link type) and decodes up to `capacity` frames into the batch, caplens into u32 caplens[]. Stops before a record that
 * is not wholly present, and before one starting at or past `limit` (a worker's share of a file
 * ends there). Writes to out: [0] bytes consumed, [1] status (0 ok, 1 capture length
 * above maxCaplen at offset [0]+8: framing lost), [2..] unused. Returns the frames decoded.
 */
export function decode_pcap(buf: usize, len: u32, le: i32, recHdr: u32, lt: u32, maxCaplen: u32, batch: usize, capacity: i32, reasons: usize, caplens: usize, out: usize, limit: u32): i32 {
  setColumns(batch, capacity);
  let off: u32 = 0;
  let n = 0;
  let status: u32 = 0;
  while (n < capacity) {
    if (off >= limit || len - off < recHdr) break;
    const raw = load<u32>(buf + <usize>off + 8);
    const caplen = le ? raw : bswap<u32>(raw);
    if (caplen > maxCaplen) {
      status = 1;
      break;
    }
    if (len - off - recHdr < caplen) break;
    const p = buf + <usize>(off + recHdr);
    const r = walkFrame(lt, p, p + <usize>caplen, <usize>n);
    store<u8>(reasons + <usize>n, <u8>r);
    store<u32>(caplens + (<usize>n << 2), caplen);
    off += recHdr + caplen;
    n++;
  }
  store<u32>(out, off);
  store<u32>(out, status, 4);
  return n;
}

@inline function rd32(p: usize, le: i32): u32 {
  const v = load<u32>(p);
  return le ? v : bswap<u32>(v);
}

/**
 * The pcapng fast path: walks enhanced (6), simple (3) and obsolete (2) packet blocks in
 * [buf, buf+len) of one section (byte order `le`; `nIf` interfaces whose link types and snaplens
 * are u32 arrays at `lts` and `snaps`) and decodes up to `capacity` frames. It stops, leaving the
 * block to the TypeScript parser, at any other block type and at any block it would reject
 * (status 2), and before a block not wholly present (status 0). Link type and caplen per row go
 * to u32 rowLts[] and caplens[]. out: [0] bytes consumed, [1] status. Returns frames decoded.
 */
export function decode_pcapng(
  buf: usize, len: u32, le: i32, lts: usize, snaps: usize, nIf: u32, maxBlock: u32,
  batch: usize, capacity: i32, reasons: usize, caplens: usize, rowLts: usize, out: usize,
): i32 {
  setColumns(batch, capacity);
  let off: u32 = 0;
  let n = 0;
  let status: u32 = 0;
  while (n < capacity) {
    if (len - off < 12) break;
    const b = buf + <usize>off;
    const type = rd32(b, le);
    const blen = rd32(b + 4, le);
    if ((type != 6 && type != 3 && type != 2) || blen < 12 || (blen & 3) != 0 || blen > maxBlock) {
      status = 2;
      break;
    }
    if (len - off < blen) break;
    if (rd32(b + <usize>blen - 4, le) != blen) {
      status = 2;
      break;
    }
    let data: usize;
    let caplen: u32;
    let lt: u32;
    if (type == 3) {
      if (blen < 16 || nIf == 0) {
        status = 2;
        break;
      }
      lt = load<u32>(lts);
      const snap = load<u32>(snaps);
      caplen = rd32(b + 8, le);
      if (caplen > blen - 16) caplen = blen - 16;
      if (snap > 0 && caplen > snap) caplen = snap;
      data = b + 12;
    } else {
      if (blen < 32) {
        status = 2;
        break;
      }
      const ifId = type == 6 ? rd32(b + 8, le) : <u32>(le ? load<u16>(b + 8) : bswap<u16>(load<u16>(b + 8)));
      caplen = rd32(b + 20, le);
      if (ifId >= nIf || caplen > blen - 32) {
        status = 2;
        break;
      }
      lt = load<u32>(lts + (<usize>ifId << 2));
      data = b + 28;
    }
    // A bad interface description is marked 0xffffffff: the TypeScript parser reports it.
    if (lt == 0xffffffff) {
      status = 2;
      break;
    }
    const r = walkFrame(lt, data, data + <usize>caplen, <usize>n);
    store<u8>(reasons + <usize>n, <u8>r);
    store<u32>(caplens + (<usize>n << 2), caplen);
    store<u32>(rowLts + (<usize>n << 2), lt);
    off += blen;
    n++;
  }
  store<u32>(out, off);
  store<u32>(out, status, 4);
  return n;
}
