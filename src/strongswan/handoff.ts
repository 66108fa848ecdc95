// The handoff to strongSwan's charon over VICI (FIG. 2, block 218 onwards): a negotiated tunnel
// becomes connection `<prefix>-<id>` to the discovered peer with the proxy's exact traffic
// selectors; it is ESTABLISHED when its CHILD_SA(s) are INSTALLED, and goes down (the gateway
// drops its packets again and rediscovers after a hold-down) when charon reports a child or the
// IKE SA down, or charon itself goes away. IKE authenticates the discovered peer: a party that
// answered a probe without the credentials ends here, as a handoff failure counted by reason.
//
// The responder side loads one connection for its whole ACL (one child per permit entry, remote
// address any): charon picks an IKE configuration by identities before it sees any selector, so
// one connection per entry would only ever find the first (measured: TS_UNACCEPTABLE).
//
// Initiations run on a small pool of VICI connections of their own: an initiate holds its
// connection until charon is done (up to the timeout), and a peer that never answers must not
// stall every other tunnel's handoff or the event stream behind it.
import { networkInterfaces } from 'node:os';
import { TedError } from '../errors.js';
import { formatAddress, parseAnyAddress } from '../selector/address.js';
import type { Family, Policy, Selector } from '../selector/types.js';
import { addressBits } from '../selector/types.js';
import type { Handoff, HandoffSink, TeardownReason, TunnelInfo } from '../ted/types.js';
import type { ViciSection } from '../vici/message.js';
import { ViciSession, expectSuccess } from '../vici/session.js';
import {
  childNames,
  classifyFailure,
  parseCharonTs,
  rangeOf,
  responderConnection,
  tsKey,
  tunnelConnection,
  type FailureReason,
  type IkeSettings,
} from './connection.js';
import { authSections, checkCredentials, loadPeerSecret, loadStaticCredentials, type StrongswanCredentials } from './credentials.js';
import { addressBlocks, formatTrafficSelector, ikev1Children, ikev2Children, MAX_TS_PER_PAYLOAD, type ChildSelectors } from './selectors.js';

export type KernelBackend = 'libipsec' | 'netlink';

export interface StrongswanHandoffOptions {
  /** A session with charon (connected or not yet: it reconnects by itself). */
  readonly vici: ViciSession;
  /** Our IKE address: local_addrs and our identity. */
  readonly localAddress: string;
  readonly credentials: StrongswanCredentials;
  readonly ikeVersion?: 1 | 2;
  /** IKE and ESP proposals in swanctl syntax; empty: charon's defaults. */
  readonly proposals?: readonly string[];
  readonly espProposals?: readonly string[];
  /** IKE ports (default 4500 both: UDP 500 stays TED's). */
  readonly localPort?: number;
  readonly remotePort?: number;
  /** Force ESP-in-UDP (default true; kernel-libipsec in 5.9.8 needs it). */
  readonly encap?: boolean;
  /** Dead peer detection interval, seconds (default 10; 0 = off). */
  readonly dpdDelayS?: number;
  /** Connection and child names start with this (default `ted`); two daemons on one charon need two prefixes. */
  readonly connectionPrefix?: string;
  /** Longest wait for one initiation (default 10000 ms); it then fails with reason timeout. */
  readonly initiateTimeoutMs?: number;
  /** CHILD_SAs one proxy may need (split above 255 selectors, or IKEv1 expansion) before it is refused (default 16). */
  readonly maxChildSas?: number;
  /** Who installs the SAs: kernel-libipsec needs one of our addresses inside every local selector block (default netlink). */
  readonly kernel?: KernelBackend;
  /** Our addresses, for that check (default: this host's interfaces). */
  readonly localAddresses?: () => readonly { family: Family; value: bigint }[];
  /** VICI connections for initiations (default 4). */
  readonly initiators?: number;
  /** Remove this prefix's tunnel connections and IKE SAs no live tunnel owns, at start (default true; a responder-only daemon passes false: the tunnels under its prefix may be another daemon's). */
  readonly cleanStale?: boolean;
  /** After charon's socket goes away, tunnels are declared down unless it is back within this (default 3000 ms). */
  readonly charonGraceMs?: number;
  readonly onEvent?: (e: StrongswanEvent) => void;
}

