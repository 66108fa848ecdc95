// Bounded-time fuzzing of the IKE decoders: random bytes and mutations of real messages (the
// shared captures when present, and our own probes and responses). Only DecodeError with an
// IKE_* code and a sane offset may escape; whatever decodes re-encodes to the same structure;
// the decoder still works afterwards.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { inspect, isDeepStrictEqual } from 'node:util';
import { describe, expect, it } from 'vitest';
import { isakmpStart } from '../src/cli/commands/decode.js';
import { DecodeError } from '../src/errors.js';
import { decodeMessage, decodeMessagePartial, encodeMessage, messageEncodingLength } from '../src/ike/message.js';
import { probeToBytes, readProbe, readProbeGeneral, readResponse, readResponseGeneral, responseToBytes } from '../src/ike/ted.js';
import type { TedProbe, TedResponse } from '../src/ike/ted-types.js';
import { decodeFrame } from '../src/packet/decode.js';
import { encodeIPv4, encodeIPv6, encodeL4 } from '../src/packet/encode.js';
import { IkeCaptureDecoder } from '../src/pcap/ike-capture.js';
import { readFrames } from '../src/pcap/reader.js';
import { CAPTURES, present } from './support/shared.js';
import { fuzzSettings, mutateBytes } from './support/fuzz.js';

const { budgetMs: BUDGET_MS, rnd } = fuzzSettings('ike-fuzz', 'IKE_FUZZ', 2500);

const probe: TedProbe = {
  icookie: 0x1234n,
  capabilities: 7,
  id: { family: 4, address: 0xc0000201n },
  proxy: { family: 4, protocol: 6, src: { value: 0x0a0b0000n, care: 0xffff0000n }, dst: { value: 0n, care: 0n }, sport: [{ lo: 0, hi: 65535 }], dport: [{ lo: 0, hi: 79 }, { lo: 81, hi: 65535 }] },
  summary: { tedVersion: 3, family: 4, protocol: 6, src: 0x0a0b0001n, dst: 0x0a000001n, sport: 1234, dport: 80 },
};
const response: TedResponse = {
  icookie: 0x1234n,
  rcookie: 0x5678n,
  capabilities: 7,
  id: { family: 6, address: 1n },
  proxy: { family: 6, protocol: 0, src: { value: 0n, care: 0n }, dst: { value: 1n << 127n, care: 1n << 127n }, sport: [{ lo: 0, hi: 65535 }], dport: [{ lo: 0, hi: 10 }, { lo: 12, hi: 65535 }] },
};

function seeds(): Uint8Array[] {
  const out = [probeToBytes(probe), responseToBytes(response), probeToBytes({ ...probe, proxy: undefined })];
  if (!present(CAPTURES, 'ike-fuzz: mutating only our own messages')) return out;
  for (const f of readdirSync(CAPTURES).filter((x) => x.endsWith('.pcap'))) {
    for (const fr of readFrames(readFileSync(join(CAPTURES, f)))) {
      const p = decodeFrame(fr.linkType, fr.data);
      if (!p.ok || p.protocol !== 17) continue;
      const payload = fr.data.subarray(p.payloadOffset, p.payloadOffset + p.payloadLength);
      const at = isakmpStart(p.sport, p.dport, payload);
      if (at >= 0) out.push(payload.slice(at));
    }
  }
  return out;
}

function mutate(src: Uint8Array): Uint8Array {
  let b: Uint8Array = src.slice();
  const n = 1 + rnd(4);
  for (let k = 0; k < n; k++) {
    switch (rnd(7)) {
      case 0:
      case 1:
      case 2:
      case 3:
      case 4: // format-agnostic: a byte, the end cut, bytes inserted or deleted, an edge 16-bit value
        b = mutateBytes(b, rnd);
        break;
      case 5: // fix the header length to the buffer, so the chain walker gets exercised
        if (b.length >= 28) {
          b[24] = b.length >>> 24;
          b[25] = b.length >>> 16;
          b[26] = b.length >>> 8;
          b[27] = b.length;
        }
        break;
      default: // next-payload byte set to any type
        if (b.length > 16) b[rnd(2) ? 16 : rnd(b.length)] = [1, 2, 3, 5, 11, 12, 13, 21, 33, 34, 40, 41, 44, 46, 128, 129, 133, rnd(256)][rnd(18)]!;
    }
  }
  return b;
}

