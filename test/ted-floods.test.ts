// Holding the line under floods (issue 15), through the in-memory network: reflection (whom the
// responder answers, how often, how large), tunnel lookups, starvation of the pending and
// hold-down tables, entries a response cannot carry, and on-path answers.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TedError } from '../src/errors.js';
import { answerPadding, datagramOverhead, probeToBytes } from '../src/ike/ted.js';
import type { TedIdentity, TedProbe } from '../src/ike/ted-types.js';
import { parseCisco } from '../src/policy/index.js';
import { parseJsonPolicy } from '../src/policy/json.js';
import { contains, mirror } from '../src/selector/algebra.js';
import type { Selector, Tuple } from '../src/selector/types.js';
import { ikeWire } from '../src/ted/ike-wire.js';
import { Tunnel, TunnelTable } from '../src/ted/tunnels.js';
import { DROP, FORWARD, type Handoff, type TunnelInfo } from '../src/ted/types.js';
import type { Datagram } from '../src/transport/types.js';
import { Sim, ip, pkt } from './ted-helpers.js';
import { thrown } from './support/errors.js';

function rng(seed: number) {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32);
}

const B_ACL = `ip access-list extended B\n permit ip 10.2.0.0 0.0.255.255 10.1.0.0 0.0.255.255\n`;
const A_ACL = `ip access-list extended A\n permit ip 10.1.0.0 0.0.255.255 10.0.0.0 0.255.255.255\n`;

/** A probe about traffic 10.1.x -> 10.2.0.9 (which B protects), from identity `id`, padded as our initiators pad. */
function forgedProbe(id: TedIdentity, icookie: bigint, pad = true): Uint8Array {
  const p: TedProbe = { icookie, capabilities: 0, id, summary: { tedVersion: 3, family: 4, protocol: 6, src: ip('10.1.0.5'), dst: ip('10.2.0.9'), sport: 1000, dport: 80 } };
  const padding = pad ? answerPadding(p) : undefined;
  return probeToBytes(padding === undefined ? p : { ...p, padding });
}

function responder(sim: Sim, rateLimit: Record<string, number> = {}) {
  return sim.gateway({ acl: B_ACL, ike: '198.51.100.1', protects: ['10.2.0.0/16'], role: 'responder', keepEvents: false, rateLimit });
}

/** Counts the responses that leave `from`, by destination. */
function countResponses(sim: Sim, from: bigint) {
  const to: bigint[] = [];
  sim.net.tap((r) => {
    if (r.datagram.src === from && r.datagram.payload[18] === 241) to.push(r.datagram.dst);
  });
  return to;
}

