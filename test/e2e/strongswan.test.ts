// From discovery to an encrypted tunnel, for real: `ted lab` (namespaces, a ted daemon and a
// charon in each gateway) tells its story for IPv4 and IPv6 and tshark checks the link between
// the gateways; a responder whose charon has other credentials leaves the tunnel not established
// (counted); the responder's charon restarted takes the tunnel down in ted, which rediscovers it
// and brings it up again; SIGINT in the middle of `ted lab` leaves nothing behind. Needs root,
// iproute2, tcpdump, tshark and strongSwan (charon-systemd, libcharon-extra-plugins); otherwise
// it skips and says why.
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { labMissing } from '../../src/cli/commands/lab.js';
import { StrongswanLab, LAB_POLICIES, LAB_PORTS, type LabDaemons } from '../../src/lab/gateways.js';
import { ADDR } from '../../src/lab/netns.js';
import { CLI, packageScript, sleep, until, type LabTed } from '../../src/lab/ted.js';

const AGENT = packageScript('lab/agent.js');
import { commandExists } from '../../src/lab/netns.js';
import type { StatusJson } from './procs.js';

const run = promisify(execFile);

const skipReason =
  (await labMissing()) ??
  ((await commandExists('tshark')) ? undefined : 'tshark is not installed') ??
  (existsSync(CLI) ? undefined : 'dist/ is not built (run `npm run build` or `npm run test:e2e`)');
if (skipReason) console.warn(`skip e2e (strongSwan handoff, ted lab): ${skipReason}`);

interface Step {
  step: string;
  [k: string]: unknown;
}

