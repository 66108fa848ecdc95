// Classification and intersection benchmarks: ns/packet of the wasm (SIMD and scalar builds), ts
// and linear engines on the ClassBench sets acl1/fw1 at 1K and 10K rules (from ../shared, plus
// any other set with a trace there; sets of the same sizes are generated when it is absent),
// batch sizes 64, 256 and 4096; the same sets moved into IPv6; DPDK rte_acl on the same rules and
// traces (bench/rte-acl: every classify algorithm of this CPU, `best` the fastest), in the same
// run; compile time and bytes; worker-pool scaling (trace and a large capture through `ted
// classify --pcap --workers N`); intersectBatch throughput. Writes bench/classify-results.json
// and bench/classify-chart.svg.
//
// Run: npm run bench (builds first), or `node --expose-gc bench/classify.bench.mjs` after
// `npm run build`. Env: TED_BENCH_TIME_MS (measuring time per task, default 1000).
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const imp = (p) => import(join(root, 'dist', p));
const { compile } = await imp('classify/index.js');
const { benchClassify, benchPool } = await imp('classify/bench.js');
const { intersectBatch, SelectorTable } = await imp('classify/intersect.js');
const { intersect } = await imp('selector/algebra.js');
const { encodeEthernet, encodeIPv4, encodeL4 } = await imp('packet/encode.js');
const { PcapFileWriter } = await imp('pcap/writer.js');
const { benchCapturePool } = await imp('pcap/bench.js');
const { Bench } = await import('tinybench');
const { loadSet, setNames, shared } = await import('./classify-sets.mjs');
const { runAnchor } = await import('./rte-acl/anchor.mjs');

const TIME = Number(process.env.TED_BENCH_TIME_MS ?? 1000);
const NAMES = setNames();

// The scalar build, loaded explicitly (the loader picks the SIMD one on this machine).
const { instantiateWasm, WASM_BUILD_DIR } = await imp('wasm/load.js');
const scalar = instantiateWasm(join(WASM_BUILD_DIR, 'ted.wasm'), false);

const load = (name) => loadSet(name);

const rows = [];
const builds = [];
const notes = [];
const anchor = [];
for (const name of NAMES) {
  const { policy, trace, expected, source } = load(name);
  process.stderr.write(`classify: ${name} (${policy.entries.length} rules, ${trace.count} packets, ${source})\n`);
  // Build time (median of 5) and the heap it takes, per engine family of structure.
  for (const engine of ['wasm', 'ts']) {
    const times = [];
    let heap = 0;
    let bytes = 0;
    for (let k = 0; k < 5; k++) {
      globalThis.gc?.();
      const before = process.memoryUsage();
      const c = compile(policy, { engine });
      const after = process.memoryUsage();
      heap = Math.max(heap, after.heapUsed + after.arrayBuffers - before.heapUsed - before.arrayBuffers);
      times.push(c.buildMs);
      bytes = c.bytes;
      c.dispose?.();
    }
    times.sort((a, b) => a - b);
    builds.push({ set: name, rules: policy.entries.length, engine, build_ms: round(times[2]), bytes, heap_delta_bytes: heap });
  }
  for (const batch of [64, 256, 4096]) {
    const engines = batch === 256 ? ['wasm', 'ts', 'linear'] : ['wasm', 'ts'];
    // The scalar (non-SIMD) build is measured through the same API, interleaved with the others.
    for (const r of await benchClassify(policy, trace, { engines, batchSize: batch, timeMs: TIME, extra: [{ name: 'wasm-scalar', wasm: scalar }] })) {
      rows.push({ set: name, rules: r.rules, packets: trace.count, source, ...r });
    }
  }
  // DPDK rte_acl on the same rules and trace, batch 256, every algorithm this CPU offers.
  if (expected.every((x) => x >= 0)) {
    const a = runAnchor(policy, trace, expected, { batch: 256, timeMs: TIME * 3, rounds: 5 });
    if (a.skipped) {
      process.stderr.write(`classify: rte_acl skipped: ${a.skipped}\n`);
      if (!notes.some((x) => x.startsWith('DPDK rte_acl not measured'))) notes.push(`DPDK rte_acl not measured: ${a.skipped}`);
    } else {
      for (const x of a.algs) anchor.push({ set: name, rules: policy.entries.length, alg: x.alg, supported: x.supported, mismatches: x.mismatches, ns_per_pkt: x.ns_per_pkt, build_ms: a.build.build_ms, bytes: a.build.bytes, dpdk: a.version });
      if (a.best) anchor.push({ set: name, rules: policy.entries.length, alg: 'best', best_of: a.best.alg, ns_per_pkt: a.best.ns_per_pkt, build_ms: a.build.build_ms, bytes: a.build.bytes, dpdk: a.version });
    }
  }
}

