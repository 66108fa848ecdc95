// The engine's parts against references: SipHash against a BigInt implementation, the flow cache
// against a Map, the scheduler's order; and the gateway on every classifier engine, over IPv6,
// and after another classifier grew the WebAssembly memory under it.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { SipHash } from '../src/ted/siphash.js';
import { ResponderCookies } from '../src/ted/cookies.js';
import { FlowCache, MAX_CACHED_SLOT } from '../src/ted/flow-cache.js';
import { Scheduler } from '../src/ted/scheduler.js';
import { ManualClock } from '../src/ted/clock.js';
import { loadWasm } from '../src/wasm/load.js';
import { contains } from '../src/selector/algebra.js';
import { DROP, FORWARD } from '../src/ted/types.js';
import { Sim, pkt } from './ted-helpers.js';

// ---- SipHash-2-4, the obvious way with BigInt, as the reference.
const M64 = (1n << 64n) - 1n;
const rotl = (x: bigint, b: bigint) => ((x << b) | (x >> (64n - b))) & M64;
function sipRef(key: Uint8Array, msg: Uint8Array): bigint {
  const le = (b: Uint8Array, o: number, n: number) => {
    let v = 0n;
    for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[o + i]!);
    return v;
  };
  const k0 = le(key, 0, 8);
  const k1 = le(key, 8, 8);
  let v0 = k0 ^ 0x736f6d6570736575n;
  let v1 = k1 ^ 0x646f72616e646f6dn;
  let v2 = k0 ^ 0x6c7967656e657261n;
  let v3 = k1 ^ 0x7465646279746573n;
  const round = () => {
    v0 = (v0 + v1) & M64; v1 = rotl(v1, 13n); v1 ^= v0; v0 = rotl(v0, 32n);
    v2 = (v2 + v3) & M64; v3 = rotl(v3, 16n); v3 ^= v2;
    v0 = (v0 + v3) & M64; v3 = rotl(v3, 21n); v3 ^= v0;
    v2 = (v2 + v1) & M64; v1 = rotl(v1, 17n); v1 ^= v2; v2 = rotl(v2, 32n);
  };
  const full = msg.length - (msg.length % 8);
  for (let o = 0; o < full; o += 8) {
    const m = le(msg, o, 8);
    v3 ^= m; round(); round(); v0 ^= m;
  }
  let last = BigInt(msg.length & 0xff) << 56n;
  for (let i = full; i < msg.length; i++) last |= BigInt(msg[i]!) << BigInt(8 * (i - full));
  v3 ^= last; round(); round(); v0 ^= last;
  v2 ^= 0xffn;
  round(); round(); round(); round();
  return v0 ^ v1 ^ v2 ^ v3;
}

describe('SipHash-2-4', () => {
  it('matches the published test vectors', () => {
    const key = Uint8Array.from({ length: 16 }, (_, i) => i);
    const s = new SipHash(key);
    s.hash(new Uint8Array(0));
    expect(s.value()).toBe(0x726fdb47dd0e0e31n);
    s.hash(Uint8Array.from({ length: 15 }, (_, i) => i));
    expect(s.value()).toBe(0xa129ca6149be45e5n);
  });
  it('equals the BigInt reference on random keys and messages', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.uint8Array({ maxLength: 40 }), (key, msg) => {
        const s = new SipHash(key);
        s.hash(msg);
        expect(s.value()).toBe(sipRef(key, msg));
      }),
      { numRuns: 300 },
    );
  });
});

describe('responder cookies', () => {
  it('are the same from the BigInt cookie and from its wire bytes, and depend on every input', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 1n, max: (1n << 64n) - 1n }), fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }), fc.boolean(), (icookie, addr, v6) => {
        const id = v6 ? { family: 6 as const, address: addr } : { family: 4 as const, address: addr & 0xffffffffn };
        const rc = new ResponderCookies(new Uint8Array(16).fill(7));
        const wire = new Uint8Array(10);
        new DataView(wire.buffer).setBigUint64(1, icookie);
        const a = rc.cookie(icookie, id);
        expect(rc.cookieFromWire(wire, 1, id)).toBe(a);
        expect(a).not.toBe(0n);
        expect(rc.cookie(icookie ^ 1n, id)).not.toBe(a);
        expect(new ResponderCookies(new Uint8Array(16).fill(8)).cookie(icookie, id)).not.toBe(a);
      }),
      { numRuns: 200 },
    );
  });
});

