// Floods (issue 15), through the in-memory network, per core (CPU time of this process):
//  1. the responder: probes/s with a fresh random initiator ID per probe versus 1,000 initiators
//     (same run, answer budgets engaged but never refusing, so both rows answer every probe), the
//     refusal path once the default budgets are spent, and the rate limiter alone: the LRU over a
//     Map it replaced versus the hashed table of buckets, under random IDs. Target (issue 16 item
//     4): >= 500,000 probes/s with random IDs.
//  2. the cost of a flow-cache miss by tunnel count (one ACL entry, tunnels narrowed to /24s):
//     the tunnel index versus a scan of every tunnel of the entry (what the miss path did before).
//  3. log lines per flood packet at info level (forged probes with random IDs to a responder,
//     forged responses to an initiator), and at debug for comparison.
//  4. time to a genuine discovery while a LAN host sends to 100,000 new destinations a second,
//     with the per-source quotas and without them (same run).
//  5. `ted pcap info` on a pcapng with 30,000 interface blocks.
//
// Run: npm run bench (builds first), or `node --expose-gc bench/floods.bench.mjs` after
// `npm run build`. Writes bench/floods-results.json. Env: TED_BENCH_TIME_MS (per task, default 1000).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cpuRate, machine, root, writeResults } from './support.mjs';

const imp = (p) => import(join(root, 'dist', p));
const { createGateway } = await imp('ted/gateway.js');
const { ManualClock } = await imp('ted/clock.js');
const { ikeWire } = await imp('ted/ike-wire.js');
const { answerPadding } = await imp('ike/ted.js');
const { MemoryNetwork } = await imp('transport/memory.js');
const { parseCisco } = await imp('policy/index.js');
const { compile } = await imp('classify/index.js');
const { createLogger, flushLogger } = await imp('daemon/log.js');
const { EventLog } = await imp('daemon/event-log.js');
const { captureInfo } = await imp('cli/commands/pcap.js');
const { writePcapng } = await imp('pcap/pcapng-writer.js');
const { encodeUdpPacket } = await imp('packet/encode.js');

const TIME = Number(process.env.TED_BENCH_TIME_MS ?? 1000);
const ip4 = (a, b, c, d) => BigInt(((a << 24) | (b << 16) | (c << 8) | d) >>> 0);
const claim = (value, bits, port) => ({ family: 4, value, care: bits === 0 ? 0n : ((1n << 32n) - 1n) ^ ((1n << BigInt(32 - bits)) - 1n), port });
let seed = 12345;
const rnd = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0);
/** A random unicast IPv4 address (1.0.0.0 - 223.255.255.255, not 127/8, not 169.254/16). */
const unicast = () => {
  for (;;) {
    const a = (rnd() % 0xdf000000) + 0x01000000;
    if (a >>> 24 !== 127 && a >>> 16 !== 0xa9fe) return a >>> 0;
  }
};
const host = machine();
const md = [];
const notes = [];
const fmt = (n) => Math.round(n).toLocaleString('en-US');