/** What the handoff does, for logs and `ted lab`. */
export type StrongswanEvent =
  | { type: 'initiating'; tunnel: number; connection: string; peer: string; children: number; selectors: { local: string[]; remote: string[] }[] }
  | { type: 'ike-log'; tunnel: number; group: string; level: number; message: string }
  | { type: 'established'; tunnel: number; connection: string; ikeId: string; children: ChildStatus[]; ms: number }
  | { type: 'failed'; tunnel: number; connection: string; peer: string; reason: FailureReason; message: string; ms: number }
  | { type: 'down'; tunnel: number; connection: string; cause: 'child-down' | 'ike-down' | 'charon-gone' | 'resync' }
  | { type: 'torn-down'; tunnel: number; connection: string; reason: TeardownReason }
  | { type: 'charon'; state: 'up' | 'down'; message?: string }
  | { type: 'responder-loaded'; connection: string; children: number; skipped: { entry: number; reason: string }[]; warnings: { entry: number; reason: string }[] }
  | { type: 'responder-sa'; up: boolean; child: string; peer: string; localTs: string[]; remoteTs: string[] }
  | { type: 'error'; context: string; message: string };

export interface ChildStatus {
  readonly name: string;
  readonly state: string;
  readonly ikeId?: string;
  readonly childId?: string;
  readonly localTs: readonly string[];
  readonly remoteTs: readonly string[];
  readonly spiIn?: string;
  readonly spiOut?: string;
  readonly encap?: boolean;
}

export interface StrongswanCounters {
  initiated: number;
  established: number;
  /** Tunnels whose SAs went down after they were established. */
  down: number;
  tornDown: number;
  /** Tunnels that needed more than one CHILD_SA (split above 255 selectors, or IKEv1). */
  split: number;
  childSas: number;
  failures: Record<FailureReason, number>;
}

type Phase = 'initiating' | 'up' | 'closing';

interface TunnelRecord {
  readonly id: number;
  readonly connection: string;
  readonly peer: string;
  readonly children: Map<string, ChildStatus>;
  readonly expected: Map<string, ChildSelectors>;
  phase: Phase;
  cancelled: boolean;
  ikeIds: Set<string>;
}

const REASONS: FailureReason[] = ['authentication', 'ts-unacceptable', 'no-proposal', 'invalid-syntax', 'timeout', 'install', 'no-credentials', 'narrowed', 'selectors', 'no-local-address', 'charon-unavailable', 'charon-error', 'ike-failed'];

/** A handoff that failed: `reason` is the counted reason, the message says what charon said. */
export class HandoffFailure extends TedError {
  readonly reason: FailureReason;
  constructor(reason: FailureReason, message: string, options?: { cause?: unknown }) {
    super('STRONGSWAN_HANDOFF_FAILED', message, options);
    this.name = 'HandoffFailure';
    this.reason = reason;
  }
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

function list(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

function section(v: unknown): ViciSection | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array) ? (v as ViciSection) : undefined;
}

function hostAddresses(): { family: Family; value: bigint }[] {
  const out: { family: Family; value: bigint }[] = [];
  for (const list of Object.values(networkInterfaces()))
    for (const a of list ?? []) {
      const p = parseAnyAddress(a.address.split('%')[0]!);
      if (p) out.push({ family: p.family, value: p.value });
    }
  return out;
}

/** The IKE SAs of a list-sa / ike-updown / child-updown message: name -> section. */
function ikeSections(m: ViciSection): [string, ViciSection][] {
  const out: [string, ViciSection][] = [];
  for (const [k, v] of Object.entries(m)) {
    const s = section(v);
    if (s) out.push([k, s]);
  }
  return out;
}

function childOf(ike: ViciSection, c: ViciSection): ChildStatus {
  return {
    name: str(c.name) ?? '',
    state: str(c.state) ?? 'UNKNOWN',
    ...(str(ike.uniqueid) !== undefined ? { ikeId: str(ike.uniqueid)! } : {}),
    ...(str(c.uniqueid) !== undefined ? { childId: str(c.uniqueid)! } : {}),
    localTs: list(c['local-ts']),
    remoteTs: list(c['remote-ts']),
    ...(str(c['spi-in']) !== undefined ? { spiIn: str(c['spi-in'])! } : {}),
    ...(str(c['spi-out']) !== undefined ? { spiOut: str(c['spi-out'])! } : {}),
    ...(c.encap !== undefined ? { encap: c.encap === 'yes' } : {}),
  };
}

