// TCP stream reassembly for the I/O layer (`ted decode`, capture readers): the bytes of each
// direction of a connection in sequence order, whatever order and size the segments came in.
// Each direction is keyed by (family, source, destination, source port, destination port) and
// is independent of its reverse. Bounded: directions held at once (the least recently active is
// dropped to make room), bytes held out of order per direction and in total, out-of-order
// segments per direction, and an idle timeout in capture time. Retransmitted bytes are
// delivered once (the first copy wins); a gap that outlives the bounds, or that is still open
// at the end, loses the direction: its consumer is told, and nothing more is delivered for it.
import type { WalkState } from './decode.js';
import { BoundedTable } from './reassembly.js';

export interface TcpLimits {
  /** Directions followed at once. */
  readonly maxStreams: number;
  /** Out-of-order bytes held per direction (also the furthest ahead a segment may start). */
  readonly maxHeldBytes: number;
  /** Out-of-order segments held per direction. */
  readonly maxHeldSegments: number;
  /** Out-of-order bytes held over all directions. */
  readonly maxTotalBytes: number;
  /** Seconds of capture time without a segment before a direction is forgotten. */
  readonly idleSec: number;
}

export const TCP_LIMITS: TcpLimits = Object.freeze({ maxStreams: 4096, maxHeldBytes: 256 * 1024, maxHeldSegments: 256, maxTotalBytes: 16 * 1024 * 1024, idleSec: 300 });

export type TcpLossReason = 'gap' | 'idle' | 'memory' | 'end';

export interface TcpCounters {
  segments: number;
  /** Segments whose bytes had all been delivered already. */
  retransmitted: number;
  /** Segments held for later (arrived ahead of a gap). */
  outOfOrder: number;
  /** Directions lost with bytes missing, by reason. */
  gap: number;
  idle: number;
  memory: number;
  end: number;
}

/** One direction of a connection, as its consumer sees it. */
export interface TcpDirection<U> {
  readonly key: string;
  readonly sport: number;
  readonly dport: number;
  /** Bytes delivered so far. */
  delivered: number;
  /** The consumer's state (a framer). */
  user: U | undefined;
}

export interface TcpHandlers<U> {
  /** In-order bytes of `dir`, carried by `frame` (bytes are a view: copy to keep). */
  data(dir: TcpDirection<U>, bytes: Uint8Array, frame: number): void;
  /** The direction is gone: `lost` says why ('end' when flushed at the end with a gap open, or closed with nothing held). */
  lost?(dir: TcpDirection<U>, reason: TcpLossReason, held: number): void;
}

interface Held {
  readonly seq: number;
  readonly data: Uint8Array;
  readonly frame: number;
}

interface Stream<U> extends TcpDirection<U> {
  created: number;
  bytes: number;
  next: number;
  synced: boolean;
  readonly held: Held[];
  /** Lost to a gap: later segments are swallowed until FIN, RST or the idle timeout. */
  closed: boolean;
}

function hexBytes(d: Uint8Array, at: number, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += (d[at + i]! | 0x100).toString(16).slice(1);
  return s;
}

/** Signed distance from b to a in 32-bit sequence space. */
const seqDiff = (a: number, b: number): number => (a - b) | 0;

export class TcpReassembler<U = unknown> {
  readonly limits: TcpLimits;
  readonly counters: TcpCounters = { segments: 0, retransmitted: 0, outOfOrder: 0, gap: 0, idle: 0, memory: 0, end: 0 };
  private readonly table: BoundedTable<string, Stream<U>>;

  constructor(
    private readonly handlers: TcpHandlers<U>,
    limits: Partial<TcpLimits> = {},
  ) {
    this.limits = { ...TCP_LIMITS, ...limits };
    this.table = new BoundedTable(this.limits.maxStreams, this.limits.maxTotalBytes, this.limits.idleSec, (_k, st, why) => this.lose(st, why === 'timeout' ? 'idle' : 'memory'));
  }

  get streams(): number {
    return this.table.size;
  }

