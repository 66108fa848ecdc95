// Bounded-time fuzzing of the VICI decoders (messages, packets, frames): random bytes and
// mutations of real-shaped messages. Only a DecodeError with a VICI_* code and an offset inside
// the input may escape; whatever decodes encodes again to the same tree; the decoders still work
// afterwards.
import { describe, expect, it } from 'vitest';
import { DecodeError } from '../src/errors.js';
import { decodeMessage, encodeMessage } from '../src/vici/message.js';
import { CMD_REQUEST, EVENT, FrameReader, decodePacket, encodeFrame } from '../src/vici/packet.js';
import { fuzzSettings, mutateBytes } from './support/fuzz.js';

const { budgetMs: BUDGET_MS, rnd } = fuzzSettings('vici-fuzz', 'VICI_FUZZ', 1500);

// Shaped like what charon sends and takes: a child-updown event, a load-conn request.
const childUpdown = {
  up: 'yes',
  'ted-1': {
    uniqueid: '1',
    version: '2',
    state: 'ESTABLISHED',
    'local-host': '198.51.100.1',
    'remote-host': '198.51.100.2',
    'child-sas': {
      'net-1': { name: 'net', reqid: '1', state: 'INSTALLED', mode: 'TUNNEL', 'local-ts': ['192.0.2.0/24[tcp]'], 'remote-ts': ['203.0.113.0/24[tcp/8000]'] },
    },
  },
};
const loadConn = {
  'ted-7': {
    version: '2',
    local_addrs: ['198.51.100.1'],
    remote_addrs: ['198.51.100.2'],
    local: { auth: 'psk', id: '198.51.100.1' },
    remote: { auth: 'psk', id: '198.51.100.2' },
    children: { net: { local_ts: ['192.0.2.0/25[6/0-65535]', '192.0.2.128/25[6]'], remote_ts: ['203.0.113.0/24[6/8000-8099]'], esp_proposals: ['aes128-sha256'] } },
  },
};
const seeds = [encodeMessage(childUpdown), encodeMessage(loadConn), encodeMessage({})];
const frames = [encodeFrame({ type: EVENT, name: 'child-updown', message: childUpdown }), encodeFrame({ type: CMD_REQUEST, name: 'load-conn', message: loadConn })];

function mutate(src: Uint8Array): Uint8Array {
  let b: Uint8Array = src.slice();
  // Inserted bytes are small: element and packet types are 0-7.
  for (let k = 1 + rnd(4); k > 0; k--) b = mutateBytes(b, rnd, () => rnd(8));
  return b;
}

function checkTyped(err: unknown, length: number): void {
  if (!(err instanceof DecodeError)) throw err;
  expect(err.code).toMatch(/^VICI_[A-Z_]+$/);
  expect(err.offset).toBeGreaterThanOrEqual(0);
  expect(err.offset).toBeLessThanOrEqual(length);
}

function fuzz(target: (b: Uint8Array) => void, inputs: () => Uint8Array): { runs: number; ok: number } {
  const end = Date.now() + BUDGET_MS;
  let runs = 0;
  let ok = 0;
  while (Date.now() < end) {
    const b = inputs();
    runs++;
    try {
      target(b);
      ok++;
    } catch (err) {
      checkTyped(err, b.length);
    }
  }
  return { runs, ok };
}

describe('VICI decoders under fuzzing', () => {
  it('messages: only typed errors, and what decodes re-encodes to the same tree', () => {
    const r = fuzz(
      (b) => {
        const m = decodeMessage(b, 0, b.length, { values: 'bytes' });
        expect(decodeMessage(encodeMessage(m), 0, undefined, { values: 'bytes' })).toEqual(m);
      },
      () => (rnd(4) === 0 ? Uint8Array.from({ length: rnd(64) }, () => rnd(256)) : mutate(seeds[rnd(seeds.length)]!)),
    );
    expect(r.runs).toBeGreaterThan(100);
    expect(decodeMessage(seeds[0]!)).toEqual(childUpdown);
  });

  it('packets: only typed errors', () => {
    const r = fuzz(
      (b) => void decodePacket(b),
      () => mutate(frames[rnd(frames.length)]!.subarray(4)),
    );
    expect(r.runs).toBeGreaterThan(100);
    expect(decodePacket(frames[0]!, 4)).toEqual({ type: EVENT, name: 'child-updown', message: childUpdown });
  });

  it('frame streams: only typed errors, in whatever chunks', () => {
    const r = fuzz(
      (b) => {
        const reader = new FrameReader();
        let at = 0;
        while (at < b.length) {
          const n = 1 + rnd(b.length - at);
          for (const f of reader.push(b.subarray(at, at + n))) {
            try {
              decodePacket(f);
            } catch (err) {
              checkTyped(err, f.length);
            }
          }
          at += n;
        }
      },
      () => {
        const parts = [frames[rnd(2)]!, mutate(frames[rnd(2)]!), frames[rnd(2)]!];
        const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
        let o = 0;
        for (const p of parts) {
          out.set(p, o);
          o += p.length;
        }
        return out;
      },
    );
    expect(r.runs).toBeGreaterThan(100);
    expect(new FrameReader().push(frames[1]!).map((f) => decodePacket(f).type)).toEqual([CMD_REQUEST]);
  });
});
