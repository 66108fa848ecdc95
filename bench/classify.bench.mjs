// Classification and intersection benchmarks: ns/packet of the wasm (SIMD and scalar builds), ts
// and linear engines on the ClassBench sets acl1/fw1 at 1K and 10K rules (from ../shared; sets of
// the same sizes are generated when it is absent), batch sizes 64, 256 and 4096; compile time and
// bytes; intersectBatch throughput. Writes bench/classify-results.json and bench/classify-chart.svg.
//
// Run: npm run bench (builds first), or `node --expose-gc bench/classify.bench.mjs` after
// `npm run build`. Env: TED_BENCH_TIME_MS (measuring time per task, default 1000).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const imp = (p) => import(join(root, 'dist', p));
const { compile } = await imp('classify/index.js');
const { benchClassify } = await imp('classify/bench.js');
const { parseTrace, TupleBatch } = await imp('classify/index.js');
const { intersectBatch, SelectorTable } = await imp('classify/intersect.js');
const { parseClassBench } = await imp('policy/classbench.js');
const { intersect } = await imp('selector/algebra.js');
const { Bench } = await import('tinybench');

const TIME = Number(process.env.TED_BENCH_TIME_MS ?? 1000);
const shared = join(root, '..', 'shared', 'data', 'classbench');
const SETS = [
  ['acl1_1K', 916],
  ['fw1_1K', 791],
  ['acl1_10K', 9603],
  ['fw1_10K', 9311],
];

// The scalar build, loaded explicitly (the loader picks the SIMD one on this machine).
const { instantiateWasm, WASM_BUILD_DIR } = await imp('wasm/load.js');
const scalar = instantiateWasm(join(WASM_BUILD_DIR, 'ted.wasm'), false);

// Deterministic generator for when ../shared is absent: prefixes and port ranges in the spirit of
// ClassBench (acl-like: specific addresses, exact ports; fw-like: many wildcards and ranges).
function rng(seed) {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}
function generated(name, n) {
  const r = rng(n * 7 + name.length);
  const fw = name.startsWith('fw');
  const lines = [];
  const ip = () => [0, 0, 0, 0].map(() => Math.floor(r() * 256)).join('.');
  const len = () => (fw && r() < 0.4 ? 0 : [8, 16, 24, 28, 32][Math.floor(r() * 5)]);
  const ports = () => {
    const k = r();
    if (k < (fw ? 0.5 : 0.3)) return '0 : 65535';
    if (k < 0.8) {
      const p = Math.floor(r() * 65536);
      return `${p} : ${p}`;
    }
    const a = Math.floor(r() * 65536);
    return `${a} : ${Math.min(65535, a + Math.floor(r() * 4096))}`;
  };
  for (let i = 0; i < n; i++) lines.push(`@${ip()}/${len()} ${ip()}/${len()} ${ports()} ${ports()} ${r() < 0.2 ? '0x00/0x00' : r() < 0.6 ? '0x06/0xFF' : '0x11/0xFF'}`);
  const policy = parseClassBench(lines.join('\n') + '\n', name);
  // Trace: tuples inside random entries, plus some random ones.
  const trace = new TupleBatch(n * 10);
  for (let i = 0; i < n * 10; i++) {
    const e = policy.entries[Math.floor(r() * n)];
    const rand = () => BigInt(Math.floor(r() * 2 ** 32));
    const pick = (set) => set[0].lo + Math.floor(r() * (set[0].hi - set[0].lo + 1));
    trace.push({ family: 4, protocol: e.protocol || 6, src: e.src.value | (rand() & ~e.src.care & 0xffffffffn), dst: e.dst.value | (rand() & ~e.dst.care & 0xffffffffn), sport: pick(e.sport), dport: pick(e.dport), hasPorts: true });
  }
  return { policy, trace };
}

function load(name, n) {
  const rules = join(shared, name);
  const tr = join(shared, `${name}_trace`);
  if (existsSync(rules) && existsSync(tr)) {
    return { policy: parseClassBench(readFileSync(rules, 'utf8'), name), trace: parseTrace(readFileSync(tr, 'utf8'), tr).batch, source: 'ClassBench (../shared)' };
  }
  return { ...generated(name, n), source: 'generated (../shared absent)' };
}

const rows = [];
const builds = [];
const notes = [];
for (const [name, n] of SETS) {
  const { policy, trace, source } = load(name, n);
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
}

