// What every role of a gateway shares: its identity and ports, the counters, the clock and the one
// scheduler over it, the transport's send, and the event listener. The roles (data path,
// initiator, responder, tunnel lifecycle) see the world only through this.
import type { TedIdentity } from '../ike/ted-types.js';
import type { Clock, OutboundDatagram, Transport } from '../transport/types.js';
import type { Counters } from './counters.js';
import { newCounters } from './counters.js';
import { Scheduler } from './scheduler.js';
import type { GatewayEvent } from './types.js';
import type { TedWire } from './wire.js';

export interface ContextOptions {
  readonly localAddress: TedIdentity;
  readonly localPort: number;
  readonly peerPort: number;
  readonly capabilities: number;
  readonly transport: Transport;
  readonly clock: Clock;
  readonly wire: TedWire;
  readonly onEvent: ((e: GatewayEvent) => void) | undefined;
}

export class GatewayContext {
  readonly counters: Counters = newCounters();
  readonly localAddress: TedIdentity;
  /** Where we listen and answer from. */
  readonly localPort: number;
  /** Where probes and responses are sent. */
  readonly peerPort: number;
  /** Capability flags for our Vendor ID payload. */
  readonly capabilities: number;
  readonly transport: Transport;
  readonly clock: Clock;
  readonly scheduler: Scheduler;
  readonly wire: TedWire;
  /** True when someone listens: build event objects only then (the data path runs per packet). */
  readonly observed: boolean;
  private readonly onEvent: ((e: GatewayEvent) => void) | undefined;

  constructor(o: ContextOptions) {
    this.localAddress = o.localAddress;
    this.localPort = o.localPort;
    this.peerPort = o.peerPort;
    this.capabilities = o.capabilities;
    this.transport = o.transport;
    this.clock = o.clock;
    this.scheduler = new Scheduler(o.clock);
    this.wire = o.wire;
    this.onEvent = o.onEvent;
    this.observed = o.onEvent !== undefined;
  }

  now(): number {
    return this.clock.now();
  }

  emit(e: GatewayEvent): void {
    if (!this.onEvent) return;
    try {
      this.onEvent(e);
    } catch {
      // a listener's bug does not break the data path
    }
  }

  /** A transport must not throw for network conditions; if one does, the datagram counts as lost. */
  send(d: OutboundDatagram): void {
    try {
      this.transport.send(d);
    } catch {
      this.counters.transportErrors++;
    }
  }
}
