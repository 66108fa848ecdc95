// The discovery messages: property round trips against the domain types, agreement of the
// straight-line TED encoder with the generic ISAKMP encoder, golden bytes, and every
// verification rule with its code and offset.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DecodeError, TedError } from '../src/errors.js';
import { encodeMessage, messageEncodingLength, type IkeMessage, type Payload } from '../src/ike/message.js';
import {
  answerPadding,
  datagramOverhead,
  largestResponseLength,
  decodeProbe,
  decodeResponse,
  encodeProbe,
  encodeResponse,
  probeEncodingLength,
  probeToBytes,
  readProbe,
  readProbeGeneral,
  readResponse,
  readResponseGeneral,
  responseEncodingLength,
  responseToBytes,
  TED_VENDOR_ID,
  verifyProbe,
  verifyResponse,
} from '../src/ike/ted.js';
import { TED_PROBE_HASH } from '../src/ike/ted-payloads.js';
import type { TedIdentity, TedProbe, TedResponse, TedSummary } from '../src/ike/ted-types.js';
import { hex, w32 } from '../src/ike/wire.js';
import type { Family } from '../src/selector/types.js';
import { bits, familyArb, selectorArb } from './algebra-arbitraries.js';
import { thrown } from './support/errors.js';
import { SAMPLE_PROBE } from './support/ted-fixtures.js';

const cookie = fc.bigInt({ min: 1n, max: (1n << 64n) - 1n });
const caps = fc.integer({ min: 0, max: 0xffffffff });
const port = fc.integer({ min: 0, max: 65535 });
const identity = familyArb.chain((f) => bits(f).map((address): TedIdentity => ({ family: f, address })));
const summaryArb = (f: Family): fc.Arbitrary<TedSummary> =>
  fc.record({ tedVersion: fc.constant(3), family: fc.constant(f), protocol: fc.integer({ min: 0, max: 255 }), src: bits(f), dst: bits(f), sport: port, dport: port });
const probeArb: fc.Arbitrary<TedProbe> = familyArb.chain((f) =>
  fc
    .record({ icookie: cookie, capabilities: caps, id: identity, proxy: fc.option(selectorArb(f), { nil: undefined }), summary: summaryArb(f), padding: fc.option(fc.integer({ min: 0, max: 300 }), { nil: undefined }) })
    .map((p) => {
      const out: { -readonly [K in keyof TedProbe]: TedProbe[K] } = { icookie: p.icookie, capabilities: p.capabilities, id: p.id, summary: p.summary };
      if (p.proxy !== undefined) out.proxy = p.proxy;
      if (p.padding !== undefined) out.padding = p.padding;
      return out;
    }),
);
const responseArb: fc.Arbitrary<TedResponse> = familyArb.chain((f) => fc.record({ icookie: cookie, rcookie: cookie, capabilities: caps, id: identity, proxy: selectorArb(f) }));

// The same message built with the generic codec: both encoders must agree byte for byte.
function genericProbe(p: TedProbe): IkeMessage {
  const payloads: Payload[] = [vendor(p.capabilities), id(p.id)];
  if (p.proxy) payloads.push({ kind: 'ted-proxy', type: 128, proxy: p.proxy });
  if (p.padding !== undefined) payloads.push({ kind: 'raw', type: 134, data: new Uint8Array(p.padding) });
  payloads.push({ kind: 'ted-summary', type: 129, hash: TED_PROBE_HASH, summary: p.summary });
  return { header: header(p.icookie, 0n, 240), payloads };
}
function genericResponse(r: TedResponse): IkeMessage {
  return { header: header(r.icookie, r.rcookie, 241), payloads: [vendor(r.capabilities), id(r.id), { kind: 'ted-response', type: 133, proxy: r.proxy }] };
}
function header(icookie: bigint, rcookie: bigint, exchange: number) {
  return { icookie, rcookie, nextPayload: 13, major: 1, minor: 0, exchange, flags: 0, msgid: 0, length: 0 };
}
function vendor(c: number): Payload {
  const data = new Uint8Array(20);
  data.set(TED_VENDOR_ID);
  w32(data, 16, c);
  return { kind: 'vendor', type: 13, data };
}
function id(i: TedIdentity): Payload {
  return { kind: 'id', type: 5, protocol: 17, port: 500, id: { idType: i.family === 4 ? 1 : 5, address: i.address } };
}
function generic(m: IkeMessage): string {
  const b = new Uint8Array(messageEncodingLength(m));
  encodeMessage(m, b);
  return hex(b);
}

