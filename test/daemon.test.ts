// The daemons in-process on loopback, without root: UDP on unprivileged ports, probes from the
// gateway's own address (probe.source: gateway), packets pushed through the library API or
// replayed from a capture file, status through the control socket and `ted status`.
import { spawnSync } from 'node:child_process';
import { lstatSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { main } from '../src/cli/main.js';
import { validateConfig, type DaemonConfig } from '../src/daemon/config.js';
import { queryControl, startControlServer } from '../src/daemon/control.js';
import { Daemon } from '../src/daemon/daemon.js';
import { EventLog } from '../src/daemon/event-log.js';
import { createLogger, flushLogger } from '../src/daemon/log.js';
import { initiatorSetup, protectedPrefixes, responderSetup } from '../src/daemon/setup.js';
import { FramePump } from '../src/daemon/sources.js';
import { TedError } from '../src/errors.js';
import { LinkType } from '../src/packet/decode.js';
import { encodeEthernet, encodeIPv4, encodeL4, encodeUdpPacket } from '../src/packet/encode.js';
import { writePcap } from '../src/pcap/writer.js';
import { parseCisco } from '../src/policy/ios-select.js';
import { parseAnyAddress } from '../src/selector/address.js';
import { pino } from 'pino';

const dir = mkdtempSync(join(tmpdir(), 'ted-daemon-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
writeFileSync(join(dir, 'a.acl'), 'access-list 101 permit ip 127.0.2.0 0.0.0.255 127.0.3.0 0.0.0.255\n');
writeFileSync(join(dir, 'b.acl'), 'access-list 102 permit udp 127.0.3.0 0.0.0.255 127.0.2.0 0.0.0.127\n');

const v4 = (t: string) => parseAnyAddress(t)!.value;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until<T>(what: string, fn: () => T | undefined | false | Promise<T | undefined | false>, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await sleep(20);
  }
}

/** A logger that keeps its JSON lines for assertions. */
function memoryLogger() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(l));
      cb();
    },
  });
  return { logger: pino({ level: 'debug' }, stream), lines };
}

let portBase = 20000 + Math.floor(Math.random() * 30000);
const running: Daemon[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((d) => d.stop('test end')));
});

function pair(extraA: Record<string, unknown> = {}) {
  const pa = portBase++;
  const pb = portBase++;
  const a = validateConfig(
    {
      role: 'initiator',
      ike: { address: '127.0.0.2', port: pa, peerPort: pb },
      policy: { file: 'a.acl' },
      probe: { source: 'gateway' },
      // Former names on purpose: still read, with a warning (see the first test).
      timers: { retransmitMs: 200, retries: 2, holdDownMs: 5000 },
      control: { socket: join(dir, `a-${pa}.sock`) },
      ...extraA,
    },
    { baseDir: dir },
  );
  const b = validateConfig(
    { role: 'responder', ike: { address: '127.0.0.3', port: pb, peerPort: pa }, policy: { file: 'b.acl' }, control: { socket: join(dir, `b-${pb}.sock`) } },
    { baseDir: dir },
  );
  return { a, b };
}

async function start(c: DaemonConfig) {
  const log = memoryLogger();
  const d = await Daemon.start(c, { logger: log.logger });
  running.push(d);
  return { d, lines: log.lines };
}

const packet = (sport: number, text = 'p') =>
  encodeUdpPacket({ family: 4, src: v4('127.0.2.10'), dst: v4('127.0.3.20'), sport, dport: 7000, payload: new TextEncoder().encode(text) });

