// Every IKE codec round-trips (the dns-packet four checks: decode(encode(x)) = x, bytes written =
// encodingLength, re-encoding gives identical bytes, and encoding at a non-zero offset into a
// larger buffer gives the same bytes there), plus golden bytes and the typed errors.
import fc from 'fast-check';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DecodeError } from '../src/errors.js';
import { isakmpHeader, type IsakmpHeader } from '../src/ike/index.js';
import { decodeMessage, encodeMessage, messageEncodingLength, type IkeMessage, type Payload } from '../src/ike/message.js';
import type { PayloadCodec } from '../src/ike/payload.js';
import { certV1, crV1, deleteV1, hashV1, idV1, keV1, natDV1, natOaV1, nonceV1, notifyV1, rawPayload, saV1, sigV1, vendorIdV1, type DataPayloadV1, type Identification } from '../src/ike/payloads-v1.js';
import { keV2, nonceV2, notifyV2, saV2, tsV2, vendorIdV2, type TrafficSelector, type TsPayloadV2 } from '../src/ike/payloads-v2.js';
import { tedProxyPayload, tedResponsePayload, tedSummaryPayload, TED_PROBE_HASH } from '../src/ike/ted-payloads.js';
import { fromHex, hex } from '../src/ike/wire.js';
import { decodeFrame } from '../src/packet/decode.js';
import { readFrames } from '../src/pcap/reader.js';
import { thrown } from './support/errors.js';
import { CAPTURES, present } from './support/shared.js';

const b = (s: string): Uint8Array => fromHex(s.replace(/\s+/g, ''));

function roundTrip<P>(codec: PayloadCodec<P>, p: P, next = 0): Uint8Array {
  const len = codec.encodingLength(p);
  const buf = new Uint8Array(len);
  expect(codec.encode(p, buf, 0, next)).toBe(len);
  const type = (p as { type: number }).type;
  expect(codec.decode(buf, 0, len, undefined, type)).toEqual(p);
  // Re-encoding the decoded value gives identical bytes.
  const again = new Uint8Array(len);
  codec.encode(codec.decode(buf, 0, len, undefined, type), again, 0, next);
  expect(hex(again)).toBe(hex(buf));
  // At a non-zero offset in a larger buffer, surrounded by bytes that must not change.
  const big = new Uint8Array(len + 37).fill(0xa5);
  expect(codec.encode(p, big, 17, next)).toBe(len);
  expect(hex(big.subarray(17, 17 + len))).toBe(hex(buf));
  expect(big.subarray(0, 17).every((x) => x === 0xa5) && big.subarray(17 + len).every((x) => x === 0xa5)).toBe(true);
  expect(codec.decode(big, 17, 17 + len, undefined, type)).toEqual(p);
  return buf;
}

function messageRoundTrip(m: IkeMessage): Uint8Array {
  const len = messageEncodingLength(m);
  const buf = new Uint8Array(len);
  expect(encodeMessage(m, buf, 0)).toBe(len);
  const d = decodeMessage(buf);
  expect(d.header).toEqual({ ...m.header, length: len });
  expect(d.payloads).toEqual(m.payloads);
  expect(d.encrypted).toEqual(m.encrypted);
  const big = new Uint8Array(len + 50).fill(0x5a);
  expect(encodeMessage(m, big, 9)).toBe(len);
  expect(hex(big.subarray(9, 9 + len))).toBe(hex(buf));
  const d2 = decodeMessage(big, 9, 9 + len);
  expect(d2.payloads).toEqual(m.payloads);
  expect(d2.spans[0]?.offset ?? 37).toBe(37);
  return buf;
}

const decodeError = (f: () => unknown): DecodeError => thrown(DecodeError, f);

const hdr = (o: Partial<IsakmpHeader> = {}): IsakmpHeader => ({
  icookie: 0x0102030405060708n,
  rcookie: 0n,
  nextPayload: 0,
  major: 1,
  minor: 0,
  exchange: 2,
  flags: 0,
  msgid: 0,
  length: 28,
  ...o,
});