// ------------------------------------------------------------------ 1. responder
const B_ACL = 'access-list 101 permit ip 20.0.0.0 0.0.255.255 10.0.0.0 0.255.255.255\n';
function responderOn(net, clock, rateLimit) {
  const policy = parseCisco(B_ACL);
  return createGateway({ role: 'responder', policy, localAddress: '198.51.100.1', transport: net.attach([claim(ip4(198, 51, 100, 1), 32, 500), claim(ip4(20, 0, 0, 0), 16, 500)]), clock, wire: ikeWire, rateLimit, classifier: compile(policy, { engine: 'wasm' }) });
}
// Probes as our initiators send them (padded); the ID sits at bytes 60..63 (header 28, Vendor ID 24, ID payload header 8).
const PROBES = 8192;
const probes = [];
for (let i = 0; i < PROBES; i++) {
  const p = { icookie: (BigInt(rnd()) << 16n) | 1n, capabilities: 0, id: { family: 4, address: BigInt(unicast()) }, summary: { tedVersion: 3, family: 4, protocol: 6, src: ip4(10, 1, i >> 8, i & 255), dst: ip4(20, 0, 1, 1), sport: 40000, dport: 80 } };
  probes.push({ family: 4, src: p.summary.src, dst: p.summary.dst, sport: 40000, dport: 500, payload: ikeWire.encodeProbe({ ...p, padding: answerPadding(p) }) });
}
const setId = (b, a) => {
  b[60] = a >>> 24;
  b[61] = a >>> 16;
  b[62] = a >>> 8;
  b[63] = a;
};
const INITIATORS = Array.from({ length: 1000 }, () => unicast());
const open = { responsesPerSecond: 1e6, burst: 1e6, prefixResponsesPerSecond: 1e6, prefixBurst: 1e6, globalResponsesPerSecond: Infinity };
const resp = {};
for (const [name, rateLimit, ids] of [
  ['random IDs', open, 'random'],
  ['1,000 initiators', open, 'fixed'],
  ['random IDs, default budgets (spent: every probe refused)', {}, 'random'],
]) {
  const net = new MemoryNetwork();
  const gw = responderOn(net, new ManualClock(0), rateLimit);
  let k = 0;
  const call = () => {
    for (const p of probes) {
      setId(p.payload, ids === 'random' ? unicast() : INITIATORS[k++ % 1000]);
      net.inject(p);
    }
    net.flush();
  };
  const rate = cpuRate(call, PROBES, TIME);
  const c = gw.counters;
  resp[name] = { rate, answered: c.responsesSent, received: c.cipsNumTEDProbesReceived, refused: c.probeRateLimited + c.probePrefixLimited + c.probeGlobalLimited };
}
// The rate limiter alone: an LRU over a Map (what the responder had: delete + re-insert on a hit,
// evict the oldest key when full) against the hashed table, 65,536 buckets, fresh random keys.
class LruLimiter {
  constructor(max, perSecond, burst) {
    Object.assign(this, { max, perSecond, burst, m: new Map() });
  }
  take(key, now) {
    let b = this.m.get(key);
    if (b) {
      this.m.delete(key);
      b.tokens = Math.min(this.burst, b.tokens + ((now - b.at) * this.perSecond) / 1000);
      b.at = now;
    } else {
      if (this.m.size >= this.max) this.m.delete(this.m.keys().next().value);
      b = { tokens: this.burst, at: now };
    }
    this.m.set(key, b);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }
}
const { BucketTable } = await imp('ted/rate-limit.js');
const { Tunnel } = await imp('ted/tunnels.js');
const KEYS = 65536;
const keys = Array.from({ length: KEYS }, () => unicast());
const lru = new LruLimiter(65536, 20, 40);
const table = new BucketTable({ perSecond: 20, burst: 40, slots: 65536 });
// Fill both first (the LRU's cost is eviction, which starts when it is full).
for (let i = 0; i < 70000; i++) {
  lru.take(BigInt(unicast()), 0);
  table.take(table.slot4(unicast()), 0);
}
let sink = 0;
const lruRate = cpuRate(() => {
  for (let i = 0; i < KEYS; i++) sink += lru.take(BigInt(keys[i] ^ rnd()), 0) ? 1 : 0;
}, KEYS, TIME);
const tableRate = cpuRate(() => {
  for (let i = 0; i < KEYS; i++) sink += table.take(table.slot4(keys[i] ^ rnd()), 0) ? 1 : 0;
}, KEYS, TIME);
// Memory under 1,000,000 forged probes with random IDs (default budgets), heap after a full GC.
let heap;
if (typeof globalThis.gc === 'function') {
  const net = new MemoryNetwork();
  const gw = responderOn(net, new ManualClock(0), {});
  const round = (n) => {
    for (let i = 0; i < n; i++) {
      const p = probes[i % PROBES];
      setId(p.payload, unicast());
      net.inject(p);
      if (i % PROBES === PROBES - 1) net.flush();
    }
    net.flush();
  };
  round(100_000);
  globalThis.gc();
  const h0 = process.memoryUsage().heapUsed;
  round(1_000_000);
  globalThis.gc();
  heap = { beforeKB: Math.round(h0 / 1024), afterKB: Math.round(process.memoryUsage().heapUsed / 1024), answered: gw.counters.responsesSent, sizes: gw.sizes() };
}
const target = resp['random IDs'].rate >= 500_000;
md.push(
  '### Responder, probes per second per core',
  '',
  '| probes | probes/s (CPU) | answered / received |',
  '|---|---:|---:|',
  ...Object.entries(resp).map(([k, v]) => `| ${k} | ${fmt(v.rate)} | ${fmt(v.answered)} / ${fmt(v.received)} |`),
  '',
  `Random IDs / 1,000 initiators: ${(resp['random IDs'].rate / resp['1,000 initiators'].rate).toFixed(2)}. Target >= 500,000 probes/s with random IDs: ${target ? 'met' : 'not met'}.`,
  '',
  '| rate limiter alone, fresh random IDs, 65,536 buckets | takes/s (CPU) | ns/take |',
  '|---|---:|---:|',
  `| LRU over a Map (before) | ${fmt(lruRate)} | ${(1e9 / lruRate).toFixed(0)} |`,
  `| hashed table of token buckets (now) | ${fmt(tableRate)} | ${(1e9 / tableRate).toFixed(0)} |`,
  '',
);
if (heap) notes.push(`1,000,000 forged probes with random IDs (default budgets): heap ${fmt(heap.beforeKB)} KB -> ${fmt(heap.afterKB)} KB after GC; ${fmt(heap.answered)} answered (the global burst: the clock does not move); rate buckets in use ${fmt(heap.sizes.rateEntries)} of 65,536.`);