export class StrongswanHandoff implements Handoff {
  readonly counters: StrongswanCounters;
  readonly prefix: string;
  private readonly vici: ViciSession;
  private readonly o: StrongswanHandoffOptions;
  private readonly ike: IkeSettings;
  private readonly kernel: KernelBackend;
  private readonly initiateTimeoutMs: number;
  private readonly maxChildren: number;
  private readonly pool: ViciSession[] = [];
  private readonly idle: ViciSession[] = [];
  private readonly waitingForSession: ((s: ViciSession) => void)[] = [];
  private readonly tunnels = new Map<number, TunnelRecord>();
  private readonly byChild = new Map<string, TunnelRecord>();
  private sink: HandoffSink | undefined;
  private responderPolicy: Policy | undefined;
  private responderSas = new Map<string, { child: string; peer: string; localTs: string[]; remoteTs: string[] }>();
  private graceTimer: NodeJS.Timeout | undefined;
  private readonly unsubscribers: (() => void)[] = [];
  private closed = false;

  constructor(options: StrongswanHandoffOptions) {
    checkCredentials(options.credentials);
    const prefix = options.connectionPrefix ?? 'ted';
    if (!/^[A-Za-z][A-Za-z0-9_]{0,31}$/.test(prefix)) throw new TedError('STRONGSWAN_BAD_PREFIX', `connectionPrefix '${prefix}': letters, digits and _ only, starting with a letter`);
    const ikeVersion = options.ikeVersion ?? 2;
    if (ikeVersion !== 1 && ikeVersion !== 2) throw new TedError('STRONGSWAN_BAD_VERSION', `ikeVersion must be 1 or 2, got ${String(ikeVersion)}`);
    if (!parseAnyAddress(options.localAddress)) throw new TedError('STRONGSWAN_BAD_ADDRESS', `localAddress '${options.localAddress}' is not an IPv4 or IPv6 address`);
    this.o = options;
    this.vici = options.vici;
    this.prefix = prefix;
    this.kernel = options.kernel ?? 'netlink';
    this.initiateTimeoutMs = options.initiateTimeoutMs ?? 10_000;
    this.maxChildren = options.maxChildSas ?? 16;
    this.ike = {
      ikeVersion,
      localAddress: options.localAddress,
      localPort: options.localPort ?? 4500,
      remotePort: options.remotePort ?? 4500,
      proposals: options.proposals ?? [],
      espProposals: options.espProposals ?? [],
      encap: options.encap ?? true,
      dpdDelayS: options.dpdDelayS ?? 10,
    };
    this.counters = { initiated: 0, established: 0, down: 0, tornDown: 0, split: 0, childSas: 0, failures: Object.fromEntries(REASONS.map((r) => [r, 0])) as Record<FailureReason, number> };
  }

  private emit(e: StrongswanEvent): void {
    try {
      this.o.onEvent?.(e);
    } catch {
      // a listener's failure is its own
    }
  }

  /**
   * Subscribes to charon's SA events, removes connections a killed predecessor left behind, and
   * loads what does not depend on a tunnel (our private key). Call once before the first tunnel.
   * Resolves even when charon is not reachable yet (it is set up when it comes).
   */
  start(): Promise<void> {
    this.starting ??= this.subscribe();
    return this.starting;
  }
  private starting: Promise<void> | undefined;

  private async subscribe(): Promise<void> {
    const v = this.vici;
    this.unsubscribers.push(
      v.onUp(() => void this.charonUp()),
      v.onDown((err) => this.charonDown(err.message)),
    );
    await v.subscribe('child-updown', (m) => this.onChildUpdown(m));
    await v.subscribe('ike-updown', (m) => this.onIkeUpdown(m));
    await v.subscribe('child-rekey', (m) => this.onChildRekey(m));
    await v.subscribe('ike-rekey', (m) => this.onIkeRekey(m));
    if (v.connected) await this.prepare();
    else await v.connect().catch(() => undefined); // charonUp() prepares once it is there
  }

  private charonKnownDown = false;
  /** Connections to charon so far: the responder's connection is loaded once per connection. */
  private generation = 0;
  private responderLoadedFor = -1;
  private responderLoading: Promise<void> | undefined;

  private async charonUp(): Promise<void> {
    this.generation++;
    this.charonKnownDown = false;
    clearTimeout(this.graceTimer);
    this.graceTimer = undefined;
    this.emit({ type: 'charon', state: 'up' });
    try {
      await this.prepare();
      await this.resync();
    } catch (err) {
      this.emit({ type: 'error', context: 'charon-up', message: (err as Error).message });
    }
  }

  private charonDown(message: string): void {
    if (this.closed) return;
    // Reconnection attempts fail every few seconds while charon is away: report the first only.
    if (this.charonKnownDown) return;
    this.charonKnownDown = true;
    this.emit({ type: 'charon', state: 'down', message });
    if (this.graceTimer || this.tunnels.size === 0) return;
    // charon gone means its SAs are gone (kernel-libipsec keeps them in charon itself): unless
    // the socket is back soon (a reconnect after a timeout), the tunnels are down.
    this.graceTimer = setTimeout(() => {
      this.graceTimer = undefined;
      if (this.vici.connected) return;
      for (const rec of [...this.tunnels.values()]) if (rec.phase === 'up') this.down(rec, 'charon-gone');
    }, this.o.charonGraceMs ?? 3000);
    this.graceTimer.unref?.();
  }

