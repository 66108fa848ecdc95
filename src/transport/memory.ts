// An in-memory network for deterministic simulations: transports attach with the addresses they
// receive for (their own IKE address, and the host prefixes whose UDP 500 they intercept, as a
// gateway in front of those hosts would); sent datagrams are queued and delivered by `flush()`,
// in send order, to the most specific claim. Nothing here depends on wall time.
import type { Family } from '../selector/types.js';
import type { Datagram, DatagramHandler, InboundDatagram, OutboundDatagram, Transport, TransportCapabilities } from './types.js';

/** Addresses (value/care-mask, as in Address) and optionally one UDP port a transport receives on. */
export interface Claim {
  readonly family: Family;
  readonly value: bigint;
  /** Care-mask: all ones for one address, a prefix mask for a subnet, 0 for everything. */
  readonly care: bigint;
  /** Only datagrams to this UDP port; undefined = any port. */
  readonly port?: number;
}

/** A datagram seen on the network, with who sent it (undefined for injected ones). */
export interface WireRecord {
  readonly datagram: OutboundDatagram | Datagram;
  readonly from?: MemoryTransport;
  readonly injected: boolean;
}

export interface MemoryNetworkStats {
  sent: number;
  injected: number;
  delivered: number;
  /** No transport claims the destination. */
  unroutable: number;
  /** Dropped by the loss filter. */
  lost: number;
}

interface CompiledClaim extends Claim {
  readonly weight: number;
  /** IPv4 value and care-mask as numbers (routing then needs no BigInt arithmetic). */
  readonly v4: number;
  readonly c4: number;
}

interface Attached {
  readonly transport: MemoryTransport;
  readonly claims: readonly CompiledClaim[];
}

function popcount(v: bigint): number {
  let n = 0;
  while (v) {
    v &= v - 1n;
    n++;
  }
  return n;
}

function copyOf(d: Datagram, spoofSource: boolean): OutboundDatagram {
  return { family: d.family, src: d.src, dst: d.dst, sport: d.sport, dport: d.dport, payload: d.payload.slice(), spoofSource };
}

export class MemoryNetwork {
  readonly stats: MemoryNetworkStats = { sent: 0, injected: 0, delivered: 0, unroutable: 0, lost: 0 };
  private attached: Attached[] = [];
  private queue: { d: InboundDatagram; to: MemoryTransport }[] = [];
  private head = 0;
  private taps: ((r: WireRecord) => void)[] = [];
  /** Return true to lose a datagram (loss simulation). */
  loss: ((d: Datagram) => boolean) | undefined;

  /** Attaches a new transport receiving for `claims`. */
  attach(claims: readonly Claim[], capabilities: TransportCapabilities = { spoofSource: true }): MemoryTransport {
    const t = new MemoryTransport(this, capabilities);
    this.attached.push({
      transport: t,
      claims: claims.map((c) => ({
        ...c,
        value: c.value & c.care,
        weight: popcount(c.care),
        v4: c.family === 4 ? Number(c.value & c.care) >>> 0 : 0,
        c4: c.family === 4 ? Number(c.care) >>> 0 : 0,
      })),
    });
    return t;
  }

  /** Observes every datagram sent or injected (before loss and routing). */
  tap(fn: (r: WireRecord) => void): () => void {
    this.taps.push(fn);
    return () => {
      this.taps = this.taps.filter((x) => x !== fn);
    };
  }

  /**
   * Puts a datagram on the wire as if some host sent it (forgeries, floods). The payload is not
   * copied: leave it unchanged until it has been delivered.
   */
  inject(d: Datagram): void {
    this.stats.injected++;
    this.route(d, false, undefined, true);
  }

  /** Datagrams queued and not yet delivered. */
  get inFlight(): number {
    return this.queue.length - this.head;
  }

  /**
   * Delivers queued datagrams, including ones sent by handlers while flushing, until none are
   * left or `limit` were delivered. Returns how many were delivered.
   */
  flush(limit = Infinity): number {
    let n = 0;
    while (this.head < this.queue.length && n < limit) {
      const item = this.queue[this.head]!;
      this.queue[this.head++] = undefined as never;
      n++;
      this.stats.delivered++;
      item.to.deliver(item.d);
    }
    if (this.head === this.queue.length) {
      this.queue = [];
      this.head = 0;
    } else if (this.head > 4096 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    return n;
  }

  /** @internal */
  submit(from: MemoryTransport, d: OutboundDatagram): void {
    this.stats.sent++;
    this.route(d, true, from, false);
  }

  /** `copy`: the sender may reuse the payload (Transport.send's contract), so whatever is kept is copied. */
  private route(d: OutboundDatagram | Datagram, copy: boolean, from: MemoryTransport | undefined, injected: boolean): void {
    if (this.taps.length) {
      if (copy) {
        d = copyOf(d, (d as OutboundDatagram).spoofSource ?? false);
        copy = false;
      }
      for (const tap of this.taps) tap({ datagram: d, from, injected });
    }
    if (this.loss?.(d)) {
      this.stats.lost++;
      return;
    }
    const to = this.lookup(d.family, d.dst, d.dport);
    if (!to || to.closed) {
      this.stats.unroutable++;
      return;
    }
    const inbound: InboundDatagram = { family: d.family, src: d.src, dst: d.dst, sport: d.sport, dport: d.dport, payload: copy ? d.payload.slice() : d.payload, dstKnown: true };
    this.queue.push({ d: inbound, to });
  }

  private lookup(family: Family, dst: bigint, port: number): MemoryTransport | undefined {
    let best: MemoryTransport | undefined;
    let weight = -1;
    const d4 = family === 4 ? Number(dst) >>> 0 : 0;
    for (const a of this.attached) {
      if (a.transport.closed) continue;
      for (const c of a.claims) {
        if (c.family !== family || c.weight <= weight || (c.port !== undefined && c.port !== port)) continue;
        if (family === 4 ? (d4 & c.c4) >>> 0 === c.v4 : (dst & c.care) === c.value) {
          best = a.transport;
          weight = c.weight;
        }
      }
    }
    return best;
  }
}

/** One gateway's attachment to a MemoryNetwork. */
export class MemoryTransport implements Transport {
  readonly capabilities: TransportCapabilities;
  closed = false;
  private handler: DatagramHandler | undefined;
  /** Datagrams this transport sent / received. */
  sent = 0;
  received = 0;

  constructor(
    private readonly network: MemoryNetwork,
    capabilities: TransportCapabilities,
  ) {
    this.capabilities = capabilities;
  }

  send(d: OutboundDatagram): void {
    if (this.closed) return;
    this.sent++;
    this.network.submit(this, d);
  }

  onDatagram(handler: DatagramHandler): void {
    this.handler = handler;
  }

  /** @internal Called by the network. */
  deliver(d: InboundDatagram): void {
    if (this.closed) return;
    this.received++;
    this.handler?.(d);
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}