function randomMessage(): Uint8Array {
  const len = 28 + rnd(200);
  const b = Uint8Array.from({ length: len }, () => rnd(256));
  if (rnd(4)) {
    b[17] = rnd(2) ? 0x10 : 0x20;
    b[19] = rnd(2) ? 0 : b[19]!;
    b[24] = 0;
    b[25] = 0;
    b[26] = len >>> 8;
    b[27] = len & 255;
    if (rnd(2)) b[18] = 240 + rnd(2);
  }
  return rnd(8) ? b : b.subarray(0, rnd(len));
}

const stats = { ok: 0, errors: 0, codes: new Map<string, number>() };

type Outcome = { value: unknown } | { code: string; offset: number; payloadIndex?: number };
function outcome(f: () => unknown): Outcome {
  try {
    return { value: f() };
  } catch (e) {
    if (!(e instanceof DecodeError)) throw e;
    return { code: e.code, offset: e.offset, payloadIndex: e.payloadIndex };
  }
}

/** The one-pass readers must agree with decode + verify on every input. */
function sameAsGeneral(buf: Uint8Array, pad: number): void {
  const pairs = [
    [outcome(() => readProbe(buf, pad)), outcome(() => readProbeGeneral(buf, pad))],
    [outcome(() => readResponse(buf, pad)), outcome(() => readResponseGeneral(buf, pad))],
  ];
  for (const [fast, general] of pairs) {
    if (!isDeepStrictEqual(fast, general)) throw new Error(`fast ${inspect(fast)} != general ${inspect(general)} for ${Buffer.from(buf).toString('hex')} at pad ${pad}`);
  }
}

/** decodeMessagePartial never throws, and agrees with decodeMessage: same message, or the same error (a message-level IKE_TRAILING_DATA is `trailing` instead). */
function samePartial(buf: Uint8Array, pad: number): void {
  const where = (): string => `for ${Buffer.from(buf).toString('hex')} at pad ${pad}`;
  let p: ReturnType<typeof decodeMessagePartial>;
  try {
    p = decodeMessagePartial(buf, pad);
  } catch (e) {
    throw new Error(`decodeMessagePartial threw ${String(e)} ${where()}`, { cause: e });
  }
  const full = outcome(() => decodeMessage(buf, pad));
  if ('value' in full) {
    if (p.error || p.trailing) throw new Error(`partial reports ${p.error?.code ?? 'trailing'} on a whole message ${where()}`);
    return;
  }
  if (full.code === 'IKE_TRAILING_DATA' && p.trailing && p.header && p.header.length + pad === full.offset) return;
  if (p.error?.code !== full.code || p.error.offset !== full.offset) throw new Error(`partial ${p.error?.code}@${p.error?.offset} != full ${full.code}@${full.offset} ${where()}`);
  // What partial shows before the error is what the chain had decoded: spans within the message.
  for (const sp of p.spans) if (sp.offset < pad || sp.offset + sp.length > buf.length) throw new Error(`span outside the buffer ${where()}`);
}

function check(bytes: Uint8Array): void {
  // The message at a non-zero offset too, so offsets are checked against the real buffer.
  const pad = rnd(3);
  const buf = new Uint8Array(pad + bytes.length);
  buf.set(bytes, pad);
  sameAsGeneral(buf, pad);
  samePartial(buf, pad);
  for (const run of [() => decodeMessage(buf, pad), () => readProbe(buf, pad), () => readResponse(buf, pad)]) {
    try {
      const m = run();
      stats.ok++;
      if ('spans' in m) {
        // Whatever decodes re-encodes, and decodes again to the same structure.
        const again = new Uint8Array(messageEncodingLength(m));
        encodeMessage(m, again);
        const d2 = decodeMessage(again);
        expect(d2.payloads).toEqual(m.payloads);
        expect({ ...d2.header }).toEqual({ ...m.header });
      }
    } catch (e) {
      // Plain checks here: expect() per iteration would cost more than the decoding.
      const where = `for ${Buffer.from(bytes).toString('hex')} at pad ${pad}`;
      if (!(e instanceof DecodeError)) throw new Error(`non-DecodeError escaped ${where}: ${String(e)}`, { cause: e });
      if (!/^IKE_[A-Z_]+$/.test(e.code)) throw new Error(`code ${e.code} ${where}`);
      if (!Number.isInteger(e.offset) || e.offset < pad || e.offset > buf.length) throw new Error(`offset ${e.offset} outside the message ${where}`);
      stats.errors++;
      stats.codes.set(e.code, (stats.codes.get(e.code) ?? 0) + 1);
    }
  }
}