// IPv6: acl1_1K and fw1_1K moved into IPv6 (each IPv4 prefix a/len becomes 2001:db8:a::/(32+len)
// in bits 64..95, /64 for a host; trace addresses get random low 64 bits), so the expected
// answers are the IPv4 ones.
const v6rows = [];
for (const name of ['acl1_1K', 'fw1_1K']) {
  const set = `${name}_v6`;
  const { policy, trace } = load(set);
  process.stderr.write(`classify: ${set} (${policy.entries.length} IPv6 rules, ${trace.count} packets)\n`);
  for (const x of await benchClassify(policy, trace, { engines: ['wasm', 'ts', 'linear'], batchSize: 256, timeMs: TIME, extra: [{ name: 'wasm-scalar', wasm: scalar }] })) {
    v6rows.push({ set, rules: x.rules, packets: trace.count, source: `${name} moved into IPv6`, ...x });
  }
}
rows.push(...v6rows);

// Intersection: one proxy against every entry of acl1_1K and fw1_10K (the TED responder's work).
const inter = [];
for (const name of ['acl1_1K', 'fw1_10K']) {
  const { policy } = load(name);
  const entries = policy.entries;
  const proxy = entries[Math.floor(entries.length / 2)];
  const lefts = entries.map((_, i) => entries[(i * 7919) % entries.length]);
  const bench = new Bench({ time: TIME, warmupTime: 200 });
  const status = new Uint8Array(entries.length);
  bench.add('reference|entries.map((e) => intersect(proxy, e))', () => entries.map((e) => intersect(proxy, e)));
  bench.add('reference|pairs: lefts.map((l, i) => intersect(l, entries[i]))', () => lefts.map((l, i) => intersect(l, entries[i])));
  for (const engine of ['wasm', 'ts']) {
    const table = new SelectorTable(entries, { engine });
    bench.add(`${engine}|intersectBatch(proxy, entries), same array each call`, () => intersectBatch(proxy, entries, { engine }));
    bench.add(`${engine}|intersectBatch(proxy, entries.slice()), a new array each call`, () => intersectBatch(proxy, entries.slice(), { engine }));
    bench.add(`${engine}|intersectBatch(lefts, entries), pairs`, () => intersectBatch(lefts, entries, { engine }));
    bench.add(`${engine}|SelectorTable.intersect(proxy)`, () => table.intersect(proxy));
    bench.add(`${engine}|SelectorTable.status(proxy) (no selectors built)`, () => table.status(proxy, status));
  }
  await bench.run();
  for (const t of bench.tasks) {
    const ns = (t.result.latency.p50 * 1e6) / entries.length;
    const [engine, call] = t.name.split('|');
    inter.push({ set: name, entries: entries.length, call, engine, ns_per_pair: round(ns), mpairs_per_s: round(1e3 / ns) });
  }
}

function round(x) {
  return Math.round(x * 100) / 100;
}