describe('reflection: whom the responder answers', () => {
  it('IDs spread over a victim /16: the answers are capped by the global budget, not multiplied by the identities', () => {
    const sim = new Sim();
    const b = responder(sim);
    const sent = countResponses(sim, ip('198.51.100.1'));
    const victim = ip('203.0.0.0');
    // 100,000 forged probes in one second, IDs over 203.0.0.0/16.
    for (let i = 0; i < 100_000; i++) {
      sim.net.inject({ family: 4, src: ip('10.1.0.77'), dst: ip('10.2.0.9'), sport: 1000, dport: 500, payload: forgedProbe({ family: 4, address: victim | BigInt(i & 0xffff) }, BigInt(i + 1)) });
      if (i % 1000 === 999) sim.settle(10);
    }
    sim.settle(0);
    const c = b.gw.counters;
    // global: burst 2000 + 1000/s over one second; every answer went into the victim's /16
    expect(sent.length).toBeLessThanOrEqual(2000 + 1000 + 1);
    expect(sent.length).toBeGreaterThanOrEqual(2000);
    expect(sent.every((d) => d >> 16n === victim >> 16n)).toBe(true);
    expect(c.responsesSent).toBe(sent.length);
    expect(c.probeGlobalLimited + c.probePrefixLimited + c.probeRateLimited + c.responsesSent).toBe(100_000);
  });

  it('IDs spread over one /24: the prefix budget caps them (global budget off)', () => {
    const sim = new Sim();
    const b = responder(sim, { globalResponsesPerSecond: Infinity });
    const sent = countResponses(sim, ip('198.51.100.1'));
    for (let i = 0; i < 20_000; i++) {
      sim.net.inject({ family: 4, src: ip('10.1.0.77'), dst: ip('10.2.0.9'), sport: 1000, dport: 500, payload: forgedProbe({ family: 4, address: ip('203.0.113.0') | BigInt(i & 0xff) }, BigInt(i + 1)) });
      if (i % 200 === 199) sim.settle(10); // one simulated second in all
    }
    sim.settle(0);
    expect(sent.length).toBeLessThanOrEqual(200 + 100 + 1);
    expect(b.gw.counters.probePrefixLimited).toBeGreaterThan(19_000);
  });

  it('refuses IDs that are not a unicast host elsewhere, and its own address, counted', () => {
    const sim = new Sim();
    const b = responder(sim);
    const sent = countResponses(sim, ip('198.51.100.1'));
    const v4 = ['0.0.0.0', '0.1.2.3', '127.0.0.1', '169.254.1.1', '224.0.0.1', '239.255.255.250', '240.0.0.1', '255.255.255.255', '198.51.100.1'];
    let k = 1n;
    for (const a of v4) sim.net.inject({ family: 4, src: ip('10.1.0.77'), dst: ip('10.2.0.9'), sport: 1000, dport: 500, payload: forgedProbe({ family: 4, address: ip(a) }, k++) });
    sim.settle(0);
    expect(sent).toEqual([]);
    expect(b.gw.counters.probeIdNotUnicast).toBe(8);
    expect(b.gw.counters.probeIdOwn).toBe(1);
    // A unicast ID is answered.
    sim.net.inject({ family: 4, src: ip('10.1.0.77'), dst: ip('10.2.0.9'), sport: 1000, dport: 500, payload: forgedProbe({ family: 4, address: ip('192.0.2.1') }, k++) });
    sim.settle(0);
    expect(sent).toEqual([ip('192.0.2.1')]);
  });

  it('IPv6: unspecified, loopback, link-local, multicast and IPv4-mapped IDs are refused', () => {
    const sim = new Sim();
    const b = sim.gateway({ acl: 'ipv6 access-list B\n permit ipv6 2001:db8:2::/48 2001:db8:1::/48\n', ike: '2001:db8:ff::2', protects: ['2001:db8:2::/48'], role: 'responder', keepEvents: false });
    const sent = countResponses(sim, ip('2001:db8:ff::2'));
    const ids = ['::', '::1', 'fe80::1', 'febf::1', 'ff02::1', '::ffff:192.0.2.1', '2001:db8:ff::2', '2001:db8:ff::1'];
    ids.forEach((a, i) => {
      const p: TedProbe = { icookie: BigInt(i + 1), capabilities: 0, id: { family: 6, address: ip(a) }, summary: { tedVersion: 3, family: 6, protocol: 17, src: ip('2001:db8:1::5'), dst: ip('2001:db8:2::9'), sport: 1, dport: 2 } };
      sim.net.inject({ family: 6, src: ip('2001:db8:1::5'), dst: ip('2001:db8:2::9'), sport: 1, dport: 500, payload: probeToBytes({ ...p, padding: answerPadding(p)! }) });
    });
    sim.settle(0);
    expect(sent).toEqual([ip('2001:db8:ff::1')]);
    expect(b.gw.counters.probeIdNotUnicast).toBe(6);
    expect(b.gw.counters.probeIdOwn).toBe(1);
  });

  it('a responder on a loopback address answers loopback IDs (a one-host lab such as ted demo)', () => {
    const sim = new Sim();
    const b = sim.gateway({ acl: B_ACL, ike: '127.0.2.1', protects: ['10.2.0.0/16'], role: 'responder', keepEvents: false });
    const sent = countResponses(sim, ip('127.0.2.1'));
    sim.net.inject({ family: 4, src: ip('10.1.0.77'), dst: ip('10.2.0.9'), sport: 1000, dport: 500, payload: forgedProbe({ family: 4, address: ip('127.0.1.1') }, 1n) });
    sim.settle(0);
    expect(sent).toEqual([ip('127.0.1.1')]);
    expect(b.gw.counters.probeIdNotUnicast).toBe(0);
  });
});

