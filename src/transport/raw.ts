// Raw IP sockets (the `raw-socket` native addon), for the two things an ordinary UDP socket cannot
// do on a Linux gateway:
// - send the TED probe with the source host's IP address (design 1.0): we write the whole IP and
//   UDP header ourselves (IPPROTO_RAW, which implies IP_HDRINCL for IPv4 and IPv6 on Linux);
// - receive the packets the kernel delivers locally because the protected remote prefixes are
//   routed as local on the gateway (IPv4: the received buffer starts with the IP header).
// Both need root or CAP_NET_RAW; opening fails with a TRANSPORT_RAW error otherwise. The addon is
// an optional dependency, loaded on first use: without it, TRANSPORT_RAW_MISSING says how to get it.
import { createRequire } from 'node:module';
import { TedError } from '../errors.js';
import { decodeFrame, LinkType } from '../packet/decode.js';
import { encodeUdpPacket, internetChecksum, pseudoHeaderSum } from '../packet/encode.js';
import { formatAddress } from '../selector/address.js';
import type { Family } from '../selector/types.js';
import type { DatagramHandler, OutboundDatagram, Transport, TransportCapabilities } from './types.js';
import { UdpTransport, type UdpTransportOptions } from './udp.js';

/** The part of raw-socket's API we use (it ships no types). */
export interface RawSocket {
  on(event: 'message', fn: (buf: Buffer, source: string) => void): void;
  on(event: 'error', fn: (err: Error) => void): void;
  on(event: 'close', fn: () => void): void;
  send(buf: Buffer, offset: number, length: number, address: string, after: (err: Error | null, bytes: number) => void): void;
  setOption(level: number, option: number, value: number, length?: number): void;
  pauseRecv(): void;
  close(): void;
}

interface RawModule {
  createSocket(o: { addressFamily: number; protocol: number; bufferSize?: number }): RawSocket;
  AddressFamily: { IPv4: number; IPv6: number };
  SocketLevel: { IPPROTO_IP: number; IPPROTO_IPV6: number; SOL_SOCKET: number };
  SocketOption: { IP_HDRINCL: number; SO_RCVBUF: number };
}

let rawModule: RawModule | undefined;

