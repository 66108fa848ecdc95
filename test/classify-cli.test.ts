// `ted classify` and `ted bench classify` in-process through main(argv).
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from './support/cli.js';
import { encodeEthernet, encodeUdpPacket } from '../src/packet/encode.js';
import { writePcap } from '../src/pcap/writer.js';
import { writePcapng } from '../src/pcap/pcapng-writer.js';

const dir = join(__dirname, '..', '..', 'shared', 'data', 'classbench');
const haveSets = existsSync(join(dir, 'acl1_1K')) && existsSync(join(dir, 'acl1_1K_trace'));
if (!haveSets) console.warn(`classify-cli: ClassBench tests skipped, ${dir} is absent`);

const run = runCli;

const tmp = mkdtempSync(join(tmpdir(), 'ted-classify-'));

describe('ted classify', () => {
  it('classifies a Cisco policy against a small trace: summary, --out, --json', async () => {
    const policy = join(tmp, 'acl.txt');
    writeFileSync(policy, ['access-list 101 deny tcp any any eq 22', 'access-list 101 permit ip 10.0.0.0 0.255.255.255 any', 'access-list 101 permit udp any any range 500 4500'].join('\n') + '\n');
    const trace = join(tmp, 'trace');
    // 10.0.0.1 -> 1.2.3.4 tcp 22 (#1), 10.0.0.1 -> 1.2.3.4 tcp 80 (#2), 1.1.1.1 -> 2.2.2.2 udp 500 (#3), 1.1.1.1 -> 2.2.2.2 tcp 80 (none)
    writeFileSync(trace, ['167772161 16909060 1000 22 6', '167772161 16909060 1000 80 6', '16843009 33686018 500 500 17', '16843009 33686018 500 80 6'].join('\n') + '\n');
    const out = join(tmp, 'out');
    for (const engine of ['wasm', 'ts', 'linear']) {
      const r = await run(['classify', '--policy', policy, '--trace', trace, '--engine', engine, '--out', out]);
      expect(r.err).toBe('');
      expect(r.code).toBe(0);
      expect(readFileSync(out, 'utf8')).toBe('1\n2\n3\n0\n');
      expect(r.out).toContain('packets 4, matched 3');
      expect(r.out).toContain('deny 1');
      expect(r.out).toContain('permit 2');
      expect(r.out).toMatch(/Mpps/);
    }
    const j = await run(['classify', '--policy', policy, '--trace', trace, '--json']);
    const s = JSON.parse(j.out);
    expect(s).toMatchObject({ engine: 'wasm', rules: 3, packets: 4, matched: 3, unmatched: 1, actions: { permit: 2, deny: 1 } });
    expect(s.top[0]).toMatchObject({ hits: 1 });
  });

  it('bad input: exit 2 with one clear line', async () => {
    const policy = join(tmp, 'p.txt');
    writeFileSync(policy, 'access-list 1 permit any\n');
    const bad = join(tmp, 'bad-trace');
    writeFileSync(bad, '1 2 3 4 6\n1 2 x 4 6\n');
    let r = await run(['classify', '--policy', policy, '--trace', bad]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/TED_INPUT_TRACE.*:2: source port "x"/);
    r = await run(['classify', '--policy', policy, '--trace', bad, '--engine', 'quantum']);
    expect(r.code).toBe(2);
    expect(r.err).toContain('CLASSIFY_BAD_ENGINE');
    r = await run(['classify', '--trace', bad]);
    expect(r.code).toBe(2);
    r = await run(['classify', '--policy', policy, '--trace', join(tmp, 'missing')]);
    expect(r.code).toBe(2);
  });

  it.skipIf(!haveSets)('acl1_1K: --out equals the trace column; bench classify --json reports every engine', async () => {
    const out = join(tmp, 'acl1.out');
    const r = await run(['classify', '--policy', join(dir, 'acl1_1K'), '--trace', join(dir, 'acl1_1K_trace'), '--out', out]);
    expect(r.code).toBe(0);
    const want = readFileSync(join(dir, 'acl1_1K_trace'), 'utf8').trim().split('\n').map((l) => l.trim().split(/\s+/).at(-1));
    expect(readFileSync(out, 'utf8').trim().split('\n')).toEqual(want);
    expect(r.out).toContain(`packets ${want.length}, matched ${want.length}`);
    const b = await run(['bench', 'classify', '--policy', join(dir, 'acl1_1K'), '--trace', join(dir, 'acl1_1K_trace'), '--time', '50', '--json']);
    expect(b.code).toBe(0);
    const lines = b.out.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => l.engine)).toEqual(['wasm', 'ts', 'linear']);
    for (const l of lines) {
      expect(l.ns_per_pkt).toBeGreaterThan(0);
      expect(l.mpps).toBeGreaterThan(0);
      expect(l.rules).toBe(916);
      expect(l.bytes).toBeGreaterThan(0);
    }
  }, 30_000);

  it('bench classify --pcap: capture passes by one thread and by pools of 1..N workers, each pass all the frames', async () => {
    const policy = join(tmp, 'bench-acl.txt');
    writeFileSync(policy, 'access-list 101 permit udp 10.0.0.0 0.255.255.255 any\naccess-list 101 deny ip any any\n');
    const frames = Array.from({ length: 3000 }, (_, i) => ({
      data: encodeEthernet({}, encodeUdpPacket({ family: 4, src: 0x0a000000n + BigInt(i), dst: 0xc0a80001n, sport: 1000 + (i % 50), dport: 500, payload: new Uint8Array(i % 20) })),
      tsSec: 1700000000 + i,
    }));
    const capture = join(tmp, 'bench.pcap');
    writeFileSync(capture, writePcap(frames, { linkType: 1 }));
    const b = await run(['bench', 'classify', '--policy', policy, '--pcap', capture, '--workers', '2', '--time', '30', '--json']);
    expect([b.code, b.err]).toEqual([0, '']);
    const rows = b.out.trim().split('\n').map((l) => JSON.parse(l));
    expect(rows.map((x) => x.workers)).toEqual([0, 1, 2]);
    for (const x of rows) expect(x).toMatchObject({ engine: 'wasm', frames: 3000, mpps: expect.any(Number) });
    for (const x of rows) expect(x.passes).toBeGreaterThanOrEqual(5);
    expect(rows[1].scaling).toBe(1);
    const text = await run(['bench', 'classify', '--policy', policy, '--pcap', capture, '--workers', '1', '--time', '10']);
    expect(text.out).toMatch(/3000 frames; engine wasm\nworkers +ms\/pass +Mpps +scaling +passes\nthread .*\n1 .*1\.00/);
    let e = await run(['bench', 'classify', '--policy', policy, '--pcap', capture, '--trace', policy]);
    expect([e.code, e.err]).toEqual([2, expect.stringContaining('CLI_TWO_INPUTS')]);
    e = await run(['bench', 'classify', '--policy', policy, '--pcap', capture, '--engines', 'wasm,ts']);
    expect([e.code, e.err]).toEqual([2, expect.stringContaining('CLASSIFY_BAD_ENGINE')]);
    const ng = join(tmp, 'bench.pcapng');
    writeFileSync(ng, writePcapng([{ interfaces: [{ linkType: 1 }], blocks: frames.slice(0, 10).map((f) => ({ data: f.data })) }]));
    e = await run(['bench', 'classify', '--policy', policy, '--pcap', ng, '--workers', '1']);
    expect([e.code, e.err]).toEqual([1, expect.stringContaining('CLASSIFY_POOL_FORMAT')]);
  }, 60_000);

  it.skipIf(!haveSets)('--workers: the same results in the same order, from worker threads; bench classify --workers reports each count', async () => {
    const one = join(tmp, 'fw1.one');
    const two = join(tmp, 'fw1.two');
    const policy = join(dir, 'fw1_1K');
    const trace = join(dir, 'fw1_1K_trace');
    expect((await run(['classify', '--policy', policy, '--trace', trace, '--out', one])).code).toBe(0);
    const r = await run(['classify', '--policy', policy, '--trace', trace, '--out', two, '--workers', '2', '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ workers: 2, packets: 8050, matched: 8050 });
    expect(readFileSync(two, 'utf8')).toBe(readFileSync(one, 'utf8'));
    const b = await run(['bench', 'classify', '--policy', policy, '--trace', trace, '--engines', 'wasm', '--workers', '2', '--time', '50', '--json']);
    expect(b.code).toBe(0);
    const rows = b.out.trim().split('\n').map((l) => JSON.parse(l));
    expect(rows.map((x) => x.workers)).toEqual([0, 1, 2]);
    for (const x of rows) expect(x.mpps).toBeGreaterThan(0);
    expect(rows[1].scaling).toBe(1);
    let e = await run(['classify', '--policy', policy, '--trace', trace, '--workers', '0']);
    expect([e.code, e.err]).toEqual([2, expect.stringContaining('CLASSIFY_BAD_WORKERS')]);
    e = await run(['classify', '--policy', policy, '--trace', trace, '--workers', 'many']);
    expect([e.code, e.err]).toEqual([2, expect.stringContaining('CLI_BAD_NUMBER')]);
    e = await run(['bench', 'classify', '--policy', policy, '--trace', trace, '--workers', '2']);
    expect([e.code, e.err]).toEqual([2, expect.stringContaining('CLASSIFY_BAD_ENGINE')]);
  }, 60_000);
});