describe('daemons on loopback without root (library API source)', () => {
  it('discovers a tunnel: DROP, probe, response from the responder, tunnel, then FORWARD', async () => {
    const { a, b } = pair();
    const B = await start(b);
    const A = await start(a);
    expect(A.d.status().daemon.probeSource).toBe('gateway');
    A.d.pushFrame(LinkType.IPV4, packet(40000));
    const s = await until('tunnel', () => {
      const st = A.d.status();
      return st.tunnels.length > 0 && st;
    });
    expect(s.tunnels[0]).toMatchObject({ peer: '127.0.0.3', state: 'established', proxy: { protocol: 17, source: { value: '127.0.2.0', wildcard: '0.0.0.127' }, entry: 'permit udp 127.0.2.0 0.0.0.127 127.0.3.0 0.0.0.255' } });
    expect(s.packets).toMatchObject({ frames: 1, drop: 1, forward: 0 });
    A.d.pushFrame(LinkType.IPV4, packet(40000));
    await until('forward', () => A.d.pump.counters.forward === 1);
    expect(B.d.status().counters.responsesSent).toBe(1);
    // The story is in the logs, one JSON object per step.
    const events = A.lines.map((l) => l.event);
    for (const e of ['started', 'drop', 'probe-sent', 'response-received', 'intersection', 'verify', 'tunnel', 'handoff']) expect(events).toContain(e);
    expect(A.lines.filter((l) => l.event === 'config-deprecated').map((l) => l.msg)).toEqual([
      'config: timers.retransmitMs is deprecated; use timers.probeTimeoutMs',
      'config: timers.retries is deprecated; use timers.probeTries',
    ]);
    expect(B.lines.find((l) => l.event === 'response-sent')).toMatchObject({ to: '127.0.0.2' });
  });

  it('runs on running-configs: the discover crypto map entry (initiator) and policy.cryptoMap (responder) name the ACLs', async () => {
    writeFileSync(
      join(dir, 'a-running.cfg'),
      [
        'hostname A',
        'object-group network LOCAL',
        ' 127.0.2.0 255.255.255.0',
        'crypto dynamic-map D 10',
        ' match address TED',
        'crypto map M 10 ipsec-isakmp dynamic D discover',
        'crypto map M 20 ipsec-isakmp',
        ' set peer 192.0.2.1',
        ' match address OTHER',
        'ip access-list extended OTHER',
        ' permit tcp any any established',
        'ip access-list extended TED',
        ' permit ip object-group LOCAL 127.0.3.0 0.0.0.255',
        'interface Loopback0',
        ' crypto map M',
        'end',
      ].join('\n'),
    );
    writeFileSync(join(dir, 'b-running.cfg'), 'hostname B\ncrypto map VPN 10 ipsec-isakmp\n match address 102\naccess-list 101 permit ip any any\naccess-list 102 permit udp 127.0.3.0 0.0.0.255 127.0.2.0 0.0.0.127\nend\n');
    const { a, b } = pair({ policy: { file: 'a-running.cfg' } });
    const B = await start(validateConfig({ role: 'responder', ike: { address: '127.0.0.3', port: b.ike.port, peerPort: b.ike.peerPort }, policy: { file: 'b-running.cfg', cryptoMap: 'VPN 10' }, control: { socket: '' } }, { baseDir: dir }));
    const A = await start(a);
    expect(A.d.status().daemon.policy).toMatchObject({ acl: 'TED', entries: 1 });
    expect(B.d.status().daemon.policy).toMatchObject({ acl: '102' });
    expect(A.lines.find((l) => l.event === 'policy-crypto-map')).toMatchObject({ cryptoMap: 'M 10', acl: 'TED', msg: 'policy: crypto map M 10 (discover) matches access list TED' });
    expect(A.lines.filter((l) => l.event === 'policy-warning').map((l) => l.code)).toEqual(['POLICY_WARN_ACL_UNUSABLE']);
    A.d.pushFrame(LinkType.IPV4, packet(40000));
    const s = await until('tunnel', () => A.d.status().tunnels[0]);
    expect(s).toMatchObject({ state: 'established', proxy: { entry: 'permit udp 127.0.2.0 0.0.0.127 127.0.3.0 0.0.0.255' } });
  });

  it('role both: two gateways discover each other, one process per gateway doing both jobs', async () => {
    const pa = portBase++;
    const pb = portBase++;
    const cfg = (addr: string, port: number, peer: number, acl: string) =>
      validateConfig({ role: 'both', ike: { address: addr, port, peerPort: peer }, policy: { file: acl }, probe: { source: 'gateway' }, control: { socket: '' } }, { baseDir: dir });
    const A = await start(cfg('127.0.0.2', pa, pb, 'a.acl'));
    const B = await start(cfg('127.0.0.3', pb, pa, 'b.acl'));
    A.d.pushFrame(LinkType.IPV4, packet(40020));
    B.d.pushFrame(LinkType.IPV4, encodeUdpPacket({ family: 4, src: v4('127.0.3.20'), dst: v4('127.0.2.10'), sport: 7000, dport: 40020, payload: new Uint8Array(1) }));
    await until('tunnels both ways', () => A.d.status().tunnels.length === 1 && B.d.status().tunnels.length === 1);
    expect(A.d.status().tunnels[0]).toMatchObject({ peer: '127.0.0.3', proxy: { entry: 'permit udp 127.0.2.0 0.0.0.127 127.0.3.0 0.0.0.255' } });
    expect(B.d.status().tunnels[0]).toMatchObject({ peer: '127.0.0.2', proxy: { entry: 'permit udp 127.0.3.0 0.0.0.255 127.0.2.0 0.0.0.127' } });
    expect(A.d.status().counters.responsesSent).toBe(1);
    expect(B.d.status().counters.responsesSent).toBe(1);
  });

  it('ted status reads the tunnel table through the control socket (text and --json)', async () => {
    const { a, b } = pair();
    await start(b);
    const A = await start(a);
    A.d.pushFrame(LinkType.IPV4, packet(40001));
    await until('tunnel', () => A.d.status().tunnels.length > 0);
    const out: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((s) => {
      out.push(String(s));
      return true;
    });
    try {
      expect(await main(['status', '--socket', a.control.socket, '--json'])).toBe(0);
      const json = JSON.parse(out.join(''));
      expect(json.tunnels[0]).toMatchObject({ peer: '127.0.0.3', proxy: { source: { value: '127.0.2.0', wildcard: '0.0.0.127' } } });
      out.length = 0;
      expect(await main(['status', '--socket', a.control.socket])).toBe(0);
      expect(out.join('')).toMatch(/tunnels \(1\):\n {2}#1 established peer 127\.0\.0\.3 .*\n {6}permit udp 127\.0\.2\.0 0\.0\.0\.127 127\.0\.3\.0 0\.0\.0\.255\n/);
    } finally {
      spy.mockRestore();
    }
  });

  it('no responder: backoff, give-up and hold-down show in the status', async () => {
    const { a } = pair();
    const A = await start(a);
    A.d.pushFrame(LinkType.IPV4, packet(40002));
    await until('pending', () => A.d.status().pending.length === 1);
    const s = await until('hold-down', () => {
      const st = A.d.status();
      return st.holdDowns.length === 1 && st;
    });
    expect(s.holdDowns[0]).toMatchObject({ destination: '127.0.3.20' });
    expect(s.counters).toMatchObject({ probesGivenUp: 1, cipsNumTEDProbesSent: 2, cipsNumTEDFailures: 1 });
    expect(A.lines.some((l) => l.event === 'probe-gave-up')).toBe(true);
  });

  it('replays a capture file (Ethernet frames) as the packet source', async () => {
    const frames = [40010, 40011, 40012].map((sp) => ({ data: encodeEthernet({}, packet(sp)), timestamp: 1 }));
    const file = join(dir, 'replay.pcap');
    writeFileSync(file, writePcap(frames, { linkType: LinkType.ETHERNET }));
    const { a, b } = pair({ source: { kind: 'replay', file } });
    await start(b);
    const A = await start(a);
    const s = await until('tunnel from the replayed packets', () => {
      const st = A.d.status();
      return st.tunnels.length > 0 && st.daemon.source.replayedFrames === 3 && st;
    });
    // Three packets of one destination during discovery: three drops, one probe.
    expect(s.packets).toMatchObject({ frames: 3, drop: 3 });
    expect(s.counters.probesStarted).toBe(1);
  });

  it('stops gracefully: sockets closed, control socket removed, tunnels torn down through the handoff', async () => {
    const { a, b } = pair();
    await start(b);
    const A = await start(a);
    A.d.pushFrame(LinkType.IPV4, packet(40003));
    await until('tunnel', () => A.d.status().tunnels.length > 0);
    await A.d.stop('SIGTERM');
    await A.d.stop('again'); // idempotent
    expect(A.lines.filter((l) => l.event === 'stopped')).toHaveLength(1);
    expect(A.lines.some((l) => l.event === 'teardown')).toBe(true);
    await expect(queryControl(a.control.socket, { cmd: 'status' }, 500)).rejects.toMatchObject({ code: 'CONTROL_UNREACHABLE' });
  });

  it('a port already in use refuses to start with the reason, and leaves nothing open', async () => {
    const { a } = pair();
    const first = await start(a);
    const err = await Daemon.start({ ...a, control: { socket: join(dir, 'other.sock') } }, { logger: memoryLogger().logger }).catch((e) => e);
    expect(err).toBeInstanceOf(TedError);
    expect(err.code).toBe('TRANSPORT_BIND');
    expect(first.d.status().daemon.pid).toBe(process.pid);
  });
});

describe('ted initiator / responder on the command line', () => {
  function capture() {
    const out: string[] = [];
    const err: string[] = [];
    const o = vi.spyOn(process.stdout, 'write').mockImplementation((s) => (out.push(String(s)), true));
    const e = vi.spyOn(process.stderr, 'write').mockImplementation((s) => (err.push(String(s)), true));
    return { out, err, restore: () => (o.mockRestore(), e.mockRestore()) };
  }

  it('a bad configuration refuses to start, naming the key (exit 2)', async () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'ike:\n  address: 127.0.0.2\n  port: 0\npolicy:\n  file: a.acl\n');
    const c = capture();
    try {
      expect(await main(['initiator', '--config', file])).toBe(2);
    } finally {
      c.restore();
    }
    expect(c.err.join('')).toMatch(/CONFIG_RANGE: ike\.port: must be >= 1/);
  });

  it('--print-setup prints the policy-routing commands for the configured prefixes', async () => {
    const file = join(dir, 'setup.yaml');
    writeFileSync(file, 'ike:\n  address: 198.51.100.1\npolicy:\n  file: a.acl\nsource:\n  kind: raw\n  prefixes: [203.0.113.0/24]\n  interface: eth1\n');
    const c = capture();
    try {
      expect(await main(['initiator', '--print-setup', '--config', file])).toBe(0);
      expect(await main(['responder', '--print-setup'])).toBe(0);
    } finally {
      c.restore();
    }
    const text = c.out.join('');
    expect(text).toContain('ip rule add iif eth1 to 203.0.113.0/24 lookup 500 pref 500');
    expect(text).toContain('ip route add local 203.0.113.0/24 dev lo table 500');
    expect(text).toContain('ipproto udp dport 500 lookup 501');
  });

  it('runs until SIGINT, then stops gracefully and exits 0', async () => {
    const port = portBase++;
    const sock = join(dir, `sigint-${port}.sock`);
    const file = join(dir, 'sigint.yaml');
    writeFileSync(file, `role: responder\nike:\n  address: 127.0.0.3\n  port: ${port}\npolicy:\n  file: b.acl\nlog:\n  level: warn\ncontrol:\n  socket: ${sock}\n`);
    const c = capture();
    try {
      const run = main(['responder', '--config', file]);
      await until('the control socket', () => queryControl(sock, { cmd: 'ping' }, 500).then(() => true, () => false));
      process.emit('SIGINT', 'SIGINT');
      expect(await run).toBe(0);
    } finally {
      c.restore();
    }
    await expect(queryControl(sock, { cmd: 'ping' }, 500)).rejects.toMatchObject({ code: 'CONTROL_UNREACHABLE' });
  });

  it('needs --config to run', async () => {
    const c = capture();
    try {
      expect(await main(['responder'])).toBe(2);
    } finally {
      c.restore();
    }
    expect(c.err.join('')).toContain('CLI_NO_CONFIG');
  });
});

