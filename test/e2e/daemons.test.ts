// End to end on real networks: `ted responder` in gateway B and `ted initiator` in gateway A as
// real processes in network namespaces, traffic from host A to host B, tshark on the link between
// the gateways. Needs root, ip and tshark, and a built dist/ (npm test builds first); otherwise it
// skips and says why. Everything it creates is removed in afterAll, also when an assertion fails.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { responseToBytes } from '../../src/ike/ted.js';
import { parseEntry } from '../../src/policy/cisco.js';
import { parseAnyAddress } from '../../src/selector/address.js';
import { ADDR, Capture, Lab, labUnavailable } from './netns.js';
import { CLI, Listener, TedProcess, sleep, tool, until, type StatusJson } from './procs.js';

const run = promisify(execFile);

const skipReason = (await labUnavailable()) ?? (existsSync(CLI) ? undefined : 'dist/ is not built (run `npm run build` or `npm run test:e2e`)');
if (skipReason) console.warn(`skip e2e (daemons across network namespaces): ${skipReason}`);

// Gateway A protects W = 192.0.2.0/24 towards Y; gateway B protects Y towards half of W only, for
// UDP and TCP in separate entries, so each intersection is narrower than either side's entry.
const POLICY_A4 = 'access-list 101 permit ip 192.0.2.0 0.0.0.255 203.0.113.0 0.0.0.255\n';
const POLICY_B4 = 'access-list 102 permit udp 203.0.113.0 0.0.0.255 192.0.2.0 0.0.0.127\naccess-list 102 permit tcp 203.0.113.0 0.0.0.255 192.0.2.0 0.0.0.127\n';
const POLICY_A6 = 'ipv6 access-list VPN6\n permit ipv6 2001:db8:a::/64 2001:db8:b::/64\n';
const POLICY_B6 = 'ipv6 access-list VPN6B\n permit udp 2001:db8:b::/64 2001:db8:a::/80\n permit tcp 2001:db8:b::/64 2001:db8:a::/80\n';

