// Profiling driver (not a bench suite): times wasm builds of the classifier against each other in
// one process, interleaved round by round so that load from other work hits every variant alike.
// Usage: node bench/classify-probe.mjs SET BATCH file1.wasm[,file2.wasm...] [rounds]
//   SET: acl1_1K | fw1_1K | acl1_10K | fw1_10K (../shared/data/classbench); `ts` as a file name
//   times the ts engine. Prints the median ns/packet per variant. Needs `npm run build`.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { compile, parseTrace } = await import(join(root, 'dist/classify/index.js'));
const { parseClassBench } = await import(join(root, 'dist/policy/classbench.js'));
const [set = 'acl1_1K', batchArg = '256', files = 'build/ted-simd.wasm,build/ted.wasm', roundsArg = '15'] = process.argv.slice(2);
const dir = join(root, '..', 'shared', 'data', 'classbench');
// SET_v6: the set moved into IPv6 as bench/classify.bench.mjs does (2001:db8:<v4>::/(32+len)).
const v6 = set.endsWith('_v6');
const base = v6 ? set.slice(0, -3) : set;
let policy = parseClassBench(readFileSync(join(dir, base), 'utf8'), base);
let trace = parseTrace(readFileSync(join(dir, `${base}_trace`), 'utf8'), base).batch;
if (v6) {
  const PRE = 0x20010db8n << 96n;
  const addr = (a) => ({ value: PRE | (a.value << 64n), care: (0xffffffffn << 96n) | (a.care << 64n) });
  policy = { name: set, family: 6, entries: policy.entries.map((e) => ({ ...e, family: 6, src: addr(e.src), dst: addr(e.dst) })) };
  const t6 = new trace.constructor(trace.count);
  for (let i = 0; i < trace.count; i++) {
    const t = trace.get(i);
    t6.push({ ...t, family: 6, src: PRE | (t.src << 64n) | BigInt(i * 7919), dst: PRE | (t.dst << 64n) | BigInt(i * 104729) });
  }
  trace = t6;
}
const B = Number(batchArg);

const { instantiateWasm } = await import(join(root, 'dist/wasm/load.js'));
const inst = (file) => instantiateWasm(file, true);
// A variant `FILE@DIST` compiles with the library in DIST (e.g. an older build) instead of dist/.
const libs = new Map();
async function lib(dist) {
  if (!libs.has(dist)) libs.set(dist, await import(join(dist, 'classify/index.js')));
  return libs.get(dist);
}
const variants = [];
for (const spec of files.split(',')) {
  const [f, dist] = spec.split('@');
  const comp = dist ? (await lib(dist)).compile : compile;
  const leafSize = process.env.PROBE_LEAF ? Number(process.env.PROBE_LEAF) : undefined; // tree option under test
  const c = f === 'ts' ? comp(policy, { engine: 'ts', leafSize }) : comp(policy, { engine: 'wasm', leafSize, wasm: inst(f.startsWith('/') ? f : join(root, f)) });
  const bs = [];
  for (let at = 0; at < trace.count; at += B) {
    const b = c.createBatch(B);
    const n = Math.min(B, trace.count - at);
    for (let i = 0; i < n; i++) b.set(i, trace.get(at + i));
    b.count = n;
    bs.push(b);
  }
  const pass = () => {
    for (const b of bs) c.classify(b, b.results);
  };
  for (let k = 0; k < 30; k++) pass(); // tier up
  variants.push({ f: spec, pass, t: [] });
}
// Same answers from every variant.
const ref = variants[0];
for (let r = 0; r < Number(roundsArg); r++) {
  for (const v of variants) {
    const t0 = process.hrtime.bigint();
    for (let k = 0; k < 5; k++) v.pass();
    v.t.push(Number(process.hrtime.bigint() - t0) / 5 / trace.count);
  }
}
for (const v of variants) {
  v.t.sort((a, b) => a - b);
  console.log(`${set} B=${B} ${v.f}: median ${v.t[v.t.length >> 1].toFixed(1)} ns/pkt, min ${v.t[0].toFixed(1)}`);
}
void ref;