describe('ISAKMP header', () => {
  it('golden bytes and round trip at an offset', () => {
    const h = hdr({ rcookie: 0xfffffffffffffffen, nextPayload: 1, exchange: 4, flags: 5, msgid: 0xdeadbeef, length: 0x1234 });
    const buf = new Uint8Array(0x1234 + 5);
    expect(isakmpHeader.encode(h, buf, 5)).toBe(28);
    expect(hex(buf.subarray(5, 33))).toBe('0102030405060708' + 'fffffffffffffffe' + '01' + '10' + '04' + '05' + 'deadbeef' + '00001234');
    expect(isakmpHeader.decode(buf, 5)).toEqual(h);
  });
  it('short, lying and oversized lengths', () => {
    const buf = new Uint8Array(40);
    isakmpHeader.encode(hdr({ length: 40 }), buf);
    for (let n = 0; n < 28; n++) {
      const e = decodeError(() => isakmpHeader.decode(buf, 0, n));
      expect(e.code).toBe('IKE_TRUNCATED');
      expect(e.truncated).toBe(true);
    }
    expect(decodeError(() => isakmpHeader.decode(buf, 0, 39)).truncated).toBe(true);
    isakmpHeader.encode(hdr({ length: 27 }), buf);
    expect(decodeError(() => isakmpHeader.decode(buf)).code).toBe('IKE_BAD_LENGTH');
    isakmpHeader.encode(hdr({ length: 70000 }), buf);
    const e = decodeError(() => isakmpHeader.decode(buf));
    expect([e.code, e.offset, e.truncated]).toEqual(['IKE_BAD_LENGTH', 24, false]);
  });
});

describe('IKEv1 payloads', () => {
  const sa = {
    kind: 'sa' as const,
    type: 1,
    doi: 1,
    situation: 1,
    proposals: [
      {
        number: 1,
        protocol: 1,
        spi: new Uint8Array(0),
        transforms: [
          { number: 1, id: 1, attributes: [{ type: 1, value: 7 }, { type: 14, value: 128 }, { type: 12, value: b('00015180') }] },
          { number: 2, id: 1, attributes: [] },
        ],
      },
      { number: 1, protocol: 3, spi: b('11223344'), transforms: [{ number: 1, id: 12, attributes: [{ type: 4, value: 1 }] }] },
    ],
  };
  it('SA with proposals, transforms and TV/TLV attributes (golden)', () => {
    const one = { ...sa, proposals: [{ number: 1, protocol: 1, spi: new Uint8Array(0), transforms: [{ number: 1, id: 1, attributes: [{ type: 1, value: 7 }, { type: 12, value: b('00015180') }] }] }] };
    expect(hex(roundTrip(saV1, one, 13))).toBe(
      '0d00' + '0028' + '00000001' + '00000001' + '0000' + '001c' + '01010001' + '0000' + '0014' + '0101' + '0000' + '80010007' + '000c0004' + '00015180',
    );
    roundTrip(saV1, sa);
    roundTrip(saV1, { kind: 'sa', type: 1, doi: 0, proposals: [], rest: b('0000000102') });
    roundTrip(saV1, { kind: 'sa', type: 1, doi: 1, proposals: [], rest: b('00000006aabb') });
  });
  it('opaque-data payloads', () => {
    for (const c of [keV1, hashV1, sigV1, nonceV1, vendorIdV1, natDV1] as PayloadCodec<DataPayloadV1>[]) {
      const p = c.decode(b('0000000801020304'), 0, 8);
      roundTrip(c, p);
      roundTrip(c, { ...p, data: new Uint8Array(0) });
    }
    expect(hex(roundTrip(vendorIdV1, { kind: 'vendor', type: 13, data: b('4a131c81070358455c5728f20e95452f') }, 5))).toBe('05000014' + '4a131c81070358455c5728f20e95452f');
  });
  it('ID payload, every RFC 2407 4.6.2 type', () => {
    const ids: Identification[] = [
      { idType: 1, address: 0xc0000201n },
      { idType: 5, address: 0x20010db8000000000000000000000001n },
      { idType: 4, address: 0x0a000000n, mask: 0xff000000n },
      { idType: 6, address: 0x20010db8n << 96n, mask: 0xffffffffn << 96n },
      { idType: 7, start: 0x0a000001n, end: 0x0a0000ffn },
      { idType: 8, start: 1n, end: (1n << 128n) - 1n },
      { idType: 2, text: 'gw.example.net' },
      { idType: 3, text: 'admin@example.net' },
      { idType: 11, data: b('6b65792d6964') },
      { idType: 9, data: b('3000') },
      { idType: 200, data: new Uint8Array(0) },
    ];
    for (const id of ids) roundTrip(idV1, { kind: 'id', type: 5, protocol: 17, port: 500, id });
    expect(hex(roundTrip(idV1, { kind: 'id', type: 5, protocol: 17, port: 500, id: { idType: 1, address: 0xc0a80c01n } }))).toBe('0000000c011101f4c0a80c01');
    const e = decodeError(() => idV1.decode(b('0000000b011101f4c0a80c'), 0, 11));
    expect([e.code, e.offset]).toEqual(['IKE_BAD_ID', 8]);
  });
  it('CERT, CR, NOTIFY, DELETE, NAT-OA', () => {
    roundTrip(certV1, { kind: 'cert', type: 6, encoding: 4, data: b('308201') });
    roundTrip(crV1, { kind: 'cr', type: 7, encoding: 4, data: new Uint8Array(0) });
    roundTrip(notifyV1, { kind: 'notify', type: 11, doi: 1, protocol: 1, notifyType: 24578, spi: b('0102030405060708090a0b0c0d0e0f10'), data: b('00000e10') });
    roundTrip(notifyV1, { kind: 'notify', type: 11, doi: 1, protocol: 3, notifyType: 14, spi: new Uint8Array(0), data: new Uint8Array(0) });
    roundTrip(deleteV1, { kind: 'delete', type: 12, doi: 1, protocol: 3, spiSize: 4, spis: [b('01020304'), b('a1a2a3a4')] });
    roundTrip(deleteV1, { kind: 'delete', type: 12, doi: 1, protocol: 1, spiSize: 16, spis: [] });
    roundTrip(natOaV1, { kind: 'nat-oa', type: 21, idType: 1, address: 0xc0a80001n });
    roundTrip(natOaV1, { kind: 'nat-oa', type: 21, idType: 5, address: 0x20010db8000000000000000000000002n });
    const e = decodeError(() => deleteV1.decode(b('0000000f' + '00000001' + '0304' + '0002' + '010203'), 0, 15));
    expect(e.code).toBe('IKE_BAD_DELETE');
  });
  it('unknown payloads keep their bytes', () => {
    const buf = b('000000070a0b0c');
    expect(rawPayload.decode(buf, 0, 7, undefined, 99)).toEqual({ kind: 'raw', type: 99, data: b('0a0b0c') });
    roundTrip(rawPayload, { kind: 'raw', type: 99, data: b('0a0b0c') });
  });
});