const decodeError = (f: () => unknown): DecodeError => thrown(DecodeError, f);

const probe: TedProbe = SAMPLE_PROBE;
const response: TedResponse = {
  icookie: 0xfafaeb49382a763cn,
  rcookie: 0x1122334455667788n,
  capabilities: 7,
  id: { family: 6, address: 0x20010db8000000000000000000000001n },
  proxy: { family: 6, protocol: 0, src: { value: 0x20010db8n << 96n, care: 0xffffffffn << 96n }, dst: { value: 0n, care: 0n }, sport: [{ lo: 0, hi: 65535 }], dport: [{ lo: 0, hi: 65535 }] },
};

describe('TED probe and response round trips', () => {
  it('random probes: encode at any offset, decode + verify gives the same probe; generic encoder agrees', () => {
    fc.assert(
      fc.property(probeArb, fc.integer({ min: 0, max: 40 }), (p, off) => {
        const len = probeEncodingLength(p);
        const buf = new Uint8Array(off + len + 7).fill(0xee);
        expect(encodeProbe(p, buf, off)).toBe(len);
        expect(buf[off - 1] ?? 0xee).toBe(0xee);
        expect(buf[off + len]).toBe(0xee);
        expect(readProbe(buf, off, off + len)).toEqual(p);
        expect(readProbeGeneral(buf, off, off + len)).toEqual(p);
        expect(hex(buf.subarray(off, off + len))).toBe(generic(genericProbe(p)));
      }),
      { numRuns: 400 },
    );
  });
  it('random responses likewise', () => {
    fc.assert(
      fc.property(responseArb, fc.integer({ min: 0, max: 40 }), (r, off) => {
        const len = responseEncodingLength(r);
        const buf = new Uint8Array(off + len + 3);
        expect(encodeResponse(r, buf, off)).toBe(len);
        expect(readResponse(buf, off, off + len, { icookie: r.icookie })).toEqual(r);
        expect(readResponseGeneral(buf, off, off + len)).toEqual(r);
        expect(hex(buf.subarray(off, off + len))).toBe(generic(genericResponse(r)));
      }),
      { numRuns: 400 },
    );
  });
  it('golden probe (IPv4, proxy with a neq port set) and response (IPv6)', () => {
    expect(hex(probeToBytes(probe))).toBe(
      'fafaeb49382a763c' + '0000000000000000' + '0d10f000' + '00000000' + '00000088' +
        '05000018' + 'e01fb91cbe78ae8891985b7424e4235f' + '00000007' +
        '8000000c' + '011101f4' + 'c0000201' +
        '81000024' + '04060102' + '0a0b0000' + 'ffff0000' + '00000000' + '00000000' + '0000ffff' + '0000004f' + '0051ffff' +
        '00000024' + '8320355d3c37c2d95badba15e73c79f5' + '03040600' + '04d20050' + '0a0b0001' + '0a000001',
    );
    expect(hex(responseToBytes(response))).toBe(
      'fafaeb49382a763c' + '1122334455667788' + '0d10f100' + '00000000' + '0000009c' +
        '05000018' + 'e01fb91cbe78ae8891985b7424e4235f' + '00000007' +
        '85000018' + '051101f4' + '20010db8000000000000000000000001' +
        '00000050' + '06000101' +
        '20010db8000000000000000000000000' + 'ffffffff000000000000000000000000' + '00000000000000000000000000000000' + '00000000000000000000000000000000' +
        '0000ffff' + '0000ffff',
    );
  });
  it('answerPadding makes every probe at least as large on the wire as the largest response to it', () => {
    fc.assert(
      fc.property(probeArb, (p0) => {
        const { padding: _p, ...bare } = p0;
        const pad = answerPadding(bare);
        const padded: TedProbe = pad === undefined ? bare : { ...bare, padding: pad };
        const wire = probeEncodingLength(padded) + datagramOverhead(p0.summary.family);
        const largest = largestResponseLength(p0.id, p0.summary.family) + datagramOverhead(p0.id.family);
        expect(wire).toBeGreaterThanOrEqual(largest);
        // ...and no larger than needed (the padding payload's own header is the only slack).
        if (pad !== undefined) expect(wire - largest).toBeLessThanOrEqual(4);
        // The largest response is what the codec really writes with 16 + 16 port ranges.
        const ranges = Array.from({ length: 16 }, (_, i) => ({ lo: i * 4, hi: i * 4 + 1 }));
        const widest: TedResponse = { icookie: 1n, rcookie: 1n, capabilities: 0, id: p0.id, proxy: { family: p0.summary.family, protocol: 0, src: { value: 0n, care: 0n }, dst: { value: 0n, care: 0n }, sport: ranges, dport: ranges } };
        expect(responseToBytes(widest).length).toBe(largestResponseLength(p0.id, p0.summary.family));
      }),
      { numRuns: 200 },
    );
    expect(answerPadding({ ...probe, proxy: undefined } as TedProbe)).toBe(216 - 100 - 4);
  });
  it('a second padding payload is IKE_TED_DUPLICATE_PAYLOAD', () => {
    const m = genericProbe({ ...probe, padding: 4 });
    const twice: IkeMessage = { ...m, payloads: [...m.payloads.slice(0, -1), { kind: 'raw', type: 134, data: new Uint8Array(2) }, m.payloads[m.payloads.length - 1]!] };
    const b = new Uint8Array(messageEncodingLength(twice));
    encodeMessage(twice, b);
    expect(decodeError(() => readProbe(b)).code).toBe('IKE_TED_DUPLICATE_PAYLOAD');
  });
  it('the constants are the MD5 values they claim to be', async () => {
    const { createHash } = await import('node:crypto');
    expect(hex(TED_PROBE_HASH)).toBe(createHash('md5').update('Cisco TED Probe version #3').digest('hex'));
    expect(hex(TED_VENDOR_ID)).toBe(createHash('md5').update('ipsec-ted').digest('hex'));
  });
});

