// `ted demo`: the whole discovery in one process on real sockets on loopback. An initiator gateway
// (IKE 127.0.1.1, site W) and a responder gateway (IKE 127.0.2.1, site Y) run the engine over the
// UDP/raw transports; packet P is dropped, probed, answered, intersected, verified and tunnelled,
// and the next packet is forwarded. Then the same responder meets a TED v2 initiator (127.0.1.2),
// whose merged half proxies its quick-mode check refuses, while v3's intersection is accepted.
import dgram from 'node:dgram';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { TedError } from '../errors.js';
import { ikeWire } from '../ted/ike-wire.js';
import { loadPolicy } from '../policy/index.js';
import { formatAddress } from '../selector/address.js';
import { contains, entrySelectors, firstMatch, intersect, mirror, selectorContaining } from '../selector/algebra.js';
import { formatEntry, formatSelector, formatSelectorLines, selectorJson } from '../selector/format.js';
import type { Entry, Family, Policy, PortSet, Selector, Tuple } from '../selector/types.js';
import { FULL_PORTS } from '../selector/types.js';
import { systemClock } from '../ted/clock.js';
import type { Counters } from '../ted/counters.js';
import { createGateway, type Gateway } from '../ted/gateway.js';
import type { GatewayEvent, Handoff, TunnelInfo } from '../ted/types.js';
import { DROP, FORWARD, VERDICT_NAMES } from '../ted/types.js';
import type { Datagram, OutboundDatagram, Transport } from '../transport/types.js';
import { createUdpTransport, type UdpTransport } from '../transport/udp.js';

/** Every kind of step the story tells (each has a text rendering in `ted demo`). */
export const DEMO_STEP_KINDS = [
  'setup',
  'packet',
  'probe',
  'responder-silent',
  'response',
  'response-dropped',
  'intersection',
  'merge',
  'verify',
  'quick-mode',
  'tunnel',
  'gave-up',
  'compare',
  'verdict',
  'timeout',
  'done',
] as const;
export type DemoStepKind = (typeof DEMO_STEP_KINDS)[number];

/** One step of the story; `--json` prints each as a line. */
export interface DemoStep {
  readonly step: DemoStepKind;
  readonly [key: string]: unknown;
}

/** A datagram the demo put on the wire, as a real network would carry it (for --pcap). */
export interface DemoFrame extends Datagram {
  readonly kind: 'probe' | 'response';
  readonly time: number;
}

export interface DemoOptions {
  readonly initiatorPolicy?: Policy;
  readonly responderPolicy?: Policy;
  /** 'auto' (default): UDP 500 and raw-socket probes when root, unprivileged ports otherwise. */
  readonly mode?: 'auto' | 'privileged' | 'unprivileged';
  /** Give up waiting for a discovery after this long (ms). Default 3000. */
  readonly timeoutMs?: number;
  readonly onStep?: (s: DemoStep) => void;
}

export interface DemoResult {
  readonly ok: boolean;
  readonly mode: 'privileged' | 'unprivileged';
  readonly steps: DemoStep[];
  readonly frames: DemoFrame[];
  readonly counters: { readonly initiator: Counters; readonly responder: Counters; readonly v2?: Counters };
}

export const DEMO_INITIATOR = '127.0.1.1';
export const DEMO_INITIATOR_V2 = '127.0.1.2';
export const DEMO_RESPONDER = '127.0.2.1';
/** Where probes for sites outside 127/8 are redirected in unprivileged runs. */
const DEMO_REDIRECT = '127.0.2.254';

export function bundledPolicyPath(which: 'initiator' | 'responder'): string {
  return fileURLToPath(new URL(`../../examples/demo/${which}.acl`, import.meta.url));
}

const PROTO_NAMES: Record<number, string> = { 1: 'icmp', 6: 'tcp', 17: 'udp', 58: 'icmp', 132: 'sctp' };

export function formatTuple(t: Tuple): string {
  const a = (v: bigint) => formatAddress(t.family, v);
  const p = PROTO_NAMES[t.protocol] ?? `proto ${t.protocol}`;
  const at = (addr: bigint, port: number) => (t.hasPorts ? (t.family === 6 ? `[${a(addr)}]:${port}` : `${a(addr)}:${port}`) : a(addr));
  return `${p} ${at(t.src, t.sport)} > ${at(t.dst, t.dport)}`;
}

