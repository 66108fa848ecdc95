// ted decode where deployments differ from textbooks, on captures the tests make themselves:
// IKE messages with certificates fragmented over IPv4 and IPv6 (in order, out of order,
// duplicated, overlapping, missing the last fragment), ISAKMP on TCP 500 and RFC 8229 on TCP
// 4500 split at every byte boundary, trailing bytes, broken payload chains, IKEv1 (Cisco) and
// IKEv2 (RFC 7383) fragments. Decoded messages are compared field by field with tshark's.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeCapture } from '../src/cli/commands/decode.js';
import { jsonLine, textLines } from '../src/cli/decode-output.js';
import { encodeMessage, messageEncodingLength, type IkeMessage } from '../src/ike/message.js';
import { probeToBytes } from '../src/ike/ted.js';
import { IKETCP_PREFIX } from '../src/ike/tcp-framing.js';
import { encodeEthernet, encodeIPv4, encodeIPv6, encodeL4, encodeUdpPacket } from '../src/packet/encode.js';
import { IkeCaptureDecoder, type MessageRecord } from '../src/pcap/ike-capture.js';
import { writePcap } from '../src/pcap/writer.js';
import { arr, compare, tshark, type Json, type TsharkFrame } from './support/ike-compare.js';
import { runCli } from './support/cli.js';
import { SAMPLE_PROBE } from './support/ted-fixtures.js';
import { haveTshark } from './support/tshark.js';

