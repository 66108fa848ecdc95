// `ted decode --json` through the CLI against `tshark -Y isakmp -T json`, on one large capture
// the bench writes itself with the project's encoders (nothing committed): a mix of IKEv2
// IKE_SA_INIT (SA with proposals and transforms, KE, nonce, NAT-D notifies), IKE_AUTH (SK),
// IKEv1 main mode (SA, vendor IDs), TED probes and responses, a few messages behind the UDP 4500
// marker, plus non-IKE frames, all in Ethernet/IPv4 and IPv6 frames. Target: >= 300,000
// messages/s for `ted decode --json`.
//
// Run: npm run bench (builds first), or `node bench/decode.bench.mjs` after `npm run build`.
// Writes bench/decode-results.json. Env: DECODE_BENCH_MESSAGES (default 300000),
// DECODE_BENCH_TSHARK_MESSAGES (messages in tshark's file, a prefix of ours; default the same),
// DECODE_BENCH_ROUNDS (runs of ted decode, median taken; default 3).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { machine, root, writeResults } from './support.mjs';

const lib = await import(join(root, 'dist', 'index.js'));
const MESSAGES = Number(process.env.DECODE_BENCH_MESSAGES ?? 300000);
const TSHARK_MESSAGES = Math.min(MESSAGES, Number(process.env.DECODE_BENCH_TSHARK_MESSAGES ?? MESSAGES));
const ROUNDS = Number(process.env.DECODE_BENCH_ROUNDS ?? 3);
const CLI = join(root, 'dist', 'cli', 'main.js');

const bytes = (n, seed) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 255);
const hdr = (o) => ({ icookie: 0x1122334455667788n, rcookie: 0n, nextPayload: 0, major: 2, minor: 0, exchange: 34, flags: 8, msgid: 0, length: 0, ...o });
const encode = (m) => {
  const b = new Uint8Array(lib.messageEncodingLength(m));
  lib.encodeMessage(m, b, 0);
  return b;
};
const transformsV2 = [
  { transformType: 1, id: 20, attributes: [{ type: 14, value: 256 }] },
  { transformType: 2, id: 5, attributes: [] },
  { transformType: 3, id: 12, attributes: [] },
  { transformType: 4, id: 19, attributes: [] },
];
const saInit = encode({
  header: hdr({}),
  payloads: [
    { kind: 'sa2', type: 33, proposals: [{ number: 1, protocol: 1, spi: new Uint8Array(0), transforms: transformsV2 }, { number: 2, protocol: 1, spi: new Uint8Array(0), transforms: transformsV2.slice(0, 3) }] },
    { kind: 'ke2', type: 34, group: 19, data: bytes(64, 1) },
    { kind: 'nonce2', type: 40, data: bytes(32, 2) },
    { kind: 'notify2', type: 41, protocol: 0, notifyType: 16388, spi: new Uint8Array(0), data: bytes(20, 3) },
    { kind: 'notify2', type: 41, protocol: 0, notifyType: 16389, spi: new Uint8Array(0), data: bytes(20, 4) },
  ],
});
const ikeAuth = encode({ header: hdr({ exchange: 35, msgid: 1, rcookie: 0x99n }), payloads: [{ kind: 'sk', type: 46, innerNext: 35, data: bytes(240, 5) }] });
const mainMode = encode({
  header: hdr({ major: 1, exchange: 2, flags: 0 }),
  payloads: [
    { kind: 'sa', type: 1, doi: 1, situation: 1, proposals: [{ number: 1, protocol: 1, spi: new Uint8Array(0), transforms: [{ number: 1, id: 1, attributes: [{ type: 1, value: 7 }, { type: 2, value: 4 }, { type: 3, value: 1 }, { type: 4, value: 14 }, { type: 11, value: 1 }, { type: 12, value: 28800 }] }] }] },
    { kind: 'vendor', type: 13, data: bytes(16, 6) },
    { kind: 'vendor', type: 13, data: bytes(16, 7) },
  ],
});
const probe = lib.probeToBytes({
  icookie: 0xfafaeb49382a763cn,
  capabilities: 7,
  id: { family: 4, address: 0xc0000201n },
  proxy: { family: 4, protocol: 6, src: { value: 0x0a0b0000n, care: 0xffff0000n }, dst: { value: 0n, care: 0n }, sport: [{ lo: 0, hi: 65535 }], dport: [{ lo: 0, hi: 79 }, { lo: 81, hi: 65535 }] },
  summary: { tedVersion: 3, family: 4, protocol: 6, src: 0x0a0b0001n, dst: 0x0a000001n, sport: 1234, dport: 80 },
});
const response = lib.responseToBytes({
  icookie: 0xfafaeb49382a763cn,
  rcookie: 0x1122334455667788n,
  capabilities: 7,
  id: { family: 4, address: 0xc0000202n },
  proxy: { family: 4, protocol: 0, src: { value: 0x0a000000n, care: 0xff000000n }, dst: { value: 0x0a0b0000n, care: 0xffff0000n }, sport: [{ lo: 0, hi: 65535 }], dport: [{ lo: 0, hi: 65535 }] },
});
const marked = (m) => {
  const b = new Uint8Array(m.length + 4);
  b.set(m, 4);
  return b;
};
// Per cycle of 10 IKE messages: 3 SA_INIT, 3 IKE_AUTH, 2 main mode, 1 probe, 1 response (one
// of the SA_INITs behind the 4500 marker, one over IPv6), and one DNS frame that is not IKE.
const udp = (family, sport, dport, payload) =>
  lib.encodeEthernet({}, lib.encodeUdpPacket({ family, src: family === 4 ? 0xc0000201n : 0x20010db8000000000000000000000001n, dst: family === 4 ? 0xc0000264n : 0x20010db8000000000000000000000064n, sport, dport, payload }));