describe('IKEv2 payloads', () => {
  it('SA with proposals, transforms and the key-length attribute', () => {
    const p = {
      kind: 'sa2' as const,
      type: 33,
      critical: true,
      proposals: [
        { number: 1, protocol: 1, spi: new Uint8Array(0), transforms: [{ transformType: 1, id: 12, attributes: [{ type: 14, value: 256 }] }, { transformType: 2, id: 2, attributes: [] }, { transformType: 4, id: 14, attributes: [] }] },
        { number: 2, protocol: 3, spi: b('deadbeef'), transforms: [{ transformType: 1, id: 20, attributes: [] }] },
      ],
    };
    const buf = roundTrip(saV2, p);
    expect(buf[1]).toBe(0x80);
    roundTrip(saV2, { kind: 'sa2', type: 33, proposals: [] });
  });
  it('KE, Nonce, Vendor ID, Notify, TS', () => {
    roundTrip(keV2, { kind: 'ke2', type: 34, group: 14, data: b('00112233') });
    roundTrip(nonceV2, { kind: 'nonce2', type: 40, data: b('0102') });
    roundTrip(vendorIdV2, { kind: 'vendor2', type: 43, critical: true, data: b('0102') });
    roundTrip(notifyV2, { kind: 'notify2', type: 41, protocol: 0, notifyType: 16388, spi: new Uint8Array(0), data: b('00'.repeat(20)) });
    roundTrip(notifyV2, { kind: 'notify2', type: 41, protocol: 3, notifyType: 24, spi: b('01020304'), data: new Uint8Array(0) });
    const selectors: TrafficSelector[] = [
      { tsType: 7, protocol: 6, startPort: 0, endPort: 65535, start: 0x0a000000n, end: 0x0affffffn },
        { tsType: 8, protocol: 0, startPort: 80, endPort: 80, start: 0x20010db8n << 96n, end: (0x20010db8n << 96n) | ((1n << 96n) - 1n) },
        { tsType: 9, protocol: 0, data: b('00000000ffffffff') },
    ];
    const ts: TsPayloadV2 = { kind: 'ts', type: 44, selectors };
    expect(hex(roundTrip(tsV2, { kind: 'ts', type: 44, selectors: [ts.selectors[0]!] }))).toBe('00000018' + '01000000' + '07060010' + '0000ffff' + '0a000000' + '0affffff');
    roundTrip(tsV2, ts);
    roundTrip(tsV2, { ...ts, type: 45 });
  });
});