// ------------------------------------------------------------------ 2. miss cost by tunnel count
const A_POLICY = parseCisco('ip access-list extended A\n permit tcp 10.1.0.0 0.0.255.255 20.0.0.0 0.255.255.255\n');
const B2_POLICY = parseCisco('access-list 101 permit tcp 20.0.0.0 0.255.255.255 10.1.0.0 0.0.255.255\n');
const A_CLASSIFIER = compile(A_POLICY, { engine: 'wasm' });
const B2_CLASSIFIER = compile(B2_POLICY, { engine: 'wasm' });
const misses = [];
for (const N of [100, 1000, 10_000, 50_000]) {
  const clock = new ManualClock(0);
  const net = new MemoryNetwork();
  const big = { maxPendingProbes: 65536, maxPendingPerSource: 65536, maxTunnels: 65536 };
  createGateway({ role: 'responder', policy: B2_POLICY, classifier: B2_CLASSIFIER, localAddress: '198.51.100.1', transport: net.attach([claim(ip4(198, 51, 100, 1), 32, 500), claim(ip4(20, 0, 0, 0), 8, 500)]), clock, wire: ikeWire, rateLimit: { responsesPerSecond: Infinity, prefixResponsesPerSecond: Infinity, globalResponsesPerSecond: Infinity } });
  const a = createGateway({
    role: 'initiator',
    policy: A_POLICY,
    classifier: A_CLASSIFIER,
    localAddress: '192.0.2.1',
    transport: net.attach([claim(ip4(192, 0, 2, 1), 32, 500)]),
    clock,
    wire: ikeWire,
    // A tiny flow cache: every measured packet misses it.
    limits: { ...big, flowCacheEntries: 16 },
    timers: { tunnelIdleMs: Infinity, tunnelLifetimeMs: Infinity },
    discovery: { destinationPrefix4: 24 },
  });
  const dstOf = (k) => ip4(20, (k >> 8) & 255, k & 255, 1);
  const setup = a.createBatch(N);
  for (let k = 0; k < N; k++) setup.push({ family: 4, protocol: 6, src: ip4(10, 1, k & 255, 1), dst: dstOf(k), sport: 1024, dport: 80, hasPorts: true });
  a.process(setup);
  net.flush();
  if (a.sizes().tunnels !== N) throw new Error(`miss bench: ${a.sizes().tunnels} tunnels, expected ${N}`);
  const P = 256;
  const batch = a.createBatch(P);
  const tuples = [];
  for (let i = 0; i < P; i++) {
    const k = rnd() % N;
    const t = { family: 4, protocol: 6, src: ip4(10, 1, rnd() & 255, rnd() & 255), dst: dstOf(k) + BigInt(rnd() % 200), sport: 1024, dport: 443, hasPorts: true };
    tuples.push(t);
    batch.push(t);
  }
  let sp = 0;
  const miss = cpuRate(() => {
    for (let i = 0; i < P; i++) batch.sport[i] = (sp = (sp + 1) & 0xffff);
    const v = a.process(batch);
    if (v.verdict[0] !== 1) throw new Error('miss bench: packet not forwarded');
  }, P, TIME);
  // The miss path before the index: every tunnel of the entry tested in turn (Tunnel.matches4,
  // in the order they were added) until one covers the packet.
  const list = a.tunnels().map((t) => new Tunnel(t.id, 0, t.peer, t.proxy, t.entry, t.icookie, t.rcookie, 3, 0, 0, tuples[0]));
  const S = N >= 10_000 ? 16 : P;
  const scan = cpuRate(() => {
    for (let i = 0; i < S; i++) {
      const t = tuples[i];
      const d = Number(t.dst) >>> 0;
      const src = Number(t.src) >>> 0;
      for (const x of list) if (x.matches4(src, d, 1234, 443, 6, true)) break;
    }
  }, S, TIME);
  misses.push({ N, miss, scan });
}
md.push(
  '### Flow-cache miss by tunnel count (one ACL entry, tunnels narrowed to /24s)',
  '',
  '| tunnels | process() per missing packet, ns (index) | scan of every tunnel, ns (before) | scan / index |',
  '|---:|---:|---:|---:|',
  ...misses.map((m) => `| ${fmt(m.N)} | ${(1e9 / m.miss).toFixed(0)} | ${fmt(1e9 / m.scan)} | ${(m.miss / m.scan).toFixed(1)} |`),
  '',
);
notes.push('Miss rows: the whole process() per packet (classification, flow-cache miss, index lookup, flow-cache write, verdict) against the bare loop the miss path ran before (address tests only, until the first cover: a lower bound of its cost).');

