// TED probe and response on the wire, one core: encode into a caller's buffer, and decode +
// verify back to the domain objects, for IPv4 and IPv6 messages. Target: >= 1 M messages/s for
// each of encode and decode+verify of a probe and of a response.
//
// Run: npm run bench (builds first), or `node bench/ike.bench.mjs` after `npm run build`.
// Writes bench/ike-results.json. Env: IKE_BENCH_BATCH (messages per timed call, default 10000),
// IKE_BENCH_TIME_MS (per task, default 1000).
import { join } from 'node:path';
import { Bench } from 'tinybench';
import { cpuRate, machine, root, writeResults } from './support.mjs';

const ted = await import(join(root, 'dist', 'ike', 'ted.js'));
const msg = await import(join(root, 'dist', 'ike', 'message.js'));

const BATCH = Number(process.env.IKE_BENCH_BATCH ?? 10000);
const TIME = Number(process.env.IKE_BENCH_TIME_MS ?? 1000);

const probe4 = {
  icookie: 0xfafaeb49382a763cn,
  capabilities: 7,
  id: { family: 4, address: 0xc0000201n },
  proxy: { family: 4, protocol: 6, src: { value: 0x0a0b0000n, care: 0xffff0000n }, dst: { value: 0n, care: 0n }, sport: [{ lo: 0, hi: 65535 }], dport: [{ lo: 0, hi: 79 }, { lo: 81, hi: 65535 }] },
  summary: { tedVersion: 3, family: 4, protocol: 6, src: 0x0a0b0001n, dst: 0x0a000001n, sport: 1234, dport: 80 },
};
const response4 = {
  icookie: 0xfafaeb49382a763cn,
  rcookie: 0x1122334455667788n,
  capabilities: 7,
  id: { family: 4, address: 0xc0000202n },
  proxy: { family: 4, protocol: 0, src: { value: 0x0a000000n, care: 0xff000000n }, dst: { value: 0x0a0b0000n, care: 0xffff0000n }, sport: [{ lo: 0, hi: 65535 }], dport: [{ lo: 0, hi: 65535 }] },
};
const v6 = (hi) => (BigInt(hi) << 96n) | 1n;
const probe6 = {
  icookie: 0x0102030405060708n,
  capabilities: 7,
  id: { family: 6, address: v6(0x20010db8) },
  proxy: { family: 6, protocol: 17, src: { value: 0x20010db8n << 96n, care: 0xffffffffn << 96n }, dst: { value: 0n, care: 0n }, sport: [{ lo: 500, hi: 500 }], dport: [{ lo: 0, hi: 65535 }] },
  summary: { tedVersion: 3, family: 6, protocol: 17, src: v6(0x20010db8), dst: v6(0x20010db9), sport: 500, dport: 4500 },
};
const response6 = {
  icookie: 0x0102030405060708n,
  rcookie: 0x0a0b0c0d0e0f1011n,
  capabilities: 7,
  id: { family: 6, address: v6(0x20010db9) },
  proxy: { family: 6, protocol: 0, src: { value: 0x20010db9n << 96n, care: 0xffffffffn << 96n }, dst: { value: 0x20010db8n << 96n, care: 0xffffffffn << 96n }, sport: [{ lo: 0, hi: 65535 }], dport: [{ lo: 0, hi: 65535 }] },
};

const out = new Uint8Array(256);
const bytes = {
  probe4: ted.probeToBytes(probe4),
  response4: ted.responseToBytes(response4),
  probe6: ted.probeToBytes(probe6),
  response6: ted.responseToBytes(response6),
};
let sink = 0;

const bench = new Bench({ name: 'ike', time: TIME, warmupTime: 200 });
const fns = new Map();
const add = (name, fn) => {
  const call = () => {
    for (let i = 0; i < BATCH; i++) fn();
  };
  fns.set(name, call);
  bench.add(name, call);
};
add('encode probe IPv4', () => (sink += ted.encodeProbe(probe4, out, 0)));
add('encode response IPv4', () => (sink += ted.encodeResponse(response4, out, 0)));
add('encode probe IPv6', () => (sink += ted.encodeProbe(probe6, out, 0)));
add('encode response IPv6', () => (sink += ted.encodeResponse(response6, out, 0)));
add('decode+verify probe IPv4', () => (sink += ted.readProbe(bytes.probe4).capabilities));
add('decode+verify response IPv4', () => (sink += ted.readResponse(bytes.response4).capabilities));
add('decode+verify probe IPv6', () => (sink += ted.readProbe(bytes.probe6).capabilities));
add('decode+verify response IPv6', () => (sink += ted.readResponse(bytes.response6).capabilities));
add('decode only (generic) probe IPv4', () => (sink += msg.decodeMessage(bytes.probe4).payloads.length));
add('decodeProbe+verifyProbe (general path) IPv4', () => (sink += ted.verifyProbe(ted.decodeProbe(bytes.probe4)).capabilities));
add('decodeResponse+verifyResponse (general path) IPv4', () => (sink += ted.verifyResponse(ted.decodeResponse(bytes.response4)).capabilities));
await bench.run();

const rows = bench.tasks.map((t) => {
  const ms = t.result.latency?.p50 ?? t.result.period;
  const ns = (ms * 1e6) / BATCH;
  const cpu = cpuRate(fns.get(t.name), BATCH, TIME);
  return { task: t.name, wall_msgs_per_s: Math.round(1e9 / ns), cpu_msgs_per_s: Math.round(cpu), cpu_ns_per_msg: +(1e9 / cpu).toFixed(1), meets_1M_per_core: cpu >= 1e6 };
});
const report = {
  suite: 'ike',
  date: new Date().toISOString(),
  ...machine(),
  batch: BATCH,
  bytes: Object.fromEntries(Object.entries(bytes).map(([k, v]) => [k, v.length])),
  rows,
};
console.log(`\n${bench.name}: ${BATCH} messages per call, Node ${process.version}, ${report.cpu}, load ${report.loadavg.join(' ')} on ${report.cores} cores (sink ${sink % 10})`);
console.table(rows);
writeResults(report);
