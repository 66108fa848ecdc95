// From the first dropped packet to the first byte delivered, on real sockets with real IKE:
//  1. `ted lab` (the story: a TCP connection from host A to host B) several times per family:
//     setupMs = first DROP in gateway A -> first byte at host B. TCP sends its SYN again only
//     after its 1 s initial retransmission timeout, so this figure is about 1 s plus the rest.
//  2. a UDP stream (one datagram every 10 ms) on one lab, the tunnel torn down between runs:
//     first dropped datagram -> first datagram at host B, i.e. discovery + IKE + the next
//     datagram, without TCP's timer. Also split: DROP -> tunnel ESTABLISHED, and the handoff's
//     initiate -> CHILD_SA INSTALLED.
// Needs root and strongSwan (see `ted lab`); otherwise it says why and leaves the last results.
// Run: npm run bench (builds first), or `node bench/lab.bench.mjs` after `npm run build`.
// Env: TED_LAB_RUNS (story runs per family, default 3), TED_LAB_STREAM_RUNS (default 7),
// TED_LAB_KEEP_DIR=1 (keep the UDP lab's logs and captures for a look afterwards).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { machine, root, writeResults } from './support.mjs';

const imp = (p) => import(join(root, 'dist', p));
const { labMissing } = await imp('cli/commands/lab.js');
const missing = await labMissing();
if (missing) {
  console.error(`bench/lab: skipped (${missing}); bench/lab-results.json keeps its last figures`);
  process.exit(0);
}
const { runLab, childSas } = await imp('lab/story.js');
const { StrongswanLab, LAB_PORTS } = await imp('lab/gateways.js');
const { ADDR } = await imp('lab/netns.js');
const { packageScript, until, sleep } = await imp('lab/ted.js');

const RUNS = Number(process.env.TED_LAB_RUNS ?? 3);
const STREAM_RUNS = Number(process.env.TED_LAB_STREAM_RUNS ?? 7);
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const stats = (xs) => (xs.length ? `${Math.round(median(xs))} (${Math.min(...xs)}..${Math.max(...xs)})` : '');
const rows = [];

for (const family of [4, 6]) {
  const setup = [];
  const ready = [];
  const ike = [];
  for (let i = 0; i < RUNS; i++) {
    const r = await runLab({ family, onStep: () => undefined });
    setup.push(r.setupMs);
    ready.push(r.readyMs);
    ike.push(r.ikeMs);
    process.stderr.write(`lab IPv${family} run ${i + 1}: setup ${r.setupMs} ms, ready ${r.readyMs} ms, IKE ${r.ikeMs} ms\n`);
  }
  rows.push({ measure: `ted lab, TCP connect (IPv${family})`, runs: RUNS, 'first drop -> first byte ms': stats(setup), 'drop -> ESTABLISHED ms': stats(ready), 'initiate -> CHILD_SA ms': stats(ike) });
}

// The UDP stream, on one lab.
const AGENT = packageScript('lab/agent.js');
const dir = mkdtempSync(join(tmpdir(), 'ted-bench-lab-'));
const world = await StrongswanLab.build(dir);
try {
  const d = await world.daemons(4);
  const sink = world.lab.spawn('hostB', [process.execPath, AGENT, 'udp-listen', ADDR.hostB.v4, String(LAB_PORTS.udp)]);
  const got = [];
  let buf = '';
  sink.stdout.on('data', (b) => {
    buf += b.toString();
    for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
      got.push(JSON.parse(buf.slice(0, nl)));
      buf = buf.slice(nl + 1);
    }
  });
  await until('host B to listen', () => got.some((g) => g.listening));
  const setup = [];
  const ready = [];
  const ike = [];
  const failures = [];
  for (let i = 0; i < STREAM_RUNS; i++) {
    const sport = 41000 + i;
    // A clean start: no tunnel in ted (late datagrams of the run before may have discovered one
    // again after its teardown) and no CHILD_SA in charon (a teardown finishes after ted's line).
    await until('no tunnel in ted A and no CHILD_SA in charon A', async () => {
      const tunnels = (await d.a.statusJson()).tunnels ?? [];
      for (const t of tunnels) await d.a.control({ cmd: 'teardown', tunnel: t.id });
      return tunnels.length === 0 && (await childSas(world.charonA.vici)).length === 0;
    }, 15_000, 200);
    const stream = world.lab.spawn('hostA', [process.execPath, AGENT, 'udp-stream', ADDR.hostB.v4, String(LAB_PORTS.udp), String(sport), '10', '300']);
    try {
    const first = await until('a datagram at host B', () => got.find((g) => g.sport === sport), 15_000, 5);
    const drop = await d.a.waitFor('the drop', (l) => l.event === 'drop' && l.sport === sport);
    const est = await d.a.waitFor('ESTABLISHED', (l) => l.event === 'tunnel' && l.state === 'established' && d.a.logs.indexOf(l) > d.a.logs.indexOf(drop));
    const up = await d.a.waitFor('the CHILD_SA', (l) => l.event === 'ike-established' && l.tunnel === est.id);
    const t0 = typeof drop.time === 'number' ? drop.time : Date.parse(drop.time);
    const te = typeof est.time === 'number' ? est.time : Date.parse(est.time);
    setup.push(first.t - t0);
    ready.push(te - t0);
    ike.push(Math.round(up.ms));
    process.stderr.write(`lab UDP stream run ${i + 1}: first drop -> first datagram ${first.t - t0} ms (ESTABLISHED after ${te - t0} ms, IKE ${Math.round(up.ms)} ms)\n`);
    } catch (err) {
      failures.push(err.message);
      process.stderr.write(`lab UDP stream run ${i + 1} failed: ${err.message}\n${d.a.dump()}\n`);
    } finally {
      stream.kill('SIGKILL');
    }
    await sleep(200); // datagrams still on their way reach ted before the next run cleans up
  }
  if (failures.length) rows.push({ measure: 'UDP runs that failed', runs: failures.length, note: failures.join('; ') });
  rows.push({ measure: 'UDP every 10 ms (IPv4)', runs: setup.length, 'first drop -> first byte ms': stats(setup), 'drop -> ESTABLISHED ms': stats(ready), 'initiate -> CHILD_SA ms': stats(ike) });
  sink.kill('SIGKILL');
  await d.a.stop();
  await d.b.stop();
} finally {
  await world.destroy();
  if (!process.env.TED_LAB_KEEP_DIR) rmSync(dir, { recursive: true, force: true });
  else process.stderr.write(`bench/lab: files kept in ${dir}\n`);
}

writeResults({
  suite: 'lab',
  title: 'First dropped packet to first delivered byte (ted lab: namespaces, ted + charon per gateway, IKEv2 PSK, kernel-libipsec)',
  date: new Date().toISOString(),
  ...machine(),
  rows,
  notes: [
    'Medians (min..max) over the runs; wall clock on a shared 2-core VM, so compare within one run.',
    'TCP: the first SYN is dropped while the tunnel is discovered; Linux sends it again after its 1 s initial retransmission timeout, which dominates the first row.',
    'UDP: a datagram every 10 ms; the first one delivered is the first sent after the CHILD_SA is installed.',
    'initiate -> CHILD_SA: the handoff\'s initiate on VICI until charon lists the CHILD_SA INSTALLED (IKE_SA_INIT + IKE_AUTH with the peer\'s charon, MODP-2048).',
  ],
});