describe('set-up texts', () => {
  it('the responder protects the source prefixes of its permit entries', () => {
    const policy = parseCisco('access-list 101 permit udp 203.0.113.0 0.0.0.255 any\naccess-list 101 deny ip 198.51.100.0 0.0.0.255 any\naccess-list 101 permit ip host 203.0.113.99 any\n', { file: 'p' });
    expect(protectedPrefixes(policy).map((p) => p.text)).toEqual(['203.0.113.0/24', '203.0.113.99/32']);
    const text = responderSetup({ family: 6, prefixes: ['2001:db8:b::/64'] });
    expect(text).toContain('ip -6 rule add to 2001:db8:b::/64 ipproto udp dport 500 lookup 501 pref 501');
    expect(text).toContain('ip -6 route add local 2001:db8:b::/64 dev lo table 501');
  });

  it('the capture source blackholes instead of routing locally', () => {
    const text = initiatorSetup({ family: 6, prefixes: ['2001:db8:b::/64'], lanInterface: 'lan0', sourceKind: 'capture' });
    expect(text).toContain('ip -6 route add blackhole 2001:db8:b::/64 table 500');
    expect(text).not.toContain('route add local');
  });
});

describe('frame pump', () => {
  it('judges frames in batches, ignores destinations outside the prefixes, and copies what it keeps', () => {
    const seen: number[] = [];
    const calls: number[] = [];
    const target = {
      createBatch: (n: number) => new (require_batch())(n),
      process(batch: InstanceType<ReturnType<typeof require_batch>>) {
        calls.push(batch.count);
        const verdict = new Uint8Array(batch.count).fill(3);
        return { count: batch.count, verdict, tunnel: new Int32Array(batch.count), ordinal: new Int32Array(batch.count) };
      },
    };
    const pump = new FramePump(target, {
      batchSize: 2,
      prefixes: [{ text: '127.0.3.0/24', family: 4, value: v4('127.0.3.0'), length: 24 }],
      onVerdict: (v, _t, _o, pkt) => seen.push(v, pkt[0]!),
    });
    const p = packet(1);
    expect(pump.push(LinkType.IPV4, p)).toBe(true);
    p[0] = 0; // the pump copied it
    const other = encodeUdpPacket({ family: 4, src: v4('127.0.2.10'), dst: v4('127.0.9.9'), sport: 1, dport: 2, payload: new Uint8Array(1) });
    expect(pump.push(LinkType.IPV4, other)).toBe(false);
    expect(pump.push(LinkType.IPV4, packet(2))).toBe(true); // fills the batch: judged now
    expect(calls).toEqual([2]);
    expect(seen).toEqual([3, 0x45, 3, 0x45]);
    expect(pump.counters).toMatchObject({ frames: 3, ignored: 1, drop: 2 });
    pump.close();
  });
});