function raw(): RawModule {
  if (!rawModule) {
    try {
      rawModule = createRequire(import.meta.url)('raw-socket') as RawModule;
    } catch (err) {
      // raw-socket is an optional dependency: an install without a C/C++ toolchain skips it and
      // everything but raw sockets still works.
      const absent = (err as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND';
      const how = absent
        ? 'the optional raw-socket addon is not installed (it builds with node-gyp: install python3, make and a C++ compiler, e.g. `apt-get install build-essential python3`, then `npm install raw-socket`)'
        : `the raw-socket addon does not load (${(err as Error).message.split('\n')[0]}): rebuild it with \`npm rebuild raw-socket\` (needs python3, make and a C++ compiler)`;
      throw new TedError('TRANSPORT_RAW_MISSING', `raw sockets are unavailable: ${how}`, { cause: err });
    }
  }
  return rawModule;
}

const IPPROTO_RAW = 255;

/** Opens a raw socket, turning EPERM and friends into one clear TRANSPORT_RAW error. */
export function openRawSocket(family: Family, protocol: number, bufferSize = 65536): RawSocket {
  const m = raw();
  try {
    return m.createSocket({ addressFamily: family === 4 ? m.AddressFamily.IPv4 : m.AddressFamily.IPv6, protocol, bufferSize });
  } catch (err) {
    const msg = (err as Error).message ?? String(err);
    const hint = /not permitted|EPERM|EACCES/i.test(msg) ? ' (raw sockets need root or CAP_NET_RAW)' : '';
    throw new TedError('TRANSPORT_RAW', `cannot open a raw IPv${family} socket for protocol ${protocol}: ${msg}${hint}`, { cause: err });
  }
}

/** Can this process open raw sockets? (root or CAP_NET_RAW) */
export function rawSocketsAvailable(): boolean {
  try {
    openRawSocket(4, IPPROTO_RAW).close();
    return true;
  } catch {
    return false;
  }
}

export interface RawSenderCounters {
  sent: number;
  sendErrors: number;
}

/**
 * Sends UDP datagrams with any IP source address: builds IPv4/IPv6 + UDP (checksums filled) and
 * writes them through an IPPROTO_RAW socket of the family. Sockets open lazily, per family.
 */
export class RawUdpSender {
  readonly counters: RawSenderCounters = { sent: 0, sendErrors: 0 };
  private readonly sockets = new Map<Family, RawSocket>();
  private closed = false;

  constructor(
    private readonly onError?: (err: Error, context: string) => void,
    families: readonly Family[] = [],
  ) {
    // Open eagerly the families we know we need, so that a missing privilege fails at start-up.
    for (const f of families) this.socket(f);
  }

  private socket(family: Family): RawSocket {
    let s = this.sockets.get(family);
    if (!s) {
      s = openRawSocket(family, IPPROTO_RAW);
      if (family === 4) {
        const m = raw();
        s.setOption(m.SocketLevel.IPPROTO_IP, m.SocketOption.IP_HDRINCL, 1);
      }
      // We never read from a send socket; do not wake the event loop for it.
      s.pauseRecv();
      s.on('error', (err) => this.onError?.(err, `raw IPv${family} socket`));
      this.sockets.set(family, s);
    }
    return s;
  }

  /** Sends one UDP datagram exactly as described (source address included). Never throws for network errors. */
  send(d: { family: Family; src: bigint; dst: bigint; sport: number; dport: number; payload: Uint8Array }): void {
    if (this.closed) return;
    const packet = encodeUdpPacket({ family: d.family, src: d.src, dst: d.dst, sport: d.sport, dport: d.dport, payload: d.payload, ttl: 64 });
    const buf = Buffer.from(packet.buffer, packet.byteOffset, packet.byteLength);
    const dest = formatAddress(d.family, d.dst);
    let s: RawSocket;
    try {
      s = this.socket(d.family);
    } catch (err) {
      this.counters.sendErrors++;
      this.onError?.(err as Error, 'raw send');
      return;
    }
    s.send(buf, 0, buf.length, dest, (err) => {
      if (err) {
        this.counters.sendErrors++;
        this.onError?.(err, `raw send to ${dest}`);
      } else this.counters.sent++;
    });
  }

  /**
   * Re-sends an IP packet as it is (header included), hop limit decremented: what the gateway does
   * with a packet that gets a FORWARD verdict when no kernel IPsec carries it. False when the
   * packet is malformed, its hop limit is spent, or the send cannot be queued.
   */
  sendPacket(family: Family, packet: Uint8Array): boolean {
    if (this.closed) return false;
    const min = family === 4 ? 20 : 40;
    if (packet.length < min || packet[0]! >> 4 !== family) return false;
    const buf = Buffer.from(packet); // copy: we change the TTL
    const ttlAt = family === 4 ? 8 : 7;
    if (buf[ttlAt]! <= 1) return false;
    buf[ttlAt] = buf[ttlAt]! - 1;
    if (family === 4) {
      // The kernel fills the IPv4 header checksum for IP_HDRINCL sockets; clear the stale one.
      buf[10] = 0;
      buf[11] = 0;
    }
    recomputeL4Checksum(family, buf);
    let dst = 0n;
    const at = family === 4 ? 16 : 24;
    for (let k = 0; k < (family === 4 ? 4 : 16); k++) dst = (dst << 8n) | BigInt(buf[at + k]!);
    const dest = formatAddress(family, dst);
    let s: RawSocket;
    try {
      s = this.socket(family);
    } catch (err) {
      this.counters.sendErrors++;
      this.onError?.(err as Error, 'raw forward');
      return false;
    }
    s.send(buf, 0, buf.length, dest, (err) => {
      if (err) {
        this.counters.sendErrors++;
        this.onError?.(err, `raw forward to ${dest}`);
      } else this.counters.sent++;
    });
    return true;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const s of this.sockets.values()) s.close();
    this.sockets.clear();
  }
}