/** Runs `ted lab --json` and returns its steps and exit code. */
async function tedLab(args: string[], onStep?: (s: Step, child: ReturnType<typeof spawn>) => void): Promise<{ code: number | null; steps: Step[]; stderr: string; pid: number }> {
  const child = spawn(process.execPath, [CLI, 'lab', '--json', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const steps: Step[] = [];
  let stderr = '';
  let buf = '';
  child.stdout.on('data', (b: Buffer) => {
    buf += b.toString();
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const s = JSON.parse(buf.slice(0, nl)) as Step;
      buf = buf.slice(nl + 1);
      steps.push(s);
      onStep?.(s, child);
    }
  });
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
  return { code, steps, stderr, pid: child.pid! };
}

async function labLeftovers(pid: number): Promise<string[]> {
  const { stdout } = await run('ip', ['netns', 'list']);
  const tag = `ted-${pid.toString(36)}-`;
  const ns = stdout.split('\n').map((l) => l.split(' ')[0]!).filter((n) => n.startsWith(tag));
  const dirs = readdirSync(tmpdir()).filter((d) => d.startsWith(`ted-lab-${pid.toString(36)}-`));
  return [...ns, ...dirs];
}

describe.skipIf(skipReason !== undefined)('ted lab: discovery, IKE, ESP', () => {
  for (const family of [4, 6] as const) {
    it(`IPv${family}: the story end to end; tshark sees 240/241, IKE, ESP and no cleartext of the connection`, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'ted-e2e-lab-'));
      try {
        const pcap = join(dir, 'link.pcap');
        const r = await tedLab([...(family === 6 ? ['--ipv6'] : []), '--pcap', pcap]);
        if (r.code !== 0) console.error(r.stderr, JSON.stringify(r.steps.slice(-3)));
        expect(r.code).toBe(0);
        const kinds = r.steps.map((s) => s.step);
        for (const k of ['lab', 'drop', 'probe', 'response', 'intersection', 'negotiated', 'ike', 'child-sa', 'established', 'carried', 'not-carried', 'teardown', 'link', 'done'])
          expect(kinds, `step ${k}`).toContain(k);
        const done = r.steps.at(-1)!;
        expect(done).toMatchObject({ step: 'done', ok: true });
        expect(done.setupMs).toBeGreaterThan(0);
        console.log(`e2e ted lab IPv${family}: first drop -> first byte ${String(done.setupMs)} ms, -> ESTABLISHED ${String(done.readyMs)} ms, IKE ${String(done.ikeMs)} ms`);
        // The negotiated selectors are the intersection's, exactly.
        const child = r.steps.find((s) => s.step === 'child-sa')!;
        expect(child.localTs).toEqual([family === 4 ? '192.0.2.0/24[tcp]' : '2001:db8:a::/64[tcp]']);
        expect(child.remoteTs).toEqual([family === 4 ? '203.0.113.0/24[tcp/8000-8099]' : '2001:db8:b::/64[tcp/8000-8099]']);
        expect(r.steps.filter((s) => s.step === 'ike').map((s) => s.exchange).filter(Boolean)).toEqual(['IKE_SA_INIT', 'IKE_AUTH']);
        const carried = r.steps.find((s) => s.step === 'carried')!;
        expect(carried.from).toBe(ADDR.hostA[family === 4 ? 'v4' : 'v6']);
        expect(carried.packetsOut).toBeGreaterThan(0);

        // tshark's reading of the link, independent of ours.
        const { stdout } = await run('tshark', ['-r', pcap, '-n', '-T', 'fields', '-E', 'separator=\t', '-e', 'isakmp.exchangetype', '-e', 'esp.spi', '-e', 'tcp.dstport', '-e', 'tcp.srcport'], { maxBuffer: 16 << 20 });
        const rows = stdout.split('\n').filter(Boolean).map((l) => l.split('\t'));
        const exch = rows.map((x) => x[0]).filter(Boolean);
        expect(exch).toContain('240');
        expect(exch).toContain('241');
        expect(exch).toContain('34'); // IKE_SA_INIT
        expect(exch).toContain('35'); // IKE_AUTH
        expect(rows.filter((x) => x[1]).length).toBeGreaterThan(4); // ESP
        const ports = new Set([String(LAB_PORTS.inside), String(LAB_PORTS.outside)]);
        expect(rows.filter((x) => ports.has(x[2]!) || ports.has(x[3]!))).toEqual([]); // no cleartext TCP of either connection
        expect(await labLeftovers(r.pid)).toEqual([]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }

  it('SIGINT in the middle: exit 130 and nothing left behind (namespaces, charon, daemons, files)', async () => {
    const r = await tedLab([], (s, child) => {
      if (s.step === 'negotiated') child.kill('SIGINT');
    });
    const pid = r.pid;
    expect(r.code).toBe(130);
    expect(r.stderr).toMatch(/interrupted; everything it created was removed/);
    expect(await labLeftovers(pid)).toEqual([]);
    // No charon of that run is left: a lab's charon carries STRONGSWAN_CONF under the run's directory.
    const { stdout } = await run('sh', ['-c', 'pgrep -x charon-systemd || true']);
    const ours = stdout
      .split('\n')
      .filter(Boolean)
      .filter((p) => {
        try {
          return readFileSync(`/proc/${p}/environ`, 'latin1').includes(`ted-lab-${pid.toString(36)}-`);
        } catch {
          return false; // exited meanwhile
        }
      });
    expect(ours).toEqual([]);
  });

  it('without root: exit 2 with one line saying what is missing', async () => {
    const r = await run('setpriv', ['--reuid', '65534', '--regid', '65534', '--clear-groups', process.execPath, CLI, 'lab']).then(
      () => ({ code: 0, stderr: '' }),
      (e: { code: number; stderr: string }) => e,
    );
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^ted: LAB_UNAVAILABLE: ted lab needs root/);
  });
});

describe.skipIf(skipReason !== undefined)('strongSwan handoff: authentication and charon restarts', () => {
  let world: StrongswanLab;
  let dir: string;
  let d: LabDaemons | undefined;
  const daemons: LabTed[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ted-e2e-sw-'));
    world = await StrongswanLab.build(dir);
  }, 60_000);

  afterEach(async (ctx) => {
    const failed = ctx.task.result?.state === 'fail';
    for (const t of daemons.splice(0)) {
      if (failed) console.error(t.dump());
      await t.stop(5000);
    }
  });

  afterAll(async () => {
    if (world) {
      await world.destroy();
      expect(await world.lab.leftovers()).toEqual([]);
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const connect = (port: number, timeoutMs: number) =>
    world.lab.exec('hostA', [process.execPath, AGENT, 'tcp-connect', ADDR.hostB.v4, String(port), String(timeoutMs), 'x'], { timeoutMs: timeoutMs + 5000 }).then((r) => r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>));

  it('a responder whose charon has no matching key: IKE fails, the tunnel is never ESTABLISHED, counted and held down', async () => {
    d = await world.daemons(4, { pskA: 'the-right-key', pskB: 'another-key' });
    daemons.push(d.b, d.a);
    const listener = world.lab.spawn('hostB', [process.execPath, AGENT, 'tcp-listen', ADDR.hostB.v4, String(LAB_PORTS.inside)]);
    try {
      const result = await connect(LAB_PORTS.inside, 3000);
      expect(result[0]).toMatchObject({ result: 'timeout' });
      const s = await until('the handoff failure', async () => {
        const st = await d!.a.statusJson<StatusJson>();
        return st.counters.handoffFailures! >= 1 ? st : undefined;
      }, 15_000);
      expect(s.tunnels).toEqual([]);
      expect(s.counters.tunnelsEstablished).toBe(0);
      expect(s.handoff.counters!.failures).toMatchObject({ authentication: 1 });
      expect(s.holdDowns.map((h) => h.reason)).toEqual(['handoff-failed']);
      const failed = d.a.events('ike-failed');
      expect(failed).toHaveLength(1); // logged once
      expect(failed[0]).toMatchObject({ reason: 'authentication', peer: ADDR.gwBWan.v4 });
      // Nothing of the attempt stays in charon A.
      const text = await d.a.cliRun(['status', '--socket', d.a.socket]);
      expect(text).toMatch(/handoff: strongSwan over .*; failed: authentication 1/);
    } finally {
      listener.kill('SIGKILL');
    }
  });

  it('a second tunnel to the same subnet: its packets, routed into the TUN device by the first, are dropped, discovered and carried', async () => {
    d = await world.daemons(4);
    daemons.push(d.b, d.a);
    const tcp = world.lab.spawn('hostB', [process.execPath, AGENT, 'tcp-listen', ADDR.hostB.v4, String(LAB_PORTS.inside)]);
    const udp = world.lab.spawn('hostB', [process.execPath, AGENT, 'udp-listen', ADDR.hostB.v4, String(LAB_PORTS.udp)]);
    const got: Record<string, unknown>[] = [];
    let buf = '';
    udp.stdout!.on('data', (b: Buffer) => {
      buf += b.toString();
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        got.push(JSON.parse(buf.slice(0, nl)) as Record<string, unknown>);
        buf = buf.slice(nl + 1);
      }
    });
    try {
      expect((await connect(LAB_PORTS.inside, 8000)).find((l) => l.echo !== undefined)).toBeDefined();
      // charon A now routes all of 203.0.113.0/24 into ipsec0; UDP to host B has no CHILD_SA yet.
      const send = (text: string) => world.lab.exec('hostA', [process.execPath, AGENT, 'udp-send', ADDR.hostB.v4, String(LAB_PORTS.udp), text, '40000']);
      await send('first');
      const s = await until('a second tunnel', async () => {
        const st = await d!.a.statusJson<StatusJson>();
        return st.tunnels.length === 2 && st.tunnels.every((t) => t.state === 'established') ? st : undefined;
      }, 15_000);
      const second = s.tunnels.find((t) => t.proxy.protocol === 17)!;
      expect(second.ike).toMatchObject({ childSas: [{ state: 'INSTALLED', localTs: ['192.0.2.0/24[udp]'], remoteTs: ['203.0.113.0/24[udp/7000-7099]'] }] });
      // charon reused the first tunnel's IKE SA for the second CHILD_SA.
      expect(new Set(s.tunnels.flatMap((t) => t.ike!.ikeSa)).size).toBe(1);
      await until('a datagram through the second tunnel', async () => {
        await send('later');
        return got.find((g) => g.text === 'later');
      }, 10_000, 300);
      expect(got.filter((g) => g.text === 'first')).toEqual([]); // the first one was dropped
    } finally {
      tcp.kill('SIGKILL');
      udp.kill('SIGKILL');
    }
  });

  it('IKEv1: a port range becomes one quick mode per port (not a range cut to its first port), each carried', async () => {
    const policies = { a: LAB_POLICIES[4].a, b: 'access-list 102 permit tcp 203.0.113.0 0.0.0.255 range 8080 8081 192.0.2.0 0.0.0.255\n' };
    d = await world.daemons(4, { policies, handoff: { ikeVersion: 1 } });
    daemons.push(d.b, d.a);
    const listeners = [8080, 8081].map((port) => world.lab.spawn('hostB', [process.execPath, AGENT, 'tcp-listen', ADDR.hostB.v4, String(port)]));
    try {
      await sleep(300);
      for (const port of [8080, 8081]) expect((await connect(port, 8000)).find((l) => l.echo !== undefined), `port ${port}`).toBeDefined();
      const s = await d.a.statusJson<StatusJson>();
      expect(s.tunnels).toHaveLength(1);
      const kids = s.tunnels[0]!.ike!.childSas;
      expect(kids.map((c) => c.name)).toEqual(['ted-1-1', 'ted-1-2']);
      expect(kids.every((c) => c.state === 'INSTALLED' && c.remoteTs.length === 1)).toBe(true);
      const quick = d.a.events('ike-log').filter((l) => /parsed QUICK_MODE response/.test(l.msg));
      expect(quick).toHaveLength(2);
    } finally {
      for (const l of listeners) l.kill('SIGKILL');
    }
  });

  it('certificates: each gateway proves its address with a certificate from the lab CA', async () => {
    if (!(await commandExists('openssl'))) return void console.warn('skip certificates: openssl is not installed');
    const certs = join(dir, 'certs');
    await run('mkdir', ['-p', certs]);
    const o = (...args: string[]) => run('openssl', args, { cwd: certs });
    await o('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=ted lab CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
    for (const [n, ip] of [['a', ADDR.gwAWan.v4], ['b', ADDR.gwBWan.v4]] as const) {
      await o('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `gw${n}.key`, '-out', `gw${n}.csr`, '-subj', `/CN=${ip}`);
      await run('sh', ['-c', `printf 'subjectAltName=IP:${ip}\n' > ext${n}`], { cwd: certs });
      await o('x509', '-req', '-in', `gw${n}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `gw${n}.pem`, '-days', '2', '-extfile', `ext${n}`);
    }
    const creds = (n: string) => ({ credentials: { kind: 'certificates', certificate: join(certs, `gw${n}.pem`), privateKey: join(certs, `gw${n}.key`), caCertificates: [join(certs, 'ca.pem')] } });
    d = await world.daemons(4, { handoffA: creds('a'), handoffB: creds('b') });
    daemons.push(d.b, d.a);
    const listener = world.lab.spawn('hostB', [process.execPath, AGENT, 'tcp-listen', ADDR.hostB.v4, String(LAB_PORTS.inside)]);
    try {
      await sleep(300);
      expect((await connect(LAB_PORTS.inside, 8000)).find((l) => l.echo !== undefined)).toBeDefined();
      const s = await d.a.statusJson<StatusJson>();
      expect(s.tunnels[0]).toMatchObject({ state: 'established', ike: { phase: 'up' } });
      expect(d.a.events('ike-log').some((l) => /authentication of '198\.51\.100\.2' with RSA/.test(l.msg))).toBe(true);
    } finally {
      listener.kill('SIGKILL');
    }
  });

  it("the responder's charon restarted: tunnel down in ted, rediscovered after the hold-down, up again", async () => {
    d = await world.daemons(4, { timers: { holdDownMs: 2000 }, dpdDelayS: 1 });
    daemons.push(d.b, d.a);
    const listener = world.lab.spawn('hostB', [process.execPath, AGENT, 'tcp-listen', ADDR.hostB.v4, String(LAB_PORTS.inside)]);
    try {
      expect((await connect(LAB_PORTS.inside, 8000)).find((l) => l.echo !== undefined)).toBeDefined();
      const s1 = await d.a.statusJson<StatusJson>();
      expect(s1.tunnels).toHaveLength(1);
      expect(s1.tunnels[0]!.ike).toMatchObject({ phase: 'up', childSas: [{ state: 'INSTALLED', remoteTs: ['203.0.113.0/24[tcp/8000-8099]'] }] });
      const first = s1.tunnels[0]!.id;

      const loads = d.b.events('responder-connection').length;
      await world.charonB.stop();
      await world.charonB.start();
      // B's ted notices its charon came back and loads the responder connection again.
      await d.b.waitFor('the responder connection reloaded', () => d!.b.events('responder-connection').length > loads, 15_000);
      // A's charon notices the peer is gone (dead peer detection) and tells ted.
      await d.a.waitFor('the tunnel down in ted', (l) => l.event === 'tunnel' && l.state === 'down' && l.reason === 'ike-down', 30_000);
      const s2 = await d.a.statusJson<StatusJson>();
      expect(s2.tunnels).toEqual([]);
      expect(s2.counters.tunnelsHandoffDown).toBe(1);
      // After the hold-down, the next connection rediscovers and the tunnel comes up again.
      await sleep(2200);
      const again = await until('a connection through a new tunnel', async () => {
        const r = await connect(LAB_PORTS.inside, 4000);
        return r.find((l) => l.echo !== undefined);
      }, 30_000, 200);
      expect(again).toBeDefined();
      const s3 = await d.a.statusJson<StatusJson>();
      expect(s3.tunnels).toHaveLength(1);
      expect(s3.tunnels[0]!.id).not.toBe(first);
      expect(s3.tunnels[0]!.state).toBe('established');
      expect(s3.counters.tunnelsEstablished).toBe(2);
    } finally {
      listener.kill('SIGKILL');
    }
  });
});
