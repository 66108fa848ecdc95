// pcapng files with tens of thousands of interface blocks, each followed by a packet on it (the
// case that made reading quadratic: 30,000 blocks took 45 s in `ted pcap info`): every frame
// keeps its interface's link type, `ted pcap info` lists every interface once, and a cap on
// interfaces per section refuses the excess with typed, recoverable errors.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { captureInfo } from '../src/cli/commands/pcap.js';
import { DecodeError } from '../src/errors.js';
import { encodeUdpPacket } from '../src/packet/encode.js';
import { writePcapng } from '../src/pcap/pcapng-writer.js';
import { classifyCapture } from '../src/pcap/classify.js';
import { readFrames } from '../src/pcap/reader.js';

const dir = mkdtempSync(join(tmpdir(), 'ted-ifaces-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const RAW4 = 228;
const RAW = 101;

/** An interface description block body (little-endian): link type, reserved, snaplen, no options. */
function idb(linkType: number): { type: number; body: Uint8Array } {
  const body = new Uint8Array(8);
  const v = new DataView(body.buffer);
  v.setUint16(0, linkType, true);
  v.setUint32(4, 65535, true);
  return { type: 1, body };
}

/** One interface, then N - 1 more, each announced just before a packet on it; link types alternate. */
function manyInterfaces(n: number): Uint8Array {
  const blocks: ({ type: number; body: Uint8Array } | { interfaceId: number; data: Uint8Array })[] = [];
  for (let k = 0; k < n; k++) {
    if (k > 0) blocks.push(idb(k % 2 ? RAW : RAW4));
    blocks.push({ interfaceId: k, data: encodeUdpPacket({ family: 4, src: 0x0a000001n, dst: 0x0a000002n + BigInt(k), sport: 1000, dport: 500, payload: new Uint8Array(4) }) });
  }
  return writePcapng([{ interfaces: [{ linkType: RAW4 }], blocks }]);
}

describe('pcapng with 30,000 interfaces', () => {
  const N = 30_000;
  const bytes = manyInterfaces(N);
  const path = join(dir, 'many.pcapng');
  writeFileSync(path, bytes);

  it('ted pcap info lists every interface once and counts every frame', async () => {
    const info = await captureInfo(path);
    expect(info.error).toBeUndefined();
    expect(info.frames).toBe(N);
    expect(info.decoded).toBe(N);
    expect(info.interfaces).toHaveLength(N);
    expect(info.interfaces.map((i) => i.id)).toEqual(Array.from({ length: N }, (_, k) => k));
    expect(info.linkTypes).toEqual({ 'ipv4 (228)': N / 2, 'raw (101)': N / 2 });
  });

  it.each(['wasm', 'ts'] as const)('classifyCapture (%s) gives each frame its interface link type and destination', async (engine) => {
    let frames = 0;
    for await (const b of classifyCapture(path, { engine, batchSize: 256 })) {
      for (let i = 0; i < b.count; i++) {
        const k = b.firstIndex - 1 + i; // firstIndex counts from 1
        expect(b.linkTypes[i]).toBe(k % 2 ? RAW : RAW4);
        expect(b.batch.dst[i]).toBe((0x0a000002 + k) >>> 0);
        frames++;
      }
    }
    expect(frames).toBe(N);
  });
});

describe('interfaces per section are capped', () => {
  it('blocks beyond the cap are PCAP_TOO_MANY_INTERFACES, packets naming them PCAP_NO_INTERFACE; the rest is read', () => {
    const errors: DecodeError[] = [];
    const frames = [...readFrames(manyInterfaces(10), { maxInterfaces: 4, onError: (e) => errors.push(e) })];
    expect(frames.map((f) => f.interfaceId)).toEqual([0, 1, 2, 3]);
    expect(errors.map((e) => e.code)).toEqual(Array.from({ length: 6 }, () => ['PCAP_TOO_MANY_INTERFACES', 'PCAP_NO_INTERFACE']).flat());
    expect(errors.every((e) => e.offset > 0)).toBe(true);
  });

  it('without onError the first excess interface block throws the typed error', () => {
    expect(() => [...readFrames(manyInterfaces(3), { maxInterfaces: 2 })]).toThrow(expect.objectContaining({ code: 'PCAP_TOO_MANY_INTERFACES' }));
  });
});
