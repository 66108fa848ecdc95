// `ted lab`: the whole story on one machine. Host A opens a TCP connection to host B; gateway A
// drops the first packet and probes; gateway B answers with its proxy; gateway A intersects,
// hands the tunnel to its charon, which runs IKE_SA_INIT and IKE_AUTH with gateway B's charon;
// the CHILD_SA is installed with the negotiated selectors; the connection is carried in ESP; a
// packet outside the proxy is not carried; the tunnel is torn down. Every step is read from what
// the daemons and charon report (their logs, VICI) and from a capture of the link between the
// gateways, never assumed.
import { copyFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TedError } from '../errors.js';
import { parseAnyAddress } from '../selector/address.js';
import type { Family } from '../selector/types.js';
import type { ViciSection } from '../vici/message.js';
import { ViciSession } from '../vici/session.js';
import { LinkCapture, summarizeLink, type LinkSummary } from './capture.js';
import { LAB_PORTS, StrongswanLab, type LabDaemons } from './gateways.js';
import { ADDR, Lab, pidAlive } from './netns.js';
import { packageScript, sleep, type LabTed, type LogLine } from './ted.js';

export interface LabStep {
  readonly step: string;
  readonly text: string;
  readonly [k: string]: unknown;
}

export interface LabOptions {
  readonly family?: Family;
  /** Write the capture of the link between the gateways here. */
  readonly pcap?: string;
  /** Leave namespaces, daemons and charons running (a later `ted lab` reaps them). */
  readonly keep?: boolean;
  readonly signal?: AbortSignal;
  readonly onStep: (s: LabStep) => void;
}

export interface LabResult {
  readonly ok: boolean;
  /** First dropped packet (gateway A's log) to the first byte delivered to host B. */
  readonly setupMs: number;
  /** First dropped packet to the tunnel ESTABLISHED in gateway A. */
  readonly readyMs: number;
  /** Handoff: initiate to CHILD_SA installed (gateway A's handoff). */
  readonly ikeMs: number;
  readonly link: LinkSummary;
  readonly kept?: { readonly namespaces: readonly string[]; readonly dir: string };
}

const AGENT = packageScript('lab/agent.js');

function logTime(l: LogLine): number {
  return typeof l.time === 'number' ? l.time : Date.parse(String(l.time));
}

class Aborted extends TedError {
  constructor() {
    super('LAB_INTERRUPTED', 'interrupted');
  }
}

/** Reads `list-sas` of a charon: our CHILD_SAs with their counters. */
export async function childSas(socket: string): Promise<{ name: string; state: string; bytesIn: number; bytesOut: number; packetsIn: number; packetsOut: number; localTs: string[]; remoteTs: string[] }[]> {
  const s = new ViciSession({ socket, reconnect: false, requestTimeoutMs: 5000 });
  try {
    await s.connect();
    const out: Awaited<ReturnType<typeof childSas>> = [];
    await s.stream('list-sas', {}, 'list-sa', (m) => {
      for (const ike of Object.values(m)) {
        const kids = (ike as ViciSection)['child-sas'] as Record<string, Record<string, string | string[]>> | undefined;
        for (const c of Object.values(kids ?? {}))
          out.push({
            name: String(c.name),
            state: String(c.state),
            bytesIn: Number(c['bytes-in'] ?? 0),
            bytesOut: Number(c['bytes-out'] ?? 0),
            packetsIn: Number(c['packets-in'] ?? 0),
            packetsOut: Number(c['packets-out'] ?? 0),
            localTs: (c['local-ts'] as string[]) ?? [],
            remoteTs: (c['remote-ts'] as string[]) ?? [],
          });
      }
    });
    return out;
  } finally {
    s.close();
  }
}

/** A host-side agent process whose JSON lines are collected. */
class Agent {
  readonly lines: Record<string, unknown>[] = [];
  constructor(lab: Lab, node: 'hostA' | 'hostB', args: string[]) {
    const child = lab.spawn(node, [process.execPath, AGENT, ...args]);
    let buf = '';
    child.stdout!.on('data', (b: Buffer) => {
      buf += b.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        try {
          this.lines.push(JSON.parse(buf.slice(0, nl)) as Record<string, unknown>);
        } catch {
          // not ours
        }
        buf = buf.slice(nl + 1);
      }
    });
  }
  find(pred: (l: Record<string, unknown>) => boolean) {
    return this.lines.find(pred);
  }
}

