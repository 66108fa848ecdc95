import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DecodeError } from '../src/errors.js';
import { decodeFrame, decodeFrameOrThrow, Reason, REASON_NAMES, walkFrame, WalkState, writeWalk } from '../src/packet/decode.js';
import { encodeEthernet, encodeIPv4, encodeIPv6, encodeL4, encodeUdpPacket, internetChecksum, pseudoHeaderSum } from '../src/packet/encode.js';
import { TupleBatch } from '../src/classify/batch.js';
import { buildFrame, specArb } from './packet-gen.js';

const v4 = (s: string) => s.split('.').reduce((a, x) => (a << 8n) | BigInt(Number(x)), 0n);

describe('decodeFrame on generated frames', () => {
  it('reports the tuple the frame was built from (all link types, VLANs, options, extension headers, fragments)', () => {
    fc.assert(
      fc.property(specArb(), (spec) => {
        const f = buildFrame(spec);
        const r = decodeFrame(f.linkType, f.data);
        expect(r.ok).toBe(true);
        if (!r.ok) return;
        expect(r.tuple).toEqual(f.tuple);
        expect(r.vlans).toEqual(spec.vlans.map((v) => v.id));
        expect(r.fragment !== undefined).toBe(spec.fragOffset !== 0 || spec.moreFragments || spec.exts.some((e) => e.type === 44));
      }),
      { numRuns: 3000 },
    );
  });

  it('truncation at every byte offset: a typed reason, or the full tuple once the ports are in', () => {
    fc.assert(
      fc.property(specArb(), (spec) => {
        const f = buildFrame(spec);
        const full = decodeFrame(f.linkType, f.data);
        if (!full.ok) throw new Error('generated frame did not decode');
        const needed = full.hasPorts ? full.l4Offset + 4 : full.l4Offset;
        for (let cut = 0; cut < f.data.length; cut++) {
          const r = decodeFrame(f.linkType, f.data.subarray(0, cut));
          if (cut >= needed) {
            expect(r.ok).toBe(true);
            if (r.ok) expect(r.tuple).toEqual(f.tuple);
          } else {
            expect(r.ok).toBe(false);
            if (!r.ok) {
              expect(r.reason).toBeGreaterThan(0);
              expect(REASON_NAMES[r.reason]).toBeDefined();
              expect(r.code).toMatch(/^PKT_/);
              expect(r.offset).toBeGreaterThanOrEqual(0);
              expect(r.offset).toBeLessThanOrEqual(cut);
            }
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  it('never throws and never reads past the end on random bytes', () => {
    fc.assert(
      fc.property(fc.constantFrom(0, 1, 101, 108, 113, 228, 229, 276, 9999), fc.uint8Array({ maxLength: 120 }), (lt, bytes) => {
        const r = decodeFrame(lt, bytes);
        if (r.ok) {
          expect(r.payloadOffset + r.payloadLength).toBeLessThanOrEqual(bytes.length);
          expect(r.l4Offset).toBeLessThanOrEqual(bytes.length);
        } else expect(r.reason).toBeGreaterThan(0);
      }),
      { numRuns: 5000 },
    );
  });
});

describe('decodeFrame details', () => {
  const udp = encodeUdpPacket({ family: 4, src: v4('10.0.0.1'), dst: v4('10.0.0.2'), sport: 500, dport: 4500, payload: new Uint8Array(12) });

  it('gives UDP payload offset and length (what the IKE decoder reads)', () => {
    const frame = encodeEthernet({}, udp);
    const r = decodeFrameOrThrow(1, frame);
    expect(r).toMatchObject({ family: 4, protocol: 17, sport: 500, dport: 4500, hasPorts: true, l3Offset: 14, l4Offset: 34, payloadOffset: 42, payloadLength: 12, truncated: false });
  });

  it('a UDP length shorter than the IP payload ends the datagram; a lying longer one is ignored', () => {
    const b = udp.slice();
    b[24] = 0;
    b[25] = 8 + 5;
    expect(decodeFrameOrThrow(101, b)).toMatchObject({ payloadOffset: 28, payloadLength: 5 });
    b[25] = 200;
    expect(decodeFrameOrThrow(101, b)).toMatchObject({ payloadOffset: 28, payloadLength: 12 });
    b[25] = 3;
    expect(decodeFrameOrThrow(101, b)).toMatchObject({ payloadOffset: 28, payloadLength: 12 });
  });

  it('IHL below 5 is a bad header length', () => {
    const b = udp.slice();
    b[0] = 0x44;
    expect(decodeFrame(101, b)).toMatchObject({ ok: false, reason: Reason.BAD_IP_HEADER_LENGTH, code: 'PKT_BAD_IP_HEADER_LENGTH', offset: 0 });
  });

  it('a total length below the header length is refused; one beyond the capture is truncation, not an error', () => {
    const b = udp.slice();
    b[2] = 0;
    b[3] = 19;
    expect(decodeFrame(101, b)).toMatchObject({ ok: false, reason: Reason.BAD_IP_TOTAL_LENGTH, offset: 2 });
    b[2] = 0x10;
    const r = decodeFrame(101, b);
    expect(r).toMatchObject({ ok: true, truncated: true, payloadLength: 12 });
  });

  it('the UDP payload is cut at the IP total length, not the frame (Ethernet padding)', () => {
    const small = encodeUdpPacket({ family: 4, src: 1n, dst: 2n, sport: 1, dport: 2, payload: new Uint8Array(2) });
    const frame = new Uint8Array(60);
    frame.set(encodeEthernet({}, small));
    expect(decodeFrameOrThrow(1, frame).payloadLength).toBe(2);
  });

  it('unknown ethertypes, ARP and 802.3 length fields are not IP', () => {
    for (const et of [0x0806, 0x88cc, 0x0100, 0x8847]) {
      const f = encodeEthernet({ etherType: et }, udp);
      expect(decodeFrame(1, f)).toMatchObject({ ok: false, reason: Reason.NOT_IP, offset: 12 });
    }
    const tagged = encodeEthernet({ etherType: 0x0806, vlans: [{ id: 5 }] }, udp);
    expect(decodeFrame(1, tagged)).toMatchObject({ ok: false, reason: Reason.NOT_IP, offset: 16 });
  });

  it('more than 8 VLAN tags is refused', () => {
    const f = encodeEthernet({ vlans: Array.from({ length: 9 }, (_, i) => ({ id: i })) }, udp);
    expect(decodeFrame(1, f)).toMatchObject({ ok: false, reason: Reason.TOO_MANY_VLAN_TAGS });
    const ok = encodeEthernet({ vlans: Array.from({ length: 8 }, (_, i) => ({ id: i })) }, udp);
    expect(decodeFrameOrThrow(1, ok).vlans).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });

  it('IP version and link type mismatches', () => {
    expect(decodeFrame(229, udp)).toMatchObject({ ok: false, reason: Reason.BAD_IP_VERSION });
    const f = encodeEthernet({ etherType: 0x86dd }, udp);
    expect(decodeFrame(1, f)).toMatchObject({ ok: false, reason: Reason.BAD_IP_VERSION, offset: 14 });
    expect(decodeFrame(147, udp)).toMatchObject({ ok: false, reason: Reason.UNSUPPORTED_LINK_TYPE });
  });

  it('non-first fragments have no ports; first fragments keep them', () => {
    const l4 = encodeL4({ protocol: 6, sport: 1000, dport: 80 }, 4, 1n, 2n);
    const first = encodeIPv4({ src: 1n, dst: 2n, protocol: 6, payload: l4, moreFragments: true });
    expect(decodeFrameOrThrow(101, first)).toMatchObject({ hasPorts: true, sport: 1000, dport: 80, fragment: { offset: 0, more: true } });
    const later = encodeIPv4({ src: 1n, dst: 2n, protocol: 6, payload: l4, fragmentOffset: 1480 });
    expect(decodeFrameOrThrow(101, later)).toMatchObject({ hasPorts: false, sport: 0, dport: 0, protocol: 6, fragment: { offset: 1480, more: false } });
    const v6 = encodeIPv6({ src: 1n, dst: 2n, protocol: 17, payload: l4, extensions: [{ type: 0 }, { type: 44, fragmentOffset: 8, id: 9 }] });
    expect(decodeFrameOrThrow(101, v6)).toMatchObject({ family: 6, hasPorts: false, protocol: 17, fragment: { offset: 8, id: 9 } });
  });

  it('IPv6 walks hop-by-hop, routing, destination options and AH; ESP ends the chain', () => {
    const l4 = encodeL4({ protocol: 17, sport: 7, dport: 9 }, 6, 1n, 2n);
    const p = encodeIPv6({ src: 1n, dst: 2n, protocol: 17, payload: l4, extensions: [{ type: 0 }, { type: 43, body: new Uint8Array(14) }, { type: 51 }, { type: 60 }] });
    expect(decodeFrameOrThrow(101, p)).toMatchObject({ protocol: 17, sport: 7, dport: 9, l4Offset: 40 + 8 + 16 + 16 + 8 });
    const esp = encodeIPv6({ src: 1n, dst: 2n, protocol: 50, payload: new Uint8Array(16), extensions: [{ type: 0 }] });
    expect(decodeFrameOrThrow(101, esp)).toMatchObject({ protocol: 50, hasPorts: false });
  });

  it('an extension header length that runs past the packet is a typed failure', () => {
    const p = encodeIPv6({ src: 1n, dst: 2n, protocol: 17, payload: new Uint8Array(8), extensions: [{ type: 60 }] });
    p[41] = 200;
    expect(decodeFrame(101, p)).toMatchObject({ ok: false, reason: Reason.IPV6_EXT_TRUNCATED, offset: 40 });
    expect(() => decodeFrameOrThrow(101, p)).toThrow(DecodeError);
  });

  it('a chain of more than 16 extension headers is refused', () => {
    const exts = Array.from({ length: 17 }, () => ({ type: 60 as const }));
    const p = encodeIPv6({ src: 1n, dst: 2n, protocol: 17, payload: new Uint8Array(8), extensions: exts });
    expect(decodeFrame(101, p)).toMatchObject({ ok: false, reason: Reason.IPV6_EXT_TOO_MANY });
  });

  it('null/loopback in either byte order, and the OpenBSD loop type', () => {
    const le = new Uint8Array([2, 0, 0, 0, ...udp]);
    const be = new Uint8Array([0, 0, 0, 2, ...udp]);
    expect(decodeFrameOrThrow(0, le).dport).toBe(4500);
    expect(decodeFrameOrThrow(0, be).dport).toBe(4500);
    expect(decodeFrameOrThrow(108, be).dport).toBe(4500);
    expect(decodeFrame(0, new Uint8Array([7, 0, 0, 0, ...udp]))).toMatchObject({ ok: false, reason: Reason.NOT_IP });
  });

  it('writeWalk fills a batch row and clears it for failures', () => {
    const b = new TupleBatch(2);
    const s = new WalkState();
    walkFrame(101, udp, 0, udp.length, s);
    writeWalk(udp, s, b, 1);
    expect(b.get(1)).toEqual({ family: 4, protocol: 17, src: v4('10.0.0.1'), dst: v4('10.0.0.2'), sport: 500, dport: 4500, hasPorts: true });
    walkFrame(1, udp, 0, 10, s);
    expect(writeWalk(udp, s, b, 1)).toBe(Reason.LINK_TRUNCATED);
    expect(b.get(1)).toBeUndefined();
  });
});

describe('encoders', () => {
  it('IPv4 header and UDP/TCP/ICMPv6 checksums verify', () => {
    fc.assert(
      fc.property(specArb({ linkTypes: [101] }), (spec) => {
        const f = buildFrame(spec);
        const d = f.data;
        if (spec.family === 4) {
          const hl = (d[0]! & 15) * 4;
          expect(internetChecksum(d, 0, hl)).toBe(0);
        }
        const r = decodeFrameOrThrow(101, d);
        const nonFirst = r.fragment !== undefined && r.fragment.offset !== 0;
        if (!nonFirst && (r.protocol === 17 || r.protocol === 6 || r.protocol === 58)) {
          const len = d.length - r.l4Offset;
          expect(internetChecksum(d, r.l4Offset, len, pseudoHeaderSum(spec.family, spec.src, spec.dst, r.protocol, len))).toBe(0);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('IPv6 UDP probes carry the addresses and a non-zero checksum', () => {
    const p = encodeUdpPacket({ family: 6, src: 0x20010db8n << 96n, dst: (0x20010db8n << 96n) | 2n, sport: 500, dport: 500, payload: new Uint8Array([1, 2, 3]) });
    const r = decodeFrameOrThrow(229, p);
    expect(r).toMatchObject({ family: 6, protocol: 17, sport: 500, dport: 500, payloadLength: 3, src: 0x20010db8n << 96n });
    expect((p[46]! << 8) | p[47]!).not.toBe(0);
  });

  it('encodes at a non-zero offset into a larger buffer', () => {
    const l4 = encodeL4({ protocol: 17, sport: 1, dport: 2, payload: new Uint8Array(3) }, 4, 1n, 2n);
    const big = new Uint8Array(200).fill(0xee);
    const a = encodeIPv4({ src: 1n, dst: 2n, protocol: 17, payload: l4 }, big, 37);
    const b = encodeIPv4({ src: 1n, dst: 2n, protocol: 17, payload: l4 });
    expect(a).toEqual(b);
    expect(big[36]).toBe(0xee);
    expect(big[37 + b.length]).toBe(0xee);
  });
});