const hex = (v: bigint) => v.toString(16).padStart(16, '0');

// --------------------------------------------------------------------- picking packets

/** A host inside an address field: its value with a low host number where the mask allows. */
function hostIn(family: Family, a: { value: bigint; care: bigint }, preferred: bigint): bigint {
  const ones = family === 4 ? 0xffffffffn : (1n << 128n) - 1n;
  return a.value | (preferred & ~a.care & ones);
}

function portIn(set: PortSet, preferred: number): number {
  for (const r of set) if (preferred >= r.lo && preferred <= r.hi) return preferred;
  return set[0]!.lo;
}

function tupleIn(s: Selector, sport: number, dport: number, srcHost: bigint, dstHost: bigint): Tuple {
  const hasPorts = s.protocol === 6 || s.protocol === 17 || s.protocol === 132;
  return {
    family: s.family,
    protocol: s.protocol === 0 ? 6 : s.protocol,
    src: hostIn(s.family, s.src, srcHost),
    dst: hostIn(s.family, s.dst, dstHost),
    sport: hasPorts || s.protocol === 0 ? portIn(s.sport, sport) : 0,
    dport: hasPorts || s.protocol === 0 ? portIn(s.dport, dport) : 0,
    hasPorts: hasPorts || s.protocol === 0,
  };
}

interface Pair {
  readonly e: Entry;
  readonly m: Entry;
  readonly p: Tuple;
  /** The selectors of E and M that hold P (an entry written with object groups has several). */
  readonly es: Selector;
  readonly ms: Selector;
  readonly v3: Selector;
}

/**
 * Packets the pair of policies can discover: for each initiator permit entry E and responder
 * permit entry M (each selector of them), a packet inside E ∩ mirror(M) that E and M (mirrored)
 * really are the first matches for. The intersection expected is the one the gateways will make:
 * of the selectors of E and M that hold the packet, the first.
 */
function discoverable(ini: Policy, res: Policy): Pair[] {
  const out: Pair[] = [];
  for (const e of ini.entries) {
    if (e.action !== 'permit') continue;
    for (const m of res.entries) {
      if (m.action !== 'permit') continue;
      const found = (() => {
        for (const a of entrySelectors(e))
          for (const b of entrySelectors(m)) {
            const x = intersect(a, mirror(b));
            if (x.empty) continue;
            for (const [sp, dp] of [
              [40000, 80],
              [40001, 8080],
              [40002, 53],
              [40003, 443],
            ] as const) {
              const p = tupleIn(x.selector, sp, dp, 5n, 80n);
              if (!contains(x.selector, p)) continue;
              const mirrored: Tuple = { ...p, src: p.dst, dst: p.src, sport: p.dport, dport: p.sport };
              if (firstMatch(ini.entries, p) !== e.ordinal || firstMatch(res.entries, mirrored) !== m.ordinal) continue;
              const es = selectorContaining(e, p)!;
              const ms = selectorContaining(m, mirrored)!;
              const v3 = intersect(es, mirror(ms));
              if (!v3.empty && contains(v3.selector, p)) return { e, m, p, es, ms, v3: v3.selector };
            }
          }
        return undefined;
      })();
      if (found) out.push(found);
    }
  }
  return out;
}

/** TED v1/v2's merged proxy: our source half, their half, no protocol, no ports. */
function mergedProxy(e: Selector, m: Selector): Selector {
  return { family: e.family, protocol: 0, src: e.src, dst: m.src, sport: FULL_PORTS, dport: FULL_PORTS };
}

// --------------------------------------------------------------------- transports

const isLoopback4 = (v: bigint) => v >> 24n === 127n;

function parse4(text: string): bigint {
  return text.split('.').reduce((acc, x) => (acc << 8n) | BigInt(Number(x)), 0n);
}

interface Wiring {
  mode: 'privileged' | 'unprivileged';
  note: string;
  responder: Transport;
  initiator: Transport;
  v2: Transport;
  ports: { responder: number; initiator: number };
  close(): Promise<void>;
}

/**
 * The name of the lock a privileged demo holds on UDP 500: an abstract Unix socket, scoped like
 * UDP ports to the network namespace and released by the kernel when the process dies.
 */
const PORT_500_LOCK = '\0ipsec-ted-demo-udp-500';

