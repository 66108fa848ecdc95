// The daemon: a gateway (src/ted) on real sockets, fed by a packet source, observable through logs
// and the control socket. `ted initiator|responder|daemon --config FILE` run one of these; an
// embedding program can start one too and push frames itself (`pushFrame`).
import type { Logger } from 'pino';
import { ConfigError, TedError, formatProblem } from '../errors.js';
import { loadPolicyReport } from '../policy/index.js';
import { formatAddress } from '../selector/address.js';
import { formatSelector, selectorJson } from '../selector/format.js';
import type { Family, Policy } from '../selector/types.js';
import { systemClock } from '../ted/clock.js';
import { createGateway, type Gateway } from '../ted/gateway.js';
import { FORWARD, type Handoff, type TeardownReason, type TunnelInfo } from '../ted/types.js';
import { RawTransport, RawUdpSender } from '../transport/raw.js';
import type { Transport } from '../transport/types.js';
import { UdpTransport, type UdpEndpoint } from '../transport/udp.js';
import { policyLoadOptions, type DaemonConfig } from './config.js';
import { startControlServer, type ControlServer } from './control.js';
import { EventLog, cookie, identity } from './event-log.js';
import { flushLogger } from './log.js';
import { CaptureSource, FramePump, RawIpSource, replayCapture, type PacketSource } from './sources.js';
import { startStrongswan, type StrongswanAttachment } from './strongswan.js';

const VERSION = '0.1.0';

function addr(family: Family, v: bigint): string {
  return formatAddress(family, v);
}

/** Logs the handoff and marks tunnels ESTABLISHED at once (no IKE attached): the built-in default. */
class LoggingHandoff implements Handoff {
  constructor(private readonly log: Logger) {}
  bringUp(t: TunnelInfo): boolean {
    this.log.info({ event: 'handoff', tunnel: t.id, peer: identity(t.peer), proxy: formatSelector(t.proxy) }, 'handoff: no IKE attached; tunnel marked established');
    return true;
  }
  tearDown(t: TunnelInfo, reason: TeardownReason): void {
    this.log.info({ event: 'teardown', tunnel: t.id, peer: identity(t.peer), reason }, 'tunnel down');
  }
}

export interface DaemonOptions {
  readonly logger: Logger;
  /** Start without the control socket even if configured (tests). */
  readonly noControl?: boolean;
}

export class Daemon {
  readonly startedAt = Date.now();
  private stopping: Promise<void> | undefined;
  private stopWaiters: (() => void)[] = [];
  private replayed: number | undefined;

  private constructor(
    readonly config: DaemonConfig,
    readonly policy: Policy,
    readonly gateway: Gateway,
    readonly transport: UdpTransport | RawTransport,
    readonly pump: FramePump,
    private readonly source: PacketSource | undefined,
    private readonly forwarder: RawUdpSender | undefined,
    private control: ControlServer | undefined,
    private readonly log: Logger,
    private readonly events: EventLog,
    private readonly strongswan: StrongswanAttachment | undefined,
  ) {}

