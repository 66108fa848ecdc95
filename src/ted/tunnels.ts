// The tunnel table: bounded slots (the flow cache stores slot numbers), an index for the miss
// path, and per-slot use counters in typed arrays for the hot path.
//
// The index: per ACL entry, tunnels grouped by their destination care-mask, then by masked
// destination. A flow-cache miss looks up one bucket per distinct mask of its entry (usually one
// or two: every tunnel of an entry is cut from the same entry, often narrowed to the same prefix
// length) instead of testing every tunnel of the entry (120 us per packet with 10,000 tunnels).
import type { TedIdentity } from '../ike/ted-types.js';
import { contains, equalSelectors, hasPortCondition, portIn } from '../selector/algebra.js';
import type { PortSet, Selector, Tuple } from '../selector/types.js';
import type { Deadline } from './scheduler.js';
import type { TunnelInfo, TunnelState } from './types.js';

export class Tunnel {
  state: TunnelState = 'negotiated';
  establishedAt: number | undefined;
  lifetimeDeadline: Deadline | undefined;
  idleDeadline: Deadline | undefined;
  // IPv4 match in plain numbers (the miss path runs per packet while a flow is new).
  readonly srcV: number;
  readonly srcC: number;
  readonly dstV: number;
  readonly dstC: number;
  readonly portCond: boolean;

  constructor(
    readonly id: number,
    readonly slot: number,
    readonly peer: TedIdentity,
    readonly proxy: Selector,
    readonly entry: number,
    readonly icookie: bigint,
    readonly rcookie: bigint,
    readonly tedVersion: 2 | 3,
    readonly negotiatedAt: number,
    readonly expiresAt: number,
    /** The packet whose discovery made the tunnel (its destination is held down if the tunnel fails). */
    readonly trigger: Tuple,
  ) {
    const v4 = proxy.family === 4;
    this.srcV = v4 ? Number(proxy.src.value) >>> 0 : 0;
    this.srcC = v4 ? Number(proxy.src.care) >>> 0 : 0;
    this.dstV = v4 ? Number(proxy.dst.value) >>> 0 : 0;
    this.dstC = v4 ? Number(proxy.dst.care) >>> 0 : 0;
    this.portCond = hasPortCondition(proxy);
  }

  matches4(src: number, dst: number, sport: number, dport: number, proto: number, hasPorts: boolean): boolean {
    const p = this.proxy;
    if (p.protocol !== 0 && p.protocol !== proto) return false;
    if ((src & this.srcC) >>> 0 !== this.srcV || (dst & this.dstC) >>> 0 !== this.dstV) return false;
    if (!this.portCond) return true;
    return hasPorts && inPorts(p.sport, sport) && inPorts(p.dport, dport);
  }

  matches(t: Tuple): boolean {
    return contains(this.proxy, t);
  }
}

function inPorts(set: PortSet, port: number): boolean {
  return portIn(set, port);
}

export const STAT_WORDS = 3;
export const STAT_LAST_USED = 0;
export const STAT_PACKETS = 1;
export const STAT_ID = 2;

interface Group<K> {
  readonly care: K;
  readonly byDst: Map<K, Tunnel[]>;
}

/** The tunnels of one ACL entry. */
class EntryTunnels {
  /** Insertion order (= id order). */
  readonly all = new Set<Tunnel>();
  readonly groups4: Group<number>[] = [];
  readonly groups6: Group<bigint>[] = [];

  add(t: Tunnel): void {
    this.all.add(t);
    if (t.proxy.family === 4) bucket(this.groups4, t.dstC, t.dstV, true)!.push(t);
    else bucket(this.groups6, t.proxy.dst.care, t.proxy.dst.value, true)!.push(t);
  }

  remove(t: Tunnel): void {
    this.all.delete(t);
    if (t.proxy.family === 4) unbucket(this.groups4, t.dstC, t.dstV, t);
    else unbucket(this.groups6, t.proxy.dst.care, t.proxy.dst.value, t);
  }
}

function bucket<K>(groups: Group<K>[], care: K, value: K, create: boolean): Tunnel[] | undefined {
  let g = groups.find((x) => x.care === care);
  if (!g) {
    if (!create) return undefined;
    groups.push((g = { care, byDst: new Map() }));
  }
  let b = g.byDst.get(value);
  if (!b && create) g.byDst.set(value, (b = []));
  return b;
}

function unbucket<K>(groups: Group<K>[], care: K, value: K, t: Tunnel): void {
  const gi = groups.findIndex((x) => x.care === care);
  const g = groups[gi]!;
  const b = g.byDst.get(value)!;
  b.splice(b.indexOf(t), 1);
  if (b.length === 0) g.byDst.delete(value);
  if (g.byDst.size === 0) groups.splice(gi, 1);
}

export class TunnelTable {
  private readonly bySlot: (Tunnel | undefined)[] = [];
  private readonly free: number[] = [];
  private readonly byId = new Map<number, Tunnel>();
  private readonly byEntry = new Map<number, EntryTunnels>();
  private nextId = 1;
  /** Set by lookup4/lookup: a tunnel covers the packet but is not established yet. */
  negotiating = false;
  /**
   * Per slot, interleaved so the hot path touches one place per packet:
   * [STAT_LAST_USED] last time a packet used the tunnel, [STAT_PACKETS] packets forwarded,
   * [STAT_ID] the tunnel id (read without touching the Tunnel object).
   */
  readonly stats: Float64Array;