describe('fuzzing the IKE decoders', () => {
  const corpus = seeds();
  it(`mutations of ${corpus.length} real messages for ${BUDGET_MS} ms`, () => {
    const end = Date.now() + BUDGET_MS;
    let n = 0;
    while (Date.now() < end) {
      for (let i = 0; i < 200; i++, n++) check(mutate(corpus[rnd(corpus.length)]!));
    }
    console.log(`ike-fuzz: ${n} mutated messages, ${stats.ok} decodes, ${stats.errors} typed errors: ${[...stats.codes].map(([c, k]) => `${c} ${k}`).join(', ')}`);
    expect(n).toBeGreaterThan(1000);
  });
  it(`random bytes for ${BUDGET_MS} ms`, () => {
    const end = Date.now() + BUDGET_MS;
    let n = 0;
    while (Date.now() < end) for (let i = 0; i < 200; i++, n++) check(randomMessage());
    expect(n).toBeGreaterThan(1000);
  });
  it('the decoders still work afterwards', () => {
    expect(readProbe(probeToBytes(probe))).toEqual(probe);
    expect(readResponse(responseToBytes(response))).toEqual(response);
    for (const s of corpus) {
      try {
        decodeMessage(s);
      } catch (e) {
        expect(e).toBeInstanceOf(DecodeError); // the two broken captures
      }
    }
  });
});