describe('TED payloads', () => {
  const proxy = {
    family: 4 as const,
    protocol: 17,
    src: { value: 0x0a000100n, care: 0xff00ff00n },
    dst: { value: 0n, care: 0n },
    sport: [{ lo: 0, hi: 499 }, { lo: 501, hi: 65535 }],
    dport: [{ lo: 500, hi: 500 }],
  };
  it('proxy (non-contiguous care-mask, neq port set) golden', () => {
    expect(hex(roundTrip(tedProxyPayload, { kind: 'ted-proxy', type: 128, proxy }, 129))).toBe(
      '81000024' + '04110201' + '0a000100' + 'ff00ff00' + '00000000' + '00000000' + '000001f3' + '01f5ffff' + '01f401f4',
    );
    roundTrip(tedResponsePayload, { kind: 'ted-response', type: 133, proxy: { ...proxy, family: 6, src: { value: 1n << 127n, care: 1n << 127n } } });
  });
  it('summary golden', () => {
    const p = { kind: 'ted-summary' as const, type: 129, hash: TED_PROBE_HASH, summary: { tedVersion: 3, family: 4 as const, protocol: 6, src: 0x0a0b0001n, dst: 0x0a000001n, sport: 1234, dport: 80 } };
    expect(hex(roundTrip(tedSummaryPayload, p))).toBe('00000024' + '8320355d3c37c2d95badba15e73c79f5' + '03040600' + '04d20050' + '0a0b0001' + '0a000001');
  });
  it('rejects bad proxies with typed errors', () => {
    const good = new Uint8Array(36);
    tedProxyPayload.encode({ kind: 'ted-proxy', type: 128, proxy }, good, 0);
    const mut = (at: number, v: number): DecodeError => {
      const c = good.slice();
      c[at] = v;
      return decodeError(() => tedProxyPayload.decode(c, 0, c.length));
    };
    expect(mut(4, 5).code).toBe('IKE_TED_BAD_FAMILY');
    expect(mut(6, 0).code).toBe('IKE_TED_BAD_PORTS');
    expect(mut(6, 3).code).toBe('IKE_TED_BAD_LENGTH');
    expect(mut(11, 1)).toMatchObject({ code: 'IKE_TED_BAD_ADDRESS', offset: 8 }); // a value bit under a don't-care bit
    expect(mut(29, 0xf3)).toMatchObject({ code: 'IKE_TED_BAD_PORTS', offset: 28 }); // second range touches the first
    expect(mut(33, 0xf5)).toMatchObject({ code: 'IKE_TED_BAD_PORTS', offset: 32 }); // reversed range
  });
});