describe('frame pump reassembly (capture and replay sources)', () => {
  it('fragments are held and the whole datagram is judged once, with its ports; without reassembly each fragment is judged alone', () => {
    const batches: { ports: boolean[]; dport: number[] }[] = [];
    const target = {
      createBatch: (n: number) => new TupleBatch(n),
      process(batch: TupleBatch) {
        batches.push({ ports: Array.from(batch.flags.subarray(0, batch.count), (f) => f === 1), dport: Array.from(batch.dport.subarray(0, batch.count)) });
        return { count: batch.count, verdict: new Uint8Array(batch.count).fill(2), tunnel: new Int32Array(batch.count), ordinal: new Int32Array(batch.count) };
      },
    };
    const l4 = encodeL4({ protocol: 17, sport: 40000, dport: 4500, payload: new Uint8Array(3000) }, 4, v4('127.0.2.10'), v4('127.0.3.9'));
    const frags = [0, 1480].map((off) => encodeIPv4({ src: v4('127.0.2.10'), dst: v4('127.0.3.9'), protocol: 17, payload: l4.subarray(off, off + 1480), id: 9, fragmentOffset: off, moreFragments: true }));
    frags.push(encodeIPv4({ src: v4('127.0.2.10'), dst: v4('127.0.3.9'), protocol: 17, payload: l4.subarray(2960), id: 9, fragmentOffset: 2960 }));
    const pump = new FramePump(target, { batchSize: 8, reassemble: true });
    for (const f of [frags[2]!, frags[0]!, frags[1]!]) expect(pump.push(LinkType.IPV4, f, 1000)).toBe(true);
    pump.flush();
    expect(batches).toEqual([{ ports: [true], dport: [4500] }]);
    expect(pump.counters).toMatchObject({ frames: 3, fragments: 3, reassembled: 1, fragmentsAbandoned: 0, bypass: 1 });
    const plain = new FramePump(target, { batchSize: 8 });
    for (const f of frags) plain.push(LinkType.IPV4, f);
    plain.flush();
    expect(batches[1]).toEqual({ ports: [true, false, false], dport: [4500, 0, 0] });
    pump.close();
    plain.close();
  });
});

