// Profiling driver (not a bench suite): instructions and D1 misses per lookup of the WebAssembly
// classifier, counted by valgrind's callgrind, which is repeatable where wall-clock time on this
// shared machine is not. Node runs under callgrind twice (P and P + N passes over the trace,
// TurboFan only), and the difference of the instructions executed in JIT code, divided by N x
// packets, is the cost of one lookup (the batch loop and the host's classify() call included).
//
// Usage: node bench/classify-count.mjs SET [file.wasm|ts] [N] [BATCH]
//   SET: acl1_1K | fw1_1K | acl1_10K | fw1_10K, or SET_v6 (moved into IPv6 as the bench does).
//   Needs valgrind and `npm run build`. Env TED_COUNT_CACHE=0 skips the cache simulation.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadSet } from './classify-sets.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const [set = 'acl1_1K', file = 'build/ted-simd.wasm', nArg = '20', batchArg = '256', inner] = process.argv.slice(2);

if (inner === '--inner') {
  // The workload: compile, pack the trace into batches, classify it `passes` times.
  const passes = Number(nArg);
  const { compile } = await import(join(root, 'dist/classify/index.js'));
  const { policy, trace } = loadSet(set);
  const opts = { engine: 'ts' };
  if (file !== 'ts') {
    const path = file.startsWith('/') ? file : join(root, file);
    const i = new WebAssembly.Instance(new WebAssembly.Module(readFileSync(path)), { env: { abort() { throw new Error('abort'); } } });
    Object.assign(opts, { engine: 'wasm', wasm: { exports: i.exports, simd: true, file: path } });
  }
  const c = compile(policy, opts);
  const B = Number(batchArg);
  const bs = [];
  for (let at = 0; at < trace.count; at += B) {
    const b = c.createBatch(B);
    const n = Math.min(B, trace.count - at);
    for (let k = 0; k < n; k++) b.set(k, trace.get(at + k));
    b.count = n;
    bs.push(b);
  }
  for (let p = 0; p < passes; p++) for (const b of bs) c.classify(b, b.results);
  process.stdout.write(`packets ${trace.count}\n`);
} else {
  const cache = process.env.TED_COUNT_CACHE !== '0';
  const dir = mkdtempSync(join(tmpdir(), 'ted-count-'));
  // Instructions (and D1 read misses) in code outside any mapped object: V8's JIT code.
  const run = (passes) => {
    const out = join(dir, `cg.${passes}.out`);
    const r = spawnSync('valgrind', ['--tool=callgrind', `--callgrind-out-file=${out}`, ...(cache ? ['--cache-sim=yes'] : []), process.execPath, '--no-liftoff', fileURLToPath(import.meta.url), set, file, String(passes), batchArg, '--inner'], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`valgrind failed: ${r.stderr.split('\n').slice(-5).join('\n')}`);
    const packets = Number(/packets (\d+)/.exec(r.stdout)?.[1]);
    const text = readFileSync(out, 'utf8');
    const events = /^events: (.*)$/m.exec(text)[1].split(' ');
    const totals = new Array(events.length).fill(0);
    // Cost lines belong to the last fn= (by id or name) seen; sum those of JIT functions ("0x...").
    const names = new Map();
    let jit = false;
    let obj = '';
    let callCost = false;
    for (const line of text.split('\n')) {
      if (line.startsWith('calls=')) {
        callCost = true; // the next cost line is a call's inclusive cost: counted in the callee
        continue;
      }
      const m = /^(c?fn|c?ob)=\((\d+)\)(?: (.*))?$/.exec(line);
      if (m) {
        const key = `${m[1].replace(/^c/, '')}${m[2]}`;
        if (m[3] !== undefined) names.set(key, m[3]);
        const name = names.get(key) ?? '';
        if (m[1] === 'ob') obj = name;
        else if (m[1] === 'fn') jit = obj === '???' && /^0x/.test(name);
        continue;
      }
      if (!/^[+\-*\d]/.test(line)) continue;
      if (callCost) {
        callCost = false;
        continue;
      }
      if (!jit) continue;
      const v = line.split(' ');
      for (let k = 0; k < events.length; k++) totals[k] += Number(v[k + 1] ?? 0);
    }
    return { packets, totals, events };
  };
  const base = 2;
  const n = Number(nArg);
  const a = run(base);
  const b = run(base + n);
  rmSync(dir, { recursive: true, force: true });
  const per = b.events.map((e, k) => `${e} ${((b.totals[k] - a.totals[k]) / (n * b.packets)).toFixed(1)}`);
  console.log(`${set} ${file} batch ${batchArg}: per lookup ${per.join(', ')}`);
}