/**
 * Takes UDP 500 for this demo or throws TED_DEMO_PORT_IN_USE. The privileged wiring binds UDP 500
 * with SO_REUSEADDR (three gateways of one process share it), which would also let it share the
 * port with a second demo or an IKE daemon and take their datagrams: so first the lock (another
 * `ted demo`), then a bind without SO_REUSEADDR (anything else on UDP 500), released at once.
 */
export async function claimPort500(): Promise<{ release(): void }> {
  const lock = net.createServer();
  await new Promise<void>((resolve, reject) => {
    lock.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        err.code === 'EADDRINUSE'
          ? new TedError('TED_DEMO_PORT_IN_USE', 'UDP 500 is in use by another `ted demo` in this network namespace')
          : new TedError('TED_DEMO_PORT_IN_USE', `cannot take the demo's UDP 500 lock: ${err.code ?? err.message}`, { cause: err }),
      ),
    );
    lock.listen({ path: PORT_500_LOCK }, () => resolve());
  });
  lock.unref();
  const release = () => void lock.close();
  const probe = dgram.createSocket({ type: 'udp4', reuseAddr: false });
  try {
    await new Promise<void>((resolve, reject) => {
      probe.once('error', reject);
      probe.bind({ address: '0.0.0.0', port: 500 }, () => resolve());
    });
  } catch (err) {
    release();
    const code = (err as NodeJS.ErrnoException).code;
    throw new TedError('TED_DEMO_PORT_IN_USE', code === 'EADDRINUSE' ? 'UDP 500 is in use by another program (an IKE daemon?)' : `cannot bind UDP 500: ${code ?? String(err)}`, { cause: err });
  } finally {
    await new Promise<void>((resolve) => {
      try {
        probe.close(() => resolve());
      } catch {
        resolve(); // never bound
      }
    });
  }
  return { release };
}

async function privileged(): Promise<Wiring> {
  const { createRawTransport } = await import('../transport/raw.js');
  const port = await claimPort500();
  const opened: Transport[] = [];
  try {
    // Three gateways of this process on UDP 500: the initiators' own-address sockets are more
    // specific than the responder's wildcard, so Linux delivers responses to them (shared port).
    const responder = await createUdpTransport({ bind: [{ address: DEMO_RESPONDER, port: 500 }, { address: '0.0.0.0', port: 500 }], shared: true });
    opened.push(responder);
    const initiator = await createRawTransport({ bind: [{ address: DEMO_INITIATOR, port: 500 }], shared: true });
    opened.push(initiator);
    const v2 = await createRawTransport({ bind: [{ address: DEMO_INITIATOR_V2, port: 500 }], shared: true });
    opened.push(v2);
    return {
      mode: 'privileged',
      note: 'root: UDP 500, probes written through a raw socket with the source host address',
      responder,
      initiator,
      v2,
      ports: { responder: 500, initiator: 500 },
      close: async () => {
        await Promise.all(opened.map((t) => t.close()));
        port.release();
      },
    };
  } catch (err) {
    await Promise.all(opened.map((t) => t.close()));
    port.release();
    throw err;
  }
}

async function unprivileged(redirectToResponder: boolean, why: string): Promise<Wiring> {
  let lastErr: unknown;
  for (let attempt = 0; attempt < 20; attempt++) {
    const rp = 20000 + Math.floor(Math.random() * 20000);
    const ip = rp + 20000;
    const opened: UdpTransport[] = [];
    try {
      // Datagrams for sites outside 127/8 (custom policies) cannot reach loopback by routing:
      // the transport redirects them to the responder's socket, as a route would.
      const redirect = (d: OutboundDatagram, dest: { address: string; port: number }) =>
        // (to a loopback address the responder has no socket of its own for, so its wildcard
        // socket receives it, as it would receive a probe for a protected host)
        redirectToResponder && d.family === 4 && !isLoopback4(d.dst) ? { address: DEMO_REDIRECT, port: rp } : dest;
      const responder = await createUdpTransport({ bind: [{ address: DEMO_RESPONDER, port: rp }, { address: '0.0.0.0', port: rp }] });
      opened.push(responder);
      const initiator = await createUdpTransport({ bind: [{ address: DEMO_INITIATOR, port: ip }], remotePort: rp, redirect });
      opened.push(initiator);
      const v2 = await createUdpTransport({ bind: [{ address: DEMO_INITIATOR_V2, port: ip }], remotePort: rp, redirect });
      opened.push(v2);
      return {
        mode: 'unprivileged',
        note: `${why}: unprivileged UDP ports (responder ${rp}, initiators ${ip}); probes leave from the initiator's own address, not the source host's${redirectToResponder ? '; probes for sites outside 127/8 are redirected to the responder' : ''}`,
        responder,
        initiator,
        v2,
        ports: { responder: rp, initiator: ip },
        close: async () => void (await Promise.all(opened.map((t) => t.close()))),
      };
    } catch (err) {
      lastErr = err;
      await Promise.all(opened.map((t) => t.close()));
    }
  }
  throw lastErr;
}