  static async start(config: DaemonConfig, options: DaemonOptions): Promise<Daemon> {
    const log = options.logger;
    for (const d of config.deprecated) log.warn({ event: 'config-deprecated', key: d.key, replacement: d.replacement }, `config: ${d.key} is deprecated; use ${d.replacement}`);
    const report = loadPolicyReport(config.policy.file, policyLoadOptions(config.policy));
    const policy = report.policy;
    if (report.choice?.cryptoMap) {
      const via = report.choice.dynamicMap ?? report.choice.cryptoMap;
      log.info({ event: 'policy-crypto-map', cryptoMap: `${report.choice.cryptoMap.map} ${report.choice.cryptoMap.sequence}`, acl: policy.name, line: via.aclLine }, `policy: crypto map ${report.choice.cryptoMap.map} ${report.choice.cryptoMap.sequence}${report.choice.by === 'discover' ? ' (discover)' : ''} matches access list ${policy.name}`);
    }
    for (const w of report.warnings) log.warn({ event: 'policy-warning', code: w.code, line: w.line, column: w.column }, formatProblem(w));
    if (policy.family !== config.ike.family)
      throw new ConfigError('CONFIG_FAMILY', 'policy.file', `the ACL is IPv${policy.family} but ike.address is IPv${config.ike.family}`);
    const initiates = config.role !== 'responder';
    const responds = config.role !== 'initiator';
    const onError = (err: Error, context: string) => log.warn({ event: 'io-error', context, err: err.message }, `${context}: ${err.message}`);

    const bind: UdpEndpoint[] = [{ address: config.ike.address, port: config.ike.port }];
    if (responds && config.ike.intercept) bind.push({ address: config.ike.family === 4 ? '0.0.0.0' : '::', port: config.ike.port });
    const transport: UdpTransport | RawTransport =
      initiates && config.probe.source === 'host' ? await RawTransport.open({ bind, onError }) : await UdpTransport.open({ bind, onError });

    const cleanup: (() => Promise<void> | void)[] = [() => transport.close()];
    const events = new EventLog(log, { intervalMs: config.log.summaryIntervalMs });
    cleanup.push(() => events.close());
    try {
      const strongswan = config.handoff.kind === 'strongswan' ? await startStrongswan(config.handoff, config.ike.address, policy, config.role, log) : undefined;
      if (strongswan) cleanup.push(() => strongswan.close());
      const gateway = createGateway({
        role: config.role,
        policy,
        localAddress: config.ike.address,
        transport: transport as Transport,
        clock: systemClock,
        handoff: strongswan?.handoff ?? new LoggingHandoff(log),
        timers: config.timers,
        limits: config.limits,
        rateLimit: config.rateLimit,
        discovery: config.discovery,
        ports: { local: config.ike.port, peer: config.ike.peerPort },
        onEvent: (e) => events.handle(e),
      });
      cleanup.push(() => gateway.close());

      const kind = config.source.kind;
      const forwarder = config.source.forward && (kind === 'raw' || kind === 'capture') ? new RawUdpSender(onError, [config.ike.family]) : undefined;
      if (forwarder) cleanup.push(() => forwarder.close());
      const pump = new FramePump(gateway, {
        batchSize: config.source.batchSize,
        ...(kind === 'raw' || kind === 'capture' ? { prefixes: config.source.prefixes } : {}),
        // The kernel reassembles what raw sockets receive; captured frames are put together here.
        reassemble: kind === 'capture' || kind === 'replay',
        onError: (err, context) => log.error({ event: 'process-error', context, err: err.message, stack: err.stack }, `${context}: ${err.message}`),
        onVerdict: (verdict, tunnel, ordinal, packet, family) => {
          if (verdict === FORWARD) {
            log.debug({ event: 'verdict', verdict: 'FORWARD', tunnel, entry: ordinal }, 'FORWARD');
            if (forwarder) {
              if (forwarder.sendPacket(family, packet)) pump.counters.reinjected++;
              else pump.counters.reinjectErrors++;
            }
          }
        },
      });
      let source: PacketSource | undefined;
      if (kind === 'raw') source = new RawIpSource(config.source.protocols, onError);
      else if (kind === 'capture') source = new CaptureSource(config.source.interface!, config.source.prefixes, onError);
      if (source) {
        await source.start(pump);
        cleanup.push(() => source!.close());
      }
      const daemon = new Daemon(config, policy, gateway, transport, pump, source, forwarder, undefined, log, events, strongswan);
      if (config.control.socket && !options.noControl) {
        daemon.control = await startControlServer(config.control.socket, (req) => daemon.command(req));
      }
      log.info(
        {
          event: 'started',
          version: VERSION,
          role: config.role,
          ike: config.ike.address,
          listen: transport instanceof RawTransport ? transport.udp.endpoints() : transport.endpoints(),
          probeSource: initiates ? (transport.capabilities.spoofSource ? 'host (raw socket)' : 'gateway (UDP)') : undefined,
          policy: { file: config.policy.file, acl: gateway.acl, entries: policy.entries.length },
          packets: kind === 'none' ? 'none (library API only)' : kind,
          handoff: config.handoff.kind === 'strongswan' ? `strongswan (${config.handoff.vici}, IKEv${config.handoff.ikeVersion}, ${config.handoff.kernel})` : 'none (tunnels are only recorded)',
          control: config.control.socket || undefined,
        },
        `ted ${config.role} started on ${config.ike.address}`,
      );
      if (kind === 'replay') {
        const file = config.source.file!;
        void replayCapture(file, pump, onError)
          .then((n) => {
            daemon.replayed = n;
            log.info({ event: 'replay-done', file, ...pump.counters, frames: n }, `replay of ${file} done: ${n} frames`);
          })
          .catch((err: Error) => log.error({ event: 'replay-failed', file, err: err.message }, `replay of ${file} failed: ${err.message}`));
      }
      return daemon;
    } catch (err) {
      for (const c of cleanup.reverse()) await c();
      throw err;
    }
  }