  constructor(readonly capacity: number) {
    this.stats = new Float64Array(capacity * STAT_WORDS);
  }

  lastUsed(slot: number): number {
    return this.stats[slot * STAT_WORDS + STAT_LAST_USED]!;
  }

  get size(): number {
    return this.byId.size;
  }

  get full(): boolean {
    return this.byId.size >= this.capacity;
  }

  add(make: (id: number, slot: number) => Tunnel): Tunnel | undefined {
    if (this.full) return undefined;
    const slot = this.free.pop() ?? this.bySlot.length;
    const t = make(this.nextId++, slot);
    this.bySlot[slot] = t;
    this.byId.set(t.id, t);
    const k = slot * STAT_WORDS;
    this.stats[k + STAT_LAST_USED] = t.negotiatedAt;
    this.stats[k + STAT_PACKETS] = 0;
    this.stats[k + STAT_ID] = t.id;
    let e = this.byEntry.get(t.entry);
    if (!e) this.byEntry.set(t.entry, (e = new EntryTunnels()));
    e.add(t);
    return t;
  }

  remove(t: Tunnel): boolean {
    if (this.byId.get(t.id) !== t) return false;
    this.byId.delete(t.id);
    this.bySlot[t.slot] = undefined;
    this.stats[t.slot * STAT_WORDS + STAT_ID] = 0;
    this.free.push(t.slot);
    const e = this.byEntry.get(t.entry)!;
    e.remove(t);
    if (e.all.size === 0) this.byEntry.delete(t.entry);
    return true;
  }

  get(id: number): Tunnel | undefined {
    return this.byId.get(id);
  }

  atSlot(slot: number): Tunnel | undefined {
    return this.bySlot[slot];
  }

  /** The tunnels of `entry` in the order they were added. */
  forEntry(entry: number): Iterable<Tunnel> {
    return this.byEntry.get(entry)?.all ?? [];
  }

  /** A tunnel of `entry` to `peer` with exactly `proxy`, if one exists (one bucket looked at). */
  findSame(entry: number, peer: TedIdentity, proxy: Selector): Tunnel | undefined {
    const e = this.byEntry.get(entry);
    if (!e) return undefined;
    const b = proxy.family === 4 ? bucket(e.groups4, Number(proxy.dst.care) >>> 0, Number(proxy.dst.value) >>> 0, false) : bucket(e.groups6, proxy.dst.care, proxy.dst.value, false);
    return b?.find((t) => t.peer.family === peer.family && t.peer.address === peer.address && equalSelectors(t.proxy, proxy));
  }

  /**
   * The established tunnel of `entry` covering the IPv4 packet that was added first (the
   * smallest id), or undefined; `negotiating` tells whether a covering tunnel is still being
   * brought up.
   */
  lookup4(entry: number, src: number, dst: number, sport: number, dport: number, proto: number, hasPorts: boolean): Tunnel | undefined {
    this.negotiating = false;
    const e = this.byEntry.get(entry);
    if (!e) return undefined;
    let best: Tunnel | undefined;
    for (const g of e.groups4) {
      const b = g.byDst.get((dst & g.care) >>> 0);
      if (!b) continue;
      for (const t of b) {
        if ((best && t.id > best.id) || !t.matches4(src, dst, sport, dport, proto, hasPorts)) continue;
        if (t.state === 'established') best = t;
        else this.negotiating = true;
      }
    }
    return best;
  }

  /** The same for any packet (IPv6). */
  lookup(entry: number, p: Tuple): Tunnel | undefined {
    this.negotiating = false;
    const e = this.byEntry.get(entry);
    if (!e) return undefined;
    if (p.family === 4) return this.lookup4(entry, Number(p.src) >>> 0, Number(p.dst) >>> 0, p.sport, p.dport, p.protocol, p.hasPorts);
    let best: Tunnel | undefined;
    for (const g of e.groups6) {
      const b = g.byDst.get(p.dst & g.care);
      if (!b) continue;
      for (const t of b) {
        if ((best && t.id > best.id) || !t.matches(p)) continue;
        if (t.state === 'established') best = t;
        else this.negotiating = true;
      }
    }
    return best;
  }

  all(): IterableIterator<Tunnel> {
    return this.byId.values();
  }

  info(t: Tunnel): TunnelInfo {
    return {
      id: t.id,
      state: t.state,
      peer: t.peer,
      proxy: t.proxy,
      entry: t.entry,
      icookie: t.icookie,
      rcookie: t.rcookie,
      tedVersion: t.tedVersion,
      negotiatedAt: t.negotiatedAt,
      ...(t.establishedAt !== undefined ? { establishedAt: t.establishedAt } : {}),
      lastUsed: this.stats[t.slot * STAT_WORDS + STAT_LAST_USED]!,
      expiresAt: t.expiresAt,
      packets: this.stats[t.slot * STAT_WORDS + STAT_PACKETS]!,
    };
  }
}