/** Temporary directories of earlier `ted lab` runs whose process is gone: `ted-lab-<pid base 36>-*`. */
function reapStaleDirs(): string[] {
  const out: string[] = [];
  for (const name of readdirSync(tmpdir())) {
    const m = /^ted-lab-([0-9a-z]+)-/.exec(name);
    if (!m) continue;
    if (pidAlive(parseInt(m[1]!, 36))) continue;
    rmSync(join(tmpdir(), name), { recursive: true, force: true });
    out.push(name);
  }
  return out;
}

export async function runLab(o: LabOptions): Promise<LabResult> {
  const family = o.family ?? 4;
  const k = family === 4 ? 'v4' : 'v6';
  const emit = (step: string, text: string, data: Record<string, unknown> = {}) => o.onStep({ step, text, ...data });
  const check = () => {
    if (o.signal?.aborted) throw new Aborted();
  };
  const wait = async <T>(what: string, fn: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 10_000): Promise<T> => {
    const end = Date.now() + timeoutMs;
    for (;;) {
      check();
      const v = await fn();
      if (v) return v;
      if (Date.now() > end) throw new TedError('LAB_TIMEOUT', `timed out waiting for ${what}`);
      await sleep(25);
    }
  };

  const reaped = await Lab.reapStale();
  const reapedDirs = reapStaleDirs();
  if (reaped.length || reapedDirs.length)
    emit('reaped', `removed what an earlier run left (killed, or --keep): ${reaped.length} namespaces, ${reapedDirs.length} directories`, { namespaces: reaped, dirs: reapedDirs });
  const dir = mkdtempSync(join(tmpdir(), `ted-lab-${process.pid.toString(36)}-`));
  let world: StrongswanLab | undefined;
  let d: LabDaemons | undefined;
  let capture: LinkCapture | undefined;
  let kept: LabResult['kept'];
  try {
    world = await StrongswanLab.build(dir, { detached: o.keep ?? false });
    const lab = world.lab;
    check();
    emit('lab', `FIG. 1 in network namespaces: host A ${ADDR.hostA[k]} -- gateway A ${ADDR.gwAWan[k]} == gateway B ${ADDR.gwBWan[k]} -- host B ${ADDR.hostB[k]}`, {
      namespaces: lab.nodes.map((n) => lab.ns[n]),
      family,
    });
    for (const [name, c] of [['A', world.charonA], ['B', world.charonB]] as const)
      emit('charon', `gateway ${name}: charon (strongSwan, kernel-libipsec: ESP in user space over a TUN device), VICI ${c.vici}`, { gateway: name, vici: c.vici });

    capture = new LinkCapture(lab, 'gwA', 'wan0', join(dir, 'link.pcap'));
    await capture.start();
    d = await world.daemons(family, { detached: o.keep ?? false });
    const { a, b } = d;
    const loaded = await b.waitFor('the responder connection', (l) => l.event === 'responder-connection');
    emit('ted', `gateway B: ted responder; its ACL is also charon's connection ${String(loaded.connection)} (one CHILD_SA config per permit entry, any peer)`, { gateway: 'B', connection: loaded.connection });
    emit('ted', `gateway A: ted initiator; packets from ${ADDR.netW[k]} to ${ADDR.netY[k]} reach it (tcpdump on lan0, blackholed until a tunnel carries them)`, { gateway: 'A' });

    // The connection.
    const hostB = parseAnyAddress(ADDR.hostB[k])!.value;
    const hostA = parseAnyAddress(ADDR.hostA[k])!.value;
    const sink = new Agent(lab, 'hostB', ['tcp-listen', ADDR.hostB[k], String(LAB_PORTS.inside)]);
    const outside = new Agent(lab, 'hostB', ['tcp-listen', ADDR.hostB[k], String(LAB_PORTS.outside)]);
    await wait('host B to listen', () => sink.find((l) => l.listening === true) && outside.find((l) => l.listening === true));
    const message = 'hello through the tunnel';
    emit('connect', `host A connects to host B port ${LAB_PORTS.inside} (TCP) and sends "${message}"`);
    const client = new Agent(lab, 'hostA', ['tcp-connect', ADDR.hostB[k], String(LAB_PORTS.inside), '15000', message]);

    const drop = await a.waitFor('the first drop', (l) => l.event === 'drop' && l.reason === 'no-tunnel');
    emit('drop', `gateway A: DROP tcp ${String(drop.src)}:${String(drop.sport)} > ${String(drop.dst)}:${String(drop.dport)}: entry ${String(drop.entry)} protects it and no tunnel exists`, { entry: drop.entry, src: drop.src, dst: drop.dst, dport: drop.dport });
    const probe = await a.waitFor('the probe', (l) => l.event === 'probe-sent');
    emit('probe', `gateway A: TED probe ${String(probe.icookie)} (exchange 240) from ${String(probe.src)} to ${String(probe.dst)} on UDP 500`, { icookie: probe.icookie, src: probe.src, dst: probe.dst });
    const answered = await b.waitFor('the response', (l) => l.event === 'response-sent');
    emit('response', `gateway B: intercepted it, answered (exchange 241) from ${ADDR.gwBWan[k]} with entry ${String(answered.entry)}: ${String(answered.proxy)}`, { entry: answered.entry, proxy: answered.proxy });
    const inter = await a.waitFor('the intersection', (l) => l.event === 'intersection');
    emit('intersection', `gateway A: intersection of its entry and the mirrored response: ${String(inter.result)}`, { proxy: inter.result });
    await a.waitFor('the packet to lie inside', (l) => l.event === 'verify' && l.inside === true);
    const negotiated = await a.waitFor('the tunnel', (l) => l.event === 'tunnel' && l.state === 'negotiated');
    emit('negotiated', `gateway A: the dropped packet lies inside: tunnel ${String(negotiated.id)} NEGOTIATED with peer ${String(negotiated.peer)}; handed to charon`, { tunnel: negotiated.id, peer: negotiated.peer });
    const initiating = await a.waitFor('the initiation', (l) => l.event === 'ike-initiating');
    emit('ike', `gateway A: charon initiates connection ${String(initiating.connection)} to ${String(initiating.peer)}, selectors ${JSON.stringify(initiating.selectors)}`, { connection: initiating.connection });
    for (const exchange of ['IKE_SA_INIT', 'IKE_AUTH']) {
      const sent = await a.waitFor(`${exchange}`, (l) => l.event === 'ike-log' && new RegExp(`generating ${exchange} request`).test(l.msg));
      const got = await a.waitFor(`${exchange} response`, (l) => l.event === 'ike-log' && new RegExp(`parsed ${exchange} response`).test(l.msg));
      emit('ike', `${exchange}: ${sent.msg.replace(/^generating /, '')} -> ${got.msg.replace(/^parsed /, '')}`, { exchange });
    }
    const up = await a.waitFor('the CHILD_SA', (l) => l.event === 'ike-established' || l.event === 'ike-failed', 15_000);
    if (up.event === 'ike-failed') throw new TedError('LAB_IKE_FAILED', `IKE failed: ${up.msg}`);
    const childs = up.childSas as { name: string; localTs: string[]; remoteTs: string[]; spiIn?: string; spiOut?: string }[];
    for (const c of childs)
      emit('child-sa', `CHILD_SA ${c.name} INSTALLED (SPIs ${c.spiIn}/${c.spiOut}): ${c.localTs.join(' ')} === ${c.remoteTs.join(' ')} (${String(up.ms)} ms after initiate)`, { name: c.name, localTs: c.localTs, remoteTs: c.remoteTs, ms: up.ms });
    const established = await a.waitFor('ESTABLISHED', (l) => l.event === 'tunnel' && l.state === 'established');
    emit('established', `gateway A: tunnel ${String(established.id)} ESTABLISHED`, { tunnel: established.id });

    // Carried.
    const data = await wait('host B to receive the bytes', () => sink.find((l) => typeof l.data === 'string'), 15_000);
    const echo = await wait('the echo at host A', () => client.find((l) => typeof l.echo === 'string' || l.result === 'timeout' || l.result === 'error'), 15_000);
    if (typeof echo.echo !== 'string') throw new TedError('LAB_NOT_CARRIED', `the connection did not complete: ${JSON.stringify(echo)}`);
    const accepted = sink.find((l) => typeof l.accepted === 'string')!;
    const sasA = await childSas(world.charonA.vici);
    const mine = sasA.filter((c) => childs.some((x) => x.name === c.name));
    emit('carried', `host B accepted ${String(accepted.accepted)} and got "${String(data.data)}"; host A got the echo; charon A's CHILD_SA counted ${mine.reduce((n, c) => n + c.packetsOut, 0)} packets out, ${mine.reduce((n, c) => n + c.packetsIn, 0)} in`, {
      from: accepted.accepted,
      bytes: data.bytes,
      packetsOut: mine.reduce((n, c) => n + c.packetsOut, 0),
      packetsIn: mine.reduce((n, c) => n + c.packetsIn, 0),
    });

    // Not carried: a port outside the proxy.
    emit('outside', `host A connects to host B port ${LAB_PORTS.outside}: gateway A's ACL protects it, the tunnel's proxy does not`);
    const refused = new Agent(lab, 'hostA', ['tcp-connect', ADDR.hostB[k], String(LAB_PORTS.outside), '2500', 'not for the tunnel']);
    const dropOutside = await a.waitFor('the drop outside the proxy', (l) => l.event === 'drop' && l.dport === LAB_PORTS.outside);
    const gaveUp = await a.waitFor('the probe to go unanswered', (l) => l.event === 'probe-gave-up', 10_000);
    const outcome = await wait('the connection attempt to end', () => refused.find((l) => l.result !== undefined), 10_000);
    if (outcome.result === 'connected' || outside.find((l) => l.accepted !== undefined)) throw new TedError('LAB_LEAK', `a connection outside the proxy reached host B: ${JSON.stringify(outcome)}`);
    emit('not-carried', `not carried: gateway A dropped it (${String(dropOutside.reason)}), gateway B did not answer the probe (not in its ACL: probe gave up after ${String(gaveUp.tries)} tries), no SA covers it; the attempt ended in ${String(outcome.result)}`, { result: outcome.result });

    // Teardown.
    await a.control({ cmd: 'teardown', tunnel: established.id });
    await a.waitFor('the teardown', (l) => l.event === 'ike-teardown');
    await wait('charon A and B to delete the CHILD_SA', async () => {
      const [ca, cb] = await Promise.all([childSas(world!.charonA.vici), childSas(world!.charonB.vici)]);
      return ca.length === 0 && cb.length === 0;
    });
    emit('teardown', `tunnel ${String(established.id)} torn down: charon terminated the CHILD_SA on both gateways and unloaded ${String(initiating.connection)}; packets to host B DROP again`);

    await capture.stop();
    const link = await summarizeLink(capture.file, [
      { name: 'inside', family, a: hostA, b: hostB, protocol: 6, port: LAB_PORTS.inside },
      { name: 'outside', family, a: hostA, b: hostB, protocol: 6, port: LAB_PORTS.outside },
    ]);
    if (o.pcap) copyFileSync(capture.file, o.pcap);
    emit('link', `on the link between the gateways: ${link.tedProbes} TED probes (240), ${link.tedResponses} responses (241), IKE ${Object.entries(link.ike).map(([x, n]) => `${x} ${n}`).join(', ')}, ${link.esp} ESP; cleartext of the connection: ${link.cleartext.inside} packets, of the one outside the proxy: ${link.cleartext.outside}${o.pcap ? ` (written to ${o.pcap})` : ''}`, { ...link });
    if (link.cleartext.inside! > 0 || link.cleartext.outside! > 0) throw new TedError('LAB_LEAK', 'the hosts\' packets crossed the link in clear');
    if (link.esp === 0 || link.tedProbes === 0 || !link.ike.IKE_AUTH) throw new TedError('LAB_NOT_CARRIED', `the link shows no ${link.esp === 0 ? 'ESP' : link.tedProbes === 0 ? 'probe' : 'IKE_AUTH'}`);

    const t0 = logTime(drop);
    const result: LabResult = {
      ok: true,
      setupMs: Math.round(Number(data.t) - t0),
      readyMs: Math.round(logTime(established) - t0),
      ikeMs: Math.round(Number(up.ms)),
      link,
    };
    if (o.keep) {
      kept = { namespaces: world.lab.keep(), dir };
      return { ...result, kept };
    }
    return result;
  } finally {
    if (!kept) {
      await capture?.stop().catch(() => undefined);
      if (d) await Promise.all([d.a.stop(3000).catch(() => undefined), d.b.stop(3000).catch(() => undefined)]);
      await world?.destroy();
      rmSync(dir, { recursive: true, force: true });
    }
  }
}

/** The last lines of the daemons' logs, for a failure report. */
export function tails(daemons: readonly LabTed[]): string {
  return daemons.map((t) => t.dump()).join('\n');
}