  /** Library API: judge one frame (link type as in pcap: 1 Ethernet, 228 raw IPv4, 229 raw IPv6). */
  pushFrame(linkType: number, data: Uint8Array): void {
    this.pump.push(linkType, data);
  }

  /** Control-socket commands. */
  private command(req: { cmd: string; [k: string]: unknown }): unknown {
    switch (req.cmd) {
      case 'status':
        return this.status();
      case 'ping':
        return { pong: true, pid: process.pid };
      case 'teardown': {
        const id = Number(req.tunnel);
        if (!Number.isInteger(id)) throw new TedError('CONTROL_BAD_REQUEST', 'teardown needs "tunnel": <id>');
        return { removed: this.gateway.tearDown(id) };
      }
      default:
        throw new TedError('CONTROL_UNKNOWN_CMD', `unknown command '${req.cmd}' (status, ping, teardown)`);
    }
  }

  /** A JSON-ready snapshot: what `ted status` prints. */
  status() {
    const g = this.gateway;
    const now = systemClock.now();
    const fam = this.config.ike.family;
    const t = this.transport;
    return {
      daemon: {
        version: VERSION,
        pid: process.pid,
        role: this.config.role,
        config: this.config.file,
        startedAt: new Date(this.startedAt).toISOString(),
        uptimeMs: Date.now() - this.startedAt,
        ike: { address: this.config.ike.address, port: this.config.ike.port, peerPort: this.config.ike.peerPort },
        policy: { file: this.config.policy.file, acl: g.acl, entries: this.policy.entries.length },
        probeSource: t.capabilities.spoofSource ? 'host' : 'gateway',
        source: { kind: this.config.source.kind, prefixes: this.config.source.prefixes.map((p) => p.text), ...(this.replayed !== undefined ? { replayedFrames: this.replayed } : {}) },
      },
      tunnels: g.tunnels().map((x) => ({
        id: x.id,
        state: x.state,
        peer: identity(x.peer),
        proxy: selectorJson(x.proxy),
        entry: x.entry,
        tedVersion: x.tedVersion,
        icookie: cookie(x.icookie),
        rcookie: cookie(x.rcookie),
        ageMs: Math.round(now - x.negotiatedAt),
        idleMs: Math.round(now - x.lastUsed),
        expiresInMs: Math.round(x.expiresAt - now),
        packets: x.packets,
        ...(this.handoffStatus(x) ?? {}),
      })),
      pending: g.pending().map((p) => ({
        icookie: cookie(p.icookie),
        entry: p.entry,
        destination: addr(p.family, p.destination),
        tries: p.tries,
        nextInMs: Math.max(0, Math.round(p.nextAt - now)),
        ageMs: Math.round(now - p.startedAt),
      })),
      holdDowns: g.holdDowns().map((h) => ({ destination: addr(h.family, h.destination), remainingMs: Math.max(0, Math.round(h.until - now)), reason: h.reason })),
      counters: { ...g.counters },
      packets: { ...this.pump.counters },
      transport: { spoofSource: t.capabilities.spoofSource, ...t.counters },
      sizes: g.sizes(),
      family: fam,
      handoff: this.strongswan?.handoff.describe() ?? { kind: 'none' },
    };
  }

  /** The tunnel's IKE SA and CHILD_SAs as the handoff knows them (strongSwan), or nothing. */
  private handoffStatus(t: TunnelInfo): { ike: Readonly<Record<string, unknown>> } | undefined {
    const s = this.strongswan?.handoff.status(t);
    return s ? { ike: s } : undefined;
  }

  /** Resolves when the daemon has stopped (after stop()). */
  stopped(): Promise<void> {
    if (this.stopping) return this.stopping;
    return new Promise((r) => this.stopWaiters.push(r));
  }

  /** Graceful stop: no new packets, tunnels torn down (handoff told), sockets closed. Idempotent. */
  stop(reason = 'stop'): Promise<void> {
    this.stopping ??= (async () => {
      this.log.info({ event: 'stopping', reason }, `stopping (${reason})`);
      await this.source?.close();
      this.pump.close();
      await this.control?.close();
      const counters = Object.fromEntries(Object.entries(this.gateway.counters).filter(([, v]) => v !== 0));
      await this.gateway.close();
      // After the gateway: its tunnels' teardowns (terminate, unload) finish before the session closes.
      await this.strongswan?.close();
      this.forwarder?.close();
      await this.transport.close();
      this.events.close();
      this.log.info({ event: 'stopped', reason, counters }, 'stopped');
      await flushLogger(this.log);
      for (const w of this.stopWaiters.splice(0)) w();
    })();
    return this.stopping;
  }
}