describe('messages', () => {
  it('IKEv1 Main Mode-like chain, encrypted IKEv1, IKEv2 with SK', () => {
    const payloads: Payload[] = [
      { kind: 'sa', type: 1, doi: 1, situation: 1, proposals: [{ number: 1, protocol: 1, spi: new Uint8Array(0), transforms: [{ number: 1, id: 1, attributes: [{ type: 1, value: 5 }] }] }] },
      { kind: 'vendor', type: 13, data: b('afcad71368a1f1c96b8696fc77570100') },
      { kind: 'nat-d', type: 20, data: b('00'.repeat(20)) },
      { kind: 'raw', type: 150, data: b('0102') },
    ];
    messageRoundTrip({ header: hdr({ nextPayload: 1 }), payloads });
    messageRoundTrip({ header: hdr({ nextPayload: 8, flags: 1, exchange: 32, msgid: 77 }), payloads: [], encrypted: b('00112233445566778899aabbccddeeff') });
    messageRoundTrip({
      header: hdr({ major: 2, exchange: 35, flags: 8, nextPayload: 41, msgid: 1 }),
      payloads: [
        { kind: 'notify2', type: 41, protocol: 0, notifyType: 16430, spi: new Uint8Array(0), data: new Uint8Array(0) },
        { kind: 'sk', type: 46, innerNext: 35, data: b('00112233') },
      ],
    });
    messageRoundTrip({ header: hdr({ major: 2, exchange: 34, flags: 8, nextPayload: 99 }), payloads: [{ kind: 'raw', type: 99, critical: true, data: b('01') }] });
    // TED payload numbers outside exchanges 240/241 stay raw bytes.
    const m = decodeMessage(b('0102030405060708' + '0000000000000000' + '80100200' + '00000000' + '00000021' + '0000000501'));
    expect(m.payloads[0]).toEqual({ kind: 'raw', type: 128, data: b('01') });
  });
  it('framing errors: truncated vs invalid, payload index and offset', () => {
    const good = new Uint8Array(28 + 12 + 5);
    encodeMessage({ header: hdr(), payloads: [{ kind: 'nonce', type: 10, data: b('0102030405060708') }, { kind: 'raw', type: 99, data: b('01') }] }, good);
    for (let n = 0; n < good.length; n++) {
      const e = decodeError(() => decodeMessage(good.subarray(0, n)));
      expect(e.code).toBe('IKE_TRUNCATED');
      expect(e.truncated).toBe(true);
    }
    const trailing = new Uint8Array(good.length + 1);
    trailing.set(good);
    expect(decodeError(() => decodeMessage(trailing)).code).toBe('IKE_TRAILING_DATA');
    const lie = good.slice();
    lie[28 + 12 + 3] = 9; // second payload claims 9 bytes, 5 remain
    const e = decodeError(() => decodeMessage(lie));
    expect([e.code, e.offset, e.payloadIndex, e.truncated]).toEqual(['IKE_BAD_PAYLOAD_LENGTH', 42, 1, false]);
    const zero = good.slice();
    zero[28 + 3] = 0;
    expect(decodeError(() => decodeMessage(zero)).code).toBe('IKE_BAD_PAYLOAD_LENGTH');
    const chain = good.slice();
    chain[28 + 12] = 7; // the last payload names another one after the message end
    const c = decodeError(() => decodeMessage(chain));
    expect([c.code, c.payloadIndex]).toEqual(['IKE_BAD_CHAIN', 2]);
    // A payload too short for its fixed fields lies about its length: invalid, not truncated.
    const shortId = b('0102030405060708' + '0000000000000000' + '05100200' + '00000000' + '00000022' + '00000006' + '0111');
    const s = decodeError(() => decodeMessage(shortId));
    expect([s.code, s.truncated, s.payloadIndex, s.offset]).toEqual(['IKE_BAD_PAYLOAD_LENGTH', false, 0, 32]);
    const ver = good.slice();
    ver[17] = 0x30;
    expect(decodeError(() => decodeMessage(ver)).code).toBe('IKE_BAD_VERSION');
  });
  it('limits on payload counts and nested counts', () => {
    const many: Payload[] = Array.from({ length: 65 }, () => ({ kind: 'raw', type: 99, data: new Uint8Array(0) }));
    const buf = new Uint8Array(messageEncodingLength({ header: hdr(), payloads: many }));
    encodeMessage({ header: hdr(), payloads: many }, buf);
    const e = decodeError(() => decodeMessage(buf));
    expect([e.code, e.payloadIndex]).toEqual(['IKE_TOO_MANY', 64]);
    const attrs = Array.from({ length: 200 }, () => ({ type: 1, value: 1 }));
    const sa: Payload = { kind: 'sa', type: 1, doi: 1, situation: 1, proposals: [{ number: 1, protocol: 1, spi: new Uint8Array(0), transforms: [{ number: 1, id: 1, attributes: attrs }] }] };
    const sb = new Uint8Array(messageEncodingLength({ header: hdr(), payloads: [sa] }));
    encodeMessage({ header: hdr(), payloads: [sa] }, sb);
    expect(decodeError(() => decodeMessage(sb)).code).toBe('IKE_TOO_MANY');
  });
});

