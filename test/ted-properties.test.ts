// Discovery against the reference algebra, on random policy pairs and random packets: whatever the
// ACLs, a tunnel exists exactly when the initiator's first match E and the responder's first match
// M (of the mirrored packet) are both permits, and its proxy is E ∩ mirror(M), which contains P.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createGateway } from '../src/ted/gateway.js';
import { ManualClock } from '../src/ted/clock.js';
import { DROP, FORWARD, BYPASS } from '../src/ted/types.js';
import { MemoryNetwork } from '../src/transport/memory.js';
import { contains, equalSelectors, firstMatch, intersect, isSubset, mirror, mirrorTuple, portSet } from '../src/selector/algebra.js';
import type { Entry, Policy, PortSet, Tuple } from '../src/selector/types.js';
import { FULL_PORTS } from '../src/selector/types.js';

// Entries are drawn around the packet (often covering it, sometimes not) so that every outcome
// (bypass, silent responder, tunnel) happens often; the rest of the space is 10.0.0.0/16.
const NET = 0x0a000000n;
const packet = fc.record({ protocol: fc.constantFrom(6, 17), src: fc.integer({ min: 0, max: 0xffff }), dst: fc.integer({ min: 0, max: 0xffff }), sport: fc.integer({ min: 1000, max: 1020 }), dport: fc.integer({ min: 1000, max: 1020 }) }).map(
  (p): Tuple => ({ family: 4, protocol: p.protocol, src: NET | BigInt(p.src), dst: NET | BigInt(p.dst), sport: p.sport, dport: p.dport, hasPorts: true }),
);
const addrAround = (near: bigint) =>
  fc.record({ hit: fc.integer({ min: 0, max: 9 }), other: fc.integer({ min: 0, max: 0xffff }), len: fc.integer({ min: 16, max: 32 }) }).map(({ hit, other, len }) => {
    const care = (0xffffffffn << BigInt(32 - len)) & 0xffffffffn;
    return { value: (hit < 8 ? near : NET | BigInt(other)) & care, care };
  });
const portsAround = (near: number): fc.Arbitrary<PortSet> =>
  fc.oneof(
    fc.constant(FULL_PORTS),
    fc.constant(portSet([{ lo: near, hi: near }])),
    fc.tuple(fc.integer({ min: 0, max: 20 }), fc.integer({ min: 0, max: 20 })).map(([a, b]) => portSet([{ lo: 1000 + Math.min(a, b), hi: 1000 + Math.max(a, b) }])),
  );
/** A policy whose entries lean towards covering `t` (the packet, or its mirror for the responder). */
const policyAround = (name: string, t: Tuple) =>
  fc
    .array(
      fc.record({ action: fc.constantFrom('permit', 'permit', 'deny'), protocol: fc.constantFrom(0, 6, 17), src: addrAround(t.src), dst: addrAround(t.dst), sport: portsAround(t.sport), dport: portsAround(t.dport) }),
      { minLength: 1, maxLength: 4 },
    )
    .map(
      (es): Policy => ({
        name,
        family: 4,
        entries: es.map((e, i) => {
          const portsOk = e.protocol === 6 || e.protocol === 17;
          return { ...e, family: 4, ordinal: i + 1, sport: portsOk ? e.sport : FULL_PORTS, dport: portsOk ? e.dport : FULL_PORTS } as Entry;
        }),
      }),
    );
const scenario = packet.chain((P) => fc.tuple(policyAround('I', P), policyAround('R', mirrorTuple(P)), fc.constant(P)));

describe('discovery equals the algebra', () => {
  it('tunnel iff both first matches permit; proxy = E ∩ mirror(M) ⊇ P; accepted by the responder', () => {
    const seen = { bypass: 0, silent: 0, tunnel: 0 };
    fc.assert(
      fc.property(scenario, ([ini, res, P]) => {
        const clock = new ManualClock();
        const net = new MemoryNetwork();
        const claimAll = { family: 4 as const, value: NET, care: 0xffff0000n, port: 500 };
        // Initiator's IKE address outside 10.0/16; the responder intercepts every probe to 10.0/16.
        const a = createGateway({ role: 'initiator', policy: ini, localAddress: '192.0.2.1', transport: net.attach([{ family: 4, value: 0xc0000201n, care: 0xffffffffn, port: 500 }]), clock, engine: 'ts' });
        const b = createGateway({ role: 'responder', policy: res, localAddress: '198.51.100.1', transport: net.attach([claimAll]), clock, engine: 'ts' });
        const e = firstMatch(ini.entries, P);
        const first = a.processOne(P);
        const E = ini.entries[e - 1];
        if (!E || E.action !== 'permit') {
          expect(first.verdict).toBe(BYPASS);
          seen.bypass++;
          return;
        }
        expect(first.verdict).toBe(DROP);
        net.flush();
        const m = firstMatch(res.entries, mirrorTuple(P));
        const M = res.entries[m - 1];
        const tunnels = a.tunnels();
        if (!M || M.action !== 'permit') {
          expect(tunnels).toHaveLength(0);
          expect(b.counters.responsesSent).toBe(0);
          seen.silent++;
          return;
        }
        const x = intersect(E, mirror(M));
        // Both first matches contain P, so their intersection is never empty and contains P.
        expect(x.empty).toBe(false);
        if (x.empty) return;
        expect(tunnels).toHaveLength(1);
        const t = tunnels[0]!;
        expect(equalSelectors(t.proxy, x.selector)).toBe(true);
        expect(contains(t.proxy, P)).toBe(true);
        expect(isSubset(t.proxy, E)).toBe(true);
        expect(isSubset(mirror(t.proxy), M)).toBe(true);
        expect(b.checkProposal(t.proxy).accepted).toBe(true);
        expect(a.processOne(P)).toMatchObject({ verdict: FORWARD, tunnel: t.id });
        seen.tunnel++;
      }),
      { numRuns: 300 },
    );
    // Every branch was exercised (the property is not vacuous).
    expect(seen.tunnel + seen.silent + seen.bypass).toBe(300);
    expect(seen.tunnel).toBeGreaterThan(20);
    expect(seen.silent).toBeGreaterThan(20);
    expect(seen.bypass).toBeGreaterThan(20);
  });
});