describe('reflection: no answer is larger on the wire than its probe', () => {
  // Entries with many port ranges make the largest answers (16 + 16 ranges: what the wire carries).
  const ranges = (n: number, base: number) => Array.from({ length: n }, (_, i) => [base + i * 10, base + i * 10 + 1]);
  it('every answer of random discoveries (IPv4 and IPv6 IDs, 1-16 port ranges) fits its probe; unpadded probes that it would not fit are refused', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 16 }), fc.integer({ min: 1, max: 16 }), fc.boolean(), fc.boolean(), (ns, nd, six, pad) => {
        const sim = new Sim();
        const fam = six ? 6 : 4;
        const json = JSON.stringify({
          family: fam,
          entries: [{ protocol: 'tcp', source: six ? '2001:db8:2::/48' : '10.2.0.0/16', destination: six ? '2001:db8:1::/48' : '10.1.0.0/16', sport: ranges(ns, 1000), dport: ranges(nd, 2000) }],
        });
        const b = sim.gateway({ acl: 'access-list 101 permit ip any any\n', ike: six ? '2001:db8:ff::2' : '198.51.100.1', protects: [six ? '2001:db8:2::/48' : '10.2.0.0/16'], role: 'responder', keepEvents: false, policy: parseJsonPolicy(json) });
        // Wire sizes by initiator cookie (checked after the run: a throw inside the network
        // would be counted by receive() instead of failing the test).
        const sizes = new Map<string, number>();
        const pairs: [number, number][] = [];
        sim.net.tap((r) => {
          const d = r.datagram;
          const key = Buffer.from(d.payload.subarray(0, 8)).toString('hex');
          if (d.payload[18] === 240) sizes.set(key, d.payload.length + datagramOverhead(d.family));
          else if (d.payload[18] === 241) pairs.push([d.payload.length + datagramOverhead(d.family), sizes.get(key)!]);
        });
        const p: TedProbe = {
          icookie: 7n,
          capabilities: 0,
          id: six ? { family: 6, address: ip('2001:db8:ff::1') } : { family: 4, address: ip('192.0.2.1') },
          summary: { tedVersion: 3, family: fam, protocol: 6, src: six ? ip('2001:db8:1::5') : ip('10.1.0.5'), dst: six ? ip('2001:db8:2::9') : ip('10.2.0.9'), sport: 2000, dport: 1000 },
        };
        const padding = pad ? answerPadding(p) : undefined;
        const bytes = probeToBytes(padding === undefined ? p : { ...p, padding });
        sim.net.inject({ family: fam, src: p.summary.src, dst: p.summary.dst, sport: 2000, dport: 500, payload: bytes });
        sim.settle(0);
        const c = b.gw.counters;
        for (const [answer, probe] of pairs) expect(answer).toBeLessThanOrEqual(probe);
        expect(c.receiveErrors).toBe(0);
        if (pad) expect(c.responsesSent).toBe(1);
        else expect(c.responsesSent + c.probeTooSmall).toBe(1);
        expect(c.responsesSent + c.probeTooSmall).toBe(1);
      }),
      { numRuns: 60 },
    );
  });

  it('our own initiator pads its probes: discoveries with 16 + 16 port ranges complete', () => {
    const sim = new Sim();
    const a = sim.gateway({ acl: 'access-list 101 permit ip any any\n', ike: '192.0.2.1', protects: ['10.1.0.0/16'], policy: parseJsonPolicy(JSON.stringify({ entries: [{ protocol: 'tcp', source: '10.1.0.0/16', destination: '10.2.0.0/16' }] })) });
    sim.gateway({ acl: 'access-list 101 permit ip any any\n', ike: '198.51.100.1', protects: ['10.2.0.0/16'], policy: parseJsonPolicy(JSON.stringify({ entries: [{ protocol: 'tcp', source: '10.2.0.0/16', destination: '10.1.0.0/16', sport: ranges(16, 1000), dport: ranges(16, 40000) }] })) });
    const t = pkt('tcp 10.1.0.5:40000 > 10.2.0.9:1000');
    expect(a.gw.processOne(t).verdict).toBe(DROP);
    sim.settle(10);
    expect(a.gw.processOne(t).verdict).toBe(FORWARD);
  });
});

