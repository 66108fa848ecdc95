// The real transport for everything that an ordinary UDP socket can do: receiving on the IKE port
// (IPv4 and IPv6) and sending from one of this gateway's own addresses (the TED response, and the
// probe when no raw socket is available). Probes with the source host's address go through
// ./raw.ts, which wraps this transport.
import dgram from 'node:dgram';
import { TedError } from '../errors.js';
import { formatAddress, parseAnyAddress } from '../selector/address.js';
import type { Family } from '../selector/types.js';
import { IKE_PORT } from './types.js';
import type { DatagramHandler, InboundDatagram, OutboundDatagram, Transport, TransportCapabilities } from './types.js';

/** One socket to open: an address of this host (or a wildcard) and a port. */
export interface UdpEndpoint {
  /** '0.0.0.0' / '::' (wildcard: also receives datagrams for addresses routed as local) or one address. */
  readonly address: string;
  /** Default 500. 0 picks a free port (tests); read it back from `endpoints()`. */
  readonly port?: number;
}

/** Where a datagram actually goes: textual address and port. */
export interface UdpDestination {
  readonly address: string;
  readonly port: number;
}

export interface UdpTransportOptions {
  readonly bind: readonly UdpEndpoint[];
  /**
   * Sends datagrams addressed to UDP 500 to this port instead: for runs without root, where the
   * peer listens on an unprivileged port (the demo on loopback). Default: no rewrite.
   */
  readonly remotePort?: number;
  /**
   * Full control over where a datagram goes (applied after `remotePort`); return undefined to keep
   * the default. Used by simulations on loopback that map documentation addresses to 127.0.0.0/8.
   */
  readonly redirect?: (d: OutboundDatagram, dest: UdpDestination) => UdpDestination | undefined;
  /** Called for socket errors and failed sends (they never throw out of `send`). */
  readonly onError?: (err: Error, context: string) => void;
  /**
   * Several gateways of one process share the port (the demo: a responder's wildcard socket and
   * the initiators' own-address sockets, all on UDP 500). Sets SO_REUSEADDR on every socket and
   * skips the check that the port is free: only for sockets this process owns on both sides.
   */
  readonly shared?: boolean;
}

/** What the transport counted; read it for `ted status`. */
export interface UdpTransportCounters {
  received: number;
  sent: number;
  /** Sends the OS refused (unreachable, ENOBUFS, EPERM, ...): the datagram is lost. */
  sendErrors: number;
  /** No socket of the datagram's family is open. */
  noSocket: number;
  /** Datagrams from an address we could not read (should not happen). */
  badSource: number;
}

interface BoundSocket {
  readonly socket: dgram.Socket;
  readonly family: Family;
  /** Numeric bound address; 0n for a wildcard. */
  readonly value: bigint;
  readonly wildcard: boolean;
  readonly address: string;
  port: number;
}

export class UdpTransport implements Transport {
  readonly capabilities: TransportCapabilities = { spoofSource: false };
  readonly counters: UdpTransportCounters = { received: 0, sent: 0, sendErrors: 0, noSocket: 0, badSource: 0 };
  private handler: DatagramHandler | undefined;
  private closed = false;

  private constructor(
    private readonly sockets: BoundSocket[],
    private readonly options: UdpTransportOptions,
  ) {}

  /** Opens and binds every endpoint; fails as a whole (closing what was opened) if one cannot bind. */
  static async open(options: UdpTransportOptions): Promise<UdpTransport> {
    if (options.bind.length === 0) throw new TedError('TRANSPORT_NO_ENDPOINT', 'UDP transport needs at least one address to bind');
    const opened: BoundSocket[] = [];
    const transport = new UdpTransport(opened, options);
    try {
      // Specific addresses first, then wildcards: with SO_REUSEADDR on both, Linux delivers to the
      // most specific socket, so datagrams for our IKE address reach the socket we answer from.
      const ordered = [...options.bind].sort((a, b) => Number(isWildcard(a.address)) - Number(isWildcard(b.address)));
      // SO_REUSEADDR (needed for a wildcard and a specific socket on one port) would also let a
      // second daemon bind the same port silently and steal datagrams: check first that each
      // endpoint is free on its own, without the option.
      const reuse = ordered.length > 1 || options.shared === true;
      if (ordered.length > 1 && !options.shared)
        for (const ep of ordered) {
          if ((ep.port ?? IKE_PORT) === 0) continue;
          const trial = await transport.bindOne(ep, false);
          await new Promise<void>((resolve) => trial.socket.close(() => resolve()));
        }
      for (const ep of ordered) opened.push(await transport.bindOne(ep, reuse));
    } catch (err) {
      await transport.close();
      throw err;
    }
    return transport;
  }