describe('FlowCache', () => {
  it('never answers wrong: every hit is the last value stored for that key and not invalidated since (reference Map)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 63 }), fc.integer({ min: 0, max: 40 }), fc.nat({ max: 3 }), fc.boolean()), { maxLength: 600 }),
        (ops) => {
          // 41 values (tunnel slots); op kind 0-1: look up / store, 2: invalidate one value, 3: forget all.
          const cache = new FlowCache(16, 8, 41);
          const ref = new Map<number, number>();
          const a6 = new Uint32Array(4);
          const b6 = new Uint32Array(4);
          for (const [k, v, op, six] of ops) {
            if (op === 3 && v === 40) {
              cache.invalidate();
              ref.clear();
              continue;
            }
            if (op === 2) {
              cache.invalidateValue(v);
              for (const [key, val] of ref) if (val === v) ref.delete(key);
              continue;
            }
            const key = six ? 1000 + k : k;
            const got = six ? (a6.fill(k), b6.fill(k * 7), cache.get6(a6, b6, 0, k, 6)) : cache.get4(k * 3, k * 5, k, 6);
            if (got !== -1) expect(got).toBe(ref.get(key));
            else {
              if (six) cache.set6(a6, b6, 0, k, 6, v);
              else cache.set4(k * 3, k * 5, k, 6, v);
              ref.set(key, v);
            }
          }
          expect(cache.bytes).toBeGreaterThan(0);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('invalidating one value keeps every other value\'s flows, across generation wrap-arounds of that value', () => {
    const cache = new FlowCache(1024, 64, 8);
    const a6 = new Uint32Array(4);
    const b6 = new Uint32Array(4);
    for (let round = 0; round < 200; round++) {
      for (let k = 0; k < 40; k++) cache.set4(k, round, 1, 6, k % 2); // values 0 and 1
      a6.fill(round);
      cache.set6(a6, b6, 0, 1, 6, 0);
      cache.set6(a6, b6, 0, 2, 6, 1);
      cache.invalidateValue(0);
      for (let k = 0; k < 40; k++) {
        const v = cache.get4(k, round, 1, 6);
        if (k % 2 === 0) expect(v).toBe(-1);
        // value 1 survives, except when value 0's 6-bit generation wrapped (the IPv4 table is cleared then)
        else if (round % 63 !== 62) expect(v).toBe(1);
      }
      expect(cache.get6(a6, b6, 0, 1, 6)).toBe(-1);
      expect(cache.get6(a6, b6, 0, 2, 6)).toBe(1);
      cache.invalidateValue(1);
    }
  });
});

describe('FlowCache epochs and limits', () => {
  it('forgets everything on every full invalidation', () => {
    const cache = new FlowCache(64);
    for (let round = 0; round < 300; round++) {
      for (let k = 0; k < 40; k++) expect(cache.get4(k, round, 1, 6)).toBe(-1);
      for (let k = 0; k < 40; k++) cache.set4(k, round, 1, 6, (k * 7 + round) % 1000);
      for (let k = 0; k < 40; k++) {
        const v = cache.get4(k, round, 1, 6);
        if (v !== -1) expect(v).toBe((k * 7 + round) % 1000);
      }
      cache.invalidate();
      for (let k = 0; k < 40; k++) expect(cache.get4(k, round, 1, 6)).toBe(-1);
    }
  });
  it('keeps protocol and the has-ports flag apart, and does not cache slots beyond its limit', () => {
    const cache = new FlowCache(64);
    cache.set4(1, 2, 3, 6, 11);
    cache.set4(1, 2, 3, 17, 12);
    cache.set4(1, 2, 3, 6 | (1 << 8), 13);
    expect([cache.get4(1, 2, 3, 6), cache.get4(1, 2, 3, 17), cache.get4(1, 2, 3, 6 | (1 << 8))]).toEqual([11, 12, 13]);
    cache.set4(9, 9, 9, 6, MAX_CACHED_SLOT + 1);
    expect(cache.get4(9, 9, 9, 6)).toBe(-1);
    cache.set4(9, 9, 9, 6, MAX_CACHED_SLOT);
    expect(cache.get4(9, 9, 9, 6)).toBe(MAX_CACHED_SLOT);
  });
});

describe('Scheduler', () => {
  it('runs deadlines in time order with one clock timer, cancelled ones never', () => {
    const clock = new ManualClock(0);
    const s = new Scheduler(clock);
    const ran: string[] = [];
    s.at(30, () => ran.push('c'));
    const b = s.at(20, () => ran.push('b'));
    s.at(10, () => ran.push('a'));
    s.at(10, () => ran.push('a2'));
    s.cancel(b);
    expect(clock.pending).toBe(1);
    clock.advance(25);
    expect(ran).toEqual(['a', 'a2']);
    s.at(26, () => ran.push('d'));
    clock.advance(100);
    expect(ran).toEqual(['a', 'a2', 'd', 'c']);
    expect(clock.pending).toBe(0);
  });
  it('keeps its heap bounded under many cancellations', () => {
    const s = new Scheduler(new ManualClock(0));
    for (let i = 0; i < 100_000; i++) s.cancel(s.at(1_000_000 + i, () => {}));
    expect(s.size).toBeLessThan(3000);
  });
});

const A = `ip access-list extended A
 permit tcp 10.1.0.0 0.0.255.255 10.0.0.0 0.255.255.255
`;
const B = `ip access-list extended B
 permit tcp 10.2.0.0 0.0.255.255 eq www 10.1.0.0 0.0.127.255
`;

describe.each(['wasm', 'ts', 'linear'] as const)('gateway on the %s engine', (engine) => {
  it('discovers FIG. 1 and forwards', () => {
    const sim = new Sim();
    const a = sim.gateway({ acl: A, ike: '192.0.2.1', engine });
    sim.gateway({ acl: B, ike: '198.51.100.1', protects: ['10.2.0.0/16'], engine });
    expect(a.gw.classifier.engine).toBe(engine);
    const P = pkt('tcp 10.1.0.5:40000 > 10.2.0.9:80');
    expect(a.gw.processOne(P).verdict).toBe(DROP);
    sim.settle();
    expect(a.gw.processOne(P).verdict).toBe(FORWARD);
    expect(a.gw.tunnels()[0]!.proxy.src.care).toBe(0xffff8000n);
  });
});

describe('IPv6', () => {
  it('discovers over IPv6: probe from the source host, response to the IPv6 IKE address', () => {
    const sim = new Sim();
    const a = sim.gateway({ acl: `ipv6 access-list A\n permit tcp 2001:db8:1::/48 2001:db8::/32\n`, ike: '2001:db8:ffff::1', protects: ['2001:db8:1::/48'] });
    sim.gateway({ acl: `ipv6 access-list B\n permit tcp 2001:db8:2::/48 eq 443 2001:db8:1::/64\n`, ike: '2001:db8:ffff::2', protects: ['2001:db8:2::/48'] });
    const P = pkt('tcp 2001:db8:1::5:40000 > 2001:db8:2::9:443');
    const wire: bigint[] = [];
    sim.net.tap((r) => wire.push(r.datagram.src));
    expect(a.gw.processOne(P).verdict).toBe(DROP);
    sim.settle();
    expect(wire[0]).toBe(P.src);
    const [t] = a.gw.tunnels();
    expect(t!.state).toBe('established');
    expect(t!.proxy.src.care).toBe(((1n << 64n) - 1n) << 64n);
    expect(contains(t!.proxy, P)).toBe(true);
    expect(a.gw.processOne(P)).toMatchObject({ verdict: FORWARD, tunnel: t!.id });
    expect(a.gw.processOne(pkt('tcp 2001:db8:1::5:40000 > 2001:db8:2::9:80')).verdict).toBe(DROP);
  });
});

describe('WebAssembly memory growth', () => {
  it('keeps classifying and answering after the memory grew under the batches', () => {
    const sim = new Sim();
    const a = sim.gateway({ acl: A, ike: '192.0.2.1', engine: 'wasm' });
    const b = sim.gateway({ acl: B, ike: '198.51.100.1', protects: ['10.2.0.0/16'], engine: 'wasm' });
    const c = sim.gateway({ acl: A, ike: '192.0.2.7', engine: 'wasm' });
    // The responder answers once (its one-tuple batch now exists), the initiator has a batch.
    c.gw.processOne(pkt('tcp 10.1.0.6:40000 > 10.2.0.10:80'));
    sim.settle();
    expect(b.gw.counters.responsesSent).toBe(1);
    const batch = a.gw.createBatch(8);
    const P = pkt('tcp 10.1.0.5:40000 > 10.2.0.9:80');
    batch.push(P);
    // Something else in the module takes a lot of WebAssembly memory without telling the
    // classifiers (growth detaches every old view).
    const wasm = loadWasm();
    for (let i = 0; i < 64 && batch.src.length !== 0; i++) wasm.exports.alloc(4 << 20);
    expect(batch.src.length, 'the old views are detached').toBe(0);
    batch.count = 0;
    a.gw.process(batch); // re-views the batch (an empty batch is fine)
    batch.push(P);
    expect(a.gw.process(batch).verdict[0]).toBe(DROP);
    sim.settle();
    expect(b.gw.counters.responsesSent).toBe(2);
    expect(a.gw.process(batch).verdict[0]).toBe(FORWARD);
  });
});
