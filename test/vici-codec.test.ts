// The VICI codec against the README's own byte example, round trips of random trees (the four
// dns-packet checks: decode(encode(x)) = x, bytes = encodingLength, re-encoding is identical,
// encoding at a non-zero offset of a larger buffer), packets of every type, frames cut at every
// boundary, and each typed error with its offset.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DecodeError, TedError } from '../src/errors.js';
import { decodeMessage, encodeMessage, messageEncodingLength, MAX_DEPTH, type ViciSection, type ViciValue } from '../src/vici/message.js';
import {
  CMD_REQUEST,
  CMD_RESPONSE,
  CMD_UNKNOWN,
  EVENT,
  EVENT_CONFIRM,
  EVENT_REGISTER,
  EVENT_UNKNOWN,
  EVENT_UNREGISTER,
  FrameReader,
  MAX_FRAME,
  decodePacket,
  encodeFrame,
} from '../src/vici/packet.js';
import { thrown } from './support/errors.js';

const ascii = (s: string) => [...s].map((c) => c.charCodeAt(0));

// The README's "Encoding example", byte for byte.
const README_BYTES = Uint8Array.from([
  3, 4, ...ascii('key1'), 0, 6, ...ascii('value1'),
  1, 8, ...ascii('section1'),
  1, 11, ...ascii('sub-section'),
  3, 4, ...ascii('key2'), 0, 6, ...ascii('value2'),
  2,
  4, 5, ...ascii('list1'),
  5, 0, 5, ...ascii('item1'),
  5, 0, 5, ...ascii('item2'),
  6,
  2,
]);
const README_TREE = { key1: 'value1', section1: { 'sub-section': { key2: 'value2' }, list1: ['item1', 'item2'] } };

