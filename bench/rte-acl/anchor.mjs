// The DPDK rte_acl anchor for the classification bench: compiles bench/rte-acl/harness.c against
// the installed DPDK (gcc + pkg-config libdpdk, once per process, into a temporary directory),
// writes a parsed policy and a trace in the harness's numeric form, runs it and returns one row
// per rte_acl classify algorithm. When DPDK or gcc is missing, `available()` says why and the
// bench prints that and skips the rows (on Debian: apt-get install -y libdpdk-dev gcc pkg-config).
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
let built;

/** { ok: true, exe } once the harness is compiled, else { ok: false, reason }. */
export function available() {
  if (built) return built;
  try {
    const flags = execFileSync('pkg-config', ['--cflags', '--libs', 'libdpdk'], { encoding: 'utf8' }).trim().split(/\s+/);
    const version = execFileSync('pkg-config', ['--modversion', 'libdpdk'], { encoding: 'utf8' }).trim();
    const dir = mkdtempSync(join(tmpdir(), 'ted-rte-acl-'));
    process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
    const exe = join(dir, 'harness');
    execFileSync('gcc', ['-O2', '-o', exe, join(here, 'harness.c'), ...flags], { stdio: ['ignore', 'ignore', 'pipe'] });
    built = { ok: true, exe, dir, version };
  } catch (e) {
    const why = e.code === 'ENOENT' ? `${e.path} not found` : String(e.stderr || e.message).split('\n').find((l) => l.trim()) ?? 'failed';
    built = { ok: false, reason: `DPDK rte_acl harness not built (${why}); install it with: apt-get install -y libdpdk-dev gcc pkg-config` };
  }
  return built;
}

/** Prefix length of a contiguous IPv4 care mask, or -1. */
function prefixLength(care) {
  const c = Number(care) >>> 0;
  const len = Math.clz32(~c >>> 0); // leading one bits of c
  return c === (len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0) ? len : -1;
}

/**
 * The rules in the harness's form, or throws when an entry is not expressible as one rte_acl rule
 * (ClassBench sets always are: prefixes, one port range, protocol exact or any).
 */
function rulesText(policy) {
  const out = [String(policy.entries.length)];
  for (const e of policy.entries) {
    if (e.family !== 4) throw new Error('rte_acl anchor: IPv4 entries only');
    const s = prefixLength(e.src.care);
    const d = prefixLength(e.dst.care);
    if (s < 0 || d < 0 || e.sport.length > 1 || e.dport.length > 1) throw new Error(`rte_acl anchor: entry ${e.ordinal} is not one prefix/range rule`);
    const range = (p) => (p.length === 0 ? [0, 65535] : [p[0].lo, p[0].hi]);
    out.push([e.ordinal, Number(e.src.value & e.src.care), s, Number(e.dst.value & e.dst.care), d, ...range(e.sport), ...range(e.dport), e.protocol, e.protocol === 0 ? 0 : 255].join(' '));
  }
  return out.join('\n') + '\n';
}

function traceText(trace, expected) {
  const out = [String(trace.count)];
  for (let i = 0; i < trace.count; i++) out.push(`${trace.src[i]} ${trace.dst[i]} ${trace.sport[i]} ${trace.dport[i]} ${trace.proto[i]} ${expected[i]}`);
  return out.join('\n') + '\n';
}

/**
 * Runs the harness on `policy` (IPv4, prefix/range rules) and `trace` (a TupleBatch of IPv4
 * tuples with ports) whose first-match ordinals are `expected` (0 = none). Returns
 * { build: { build_ms, bytes }, algs: [{ alg, supported, mismatches, ns_per_pkt }], best }.
 */
export function runAnchor(policy, trace, expected, { batch = 256, timeMs = 1000, rounds = 5 } = {}) {
  const h = available();
  if (!h.ok) return { skipped: h.reason };
  const name = policy.name.replace(/[^\w.-]/g, '_');
  const rules = join(h.dir, `${name}.rules`);
  const tr = join(h.dir, `${name}.trace`);
  writeFileSync(rules, rulesText(policy));
  writeFileSync(tr, traceText(trace, expected));
  const r = spawnSync(h.exe, [rules, tr, String(batch), String(timeMs), String(rounds)], { encoding: 'utf8', timeout: 600_000 });
  const lines = (r.stdout ?? '').split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
  const err = lines.find((l) => l.error);
  if (r.status !== 0 || err) return { skipped: `rte_acl harness failed: ${err?.error ?? r.stderr?.split('\n').find((l) => l.trim()) ?? `exit ${r.status}`}` };
  const build = lines.find((l) => l.build);
  const algs = lines.filter((l) => l.alg);
  const ok = algs.filter((a) => a.supported && a.mismatches === 0);
  const best = ok.reduce((b, a) => (!b || a.ns_per_pkt < b.ns_per_pkt ? a : b), undefined);
  return { version: h.version, build, algs, best };
}
