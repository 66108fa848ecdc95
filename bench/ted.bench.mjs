// The discovery engine on one core:
//  1. the data path with tunnels up: gateway.process(batch) = WebAssembly classification against
//     a 1,000-entry crypto ACL + flow-cache hit + tunnel id, with 10,000 tunnels established
//     (discovered through the in-memory network first). Target: >= 5 Mpps.
//  2. the responder: probes in through the in-memory transport, decode + verify, mirror, classify,
//     responder cookie, encode and send the response. Target: >= 200,000 probes/s.
//
// Run: npm run bench (builds first), or `node bench/ted.bench.mjs` after `npm run build`.
// Writes bench/ted-results.json. Env: TED_BENCH_TIME_MS (per task, default 1000).
import { join } from 'node:path';
import { Bench } from 'tinybench';
import { cpuRate, machine, root, writeResults } from './support.mjs';

const imp = (p) => import(join(root, 'dist', p));
const { createGateway } = await imp('ted/gateway.js');
const { ManualClock } = await imp('ted/clock.js');
const { ikeWire } = await imp('ted/ike-wire.js');
const { MemoryNetwork } = await imp('transport/memory.js');
const { parseCisco } = await imp('policy/index.js');
const { compile } = await imp('classify/index.js');

const TIME = Number(process.env.TED_BENCH_TIME_MS ?? 1000);
const ENTRIES = 1000;
const RESPONDERS = 10;

// Initiator ACL: 1,000 permit entries, each a /18 of 10/8 towards 20/8 (tcp and udp alternate).
const iniLines = ['ip access-list extended BENCH'];
for (let e = 0; e < ENTRIES; e++) iniLines.push(` permit ${e % 2 ? 'udp' : 'tcp'} 10.${e >> 2}.${(e & 3) << 6}.0 0.0.63.255 20.0.0.0 0.255.255.255`);
const iniPolicy = parseCisco(iniLines.join('\n') + '\n');
const ip4 = (a, b, c, d) => BigInt(((a << 24) | (b << 16) | (c << 8) | d) >>> 0);

const clock = new ManualClock(0);
const net = new MemoryNetwork();
const claim = (value, bits, port) => ({ family: 4, value, care: bits === 0 ? 0n : ((1n << 32n) - 1n) ^ ((1n << BigInt(32 - bits)) - 1n), port });
const unlimited = { maxPendingProbes: 1 << 16, maxTunnels: 1 << 16 };
// Every answer budget off: the responder rows measure the answer path (bench/floods.bench.mjs measures the budgets).
const noRateLimit = { responsesPerSecond: Infinity, prefixResponsesPerSecond: Infinity, globalResponsesPerSecond: Infinity };
const responders = [];
for (let t = 0; t < RESPONDERS; t++) {
  const policy = parseCisco(`access-list 101 permit ip 20.${t}.0.0 0.0.255.255 10.0.0.0 0.255.255.255\n`);
  const transport = net.attach([claim(ip4(198, 51, 100, t + 1), 32, 500), claim(ip4(20, t, 0, 0), 16, 500)]);
  responders.push(createGateway({ role: 'responder', policy, localAddress: `198.51.100.${t + 1}`, transport, clock, wire: ikeWire, limits: unlimited, rateLimit: noRateLimit, classifier: compile(policy, { engine: 'wasm' }) }));
}
const classifier = compile(iniPolicy, { engine: 'wasm' });
const initiator = createGateway({
  role: 'initiator',
  policy: iniPolicy,
  localAddress: '192.0.2.1',
  transport: net.attach([claim(ip4(192, 0, 2, 1), 32, 500)]),
  clock,
  wire: ikeWire,
  classifier,
  limits: { ...unlimited, flowCacheEntries: 1 << 17 },
  timers: { tunnelIdleMs: Infinity, tunnelLifetimeMs: Infinity },
});

// Discover the 10,000 tunnels: one packet per (entry, responder).
const setup = initiator.createBatch(ENTRIES * RESPONDERS);
for (let e = 0; e < ENTRIES; e++)
  for (let t = 0; t < RESPONDERS; t++)
    setup.push({ family: 4, protocol: e % 2 ? 17 : 6, src: ip4(10, e >> 2, ((e & 3) << 6) + 1, 1), dst: ip4(20, t, 0, 1), sport: 1024, dport: 80, hasPorts: true });
const t0 = performance.now();
initiator.process(setup);
net.flush();
const setupMs = performance.now() - t0;
const tunnels = initiator.sizes().tunnels;
if (tunnels !== ENTRIES * RESPONDERS) throw new Error(`expected ${ENTRIES * RESPONDERS} tunnels, got ${tunnels}`);