describe('event logs', () => {
  it('a flood of dropped responses: every datagram at debug, one summary line per kind with the reasons', () => {
    const { logger, lines } = memoryLogger();
    const events = new EventLog(logger, { intervalMs: 0 });
    for (let i = 0; i < 50; i++) events.handle({ type: 'response-dropped', reason: 'unknown-cookie', icookie: BigInt(i + 1) });
    events.handle({ type: 'response-dropped', reason: 'source-mismatch' });
    expect(lines.filter((l) => l.level === 40)).toHaveLength(0);
    expect(lines.filter((l) => l.level === 20 && l.event === 'response-dropped')).toHaveLength(51);
    events.summarize();
    const warns = lines.filter((l) => l.level === 40);
    expect(warns).toHaveLength(1);
    expect(warns[0]).toMatchObject({ event: 'summary', of: 'response-dropped', count: 51, byReason: { 'unknown-cookie': 50, 'source-mismatch': 1 } });
    expect(String(warns[0]!.msg)).toMatch(/^51 responses dropped in the last \d+ s: unknown-cookie 50, source-mismatch 1$/);
    events.summarize();
    expect(lines.filter((l) => l.level === 40)).toHaveLength(1); // nothing new: no line
  });
});

describe('frame pump errors', () => {
  it('a batch the gateway fails on is counted and reported, and the next batch is judged', () => {
    const errors: string[] = [];
    let fail = true;
    const target = {
      createBatch: (n: number) => new TupleBatch(n),
      process(batch: TupleBatch) {
        if (fail) throw new Error('boom');
        return { count: batch.count, verdict: new Uint8Array(batch.count).fill(2), tunnel: new Int32Array(batch.count), ordinal: new Int32Array(batch.count) };
      },
    };
    const pump = new FramePump(target, { batchSize: 4, onError: (e, ctx) => errors.push(`${ctx}: ${e.message}`) });
    pump.push(LinkType.IPV4, packet(1));
    pump.flush();
    expect(errors).toEqual(['gateway.process: boom']);
    expect(pump.counters).toMatchObject({ processErrors: 1, drop: 1 });
    fail = false;
    pump.push(LinkType.IPV4, packet(2));
    pump.flush();
    expect(pump.counters).toMatchObject({ frames: 2, bypass: 1 });
  });
});

