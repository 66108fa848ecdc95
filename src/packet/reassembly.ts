// IPv4 and IPv6 fragment reassembly for the I/O layer (capture reading, `ted decode`, the
// daemons' capture source). The classifier's hot path never sees this: there a non-first
// fragment stays a port-less tuple, as before.
//
// A datagram is keyed by (family, source, destination, protocol, identification) (IPv6: the
// fragment header's Next Header stands for the protocol). Everything an attacker controls is
// bounded: bytes per datagram (the IP maximum), fragments per datagram, datagrams held at once,
// bytes held in total, and time (capture time, so a file decodes the same however fast it is
// read). Overlaps are refused on purpose, for both families (RFC 5722 for IPv6; Linux does the
// same for IPv4): a fragment that overlaps another abandons the whole datagram, and later
// fragments of it are dropped until its timeout. A repeated fragment (same offset, same length,
// same bytes) is a duplicate, dropped and counted; with different bytes it is an overlap.
// Every abandoned datagram is counted by reason and reported to `onAbandon`.
import type { WalkState } from './decode.js';
import { internetChecksum } from './encode.js';

export interface ReassemblyLimits {
  /** Largest reassembled fragmentable part (bytes); the IP maximum by default. */
  readonly maxDatagramBytes: number;
  /** Fragments per datagram. */
  readonly maxFragments: number;
  /** Datagrams held at once (the oldest is abandoned to make room). */
  readonly maxDatagrams: number;
  /** Fragment bytes held in total (the oldest datagrams are abandoned to make room). */
  readonly maxTotalBytes: number;
  /** Seconds of capture time after a datagram's first fragment before it is abandoned. */
  readonly timeoutSec: number;
}

export const REASSEMBLY_LIMITS: ReassemblyLimits = Object.freeze({
  maxDatagramBytes: 65535,
  maxFragments: 64,
  maxDatagrams: 4096,
  maxTotalBytes: 8 * 1024 * 1024,
  timeoutSec: 30,
});

/** Why a datagram was abandoned, with its stable code. */
export const ABANDON_CODES = Object.freeze({
  timeout: 'PKT_FRAG_TIMEOUT',
  overlap: 'PKT_FRAG_OVERLAP',
  'too-many-fragments': 'PKT_FRAG_TOO_MANY',
  'too-large': 'PKT_FRAG_TOO_LARGE',
  memory: 'PKT_FRAG_MEMORY',
  'bad-fragment': 'PKT_FRAG_BAD',
  incomplete: 'PKT_FRAG_INCOMPLETE',
});
export type AbandonReason = keyof typeof ABANDON_CODES;

export interface ReassemblyCounters {
  fragments: number;
  /** Datagrams completed. */
  datagrams: number;
  duplicates: number;
  /** Fragments of an already abandoned datagram, dropped. */
  late: number;
  timeout: number;
  overlap: number;
  'too-many-fragments': number;
  'too-large': number;
  memory: number;
  'bad-fragment': number;
  incomplete: number;
}

/** A completed datagram as a raw IP packet (LINKTYPE_RAW), ready for decodeFrame/walkFrame. */
export interface Reassembled {
  readonly family: 4 | 6;
  readonly protocol: number;
  readonly packet: Uint8Array;
  /** Frames of the fragments, in offset order. */
  readonly frames: readonly number[];
}

export interface Abandoned {
  readonly family: 4 | 6;
  readonly protocol: number;
  readonly id: number;
  readonly reason: AbandonReason;
  /** Stable code (ABANDON_CODES[reason]). */
  readonly code: string;
  /** Byte offset in the datagram's fragmentable part where the problem lies (first gap, overlap). */
  readonly offset: number;
  /** Frames of the fragments seen, in arrival order (a refused fragment included). */
  readonly frames: readonly number[];
  /** The IP header bytes of a fragment (for addresses), and the offset-0 data when held (for ports). */
  readonly header: Uint8Array;
  readonly first?: Uint8Array;
}

interface Piece {
  readonly offset: number;
  readonly length: number;
  readonly frame: number;
  /** Dropped once the datagram completed (the range is kept to recognise late duplicates). */
  data: Uint8Array | undefined;
}

interface Datagram {
  created: number;
  bytes: number;
  readonly family: 4 | 6;
  readonly protocol: number;
  readonly id: number;
  /** IP header of the offset-0 fragment when seen (IPv4 with options; IPv6 the fixed 40 bytes), else of any fragment. */
  header: Uint8Array;
  headerFromFirst: boolean;
  /** Sorted by offset, never overlapping. */
  readonly pieces: Piece[];
  total: number;
  have: number;
  readonly frames: number[];
  /** Abandoned or completed: kept until its timeout to swallow late fragments and duplicates. */
  dead: false | 'abandoned' | 'completed';
}

/**
 * Entries in creation (or last-stamp) order under an entry cap, a byte budget and a capture-time
 * timeout. Shared by the IP, TCP and IKE reassemblers: only the oldest entries are ever evicted.
 */
