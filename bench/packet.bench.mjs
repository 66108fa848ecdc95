// Capture bytes -> 5-tuples -> classification results, on one core, 64-byte Ethernet frames.
// Compares the WebAssembly header walk with its TypeScript twin, with and without a 1K-entry
// classifier, and `tcpdump -r FILE -w /dev/null` reading the same file.
//
// Run: npm run bench (builds first), or `node bench/packet.bench.mjs` after `npm run build`.
// Writes bench/packet-results.json. Env: PACKET_BENCH_FRAMES (default 1000000).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Bench } from 'tinybench';
import { machine, root, writeResults } from './support.mjs';

const dist = (p) => join(root, 'dist', p);
const { encodeEthernet, encodeIPv4, encodeL4 } = await import(dist('packet/encode.js'));
const { PcapFileWriter } = await import(dist('pcap/writer.js'));
const { classifyCapture } = await import(dist('pcap/classify.js'));
const { writePcapng } = await import(dist('pcap/pcapng-writer.js'));

const FRAMES = Number(process.env.PACKET_BENCH_FRAMES ?? 1_000_000);
const shared = join(root, '..', 'shared', 'data', 'classbench');
const policyPath = join(shared, 'acl1_1K');
const tracePath = join(shared, 'acl1_1K_trace');

// Tuples: the ClassBench trace when present (realistic hits), else a deterministic spread.
let tuples = [];
if (existsSync(tracePath)) {
  for (const line of readFileSync(tracePath, 'utf8').split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 5) continue;
    tuples.push({ src: BigInt(f[0]), dst: BigInt(f[1]), sport: Number(f[2]), dport: Number(f[3]), proto: Number(f[4]) });
  }
} else {
  console.warn(`packet bench: ${tracePath} absent, using generated tuples`);
  for (let i = 0; i < 10000; i++) tuples.push({ src: BigInt((i * 2654435761) >>> 0), dst: BigInt((i * 40503 + 7) >>> 0), sport: i & 0xffff, dport: (i * 7) & 0xffff, proto: i % 3 === 0 ? 17 : 6 });
}

// Every frame is exactly 64 bytes (Ethernet 14 + IPv4 20 + L4 + padding payload).
function frame64(t) {
  const proto = t.proto;
  const hdr = proto === 6 ? 20 : proto === 17 ? 8 : proto === 132 ? 12 : proto === 1 ? 8 : 0;
  const payload = new Uint8Array(64 - 14 - 20 - hdr);
  const l4 = encodeL4({ protocol: proto, sport: t.sport, dport: t.dport, payload }, 4, t.src, t.dst);
  return encodeEthernet({}, encodeIPv4({ src: t.src, dst: t.dst, protocol: proto, payload: l4 }));
}

const dir = mkdtempSync(join(tmpdir(), 'ted-packet-bench-'));
const file = join(dir, 'frames64.pcap');
const frames = tuples.map(frame64);
const w = new PcapFileWriter(file, { linkType: 1 });
for (let i = 0; i < FRAMES; i++) w.write({ data: frames[i % frames.length], tsSec: 1700000000 + Math.floor(i / 1000), tsNsec: (i % 1000) * 1000 });
w.close();
const bytes = new Uint8Array(readFileSync(file));
// The same frames as pcapng (framed by the TypeScript parser, walked in one call per batch).
const ngBytes = writePcapng([{ interfaces: [{ linkType: 1 }], blocks: Array.from({ length: FRAMES }, (_, i) => ({ data: frames[i % frames.length], ticks: BigInt(i) })) }]);

// The 1K-entry classifier, when the classifier engine is built (src/classify/index.ts compile).
let compile;
try {
  ({ compile } = await import(dist('classify/index.js')));
} catch {
  compile = undefined;
}
let policy;
if (existsSync(policyPath)) {
  const { loadPolicy } = await import(dist('policy/index.js'));
  policy = loadPolicy(policyPath, { format: 'classbench' });
}
const classifiers = {};
if (compile && policy) {
  for (const engine of ['wasm', 'ts']) {
    try {
      classifiers[engine] = await compile(policy, { engine });
    } catch (e) {
      console.warn(`packet bench: compile(${engine}) failed: ${e.message}`);
    }
  }
} else console.warn('packet bench: no classifier (src/classify/index.ts compile or acl1_1K missing): decode-only figures');

async function pass(opts, input = bytes) {
  let n = 0;
  let matched = 0;
  for await (const b of classifyCapture(input, { batchSize: 4096, ...opts })) {
    n += b.count;
    if (b.results) for (let i = 0; i < b.count; i++) if (b.results[i] !== 0) matched++;
  }
  if (n !== FRAMES) throw new Error(`bench pass saw ${n} frames, expected ${FRAMES}`);
  return matched;
}

const bench = new Bench({ name: 'capture -> tuples -> results (64-byte frames)', time: 0, iterations: 10, warmupIterations: 4 });
const tasks = [
  ['decode wasm', { engine: 'wasm' }],
  ['decode ts', { engine: 'ts' }],
];
for (const [engine, cls] of Object.entries(classifiers)) {
  tasks.push([`decode wasm + classify ${engine} (acl1_1K)`, { engine: 'wasm', classifier: cls }]);
  if (engine === 'ts') tasks.push([`decode ts + classify ts (acl1_1K)`, { engine: 'ts', classifier: cls }]);
}
for (const [name, opts] of tasks) bench.add(name, () => pass(opts));
bench.add('pcapng: decode wasm', () => pass({ engine: 'wasm' }, ngBytes));
bench.add('pcapng: decode ts', () => pass({ engine: 'ts' }, ngBytes));
await bench.run();