  /**
   * Connections and IKE SAs of ours that no live tunnel owns (left by a daemon that was killed)
   * go; the private key and the responder's connection (re)load.
   */
  private async prepare(): Promise<void> {
    const v = this.vici;
    const ours = new RegExp(`^${this.prefix}-\\d+$`);
    const live = new Set([...this.tunnels.values()].map((r) => r.connection));
    const liveIke = new Set([...this.tunnels.values()].flatMap((r) => [...r.ikeIds]));
    const staleIke: string[] = [];
    if (this.o.cleanStale !== false) await v.stream('list-sas', {}, 'list-sa', (m) => {
      for (const [name, ike] of ikeSections(m)) {
        const id = str(ike.uniqueid);
        if (id && ours.test(name) && !live.has(name) && !liveIke.has(id)) staleIke.push(id);
      }
    });
    for (const id of staleIke) await v.stream('terminate', { 'ike-id': id, timeout: -1 }, 'control-log', () => undefined).catch(() => undefined);
    if (this.o.cleanStale !== false) for (const c of list((await v.request('get-conns')).conns)) if (ours.test(c) && !live.has(c)) await v.request('unload-conn', { name: c }).catch(() => undefined);
    if (this.o.credentials.kind === 'certificates') await loadStaticCredentials(v, this.o.credentials, this.ike.localAddress, this.prefix);
    await this.loadResponderOnce();
  }

  /** After a reconnect: tunnels whose CHILD_SAs charon no longer has are down. */
  private async resync(): Promise<void> {
    const up = [...this.tunnels.values()].filter((r) => r.phase === 'up');
    if (up.length === 0) return;
    const installed = new Set<string>();
    await this.vici.stream('list-sas', {}, 'list-sa', (m) => {
      for (const [, ike] of ikeSections(m)) for (const [, c] of Object.entries(section(ike['child-sas']) ?? {})) {
        const cs = section(c);
        if (cs && str(cs.state) === 'INSTALLED') installed.add(str(cs.name) ?? '');
      }
    });
    for (const rec of up) if ([...rec.children.keys()].some((n) => !installed.has(n))) this.down(rec, 'resync');
  }

  attach(sink: HandoffSink): void {
    this.sink = sink;
  }

  // ------------------------------------------------------------------ initiator

  /** Builds the CHILD_SAs' selectors (exact), or fails with reason `selectors` / `no-local-address`. */
  private plan(proxy: Selector): ChildSelectors[] {
    let children: ChildSelectors[];
    try {
      children = this.ike.ikeVersion === 2 ? ikev2Children(proxy, { maxChildren: this.maxChildren }) : ikev1Children(proxy, { maxChildren: this.maxChildren });
    } catch (err) {
      throw new HandoffFailure('selectors', (err as Error).message, { cause: err });
    }
    if (this.kernel === 'libipsec') {
      const own = (this.o.localAddresses ?? hostAddresses)().filter((a) => a.family === proxy.family);
      const width = addressBits(proxy.family);
      for (const c of children)
        for (const ts of c.local) {
          const size = 1n << BigInt(width - ts.block.prefix);
          if (!own.some((a) => a.value >= ts.block.value && a.value < ts.block.value + size))
            throw new HandoffFailure('no-local-address', `kernel-libipsec needs one of this gateway's addresses inside every local selector; ${formatTrafficSelector(ts)} holds none (charon would fail to install its route)`);
        }
    }
    return children;
  }

