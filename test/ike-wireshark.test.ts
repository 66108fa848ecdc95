// Interoperability with Wireshark: our probes and responses written into pcaps (IPv4 and IPv6,
// UDP 500 and UDP 4500 behind the non-ESP marker) dissect without malformed packets or expert
// warnings, and every field tshark reads equals ours; every capture in ../shared/captures decodes
// to the same fields tshark reads, and the two broken ones give our typed errors with offsets.
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeCapture, type MessageRecord } from '../src/cli/commands/decode.js';
import { probeToBytes, responseToBytes } from '../src/ike/ted.js';
import type { TedProbe, TedResponse } from '../src/ike/ted-types.js';
import { hex } from '../src/ike/wire.js';
import { encodeEthernet, encodeUdpPacket } from '../src/packet/encode.js';
import { writePcap } from '../src/pcap/writer.js';
import { CAPTURES, present } from './support/shared.js';
import { haveTshark } from './support/tshark.js';
import { arr, colonHex, compare, tshark, type Json } from './support/ike-compare.js';

const TSHARK = haveTshark('ike-wireshark: skipping Wireshark interoperability tests');
const SHARED = present(CAPTURES, 'ike-wireshark: skipping the shared-capture comparisons');

async function ours(file: string): Promise<MessageRecord[]> {
  const out: MessageRecord[] = [];
  await decodeCapture(file, {}, (r) => {
    out.push(r);
  });
  return out;
}