  /**
   * Takes one TCP segment walked into `s` (protocol 6, hasPorts) of `frame` at `time` (seconds).
   * Delivers what became contiguous through `handlers.data`. Returns the segment's direction
   * (undefined when the segment carried nothing to follow).
   */
  push(d: Uint8Array, s: WalkState, time: number, frame: number): TcpDirection<U> | undefined {
    this.counters.segments++;
    this.table.expire(time);
    const t = s.l4;
    if (s.ipEnd - t < 20) return undefined;
    const seq = ((d[t + 4]! << 24) | (d[t + 5]! << 16) | (d[t + 6]! << 8) | d[t + 7]!) >>> 0;
    const flags = d[t + 13]!;
    const doff = (d[t + 12]! >> 4) * 4;
    const syn = (flags & 0x02) !== 0;
    const fin = (flags & 0x01) !== 0;
    const rst = (flags & 0x04) !== 0;
    const payload = d.subarray(Math.min(t + Math.max(20, doff), s.ipEnd), s.ipEnd);
    const n = s.family === 4 ? 4 : 16;
    const key = `${s.family}|${hexBytes(d, s.srcAt, n)}|${hexBytes(d, s.dstAt, n)}|${s.sport}|${s.dport}`;
    let st = this.table.map.get(key);
    if (st === undefined || (syn && st.synced && seqDiff(seq + 1, st.next) !== 0)) {
      // A new connection (or a SYN starting a new one on the same ports).
      if (st) this.drop(st, 'end');
      if (payload.length === 0 && !syn) return undefined;
      this.table.makeRoom(0, true);
      st = { key, sport: s.sport, dport: s.dport, delivered: 0, user: undefined, created: time, bytes: 0, next: 0, synced: false, held: [], closed: false };
      this.table.add(key, st);
    } else this.table.stamp(key, st, time);
    if (st.closed) {
      if (rst || fin) this.table.remove(key, st);
      return undefined;
    }
    if (!st.synced) {
      // Without the SYN (a capture started mid-connection), the first segment seen starts the stream.
      st.next = syn ? (seq + 1) >>> 0 : seq;
      st.synced = true;
    }
    const dataSeq = syn ? (seq + 1) >>> 0 : seq;
    if (payload.length > 0) this.accept(st, dataSeq, payload, frame);
    if (rst || (fin && seqDiff((dataSeq + payload.length) >>> 0, st.next) <= 0 && st.held.length === 0)) this.drop(st, 'end');
    return st;
  }

  /** Every direction still followed is let go; one with a gap open counts as lost at the end. */
  flush(): void {
    for (const st of [...this.table.map.values()]) this.drop(st, 'end');
  }

  private accept(st: Stream<U>, seq: number, payload: Uint8Array, frame: number): void {
    const ahead = seqDiff(seq, st.next);
    if (ahead > 0) {
      if (ahead + payload.length > this.limits.maxHeldBytes || st.held.length >= this.limits.maxHeldSegments) {
        this.lose(st, 'gap');
        return;
      }
      this.counters.outOfOrder++;
      this.table.makeRoom(payload.length, false);
      if (this.table.map.get(st.key) !== st) return;
      let i = st.held.length;
      while (i > 0 && seqDiff(st.held[i - 1]!.seq, seq) > 0) i--;
      st.held.splice(i, 0, { seq, data: payload.slice(), frame });
      this.table.charge(st, payload.length);
      return;
    }
    this.deliver(st, payload, -ahead, frame);
    while (st.held.length > 0 && this.table.map.get(st.key) === st) {
      const h = st.held[0]!;
      const at = seqDiff(h.seq, st.next);
      if (at > 0) break;
      st.held.shift();
      this.table.charge(st, -h.data.length);
      this.deliver(st, h.data, -at, h.frame);
    }
  }

  /** Delivers payload[skip..] (the part before `skip` was delivered already). */
  private deliver(st: Stream<U>, payload: Uint8Array, skip: number, frame: number): void {
    if (skip >= payload.length) {
      this.counters.retransmitted++;
      return;
    }
    const fresh = skip > 0 ? payload.subarray(skip) : payload;
    st.next = (st.next + fresh.length) >>> 0;
    st.delivered += fresh.length;
    this.handlers.data(st, fresh, frame);
  }

  private drop(st: Stream<U>, reason: TcpLossReason): void {
    if (this.table.map.get(st.key) !== st) return;
    this.table.remove(st.key, st);
    if (st.closed) return;
    const held = st.held.reduce((a, h) => a + h.data.length, 0);
    if (held > 0) this.counters[reason === 'end' ? 'end' : reason]++;
    this.handlers.lost?.(st, reason, held);
  }

  private lose(st: Stream<U>, reason: TcpLossReason): void {
    const held = st.held.reduce((a, h) => a + h.data.length, 0);
    // A gap keeps the direction as a tombstone that swallows its later segments (they cannot be
    // framed any more); eviction (idle, memory) has already taken it out of the table.
    if (this.table.map.get(st.key) === st) this.table.charge(st, -st.bytes);
    st.held.length = 0;
    st.closed = true;
    // A gap is always a loss; an idle or evicted direction only when it had bytes waiting.
    if (reason === 'gap' || held > 0) this.counters[reason]++;
    this.handlers.lost?.(st, reason, held);
  }
}