// ------------------------------------------------------------------ 3. log lines per flood packet
function logFlood(level) {
  let lines = 0;
  const sink = { write: (chunk, done) => ((lines += chunk.split('\n').length - 1), done()) };
  const clock = new ManualClock(0);
  const net = new MemoryNetwork();
  const policy = parseCisco(B_ACL);
  const logger = createLogger({ level, sink, pretty: 'never' });
  const events = new EventLog(logger, { intervalMs: 0 });
  createGateway({ role: 'responder', policy, classifier: compile(policy, { engine: 'wasm' }), localAddress: '198.51.100.1', transport: net.attach([claim(ip4(198, 51, 100, 1), 32, 500), claim(ip4(20, 0, 0, 0), 16, 500)]), clock, wire: ikeWire, onEvent: (e) => events.handle(e) });
  createGateway({ role: 'initiator', policy: A_POLICY, classifier: A_CLASSIFIER, localAddress: '192.0.2.1', transport: net.attach([claim(ip4(192, 0, 2, 1), 32, 500)]), clock, wire: ikeWire, onEvent: (e) => events.handle(e) });
  const forged = ikeWire.encodeResponse({ icookie: 1n, rcookie: 2n, capabilities: 0, id: { family: 4, address: ip4(198, 51, 100, 1) }, proxy: { family: 4, protocol: 0, src: { value: 0n, care: 0n }, dst: { value: 0n, care: 0n }, sport: [{ lo: 0, hi: 65535 }], dport: [{ lo: 0, hi: 65535 }] } });
  const FLOOD = 100_000;
  for (let i = 0; i < FLOOD; i++) {
    const p = probes[i % PROBES];
    setId(p.payload, unicast());
    net.inject(p);
    const r = forged.slice();
    setId(r, rnd());
    net.inject({ family: 4, src: ip4(198, 51, 100, 1), dst: ip4(192, 0, 2, 1), sport: 500, dport: 500, payload: r });
    if (i % 1000 === 999) {
      net.flush();
      clock.advance(10); // 100,000 of each in 1 s
    }
  }
  net.flush();
  events.close();
  return flushLogger(logger, 5000).then(() => ({ level, packets: 2 * FLOOD, lines }));
}
const logs = [await logFlood('info'), await logFlood('debug')];
md.push(
  '### Log lines per flood packet (100,000 forged probes with random IDs + 100,000 forged responses, 1 s)',
  '',
  '| level | packets | lines | lines per packet |',
  '|---|---:|---:|---:|',
  ...logs.map((l) => `| ${l.level} | ${fmt(l.packets)} | ${fmt(l.lines)} | ${(l.lines / l.packets).toFixed(5)} |`),
  '',
);
notes.push('At info every per-datagram event is counted into one summary line per kind at the end of each interval (here: one interval); before, the responder wrote 1.5 info lines per forged probe and the initiator one warning per refused packet, synchronously.');