  async bringUp(t: TunnelInfo): Promise<boolean> {
    const started = performance.now();
    const connection = `${this.prefix}-${t.id}`;
    const peer = formatAddress(t.peer.family, t.peer.address);
    await this.start();
    const rec: TunnelRecord = { id: t.id, connection, peer, children: new Map(), expected: new Map(), phase: 'initiating', cancelled: false, ikeIds: new Set() };
    this.tunnels.set(t.id, rec);
    this.counters.initiated++;
    let logs: string[] = [];
    try {
      if (!this.vici.connected) throw new HandoffFailure('charon-unavailable', `charon is not reachable at ${this.vici.path}${this.vici.lastFailure ? ` (${this.vici.lastFailure.message})` : ''}`);
      const children = this.plan(t.proxy);
      const names = childNames(connection, children.length);
      names.forEach((n, i) => {
        rec.expected.set(n, children[i]!);
        this.byChild.set(n, rec);
      });
      if (children.length > 1) this.counters.split++;
      this.emit({
        type: 'initiating',
        tunnel: t.id,
        connection,
        peer,
        children: children.length,
        selectors: children.map((c) => ({ local: c.local.map(formatTrafficSelector), remote: c.remote.map(formatTrafficSelector) })),
      });
      const creds = this.o.credentials;
      if (!(await loadPeerSecret(this.vici, creds, this.ike.localAddress, t.peer.family, t.peer.address, `${this.prefix}-psk-${peer}`)))
        throw new HandoffFailure('no-credentials', `no pre-shared key is configured for peer ${peer}`);
      const conn = tunnelConnection(connection, peer, children, this.ike, authSections(creds, this.ike.localAddress, peer));
      await this.call('load-conn', conn);
      for (const name of names) {
        if (rec.cancelled) break;
        logs = [];
        const session = await this.takeSession();
        let r: ViciSection;
        try {
          r = await session.stream(
            'initiate',
            { child: name, ike: connection, timeout: this.initiateTimeoutMs, 'init-limits': false, loglevel: 1 },
            'control-log',
            (m) => {
              const msg = str(m.msg) ?? '';
              if (logs.length < 1000) logs.push(msg); // what a failure is classified from: bounded
              const ikeId = str(m['ikesa-uniqueid']);
              if (ikeId) rec.ikeIds.add(ikeId);
              if (logs.length <= 200) this.emit({ type: 'ike-log', tunnel: t.id, group: str(m.group) ?? '', level: Number(m.level ?? 0), message: msg });
            },
            { timeoutMs: this.initiateTimeoutMs + 2000 },
          );
        } catch (err) {
          throw new HandoffFailure(err instanceof TedError && err.code === 'VICI_TIMEOUT' ? 'timeout' : 'charon-error', `initiate ${name}: ${(err as Error).message}`, { cause: err });
        } finally {
          this.releaseSession(session);
        }
        if (str(r.success) !== 'yes') throw new HandoffFailure(classifyFailure(logs), `${str(r.errmsg) ?? 'initiate failed'}${logs.length ? `: ${lastSymptom(logs)}` : ''}`);
      }
      if (rec.cancelled) {
        await this.cleanup(rec);
        return false;
      }
      await this.confirm(rec);
      rec.phase = 'up';
      this.counters.established++;
      this.counters.childSas += rec.children.size;
      this.emit({ type: 'established', tunnel: t.id, connection, ikeId: [...rec.ikeIds].join(','), children: [...rec.children.values()], ms: performance.now() - started });
      return true;
    } catch (err) {
      const failure = err instanceof HandoffFailure ? err : new HandoffFailure('charon-error', (err as Error).message, { cause: err });
      this.counters.failures[failure.reason]++;
      this.emit({ type: 'failed', tunnel: t.id, connection, peer, reason: failure.reason, message: failure.message, ms: performance.now() - started });
      await this.cleanup(rec).catch(() => undefined);
      throw failure;
    }
  }

  /**
   * After initiate succeeded: what charon installed, read from list-sas (the child-updown event
   * travels on another connection and may come later). The selectors must be exactly the ones
   * proposed: a responder that narrowed them would leave part of the proxy without SA.
   */
  private async confirm(rec: TunnelRecord): Promise<void> {
    // Blocking list-sas: the non-blocking form skips an IKE SA that is busy, as it may still be
    // right after the initiation.
    const seen = new Map<string, ChildStatus>();
    const filter = rec.ikeIds.size === 1 ? { 'ike-id': [...rec.ikeIds][0]! } : {};
    for (let attempt = 0; attempt < 5 && seen.size < rec.expected.size; attempt++) {
      if (attempt > 0) await new Promise((r) => setTimeout(r, 50 * attempt));
      await this.vici.stream('list-sas', filter, 'list-sa', (m) => {
        for (const [, ike] of ikeSections(m))
          for (const [, c] of Object.entries(section(ike['child-sas']) ?? {})) {
            const cs = section(c);
            if (!cs) continue;
            const child = childOf(ike, cs);
            if (rec.expected.has(child.name) && child.state === 'INSTALLED') seen.set(child.name, child);
          }
      });
    }
    for (const [name, expected] of rec.expected) {
      const got = seen.get(name);
      if (!got) throw new HandoffFailure('ike-failed', `charon reported ${name} initiated but lists no INSTALLED CHILD_SA of that name`);
      const want = {
        local: new Set(expected.local.map((ts) => tsKey(rangeOf(ts)))),
        remote: new Set(expected.remote.map((ts) => tsKey(rangeOf(ts)))),
      };
      for (const [sideName, texts, wanted] of [
        ['local', got.localTs, want.local],
        ['remote', got.remoteTs, want.remote],
      ] as const) {
        const keys = new Set<string>();
        for (const text of texts) {
          const r = parseCharonTs(text);
          if (!r) throw new HandoffFailure('narrowed', `${name}: cannot read charon's ${sideName} selector '${text}' to check it`);
          keys.add(tsKey(r));
        }
        if (keys.size !== wanted.size || [...keys].some((k) => !wanted.has(k)))
          throw new HandoffFailure('narrowed', `${name}: the peer narrowed the ${sideName} selectors to ${texts.join(', ')} (proposed ${[...(sideName === 'local' ? expected.local : expected.remote)].map(formatTrafficSelector).join(', ')})`);
      }
      rec.children.set(name, got);
      if (got.ikeId) rec.ikeIds.add(got.ikeId);
    }
  }

