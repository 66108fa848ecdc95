// The rule sets and traces the classification benches and profiling drivers use (not a suite):
// the ClassBench sets in ../shared/data/classbench, sets of the same sizes generated when it is
// absent, and any set moved into IPv6 (`SET_v6`).
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { root } from './support.mjs';

const imp = (p) => import(join(root, 'dist', p));
const { parseTrace, TupleBatch } = await imp('classify/index.js');
const { parseClassBench } = await imp('policy/classbench.js');

export const shared = join(root, '..', 'shared', 'data', 'classbench');

/** The Song ClassBench sets (name, rules) measured by the bench; others found in ../shared are added. */
export const SETS = [
  ['acl1_1K', 916],
  ['fw1_1K', 791],
  ['acl1_10K', 9603],
  ['fw1_10K', 9311],
];

/** Every set name with a trace in ../shared (SETS first), or SETS when ../shared is absent. */
export function setNames() {
  const names = SETS.map(([s]) => s);
  if (!existsSync(shared)) return names;
  for (const f of readdirSync(shared).sort()) {
    if (f.endsWith('_trace') || names.includes(f)) continue;
    if (existsSync(join(shared, `${f}_trace`))) names.push(f);
  }
  return names;
}

/** Deterministic pseudo-random numbers in [0, 1). */
export function rng(seed) {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

// For when ../shared is absent: prefixes and port ranges in the spirit of ClassBench (acl-like:
// specific addresses, exact ports; fw-like: many wildcards and ranges).
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
  // Trace: tuples inside random entries (no expected ordinals: -1).
  const trace = new TupleBatch(n * 10);
  for (let i = 0; i < n * 10; i++) {
    const e = policy.entries[Math.floor(r() * n)];
    const rand = () => BigInt(Math.floor(r() * 2 ** 32));
    const pick = (set) => set[0].lo + Math.floor(r() * (set[0].hi - set[0].lo + 1));
    trace.push({ family: 4, protocol: e.protocol || 6, src: e.src.value | (rand() & ~e.src.care & 0xffffffffn), dst: e.dst.value | (rand() & ~e.dst.care & 0xffffffffn), sport: pick(e.sport), dport: pick(e.dport), hasPorts: true });
  }
  return { policy, trace, expected: new Int32Array(trace.count).fill(-1) };
}

/**
 * Moves an IPv4 set into IPv6: each prefix a/len becomes 2001:db8:a::/(32+len) (the IPv4 address
 * in bits 64..95), trace addresses get random low 64 bits, so the expected answers stay the same.
 */
export function toIPv6(name, policy, trace) {
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
  return { policy: { name, family: 6, entries }, trace: t6 };
}

const cache = new Map();

/**
 * { policy, trace (TupleBatch), expected (Int32Array, -1 = unknown), source } for a set name;
 * `NAME_v6` is NAME moved into IPv6.
 */
export function loadSet(name) {
  if (cache.has(name)) return cache.get(name);
  let out;
  if (name.endsWith('_v6')) {
    const base = loadSet(name.slice(0, -3));
    out = { ...toIPv6(name, base.policy, base.trace), expected: base.expected, source: `${base.policy.name} moved into IPv6` };
  } else {
    const rules = join(shared, name);
    const tr = join(shared, `${name}_trace`);
    if (existsSync(rules) && existsSync(tr)) {
      const t = parseTrace(readFileSync(tr, 'utf8'), tr);
      out = { policy: parseClassBench(readFileSync(rules, 'utf8'), name), trace: t.batch, expected: t.expected, source: 'ClassBench (../shared)' };
    } else {
      const n = SETS.find(([s]) => s === name)?.[1] ?? 1000;
      out = { ...generated(name, n), source: 'generated (../shared absent)' };
    }
  }
  cache.set(name, out);
  return out;
}

/** The trace in `classifier`'s own batches of `size` tuples (as a packet decoder leaves them). */
export function batchesOf(classifier, trace, size) {
  const out = [];
  for (let at = 0; at < trace.count; at += size) {
    const b = classifier.createBatch(size);
    const n = Math.min(size, trace.count - at);
    for (let k = 0; k < n; k++) b.set(k, trace.get(at + k));
    b.count = n;
    out.push(b);
  }
  return out;
}