describe('verification rules', () => {
  const good = probeToBytes(probe);
  const goodR = responseToBytes(response);
  const patch = (src: Uint8Array, at: number, bytes: number[]): Uint8Array => {
    const c = src.slice();
    c.set(bytes, at);
    return c;
  };
  it('probe header rules', () => {
    expect(decodeError(() => readProbe(patch(good, 18, [241])))).toMatchObject({ code: 'IKE_TED_BAD_EXCHANGE', offset: 18 });
    expect(decodeError(() => readProbe(patch(good, 20, [0, 0, 0, 1])))).toMatchObject({ code: 'IKE_TED_BAD_MSGID', offset: 20 });
    expect(decodeError(() => readProbe(patch(good, 0, [0, 0, 0, 0, 0, 0, 0, 0])))).toMatchObject({ code: 'IKE_TED_ZERO_COOKIE', offset: 0 });
    expect(decodeError(() => readProbe(patch(good, 15, [1])))).toMatchObject({ code: 'IKE_TED_BAD_COOKIE', offset: 8 });
    expect(decodeError(() => readProbe(patch(good, 19, [2])))).toMatchObject({ code: 'IKE_TED_BAD_FLAGS', offset: 19 });
    expect(decodeError(() => readProbe(patch(good, 17, [0x11])))).toMatchObject({ code: 'IKE_TED_BAD_VERSION', offset: 17 });
    // Encrypted: the body is opaque, so the rule is reported before any payload rule.
    expect(decodeError(() => readProbe(patch(good, 19, [1])))).toMatchObject({ code: 'IKE_TED_ENCRYPTED', offset: 19 });
  });
  it('probe payload rules', () => {
    // Summary hash and TED version.
    expect(decodeError(() => readProbe(patch(good, 28 + 24 + 12 + 36 + 4 + 3, [0])))).toMatchObject({ code: 'IKE_TED_BAD_HASH', offset: 107, payloadIndex: 3 });
    expect(decodeError(() => readProbe(patch(good, 28 + 24 + 12 + 36 + 20, [2])))).toMatchObject({ code: 'IKE_TED_BAD_VERSION', offset: 120, payloadIndex: 3 });
    // A Vendor ID that is not ours: no TED vendor payload.
    expect(decodeError(() => readProbe(patch(good, 32, [0])))).toMatchObject({ code: 'IKE_TED_MISSING_PAYLOAD' });
    // ID type FQDN instead of an address.
    expect(decodeError(() => readProbe(patch(good, 56, [2])))).toMatchObject({ code: 'IKE_TED_BAD_ID', offset: 56, payloadIndex: 1 });
    // No summary: end the chain after the proxy and drop the last payload.
    const noSummary = patch(good, 64, [0]).subarray(0, 100);
    w32(noSummary, 24, 100);
    expect(decodeError(() => readProbe(noSummary))).toMatchObject({ code: 'IKE_TED_MISSING_PAYLOAD' });
    // Proxy IPv4 but summary IPv6 cannot happen through encodeProbe: build it generically.
    const v6summary = { ...probe.summary, family: 6 as const };
    const m = genericProbe({ ...probe, summary: v6summary });
    const mixed = new Uint8Array(messageEncodingLength(m));
    encodeMessage(m, mixed);
    expect(decodeError(() => readProbe(mixed))).toMatchObject({ code: 'IKE_TED_FAMILY_MISMATCH', payloadIndex: 3 });
    // Duplicate summary.
    const dup = genericProbe(probe);
    const dm = { ...dup, payloads: [...dup.payloads, dup.payloads[3]!] };
    const db = new Uint8Array(messageEncodingLength(dm));
    encodeMessage(dm, db);
    expect(decodeError(() => readProbe(db))).toMatchObject({ code: 'IKE_TED_DUPLICATE_PAYLOAD', payloadIndex: 4 });
  });
  it('response rules', () => {
    expect(decodeError(() => readResponse(patch(goodR, 8, [0, 0, 0, 0, 0, 0, 0, 0])))).toMatchObject({ code: 'IKE_TED_ZERO_COOKIE', offset: 8 });
    expect(decodeError(() => readResponse(goodR, 0, goodR.length, { icookie: 5n }))).toMatchObject({ code: 'IKE_TED_COOKIE_MISMATCH', offset: 0 });
    expect(decodeError(() => readResponse(patch(goodR, 18, [240])))).toMatchObject({ code: 'IKE_TED_BAD_EXCHANGE' });
    // A probe is not a response, and the other way round.
    expect(decodeError(() => verifyResponse(decodeResponse(good)))).toMatchObject({ code: 'IKE_TED_BAD_EXCHANGE' });
    expect(decodeError(() => verifyProbe(decodeProbe(goodR)))).toMatchObject({ code: 'IKE_TED_BAD_EXCHANGE' });
  });
  it('decode is separate from verify: a structurally fine message with wrong semantics decodes', () => {
    const m = decodeProbe(patch(good, 20, [0, 0, 0, 9]));
    expect(m.header.msgid).toBe(9);
    expect(m.payloads.map((p) => p.kind)).toEqual(['vendor', 'id', 'ted-proxy', 'ted-summary']);
  });
});