  tearDown(t: TunnelInfo, reason: TeardownReason): void {
    const rec = this.tunnels.get(t.id);
    if (!rec) return;
    if (rec.phase === 'initiating') {
      rec.cancelled = true; // bringUp cleans up when its initiate returns
      return;
    }
    if (rec.phase === 'closing') return;
    this.counters.tornDown++;
    this.emit({ type: 'torn-down', tunnel: t.id, connection: rec.connection, reason });
    this.track(this.cleanup(rec).catch((err: Error) => this.emit({ type: 'error', context: `teardown ${rec.connection}`, message: err.message })));
  }

  /** Teardowns run in the background; close() waits for them. */
  private track(p: Promise<void>): void {
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p));
  }
  private readonly pending = new Set<Promise<void>>();

  /** Terminates the tunnel's CHILD_SAs, its IKE SA when nothing else uses it, and unloads the connection. */
  private async cleanup(rec: TunnelRecord): Promise<void> {
    rec.phase = 'closing';
    for (const n of rec.expected.keys()) this.byChild.delete(n);
    this.tunnels.delete(rec.id);
    if (!this.vici.connected) return;
    for (const n of rec.expected.keys()) await this.vici.stream('terminate', { child: n, timeout: 2000 }, 'control-log', () => undefined).catch(() => undefined);
    for (const ikeId of rec.ikeIds) {
      let children = 0;
      let exists = false;
      await this.vici
        .stream('list-sas', { 'ike-id': ikeId }, 'list-sa', (m) => {
          for (const [, ike] of ikeSections(m)) {
            exists = true;
            children += Object.keys(section(ike['child-sas']) ?? {}).length;
          }
        })
        .catch(() => undefined);
      if (exists && children === 0) await this.vici.stream('terminate', { 'ike-id': ikeId, timeout: 2000 }, 'control-log', () => undefined).catch(() => undefined);
    }
    await this.vici.request('unload-conn', { name: rec.connection }).catch(() => undefined);
  }

  private down(rec: TunnelRecord, cause: 'child-down' | 'ike-down' | 'charon-gone' | 'resync'): void {
    if (rec.phase !== 'up') return;
    this.counters.down++;
    this.emit({ type: 'down', tunnel: rec.id, connection: rec.connection, cause });
    // The gateway removes the tunnel and calls tearDown, which terminates what is left.
    if (!this.sink?.tunnelDown(rec.id, 'ike-down')) this.track(this.cleanup(rec).catch(() => undefined));
  }

  private onChildUpdown(m: ViciSection): void {
    const up = str(m.up) === 'yes';
    for (const [, ike] of ikeSections(m))
      for (const [, c] of Object.entries(section(ike['child-sas']) ?? {})) {
        const cs = section(c);
        if (!cs) continue;
        const child = childOf(ike, cs);
        const rec = this.byChild.get(child.name);
        if (rec) {
          if (up) {
            if (child.ikeId) rec.ikeIds.add(child.ikeId);
            if (rec.phase === 'up') rec.children.set(child.name, child);
          } else if (rec.phase === 'up') this.down(rec, 'child-down');
          continue;
        }
        if (this.responderPolicy && child.name.startsWith(`${this.prefix}-e`)) this.onResponderSa(up, ike, child);
      }
  }

  private onIkeUpdown(m: ViciSection): void {
    if (str(m.up) === 'yes') return;
    for (const [, ike] of ikeSections(m)) {
      const id = str(ike.uniqueid);
      if (!id) continue;
      for (const rec of [...this.tunnels.values()]) if (rec.ikeIds.has(id)) this.down(rec, 'ike-down');
      for (const [k, sa] of this.responderSas) if (k.startsWith(`${id}/`)) {
        this.responderSas.delete(k);
        this.emit({ type: 'responder-sa', up: false, ...sa });
      }
    }
  }

  private onChildRekey(m: ViciSection): void {
    for (const [, ike] of ikeSections(m))
      for (const [, c] of Object.entries(section(ike['child-sas']) ?? {})) {
        const nu = section(section(c)?.new);
        if (!nu) continue;
        const child = childOf(ike, nu);
        const rec = this.byChild.get(child.name);
        if (rec?.phase === 'up') rec.children.set(child.name, child);
      }
  }

  private onIkeRekey(m: ViciSection): void {
    for (const [, ike] of ikeSections(m)) {
      const from = str(section(ike.old)?.uniqueid);
      const to = str(section(ike.new)?.uniqueid);
      if (!from || !to) continue;
      for (const rec of this.tunnels.values()) if (rec.ikeIds.delete(from)) rec.ikeIds.add(to);
    }
  }

  // ------------------------------------------------------------------ responder

  private onResponderSa(up: boolean, ike: ViciSection, child: ChildStatus): void {
    const key = `${child.ikeId ?? ''}/${child.childId ?? child.name}`;
    const sa = { child: child.name, peer: str(ike['remote-host']) ?? '', localTs: [...child.localTs], remoteTs: [...child.remoteTs] };
    if (up) {
      if (this.responderSas.size >= 4096) return; // status only: bounded, charon holds the truth
      this.responderSas.set(key, sa);
    } else this.responderSas.delete(key);
    this.emit({ type: 'responder-sa', up, ...sa });
  }

  /**
   * Responder: one connection `<prefix>-responder` with one child `<prefix>-e<ordinal>` per permit
   * entry (local selectors = the entry's source side, remote = its destination side, remote
   * address any), plus the static credentials. Loaded now if charon is there, and again whenever
   * charon comes back. Entries that have no selector form are skipped and reported.
   */
  async loadResponder(policy: Policy): Promise<void> {
    this.responderPolicy = policy;
    if (this.vici.connected) await this.loadResponderOnce();
  }

  /** Loads the responder's connection unless it is loaded on this connection to charon already. */
  private async loadResponderOnce(): Promise<void> {
    while (this.responderLoading) await this.responderLoading;
    const policy = this.responderPolicy;
    if (!policy || this.responderLoadedFor === this.generation) return;
    const generation = this.generation;
    this.responderLoading = this.loadResponderNow(policy).finally(() => (this.responderLoading = undefined));
    await this.responderLoading;
    this.responderLoadedFor = generation;
  }

  private async loadResponderNow(policy: Policy): Promise<void> {
    const skipped: { entry: number; reason: string }[] = [];
    const warnings: { entry: number; reason: string }[] = [];
    const children: { name: string; local: string[]; remote: string[] }[] = [];
    const width = addressBits(policy.family);
    const own = this.kernel === 'libipsec' ? (this.o.localAddresses ?? hostAddresses)().filter((a) => a.family === policy.family) : [];
    const limit = this.maxChildren * MAX_TS_PER_PAYLOAD;
    for (const e of policy.entries) {
      if (e.action !== 'permit') continue;
      try {
        // The whole entry, in one child: a configuration's selector lists have no 255 limit, and
        // charon answers each proposal with its subset.
        const sel = ikev2Children(e, { maxPerPayload: MAX_TS_PER_PAYLOAD, maxChildren: Number.MAX_SAFE_INTEGER }, width);
        const local = sel.flatMap((c) => c.local);
        const remote = sel.flatMap((c) => c.remote);
        const uniq = (xs: typeof local) => [...new Map(xs.map((x) => [formatTrafficSelector(x), x])).values()];
        const l = uniq(local);
        const r = uniq(remote);
        if (l.length > limit || r.length > limit) throw new TedError('STRONGSWAN_TS_TOO_MANY', `${l.length} x ${r.length} selectors (at most ${limit} per side)`);
        if (this.kernel === 'libipsec') {
          const missing = l.filter((ts) => {
            const size = 1n << BigInt(width - ts.block.prefix);
            return !own.some((a) => a.value >= ts.block.value && a.value < ts.block.value + size);
          });
          if (missing.length) warnings.push({ entry: e.ordinal, reason: `kernel-libipsec: ${formatTrafficSelector(missing[0]!)} holds none of this gateway's addresses; charon will refuse such CHILD_SAs (TS_UNACCEPTABLE)` });
        }
        children.push({ name: `${this.prefix}-e${e.ordinal}`, local: l.map(formatTrafficSelector), remote: r.map(formatTrafficSelector) });
      } catch (err) {
        skipped.push({ entry: e.ordinal, reason: (err as Error).message });
      }
    }
    const name = `${this.prefix}-responder`;
    const creds = this.o.credentials;
    await loadStaticCredentials(this.vici, creds, this.ike.localAddress, this.prefix);
    if (children.length > 0) await this.call('load-conn', responderConnection(name, children, this.ike, authSections(creds, this.ike.localAddress, undefined)));
    this.emit({ type: 'responder-loaded', connection: name, children: children.length, skipped, warnings });
  }

  // ------------------------------------------------------------------ sessions

  private async call(command: string, message: Parameters<ViciSession['request']>[1]): Promise<ViciSection> {
    return expectSuccess(command, await this.vici.request(command, message));
  }

  private async takeSession(): Promise<ViciSession> {
    const s = this.idle.pop();
    if (s) return s;
    if (this.pool.length < Math.max(1, this.o.initiators ?? 4)) {
      const fresh = new ViciSession({ socket: this.vici.path, reconnect: false, requestTimeoutMs: this.initiateTimeoutMs + 2000 });
      this.pool.push(fresh);
      try {
        await fresh.connect();
      } catch (err) {
        this.pool.splice(this.pool.indexOf(fresh), 1);
        throw new HandoffFailure('charon-unavailable', `cannot open a VICI connection for the initiation: ${(err as Error).message}`, { cause: err });
      }
      return fresh;
    }
    return new Promise((resolve) => this.waitingForSession.push(resolve));
  }

  private releaseSession(s: ViciSession): void {
    if (!s.connected) {
      // lost (charon went away, or a timeout closed it): a fresh one is made next time
      this.pool.splice(this.pool.indexOf(s), 1);
      s.close();
      const next = this.waitingForSession.shift();
      if (next) void this.takeSession().then(next, () => undefined);
      return;
    }
    const next = this.waitingForSession.shift();
    if (next) next(s);
    else this.idle.push(s);
  }

  // ------------------------------------------------------------------ status

  /** What charon has for a tunnel (for `ted status`). */
  status(t: TunnelInfo): Readonly<Record<string, unknown>> | undefined {
    const rec = this.tunnels.get(t.id);
    if (!rec) return undefined;
    return {
      connection: rec.connection,
      phase: rec.phase,
      ikeSa: [...rec.ikeIds],
      childSas: [...rec.children.values()].map((c) => ({ name: c.name, state: c.state, localTs: c.localTs, remoteTs: c.remoteTs, spiIn: c.spiIn, spiOut: c.spiOut, encap: c.encap })),
    };
  }

  /** The handoff as a whole (for `ted status`). */
  describe(): Record<string, unknown> {
    const failures = Object.fromEntries(Object.entries(this.counters.failures).filter(([, n]) => n > 0));
    return {
      kind: 'strongswan',
      vici: this.vici.path,
      charon: this.vici.connected ? 'connected' : `not connected${this.vici.lastFailure ? ` (${this.vici.lastFailure.message})` : ''}`,
      ikeVersion: this.ike.ikeVersion,
      kernel: this.kernel,
      counters: { ...this.counters, failures },
      ...(this.responderPolicy ? { responder: { connection: `${this.prefix}-responder`, sas: [...this.responderSas.values()] } } : {}),
    };
  }

  /**
   * Waits (at most `waitMs`) for teardowns under way, unloads the responder's connection,
   * unsubscribes and closes the initiation connections. The main session stays the caller's;
   * the gateway tears its tunnels down first (close() of the gateway, then of the handoff).
   */
  async close(waitMs = 5000): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.graceTimer);
    if (this.pending.size > 0) await Promise.race([Promise.allSettled([...this.pending]), new Promise((r) => setTimeout(r, waitMs).unref())]);
    for (const u of this.unsubscribers) u();
    for (const s of this.pool) s.close();
    if (this.responderPolicy && this.vici.connected) await this.vici.request('unload-conn', { name: `${this.prefix}-responder` }).catch(() => undefined);
  }
}

/** The line of charon's log that says what went wrong (the first that names a symptom, else the last). */
function lastSymptom(lines: readonly string[]): string {
  return lines.find((l) => /failed|error|notify|giving up|unable|no .* found|not responding/i.test(l)) ?? lines[lines.length - 1]!;
}

export function createStrongswanHandoff(options: StrongswanHandoffOptions): StrongswanHandoff {
  return new StrongswanHandoff(options);
}