// --------------------------------------------------------------------- the story

export async function runDemo(opts: DemoOptions = {}): Promise<DemoResult> {
  const ini = opts.initiatorPolicy ?? loadPolicy(bundledPolicyPath('initiator'));
  const res = opts.responderPolicy ?? loadPolicy(bundledPolicyPath('responder'));
  if (ini.family !== 4 || res.family !== 4)
    throw new TedError('TED_INPUT_DEMO_FAMILY', 'the demo runs on IPv4 loopback: give it IPv4 access lists');
  const timeoutMs = opts.timeoutMs ?? 3000;
  const steps: DemoStep[] = [];
  const frames: DemoFrame[] = [];
  const t0 = Date.now();
  const emit = (s: DemoStep) => {
    steps.push(s);
    opts.onStep?.(s);
  };

  const pairs = discoverable(ini, res);
  if (pairs.length === 0)
    throw new TedError('TED_INPUT_DEMO_NO_PAIR', `no packet is protected by both ${ini.name} and (mirrored) ${res.name}: there is nothing to discover`);
  const main = pairs[0]!;

  const allLoopback = pairs.every((x) => isLoopback4(x.p.src) && isLoopback4(x.p.dst));
  const want = opts.mode ?? 'auto';
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  let wiring: Wiring | undefined;
  let fallback: string | undefined;
  if (want === 'privileged' || (want === 'auto' && root && allLoopback)) {
    try {
      wiring = await privileged();
    } catch (err) {
      if (want === 'privileged') throw err;
      // Our own errors say what is missing (UDP 500 taken, no raw-socket addon, no raw sockets).
      fallback = err instanceof TedError ? `root, but ${err.message}` : `root, but the privileged set-up failed (${(err as Error).message})`;
    }
  }
  const why = fallback ?? (want === 'unprivileged' ? 'asked for' : !root ? 'not root' : 'the policies name sites outside 127/8 (raw probes would leave this machine)');
  wiring ??= await unprivileged(!allLoopback, why);

  const gateways: Gateway[] = [];
  try {
    emit({
      step: 'setup',
      mode: wiring.mode,
      note: wiring.note,
      initiator: { ike: DEMO_INITIATOR, port: wiring.ports.initiator, acl: ini.name },
      responder: { ike: DEMO_RESPONDER, port: wiring.ports.responder, acl: res.name },
    });

    const waiters: { test: (e: GatewayEvent, who: string) => boolean; resolve: (e: GatewayEvent | undefined) => void }[] = [];
    let finished = false;
    const listen = (who: 'initiator' | 'responder' | 'v2') => (e: GatewayEvent) => {
      if (finished) return; // closing the gateways at the end is not part of the story
      narrate(who, e);
      for (const w of [...waiters]) if (w.test(e, who)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(e);
      }
    };
    const waitFor = (test: (e: GatewayEvent, who: string) => boolean) =>
      new Promise<GatewayEvent | undefined>((resolve) => {
        const w = { test, resolve };
        waiters.push(w);
        setTimeout(() => {
          const i = waiters.indexOf(w);
          if (i >= 0) {
            waiters.splice(i, 1);
            resolve(undefined);
          }
        }, timeoutMs).unref();
      });
    // An entry written with object groups is shown by the selector at work (the one holding the packet).
    const entryText = (p: Policy, ordinal: number, at: { tuple: Tuple } | { selector: Selector }) => {
      const e = p.entries.find((x) => x.ordinal === ordinal);
      if (!e) return '';
      if (!e.selectors) return formatEntry(e);
      const s = 'tuple' in at ? (selectorContaining(e, at.tuple) ?? e.selectors[0]!) : at.selector;
      return `${formatSelectorLines(s, e.action).join('; ')} (1 of the entry's ${e.selectors.length} selectors)`;
    };
    const caseName = 'v3';
    const narrate = (who: 'initiator' | 'responder' | 'v2', e: GatewayEvent) => {
      const gw = who === 'responder' ? 'responder' : 'initiator';
      // The responder answers both initiators: its steps belong to the case of whom it answers.
      const toV2 = e.type === 'response-sent' && e.to.address === parse4(DEMO_INITIATOR_V2);
      const base = { case: who === 'v2' || toV2 ? 'v2' : caseName, gateway: gw };
      switch (e.type) {
        case 'drop':
          if (e.reason === 'no-tunnel') emit({ step: 'packet', ...base, packet: formatTuple(e.tuple), entry: e.entry, acl: entryText(ini, e.entry, { tuple: e.tuple }), verdict: 'DROP', reason: 'no tunnel yet: discovery starts' });
          break;
        case 'probe-sent':
          frames.push({ kind: 'probe', family: e.summary.family, src: e.src, dst: e.dst, sport: e.sport, dport: 500, payload: e.bytes.slice(), time: Date.now() });
          emit({
            step: 'probe',
            ...base,
            icookie: hex(e.icookie),
            attempt: e.attempt,
            ip: { src: formatAddress(e.summary.family, e.src), dst: formatAddress(e.summary.family, e.dst), sport: e.sport, dport: 500 },
            spoofed: e.spoofed,
            summary: formatTuple({ family: e.summary.family, protocol: e.summary.protocol, src: e.summary.src, dst: e.summary.dst, sport: e.summary.sport, dport: e.summary.dport, hasPorts: e.summary.sport !== 0 || e.summary.dport !== 0 }),
            bytes: e.bytes.length,
          });
          break;
        case 'probe-ignored':
          emit({ step: 'responder-silent', ...base, reason: e.reason });
          break;
        case 'response-sent':
          frames.push({ kind: 'response', family: e.to.family, src: e.src, dst: e.to.address, sport: 500, dport: 500, payload: e.bytes.slice(), time: Date.now() });
          emit({
            step: 'response',
            ...base,
            entry: e.entry,
            acl: entryText(res, e.entry, { selector: e.proxy }),
            icookie: hex(e.icookie),
            rcookie: hex(e.rcookie),
            to: formatAddress(e.to.family, e.to.address),
            proxy: selectorJson(e.proxy),
            bytes: e.bytes.length,
          });
          break;
        case 'response-dropped':
          emit({ step: 'response-dropped', ...base, reason: e.reason });
          break;
        case 'intersection':
          emit({
            step: e.tedVersion === 3 ? 'intersection' : 'merge',
            ...base,
            ours: selectorJson(e.ours),
            theirs: selectorJson(e.theirs),
            ...(e.result ? { result: selectorJson(e.result) } : { empty: e.emptyField }),
          });
          break;
        case 'verify':
          emit({ step: 'verify', ...base, packet: formatTuple(e.tuple), inside: e.inside });
          break;
        case 'tunnel':
          emit({
            step: 'tunnel',
            ...base,
            state: e.state,
            id: e.tunnel.id,
            peer: formatAddress(e.tunnel.peer.family, e.tunnel.peer.address),
            proxy: selectorJson(e.tunnel.proxy),
            ...(e.reason ? { reason: e.reason } : {}),
          });
          break;
        case 'probe-gave-up':
          emit({ step: 'gave-up', ...base, icookie: hex(e.icookie), tries: e.tries });
          break;
        default:
          break;
      }
    };

    const responder = createGateway({
      role: 'responder',
      policy: res,
      localAddress: DEMO_RESPONDER,
      transport: wiring.responder,
      clock: systemClock,
      wire: ikeWire,
      ports: { local: wiring.ports.responder, peer: wiring.ports.initiator },
      onEvent: listen('responder'),
    });
    gateways.push(responder);
    // IKE quick mode, simulated in-process: the responder checks the proposed proxy against its ACL.
    const quickMode = (who: string): Handoff => ({
      bringUp: (t: TunnelInfo) => {
        const c = responder.checkProposal(t.proxy);
        emit({ step: 'quick-mode', case: who, gateway: 'responder', proxy: selectorJson(t.proxy), accepted: c.accepted, reason: c.reason, entry: c.entry });
        return c.accepted;
      },
    });
    const timers = { probeTimeoutMs: 300, probeTries: 3, holdDownMs: 10_000 };
    const initiator = createGateway({
      role: 'initiator',
      policy: ini,
      localAddress: DEMO_INITIATOR,
      transport: wiring.initiator,
      clock: systemClock,
      wire: ikeWire,
      timers,
      ports: { local: wiring.ports.initiator, peer: wiring.ports.responder },
      handoff: quickMode('v3'),
      onEvent: listen('initiator'),
    });
    gateways.push(initiator);

    // ---- the main story
    const P = main.p;
    const ended = (who: string) => (e: GatewayEvent, w: string) =>
      w === who && ((e.type === 'tunnel' && (e.state === 'established' || e.state === 'down' || e.state === 'refused')) || e.type === 'hold-down');
    const done = waitFor(ended('initiator'));
    const v1 = initiator.processOne(P);
    if (v1.verdict !== DROP) throw new TedError('TED_DEMO', `the first packet was ${VERDICT_NAMES[v1.verdict]}, expected DROP`);
    const end = await done;
    let ok = end?.type === 'tunnel' && end.state === 'established';
    if (!end) emit({ step: 'timeout', case: 'v3', waitedMs: timeoutMs });
    const v2nd = initiator.processOne(P);
    emit({
      step: 'packet',
      case: 'v3',
      gateway: 'initiator',
      packet: formatTuple(P),
      entry: v2nd.ordinal,
      acl: entryText(ini, v2nd.ordinal, { tuple: P }),
      verdict: VERDICT_NAMES[v2nd.verdict],
      ...(v2nd.verdict === FORWARD ? { tunnel: v2nd.tunnel } : {}),
    });
    ok &&= v2nd.verdict === FORWARD;

    // ---- v2 versus v3
    // The comparison: a packet whose v2 merged proxy the responder refuses while it accepts the
    // v3 intersection (another packet than P when the policies have one).
    const differs = (x: Pair) => !responder.checkProposal(mergedProxy(x.es, x.ms)).accepted && responder.checkProposal(x.v3).accepted;
    const cmp = pairs.slice(1).find(differs) ?? (differs(main) ? main : undefined);
    if (!cmp) {
      emit({ step: 'compare', found: false, note: 'in these policies, every discoverable pair also works with merged half proxies (v2)' });
    } else {
      emit({ step: 'compare', found: true, packet: formatTuple(cmp.p), initiatorEntry: cmp.e.ordinal, responderEntry: cmp.m.ordinal });
      const v2gw = createGateway({
        role: 'initiator',
        policy: ini,
        localAddress: DEMO_INITIATOR_V2,
        transport: wiring.v2,
        clock: systemClock,
        wire: ikeWire,
        timers,
        tedVersion: 2,
        ports: { local: wiring.ports.initiator, peer: wiring.ports.responder },
        handoff: quickMode('v2'),
        onEvent: listen('v2'),
      });
      gateways.push(v2gw);
      // v3 first (the main initiator may already have a tunnel for this packet: then it forwards).
      let v3ok = initiator.processOne(cmp.p).verdict === FORWARD;
      if (!v3ok) {
        const e3 = await waitFor(ended('initiator'));
        v3ok = e3?.type === 'tunnel' && e3.state === 'established';
      }
      const d2 = waitFor((e, w) => w === 'v2' && ((e.type === 'tunnel' && (e.state === 'down' || e.state === 'established')) || e.type === 'hold-down'));
      v2gw.processOne(cmp.p);
      const e2 = await d2;
      const v2ok = e2?.type === 'tunnel' && e2.state === 'established';
      emit({ step: 'verdict', v3: v3ok ? 'established' : 'failed', v2: v2ok ? 'established' : 'refused by the responder' });
      ok &&= v3ok && !v2ok;
    }
    emit({ step: 'done', ok, elapsedMs: Date.now() - t0 });
    finished = true;
    return {
      ok,
      mode: wiring.mode,
      steps,
      frames,
      counters: { initiator: { ...initiator.counters }, responder: { ...responder.counters }, ...(gateways[2] ? { v2: { ...gateways[2].counters } } : {}) },
    };
  } finally {
    for (const g of gateways) await g.close();
    await wiring.close();
  }
}
