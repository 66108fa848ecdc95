// Shared by the bench suites (not a suite itself: bench/run.mjs runs only *.bench.mjs): the
// repository root, the machine a run happened on, CPU-time rates, and writing
// bench/NAME-results.json in the format bench/run.mjs merges.
import { writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Node, V8, CPU model, cores and the load average now (take it at the end of a run). */
export function machine() {
  return { node: process.version, v8: process.versions.v8, cpu: cpus()[0]?.model, cores: cpus().length, loadavg: loadavg().map((x) => +x.toFixed(2)) };
}

/**
 * Items per second of this process's CPU time (user + system, GC threads included: if anything
 * pessimistic), calling `call` (which handles `perCall` items) for `ms` of wall time. Wall-clock
 * figures suffer when other processes share the two cores; this is the per-core figure.
 */
export function cpuRate(call, perCall, ms) {
  // Settle the heap first, so that background GC work left by an earlier task is not charged here.
  globalThis.gc?.();
  call();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  let n = 0;
  while (performance.now() - t0 < ms) {
    call();
    n += perCall;
  }
  const c = process.cpuUsage(c0);
  return n / ((c.user + c.system) / 1e6);
}

/** Writes bench/SUITE-results.json. */
export function writeResults(report) {
  writeFileSync(join(root, 'bench', `${report.suite}-results.json`), JSON.stringify(report, null, 2) + '\n');
}