describe.skipIf(skipReason !== undefined)('daemons across network namespaces', () => {
  let lab: Lab;
  let dir: string;
  const procs: TedProcess[] = [];
  const captures: Capture[] = [];
  const listeners: Listener[] = [];

  const daemon = (node: 'gwA' | 'gwB', name: string, role: 'initiator' | 'responder', config: Record<string, unknown>) => {
    const p = new TedProcess(lab, node, name, role, config, dir);
    procs.push(p);
    return p;
  };

  const initiator4 = (name: string, timers: Record<string, number> = {}) =>
    daemon('gwA', name, 'initiator', {
      role: 'initiator',
      ike: { address: ADDR.gwAWan.v4 },
      policy: { file: join(dir, 'a4.acl'), acl: '101' },
      timers: { retransmitMs: 400, retries: 3, holdDownMs: 5000, ...timers },
      source: { kind: 'raw', prefixes: [ADDR.netY.v4], interface: 'lan0', protocols: ['udp', 'tcp'], forward: true },
    });
  const responder4 = (name: string) =>
    daemon('gwB', name, 'responder', { role: 'responder', ike: { address: ADDR.gwBWan.v4 }, policy: { file: join(dir, 'b4.acl'), acl: '102' } });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ted-e2e-'));
    writeFileSync(join(dir, 'a4.acl'), POLICY_A4);
    writeFileSync(join(dir, 'b4.acl'), POLICY_B4);
    writeFileSync(join(dir, 'a6.acl'), POLICY_A6);
    writeFileSync(join(dir, 'b6.acl'), POLICY_B6);
    const reaped = await Lab.reapStale();
    if (reaped.length > 0) console.warn(`e2e: removed namespaces left by an earlier, killed run: ${reaped.join(' ')}`);
    lab = new Lab({ forger: true });
    await lab.create();
    // The set-up comes from the daemons' own --print-setup, run as the documentation says.
    const setups: [string, 'gwA' | 'gwB', string, Record<string, unknown>][] = [
      ['a4', 'gwA', 'initiator', { ike: { address: ADDR.gwAWan.v4 }, policy: { file: 'a4.acl' }, source: { kind: 'raw', prefixes: [ADDR.netY.v4], interface: 'lan0' } }],
      ['a6', 'gwA', 'initiator', { ike: { address: ADDR.gwAWan.v6 }, policy: { file: 'a6.acl' }, source: { kind: 'capture', prefixes: [ADDR.netY.v6], interface: 'lan0' } }],
      ['b4', 'gwB', 'responder', { ike: { address: ADDR.gwBWan.v4 }, policy: { file: 'b4.acl' } }],
      ['b6', 'gwB', 'responder', { ike: { address: ADDR.gwBWan.v6 }, policy: { file: 'b6.acl' } }],
    ];
    for (const [name, node, role, cfg] of setups) {
      const file = join(dir, `setup-${name}.json`);
      writeFileSync(file, JSON.stringify(cfg));
      const { stdout } = await run(process.execPath, [CLI, role, '--print-setup', '--config', file]);
      await lab.applySetup(node, stdout);
    }
  }, 60_000);

  afterEach(async (ctx) => {
    for (const l of listeners.splice(0)) l.stop();
    for (const c of captures.splice(0)) await c.stop();
    const failed = ctx.task.result?.state === 'fail';
    for (const p of procs.splice(0)) {
      if (failed) console.error(p.dump());
      await p.stop();
    }
  });

  afterAll(async () => {
    if (lab) {
      await lab.destroy();
      expect(await lab.leftovers()).toEqual([]);
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const tunnelWith = (s: StatusJson, protocol: number) => s.tunnels.find((t) => t.proxy.protocol === protocol);

  it('IPv4: probe from host A to host B on the link, answer from gateway B, tunnels for UDP and TCP, later packets FORWARDed', async () => {
    const cap = new Capture(lab, 'sw', 'pa', join(dir, 'v4.pcapng'), 'udp port 500 or tcp port 8000 or udp port 7000');
    captures.push(cap);
    await cap.start();
    const b = responder4('b4');
    await b.start();
    const a = initiator4('a4');
    await a.start();
    const udpSink = new Listener(lab, 'hostB', ['udp-listen', ADDR.hostB.v4, '7000']);
    listeners.push(udpSink);
    await udpSink.start();

    // First UDP packet: dropped, probe sent.
    await tool(lab, 'hostA', ['udp-send', ADDR.hostB.v4, '7000', 'first', '40000']);
    const s1 = await until('a UDP tunnel on gateway A', async () => {
      const s = await a.status();
      return tunnelWith(s, 17) ? s : undefined;
    });
    // Discovery time as the daemon logged it: first DROP to tunnel established (informational).
    const t0 = Date.parse(String(a.events('drop')[0]!.time));
    const t1 = Date.parse(String(a.events('tunnel').find((e) => e.state === 'established')!.time));
    console.log(`e2e IPv4: discovery took ${t1 - t0} ms (DROP -> probe -> response -> tunnel established)`);
    // The same through the real `ted status --json` command inside gateway A.
    expect(tunnelWith(await a.statusCli(), 17)).toMatchObject({ peer: ADDR.gwBWan.v4 });
    const udpTunnel = tunnelWith(s1, 17)!;
    expect(udpTunnel.peer).toBe(ADDR.gwBWan.v4);
    expect(udpTunnel.state).toBe('established');
    expect(udpTunnel.proxy).toMatchObject({ protocol: 17, sport: [0, 65535], dport: [0, 65535], entry: 'permit udp 192.0.2.0 0.0.0.127 203.0.113.0 0.0.0.255' });
    expect(s1.counters.dropped).toBeGreaterThanOrEqual(1);
    expect(s1.daemon.probeSource).toBe('host');

    // A later packet of the same flow: FORWARD, re-sent by gateway A, received by host B.
    await tool(lab, 'hostA', ['udp-send', ADDR.hostB.v4, '7000', 'second', '40000']);
    await until('host B to receive the forwarded packet', async () => udpSink.lines.some((l) => l.text === 'second'));
    expect(udpSink.lines.filter((l) => l.text === 'first')).toEqual([]); // the first one was dropped
    expect(udpSink.lines.find((l) => l.text === 'second')).toMatchObject({ from: ADDR.hostA.v4, sport: 40000 });

    // TCP: the SYN is dropped and probed for (its own entry at B: a second tunnel), the next SYN is FORWARDed.
    await tool(lab, 'hostA', ['tcp-connect', ADDR.hostB.v4, '8000', '1500']);
    const s2 = await until('a TCP tunnel on gateway A', async () => {
      const s = await a.status();
      return tunnelWith(s, 6) ? s : undefined;
    });
    expect(tunnelWith(s2, 6)!.proxy).toMatchObject({ entry: 'permit tcp 192.0.2.0 0.0.0.127 203.0.113.0 0.0.0.255' });
    const fwdBefore = s2.packets.forward!;
    await tool(lab, 'hostA', ['tcp-connect', ADDR.hostB.v4, '8000', '1500']);
    const s3 = await until('the second SYN to be FORWARDed', async () => {
      const s = await a.status();
      return s.packets.forward! > fwdBefore ? s : undefined;
    });
    expect(tunnelWith(s3, 6)!.packets).toBeGreaterThanOrEqual(1);
    expect(s3.packets.reinjected).toBeGreaterThanOrEqual(2);
    expect(s3.counters.cipsNumTEDProbesSent).toBeGreaterThanOrEqual(2);

    // `ted status` in text form shows the peer and the proxy too.
    const text = await a.cli(['status', '--socket', a.socket]);
    expect(text).toMatch(/peer 198\.51\.100\.2 .*\n {6}permit udp 192\.0\.2\.0 0\.0\.0\.127 203\.0\.113\.0 0\.0\.0\.255\n/);

    // What crossed the link between the gateways.
    await cap.stop();
    const rows = await cap.read(['ip.src', 'ip.dst', 'udp.srcport', 'udp.dstport', 'isakmp.exchangetype', 'isakmp.ispi', 'tcp.dstport', 'tcp.flags.syn', 'tcp.flags.ack']);
    const probes = rows.filter((r) => r['isakmp.exchangetype'] === '240');
    const responses = rows.filter((r) => r['isakmp.exchangetype'] === '241');
    const udpProbe = probes.find((p) => p['udp.srcport'] === '40000');
    expect(udpProbe, 'a probe from host A:40000').toMatchObject({ 'ip.src': ADDR.hostA.v4, 'ip.dst': ADDR.hostB.v4, 'udp.dstport': '500' });
    const answer = responses.find((r) => r['isakmp.ispi'] === udpProbe!['isakmp.ispi']);
    expect(answer, 'the response to that probe').toMatchObject({ 'ip.src': ADDR.gwBWan.v4, 'ip.dst': ADDR.gwAWan.v4, 'udp.srcport': '500', 'udp.dstport': '500' });
    // The first datagram never crossed the link, the second one did; a TCP SYN crossed after the tunnel.
    expect(rows.filter((r) => r['udp.dstport'] === '7000').length).toBe(1);
    expect(rows.some((r) => r['tcp.dstport'] === '8000' && (r['tcp.flags.syn'] === 'True' || r['tcp.flags.syn'] === '1'))).toBe(true);

    // Graceful stop on SIGTERM.
    expect(await a.stop()).toBe(0);
    expect(a.events('stopped').length).toBe(1);
    expect(await b.stop()).toBe(0);
    const bProbe = b.events('probe-received')[0];
    expect(bProbe).toBeDefined();
    expect(b.events('response-sent')[0]).toMatchObject({ to: ADDR.gwAWan.v4 });
  });

  it('IPv6: capture source, probe with host A/B addresses, tunnel, and a full TCP connection after discovery', async () => {
    const cap = new Capture(lab, 'sw', 'pa', join(dir, 'v6.pcapng'), 'udp port 500');
    captures.push(cap);
    await cap.start();
    const b = daemon('gwB', 'b6', 'responder', { role: 'responder', ike: { address: ADDR.gwBWan.v6 }, policy: { file: join(dir, 'b6.acl') } });
    await b.start();
    const a = daemon('gwA', 'a6', 'initiator', {
      role: 'initiator',
      ike: { address: ADDR.gwAWan.v6 },
      policy: { file: join(dir, 'a6.acl') },
      timers: { retransmitMs: 400, retries: 3 },
      source: { kind: 'capture', prefixes: [ADDR.netY.v6], interface: 'lan0', forward: true },
    });
    await a.start();
    const sink = new Listener(lab, 'hostB', ['tcp-listen', ADDR.hostB.v6, '8000']);
    listeners.push(sink);
    await sink.start();
    // The first SYN is blackholed at A while ted probes; TCP retransmits it after 1 s and that one is
    // FORWARDed: the connection completes without the application noticing.
    const result = await tool(lab, 'hostA', ['tcp-connect', ADDR.hostB.v6, '8000', '6000']);
    expect(result[0]).toMatchObject({ result: 'connected' });
    await until('host B to accept', async () => sink.lines.some((l) => l.accepted === ADDR.hostA.v6));
    const s = await a.status();
    const t = tunnelWith(s, 6)!;
    expect(t).toMatchObject({ peer: ADDR.gwBWan.v6, state: 'established', proxy: { protocol: 6, source: { prefix: '2001:db8:a::/80' }, destination: { prefix: '2001:db8:b::/64' } } });
    expect(s.packets.forward).toBeGreaterThanOrEqual(2);
    await cap.stop();
    const rows = await cap.read(['ipv6.src', 'ipv6.dst', 'udp.srcport', 'udp.dstport', 'isakmp.exchangetype']);
    expect(rows.find((r) => r['isakmp.exchangetype'] === '240')).toMatchObject({ 'ipv6.src': ADDR.hostA.v6, 'ipv6.dst': ADDR.hostB.v6, 'udp.dstport': '500' });
    expect(rows.find((r) => r['isakmp.exchangetype'] === '241')).toMatchObject({ 'ipv6.src': ADDR.gwBWan.v6, 'ipv6.dst': ADDR.gwAWan.v6, 'udp.srcport': '500' });
  });

  it('responder down: retransmissions with exponential backoff, give-up, hold-down visible in ted status', async () => {
    const cap = new Capture(lab, 'sw', 'pa', join(dir, 'down.pcapng'), 'udp port 500');
    captures.push(cap);
    await cap.start();
    const a = initiator4('a-down', { retransmitMs: 300, retries: 3, holdDownMs: 20_000 });
    await a.start();
    await tool(lab, 'hostA', ['udp-send', ADDR.hostB.v4, '7000', 'lost', '40001']);
    const during = await until('a pending probe', async () => {
      const s = await a.status();
      return s.pending.length > 0 ? s : undefined;
    });
    expect(during.pending[0]).toMatchObject({ destination: ADDR.hostB.v4 });
    const after = await until('the hold-down', async () => {
      const s = await a.status();
      return s.holdDowns.length > 0 ? s : undefined;
    });
    expect(after.holdDowns[0]).toMatchObject({ destination: ADDR.hostB.v4 });
    expect(after.holdDowns[0]!.remainingMs).toBeGreaterThan(10_000);
    expect(after.pending).toEqual([]);
    expect(after.tunnels).toEqual([]);
    expect(after.counters).toMatchObject({ probesGivenUp: 1, probeRetransmits: 2, cipsNumTEDProbesSent: 3, cipsNumTEDFailures: 1 });
    // While held down, packets are dropped without a new probe.
    await tool(lab, 'hostA', ['udp-send', ADDR.hostB.v4, '7000', 'held', '40002']);
    const held = await until('a held-down drop', async () => {
      const s = await a.status();
      return s.counters.dropsHeldDown! >= 1 ? s : undefined;
    });
    expect(held.counters.cipsNumTEDProbesSent).toBe(3);
    // The text status shows the hold-down.
    expect(await a.cli(['status', '--socket', a.socket])).toMatch(/hold-downs \(1\):\n {2}203\.0\.113\.20 /);
    // On the wire: three probes with one cookie, spaced by a growing interval (300 ms, then 600 ms).
    await cap.stop();
    const rows = await cap.read(['frame.time_epoch', 'isakmp.exchangetype', 'isakmp.ispi', 'ip.src']);
    const probes = rows.filter((r) => r['isakmp.exchangetype'] === '240');
    expect(probes.length).toBe(3);
    expect(new Set(probes.map((p) => p['isakmp.ispi'])).size).toBe(1);
    const t = probes.map((p) => Number(p['frame.time_epoch']));
    // Timers never fire early, so lower bounds hold however loaded the machine is: 300 ms, then
    // at least twice that.
    const gap1 = t[1]! - t[0]!;
    const gap2 = t[2]! - t[1]!;
    expect(gap1).toBeGreaterThanOrEqual(0.29);
    expect(gap2).toBeGreaterThanOrEqual(0.59);
  });

  it('responder restarted in the middle: the retransmitted probe is answered', async () => {
    const b = responder4('b-restart');
    await b.start();
    expect(await b.stop()).toBe(0); // down when the first probe goes out
    const a = initiator4('a-restart', { retransmitMs: 800, retries: 4 });
    await a.start();
    await tool(lab, 'hostA', ['udp-send', ADDR.hostB.v4, '7000', 'x', '40003']);
    await until('the first probe', async () => (await a.status()).counters.cipsNumTEDProbesSent! >= 1);
    await b.start();
    const s = await until('the tunnel', async () => {
      const st = await a.status();
      return st.tunnels.length > 0 ? st : undefined;
    }, 10_000);
    expect(s.tunnels[0]).toMatchObject({ peer: ADDR.gwBWan.v4, state: 'established' });
    expect(s.counters.probeRetransmits).toBeGreaterThanOrEqual(1);
    expect(s.counters.probesGivenUp).toBe(0);
  });

  it('loss on the link: lost probes and a lost response are recovered by retransmission', async () => {
    // tc netem where the kernel has it; otherwise the same losses made deterministic with policy
    // routing (a blackhole rule for the probe at gateway B's ingress and for its response).
    const netem = (await lab.exec('gwA', ['tc', 'qdisc', 'add', 'dev', 'wan0', 'root', 'netem', 'loss', '40%'], { allowFail: true })).code === 0;
    const b = responder4('b-loss');
    await b.start();
    const a = initiator4('a-loss', { retransmitMs: 500, retries: netem ? 8 : 5 });
    await a.start();
    try {
      if (netem) {
        await tool(lab, 'hostA', ['udp-send', ADDR.hostB.v4, '7000', 'x', '40004']);
      } else {
        console.warn('loss test: tc netem is not available in this kernel; using deterministic blackhole rules instead');
        await lab.ip('gwB', 'rule', 'add', 'iif', 'wan0', 'to', ADDR.netY.v4, 'ipproto', 'udp', 'dport', '500', 'blackhole', 'pref', '100');
        await lab.ip('gwB', 'rule', 'add', 'to', ADDR.gwAWan.v4, 'ipproto', 'udp', 'sport', '500', 'blackhole', 'pref', '101');
        await tool(lab, 'hostA', ['udp-send', ADDR.hostB.v4, '7000', 'x', '40004']);
        await until('the first probe', async () => (await a.status()).counters.cipsNumTEDProbesSent! >= 1);
        await sleep(100);
        expect((await b.status()).counters.cipsNumTEDProbesReceived).toBe(0); // lost on the way
        await lab.ip('gwB', 'rule', 'del', 'pref', '100');
        await until('a probe to reach B', async () => (await b.status()).counters.responsesSent! >= 1);
        expect((await a.status()).counters.responsesReceived).toBe(0); // the answer was lost too
        await lab.ip('gwB', 'rule', 'del', 'pref', '101');
      }
      const s = await until('the tunnel despite loss', async () => {
        const st = await a.status();
        return st.tunnels.length > 0 ? st : undefined;
      }, 15_000);
      expect(s.tunnels[0]!.peer).toBe(ADDR.gwBWan.v4);
      if (!netem) expect(s.counters.probeRetransmits).toBeGreaterThanOrEqual(2);
    } finally {
      if (netem) await lab.exec('gwA', ['tc', 'qdisc', 'del', 'dev', 'wan0', 'root'], { allowFail: true });
      else {
        await lab.exec('gwB', ['ip', 'rule', 'del', 'pref', '100'], { allowFail: true });
        await lab.exec('gwB', ['ip', 'rule', 'del', 'pref', '101'], { allowFail: true });
      }
    }
  });

  it('forged responses from a third namespace are ignored and counted; the genuine discovery still completes', async () => {
    const a = initiator4('a-forge', { retransmitMs: 1500, retries: 4 });
    await a.start();
    await tool(lab, 'hostA', ['udp-send', ADDR.hostB.v4, '7000', 'x', '40005']);
    const pending = await until('a pending probe', async () => {
      const s = await a.status();
      return s.pending[0];
    });
    const icookie = BigInt(`0x${pending.icookie}`);
    const v4 = (t: string) => parseAnyAddress(t)!.value;
    // The forger even knows the pending cookie (as an on-path observer would) and offers a proxy
    // wide enough to contain P.
    const proxy = parseEntry('permit ip 203.0.113.0 0.0.0.255 192.0.2.0 0.0.0.255', { family: 4 }).selector;
    const forged = (cookie: bigint, id: string) => Buffer.from(responseToBytes({ icookie: cookie, rcookie: 0x1122334455667788n, capabilities: 0, id: { family: 4, address: v4(id) }, proxy }));
    const withCookie = forged(icookie, ADDR.gwBWan.v4);
    const badMsgId = Buffer.from(withCookie);
    badMsgId.writeUInt32BE(7, 20);
    const wrongExchange = Buffer.from(withCookie);
    wrongExchange[18] = 5; // informational
    const send = (src: string, bytes: Buffer) => tool(lab, 'forger', ['forge', '4', src, ADDR.gwAWan.v4, '500', '500', bytes.toString('hex')]);
    await send(ADDR.forger.v4, withCookie); // right cookie, wrong source address
    await send(ADDR.gwBWan.v4, forged(0x0badc0ffee000001n, ADDR.gwBWan.v4)); // spoofed source, unknown cookie
    await send(ADDR.gwBWan.v4, withCookie.subarray(0, 40)); // truncated
    await send(ADDR.gwBWan.v4, badMsgId);
    await send(ADDR.gwBWan.v4, wrongExchange);
    const s = await until('five forged responses counted', async () => {
      const st = await a.status();
      return st.counters.responsesReceived! >= 5 ? st : undefined;
    });
    expect(s.tunnels).toEqual([]);
    expect(s.counters).toMatchObject({ responseSourceMismatch: 1, responseUnknownCookie: 1, responseBadMessageId: 1, responseWrongExchange: 1, responsesAccepted: 0 });
    expect(s.counters.responseTruncated! + s.counters.responseMalformed!).toBe(1);
    expect(s.pending.length).toBe(1); // the genuine probe is still waiting
    // A flood of forged responses with random cookies: all dropped, nothing grows.
    const flood = await tool(lab, 'forger', ['forge-flood', '4', ADDR.gwBWan.v4, ADDR.gwAWan.v4, '500', '500', withCookie.toString('hex'), '500']);
    expect(flood.at(-1)).toMatchObject({ forged: 500, errors: 0 });
    // UDP may lose some of them (socket buffers) on a loaded machine: wait until the counters
    // stop moving, then every datagram the daemon received must be a counted, dropped response.
    let last = -1;
    const afterFlood = await until('the flood counted', async () => {
      const st = await a.status();
      const n = st.counters.responsesReceived!;
      const settled = n === last && n > 5;
      last = n;
      return settled ? st : undefined;
    }, 15_000, 400);
    const c = afterFlood.counters;
    expect(c.responseUnknownCookie).toBeGreaterThanOrEqual(1 + 100);
    expect(c.responseSourceMismatch! + c.responseUnknownCookie! + c.responseTruncated! + c.responseMalformed! + c.responseBadMessageId! + c.responseWrongExchange!).toBe(c.responsesReceived);
    console.log(`e2e forged flood: ${c.responseUnknownCookie! - 1} of 500 reached the daemon and were dropped as unknown-cookie`);
    expect(afterFlood.tunnels).toEqual([]);
    expect(afterFlood.pending.length).toBe(1);
    expect(afterFlood.counters.responsesAccepted).toBe(0);
    // Now the real responder comes up: the retransmitted probe gets a genuine answer.
    const b = responder4('b-forge');
    await b.start();
    const done = await until('the genuine tunnel', async () => {
      const st = await a.status();
      return st.tunnels.length > 0 ? st : undefined;
    }, 10_000);
    expect(done.tunnels[0]).toMatchObject({ peer: ADDR.gwBWan.v4, proxy: { protocol: 17, source: { value: '192.0.2.0', wildcard: '0.0.0.127' } } });
  });
});
