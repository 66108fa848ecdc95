// The tunnel table: bounded slots (the flow cache stores slot numbers), an index by entry ordinal
// for the miss path, and per-slot use counters in typed arrays for the hot path.
import type { TedIdentity } from '../ike/ted-types.js';
import { contains, hasPortCondition, portIn } from '../selector/algebra.js';
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

export class TunnelTable {
  private readonly bySlot: (Tunnel | undefined)[] = [];
  private readonly free: number[] = [];
  private readonly byId = new Map<number, Tunnel>();
  private readonly byEntry = new Map<number, Tunnel[]>();
  private nextId = 1;
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
    let list = this.byEntry.get(t.entry);
    if (!list) this.byEntry.set(t.entry, (list = []));
    list.push(t);
    return t;
  }

  remove(t: Tunnel): boolean {
    if (this.byId.get(t.id) !== t) return false;
    this.byId.delete(t.id);
    this.bySlot[t.slot] = undefined;
    this.stats[t.slot * STAT_WORDS + STAT_ID] = 0;
    this.free.push(t.slot);
    const list = this.byEntry.get(t.entry)!;
    list.splice(list.indexOf(t), 1);
    if (list.length === 0) this.byEntry.delete(t.entry);
    return true;
  }

  get(id: number): Tunnel | undefined {
    return this.byId.get(id);
  }

  atSlot(slot: number): Tunnel | undefined {
    return this.bySlot[slot];
  }

  forEntry(entry: number): readonly Tunnel[] | undefined {
    return this.byEntry.get(entry);
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