// tcpdump reading and writing the same file (its own parse loop, no classification).
let tcpdumpMs;
try {
  execFileSync('tcpdump', ['--version'], { stdio: 'ignore' });
  const runs = [];
  for (let i = 0; i < 5; i++) {
    const t0 = process.hrtime.bigint();
    const r = spawnSync('tcpdump', ['-r', file, '-w', '/dev/null'], { stdio: 'ignore' });
    const t1 = process.hrtime.bigint();
    if (r.status === 0) runs.push(Number(t1 - t0) / 1e6);
  }
  runs.sort((a, b) => a - b);
  tcpdumpMs = runs[Math.floor(runs.length / 2)];
} catch {
  console.warn('packet bench: tcpdump not installed');
}

// The CLI end to end on the same file: `ted classify --policy acl1_1K --pcap FILE --json`
// (process start, policy compile and summary included in the wall time; the capture tally times
// decode + classify only).
let cli;
if (policy && existsSync(join(root, 'dist', 'cli', 'main.js'))) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [join(root, 'dist', 'cli', 'main.js'), 'classify', '--policy', policyPath, '--format', 'classbench', '--pcap', file, '--json'], { encoding: 'utf8' });
  const wall = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status === 0) {
    const j = JSON.parse(r.stdout);
    cli = { wall_ms: wall, decode_classify_ms: j.capture?.elapsedMs, frames: j.capture?.frames };
  } else console.warn(`packet bench: ted classify --pcap failed: ${r.stderr}`);
}

const rows = bench.tasks.map((t) => {
  const ms = t.result.latency?.p50 ?? t.result.period;
  return { task: t.name, ms_per_pass: +ms.toFixed(2), mpps: +(FRAMES / ms / 1000).toFixed(2), ns_per_frame: +((ms * 1e6) / FRAMES).toFixed(1) };
});
if (tcpdumpMs !== undefined) rows.push({ task: 'tcpdump -r FILE -w /dev/null', ms_per_pass: +tcpdumpMs.toFixed(2), mpps: +(FRAMES / tcpdumpMs / 1000).toFixed(2), ns_per_frame: +((tcpdumpMs * 1e6) / FRAMES).toFixed(1) });
if (cli?.decode_classify_ms) rows.push({ task: 'ted classify --pcap (CLI, wasm; decode+classify part)', ms_per_pass: +cli.decode_classify_ms.toFixed(2), mpps: +(FRAMES / cli.decode_classify_ms / 1000).toFixed(2), ns_per_frame: +((cli.decode_classify_ms * 1e6) / FRAMES).toFixed(1) });
if (cli) rows.push({ task: 'ted classify --pcap (CLI, wall incl. start+compile)', ms_per_pass: +cli.wall_ms.toFixed(2), mpps: +(FRAMES / cli.wall_ms / 1000).toFixed(2), ns_per_frame: +((cli.wall_ms * 1e6) / FRAMES).toFixed(1) });
const wasmRow = rows.find((r) => r.task === 'decode wasm');
const tsRow = rows.find((r) => r.task === 'decode ts');
const full = rows.find((r) => r.task === 'decode wasm + classify wasm (acl1_1K)');
const report = {
  suite: 'packet',
  title: 'Captures: pcap bytes -> 5-tuples -> first-match results (64-byte Ethernet frames, one core)',
  date: new Date().toISOString(),
  ...machine(),
  frames: FRAMES,
  frame_bytes: 64,
  file_bytes: bytes.length,
  rules: policy?.entries.length,
  rows,
  ratio_wasm_vs_ts_decode: wasmRow && tsRow ? +(tsRow.ms_per_pass / wasmRow.ms_per_pass).toFixed(2) : undefined,
  ratio_tcpdump_vs_wasm_decode: wasmRow && tcpdumpMs ? +(tcpdumpMs / wasmRow.ms_per_pass).toFixed(2) : undefined,
  notes: [
    `${FRAMES} frames of 64 bytes built from the acl1_1K trace tuples; one pass = read the whole in-memory capture, walk every header, classify against ${policy?.entries.length ?? '-'} rules; median of 10 passes after 4 warm-ups.`,
    `Target: >= 5 Mpps capture -> results on one core (1K rules). Measured: ${full ? `${full.mpps} Mpps (wasm decode + wasm classify)` : 'no classifier available'}; decode alone ${wasmRow?.mpps ?? '-'} Mpps wasm vs ${tsRow?.mpps ?? '-'} ts.`,
    tcpdumpMs !== undefined ? `tcpdump -r FILE -w /dev/null on the same file: ${tcpdumpMs.toFixed(1)} ms (it reads and writes records, no header walk, no classification).` : 'tcpdump not installed.',
    'Load average at the end of the run is recorded: on the shared 2-core machine other work inflates every figure.',
  ],
};
console.log(`\n${bench.name}: ${FRAMES} frames (${(bytes.length / 1e6).toFixed(1)} MB), Node ${process.version}, ${report.cpu}`);
console.table(rows);
writeResults(report);
rmSync(dir, { recursive: true, force: true });