// Traffic: FLOWS distinct flows spread over every tunnel, replayed in batches.
const FLOWS = 32768;
let seed = 12345;
const rnd = (n) => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0), seed % n);
const flows = [];
for (let i = 0; i < FLOWS; i++) {
  const e = rnd(ENTRIES);
  flows.push({ family: 4, protocol: e % 2 ? 17 : 6, src: ip4(10, e >> 2, ((e & 3) << 6) + rnd(64), rnd(256)), dst: ip4(20, rnd(RESPONDERS), rnd(256), rnd(256)), sport: 1024 + rnd(60000), dport: [80, 443, 53][rnd(3)], hasPorts: true });
}
const batches = {};
for (const size of [256, 4096]) {
  const list = [];
  for (let at = 0; at < FLOWS; at += size) {
    const b = initiator.createBatch(size);
    for (let i = at; i < at + size && i < FLOWS; i++) b.push(flows[i]);
    list.push(b);
  }
  batches[size] = list;
}
// Warm the flow cache and check every packet forwards.
for (const b of batches[4096]) {
  const v = initiator.process(b);
  for (let i = 0; i < b.count; i++) if (v.verdict[i] !== 1) throw new Error(`flow not forwarded: verdict ${v.verdict[i]}`);
}

// Responder: distinct probes (distinct initiator identities and cookies), pre-encoded.
const PROBES = 8192;
const probes = [];
for (let i = 0; i < PROBES; i++) {
  probes.push({
    family: 4,
    src: ip4(10, 1, i >> 8, i & 255),
    dst: ip4(20, 0, 1, 1),
    sport: 40000,
    dport: 500,
    payload: ikeWire.encodeProbe({
      icookie: BigInt(i + 1) * 0x9e3779b97f4a7c15n & 0xffffffffffffffffn,
      capabilities: 0,
      id: { family: 4, address: ip4(192, 0, 2, 1) + BigInt(i) },
      summary: { tedVersion: 3, family: 4, protocol: 6, src: ip4(10, 1, i >> 8, i & 255), dst: ip4(20, 0, 1, 1), sport: 40000, dport: 80 },
    }),
  });
}
const responder = responders[0];
const inbound = probes.map((p) => ({ ...p, dstKnown: true }));

let sink = 0;
const bench = new Bench({ name: 'ted', time: TIME, warmupTime: 300 });
const fns = new Map();
const add = (name, perCall, fn) => {
  fns.set(name, { perCall, fn });
  bench.add(name, fn);
};
for (const size of [256, 4096]) {
  add(`data path: process(), batch ${size}`, FLOWS, () => {
    for (const b of batches[size]) sink += initiator.process(b).tunnel[0];
  });
  add(`classify only (wasm), batch ${size}`, FLOWS, () => {
    for (const b of batches[size]) {
      classifier.classify(b, b.results);
      sink += b.results[0];
    }
  });
}
add(`responder: probes through the in-memory transport`, PROBES, () => {
  for (const p of probes) net.inject(p);
  net.flush();
  sink += responder.counters.responsesSent;
});
add(`responder: probes handed to gateway.receive`, PROBES, () => {
  for (const p of inbound) responder.receive(p);
  sink += responder.counters.responsesSent;
});
await bench.run();