// Worker pools: aggregate Mpps of 1..N workers (N = this machine's cores) and of one classifier
// in this thread, on the 10K traces (pool.classify over the whole trace per pass), and on a large
// capture: once through the CLI, a fresh process per pass (`ted classify --pcap FILE [--workers
// N]`: the workers read, decode and classify their chunks of the file; its decode+classify wall
// time, start-up and compile excluded), and pass after pass on pools kept for the run (`ted bench
// classify --pcap`: what a long-lived process reaches).
const cores = Math.max(1, availableParallelism());
const workerCounts = Array.from({ length: cores }, (_, i) => i + 1);
const scaling = [];
for (const name of ['acl1_10K', 'fw1_10K']) {
  const { policy, trace } = load(name);
  process.stderr.write(`classify: pool scaling on ${name}, 1..${cores} workers\n`);
  for (const r of await benchPool(policy, trace, { workers: workerCounts, timeMs: TIME })) scaling.push({ input: `${name} trace`, rules: policy.entries.length, ...r });
}
const CAPTURE_FRAMES = Number(process.env.TED_BENCH_CAPTURE_FRAMES ?? 2_000_000);
// Fresh processes per worker count, taking turns: the median of this many.
const CLI_ROUNDS = 7;
if (!existsSync(join(shared, 'fw1_10K'))) notes.push('The capture scaling rows need ../shared/data/classbench/fw1_10K: not measured.');
else {
  const name = 'fw1_10K';
  const { policy, trace } = load(name);
  const dir = mkdtempSync(join(tmpdir(), 'ted-classify-bench-'));
  try {
    // Ethernet/IPv4 frames of the trace's tuples (TCP/UDP headers, other protocols bare).
    const frames = [];
    for (let i = 0; i < trace.count; i++) {
      const t = trace.get(i);
      const l4 = encodeL4({ protocol: t.protocol, sport: t.sport, dport: t.dport, payload: new Uint8Array(8) }, 4, t.src, t.dst);
      frames.push(encodeEthernet({}, encodeIPv4({ src: t.src, dst: t.dst, protocol: t.protocol, payload: l4 })));
    }
    const file = join(dir, 'capture.pcap');
    const w = new PcapFileWriter(file, { linkType: 1 });
    for (let i = 0; i < CAPTURE_FRAMES; i++) w.write({ data: frames[i % frames.length], tsSec: 1700000000 + Math.floor(i / 1000), tsNsec: 0 });
    w.close();
    const rulesFile = join(dir, 'rules');
    writeFileSync(rulesFile, readFileSync(join(shared, name), 'utf8'));
    const runs = [undefined, ...workerCounts];
    const ms = new Map(runs.map((r) => [r, []]));
    process.stderr.write(`classify: ted classify --pcap, ${CAPTURE_FRAMES} frames, ${name}\n`);
    for (let round = 0; round < CLI_ROUNDS; round++) {
      for (const n of runs) {
        const r = spawnSync(process.execPath, [join(root, 'dist', 'cli', 'main.js'), 'classify', '--policy', rulesFile, '--pcap', file, '--json', ...(n ? ['--workers', String(n)] : [])], { encoding: 'utf8' });
        if (r.status !== 0) throw new Error(`ted classify --pcap failed: ${r.stderr}`);
        ms.get(n).push(JSON.parse(r.stdout).capture.elapsedMs);
      }
    }
    const med = (a) => a.sort((x, y) => x - y)[a.length >> 1];
    const base = CAPTURE_FRAMES / med(ms.get(1)) / 1e3;
    for (const n of runs) {
      const t = med(ms.get(n));
      const mpps = round(CAPTURE_FRAMES / t / 1e3);
      scaling.push({ input: `${CAPTURE_FRAMES / 1e6}M-frame capture, ted classify --pcap`, rules: policy.entries.length, workers: n ?? 0, engine: 'wasm', ms_per_pass: round(t), mpps, scaling: n ? round(mpps / base) : 0, packets: CAPTURE_FRAMES, passes: CLI_ROUNDS });
    }
    process.stderr.write(`classify: ted bench classify --pcap, ${CAPTURE_FRAMES} frames, ${name}\n`);
    for (const r of await benchCapturePool(policy, file, { workers: workerCounts, timeMs: 4 * TIME })) {
      scaling.push({ input: `${CAPTURE_FRAMES / 1e6}M-frame capture, long-lived pools`, rules: policy.entries.length, workers: r.workers, engine: r.engine, ms_per_pass: r.ms_per_pass, mpps: r.mpps, scaling: r.workers ? r.scaling : 0, packets: r.frames, passes: r.passes });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// Ratios in this run, batch 256.
const at256 = (set, engine) => rows.find((r) => r.set === set && r.engine === engine && r.batch === 256)?.ns_per_pkt;
const best = (set) => anchor.find((a) => a.set === set && a.alg === 'best');
const ratios = [...NAMES.map((s) => [s]), ...v6rows.filter((x) => x.engine === 'wasm').map((x) => [x.set])].map(([set]) => ({
  set,
  ts_over_wasm: round(at256(set, 'ts') / at256(set, 'wasm')),
  linear_over_wasm: round(at256(set, 'linear') / at256(set, 'wasm')),
  scalar_over_simd: at256(set, 'wasm-scalar') ? round(at256(set, 'wasm-scalar') / at256(set, 'wasm')) : undefined,
  rte_acl_best: best(set) ? `${best(set).ns_per_pkt} (${best(set).best_of})` : undefined,
  wasm_over_rte_acl_best: best(set) ? round(at256(set, 'wasm') / best(set).ns_per_pkt) : undefined,
  v6_over_v4: set.endsWith('_v6') ? round(at256(set, 'wasm') / at256(set.slice(0, -3), 'wasm')) : undefined,
}));
notes.push("ns/packet: engines are measured in 3 interleaved rounds (heap settled before each), the figure is the median of the rounds' tinybench medians of passes over the whole trace (the linear scan uses a prefix of the 10K traces); the packets are already in each engine's batches, as a packet decoder leaves them.");
notes.push('DPDK rte_acl: bench/rte-acl/harness.c (compiled at bench time against the installed DPDK) builds one context from the same parsed rules (priority: the lowest ordinal first; categories 1), checks every result against the trace, and times rte_acl_classify over the trace in batches of 256 (5 rounds, median) per algorithm; `best` is the fastest whose results all matched. EAL runs in-process without hugepages or devices (--no-huge --no-pci), with --force-max-simd-bitwidth=512 so that the AVX-512 classifiers may be chosen.');
notes.push(`Targets: wasm at or below rte_acl best on every set; ts / wasm >= 2; IPv6 >= 2x its ts twin and within 1.5x of IPv4 on the same rules; compile < 1 s and structure < 64 MB at 10K rules; pool >= 1.8x on 2 cores for a large capture. Machine: ${cores} cores, load average at the end ${loadavg().map((x) => x.toFixed(2)).join(' ')}.`);

// Chart: ns/packet (log scale) per set, one bar per engine, batch 256.
function chart() {
  const engines = ['wasm', 'wasm-scalar', 'rte_acl best', 'ts', 'linear'];
  const colors = { wasm: '#2b6cb0', 'wasm-scalar': '#63b3ed', 'rte_acl best': '#38a169', ts: '#dd6b20', linear: '#718096' };
  const value = (set, e) => (e === 'rte_acl best' ? best(set)?.ns_per_pkt : at256(set, e));
  const W = 720;
  const H = 360;
  const left = 60;
  const bottom = 300;
  const top = 30;
  const vals = rows.filter((r) => r.batch === 256).map((r) => r.ns_per_pkt);
  const lo = 10;
  const hi = 10 ** Math.ceil(Math.log10(Math.max(...vals, 100)));
  const y = (v) => bottom - ((Math.log10(Math.max(v, lo)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * (bottom - top);
  const out = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`, `<text x="${W / 2}" y="18" text-anchor="middle" font-size="14">ns/packet by rule count (batch 256, log scale; lower is better)</text>`];
  for (let d = Math.log10(lo); d <= Math.log10(hi); d++) {
    const v = 10 ** d;
    out.push(`<line x1="${left}" x2="${W - 10}" y1="${y(v)}" y2="${y(v)}" stroke="#e2e8f0"/><text x="${left - 6}" y="${y(v) + 4}" text-anchor="end">${v}</text>`);
  }
  const groupW = (W - left - 20) / NAMES.length;
  NAMES.forEach((set, g) => {
    const x0 = left + 10 + g * groupW;
    const rules = rows.find((r) => r.set === set)?.rules;
    engines.forEach((e, k) => {
      const v = value(set, e);
      if (v === undefined) return;
      const bw = (groupW - 30) / engines.length;
      const x = x0 + k * bw;
      out.push(`<rect x="${x}" y="${y(v)}" width="${bw - 2}" height="${bottom - y(v)}" fill="${colors[e]}"><title>${e} ${set}: ${v} ns</title></rect>`);
      out.push(`<text x="${x + bw / 2}" y="${y(v) - 3}" text-anchor="middle" font-size="9">${v < 100 ? v.toFixed(0) : Math.round(v)}</text>`);
    });
    out.push(`<text x="${x0 + (groupW - 30) / 2}" y="${bottom + 16}" text-anchor="middle">${set}</text><text x="${x0 + (groupW - 30) / 2}" y="${bottom + 30}" text-anchor="middle" fill="#4a5568">${rules} rules</text>`);
  });
  engines.forEach((e, k) => out.push(`<rect x="${left + 10 + k * 120}" y="${H - 16}" width="10" height="10" fill="${colors[e]}"/><text x="${left + 24 + k * 120}" y="${H - 7}">${e}</text>`));
  out.push('</svg>');
  return out.join('\n') + '\n';
}
writeFileSync(join(root, 'bench', 'classify-chart.svg'), chart());

// The section run.mjs puts into RESULTS.md.
const md = [];
md.push('![ns/packet by rule count per engine](classify-chart.svg)', '');
md.push('| set | rules | batch | engine | ns/pkt | Mpps | build ms | bytes |', '|---|---:|---:|---|---:|---:|---:|---:|');
for (const r of rows) md.push(`| ${r.set} | ${r.rules} | ${r.batch} | ${r.engine} | ${r.ns_per_pkt} | ${r.mpps} | ${r.build_ms} | ${r.bytes} |`);
md.push('', 'DPDK rte_acl on the same rules and traces, batch 256 (same run):', '', '| set | rules | algorithm | ns/pkt | results wrong | build ms | bytes |', '|---|---:|---|---:|---:|---:|---:|');
for (const a of anchor) md.push(`| ${a.set} | ${a.rules} | ${a.alg === 'best' ? `**best** (${a.best_of})` : a.alg} | ${a.supported === false ? 'not on this CPU' : a.ns_per_pkt} | ${a.mismatches ?? ''} | ${a.build_ms} | ${a.bytes} |`);
md.push('', 'Ratios at batch 256 (same run):', '', '| set | ts / wasm | linear / wasm | scalar / SIMD wasm | rte_acl best ns | wasm / rte_acl best | IPv6 / IPv4 wasm |', '|---|---:|---:|---:|---:|---:|---:|');
for (const q of ratios) md.push(`| ${q.set} | ${q.ts_over_wasm} | ${q.linear_over_wasm} | ${q.scalar_over_simd ?? ''} | ${q.rte_acl_best ?? ''} | ${q.wasm_over_rte_acl_best ?? ''} | ${q.v6_over_v4 ?? ''} |`);
md.push('', `Worker pools (same run, ${cores} cores; workers 0 = one classifier in the calling thread; scaling relative to 1 worker):`, '', '| input | rules | workers | ms per pass | Mpps | scaling |', '|---|---:|---:|---:|---:|---:|');
for (const r of scaling) md.push(`| ${r.input} | ${r.rules} | ${r.workers || 'in thread'} | ${r.ms_per_pass} | ${r.mpps} | ${r.workers ? r.scaling : ''} |`);
md.push('', 'Compile (median of 5) and the JS heap + ArrayBuffer growth while compiling:', '', '| set | rules | engine | build ms | structure bytes | heap delta bytes |', '|---|---:|---|---:|---:|---:|');
for (const b of builds) md.push(`| ${b.set} | ${b.rules} | ${b.engine} | ${b.build_ms} | ${b.bytes} | ${b.heap_delta_bytes} |`);
md.push('', 'Intersection, one proxy against every entry (`reference` = algebra.intersect on selector objects; pairs: entry i with another entry):', '', '| set | entries | call | engine | ns/pair | M pairs/s |', '|---|---:|---|---|---:|---:|');
for (const i of inter) md.push(`| ${i.set} | ${i.entries} | ${i.call} | ${i.engine} | ${i.ns_per_pair} | ${i.mpairs_per_s} |`);

writeFileSync(
  join(root, 'bench', 'classify-results.json'),
  JSON.stringify({ suite: 'classify', title: 'Classification and intersection', date: new Date().toISOString(), node: process.version, v8: process.versions.v8, loadavg: loadavg(), rows, ratios, anchor, scaling, builds, intersect: inter, notes, markdown: md.join('\n') }, null, 2) + '\n',
);
process.stderr.write('classify: wrote bench/classify-results.json and bench/classify-chart.svg\n');
