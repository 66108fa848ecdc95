// Bounded-time fuzzing of the VICI decoders (messages, packets, frames): random bytes and
// mutations of real-shaped messages. Only a DecodeError with a VICI_* code and an offset inside
// the input may escape; whatever decodes encodes again to the same tree; the decoders still work
// afterwards.
import { describe, expect, it } from 'vitest';
import { DecodeError } from '../src/errors.js';
import { decodeMessage, encodeMessage } from '../src/vici/message.js';
import { CMD_REQUEST, EVENT, FrameReader, decodePacket, encodeFrame } from '../src/vici/packet.js';

const BUDGET_MS = Number(process.env.VICI_FUZZ_MS ?? 1500);
const SEED = Number(process.env.VICI_FUZZ_SEED ?? Date.now() % 0x7fffffff);
console.log(`vici-fuzz: seed ${SEED} (VICI_FUZZ_SEED), ${BUDGET_MS} ms per target (VICI_FUZZ_MS)`);

let state = SEED || 1;
function rnd(n: number): number {
  state ^= state << 13;
  state ^= state >>> 17;
  state ^= state << 5;
  return (state >>> 0) % n;
}

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
  let b = src.slice();
  const n = 1 + rnd(4);
  for (let k = 0; k < n; k++) {
    switch (rnd(5)) {
      case 0:
        if (b.length) b[rnd(b.length)] = rnd(256);
        break;
      case 1:
        b = b.subarray(0, rnd(b.length + 1));
        break;
      case 2: {
        const at = rnd(b.length + 1);
        const ins = Uint8Array.from({ length: 1 + rnd(8) }, () => rnd(8)); // small bytes: element types
        const c = new Uint8Array(b.length + ins.length);
        c.set(b.subarray(0, at));
        c.set(ins, at);
        c.set(b.subarray(at), at + ins.length);
        b = c;
        break;
      }
      case 3: {
        const at = rnd(b.length + 1);
        const len = rnd(b.length - at + 1);
        const c = new Uint8Array(b.length - len);
        c.set(b.subarray(0, at));
        c.set(b.subarray(at + len), at);
        b = c;
        break;
      }
      default:
        // a length field made to lie
        if (b.length > 2) {
          const at = rnd(b.length - 1);
          b[at] = 0xff;
        }
    }
  }
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