const hits0 = initiator.counters.flowCacheHits;
const rows = bench.tasks.map((t) => {
  const { perCall } = fns.get(t.name);
  const ms = t.result.latency?.p50 ?? t.result.period;
  const wall = (perCall * 1000) / ms;
  const cpu = cpuRate(fns.get(t.name).fn, perCall, TIME);
  const row = { task: t.name, wall_per_s: Math.round(wall), cpu_per_s: Math.round(cpu), cpu_ns_per_item: +(1e9 / cpu).toFixed(1) };
  if (t.name.startsWith('responder')) return { ...row, target: '200000 probes/s', meets: cpu >= 200000 };
  if (t.name.startsWith('data')) return { ...row, target: '5 Mpps', meets: cpu >= 5e6 };
  return row;
});
// Memory under a flood (forged probes from random identities, forged responses with random
// cookies): heap after a full GC, before and after, when run with --expose-gc (npm run bench).
let flood;
if (typeof globalThis.gc === 'function') {
  const FLOOD = 200_000;
  const forgedResponse = ikeWire.encodeResponse({
    icookie: 1n,
    rcookie: 2n,
    capabilities: 0,
    id: { family: 4, address: ip4(198, 51, 100, 1) },
    proxy: { family: 4, protocol: 0, src: { value: 0n, care: 0n }, dst: { value: 0n, care: 0n }, sport: [{ lo: 0, hi: 65535 }], dport: [{ lo: 0, hi: 65535 }] },
  });
  const limitedNet = new MemoryNetwork();
  const lr = createGateway({ role: 'responder', policy: parseCisco('access-list 101 permit ip 20.0.0.0 0.0.255.255 10.0.0.0 0.255.255.255\n'), localAddress: '198.51.100.1', transport: limitedNet.attach([claim(ip4(198, 51, 100, 1), 32, 500), claim(ip4(20, 0, 0, 0), 16, 500)]), clock, wire: ikeWire, rateLimit: { maxInitiators: 4096 } });
  const li = createGateway({ role: 'initiator', policy: iniPolicy, localAddress: '192.0.2.1', transport: limitedNet.attach([claim(ip4(192, 0, 2, 1), 32, 500)]), clock, wire: ikeWire, classifier });
  const byte = () => (Math.random() * 256) | 0;
  const round = (n) => {
    for (let i = 0; i < n; i++) {
      const p = probes[i % PROBES];
      const payload = p.payload.slice();
      // a fresh random identity (bytes 60..63: header 28, Vendor ID 24, ID payload header 8) and cookie
      payload[60] = byte(); payload[61] = byte(); payload[62] = byte(); payload[63] = byte();
      payload[0] = byte(); payload[1] = byte();
      limitedNet.inject({ ...p, payload });
      const r = forgedResponse.slice();
      for (let k = 0; k < 8; k++) r[k] = byte();
      limitedNet.inject({ family: 4, src: ip4(198, 51, 100, 1), dst: ip4(192, 0, 2, 1), sport: 500, dport: 500, payload: r });
      if (i % 1024 === 0) limitedNet.flush();
    }
    limitedNet.flush();
  };
  round(FLOOD / 10);
  if (lr.counters.responsesSent === 0) throw new Error('flood: the forged probes were not answered (bad forgery)');
  globalThis.gc();
  const h0 = process.memoryUsage().heapUsed;
  round(FLOOD);
  globalThis.gc();
  const h1 = process.memoryUsage().heapUsed;
  flood = {
    datagrams: 2 * FLOOD,
    heapBeforeKB: Math.round(h0 / 1024),
    heapAfterKB: Math.round(h1 / 1024),
    growthKB: Math.round((h1 - h0) / 1024),
    responder: { received: lr.counters.cipsNumTEDProbesReceived, answered: lr.counters.responsesSent, rateLimited: lr.counters.probeRateLimited, sizes: lr.sizes() },
    initiator: { unknownCookie: li.counters.responseUnknownCookie, sizes: li.sizes() },
  };
}

const host = machine();
const report = {
  suite: 'ted',
  title: 'Discovery engine: data path with tunnels up, responder probe handling',
  date: new Date().toISOString(),
  ...host,
  entries: ENTRIES,
  tunnels,
  flows: FLOWS,
  setup: { discoveries: ENTRIES * RESPONDERS, ms: Math.round(setupMs) },
  flowCache: { hits: hits0, misses: initiator.counters.flowCacheMisses },
  responder: { answered: responder.counters.responsesSent, rateLimited: responder.counters.probeRateLimited },
  flood,
  rows,
  notes: [
    `${tunnels} tunnels discovered through the in-memory network at set-up (${ENTRIES} initiator entries x ${RESPONDERS} responders); ${FLOWS} flows replayed in batches, flow cache ${1 << 17} slots.`,
    'cpu_per_s = items per second of this process\'s CPU time (user + system, GC threads included), the per-core figure on a shared machine; wall_per_s = tinybench median wall clock.',
    `load average at the end: ${host.loadavg.map((x) => x.toFixed(2)).join(' ')} on ${host.cores} cores.`,
    ...(flood ? [`flood: ${flood.datagrams} forged datagrams (probes from random identities, responses with random cookies): heap ${flood.heapBeforeKB} KB -> ${flood.heapAfterKB} KB after GC; responder rate table ${flood.responder.sizes.rateEntries} entries (limit 4096), initiator pending ${flood.initiator.sizes.pending}.`] : []),
  ],
};
console.log(`\n${bench.name}: ${tunnels} tunnels, ${ENTRIES}-entry ACL, ${FLOWS} flows; set-up discovered them in ${report.setup.ms} ms; Node ${process.version}, ${report.cpu}, load ${report.loadavg.join(' ')} on ${report.cores} cores (sink ${sink % 10})`);
console.table(rows);
if (flood) console.log('flood:', JSON.stringify(flood));
writeResults(report);