const tmp = mkdtempSync(join(tmpdir(), 'ike-ws-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const probes: TedProbe[] = [
  {
    icookie: 0xfafaeb49382a763cn,
    capabilities: 7,
    id: { family: 4, address: 0xc0000201n },
    proxy: { family: 4, protocol: 6, src: { value: 0x0a0b0000n, care: 0xffff0000n }, dst: { value: 0x0a000000n, care: 0xff00ff00n }, sport: [{ lo: 0, hi: 65535 }], dport: [{ lo: 0, hi: 79 }, { lo: 81, hi: 65535 }] },
    summary: { tedVersion: 3, family: 4, protocol: 6, src: 0x0a0b0001n, dst: 0x0a000001n, sport: 1234, dport: 80 },
  },
  // Padded as the gateway sends it (payload 134), so that no response can be larger.
  { icookie: 1n, capabilities: 0, id: { family: 4, address: 0xc6336401n }, summary: { tedVersion: 3, family: 4, protocol: 1, src: 0xc0a80101n, dst: 0xc0a80201n, sport: 0, dport: 0 }, padding: 112 },
  {
    icookie: 0xffffffffffffffffn,
    capabilities: 4,
    id: { family: 6, address: 0x20010db8000000000000000000000001n },
    proxy: { family: 6, protocol: 17, src: { value: 0x20010db8n << 96n, care: 0xffffffffn << 96n }, dst: { value: 0n, care: 0n }, sport: [{ lo: 500, hi: 500 }], dport: [{ lo: 1, hi: 2 }, { lo: 4, hi: 5 }, { lo: 7, hi: 65535 }] },
    summary: { tedVersion: 3, family: 6, protocol: 17, src: (0x20010db8n << 96n) | 5n, dst: (0x20010db9n << 96n) | 9n, sport: 500, dport: 4500 },
  },
];
const responses: TedResponse[] = [
  { icookie: 0xfafaeb49382a763cn, rcookie: 0x1122334455667788n, capabilities: 7, id: { family: 4, address: 0xc0000202n }, proxy: { family: 4, protocol: 0, src: { value: 0x0a000000n, care: 0xff000000n }, dst: { value: 0x0a0b0000n, care: 0xffff0000n }, sport: [{ lo: 0, hi: 65535 }], dport: [{ lo: 0, hi: 65535 }] } },
  { icookie: 2n, rcookie: 3n, capabilities: 4, id: { family: 6, address: 0x20010db8000000000000000000000002n }, proxy: { family: 6, protocol: 6, src: { value: 0n, care: 0n }, dst: { value: 1n, care: 1n }, sport: [{ lo: 80, hi: 80 }, { lo: 443, hi: 443 }], dport: [{ lo: 1024, hi: 65535 }] } },
];

describe.skipIf(!TSHARK)('our messages in Wireshark', () => {
  it('probes and responses over IPv4/IPv6, UDP 500 and 4500: no malformed/expert, fields equal', async () => {
    const frames: Uint8Array[] = [];
    const msgs = [...probes.map(probeToBytes), ...responses.map(responseToBytes)];
    msgs.forEach((m, i) => {
      const family = i === 2 || i === 4 ? 6 : 4;
      const src = family === 4 ? 0xc0000201n + BigInt(i) : 0x20010db8000000000000000000000001n + BigInt(i);
      const dst = family === 4 ? 0xc0000264n : 0x20010db8000000000000000000000064n;
      frames.push(encodeEthernet({}, encodeUdpPacket({ family, src, dst, sport: 500, dport: 500, payload: m })));
      // The same message behind the RFC 3948 non-ESP marker on UDP 4500.
      const marked = new Uint8Array(4 + m.length);
      marked.set(m, 4);
      frames.push(encodeEthernet({}, encodeUdpPacket({ family, src, dst, sport: 4500, dport: 4500, payload: marked })));
    });
    const file = join(tmp, 'ted.pcap');
    writeFileSync(file, writePcap(frames.map((data, i) => ({ data, timestamp: 1700000000 + i }))));
    const t = tshark(file);
    const o = await ours(file);
    expect(t.length).toBe(frames.length);
    expect(o.length).toBe(frames.length);
    t.forEach((f, i) => {
      expect(f.flagged, `frame ${i + 1} flagged by tshark`).toBe(false);
      expect(f.isakmp, `frame ${i + 1} not ISAKMP to tshark`).toBeDefined();
      expect(o[i]!.error).toBeUndefined();
      compare(f.isakmp!, o[i]!.message!);
      // The private payloads' bytes, as tshark shows them, are exactly our payload bodies.
      const trees = arr(f.isakmp!['isakmp.typepayload_tree'] as Json | Json[]);
      const m = o[i]!.message!;
      const raw = msgs[i >> 1]!;
      m.spans.forEach((s, k) => {
        if (s.type >= 128) expect(colonHex(trees[k]!['isakmp.datapayload'])).toBe(hex(raw.subarray(s.offset + 4, s.offset + s.length)));
      });
    });
    // The comparison itself can fail: a one-field difference is caught.
    const m0 = o[0]!.message!;
    expect(() => compare(t[0]!.isakmp!, { ...m0, header: { ...m0.header!, msgid: 1 } })).toThrow();
    expect(() => compare(t[0]!.isakmp!, { ...m0, spans: m0.spans.slice(1) })).toThrow();
  });
});

describe.skipIf(!TSHARK || !SHARED)('the shared captures against tshark', () => {
  const files = SHARED ? readdirSync(CAPTURES).filter((f) => /\.pcap(ng)?$/.test(f)) : [];
  it('finds the five captures', () => {
    expect(files.length).toBeGreaterThanOrEqual(5);
  });
  for (const f of files.filter((f) => !/bad-length|zero-length/.test(f))) {
    it(`${f}: every message decodes and equals tshark's fields`, async () => {
      const t = tshark(join(CAPTURES, f)).filter((x) => x.isakmp);
      const o = await ours(join(CAPTURES, f));
      expect(o.length).toBe(t.length);
      expect(o.length).toBeGreaterThan(0);
      o.forEach((r, i) => {
        expect(r.error, `${f} frame ${r.frame}: ${r.error?.message}`).toBeUndefined();
        expect(t[i]!.flagged).toBe(false);
        compare(t[i]!.isakmp!, r.message!);
      });
    });
  }
  it('ipsec-ikev1-payload-bad-length.pcap: tshark says malformed, we say IKE_BAD_PAYLOAD_LENGTH at the lying length', async () => {
    const file = join(CAPTURES, 'ipsec-ikev1-payload-bad-length.pcap');
    const t = tshark(file);
    expect(t[0]!.flagged).toBe(true);
    const trees = arr(t[0]!.isakmp!['isakmp.typepayload_tree'] as Json | Json[]);
    const o = await ours(file);
    expect(o).toHaveLength(1);
    const e = o[0]!.error!;
    expect([e.code, e.truncated, e.payloadIndex]).toEqual(['IKE_BAD_PAYLOAD_LENGTH', false, 1]);
    // The payload tshark calls bogus is the one we name; the offset is its length field.
    expect(Number(trees[1]!['isakmp.payloadlength'])).toBe(3);
    expect(e.offset).toBe(28 + Number(trees[0]!['isakmp.payloadlength']) + 2);
  });
  it('ipsec-ikev1-zero-length.pcap: IKE_BAD_LENGTH at the header length field', async () => {
    const o = await ours(join(CAPTURES, 'ipsec-ikev1-zero-length.pcap'));
    expect(o).toHaveLength(1);
    expect(o[0]!.error).toMatchObject({ code: 'IKE_BAD_LENGTH', offset: 24, truncated: false });
    // tshark does not take it for ISAKMP at all (or marks it); either way it is not a good message.
    const t = tshark(join(CAPTURES, 'ipsec-ikev1-zero-length.pcap'));
    expect(!t[0]!.isakmp || t[0]!.flagged || Number(t[0]!.isakmp['isakmp.length']) === 0).toBe(true);
  });
});