describe('VICI message elements', () => {
  it('decodes and encodes the README example byte for byte', () => {
    expect(decodeMessage(README_BYTES)).toEqual(README_TREE);
    expect(encodeMessage(README_TREE)).toEqual(README_BYTES);
    expect(messageEncodingLength(README_TREE)).toBe(README_BYTES.length);
  });

  it('writes numbers in decimal and booleans as yes/no, skips undefined keys, keeps empty lists and sections', () => {
    const b = encodeMessage({ timeout: 1500, 'init-limits': false, force: true, skip: undefined, none: [], empty: {} });
    expect(decodeMessage(b)).toEqual({ timeout: '1500', 'init-limits': 'no', force: 'yes', none: [], empty: {} });
  });

  it('gives values as bytes on request (binary blobs survive)', () => {
    const blob = Uint8Array.from([0, 0xff, 0xc3, 0x28, 10]);
    const m = decodeMessage(encodeMessage({ data: blob, l: [blob] }), 0, undefined, { values: 'bytes' });
    expect(m.data).toEqual(blob);
    expect((m.l as ViciValue[])[0]).toEqual(blob);
  });

  // Keys start with a letter: integer-like keys would be reordered by JavaScript objects.
  const key = fc.stringMatching(/^[a-z][a-z0-9_-]{0,12}$/);
  const value = fc.uint8Array({ maxLength: 40 });
  const tree: fc.Arbitrary<ViciSection> = fc.letrec<{ section: ViciSection }>((tie) => ({
    section: fc
      .array(fc.tuple(key, fc.oneof({ depthSize: 'small', withCrossShrink: true }, value, fc.array(value, { maxLength: 4 }), tie('section'))), { maxLength: 6 })
      .map((pairs) => {
        const o: ViciSection = {};
        for (const [k, v] of pairs) o[k] = v as ViciSection[string];
        return o;
      }),
  })).section;

  it('round-trips random trees: decode(encode(x)) = x, length, identical re-encoding, non-zero offset', () => {
    fc.assert(
      fc.property(tree, fc.integer({ min: 0, max: 17 }), (x, pad) => {
        const bytes = encodeMessage(x);
        expect(bytes.length).toBe(messageEncodingLength(x));
        const back = decodeMessage(bytes, 0, bytes.length, { values: 'bytes' });
        expect(back).toEqual(x);
        expect(encodeMessage(back)).toEqual(bytes);
        const big = new Uint8Array(bytes.length + pad * 2).fill(0xaa);
        expect(encodeMessage(x, big, pad)).toBe(bytes.length);
        expect(big.subarray(pad, pad + bytes.length)).toEqual(bytes);
        expect(decodeMessage(big, pad, pad + bytes.length, { values: 'bytes' })).toEqual(x);
      }),
      { numRuns: 300 },
    );
  });

  const errorCases: [string, number[], string, number][] = [
    ['unknown element type', [3, 1, 97, 0, 0, 9], 'VICI_BAD_ELEMENT', 5],
    ['name runs past the end', [1, 5, 97, 98], 'VICI_TRUNCATED', 1],
    ['name length missing', [3], 'VICI_TRUNCATED', 1],
    ['value length cut', [3, 1, 97, 0], 'VICI_TRUNCATED', 3],
    ['value runs past the end', [3, 1, 97, 0, 3, 120], 'VICI_TRUNCATED', 3],
    ['section end at the root', [2], 'VICI_UNBALANCED', 0],
    ['section not closed', [1, 1, 115], 'VICI_UNBALANCED', 3],
    ['list not closed', [4, 1, 108, 5, 0, 0], 'VICI_UNBALANCED', 0],
    ['item outside a list', [5, 0, 1, 120], 'VICI_BAD_LIST', 0],
    ['list end without a list', [6], 'VICI_BAD_LIST', 0],
    ['key/value inside a list', [4, 1, 108, 3, 1, 97, 0, 0, 6], 'VICI_BAD_LIST', 3],
    ['section inside a list', [4, 1, 108, 1, 1, 97, 2, 6], 'VICI_BAD_LIST', 3],
    ['duplicate key', [3, 1, 97, 0, 0, 3, 1, 97, 0, 0], 'VICI_DUPLICATE_KEY', 5],
    ['duplicate section name', [1, 1, 97, 2, 4, 1, 97, 6], 'VICI_DUPLICATE_KEY', 4],
  ];
  it.each(errorCases)('%s: %s at its offset', (_what, bytes, code, offset) => {
    const e = thrown(DecodeError, () => decodeMessage(Uint8Array.from(bytes)));
    expect(e.code).toBe(code);
    expect(e.offset).toBe(offset);
    // The same bytes later in a buffer: the offset moves with them.
    const shifted = Uint8Array.from([9, 9, 9, ...bytes]);
    expect(thrown(DecodeError, () => decodeMessage(shifted, 3)).offset).toBe(offset + 3);
  });

  it(`refuses sections nested deeper than ${MAX_DEPTH} (no recursion: the stack cannot overflow)`, () => {
    const deep = 100_000;
    const bytes = new Uint8Array(deep * 3 + deep);
    for (let i = 0; i < deep; i++) bytes.set([1, 1, 115], i * 3);
    bytes.fill(2, deep * 3);
    expect(thrown(DecodeError, () => decodeMessage(bytes)).code).toBe('VICI_TOO_DEEP');
    let nest: Record<string, unknown> = {};
    const top = nest;
    for (let i = 0; i < MAX_DEPTH + 2; i++) nest = (nest.s = {}) as Record<string, unknown>;
    expect(thrown(TedError, () => encodeMessage(top as ViciSection)).code).toBe('VICI_TOO_DEEP');
  });

  it('refuses what cannot be encoded, with the key named', () => {
    expect(thrown(TedError, () => encodeMessage({ k: 'x'.repeat(65536) })).code).toBe('VICI_VALUE_TOO_LONG');
    expect(thrown(TedError, () => encodeMessage({ ['n'.repeat(256)]: 'v' })).code).toBe('VICI_BAD_NAME');
    expect(thrown(TedError, () => encodeMessage({ 'é€': 'v' })).code).toBe('VICI_BAD_NAME');
    const e = thrown(TedError, () => encodeMessage({ a: { b: Number.NaN } }));
    expect(e.code).toBe('VICI_BAD_VALUE');
    expect(e.message).toMatch(/^a\.b:/);
    expect(thrown(TedError, () => encodeMessage({ a: 1 }, new Uint8Array(3), 1)).code).toBe('VICI_NO_SPACE');
  });
});