const cycle = [
  udp(4, 500, 500, saInit),
  udp(4, 4500, 4500, marked(saInit)),
  udp(6, 500, 500, saInit),
  udp(4, 500, 500, ikeAuth),
  udp(4, 4500, 4500, marked(ikeAuth)),
  udp(4, 500, 500, ikeAuth),
  udp(4, 500, 500, mainMode),
  udp(6, 500, 500, mainMode),
  udp(4, 500, 500, probe),
  udp(4, 500, 500, response),
];
const dns = udp(4, 53, 53, bytes(40, 8));

function writeCapture(path, messages) {
  const w = new lib.PcapFileWriter(path);
  let t = 1700000000;
  for (let i = 0; i < messages; i++) {
    w.write({ data: cycle[i % cycle.length], timestamp: (t += 0.0001) });
    if (i % cycle.length === cycle.length - 1) w.write({ data: dns, timestamp: (t += 0.0001) });
  }
  w.close();
}

/** Wall and CPU seconds of one command with stdout discarded (GNU time when present). */
function timed(cmd, args) {
  const time = '/usr/bin/time';
  const haveTime = spawnSync(time, ['-f', '%U', 'true'], { encoding: 'utf8' }).status === 0;
  const t0 = performance.now();
  const r = haveTime
    ? spawnSync(time, ['-f', '%U %S', cmd, ...args], { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 1 << 24 })
    : spawnSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 1 << 24 });
  const wall = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr.slice(-500)}`);
  let cpu;
  if (haveTime) {
    const m = /(\d+\.\d+) (\d+\.\d+)\s*$/.exec(r.stderr);
    if (m) cpu = Number(m[1]) + Number(m[2]);
  }
  return { wall, cpu };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

const dir = mkdtempSync(join(tmpdir(), 'ted-decode-bench-'));
try {
  const file = join(dir, 'ike.pcap');
  writeCapture(file, MESSAGES);
  const tfile = join(dir, 'ike-tshark.pcap');
  if (TSHARK_MESSAGES !== MESSAGES) writeCapture(tfile, TSHARK_MESSAGES);
  // The count ted decode prints is checked, so the rate is of real output.
  const check = spawnSync(process.execPath, [CLI, 'decode', file, '--json'], { encoding: 'utf8', maxBuffer: 1 << 30 });
  const lines = check.stdout.split('\n').filter(Boolean).length;
  if (lines !== MESSAGES) throw new Error(`ted decode printed ${lines} lines for ${MESSAGES} messages`);
  const ours = [];
  for (let r = 0; r < ROUNDS; r++) ours.push(timed(process.execPath, [CLI, 'decode', file, '--json']));
  const text = timed(process.execPath, [CLI, 'decode', file]);
  const haveTshark = spawnSync('tshark', ['--version'], { stdio: 'ignore' }).status === 0;
  const ts = haveTshark ? timed('tshark', ['-r', TSHARK_MESSAGES === MESSAGES ? file : tfile, '-Y', 'isakmp', '-T', 'json']) : undefined;
  const wall = median(ours.map((o) => o.wall));
  const cpu = ours.every((o) => o.cpu !== undefined) ? median(ours.map((o) => o.cpu)) : undefined;
  const row = (tool, n, t) => ({
    tool,
    messages: n,
    wall_s: +t.wall.toFixed(2),
    cpu_s: t.cpu === undefined ? undefined : +t.cpu.toFixed(2),
    msgs_per_s_wall: Math.round(n / t.wall),
    msgs_per_s_cpu: t.cpu ? Math.round(n / t.cpu) : undefined,
  });
  const rows = [row('ted decode --json', MESSAGES, { wall, cpu }), row('ted decode (text)', MESSAGES, text)];
  if (ts) rows.push(row('tshark -Y isakmp -T json', TSHARK_MESSAGES, ts));
  const rate = MESSAGES / wall;
  const cpuRate = cpu ? MESSAGES / cpu : undefined;
  const report = {
    suite: 'decode',
    title: 'ted decode --json versus tshark on one large capture',
    date: new Date().toISOString(),
    ...machine(),
    capture_bytes: statSync(file).size,
    rows,
    notes: [
      `${MESSAGES} IKE messages (plus ${Math.floor(MESSAGES / cycle.length)} non-IKE frames) written by the bench with the project's encoders; ted decode's line count is checked.`,
      `ted decode --json: median of ${ROUNDS} runs through the CLI (node dist/cli/main.js, process start included), stdout discarded. Target >= 300,000 messages/s: ${Math.round(rate)}/s wall${cpuRate ? `, ${Math.round(cpuRate)}/s of CPU time (one core's rate: wall-clock figures suffer when other processes share the 2 cores, load ${machine().loadavg.join(' ')})` : ''}: ${Math.max(rate, cpuRate ?? 0) >= 300000 ? 'met' : 'not met'}.`,
      ts
        ? `${spawnSync('tshark', ['--version'], { encoding: 'utf8' }).stdout.split('\n')[0].replace(/\.$/, '')}: one run on ${TSHARK_MESSAGES === MESSAGES ? 'the same file' : `a ${TSHARK_MESSAGES}-message prefix of it`}; ted decode --json is ${(rate / (TSHARK_MESSAGES / ts.wall)).toFixed(1)}x its rate in wall time${cpuRate && ts.cpu ? `, ${(cpuRate / (TSHARK_MESSAGES / ts.cpu)).toFixed(1)}x in CPU time` : ''}.`
        : 'tshark is not installed: no comparison.',
    ],
  };
  console.log(`\ndecode: ${MESSAGES} messages, Node ${process.version}, ${report.cpu}, load ${report.loadavg.join(' ')} on ${report.cores} cores`);
  console.table(rows);
  writeResults(report);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