// ------------------------------------------------------------------ 4. genuine discovery during a DROP storm
const SITE = parseCisco('access-list 101 permit tcp 20.9.0.0 0.0.255.255 10.1.0.0 0.0.255.255\n');
const SITE_CLASSIFIER = compile(SITE, { engine: 'wasm' });
function storm(limits) {
  const clock = new ManualClock(0);
  const net = new MemoryNetwork();
  const a = createGateway({ role: 'initiator', policy: A_POLICY, classifier: A_CLASSIFIER, localAddress: '192.0.2.1', transport: net.attach([claim(ip4(192, 0, 2, 1), 32, 500)]), clock, wire: ikeWire, limits });
  // The genuine host's site: 20.9/16 only (a tunnel to it must not cover the storm's destinations).
  createGateway({ role: 'responder', policy: SITE, classifier: SITE_CLASSIFIER, localAddress: '198.51.100.1', transport: net.attach([claim(ip4(198, 51, 100, 1), 32, 500), claim(ip4(20, 9, 0, 0), 16, 500)]), clock, wire: ikeWire });
  const batch = a.createBatch(100);
  const genuine = { family: 4, protocol: 6, src: ip4(10, 1, 0, 5), dst: ip4(20, 9, 0, 9), sport: 40000, dport: 80, hasPorts: true };
  let firstTry = -1;
  let forwardedAt = -1;
  const DURATION = 3000;
  const t0 = process.cpuUsage();
  // 100 packets per simulated ms from one LAN host to new destinations nobody answers for (20.64/10).
  for (let ms = 0; ms < DURATION; ms++) {
    batch.count = 0;
    for (let i = 0; i < 100; i++) batch.push({ family: 4, protocol: 6, src: ip4(10, 1, 0, 66), dst: ip4(20, 64, 0, 0) + BigInt(rnd() & 0x3fffff), sport: 1234, dport: 80, hasPorts: true });
    a.process(batch);
    if (ms >= 500 && ms % 10 === 0 && forwardedAt < 0) {
      if (firstTry < 0) firstTry = ms;
      if (a.processOne(genuine).verdict === 1) forwardedAt = ms;
    }
    net.flush();
    clock.advance(1);
    net.flush();
  }
  const c = process.cpuUsage(t0);
  return { waitMs: forwardedAt < 0 ? undefined : forwardedAt - firstTry, nsPerStormPacket: ((c.user + c.system) * 1000) / (DURATION * 100), refused: a.counters.refusedPending + a.counters.refusedPendingSource };
}
const storms = { 'per-source quotas (defaults)': storm({}), 'no quotas (one host may fill the tables)': storm({ maxPendingPerSource: 1_000_000, maxHoldDownsPerSource: 1_000_000, sourceReservePercent: 0 }) };
md.push(
  '### A genuine discovery while one LAN host sends to 100,000 new destinations a second (3 s)',
  '',
  '| tables | genuine packet forwarded after (simulated ms, tries every 10 ms from 0.5 s) | storm packets refused a probe | CPU ns per storm packet |',
  '|---|---:|---:|---:|',
  ...Object.entries(storms).map(([k, v]) => `| ${k} | ${v.waitMs === undefined ? 'never (refused throughout)' : v.waitMs} | ${fmt(v.refused)} | ${v.nsPerStormPacket.toFixed(0)} |`),
  '',
);