export class BoundedTable<K, E extends { created: number; bytes: number }> {
  readonly map = new Map<K, E>();
  bytes = 0;
  constructor(
    private readonly maxEntries: number,
    private readonly maxBytes: number,
    private readonly timeout: number,
    private readonly evict: (key: K, entry: E, reason: 'timeout' | 'memory') => void,
  ) {}

  get size(): number {
    return this.map.size;
  }

  /** Evicts entries older than the timeout at time `now`. */
  expire(now: number): void {
    for (const [k, e] of this.map) {
      if (now - e.created <= this.timeout) break;
      this.remove(k, e);
      this.evict(k, e, 'timeout');
    }
  }

  /** Evicts the oldest entries until one more entry of `bytes` more bytes fits. */
  makeRoom(bytes: number, adding: boolean): void {
    for (const [k, e] of this.map) {
      if ((adding ? this.map.size < this.maxEntries : true) && this.bytes + bytes <= this.maxBytes) break;
      this.remove(k, e);
      this.evict(k, e, 'memory');
    }
  }

  add(key: K, e: E): void {
    this.map.set(key, e);
    this.bytes += e.bytes;
  }

  charge(e: E, n: number): void {
    e.bytes += n;
    this.bytes += n;
  }

  remove(key: K, e: E): void {
    if (this.map.get(key) === e) {
      this.map.delete(key);
      this.bytes -= e.bytes;
    }
  }

  /** Moves an entry to the young end (activity restarts its timeout). */
  stamp(key: K, e: E, now: number): void {
    e.created = now;
    this.map.delete(key);
    this.map.set(key, e);
  }
}

function hexBytes(d: Uint8Array, at: number, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += (d[at + i]! | 0x100).toString(16).slice(1);
  return s;
}

/** Reassembles IP fragments; `add` returns the completed datagram when a fragment completes one. */
export class IpReassembler {
  readonly limits: ReassemblyLimits;
  readonly counters: ReassemblyCounters = {
    fragments: 0,
    datagrams: 0,
    duplicates: 0,
    late: 0,
    timeout: 0,
    overlap: 0,
    'too-many-fragments': 0,
    'too-large': 0,
    memory: 0,
    'bad-fragment': 0,
    incomplete: 0,
  };
  private readonly table: BoundedTable<string, Datagram>;

  constructor(
    limits: Partial<ReassemblyLimits> = {},
    private readonly onAbandon?: (a: Abandoned) => void,
  ) {
    this.limits = { ...REASSEMBLY_LIMITS, ...limits };
    this.table = new BoundedTable(this.limits.maxDatagrams, this.limits.maxTotalBytes, this.limits.timeoutSec, (_k, g, why) => {
      if (!g.dead) this.abandon(g, why, firstGap(g));
    });
  }

  /** Datagrams held (tombstones of abandoned and completed ones included) and bytes held. */
  get held(): { datagrams: number; bytes: number } {
    return { datagrams: this.table.size, bytes: this.table.bytes };
  }

