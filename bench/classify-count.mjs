// Profiling driver (not a bench suite): instructions and D1 misses per lookup of the WebAssembly
// classifier, counted by valgrind's callgrind, which is repeatable where wall-clock time on this
// shared machine is not. Node runs under callgrind twice (P and P + N passes over the trace,
// TurboFan only, V8 logging where it put each WebAssembly function), and the difference of the
// instructions executed in WebAssembly code, divided by N x packets, is the cost of one lookup
// (the batch loop included; the host's classify() call, a few instructions per batch, is not).
// Per function as well, by index in the module (wasm-objdump -x names them).
//
// Usage: node bench/classify-count.mjs SET [file.wasm|ts] [N] [BATCH]
//   SET: acl1_1K | fw1_1K | acl1_10K | fw1_10K, or SET_v6 (moved into IPv6 as the bench does).
//   Needs valgrind and `npm run build`. Env TED_COUNT_CACHE=0 skips the cache simulation;
//   TED_COUNT_LEAF=N compiles with leafSize N.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { batchesOf, loadSet } from './classify-sets.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const [set = 'acl1_1K', file = 'build/ted-simd.wasm', nArg = '20', batchArg = '256', inner] = process.argv.slice(2);

if (inner === '--inner') {
  // The workload: compile, pack the trace into batches, classify it `passes` times.
  const passes = Number(nArg);
  const { compile } = await import(join(root, 'dist/classify/index.js'));
  const { policy, trace } = loadSet(set);
  const opts = { engine: 'ts', leafSize: process.env.TED_COUNT_LEAF ? Number(process.env.TED_COUNT_LEAF) : undefined };
  if (file !== 'ts') {
    const path = file.startsWith('/') ? file : join(root, file);
    const i = new WebAssembly.Instance(new WebAssembly.Module(readFileSync(path)), { env: { abort() { throw new Error('abort'); } } });
    Object.assign(opts, { engine: 'wasm', wasm: { exports: i.exports, simd: true, file: path } });
  }
  const c = compile(policy, opts);
  const bs = batchesOf(c, trace, Number(batchArg));
  for (let p = 0; p < passes; p++) for (const b of bs) c.classify(b, b.results);
  process.stdout.write(`packets ${trace.count}\n`);
} else {
  const cache = process.env.TED_COUNT_CACHE !== '0';
  const dir = mkdtempSync(join(tmpdir(), 'ted-count-'));
  // Instructions (and D1 read misses) in code outside any mapped object: V8's JIT code.
  const run = (passes) => {
    const out = join(dir, `cg.${passes}.out`);
    const log = join(dir, `v8.${passes}.log`);
    const r = spawnSync('valgrind', ['--tool=callgrind', '--dump-instr=yes', `--callgrind-out-file=${out}`, ...(cache ? ['--cache-sim=yes'] : []), process.execPath, '--no-liftoff', '--log-code', `--logfile=${log}`, '--no-logfile-per-isolate', fileURLToPath(import.meta.url), set, file, String(passes), batchArg, '--inner'], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`valgrind failed: ${r.stderr.split('\n').slice(-5).join('\n')}`);
    const packets = Number(/packets (\d+)/.exec(r.stdout)?.[1]);
    // Where V8 put each WebAssembly function: code-creation,...,address,size,wasm-function[N],...
    const fns = [];
    for (const line of readFileSync(log, 'utf8').split('\n')) {
      const m = /^code-creation,[^,]*,\d+,\d+,(0x[0-9a-f]+),(\d+),wasm-function\[(\d+)\]/.exec(line);
      if (m) fns.push({ lo: Number.parseInt(m[1], 16), hi: Number.parseInt(m[1], 16) + Number(m[2]), index: Number(m[3]) });
    }
    const owner = (addr) => fns.find((f) => addr >= f.lo && addr < f.hi);
    const text = readFileSync(out, 'utf8');
    const events = /^events: (.*)$/m.exec(text)[1].split(' ');
    const totals = new Array(events.length).fill(0);
    const perFn = new Map();
    // Cost lines "ADDR LINE COSTS..." (addresses absolute, +N/-N relative, * same); a line after
    // calls= is a call's inclusive cost, counted in the callee.
    let addr = 0;
    let callCost = false;
    for (const line of text.split('\n')) {
      if (line.startsWith('calls=')) {
        callCost = true;
        continue;
      }
      const m = /^(0x[0-9a-f]+|[+-]\d+|\*)\s+\S+((?:\s+\d+)+)$/.exec(line);
      if (!m) continue;
      addr = m[1].startsWith('0x') ? Number.parseInt(m[1], 16) : m[1] === '*' ? addr : addr + Number(m[1]);
      if (callCost) {
        callCost = false;
        continue;
      }
      const f = owner(addr);
      if (!f) continue;
      const v = m[2].trim().split(/\s+/).map(Number);
      const acc = perFn.get(f.index) ?? new Array(events.length).fill(0);
      for (let k = 0; k < events.length; k++) {
        totals[k] += v[k] ?? 0;
        acc[k] += v[k] ?? 0;
      }
      perFn.set(f.index, acc);
    }
    return { packets, totals, events, perFn };
  };
  const base = 2;
  const n = Number(nArg);
  const a = run(base);
  const b = run(base + n);
  rmSync(dir, { recursive: true, force: true });
  const per = b.events.map((e, k) => `${e} ${((b.totals[k] - a.totals[k]) / (n * b.packets)).toFixed(1)}`);
  console.log(`${set} ${file} batch ${batchArg}: per lookup ${per.join(', ')}`);
  const fnIr = [...b.perFn].map(([i, v]) => [i, (v[0] - (a.perFn.get(i)?.[0] ?? 0)) / (n * b.packets)]).filter(([, x]) => x >= 0.5);
  console.log(`  Ir per lookup by function index: ${fnIr.map(([i, x]) => `${i}: ${x.toFixed(1)}`).join(', ')}`);
}