// ------------------------------------------------------------------ 5. pcapng interface blocks
const dir = mkdtempSync(join(tmpdir(), 'ted-floods-'));
let pcap;
try {
  const N = 30_000;
  const blocks = [];
  for (let k = 0; k < N; k++) {
    if (k > 0) {
      const body = new Uint8Array(8);
      const v = new DataView(body.buffer);
      v.setUint16(0, k % 2 ? 101 : 228, true);
      v.setUint32(4, 65535, true);
      blocks.push({ type: 1, body });
    }
    blocks.push({ interfaceId: k, data: encodeUdpPacket({ family: 4, src: 0x0a000001n, dst: 0x0a000002n + BigInt(k), sport: 1000, dport: 500, payload: new Uint8Array(4) }) });
  }
  const file = join(dir, 'ifaces.pcapng');
  writeFileSync(file, writePcapng([{ interfaces: [{ linkType: 228 }], blocks }]));
  const t0 = performance.now();
  const info = await captureInfo(file);
  pcap = { interfaces: info.interfaces.length, frames: info.frames, ms: performance.now() - t0 };
} finally {
  rmSync(dir, { recursive: true, force: true });
}
md.push(`### \`ted pcap info\` on a pcapng with 30,000 interface blocks (each followed by a packet on it)`, '', `${fmt(pcap.interfaces)} interfaces, ${fmt(pcap.frames)} frames in ${pcap.ms.toFixed(0)} ms (was about 45 s: every interface list copied per block).`, '');

const rows = [
  ...Object.entries(resp).map(([k, v]) => ({ task: `responder, ${k}`, per_s: Math.round(v.rate) })),
  { task: 'rate limiter alone: LRU over a Map (before)', per_s: Math.round(lruRate) },
  { task: 'rate limiter alone: hashed table (now)', per_s: Math.round(tableRate) },
  ...misses.map((m) => ({ task: `miss with ${m.N} tunnels (index)`, ns: Math.round(1e9 / m.miss), scan_ns: Math.round(1e9 / m.scan) })),
  ...logs.map((l) => ({ task: `log lines per flood packet (${l.level})`, value: +(l.lines / l.packets).toFixed(5) })),
  ...Object.entries(storms).map(([k, v]) => ({ task: `genuine discovery during a DROP storm, ${k}`, value: v.waitMs ?? null })),
  { task: 'pcap info, 30,000 interface blocks (ms)', value: Math.round(pcap.ms) },
];
notes.push(`load average at the end: ${host.loadavg.map((x) => x.toFixed(2)).join(' ')} on ${host.cores} cores; per-core figures are per second of this process's CPU time.`);
const report = { suite: 'floods', title: 'Floods: responder probes, rate limiter, tunnel lookups, logs, starvation, capture interfaces', date: new Date().toISOString(), ...host, rows, heap, markdown: md.join('\n'), notes, target: { responderRandomIds: 500_000, met: target } };
console.log(md.join('\n'));
for (const n of notes) console.log(`- ${n}`);
console.log(`(sink ${sink % 10})`);
writeResults(report);