// IPv6: acl1_1K and fw1_1K moved into IPv6 (each IPv4 prefix a/len becomes 2001:db8:a::/(32+len)
// in bits 64..95, /64 for a host; trace addresses get random low 64 bits), so the expected
// answers are the IPv4 ones.
const v6rows = [];
for (const [name, n] of [SETS[0], SETS[1]]) {
  const { policy, trace } = load(name, n);
  const r = rng(17);
  const PRE = 0x20010db8n << 96n;
  const addr = (a) => ({ value: PRE | (a.value << 64n), care: (0xffffffffn << 96n) | (a.care << 64n) });
  const entries = policy.entries.map((e) => ({ ...e, family: 6, src: addr(e.src), dst: addr(e.dst) }));
  const low = () => (BigInt(Math.floor(r() * 2 ** 32)) << 32n) | BigInt(Math.floor(r() * 2 ** 32));
  const t6 = new TupleBatch(trace.count);
  for (let i = 0; i < trace.count; i++) {
    const t = trace.get(i);
    if (t) t6.push({ ...t, family: 6, src: PRE | (t.src << 64n) | low(), dst: PRE | (t.dst << 64n) | low() });
  }
  const set = `${name}_v6`;
  process.stderr.write(`classify: ${set} (${entries.length} IPv6 rules, ${t6.count} packets)\n`);
  for (const x of await benchClassify({ name: set, family: 6, entries }, t6, { engines: ['wasm', 'ts', 'linear'], batchSize: 256, timeMs: TIME, extra: [{ name: 'wasm-scalar', wasm: scalar }] })) {
    v6rows.push({ set, rules: x.rules, packets: t6.count, source: `${name} moved into IPv6`, ...x });
  }
}
rows.push(...v6rows);

// Intersection: one proxy against every entry of acl1_1K and fw1_10K (the TED responder's work).
const inter = [];
for (const [name, n] of [SETS[0], SETS[3]]) {
  const { policy } = load(name, n);
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

// Ratios in this run, batch 256.
const at256 = (set, engine) => rows.find((r) => r.set === set && r.engine === engine && r.batch === 256)?.ns_per_pkt;
const ratios = [...SETS.map(([s]) => [s]), ...v6rows.filter((x) => x.engine === 'wasm').map((x) => [x.set])].map(([set]) => ({ set, ts_over_wasm: round(at256(set, 'ts') / at256(set, 'wasm')), linear_over_wasm: round(at256(set, 'linear') / at256(set, 'wasm')), scalar_over_simd: at256(set, 'wasm-scalar') ? round(at256(set, 'wasm-scalar') / at256(set, 'wasm')) : undefined }));
notes.push('ns/packet: engines are measured in 3 interleaved rounds (heap settled before each), the figure is the median of the rounds\' tinybench medians of passes over the whole trace (the linear scan uses a prefix of the 10K traces); the packets are already in each engine\'s batches, as a packet decoder leaves them.');
notes.push('DPDK rte_acl (SSE) on this machine, from the issue: ~26 ns/pkt acl1_1K, 61 fw1_1K, 50 acl1_10K, 150-300 fw1_10K; target: wasm at most 2x those.');

// Chart: ns/packet (log scale) per set, one bar per engine, batch 256.
function chart() {
  const engines = ['wasm', 'wasm-scalar', 'ts', 'linear'];
  const colors = { wasm: '#2b6cb0', 'wasm-scalar': '#63b3ed', ts: '#dd6b20', linear: '#718096' };
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
  const groupW = (W - left - 20) / SETS.length;
  SETS.forEach(([set], g) => {
    const x0 = left + 10 + g * groupW;
    const rules = rows.find((r) => r.set === set)?.rules;
    engines.forEach((e, k) => {
      const v = at256(set, e);
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
md.push('', 'Ratios at batch 256 (same run):', '', '| set | ts / wasm | linear / wasm | scalar / SIMD wasm |', '|---|---:|---:|---:|');
for (const q of ratios) md.push(`| ${q.set} | ${q.ts_over_wasm} | ${q.linear_over_wasm} | ${q.scalar_over_simd ?? ''} |`);
md.push('', 'Compile (median of 5) and the JS heap + ArrayBuffer growth while compiling:', '', '| set | rules | engine | build ms | structure bytes | heap delta bytes |', '|---|---:|---|---:|---:|---:|');
for (const b of builds) md.push(`| ${b.set} | ${b.rules} | ${b.engine} | ${b.build_ms} | ${b.bytes} | ${b.heap_delta_bytes} |`);
md.push('', 'Intersection, one proxy against every entry (`reference` = algebra.intersect on selector objects; pairs: entry i with another entry):', '', '| set | entries | call | engine | ns/pair | M pairs/s |', '|---|---:|---|---|---:|---:|');
for (const i of inter) md.push(`| ${i.set} | ${i.entries} | ${i.call} | ${i.engine} | ${i.ns_per_pair} | ${i.mpairs_per_s} |`);

writeFileSync(
  join(root, 'bench', 'classify-results.json'),
  JSON.stringify({ suite: 'classify', title: 'Classification and intersection', date: new Date().toISOString(), node: process.version, v8: process.versions.v8, rows, ratios, builds, intersect: inter, notes, markdown: md.join('\n') }, null, 2) + '\n',
);
process.stderr.write('classify: wrote bench/classify-results.json and bench/classify-chart.svg\n');
