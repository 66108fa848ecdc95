// Shared simulation harness for the discovery tests: a manual clock, an in-memory network,
// gateways built from Cisco ACL text, and a settle() that runs deliveries and timers in order.
import { createGateway, type Gateway } from '../src/ted/gateway.js';
import { ManualClock } from '../src/ted/clock.js';
import type { GatewayEvent, GatewayOptions } from '../src/ted/types.js';
import { MemoryNetwork, type Claim, type MemoryTransport } from '../src/transport/memory.js';
import { parseCisco } from '../src/policy/index.js';
import { parseAnyAddress, prefixMask } from '../src/selector/address.js';
import type { Tuple } from '../src/selector/types.js';

export function ip(text: string): bigint {
  const a = parseAnyAddress(text);
  if (!a) throw new Error(`bad address ${text}`);
  return a.value;
}

export function prefix(text: string, port?: number): Claim {
  const [addr, len] = text.split('/');
  const a = parseAnyAddress(addr!)!;
  const bits = len === undefined ? (a.family === 4 ? 32 : 128) : Number(len);
  return { family: a.family, value: a.value, care: prefixMask(a.family, bits), port };
}

const PROTO: Record<string, number> = { tcp: 6, udp: 17, icmp: 1 };

/** "tcp 10.1.0.5:40000 > 10.2.0.9:80" */
export function pkt(text: string): Tuple {
  const m = /^(\w+) (\S+?)(?::(\d+))? > (\S+?)(?::(\d+))?$/.exec(text);
  if (!m) throw new Error(`bad packet ${text}`);
  const proto = PROTO[m[1]!] ?? Number(m[1]);
  const src = parseAnyAddress(m[2]!)!;
  const hasPorts = m[3] !== undefined;
  return { family: src.family, protocol: proto, src: src.value, dst: ip(m[4]!), sport: Number(m[3] ?? 0), dport: Number(m[5] ?? 0), hasPorts };
}

export interface SimGateway {
  gw: Gateway;
  transport: MemoryTransport;
  events: GatewayEvent[];
}

export class Sim {
  readonly clock = new ManualClock(0);
  readonly net = new MemoryNetwork();

  gateway(opts: {
    acl: string;
    ike: string;
    /** Host prefixes whose UDP 500 this gateway intercepts (the sites it protects). */
    protects?: string[];
    role?: GatewayOptions['role'];
    keepEvents?: boolean;
    spoof?: boolean;
  } & Partial<GatewayOptions>): SimGateway {
    const claims = [prefix(opts.ike, 500), ...(opts.protects ?? []).map((p) => prefix(p, 500))];
    const transport = this.net.attach(claims, { spoofSource: opts.spoof ?? true });
    const events: GatewayEvent[] = [];
    const { acl, ike, protects, keepEvents, spoof, ...rest } = opts;
    void protects;
    void spoof;
    const gw = createGateway({
      role: 'both',
      ...rest,
      policy: rest.policy ?? parseCisco(acl),
      localAddress: ike,
      transport,
      clock: this.clock,
      onEvent:
        keepEvents === false
          ? rest.onEvent
          : (e) => {
              events.push(e);
              rest.onEvent?.(e);
            },
    });
    return { gw, transport, events };
  }

  /** Delivers datagrams and fires timers in time order for `ms` of simulated time. */
  settle(ms = 0): void {
    const target = this.clock.now() + ms;
    for (;;) {
      this.net.flush();
      const next = this.clock.nextAt();
      if (next === undefined || next > target) break;
      this.clock.advanceTo(next);
    }
    this.clock.advanceTo(target);
    this.net.flush();
  }
}