export interface RawTransportOptions extends UdpTransportOptions {
  /** Families to open raw send sockets for at start-up (default: those of `bind`). */
  readonly families?: readonly Family[];
}

/**
 * The gateway's real transport: UDP sockets (./udp.ts) receive and send from our own address;
 * datagrams with `spoofSource` (the probe, from P's source host) go out through a raw socket with
 * the IP header we write, so the probe crosses the network with the host's address as the design
 * requires and the gateway in front of the destination can intercept it.
 */
export class RawTransport implements Transport {
  readonly capabilities: TransportCapabilities = { spoofSource: true };

  private constructor(
    readonly udp: UdpTransport,
    readonly raw: RawUdpSender,
    private readonly options: RawTransportOptions,
  ) {}

  static async open(options: RawTransportOptions): Promise<RawTransport> {
    const families = options.families ?? [...new Set(options.bind.map((b) => (b.address.includes(':') ? 6 : 4) as Family))];
    const sender = new RawUdpSender(options.onError, families); // throws TRANSPORT_RAW without privilege
    try {
      const udp = await UdpTransport.open(options);
      return new RawTransport(udp, sender, options);
    } catch (err) {
      sender.close();
      throw err;
    }
  }

  send(d: OutboundDatagram): void {
    if (!d.spoofSource) {
      this.udp.send(d);
      return;
    }
    const dport = this.options.remotePort !== undefined && d.dport === 500 ? this.options.remotePort : d.dport;
    this.raw.send({ family: d.family, src: d.src, dst: d.dst, sport: d.sport, dport, payload: d.payload });
  }

  onDatagram(handler: DatagramHandler): void {
    this.udp.onDatagram(handler);
  }

  get counters() {
    return { ...this.udp.counters, rawSent: this.raw.counters.sent, rawSendErrors: this.raw.counters.sendErrors };
  }

  async close(): Promise<void> {
    this.raw.close();
    await this.udp.close();
  }
}

/**
 * Recomputes the TCP/UDP/ICMP checksum of an IP packet in place. A packet read from a raw socket
 * may carry only a partial checksum (checksum offload: the sending host's NIC or veth was to
 * finish it), which the next hop would reject once we send the packet again as plain bytes.
 * Fragments other than the first and truncated packets are left alone.
 */
export function recomputeL4Checksum(family: Family, buf: Uint8Array): void {
  const d = decodeFrame(family === 4 ? LinkType.IPV4 : LinkType.IPV6, buf);
  if (!d.ok || d.truncated || (d.fragment && (d.fragment.offset !== 0 || d.fragment.more))) return;
  const l4 = d.l4Offset;
  const len = d.payloadOffset + d.payloadLength - l4;
  let at: number;
  let pseudo = true;
  if (d.protocol === 17) at = 6;
  else if (d.protocol === 6) at = 16;
  else if (d.protocol === 58) at = 2;
  else if (d.protocol === 1) {
    at = 2;
    pseudo = false;
  } else return;
  if (len < at + 2) return;
  if (d.protocol === 17 && family === 4 && buf[l4 + 6] === 0 && buf[l4 + 7] === 0) return; // IPv4 UDP without checksum
  buf[l4 + at] = 0;
  buf[l4 + at + 1] = 0;
  const initial = pseudo ? pseudoHeaderSum(family, d.src, d.dst, d.protocol, len) : 0;
  let sum = internetChecksum(buf, l4, len, initial);
  if (d.protocol === 17 && sum === 0) sum = 0xffff;
  buf[l4 + at] = sum >>> 8;
  buf[l4 + at + 1] = sum & 0xff;
}

/** Convenience: `RawTransport.open(options)`. */
export function createRawTransport(options: RawTransportOptions): Promise<RawTransport> {
  return RawTransport.open(options);
}