describe('control socket', () => {
  it('answers requests line by line, reports handler errors and bad requests, and refuses a second server', async () => {
    const path = join(dir, 'ctl.sock');
    const server = await startControlServer(path, (req) => {
      if (req.cmd === 'boom') throw new TedError('X_BOOM', 'exploded');
      return { echo: req.cmd, big: 2n ** 64n };
    });
    try {
      expect(await queryControl(path, { cmd: 'hello' })).toEqual({ echo: 'hello', big: '18446744073709551616' });
      await expect(queryControl(path, { cmd: 'boom' })).rejects.toMatchObject({ code: 'X_BOOM' });
      await expect(startControlServer(path, () => 1)).rejects.toMatchObject({ code: 'CONTROL_IN_USE' });
    } finally {
      await server.close();
    }
    // A stale socket (left by a daemon that was killed) is replaced.
    spawnSync(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, 'SIGKILL'))`]);
    expect(lstatSync(path).isSocket()).toBe(true);
    const again = await startControlServer(path, () => 'ok');
    expect(await queryControl(path, { cmd: 'x' })).toBe('ok');
    await again.close();
  });

  it('the logger writes readable lines instead when asked (as on a terminal)', async () => {
    const file = join(dir, 'pretty.log');
    const fd = fs.openSync(file, 'w');
    const log = createLogger({ level: 'info', fd, pretty: 'always' });
    log.info({ event: 'probe-sent', icookie: 'ab' }, 'probe ab attempt 1');
    expect(await flushLogger(log)).toBe(true); // asynchronous: written once flushed
    fs.closeSync(fd);
    const text = fs.readFileSync(file, 'utf8');
    expect(text).toContain('probe ab attempt 1');
    expect(text).toMatch(/INFO/);
    expect(() => JSON.parse(text.split('\n')[0]!)).toThrow();
  });

  it('the logger writes JSON lines with ISO times and level names', async () => {
    const file = join(dir, 'log.jsonl');
    const { openSync, readFileSync, closeSync } = require_fs();
    const fd = openSync(file, 'w');
    const log = createLogger({ level: 'info', fd, pretty: 'auto', base: { role: 'initiator' } });
    log.info({ event: 'x', n: 1 }, 'hello');
    log.debug('hidden');
    expect(await flushLogger(log)).toBe(true); // asynchronous: written once flushed
    closeSync(fd);
    const lines = readFileSync(file, 'utf8').trim().split('\n').map((l: string) => JSON.parse(l));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 'info', role: 'initiator', event: 'x', n: 1, msg: 'hello' });
    expect(lines[0].time).toMatch(/^\d{4}-\d\d-\d\dT/);
  });
});

import { TupleBatch } from '../src/classify/batch.js';
import * as fs from 'node:fs';
function require_batch() {
  return TupleBatch;
}
function require_fs() {
  return fs;
}
