import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { PROGRESS_THRESHOLD, startProgress } from '../src/cli/commands/pcap.js';
import { encodeEthernet, encodeUdpPacket } from '../src/packet/encode.js';
import { writePcapng } from '../src/pcap/pcapng-writer.js';
import { writePcap } from '../src/pcap/writer.js';
import { runCli } from './support/cli.js';
import { CAPTURES, present } from './support/shared.js';

const dir = mkdtempSync(join(tmpdir(), 'ted-pcap-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());

const run = runCli;

const udp = (sport: number) => encodeUdpPacket({ family: 4, src: 0x0a000001n, dst: 0x0a000002n, sport, dport: 500, payload: new Uint8Array(8) });
const udp6 = encodeUdpPacket({ family: 6, src: 1n, dst: 2n, sport: 500, dport: 500, payload: new Uint8Array(4) });

describe('ted pcap info', () => {
  it('summarizes format, link types, frames, span, protocol mix and undecodable reasons (JSON)', async () => {
    const path = join(dir, 'mix.pcap');
    const frames = [
      { data: encodeEthernet({}, udp(1)), tsSec: 100, tsNsec: 0 },
      { data: encodeEthernet({ vlans: [{ id: 7 }] }, udp(2)), tsSec: 101, tsNsec: 500000000 },
      { data: encodeEthernet({ etherType: 0x0806 }, new Uint8Array(28)), tsSec: 102, tsNsec: 0 },
      { data: encodeEthernet({}, udp6), tsSec: 103, tsNsec: 0 },
      { data: encodeEthernet({}, udp(3)).subarray(0, 20), tsSec: 104, tsNsec: 0 },
    ];
    writeFileSync(path, writePcap(frames, { linkType: 1, nanos: true }));
    const r = await run(['pcap', 'info', path, '--json']);
    expect(r.code).toBe(0);
    const info = JSON.parse(r.out);
    expect(info).toMatchObject({
      format: 'pcap',
      version: '2.4',
      timestampResolution: 'nanosecond',
      frames: 5,
      linkTypes: { 'ethernet (1)': 5 },
      protocols: { 'ipv4/udp': 2, 'ipv6/udp': 1 },
      vlanTagged: 1,
      decoded: 3,
      undecodable: { 'not-ip': 1, 'ip-truncated': 1 },
      durationSeconds: 4,
    });
    expect(info.first).toBe('1970-01-01T00:01:40.000000000Z');
  });

  it('text output names two interfaces of a pcapng', async () => {
    const path = join(dir, 'two.pcapng');
    writeFileSync(path, writePcapng([{ interfaces: [{ linkType: 1, name: 'eth0' }, { linkType: 101 }], blocks: [{ interfaceId: 0, data: encodeEthernet({}, udp(1)) }, { interfaceId: 1, data: udp(2) }] }]));
    const r = await run(['pcap', 'info', path]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^format: +pcapng 1\.0 \(little-endian, 1 section\)$/m);
    expect(r.out).toMatch(/^interfaces: +0: ethernet \(1\) eth0 snaplen 262144; 1: raw \(101\) snaplen 262144$/m);
    expect(r.out).toMatch(/^link types: +ethernet \(1\) 1, raw \(101\) 1$/m);
    expect(r.out).toMatch(/^protocols: +ipv4\/udp 2$/m);
  });

  it('a truncated capture: summary of the whole frames, then a typed error and exit 2', async () => {
    const path = join(dir, 'cut.pcap');
    const b = writePcap([{ data: udp(1) }, { data: udp(2) }], { linkType: 101 });
    writeFileSync(path, b.subarray(0, b.length - 4));
    const r = await run(['pcap', 'info', path, '--json']);
    expect(r.code).toBe(2);
    expect(JSON.parse(r.out)).toMatchObject({ frames: 1, error: { code: 'PCAP_TRUNCATED' } });
    expect(r.err).toMatch(/PCAP_TRUNCATED/);
  });

  it('not a capture: exit 2 with the code; missing file: exit 2', async () => {
    const path = join(dir, 'text.pcap');
    writeFileSync(path, 'hello, this is not a capture');
    const r = await run(['pcap', 'info', path]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/PCAP_BAD_MAGIC/);
    expect(r.out).toBe('');
    const missing = await run(['pcap', 'info', join(dir, 'nope.pcap')]);
    expect(missing.code).toBe(2);
  });

  const shared = join(CAPTURES, 'sv_IKEv2_SA_INIT_2-8-weak.pcap');
  it.skipIf(!present(shared, 'pcap-cli: skipping the real raw-IP capture'))('a real raw-IP capture', async () => {
    const r = await run(['pcap', 'info', shared, '--json']);
    expect(JSON.parse(r.out)).toMatchObject({ format: 'pcap', frames: 1, linkTypes: { 'raw (101)': 1 }, protocols: { 'ipv4/udp': 1 } });
  });
});

describe('ted classify --pcap over a pcapng with two link types', () => {
  it('gives every frame its ordinal in capture order (0 for none and for undecodable frames) and tallies outcomes', async () => {
    const aclPath = join(dir, 'cls-ng.acl');
    writeFileSync(aclPath, 'access-list 101 deny udp any any eq 4500\naccess-list 101 permit udp host 10.0.0.1 any eq 500\n');
    const path = join(dir, 'cls.pcapng');
    const n4500 = encodeUdpPacket({ family: 4, src: 0x0a000001n, dst: 0x0a000002n, sport: 1, dport: 4500, payload: new Uint8Array(1) });
    const blocks = [
      { interfaceId: 0, data: encodeEthernet({}, udp(1)) }, // 2
      { interfaceId: 0, data: encodeEthernet({ etherType: 0x0806 }, new Uint8Array(28)) }, // not ip -> 0
      { interfaceId: 1, data: n4500 }, // 1
      { interfaceId: 1, data: udp6 }, // other family -> 0
      { interfaceId: 0, data: encodeEthernet({}, udp(2)).subarray(0, 36) }, // UDP header cut -> 0
    ];
    writeFileSync(path, writePcapng([{ interfaces: [{ linkType: 1 }, { linkType: 101 }], blocks }]));
    for (const engine of ['wasm', 'ts'] as const) {
      const outPath = join(dir, `out-ng-${engine}.txt`);
      const r = await run(['classify', '--policy', aclPath, '--pcap', path, '--engine', engine, '--out', outPath, '--json']);
      expect(r.code).toBe(0);
      expect(readFileSync(outPath, 'utf8')).toBe('2\n0\n1\n0\n0\n');
      expect(JSON.parse(r.out)).toMatchObject({ packets: 5, matched: 2, capture: { frames: 5, decoded: 3, byLinkType: { 'ethernet (1)': 3, 'raw (101)': 2 }, byOutcome: { ok: 3, 'not-ip': 1, 'l4-truncated': 1 } } });
    }
  });
});

describe('ted classify --pcap', () => {
  it('one line per frame in capture order (--out) equal to the oracle, summary with link types and decode outcomes, all engines', async () => {
    const aclPath = join(dir, 'acl.txt');
    writeFileSync(aclPath, 'ip access-list extended VPN\n 10 deny udp any any eq 4500\n 20 permit udp host 10.0.0.1 any eq 500\n 30 permit ip any any\n');
    const capPath = join(dir, 'cls.pcap');
    const n4500 = encodeUdpPacket({ family: 4, src: 0x0a000001n, dst: 0x0a000002n, sport: 1, dport: 4500, payload: new Uint8Array(1) });
    const frames = [
      encodeEthernet({}, udp(1)), // 2
      encodeEthernet({ etherType: 0x0806 }, new Uint8Array(28)), // 0 not ip
      encodeEthernet({ vlans: [{ id: 3 }, { id: 4, tpid: 0x8100 }] }, n4500), // 1
      encodeEthernet({}, udp6), // 0: other family
      encodeEthernet({}, udp(2)).subarray(0, 20), // 0: ip truncated
      encodeEthernet({}, encodeUdpPacket({ family: 4, src: 9n, dst: 8n, sport: 7, dport: 6, payload: new Uint8Array(0) })), // 3
    ];
    writeFileSync(capPath, writePcap(frames.map((data) => ({ data })), { linkType: 1 }));
    for (const engine of ['wasm', 'ts', 'linear']) {
      const outPath = join(dir, `out-${engine}.txt`);
      const r = await run(['classify', '--policy', capPath.replace('cls.pcap', 'acl.txt'), '--pcap', capPath, '--engine', engine, '--out', outPath]);
      expect(r.err).toBe('');
      expect(r.code).toBe(0);
      expect(readFileSync(outPath, 'utf8')).toBe('2\n0\n1\n0\n0\n3\n');
      expect(r.out).toMatch(/^capture .*cls\.pcap: 6 frames, 4 decoded/m);
      expect(r.out).toMatch(/^link types: ethernet \(1\) 6$/m);
      expect(r.out).toMatch(/^decode: ok 4, ip-truncated 1, not-ip 1$/m);
      const j = await run(['classify', '--policy', aclPath, '--pcap', capPath, '--engine', engine, '--json']);
      expect(JSON.parse(j.out)).toMatchObject({ packets: 6, matched: 3, capture: { frames: 6, decoded: 4, byLinkType: { 'ethernet (1)': 6 }, byOutcome: { ok: 4, 'not-ip': 1, 'ip-truncated': 1 } } });
    }
    // Classified in worker threads: the same lines in the same order, the same tallies.
    const outW = join(dir, 'out-workers.txt');
    const w = await run(['classify', '--policy', aclPath, '--pcap', capPath, '--workers', '2', '--out', outW, '--json']);
    expect(w.code).toBe(0);
    expect(readFileSync(outW, 'utf8')).toBe('2\n0\n1\n0\n0\n3\n');
    expect(JSON.parse(w.out)).toMatchObject({ workers: 2, packets: 6, matched: 3, undecodable: 2, capture: { frames: 6, decoded: 4, byOutcome: { ok: 4, 'not-ip': 1, 'ip-truncated': 1 } } });
  });

  it('--workers gives the one-thread summary (hits per entry counted in the workers), lines and stopping error, whole or damaged', async () => {
    const aclPath = join(dir, 'acl-many.txt');
    writeFileSync(aclPath, Array.from({ length: 40 }, (_, k) => `access-list 101 ${k % 3 ? 'permit' : 'deny'} udp any any eq ${1000 + k}`).join('\n') + '\n');
    const frames = Array.from({ length: 3000 }, (_, i) => {
      const f = encodeEthernet({}, encodeUdpPacket({ family: 4, src: 0x0a000001n + BigInt(i), dst: 0x0a000002n, sport: 7, dport: 1000 + (i % 50), payload: new Uint8Array(i % 64) }));
      return { data: i % 97 === 5 ? f.subarray(0, 18) : f };
    });
    const whole = writePcap(frames, { linkType: 1 });
    const cases: [string, Uint8Array][] = [['whole', whole], ['cut', whole.subarray(0, whole.length - 30)]];
    for (const [name, bytes] of cases) {
      const capPath = join(dir, `many-${name}.pcap`);
      writeFileSync(capPath, bytes);
      const runs = [];
      for (const extra of [[], ['--workers', '1'], ['--workers', '2']]) {
        const outPath = join(dir, `many-${name}-${extra.length}.txt`);
        const r = await run(['classify', '--policy', aclPath, '--pcap', capPath, '--json', '--out', outPath, ...extra]);
        const j = JSON.parse(r.out);
        for (const k of ['elapsed_ms', 'mpps', 'build_ms', 'workers']) delete j[k];
        delete j.capture.elapsedMs;
        runs.push({ code: r.code, err: r.err.replace(/\n.*$/s, ''), summary: j, lines: readFileSync(outPath, 'utf8') });
      }
      expect(runs[0]!.summary.top.length, name).toBeGreaterThan(5);
      expect(runs[0]!.code, name).toBe(name === 'cut' ? 2 : 0);
      if (name === 'cut') expect(runs[0]!.err).toMatch(/PCAP_TRUNCATED/);
      expect(runs[1], name).toEqual(runs[0]);
      expect(runs[2], name).toEqual(runs[0]);
    }
  });

  it('a damaged capture fails with a typed error (exit 2); --trace and --pcap together is a usage error', async () => {
    const aclPath = join(dir, 'acl2.txt');
    writeFileSync(aclPath, 'access-list 101 permit ip any any\n');
    const capPath = join(dir, 'bad.pcap');
    const b = writePcap([{ data: udp(1) }, { data: udp(2) }], { linkType: 101 });
    writeFileSync(capPath, b.subarray(0, b.length - 2));
    for (const extra of [[], ['--workers', '2']]) {
      const r = await run(['classify', '--policy', aclPath, '--pcap', capPath, ...extra]);
      expect(r.code).toBe(2);
      expect(r.err).toMatch(/PCAP_TRUNCATED/);
    }
    const both = await run(['classify', '--policy', aclPath, '--pcap', capPath, '--trace', aclPath]);
    expect(both.code).toBe(2);
    expect(both.err).toMatch(/CLI_TWO_INPUTS/);
  });
});

describe('progress bar', () => {
  it('draws on stderr only when stderr is a terminal and the input is large', () => {
    let err = '';
    vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => ((err += String(s)), true));
    const wasTTY = process.stderr.isTTY;
    try {
      Object.defineProperty(process.stderr, 'isTTY', { value: false, configurable: true });
      const quiet = startProgress('x', 10 * PROGRESS_THRESHOLD);
      quiet.update(PROGRESS_THRESHOLD);
      quiet.stop();
      expect(err).toBe('');
      Object.defineProperty(process.stderr, 'isTTY', { value: true, configurable: true });
      const small = startProgress('x', PROGRESS_THRESHOLD - 1);
      small.update(1);
      small.stop();
      expect(err).toBe('');
      const bar = startProgress('reading', 10 * PROGRESS_THRESHOLD);
      bar.update(5 * PROGRESS_THRESHOLD);
      bar.stop();
      expect(err).toMatch(/reading/);
      expect(err).toMatch(/%/);
    } finally {
      Object.defineProperty(process.stderr, 'isTTY', { value: wasTTY, configurable: true });
      vi.restoreAllMocks();
    }
  });
});