// Random messages of every payload kind: decode(encode(m)) = m, at offsets.
const u8 = (max = 24) => fc.uint8Array({ maxLength: max });
const attrArb = fc.oneof(fc.record({ type: fc.integer({ min: 0, max: 0x7fff }), value: fc.integer({ min: 0, max: 0xffff }) }), fc.record({ type: fc.integer({ min: 0, max: 0x7fff }), value: u8(8) }));
const addr = (bytes: number) => fc.bigInt({ min: 0n, max: (1n << BigInt(8 * bytes)) - 1n });
const idArb: fc.Arbitrary<Identification> = fc.oneof(
  fc.record({ idType: fc.constantFrom(1 as const), address: addr(4) }),
  fc.record({ idType: fc.constantFrom(5 as const), address: addr(16) }),
  fc.record({ idType: fc.constantFrom(4 as const), address: addr(4), mask: addr(4) }),
  fc.record({ idType: fc.constantFrom(6 as const), address: addr(16), mask: addr(16) }),
  fc.record({ idType: fc.constantFrom(7 as const), start: addr(4), end: addr(4) }),
  fc.record({ idType: fc.constantFrom(8 as const), start: addr(16), end: addr(16) }),
  fc.record({ idType: fc.constantFrom(2 as const, 3 as const), text: fc.string({ maxLength: 20 }).map((s) => s.replace(/[^\x20-\x7e]/g, 'x')) }),
  fc.record({ idType: fc.constantFrom(9, 10, 11, 0, 77), data: u8() }),
);
const v1Payload: fc.Arbitrary<Payload> = fc.oneof(
  fc.record({
    kind: fc.constant('sa' as const),
    type: fc.constant(1),
    doi: fc.constant(1),
    situation: fc.constantFrom(1, 0),
    proposals: fc.array(
      fc.record({ number: fc.nat(255), protocol: fc.nat(255), spi: u8(8), transforms: fc.array(fc.record({ number: fc.nat(255), id: fc.nat(255), attributes: fc.array(attrArb, { maxLength: 4 }) }), { maxLength: 3 }) }),
      { maxLength: 3 },
    ),
  }),
  fc.record({ kind: fc.constantFrom('ke' as const, 'hash' as const, 'sig' as const, 'nonce' as const, 'vendor' as const), data: u8(40) }).map((p) => ({ ...p, type: { ke: 4, hash: 8, sig: 9, nonce: 10, vendor: 13 }[p.kind] })),
  fc.record({ kind: fc.constant('nat-d' as const), type: fc.constantFrom(20, 130), data: u8(20) }),
  fc.record({ kind: fc.constant('id' as const), type: fc.constant(5), protocol: fc.nat(255), port: fc.nat(65535), id: idArb }),
  fc.record({ kind: fc.constantFrom('cert' as const, 'cr' as const), encoding: fc.nat(255), data: u8() }).map((p) => ({ ...p, type: p.kind === 'cert' ? 6 : 7 })),
  fc.record({ kind: fc.constant('notify' as const), type: fc.constant(11), doi: fc.nat(), protocol: fc.nat(255), notifyType: fc.nat(65535), spi: u8(16), data: u8() }),
  fc.integer({ min: 0, max: 16 }).chain((spiSize) => fc.record({ kind: fc.constant('delete' as const), type: fc.constant(12), doi: fc.nat(), protocol: fc.nat(255), spiSize: fc.constant(spiSize), spis: fc.array(fc.uint8Array({ minLength: spiSize, maxLength: spiSize }), { maxLength: 4 }) })),
  fc.oneof(fc.record({ idType: fc.constant(1), address: addr(4) }), fc.record({ idType: fc.constant(5), address: addr(16) })).chain((a) => fc.record({ kind: fc.constant('nat-oa' as const), type: fc.constantFrom(21, 131), idType: fc.constant(a.idType), address: fc.constant(a.address) })),
  fc.record({ kind: fc.constant('raw' as const), type: fc.constantFrom(14, 15, 99, 128, 129, 133, 200), data: u8() }),
  fc.record({ kind: fc.constant('frag' as const), type: fc.constant(132), fragmentId: fc.integer({ min: 0, max: 65535 }), number: fc.integer({ min: 0, max: 255 }), flags: fc.integer({ min: 0, max: 255 }), data: u8() }),
);
const tsArb: fc.Arbitrary<TrafficSelector> = fc.oneof(
  fc.record({ tsType: fc.constant(7 as const), protocol: fc.nat(255), startPort: fc.nat(65535), endPort: fc.nat(65535), start: addr(4), end: addr(4) }),
  fc.record({ tsType: fc.constant(8 as const), protocol: fc.nat(255), startPort: fc.nat(65535), endPort: fc.nat(65535), start: addr(16), end: addr(16) }),
  fc.record({ tsType: fc.constantFrom(9, 10), protocol: fc.nat(255), data: u8() }),
);
const crit = fc.option(fc.constant(true), { nil: undefined });
const strip = <T extends { critical?: boolean }>(p: T): T => {
  if (p.critical === undefined) delete p.critical;
  return p;
};
const v2Payload: fc.Arbitrary<Payload> = fc.oneof(
  fc.record({
    kind: fc.constant('sa2' as const),
    type: fc.constant(33),
    critical: crit,
    proposals: fc.array(
      fc.record({ number: fc.nat(255), protocol: fc.nat(255), spi: u8(8), transforms: fc.array(fc.record({ transformType: fc.nat(255), id: fc.nat(65535), attributes: fc.array(attrArb, { maxLength: 3 }) }), { maxLength: 4 }) }),
      { maxLength: 3 },
    ),
  }).map(strip),
  fc.record({ kind: fc.constant('ke2' as const), type: fc.constant(34), critical: crit, group: fc.nat(65535), data: u8(64) }).map(strip),
  fc.record({ kind: fc.constantFrom('nonce2' as const, 'vendor2' as const), critical: crit, data: u8(32) }).map((p) => strip({ ...p, type: p.kind === 'nonce2' ? 40 : 43 })),
  fc.record({ kind: fc.constant('notify2' as const), type: fc.constant(41), critical: crit, protocol: fc.nat(255), notifyType: fc.nat(65535), spi: u8(8), data: u8() }).map(strip),
  fc.record({ kind: fc.constant('ts' as const), type: fc.constantFrom(44, 45), critical: crit, selectors: fc.array(tsArb, { maxLength: 4 }) }).map(strip),
  fc.record({ kind: fc.constant('id' as const), type: fc.constantFrom(35, 36), critical: crit, protocol: fc.nat(255), port: fc.nat(65535), id: idArb }).map(strip),
  fc.record({ kind: fc.constantFrom('cert' as const, 'cr' as const), critical: crit, encoding: fc.nat(255), data: u8() }).map((p) => strip({ ...p, type: p.kind === 'cert' ? 37 : 38 })),
  fc.record({ kind: fc.constant('raw' as const), type: fc.constantFrom(39, 42, 47, 48, 99), critical: crit, data: u8() }).map(strip),
);
const cookieArb = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });

describe('random messages round-trip', () => {
  it('IKEv1: any chain of typed and raw payloads', () => {
    fc.assert(
      fc.property(cookieArb, cookieArb, fc.integer({ min: 0, max: 239 }), fc.nat(0xffffffff), fc.array(v1Payload, { maxLength: 8 }), (ic, rc, exchange, msgid, payloads) => {
        messageRoundTrip({ header: hdr({ icookie: ic, rcookie: rc, exchange, msgid, flags: 0, nextPayload: payloads[0]?.type ?? 0 }), payloads });
      }),
      { numRuns: 300 },
    );
  });
  it('IKEv2: any chain, optionally ending in SK', () => {
    fc.assert(
      fc.property(cookieArb, fc.array(v2Payload, { maxLength: 6 }), fc.option(fc.record({ innerNext: fc.nat(255), data: u8(64) }), { nil: undefined }), (ic, payloads, sk) => {
        const all: Payload[] = sk ? [...payloads, { kind: 'sk', type: 46, ...sk }] : payloads;
        messageRoundTrip({ header: hdr({ major: 2, icookie: ic, exchange: 35, flags: 8, nextPayload: all[0]?.type ?? 0 }), payloads: all });
      }),
      { numRuns: 300 },
    );
  });
});

const HAVE_SHARED = present(CAPTURES, 'ike-codec: skipping the real-message golden round trips');
describe.skipIf(!HAVE_SHARED)('real messages (../shared/captures) as golden fixtures', () => {
  it('every well-formed message re-encodes byte for byte', () => {
    let n = 0;
    for (const f of readdirSync(CAPTURES).filter((x) => x.endsWith('.pcap') && !/bad-length|zero-length/.test(x))) {
      for (const fr of readFrames(readFileSync(join(CAPTURES, f)))) {
        const p = decodeFrame(fr.linkType, fr.data);
        if (!p.ok || p.protocol !== 17) continue;
        const ike = fr.data.subarray(p.payloadOffset, p.payloadOffset + p.payloadLength);
        const m = decodeMessage(ike);
        const out = new Uint8Array(messageEncodingLength(m));
        encodeMessage(m, out);
        expect(hex(out), `${f} frame ${fr.index}`).toBe(hex(ike));
        n++;
      }
    }
    expect(n).toBe(9 + 6 + 1);
  });
});