describe('VICI packets and frames', () => {
  const msg = { child: 'net', timeout: '1000' };
  const packets = [
    { type: CMD_REQUEST, name: 'initiate', message: msg },
    { type: CMD_RESPONSE, message: { success: 'yes' } },
    { type: CMD_UNKNOWN },
    { type: EVENT_REGISTER, name: 'child-updown' },
    { type: EVENT_UNREGISTER, name: 'child-updown' },
    { type: EVENT_CONFIRM },
    { type: EVENT_UNKNOWN },
    { type: EVENT, name: 'control-log', message: { group: 'IKE', level: '1', msg: 'hello' } },
  ] as const;

  it.each(packets.map((p) => [p.type, p] as const))('type %i round-trips through a frame', (_t, p) => {
    const frame = encodeFrame(p);
    expect(new DataView(frame.buffer).getUint32(0)).toBe(frame.length - 4);
    expect(frame[4]).toBe(p.type);
    expect(decodePacket(frame, 4)).toEqual(p);
  });

  it('frames a named request as the README lays it out', () => {
    const f = encodeFrame({ type: CMD_REQUEST, name: 'version' });
    expect([...f]).toEqual([0, 0, 0, 9, 0, 7, ...ascii('version')]);
  });

  it('types its packet errors', () => {
    expect(thrown(DecodeError, () => decodePacket(Uint8Array.from([8]))).code).toBe('VICI_BAD_PACKET_TYPE');
    expect(thrown(DecodeError, () => decodePacket(new Uint8Array(0))).code).toBe('VICI_TRUNCATED');
    expect(thrown(DecodeError, () => decodePacket(Uint8Array.from([3, 4, 97]))).code).toBe('VICI_TRUNCATED');
    const trailing = thrown(DecodeError, () => decodePacket(Uint8Array.from([5, 1])));
    expect([trailing.code, trailing.offset]).toEqual(['VICI_TRAILING_BYTES', 1]);
    expect(thrown(TedError, () => encodeFrame({ type: EVENT_REGISTER, name: 'bad\nname' })).code).toBe('VICI_BAD_NAME');
    expect(thrown(TedError, () => encodeFrame({ type: CMD_REQUEST, name: 'x', message: { a: 'v'.repeat(60000), b: 'v'.repeat(60000), c: 'v'.repeat(60000), d: 'v'.repeat(60000), e: 'v'.repeat(60000), f: 'v'.repeat(60000), g: 'v'.repeat(60000), h: 'v'.repeat(60000), i: 'v'.repeat(60000) } })).code).toBe('VICI_FRAME_TOO_LARGE');
  });

  it('cuts a stream into frames whatever the chunking', () => {
    const frames = packets.map((p) => encodeFrame(p));
    const stream = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
    let at = 0;
    for (const f of frames) {
      stream.set(f, at);
      at += f.length;
    }
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: stream.length }), { maxLength: 12 }), (cuts) => {
        const points = [...new Set(cuts)].sort((a, b) => a - b);
        const r = new FrameReader();
        const got: Uint8Array[] = [];
        let prev = 0;
        for (const c of [...points, stream.length]) {
          got.push(...r.push(stream.subarray(prev, c)));
          prev = c;
        }
        expect(got.map((g) => decodePacket(g))).toEqual(packets);
        expect(r.buffered).toBe(0);
      }),
    );
  });

  it('refuses a frame longer than 512 KiB at its stream offset, before buffering it', () => {
    const r = new FrameReader();
    const ok = encodeFrame({ type: EVENT_CONFIRM });
    expect(r.push(ok)).toHaveLength(1);
    const big = new Uint8Array(4);
    new DataView(big.buffer).setUint32(0, MAX_FRAME + 1);
    const e = thrown(DecodeError, () => r.push(big));
    expect([e.code, e.offset]).toEqual(['VICI_FRAME_TOO_LARGE', ok.length]);
    const exact = new Uint8Array(4);
    new DataView(exact.buffer).setUint32(0, MAX_FRAME);
    expect(new FrameReader().push(exact)).toEqual([]);
  });
});