describe('the tunnel index', () => {
  // Tunnels of one entry with destination masks from a small set (prefixes and a non-contiguous
  // one), random states, added and removed at random: the index answers as a scan of every
  // tunnel in order would (first established cover; "negotiating" when only an unfinished one covers).
  const MASKS = [0xffffff00, 0xffff0000, 0xff00ff00, 0xffffffff, 0];
  it('lookup4 equals a scan of every tunnel of the entry (reference)', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.record({ op: fc.constant('add' as const), mask: fc.nat({ max: MASKS.length - 1 }), dst: fc.nat({ max: 7 }), proto: fc.constantFrom(0, 6, 17), established: fc.boolean(), sport: fc.boolean() }),
            fc.record({ op: fc.constant('remove' as const), k: fc.nat() }),
            fc.record({ op: fc.constant('look' as const), dst: fc.nat({ max: 7 }), low: fc.nat({ max: 3 }), proto: fc.constantFrom(6, 17), sport: fc.constantFrom(80, 443) }),
          ),
          { maxLength: 120 },
        ),
        (ops) => {
          const table = new TunnelTable(1000);
          const live: Tunnel[] = [];
          const peer = { family: 4 as const, address: 1n };
          for (const o of ops) {
            if (o.op === 'add') {
              const care = BigInt(MASKS[o.mask]!);
              const dst = BigInt(((0x0a000000 | (o.dst << 16) | (o.dst << 8)) & MASKS[o.mask]!) >>> 0);
              const proxy: Selector = { family: 4, protocol: o.proto, src: { value: 0n, care: 0n }, dst: { value: dst, care }, sport: o.sport ? [{ lo: 80, hi: 80 }] : [{ lo: 0, hi: 65535 }], dport: [{ lo: 0, hi: 65535 }] };
              const t = table.add((id, slot) => new Tunnel(id, slot, peer, proxy, 1, 1n, 1n, 3, 0, 0, pkt('tcp 1.1.1.1:1 > 2.2.2.2:2')))!;
              if (o.established) t.state = 'established';
              live.push(t);
            } else if (o.op === 'remove') {
              if (live.length === 0) continue;
              const t = live.splice(o.k % live.length, 1)[0]!;
              table.remove(t);
            } else {
              const d = (0x0a000000 | (o.dst << 16) | (o.dst << 8) | o.low) >>> 0;
              const tuple: Tuple = { family: 4, protocol: o.proto, src: 0x01020304n, dst: BigInt(d), sport: o.sport, dport: 9, hasPorts: true };
              let want: Tunnel | undefined;
              let negotiating = false;
              for (const t of [...table.forEntry(1)]) {
                if (!contains(t.proxy, tuple)) continue;
                if (t.state === 'established') {
                  want = t;
                  break;
                }
                negotiating = true;
              }
              expect(table.lookup4(1, 0x01020304, d, o.sport, 9, o.proto, true)).toBe(want);
              if (!want) expect(table.negotiating).toBe(negotiating);
              expect(table.lookup(1, tuple)).toBe(want);
            }
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('IPv6 tunnels likewise; findSame finds exactly the same proxy and peer', () => {
    const table = new TunnelTable(100);
    const mk = (dst: string, len: number, peer: bigint): Tunnel => {
      const care = ((1n << 128n) - 1n) ^ ((1n << BigInt(128 - len)) - 1n);
      const proxy: Selector = { family: 6, protocol: 0, src: { value: 0n, care: 0n }, dst: { value: ip(dst) & care, care }, sport: [{ lo: 0, hi: 65535 }], dport: [{ lo: 0, hi: 65535 }] };
      const t = table.add((id, slot) => new Tunnel(id, slot, { family: 6, address: peer }, proxy, 2, 1n, 1n, 3, 0, 0, pkt('tcp 1.1.1.1:1 > 2.2.2.2:2')))!;
      t.state = 'established';
      return t;
    };
    const a = mk('2001:db8:2::', 48, 1n);
    const b = mk('2001:db8:2:5::', 64, 2n);
    const probe = (d: string) => table.lookup(2, { family: 6, protocol: 6, src: 1n, dst: ip(d), sport: 1, dport: 2, hasPorts: true });
    expect(probe('2001:db8:2:5::1')).toBe(a); // both cover it: the first added
    expect(probe('2001:db8:3::1')).toBeUndefined();
    table.remove(a);
    expect(probe('2001:db8:2:5::1')).toBe(b);
    expect(probe('2001:db8:2:6::1')).toBeUndefined();
    expect(table.findSame(2, { family: 6, address: 2n }, b.proxy)).toBe(b);
    expect(table.findSame(2, { family: 6, address: 3n }, b.proxy)).toBeUndefined();
  });

  it('a tunnel going away invalidates only its own flows: the others keep hitting the flow cache', () => {
    const sim = new Sim();
    const a = sim.gateway({ acl: A_ACL, ike: '192.0.2.1', protects: ['10.1.0.0/16'] });
    sim.gateway({ acl: B_ACL, ike: '198.51.100.1', protects: ['10.2.0.0/16'] });
    sim.gateway({ acl: `ip access-list extended C\n permit ip 10.3.0.0 0.0.255.255 10.1.0.0 0.0.255.255\n`, ike: '198.51.100.3', protects: ['10.3.0.0/16'] });
    const toB = pkt('tcp 10.1.0.5:40000 > 10.2.0.9:80');
    const toC = pkt('tcp 10.1.0.5:40000 > 10.3.0.9:80');
    for (const t of [toB, toC]) a.gw.processOne(t);
    sim.settle(10);
    for (const t of [toB, toC]) expect(a.gw.processOne(t).verdict).toBe(FORWARD);
    const [tb] = a.gw.tunnels().filter((t) => t.peer.address === ip('198.51.100.1'));
    const misses = a.gw.counters.flowCacheMisses;
    a.gw.tearDown(tb!.id);
    expect(a.gw.processOne(toC).verdict).toBe(FORWARD);
    expect(a.gw.counters.flowCacheMisses).toBe(misses); // C's flow still cached
    expect(a.gw.processOne(toB).verdict).toBe(DROP); // B's flow gone with its tunnel
  });

  it('a storm towards a destination being probed, then held down, is dropped through the negative cache; a tunnel is never shadowed', () => {
    const sim = new Sim();
    const a = sim.gateway({ acl: A_ACL, ike: '192.0.2.1', protects: ['10.1.0.0/16'], keepEvents: false });
    const t = pkt('tcp 10.1.0.5:40000 > 10.9.0.9:80'); // nobody answers for 10.9/16
    for (let i = 0; i < 1000; i++) expect(a.gw.processOne({ ...t, sport: 1024 + i }).verdict).toBe(DROP);
    expect(a.gw.counters.probesStarted).toBe(1);
    expect(a.gw.counters.dropsWhileProbing).toBe(999);
    sim.settle(8000); // 1 + 2 + 4 s: gave up, held down
    for (let i = 0; i < 1000; i++) a.gw.processOne({ ...t, sport: 1024 + i });
    expect(a.gw.counters.dropsHeldDown).toBe(1000);
    expect(a.gw.clearHoldDown(4, t.dst)).toBe(true);
    // Cleared: the next packet probes again (the cache forgot the hold-down), and once a
    // responder appears the tunnel is used at once.
    sim.gateway({ acl: `ip access-list extended C\n permit ip 10.9.0.0 0.0.255.255 10.1.0.0 0.0.255.255\n`, ike: '198.51.100.9', protects: ['10.9.0.0/16'] });
    expect(a.gw.processOne(t).verdict).toBe(DROP);
    expect(a.gw.counters.probesStarted).toBe(2);
    sim.settle(10);
    expect(a.gw.processOne({ ...t, sport: 5 }).verdict).toBe(FORWARD);
  });
});

describe('starvation: per-source quotas', () => {
  function storm(limits: Record<string, number>) {
    const sim = new Sim();
    const a = sim.gateway({ acl: A_ACL, ike: '192.0.2.1', protects: ['10.1.0.0/16'], keepEvents: false, limits });
    sim.gateway({ acl: B_ACL, ike: '198.51.100.1', protects: ['10.2.0.0/16'] });
    const r = rng(5);
    let genuineAt = -1;
    const genuine = pkt('tcp 10.1.0.5:40000 > 10.2.0.9:80');
    // A LAN host (10.1.0.66) sends to 100,000 new destinations a second (in 10/8, nobody answers),
    // for 2 s (its probes give up only after 7 s: the table stays as full as it gets); a genuine
    // host tries its first discovery every 250 ms from t = 0.5 s.
    const batch = a.gw.createBatch(100);
    for (let ms = 0; ms < 2000; ms++) {
      batch.count = 0;
      for (let i = 0; i < 100; i++) batch.push({ family: 4, protocol: 6, src: ip('10.1.0.66'), dst: ip('10.64.0.0') + BigInt(Math.floor(r() * 2 ** 22)), sport: 1234, dport: 80, hasPorts: true });
      a.gw.process(batch);
      if (ms >= 500 && ms % 250 === 0 && genuineAt < 0 && a.gw.processOne(genuine).verdict === FORWARD) genuineAt = ms;
      sim.settle(1);
    }
    return { a, genuineAt };
  }

  it('with the quotas a genuine host discovers during a DROP storm; without them it is refused throughout', () => {
    const fair = storm({});
    // The first try probes, the next (250 ms later) is forwarded.
    expect(fair.genuineAt).toBe(750);
    expect(fair.a.gw.counters.refusedPendingSource).toBeGreaterThan(190_000);
    const unfair = storm({ maxPendingPerSource: 1_000_000, maxHoldDownsPerSource: 1_000_000, sourceReservePercent: 0 });
    expect(unfair.genuineAt).toBe(-1);
    expect(unfair.a.gw.counters.refusedPending).toBeGreaterThan(190_000);
  });

  it('a host holds at most its share of the pending probes and of the hold-downs; the reserve stays for hosts holding none', () => {
    const sim = new Sim();
    const limits = { maxPendingProbes: 100, maxPendingPerSource: 30, maxHoldDowns: 100, maxHoldDownsPerSource: 20, sourceReservePercent: 10 };
    const a = sim.gateway({ acl: A_ACL, ike: '192.0.2.1', protects: ['10.1.0.0/16'], keepEvents: false, limits });
    // Four hosts, 50 new destinations each: 30 + 30 + 30 pending fill up to the reserve (90)...
    for (let h = 1; h <= 4; h++) for (let d = 0; d < 50; d++) a.gw.processOne(pkt(`tcp 10.1.0.${h}:1000 > 10.9.${h}.${d}:80`));
    const pending = a.gw.pending();
    const per = (h: number) => pending.filter((p) => p.destination >> 8n === ip(`10.9.${h}.0`) >> 8n).length;
    expect([per(1), per(2), per(3)]).toEqual([30, 30, 30]);
    // ...and a fourth host, holding none, still gets in (the reserve), but only one: after that it holds some.
    expect(per(4)).toBe(1);
    sim.settle(8000);
    // Given up: each host is charged for at most 20 hold-downs.
    const holds = a.gw.holdDowns();
    for (let h = 1; h <= 3; h++) expect(holds.filter((x) => x.destination >> 8n === ip(`10.9.${h}.0`) >> 8n).length).toBe(20);
    expect(a.gw.counters.refusedHoldDownsSource).toBe(30);
    expect(a.gw.pending()).toEqual([]);
  });
});

describe('entries a response cannot carry', () => {
  it('createGateway refuses a permit entry with more than 16 port ranges (TED_BAD_POLICY)', () => {
    const sim = new Sim();
    const wide = { ...parseCisco('access-list 101 permit tcp any any\n').entries[0]!, dport: Array.from({ length: 17 }, (_, i) => ({ lo: i * 10, hi: i * 10 + 1 })) };
    const e = thrown(TedError, () => sim.gateway({ acl: 'access-list 101 permit ip any any\n', ike: '198.51.100.1', policy: { name: 'X', family: 4, entries: [wide] } }));
    expect(e.code).toBe('TED_BAD_POLICY');
    expect(e.message).toMatch(/entry 1: 17 port ranges/);
  });

  it('receive() never throws: a failure inside is counted and the next datagram is handled', () => {
    const sim = new Sim();
    let fail = true;
    const wire = { ...ikeWire, encodeResponse: (r: Parameters<typeof ikeWire.encodeResponse>[0]) => (fail ? (() => { throw new RangeError('boom'); })() : ikeWire.encodeResponse(r)) };
    const b = sim.gateway({ acl: B_ACL, ike: '198.51.100.1', protects: ['10.2.0.0/16'], role: 'responder', wire });
    const d = (k: bigint) => ({ family: 4 as const, src: ip('10.1.0.77'), dst: ip('10.2.0.9'), sport: 1000, dport: 500, payload: forgedProbe({ family: 4, address: ip('192.0.2.1') }, k), dstKnown: true });
    expect(() => b.gw.receive(d(1n))).not.toThrow();
    expect(b.gw.counters.receiveErrors).toBe(1);
    fail = false;
    b.gw.receive(d(2n));
    expect(b.gw.counters.responsesSent).toBe(1);
  });
});

describe('an on-path answer', () => {
  /** IKE as the test sees it: authenticates only `genuine`, and the genuine responder accepts only proposals inside its ACL. */
  function ikeHandoff(genuine: bigint, accepts: (proxy: Selector) => boolean, async = false): Handoff & { results: string[] } {
    const results: string[] = [];
    return {
      results,
      bringUp(t: TunnelInfo) {
        const ok = t.peer.address === genuine && accepts(t.proxy);
        results.push(`${t.id}:${ok ? 'up' : 'refused'}`);
        return async ? new Promise<boolean>((r) => setTimeout(() => r(ok), 1)) : ok;
      },
    };
  }

  /** Answers every probe it sees with `proxy` (from `as`, which may be the genuine responder's address), before the genuine answer. */
  function forger(sim: Sim, as: TedIdentity, proxy: Selector) {
    sim.net.tap((r) => {
      const d = r.datagram;
      if (d.payload[18] !== 240 || r.injected) return;
      const icookie = new DataView(d.payload.buffer, d.payload.byteOffset).getBigUint64(0);
      const resp = ikeWire.encodeResponse({ icookie, rcookie: 0x666n, capabilities: 0, id: as, proxy });
      // Injected while the probe is still on its way: the forged answer is queued first.
      const f: Datagram = { family: 4, src: as.address, dst: ip('192.0.2.1'), sport: 500, dport: 500, payload: resp };
      sim.net.inject(f);
    });
  }

  const everything: Selector = { family: 4, protocol: 0, src: { value: 0n, care: 0n }, dst: { value: 0n, care: 0n }, sport: [{ lo: 0, hi: 65535 }], dport: [{ lo: 0, hi: 65535 }] };

  for (const claim of ['its own address', "the genuine responder's address"] as const)
    it(`a forger with the right cookie claiming ${claim} gets no established tunnel; traffic to other sites does not follow`, () => {
      const sim = new Sim();
      let bGw: ReturnType<Sim['gateway']> | undefined;
      const handoff = ikeHandoff(ip('198.51.100.1'), (p) => bGw!.gw.checkProposal(p).accepted);
      const a = sim.gateway({ acl: A_ACL, ike: '192.0.2.1', protects: ['10.1.0.0/16'], handoff });
      bGw = sim.gateway({ acl: B_ACL, ike: '198.51.100.1', protects: ['10.2.0.0/16'] });
      const as: TedIdentity = { family: 4, address: claim === 'its own address' ? ip('198.51.100.66') : ip('198.51.100.1') };
      // The forged answer is sent from the claimed address and reaches A before B's own.
      forger(sim, as, mirror(everything));
      const p = pkt('tcp 10.1.0.5:40000 > 10.2.0.9:80');
      expect(a.gw.processOne(p).verdict).toBe(DROP);
      sim.settle(10);
      const tunnelEvents = a.events.filter((e) => e.type === 'tunnel') as Extract<(typeof a.events)[number], { type: 'tunnel' }>[];
      expect(tunnelEvents.map((e) => e.state)).toEqual(['negotiated', 'down']);
      expect(tunnelEvents[0]!.tunnel.proxy.dst.care).toBe(0xff000000n); // the forgery claimed all of 10/8
      expect(handoff.results).toEqual(['1:refused']);
      expect(a.gw.tunnels()).toEqual([]);
      expect(a.gw.counters.tunnelsEstablished).toBe(0);
      expect(a.gw.processOne(pkt('tcp 10.1.0.5:40000 > 10.3.0.9:80')).verdict).toBe(DROP);
      expect(a.gw.processOne(p).verdict).toBe(DROP);
    });

  it('discovery.destinationPrefix4 narrows what any answer can claim to P\'s destination /24; the genuine discovery establishes', async () => {
    const sim = new Sim();
    let bGw: ReturnType<Sim['gateway']> | undefined;
    const handoff = ikeHandoff(ip('198.51.100.1'), (p) => bGw!.gw.checkProposal(p).accepted, true);
    const a = sim.gateway({ acl: A_ACL, ike: '192.0.2.1', protects: ['10.1.0.0/16'], handoff, discovery: { destinationPrefix4: 24 } });
    bGw = sim.gateway({ acl: B_ACL, ike: '198.51.100.1', protects: ['10.2.0.0/16'] });
    const p = pkt('tcp 10.1.0.5:40000 > 10.2.0.9:80');
    a.gw.processOne(p);
    sim.settle(10);
    // IKE is asynchronous: negotiated, packets dropped meanwhile, established when it says so.
    expect(a.gw.tunnels().map((t) => t.state)).toEqual(['negotiated']);
    expect(a.gw.processOne(p).verdict).toBe(DROP);
    await new Promise((r) => setTimeout(r, 5));
    const [t] = a.gw.tunnels();
    expect(t!.state).toBe('established');
    expect(t!.proxy.dst).toEqual({ value: ip('10.2.0.0'), care: 0xffffff00n });
    expect(a.gw.counters.proxiesNarrowed).toBe(1);
    expect(a.gw.processOne(p).verdict).toBe(FORWARD);
    expect(a.gw.processOne(pkt('tcp 10.1.0.5:40000 > 10.2.1.9:80')).verdict).toBe(DROP); // another /24: its own discovery
  });
});