const TSHARK = haveTshark('decode-reassembly: skipping the tshark comparisons');
const tmp = mkdtempSync(join(tmpdir(), 'ted-reasm-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const bytes = (n: number, seed: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 7 + seed) & 255);
const encode = (m: IkeMessage): Uint8Array => {
  const b = new Uint8Array(messageEncodingLength(m));
  encodeMessage(m, b, 0);
  return b;
};
const H1 = { icookie: 0x1111222233334444n, rcookie: 0x5555666677778888n, nextPayload: 0, major: 1, minor: 0, exchange: 4, flags: 0, msgid: 0, length: 0 };
const H2 = { icookie: 0x0123456789abcdefn, rcookie: 0xfedcba9876543210n, nextPayload: 0, major: 2, minor: 0, exchange: 35, flags: 8, msgid: 1, length: 0 };

/** IKEv1 aggressive mode, responder side: certificate and signature in the clear (2.2 KB). */
const AGGRESSIVE_CERT = encode({
  header: H1,
  payloads: [
    { kind: 'nonce', type: 10, data: bytes(32, 1) },
    { kind: 'id', type: 5, protocol: 17, port: 500, id: { idType: 1, address: 0xc0000201n } },
    { kind: 'cert', type: 6, encoding: 4, data: bytes(1900, 2) },
    { kind: 'sig', type: 9, data: bytes(256, 3) },
  ],
});
/** IKEv2 IKE_AUTH carrying a certificate: one SK payload of 3 KB. */
const IKE_AUTH_CERT = encode({ header: H2, payloads: [{ kind: 'sk', type: 46, innerNext: 35, data: bytes(3000, 4) }] });

const SRC4 = 0xc0000201n;
const DST4 = 0xc6336402n;
const SRC6 = 0x20010db8000000000000000000000001n;
const DST6 = 0x20010db8000000000000000000000064n;

/** The fragments of a UDP datagram carrying `payload`, each an Ethernet frame; `size` bytes of fragmentable part each. */
function fragments(family: 4 | 6, payload: Uint8Array, id: number, size = 1232): Uint8Array[] {
  const [src, dst] = family === 4 ? [SRC4, DST4] : [SRC6, DST6];
  const l4 = encodeL4({ protocol: 17, sport: 500, dport: 500, payload }, family, src, dst);
  const out: Uint8Array[] = [];
  for (let off = 0; off < l4.length; off += size) {
    const part = l4.subarray(off, Math.min(l4.length, off + size));
    const more = off + size < l4.length;
    const ip =
      family === 4
        ? encodeIPv4({ src, dst, protocol: 17, payload: part, id, fragmentOffset: off, moreFragments: more })
        : encodeIPv6({ src, dst, protocol: 17, payload: part, extensions: [{ type: 44, id, fragmentOffset: off, moreFragments: more }] });
    out.push(encodeEthernet({}, ip));
  }
  return out;
}

const udpFrame = (family: 4 | 6, payload: Uint8Array, sport = 500, dport = 500): Uint8Array =>
  encodeEthernet({}, encodeUdpPacket({ family, src: family === 4 ? SRC4 : SRC6, dst: family === 4 ? DST4 : DST6, sport, dport, payload }));

let fileNo = 0;
function capture(frames: Uint8Array[]): string {
  const file = join(tmp, `c${fileNo++}.pcap`);
  writeFileSync(file, writePcap(frames.map((data, i) => ({ data, timestamp: 1700000000 + i / 100 }))));
  return file;
}

/** Frames decoded in memory (no file), with the decoder for its counters. */
function decodeFrames(frames: Uint8Array[], opts = {}): { records: MessageRecord[]; dec: IkeCaptureDecoder } {
  const records: MessageRecord[] = [];
  const dec = new IkeCaptureDecoder(opts, (r) => records.push(r));
  frames.forEach((data, i) => dec.push({ index: i + 1, linkType: 1, timestamp: 1700000000 + i / 100, data }));
  dec.finish();
  return { records, dec };
}

async function ours(file: string): Promise<MessageRecord[]> {
  const out: MessageRecord[] = [];
  await decodeCapture(file, {}, (r) => {
    out.push(r);
  });
  return out;
}

/** tshark's ISAKMP frames: frame number and the isakmp layer. */
function tsharkMessages(file: string, extra: string[] = []): { frame: number; isakmp: Json; t: TsharkFrame }[] {
  return tshark(file, extra)
    .map((t) => ({ frame: Number((t.layers.frame as Json)['frame.number']), isakmp: t.isakmp!, t }))
    .filter((x) => x.isakmp);
}

/** The frames tshark lists as the datagram's fragments (IPv4 and IPv6 name the tree differently). */
const ipFragmentFrames = (t: TsharkFrame, family: 4 | 6): number[] => {
  const layer = t.layers[family === 4 ? 'ip' : 'ipv6'] as Json;
  const tree = (layer[family === 4 ? 'ip.fragments_tree' : 'ipv6.fragments'] ?? layer['ip.fragments_tree']) as Json | undefined;
  return arr(tree?.[family === 4 ? 'ip.fragment' : 'ipv6.fragment'] as string | string[]).map(Number);
};

describe.each([4, 6] as const)('IP fragments over IPv%i', (family) => {
  const messages = [
    { name: 'IKEv1 aggressive mode with a certificate', bytes: AGGRESSIVE_CERT },
    { name: 'IKEv2 IKE_AUTH with a certificate', bytes: IKE_AUTH_CERT },
  ];
  for (const msg of messages) {
    const frags = fragments(family, msg.bytes, 0x4242);
    it(`${msg.name}: ${frags.length} fragments in order, out of order and duplicated give the message tshark reassembles, at the completing frame`, async () => {
      expect(frags.length).toBeGreaterThanOrEqual(2);
      const orders = [
        frags.map((_, i) => i),
        frags.map((_, i) => frags.length - 1 - i),
        [1, 0, ...frags.map((_, i) => i).slice(2)],
        [0, 0, ...frags.map((_, i) => i).slice(1), 1],
      ];
      for (const order of orders) {
        const file = capture(order.map((i) => frags[i]!));
        const o = await ours(file);
        expect(o).toHaveLength(1);
        const r = o[0]!;
        expect(r.error).toBeUndefined();
        expect(r.bytes).toEqual(msg.bytes);
        if (!TSHARK) continue;
        const t = tsharkMessages(file);
        expect(t).toHaveLength(1);
        // Reported where tshark reports it, naming the same fragments (tshark also lists a
        // duplicate's frame; we list the frames whose bytes were used).
        expect(r.frame).toBe(t[0]!.frame);
        const theirs = ipFragmentFrames(t[0]!.t, family);
        for (const f of r.fragments!) expect(theirs).toContain(f);
        const used = new Set(r.fragments!.map((f) => order[f - 1]));
        for (const f of theirs) expect(used.has(order[f - 1]!)).toBe(true);
        expect(r.fragments).toHaveLength(frags.length);
        compare(t[0]!.isakmp, r.message!);
      }
    });
  }

  it('an overlapping fragment abandons the datagram (RFC 5722), counted and reported; tshark marks the overlap', async () => {
    const frags = fragments(family, AGGRESSIVE_CERT, 7, 800);
    // A fragment 8 bytes into the first one, with different bytes.
    const [src, dst] = family === 4 ? [SRC4, DST4] : [SRC6, DST6];
    const junk = bytes(800, 99);
    const ip = family === 4 ? encodeIPv4({ src, dst, protocol: 17, payload: junk, id: 7, fragmentOffset: 8, moreFragments: true }) : encodeIPv6({ src, dst, protocol: 17, payload: junk, extensions: [{ type: 44, id: 7, fragmentOffset: 8, moreFragments: true }] });
    const all = [frags[0]!, encodeEthernet({}, ip), ...frags.slice(1)];
    const file = capture(all);
    const { records, dec } = decodeFrames(all);
    expect(dec.ip.counters.overlap).toBe(1);
    expect(dec.ip.counters.late).toBe(frags.length - 1);
    expect(records).toHaveLength(1);
    expect(records[0]!.error).toMatchObject({ code: 'PKT_FRAG_OVERLAP', offset: 8 });
    expect(records[0]).toMatchObject({ frame: 2, fragments: [1, 2], sport: 500, dport: 500 });
    expect(jsonLine(records[0]!)).toMatch(/"fragments": \[1, 2\], "error": \{"code": "PKT_FRAG_OVERLAP", "offset": 8\}\}$/);
    if (TSHARK) {
      const text = JSON.stringify(tshark(file).map((t) => t.layers));
      expect(text).toMatch(family === 4 ? /ip\.fragment\.overlap/ : /ipv6\.fragment\.overlap/);
    }
  });

  it('a missing last fragment: no message (tshark shows none either), an incomplete datagram reported at the end', async () => {
    const frags = fragments(family, IKE_AUTH_CERT, 9);
    const file = capture(frags.slice(0, -1));
    const o = await ours(file);
    expect(o).toHaveLength(1);
    expect(o[0]!.message).toBeUndefined();
    expect(o[0]!.error).toMatchObject({ code: 'PKT_FRAG_INCOMPLETE', offset: (frags.length - 1) * 1232 });
    expect(o[0]!.fragments).toEqual(frags.slice(0, -1).map((_, i) => i + 1));
    if (TSHARK) expect(tsharkMessages(file)).toHaveLength(0);
    const cli = await runCli(['decode', file]);
    expect(cli.code).toBe(0);
    expect(cli.out).toContain(`error PKT_FRAG_INCOMPLETE at offset ${(frags.length - 1) * 1232}: IP datagram abandoned: incomplete\n  IP fragments: frames ${frags.slice(0, -1).map((_, i) => i + 1).join(', ')}`);
    expect(cli.err).toContain('reassembly: IP datagrams abandoned: incomplete 1');
  });
});

/** TCP frames carrying `stream` from the client (40000) to `port`, cut at `cuts`, after a handshake. */
function tcpFrames(stream: Uint8Array, port: number, cuts: number[], family: 4 | 6 = 4, isn = 0xfffffff0): Uint8Array[] {
  const [src, dst] = family === 4 ? [SRC4, DST4] : [SRC6, DST6];
  const seg = (from: bigint, to: bigint, sport: number, dport: number, seq: number, flags: number, payload: Uint8Array): Uint8Array => {
    const l4 = encodeL4({ protocol: 6, sport, dport, seq, ack: 1, tcpFlags: flags, payload }, family, from, to);
    return encodeEthernet({}, family === 4 ? encodeIPv4({ src: from, dst: to, protocol: 6, payload: l4 }) : encodeIPv6({ src: from, dst: to, protocol: 6, payload: l4 }));
  };
  const out = [seg(src, dst, 40000, port, isn, 0x02, new Uint8Array(0)), seg(dst, src, port, 40000, 77, 0x12, new Uint8Array(0)), seg(src, dst, 40000, port, isn + 1, 0x10, new Uint8Array(0))];
  const points = [0, ...cuts, stream.length];
  for (let i = 0; i + 1 < points.length; i++) out.push(seg(src, dst, 40000, port, (isn + 1 + points[i]!) >>> 0, 0x18, stream.subarray(points[i]!, points[i + 1]!)));
  return out;
}

const concat = (...parts: Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
};

/** An RFC 8229 record: 2-byte length (itself included), then the non-ESP marker and the message, or ESP bytes. */
const record8229 = (m: Uint8Array, esp = false): Uint8Array => {
  const body = esp ? m : concat(new Uint8Array(4), m);
  const out = new Uint8Array(2 + body.length);
  out[0] = out.length >> 8;
  out[1] = out.length & 255;
  out.set(body, 2);
  return out;
};

describe('IKE over TCP', () => {
  const probe = probeToBytes(SAMPLE_PROBE);
  const small = encode({ header: { ...H2, exchange: 34, msgid: 0 }, payloads: [{ kind: 'nonce2', type: 40, data: bytes(24, 5) }, { kind: 'notify2', type: 41, protocol: 0, notifyType: 16388, spi: new Uint8Array(0), data: bytes(20, 6) }] });
  const msgs = [probe, small, AGGRESSIVE_CERT];
  const everySplit = (stream: Uint8Array, port: number, expected: Uint8Array[]): void => {
    for (let k = 1; k < stream.length; k++) {
      const { records } = decodeFrames(tcpFrames(stream, port, [k]));
      expect(records.map((r) => r.bytes)).toEqual(expected);
    }
    const single = tcpFrames(
      stream,
      port,
      Array.from({ length: stream.length - 1 }, (_, i) => i + 1),
    );
    const { records } = decodeFrames(single);
    expect(records.map((r) => r.bytes)).toEqual(expected);
    expect(records.every((r) => r.transport === 'tcp' && !r.error)).toBe(true);
    // Out of order with a retransmission: the segments of the 1-byte split, pairs swapped, one repeated.
    const handshake = single.slice(0, 3);
    const data = single.slice(3);
    const shuffled: Uint8Array[] = [];
    for (let i = 0; i < data.length; i += 2) shuffled.push(...(i + 1 < data.length ? [data[i + 1]!, data[i]!] : [data[i]!]));
    shuffled.splice(5, 0, data[2]!);
    expect(decodeFrames([...handshake, ...shuffled]).records.map((r) => r.bytes)).toEqual(expected);
  };

  it('ISAKMP on TCP 500: tshark decodes one message per segment; we decode the same from any split of the stream', async () => {
    const stream = concat(...msgs);
    const file = capture(tcpFrames(stream, 500, [probe.length, probe.length + small.length]));
    const o = await ours(file);
    expect(o.map((r) => r.frame)).toEqual([4, 5, 6]);
    expect(o.map((r) => r.segments)).toEqual([[4], [5], [6]]);
    if (TSHARK) {
      const t = tsharkMessages(file);
      expect(t.map((x) => x.frame)).toEqual([4, 5, 6]);
      o.forEach((r, i) => compare(t[i]!.isakmp, r.message!));
    }
    // The small messages at every byte boundary (the 2 KB one once, at 1-byte segments, below).
    everySplit(concat(probe, small), 500, [probe, small]);
    const { records } = decodeFrames(tcpFrames(stream, 500, Array.from({ length: stream.length - 1 }, (_, i) => i + 1)));
    expect(records.map((r) => r.bytes)).toEqual(msgs);
    expect(records[2]!.segments).toHaveLength(AGGRESSIVE_CERT.length);
  });

  it('RFC 8229 on TCP 4500: the IKETCP prefix, length framing and the non-ESP marker; ESP records skipped; fields equal tshark on the same messages over UDP', async () => {
    const stream = concat(IKETCP_PREFIX, record8229(probe), record8229(bytes(60, 9).map((b, i) => (i < 4 ? 0x11 : b)), true), record8229(small), record8229(AGGRESSIVE_CERT));
    const file = capture(tcpFrames(stream, 4500, [3, 40, 200], 6));
    const o = await ours(file);
    expect(o.map((r) => r.bytes)).toEqual(msgs);
    expect(o[0]!.segments).toEqual([5, 6]);
    expect(jsonLine(o[0]!)).toContain('"transport": "tcp", "segments": [5, 6], "icookie"');
    if (TSHARK) {
      const t = tsharkMessages(capture(msgs.map((m) => udpFrame(6, m))));
      o.forEach((r, i) => compare(t[i]!.isakmp, r.message!));
    }
    everySplit(concat(IKETCP_PREFIX, record8229(probe), record8229(small)), 4500, [probe, small]);
  });

  it('a stream with a gap, one that ends inside a message, and a framing error are reported, not dropped silently', () => {
    const stream = concat(probe, small);
    const frames = tcpFrames(stream, 500, [10, 50, 160]);
    const gap = decodeFrames([...frames.slice(0, 4), ...frames.slice(5)]);
    expect(gap.records.map((r) => r.error?.code)).toEqual(['IKE_TCP_GAP']);
    expect(gap.dec.tcp.counters.end).toBe(1);
    const cut = decodeFrames(frames.slice(0, -1));
    expect(cut.records.map((r) => r.error?.code ?? 'ok')).toEqual(['ok', 'IKE_TCP_INCOMPLETE']);
    const bad = probe.slice();
    bad[27] = 3; // ISAKMP length 3: the stream cannot be framed
    const lost = decodeFrames(tcpFrames(concat(bad, small), 500, []));
    expect(lost.records.map((r) => [r.error?.code, r.error?.offset])).toEqual([['IKE_TCP_BAD_LENGTH', 24]]);
  });
});

describe('damaged messages', () => {
  it('trailing bytes: the message decodes and the bytes are flagged (JSON "trailing", a text warning)', async () => {
    const probe = probeToBytes(SAMPLE_PROBE);
    const file = capture([udpFrame(4, concat(probe, bytes(7, 1)))]);
    const o = await ours(file);
    expect(o).toHaveLength(1);
    expect(o[0]!.error).toBeUndefined();
    expect(o[0]!.message!.trailing).toBe(7);
    expect(jsonLine(o[0]!)).toMatch(/"payloads": \[.*\], "trailing": 7, "ted": \{"kind": "probe"/);
    expect(textLines(o[0]!)).toContain('  warning: 7 trailing bytes after the 136-byte message');
    if (TSHARK) compare(tsharkMessages(file)[0]!.isakmp, o[0]!.message!);
  });

  it('a broken payload chain: the header and the payloads before the break, the error with its offset, as tshark shows them', async () => {
    const m = AGGRESSIVE_CERT.slice();
    // The ID payload (#1) claims a length running past the message.
    const idAt = 28 + 36;
    m[idAt + 2] = 0xff;
    const file = capture([udpFrame(4, m)]);
    const o = await ours(file);
    const r = o[0]!;
    expect(r.message!.spans.map((s) => s.type)).toEqual([10]);
    expect(r.error).toMatchObject({ code: 'IKE_BAD_PAYLOAD_LENGTH', offset: idAt + 2, payloadIndex: 1 });
    expect(jsonLine(r)).toMatch(/"payloads": \[\{"type": 10, "length": 36\}\], "ted": null, "error": \{"code": "IKE_BAD_PAYLOAD_LENGTH", "offset": 66\}\}$/);
    if (TSHARK) {
      const t = tsharkMessages(file)[0]!;
      expect(t.t.flagged).toBe(true);
      const tree = arr(t.isakmp['isakmp.typepayload_tree'] as Json | Json[]);
      expect(Number(tree[0]!['isakmp.payloadlength'])).toBe(r.message!.spans[0]!.length);
      expect(Number(t.isakmp['isakmp.length'])).toBe(r.message!.header!.length);
    }
  });
});

describe('IKE-level fragments', () => {
  it('IKEv1 Cisco fragments (132): each shown with its numbers, the original reassembled at the last one, equal to tshark', async () => {
    const pieces = [AGGRESSIVE_CERT.subarray(0, 800), AGGRESSIVE_CERT.subarray(800, 1600), AGGRESSIVE_CERT.subarray(1600)];
    const frag = (i: number): Uint8Array => encode({ header: H1, payloads: [{ kind: 'frag', type: 132, fragmentId: 5, number: i + 1, flags: i === 2 ? 1 : 0, data: pieces[i]! }] });
    // Out of order, one repeated.
    const file = capture([frag(1), frag(0), frag(1), frag(2)].map((m) => udpFrame(4, m)));
    const o = await ours(file);
    expect(o.map((r) => r.frame)).toEqual([1, 2, 3, 4, 4]);
    expect(o.slice(0, 4).map((r) => r.message!.payloads[0])).toMatchObject([{ kind: 'frag', number: 2 }, { kind: 'frag', number: 1 }, { kind: 'frag', number: 2 }, { kind: 'frag', number: 3, flags: 1 }]);
    expect(jsonLine(o[3]!)).toContain(`"payloads": [{"type": 132, "length": ${8 + pieces[2]!.length}, "fragment": {"id": 5, "number": 3, "last": true}}]`);
    const whole = o[4]!;
    expect(whole.ikeFragments).toEqual([2, 1, 4]);
    expect(whole.bytes).toEqual(AGGRESSIVE_CERT);
    expect(textLines(whole)).toContain('reassembled from IKE fragments: frames 2, 1, 4');
    if (TSHARK) {
      const t = tsharkMessages(file);
      t.forEach((x, i) => {
        compare(x.isakmp, o[i]!.message!);
        const tree = x.isakmp['isakmp.typepayload_tree'] as Json;
        expect(Number(tree['isakmp.frag.seq'])).toBe((o[i]!.message!.payloads[0] as { number: number }).number);
      });
      const last = t[3]!.isakmp['isakmp.typepayload_tree'] as Json;
      compare(last['isakmp'] as Json, whole.message!);
    }
  });

  it('IKEv2 fragments (SKF, RFC 7383): shown with number and total, as tshark reads them', async () => {
    const skf = [1, 2, 3].map((n) => {
      const d = concat(Uint8Array.from([0, n, 0, 3]), bytes(120, n));
      return encode({ header: H2, payloads: [{ kind: 'sk', type: 53, innerNext: n === 1 ? 35 : 0, data: d }] });
    });
    const file = capture(skf.map((m) => udpFrame(4, m)));
    const o = await ours(file);
    expect(o.map((r) => (r.message!.payloads[0] as { fragment?: unknown }).fragment)).toEqual([1, 2, 3].map((number) => ({ number, total: 3 })));
    expect(jsonLine(o[1]!)).toContain('"encrypted": true, "payloads": [{"type": 53, "length": 128, "fragment": {"number": 2, "total": 3}}]');
    expect(textLines(o[2]!)).toContain('#0 SKF (53) length 128  fragment 3 of 3');
    if (TSHARK) {
      tsharkMessages(file).forEach((x, i) => {
        compare(x.isakmp, o[i]!.message!);
        const tree = x.isakmp['isakmp.typepayload_tree'] as Json;
        expect([Number(tree['isakmp.frag.number']), Number(tree['isakmp.frag.total'])]).toEqual([i + 1, 3]);
      });
    }
  });
});