// ---------------------------------------------------------------- the reassemblers
// Frame soups: IKE messages in UDP datagrams fragmented over IPv4/IPv6 at random (a small id
// space, so datagrams collide), and TCP segments to 500/4500 with random sequence numbers and
// flags, then mutated. Pushed through the capture decoder with small bounds: nothing may throw,
// every record's error is a typed IKE_*/PKT_* DecodeError, and what is held stays within bounds.
describe('fuzzing the reassemblers', () => {
  const corpus = seeds();
  const LIM = { reassembly: { maxDatagrams: 16, maxTotalBytes: 6 * 1024, maxFragments: 8, timeoutSec: 1 }, tcp: { maxStreams: 8, maxHeldBytes: 4096, maxHeldSegments: 16, maxTotalBytes: 32 * 1024, idleSec: 2 }, ikeFragments: { maxMessages: 8, maxTotalBytes: 16 * 1024 } };
  const family = (): 4 | 6 => (rnd(2) ? 4 : 6);
  const addr = (f: 4 | 6): bigint => (f === 4 ? 0x0a000000n + BigInt(rnd(3)) : 0x20010db8000000000000000000000000n + BigInt(rnd(3)));
  function fragmentFrames(): Uint8Array[] {
    const f = family();
    const src = addr(f);
    const dst = addr(f);
    const msg = rnd(4) ? corpus[rnd(corpus.length)]! : randomMessage();
    const port = [500, 4500, 500, 7000][rnd(4)]!;
    const l4 = encodeL4({ protocol: 17, sport: port, dport: 500, payload: msg }, f, src, dst);
    const out: Uint8Array[] = [];
    const id = rnd(4);
    let off = 0;
    while (off < l4.length) {
      const size = 8 * (1 + rnd(rnd(2) ? 4 : 40));
      const part = l4.subarray(off, off + size);
      const more = off + size < l4.length || rnd(10) === 0;
      const o = rnd(12) === 0 ? 8 * rnd(200) : off;
      out.push(f === 4 ? encodeIPv4({ src, dst, protocol: 17, payload: part, id, fragmentOffset: o, moreFragments: more }) : encodeIPv6({ src, dst, protocol: 17, payload: part, extensions: [{ type: 44, id, fragmentOffset: o, moreFragments: more }] }));
      off += size;
    }
    return out;
  }
  function tcpFrames(): Uint8Array[] {
    const f = family();
    const src = addr(f);
    const dst = addr(f);
    const port = rnd(2) ? 500 : 4500;
    const stream = rnd(3) ? corpus[rnd(corpus.length)]! : Uint8Array.from({ length: rnd(300) }, () => rnd(256));
    const out: Uint8Array[] = [];
    let seq = rnd(2) ? 0xfffffff0 : rnd(1 << 30);
    for (let off = 0; off < stream.length; ) {
      const n = 1 + rnd(64);
      const flags = [0x18, 0x18, 0x10, 0x02, 0x01, 0x04][rnd(6)]!;
      const s = rnd(8) === 0 ? rnd(1 << 30) : seq;
      const l4 = encodeL4({ protocol: 6, sport: 40000 + rnd(3), dport: port, seq: s, tcpFlags: flags, payload: stream.subarray(off, off + n) }, f, src, dst);
      out.push(f === 4 ? encodeIPv4({ src, dst, protocol: 6, payload: l4 }) : encodeIPv6({ src, dst, protocol: 6, payload: l4 }));
      seq = (seq + n) >>> 0;
      off += n;
    }
    return out;
  }
  it(`random fragment and segment soups for ${BUDGET_MS} ms: only typed errors, memory bounded`, () => {
    const codes = new Map<string, number>();
    const dec = new IkeCaptureDecoder(LIM, (r) => {
      if (r.error) {
        if (!(r.error instanceof DecodeError) || !/^(IKE|PKT)_[A-Z_]+$/.test(r.error.code)) throw new Error(`untyped record error ${String(r.error)}`);
        codes.set(r.error.code, (codes.get(r.error.code) ?? 0) + 1);
      }
    });
    const end = Date.now() + BUDGET_MS;
    let frames = 0;
    let t = 0;
    let maxHeld = 0;
    while (Date.now() < end) {
      // Several datagrams and streams interleaved; shuffled a little, some frames repeated, some mutated.
      const sources = Array.from({ length: 1 + rnd(6) }, () => (rnd(2) ? fragmentFrames() : tcpFrames()));
      const batch: Uint8Array[] = [];
      while (sources.some((x) => x.length > 0)) {
        const from = sources.filter((x) => x.length > 0);
        batch.push(from[rnd(from.length)]!.shift()!);
      }
      for (let i = batch.length - 1; i > 0; i--) if (rnd(3) === 0) [batch[i], batch[i - 1]] = [batch[i - 1]!, batch[i]!];
      if (batch.length && rnd(4) === 0) batch.push(batch[rnd(batch.length)]!);
      for (let k = 0; k < batch.length; k++) {
        let data = batch[k]!;
        if (rnd(6) === 0) data = mutate(data);
        t += rnd(50) / 1000;
        dec.push({ index: ++frames, linkType: 101, timestamp: t, data });
        const held = dec.ip.held;
        maxHeld = Math.max(maxHeld, held.bytes);
        if (held.bytes > LIM.reassembly.maxTotalBytes) throw new Error(`IP reassembly holds ${held.bytes} bytes`);
        if (held.datagrams > LIM.reassembly.maxDatagrams) throw new Error(`IP reassembly holds ${held.datagrams} datagrams`);
        if (dec.tcp.streams > LIM.tcp.maxStreams) throw new Error(`TCP holds ${dec.tcp.streams} streams`);
      }
    }
    dec.finish();
    expect(dec.ip.held.datagrams).toBe(0);
    expect(dec.tcp.streams).toBe(0);
    console.log(`ike-fuzz: ${frames} frames through the reassemblers (max ${maxHeld} IP bytes held); ip ${JSON.stringify(dec.ip.counters)}; tcp ${JSON.stringify(dec.tcp.counters)}; records with errors: ${[...codes].map(([c, k]) => `${c} ${k}`).join(', ')}`);
    expect(frames).toBeGreaterThan(1000);
    expect(dec.ip.counters.datagrams).toBeGreaterThan(0);
  });
});