  /**
   * Takes one fragment, as walked by walkFrame into `s` (s.isFragment, s.fragStart set), of
   * `frame` captured at `time` (seconds). Returns the reassembled datagram when this fragment
   * completes it. The bytes are copied: the caller may reuse `data`.
   */
  add(data: Uint8Array, s: WalkState, time: number, frame: number): Reassembled | undefined {
    const L = this.limits;
    this.counters.fragments++;
    this.table.expire(time);
    // s.family is cleared when the walk failed past the IP header (a tiny first fragment).
    const family = s.srcAt - s.l3 === 8 ? 6 : 4;
    const n = family === 4 ? 4 : 16;
    const protocol = s.fragNext;
    const key = `${family}|${hexBytes(data, s.srcAt, n)}|${hexBytes(data, s.dstAt, n)}|${protocol}|${s.fragId}`;
    const offset = s.fragOffset;
    const end = Math.max(s.fragStart, s.ipEnd);
    const piece = data.subarray(s.fragStart, end);
    const last = !s.moreFragments;
    let g = this.table.map.get(key);
    if (g === undefined) {
      const header = data.slice(s.l3, family === 4 ? s.fragStart : s.l3 + 40);
      g = { created: time, bytes: 0, family, protocol, id: s.fragId, header, headerFromFirst: offset === 0, pieces: [], total: -1, have: 0, frames: [], dead: false };
      this.table.makeRoom(piece.length + header.length, true);
      this.table.add(key, g);
      this.table.charge(g, header.length);
    }
    if (g.dead) {
      if (g.dead === 'completed' && g.pieces.some((p) => p.offset === offset && p.length === piece.length)) {
        this.counters.duplicates++;
        return undefined;
      }
      if (g.dead === 'completed') {
        // The identification came round again: a new datagram under the same key.
        this.table.remove(key, g);
        return this.add(data, s, time, frame);
      }
      this.counters.late++;
      return undefined;
    }
    g.frames.push(frame);
    if (offset === 0 && !g.headerFromFirst) {
      this.table.charge(g, -g.header.length);
      g.header = data.slice(s.l3, family === 4 ? s.fragStart : s.l3 + 40);
      g.headerFromFirst = true;
      this.table.charge(g, g.header.length);
    }
    const pend = offset + piece.length;
    // IPv4's total length covers the header too.
    const cap = family === 4 ? Math.min(L.maxDatagramBytes, 65535 - g.header.length) : L.maxDatagramBytes;
    if (pend > cap) return this.refuse(g, 'too-large', cap);
    // Every fragment but the last carries a multiple of 8 bytes (RFC 791, RFC 8200 4.5).
    if (!last && piece.length % 8 !== 0) return this.refuse(g, 'bad-fragment', offset);
    if (last) {
      if (g.total >= 0 && g.total !== pend) return this.refuse(g, 'bad-fragment', Math.min(g.total, pend));
      // A fragment already held past the end this one declares: the two cannot both be right.
      const tail = g.pieces[g.pieces.length - 1];
      if (tail && tail.offset + tail.length > pend) return this.refuse(g, 'bad-fragment', pend);
      g.total = pend;
    }
    if (g.total >= 0 && pend > g.total) return this.refuse(g, 'bad-fragment', g.total);
    // Find the place: pieces are sorted and disjoint.
    const ps = g.pieces;
    let i = ps.length;
    while (i > 0 && ps[i - 1]!.offset > offset) i--;
    const before = ps[i - 1];
    const after = ps[i];
    if (before && before.offset === offset && before.length === piece.length) {
      if (sameBytes(before.data!, piece)) {
        this.counters.duplicates++;
        g.frames.pop();
        return undefined;
      }
      return this.refuse(g, 'overlap', offset);
    }
    if (before && before.offset + before.length > offset) return this.refuse(g, 'overlap', offset);
    if (after && pend > after.offset) return this.refuse(g, 'overlap', after.offset);
    if (ps.length >= L.maxFragments) return this.refuse(g, 'too-many-fragments', offset);
    this.table.makeRoom(piece.length, false);
    // Making room may have evicted this very datagram (when it was the oldest).
    if (this.table.map.get(key) !== g) return undefined;
    ps.splice(i, 0, { offset, length: piece.length, frame, data: piece.slice() });
    g.have += piece.length;
    this.table.charge(g, piece.length);
    if (g.total < 0 || g.have !== g.total) return undefined;
    // Complete: the pieces are disjoint and add up to the total, so they tile [0, total).
    const packet = buildPacket(g);
    this.counters.datagrams++;
    // Keep the ranges, not the bytes, until the timeout, to recognise late duplicates.
    for (const p of ps) p.data = undefined;
    this.table.charge(g, -g.bytes);
    g.dead = 'completed';
    return { family: g.family, protocol: g.protocol, packet, frames: ps.map((p) => p.frame) };
  }

  /** Abandons every datagram still incomplete (the end of a capture). */
  flush(): void {
    for (const [k, g] of this.table.map) {
      this.table.remove(k, g);
      if (!g.dead) this.abandon(g, 'incomplete', firstGap(g));
    }
  }

  private refuse(g: Datagram, reason: AbandonReason, offset: number): undefined {
    this.abandon(g, reason, offset);
    // The tombstone keeps swallowing this datagram's fragments until its timeout.
    this.table.charge(g, -g.bytes);
    g.dead = 'abandoned';
    g.pieces.length = 0;
    return undefined;
  }

  private abandon(g: Datagram, reason: AbandonReason, offset: number): void {
    this.counters[reason]++;
    const first = g.pieces[0]?.offset === 0 ? g.pieces[0].data : undefined;
    for (const p of g.pieces) p.data = undefined;
    this.onAbandon?.({ family: g.family, protocol: g.protocol, id: g.id, reason, code: ABANDON_CODES[reason], offset, frames: g.frames.slice(), header: g.header, first });
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Offset of the first byte not held (the datagram's total when nothing is missing). */
function firstGap(g: Datagram): number {
  let at = 0;
  for (const p of g.pieces) {
    if (p.offset > at) return at;
    at = p.offset + p.length;
  }
  return at;
}

/**
 * The reassembled datagram as a raw IP packet: IPv4 keeps the offset-0 fragment's header (with
 * its options) with the fragment fields cleared, length and checksum recomputed; IPv6 gets the
 * fixed header with Next Header = the fragment header's, so extension headers before the
 * fragment header (hop-by-hop, routing) are not carried over.
 */
function buildPacket(g: Datagram): Uint8Array {
  const h = g.header;
  const hl = g.family === 4 ? h.length : 40;
  const out = new Uint8Array(hl + g.total);
  out.set(h.subarray(0, hl), 0);
  for (const p of g.pieces) out.set(p.data!, hl + p.offset);
  if (g.family === 4) {
    const total = Math.min(0xffff, out.length);
    out[2] = total >>> 8;
    out[3] = total & 0xff;
    out[6] = 0;
    out[7] = 0;
    out[10] = 0;
    out[11] = 0;
    const c = internetChecksum(out, 0, hl);
    out[10] = c >>> 8;
    out[11] = c & 0xff;
  } else {
    const plen = Math.min(0xffff, g.total);
    out[4] = plen >>> 8;
    out[5] = plen & 0xff;
    out[6] = g.protocol;
  }
  return out;
}
