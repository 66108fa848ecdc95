// The decoder against tshark: real captures, and files our writers produce.
import fc from 'fast-check';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeFrame } from '../src/packet/decode.js';
import { writePcapng } from '../src/pcap/pcapng-writer.js';
import { readFrames } from '../src/pcap/reader.js';
import { writePcap } from '../src/pcap/writer.js';
import { formatAddress } from '../src/selector/address.js';
import { buildFrame, specArb, type BuiltFrame } from './packet-gen.js';
import { CAPTURES, present } from './support/shared.js';
import { haveTshark, tshark as runTshark } from './support/tshark.js';

const tshark = haveTshark('skipping tshark comparisons');
const shared = CAPTURES;
const haveShared = present(shared, 'skipping real-capture comparisons');

const dir = mkdtempSync(join(tmpdir(), 'ted-tshark-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const FIELDS = ['ip.src', 'ip.dst', 'ipv6.src', 'ipv6.dst', 'ip.proto', 'tcp.srcport', 'tcp.dstport', 'udp.srcport', 'udp.dstport', 'sctp.srcport', 'sctp.dstport', 'frame.interface_id'];

/** One row per frame: "src dst proto? sport dport", from tshark (no reassembly, no heuristics on ports). */
function tsharkRows(path: string): string[][] {
  const args = ['-r', path, '-n', '-o', 'ip.defragment:FALSE', '-o', 'ipv6.defragment:FALSE', '-T', 'fields', '-E', 'occurrence=f', '-E', 'separator=\t'];
  for (const f of FIELDS) args.push('-e', f);
  const out = runTshark(args);
  return out.split('\n').filter((l) => l.length > 0).map((l) => l.split('\t'));
}

/** Our view of a frame in tshark's terms. */
function ourRow(linkType: number, data: Uint8Array): { src: string; dst: string; proto?: string; sport: string; dport: string } | undefined {
  const r = decodeFrame(linkType, data);
  if (!r.ok) return undefined;
  return {
    src: formatAddress(r.family, r.src),
    dst: formatAddress(r.family, r.dst),
    proto: r.family === 4 ? String(r.protocol) : undefined,
    sport: r.hasPorts ? String(r.sport) : '',
    dport: r.hasPorts ? String(r.dport) : '',
  };
}

function theirRow(row: string[]): { src: string; dst: string; proto?: string; sport: string; dport: string } {
  const [s4, d4, s6, d6, proto, ts, td, us, ud, ss, sd] = row;
  const v6 = s6 !== undefined && s6 !== '' && (s4 === '' || s4 === undefined);
  return {
    src: v6 ? s6! : s4!,
    dst: v6 ? d6! : d4!,
    proto: v6 ? undefined : proto,
    sport: ts || us || ss || '',
    dport: td || ud || sd || '',
  };
}

function compare(path: string, frames: { linkType: number; data: Uint8Array }[]): void {
  const rows = tsharkRows(path);
  expect(rows.length).toBe(frames.length);
  frames.forEach((f, i) => {
    const ours = ourRow(f.linkType, f.data);
    expect(ours, `frame ${i + 1}`).toBeDefined();
    expect({ frame: i + 1, ...ours }).toEqual({ frame: i + 1, ...theirRow(rows[i]!) });
  });
}

describe.skipIf(!tshark || !haveShared)('real captures in ../shared/captures', () => {
  const files = haveShared ? readdirSync(shared).filter((f) => /\.pcap(ng)?$/.test(f)) : [];
  for (const name of files) {
    it(`${name}: our 5-tuples equal tshark's`, () => {
      const path = join(shared, name);
      const frames = [...readFrames(readFileSync(path))];
      expect(frames.length).toBeGreaterThan(0);
      compare(path, frames);
    });
  }
});

describe.skipIf(!tshark)('files we write, read by tshark', () => {
  // Ports only where tshark dissects them without guessing: protocols and ports it might hand to
  // a dissector that reinterprets the packet are avoided by keeping the payload opaque.
  const sample = (linkTypes: number[], n: number, seed: number): BuiltFrame[] => fc.sample(specArb({ linkTypes }), { numRuns: n, seed }).map(buildFrame);

  it('Ethernet pcap (VLANs, QinQ, IPv4 options, IPv6 extension headers, fragments)', () => {
    const frames = sample([1], 300, 1);
    const path = join(dir, 'eth.pcap');
    writeFileSync(path, writePcap(frames.map((f) => ({ data: f.data })), { linkType: 1 }));
    compare(path, frames);
  });

  it('raw IP pcap, nanosecond big-endian', () => {
    const frames = sample([101], 200, 2);
    const path = join(dir, 'raw.pcap');
    writeFileSync(path, writePcap(frames.map((f) => ({ data: f.data })), { linkType: 101, nanos: true, bigEndian: true }));
    compare(path, frames);
  });

  it('Linux cooked v1 and v2, null/loopback', () => {
    for (const lt of [113, 276, 0]) {
      const frames = sample([lt], 60, lt);
      const path = join(dir, `lt${lt}.pcap`);
      writeFileSync(path, writePcap(frames.map((f) => ({ data: f.data })), { linkType: lt }));
      compare(path, frames);
    }
  });

  it('pcapng with two interfaces of different link types (both byte orders)', () => {
    const frames = sample([1, 101], 100, 3);
    for (const bigEndian of [false, true]) {
      const path = join(dir, `two-${bigEndian}.pcapng`);
      writeFileSync(path, writePcapng([{ interfaces: [{ linkType: 1 }, { linkType: 101 }], blocks: frames.map((f) => ({ interfaceId: f.linkType === 1 ? 0 : 1, data: f.data })) }], { bigEndian }));
      const ours = [...readFrames(readFileSync(path))];
      expect(ours.map((f) => f.linkType)).toEqual(frames.map((f) => f.linkType));
      compare(path, ours);
      const ifaces = tsharkRows(path).map((r) => Number(r[11]));
      expect(ifaces).toEqual(frames.map((f) => (f.linkType === 1 ? 0 : 1)));
    }
  });
});

describe.skipIf(!tshark)('timestamps and lengths we write, as tshark reads them', () => {
  for (const nanos of [false, true]) {
    it(`${nanos ? 'nanosecond' : 'microsecond'} pcap, records cut by the snaplen`, () => {
      const frames = fc.sample(specArb({ linkTypes: [1] }), { numRuns: 30, seed: 5 }).map(buildFrame);
      const path = join(dir, `ts-${nanos}.pcap`);
      const stamps = frames.map((_, i) => ({ tsSec: 1700000000 + i * 37, tsNsec: (i * 123456789) % 1e9 }));
      writeFileSync(path, writePcap(frames.map((f, i) => ({ data: f.data, ...stamps[i]! })), { nanos, snaplen: 60 }));
      const out = runTshark(['-r', path, '-T', 'fields', '-e', 'frame.time_epoch', '-e', 'frame.len', '-e', 'frame.cap_len']);
      const rows = out.trim().split('\n').map((l) => l.split('\t'));
      const ours = [...readFrames(readFileSync(path))];
      expect(rows.length).toBe(frames.length);
      rows.forEach(([epoch, len, caplen], i) => {
        const [sec, frac = ''] = epoch!.split('.');
        expect(Number(sec)).toBe(ours[i]!.tsSec);
        expect(Number(frac.padEnd(9, '0').slice(0, 9))).toBe(ours[i]!.tsNsec);
        expect(ours[i]!.tsNsec).toBe(nanos ? stamps[i]!.tsNsec : Math.floor(stamps[i]!.tsNsec / 1000) * 1000);
        expect(Number(len)).toBe(frames[i]!.data.length);
        expect(Number(caplen)).toBe(Math.min(60, frames[i]!.data.length));
        expect(ours[i]!.caplen).toBe(Number(caplen));
      });
    });
  }
});