  private async bindOne(ep: UdpEndpoint, reuseAddr: boolean): Promise<BoundSocket> {
    const parsed = parseAnyAddress(ep.address);
    if (!parsed) throw new TedError('TRANSPORT_BAD_ADDRESS', `not an IPv4 or IPv6 address: '${ep.address}'`);
    const port = ep.port ?? IKE_PORT;
    const socket = dgram.createSocket({ type: parsed.family === 4 ? 'udp4' : 'udp6', reuseAddr, ipv6Only: parsed.family === 6 });
    const wildcard = parsed.value === 0n;
    const bound: BoundSocket = { socket, family: parsed.family, value: parsed.value, wildcard, address: ep.address, port };
    await new Promise<void>((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException) => {
        socket.close();
        const hint = err.code === 'EACCES' && port < 1024 ? ' (ports below 1024 need root or CAP_NET_BIND_SERVICE)' : err.code === 'EADDRNOTAVAIL' ? ' (the address is not on this host)' : '';
        reject(new TedError('TRANSPORT_BIND', `cannot bind UDP ${fmtEndpoint(ep.address, port)}: ${err.code ?? err.message}${hint}`, { cause: err }));
      };
      socket.once('error', onError);
      socket.bind({ address: ep.address, port, exclusive: true }, () => {
        socket.off('error', onError);
        resolve();
      });
    });
    bound.port = socket.address().port;
    socket.on('error', (err) => this.options.onError?.(err, `socket ${fmtEndpoint(bound.address, bound.port)}`));
    socket.on('message', (msg, rinfo) => this.deliver(bound, msg, rinfo));
    return bound;
  }

  /** The endpoints actually bound (with the ports the OS chose for port 0). */
  endpoints(): UdpDestination[] {
    return this.sockets.map((s) => ({ address: s.address, port: s.port }));
  }

  onDatagram(handler: DatagramHandler): void {
    this.handler = handler;
  }

  private deliver(bound: BoundSocket, msg: Buffer, rinfo: dgram.RemoteInfo): void {
    const text = rinfo.address.includes('%') ? rinfo.address.slice(0, rinfo.address.indexOf('%')) : rinfo.address;
    const src = parseAnyAddress(text);
    if (!src || src.family !== bound.family) {
      this.counters.badSource++;
      return;
    }
    this.counters.received++;
    const d: InboundDatagram = {
      family: bound.family,
      src: src.value,
      dst: bound.value,
      sport: rinfo.port,
      dport: bound.port,
      payload: new Uint8Array(msg.buffer, msg.byteOffset, msg.byteLength),
      dstKnown: !bound.wildcard,
    };
    try {
      this.handler?.(d);
    } catch (err) {
      // The handler contract says it does not throw; if it does, keep the socket alive.
      this.options.onError?.(err instanceof Error ? err : new Error(String(err)), 'datagram handler');
    }
  }

  /**
   * The socket a datagram leaves from: the one bound to its source address, else a wildcard of
   * its family (the kernel picks the source by route), else any socket of the family.
   */
  socketFor(family: Family, src: bigint): BoundSocket | undefined {
    let wildcard: BoundSocket | undefined;
    let any: BoundSocket | undefined;
    for (const s of this.sockets) {
      if (s.family !== family) continue;
      if (!s.wildcard && s.value === src) return s;
      if (s.wildcard) wildcard ??= s;
      any ??= s;
    }
    return wildcard ?? any;
  }

  /** Where `d` goes after the port rewrite and redirect hook. */
  destinationOf(d: OutboundDatagram): UdpDestination {
    let dest: UdpDestination = { address: formatAddress(d.family, d.dst), port: d.dport === IKE_PORT && this.options.remotePort !== undefined ? this.options.remotePort : d.dport };
    dest = this.options.redirect?.(d, dest) ?? dest;
    return dest;
  }

  send(d: OutboundDatagram): void {
    if (this.closed) return;
    const s = this.socketFor(d.family, d.src);
    if (!s) {
      this.counters.noSocket++;
      this.options.onError?.(new Error(`no IPv${d.family} socket open`), 'send');
      return;
    }
    const dest = this.destinationOf(d);
    // Copy: the caller may reuse the payload once send returns, and dgram sends asynchronously.
    const copy = Buffer.from(d.payload);
    s.socket.send(copy, dest.port, dest.address, (err) => {
      if (err) {
        this.counters.sendErrors++;
        this.options.onError?.(err, `send to ${fmtEndpoint(dest.address, dest.port)}`);
      } else {
        this.counters.sent++;
      }
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(
      this.sockets.map(
        (s) =>
          new Promise<void>((resolve) => {
            try {
              s.socket.close(() => resolve());
            } catch {
              resolve(); // already closed
            }
          }),
      ),
    );
  }
}

export function isWildcard(address: string): boolean {
  const p = parseAnyAddress(address);
  return p !== undefined && p.value === 0n;
}

export function fmtEndpoint(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

/** Convenience: `UdpTransport.open(options)`. */
export function createUdpTransport(options: UdpTransportOptions): Promise<UdpTransport> {
  return UdpTransport.open(options);
}