describe('encoder input checks', () => {
  const buf = new Uint8Array(512);
  const code = (f: () => unknown): string => {
    try {
      f();
    } catch (e) {
      if (e instanceof TedError) return e.code;
      throw e;
    }
    return 'none';
  };
  it('rejects what the wire cannot carry or the rules forbid', () => {
    expect(code(() => encodeProbe({ ...probe, icookie: 0n }, buf))).toBe('IKE_ENCODE_INVALID');
    expect(code(() => encodeProbe({ ...probe, icookie: 1n << 64n }, buf))).toBe('IKE_ENCODE_INVALID');
    expect(code(() => encodeResponse({ ...response, rcookie: 0n }, buf))).toBe('IKE_ENCODE_INVALID');
    expect(code(() => encodeProbe({ ...probe, proxy: { ...probe.proxy!, sport: [] } }, buf))).toBe('IKE_ENCODE_INVALID');
    expect(code(() => encodeProbe({ ...probe, proxy: { ...probe.proxy!, sport: [{ lo: 5, hi: 9 }, { lo: 10, hi: 20 }] } }, buf))).toBe('IKE_ENCODE_INVALID');
    expect(code(() => encodeProbe({ ...probe, proxy: { ...probe.proxy!, src: { value: 1n, care: 0n } } }, buf))).toBe('IKE_ENCODE_INVALID');
    expect(code(() => encodeProbe({ ...probe, summary: { ...probe.summary, dport: 70000 } }, buf))).toBe('IKE_ENCODE_INVALID');
    expect(code(() => encodeProbe({ ...probe, id: { family: 4, address: 1n << 32n } }, buf))).toBe('IKE_ENCODE_INVALID');
    expect(() => encodeProbe(probe, new Uint8Array(10))).toThrow(RangeError);
    expect(() => encodeProbe(probe, buf, 500)).toThrow(RangeError);
  });
});
