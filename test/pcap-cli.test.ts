import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { main } from '../src/cli/main.js';
import { encodeEthernet, encodeUdpPacket } from '../src/packet/encode.js';
import { writePcapng } from '../src/pcap/pcapng-writer.js';
import { writePcap } from '../src/pcap/writer.js';

const dir = mkdtempSync(join(tmpdir(), 'ted-pcap-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => ((out += String(s)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => ((err += String(s)), true));
  const code = await main(argv);
  vi.restoreAllMocks();
  return { code, out, err };
}

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

  const shared = join(import.meta.dirname, '..', '..', 'shared', 'captures', 'sv_IKEv2_SA_INIT_2-8-weak.pcap');
  it.skipIf(!existsSync(shared))('a real raw-IP capture', async () => {
    const r = await run(['pcap', 'info', shared, '--json']);
    expect(JSON.parse(r.out)).toMatchObject({ format: 'pcap', frames: 1, linkTypes: { 'raw (101)': 1 }, protocols: { 'ipv4/udp': 1 } });
  });
});
