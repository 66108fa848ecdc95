// What the discovery engine (src/ted/) sees of the world: datagrams in and out, and time.
// The engine owns no socket and no timer; a transport and a clock are handed to it, so the same
// engine runs over real sockets (src/transport/udp.ts, raw.ts) and in deterministic simulations
// (src/transport/memory.ts with a ManualClock from src/ted/clock.ts).
import type { Family } from '../selector/types.js';

/** One UDP datagram with the IP addresses around it. Addresses are numeric (as in Tuple). */
export interface Datagram {
  readonly family: Family;
  /** IP source address. */
  readonly src: bigint;
  /** IP destination address. */
  readonly dst: bigint;
  /** UDP source port. */
  readonly sport: number;
  /** UDP destination port. */
  readonly dport: number;
  /** The UDP payload (an ISAKMP message). The receiver must not keep it past the call. */
  readonly payload: Uint8Array;
}

/** A datagram the engine asks the transport to send. */
export interface OutboundDatagram extends Datagram {
  /**
   * true: `src` is NOT one of this gateway's addresses: it is the source host of the packet that
   * triggered discovery (the TED probe, design 1.0: IP source = P's source, IP destination = P's
   * destination). A real transport writes the IP header itself (raw socket, IP_HDRINCL for IPv4;
   * IPV6_HDRINCL or equivalent for IPv6), or, when it cannot (no privilege), sends from its own
   * address and says so through `capabilities.spoofSource = false`.
   * false: `src` is one of this gateway's own addresses (the response, sent from the responder's
   * IKE address): an ordinary UDP socket bound to (src, sport).
   */
  readonly spoofSource: boolean;
}

/** A datagram the transport delivers to the engine. */
export interface InboundDatagram extends Datagram {
  /**
   * true when `dst` is the real IP destination of the packet (raw receive, IP_PKTINFO, or a
   * socket bound to that one address); false when the transport only knows the address it is
   * bound to (e.g. a dgram socket on 0.0.0.0) and `dst` is that bound address or 0.
   */
  readonly dstKnown: boolean;
}

export type DatagramHandler = (d: InboundDatagram) => void;

export interface TransportCapabilities {
  /** The transport can send with a foreign IP source (see OutboundDatagram.spoofSource). */
  readonly spoofSource: boolean;
}

/**
 * The engine's only way to reach the network. UDP semantics: sending is fire-and-forget and may
 * lose datagrams; the engine retransmits on its own timers.
 */
export interface Transport {
  readonly capabilities: TransportCapabilities;
  /**
   * Sends one datagram. Must not throw for network conditions (unreachable, ENOBUFS, EPERM):
   * those are counted/logged by the transport and the datagram is lost, as UDP would lose it.
   * May throw TypeError/TedError for a malformed request (programming error). The payload may be
   * reused by the caller after the call returns: copy it if sending is deferred.
   */
  send(d: OutboundDatagram): void;
  /**
   * Installs the one receive handler (replacing any earlier one). The transport calls it for
   * every datagram received on the IKE port(s) it listens on, synchronously from its event
   * source; the handler does not throw (the engine counts and drops what it cannot parse).
   */
  onDatagram(handler: DatagramHandler): void;
  /** Stops receiving and releases sockets; idempotent. */
  close(): Promise<void>;
}

/** Opaque handle returned by Clock.setTimer. */
export type TimerHandle = unknown;

/**
 * Time as the engine sees it. `now()` is monotonic milliseconds (any origin). The engine sets few
 * timers (it keeps its own deadline queue and asks for one wake-up at the earliest deadline), so
 * a real clock can map setTimer straight onto setTimeout. Implementations: `systemClock` and
 * `ManualClock` (deterministic, advanced by tests) in src/ted/clock.ts.
 */
export interface Clock {
  now(): number;
  /** Calls `fn` once, `delayMs` (>= 0) after now. */
  setTimer(delayMs: number, fn: () => void): TimerHandle;
  /** Cancels a timer that has not fired; harmless on a fired or cleared handle. */
  clearTimer(handle: TimerHandle): void;
}

/** The IKE port (ISAKMP, UDP 500): probes are sent to it, responses are sent from and to it. */
export const IKE_PORT = 500;
