import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  address,
  contains,
  equalSelectors,
  intersect,
  intersectAddress,
  intersectPorts,
  isSubset,
  mirror,
  mirrorTuple,
  portSet,
} from '../src/selector/algebra.js';
import { parseIPv4 } from '../src/selector/address.js';
import { parseEntry } from '../src/policy/cisco.js';
import type { Address, PortSet, Selector, Tuple } from '../src/selector/types.js';
import { FULL_PORTS } from '../src/selector/types.js';
import { familyArb, selectorPairArb, tupleNear } from './algebra-arbitraries.js';

const RUNS = { numRuns: 3000 };
const pairAndTuple = familyArb.chain((f) =>
  selectorPairArb(f).chain(([a, b]) => {
    const r = intersect(a, b);
    const near = r.empty ? [tupleNear(a), tupleNear(b)] : [tupleNear(a), tupleNear(b), tupleNear(r.selector)];
    return fc.tuple(fc.constant(a), fc.constant(b), fc.oneof(...near));
  }),
);

describe('the worked example of the design (FIG. 3B)', () => {
  it('10.11.0.0/255.255.0.0 ∩ 10.0.0.0/255.0.0.0 = 10.11.0.0/255.255.0.0', () => {
    const a = address(parseIPv4('10.11.0.0')!, parseIPv4('255.255.0.0')!);
    const b = address(parseIPv4('10.0.0.0')!, parseIPv4('255.0.0.0')!);
    expect(intersectAddress(a, b)).toEqual({ value: parseIPv4('10.11.0.0'), care: parseIPv4('255.255.0.0') });
    const r = intersect(parseEntry('permit ip 10.11.0.0 0.0.255.255 any').selector, parseEntry('permit ip 10.0.0.0 0.255.255.255 any').selector);
    expect(r.empty).toBe(false);
    if (!r.empty) expect(r.selector.src).toEqual(a);
  });

  it('names the first empty field in the order protocol, source, destination, sport, dport', () => {
    const e = (t: string) => parseEntry(t).selector;
    expect(intersect(e('tcp 10.0.0.0 0.0.0.255 any'), e('udp 11.0.0.0 0.0.0.255 any'))).toEqual({ empty: true, field: 'protocol' });
    expect(intersect(e('tcp 10.0.0.0 0.0.0.255 host 1.1.1.1'), e('ip 11.0.0.0 0.0.0.255 host 2.2.2.2'))).toEqual({ empty: true, field: 'source' });
    expect(intersect(e('tcp any host 1.1.1.1 eq 1'), e('ip any host 2.2.2.2'))).toEqual({ empty: true, field: 'destination' });
    expect(intersect(e('tcp any eq 1 any eq 1'), e('tcp any eq 2 any eq 2'))).toEqual({ empty: true, field: 'sport' });
    expect(intersect(e('tcp any any eq 1'), e('tcp any any range 2 9'))).toEqual({ empty: true, field: 'dport' });
    expect(intersect(e('ip any any'), e('ipv6 any any'))).toEqual({ empty: true, field: 'family' });
  });

  it("the design's port rules are the special case: same port, one side any, conflict", () => {
    const e = (t: string) => parseEntry(t).selector;
    const r1 = intersect(e('tcp any any eq 80'), e('tcp any any eq 80'));
    const r2 = intersect(e('tcp any any'), e('tcp any any eq 80'));
    expect(!r1.empty && r1.selector.dport).toEqual([{ lo: 80, hi: 80 }]);
    expect(!r2.empty && r2.selector.dport).toEqual([{ lo: 80, hi: 80 }]);
    // neq yields a two-range set.
    const r3 = intersect(e('tcp any any neq 80'), e('tcp any any range 1 1000'));
    expect(!r3.empty && r3.selector.dport).toEqual([{ lo: 1, hi: 79 }, { lo: 81, hi: 1000 }]);
  });
});

describe('algebra properties (fast-check)', () => {
  it('contains(intersect(a, b), t) == contains(a, t) && contains(b, t)', () => {
    let hits = 0;
    fc.assert(
      fc.property(pairAndTuple, ([a, b, t]) => {
        const r = intersect(a, b);
        const want = contains(a, t) && contains(b, t);
        if (want) hits++;
        return (r.empty ? false : contains(r.selector, t)) === want;
      }),
      RUNS,
    );
    // The generators must actually exercise the non-empty case.
    expect(hits).toBeGreaterThan(100);
  });

  it('intersect is commutative, idempotent, and its result is canonical and inside both', () => {
    fc.assert(
      fc.property(familyArb.chain((f) => selectorPairArb(f)), ([a, b]) => {
        const ab = intersect(a, b);
        const ba = intersect(b, a);
        expect(ab.empty).toBe(ba.empty);
        if (ab.empty || ba.empty) {
          expect(ab).toEqual(ba);
          return;
        }
        expect(equalSelectors(ab.selector, ba.selector)).toBe(true);
        expect(isSubset(ab.selector, a) && isSubset(ab.selector, b)).toBe(true);
        for (const f of [ab.selector.src, ab.selector.dst]) expect(f.value & ~f.care).toBe(0n);
        for (const ps of [ab.selector.sport, ab.selector.dport]) expect(portSet(ps)).toEqual(ps);
        const aa = intersect(a, a);
        expect(!aa.empty && equalSelectors(aa.selector, a)).toBe(true);
      }),
      RUNS,
    );
  });

  it('mirror swaps directions: contains(mirror(s), mirrorTuple(t)) == contains(s, t); mirror is an involution and commutes with intersect', () => {
    fc.assert(
      fc.property(pairAndTuple, ([a, b, t]) => {
        expect(contains(mirror(a), mirrorTuple(t))).toBe(contains(a, t));
        expect(mirror(mirror(a))).toEqual(a);
        const r = intersect(a, b);
        const m = intersect(mirror(a), mirror(b));
        expect(m.empty).toBe(r.empty);
        if (!r.empty && !m.empty) expect(m.selector).toEqual(mirror(r.selector));
      }),
      RUNS,
    );
  });

  it('isSubset(a, b) agrees with intersect and with contains', () => {
    fc.assert(
      fc.property(pairAndTuple, ([a, b, t]) => {
        const r = intersect(a, b);
        const sub = isSubset(a, b);
        // a ⊆ b exactly when a ∩ b is a itself.
        expect(sub).toBe(!r.empty && equalSelectors(r.selector, a));
        if (sub && contains(a, t)) expect(contains(b, t)).toBe(true);
        if (!r.empty) expect(isSubset(r.selector, a) && isSubset(r.selector, b)).toBe(true);
      }),
      RUNS,
    );
  });
});

describe('exhaustive checks on reduced bit widths', () => {
  // Addresses that vary only in the low 4 bits (care and value), against every 4-bit value: the
  // algebra does not depend on which bits vary, so this covers every mask/value relation.
  const LOW = 4;
  const all4: Address[] = [];
  for (let care = 0n; care < 1n << BigInt(LOW); care++)
    for (let v = 0n; v < 1n << BigInt(LOW); v++) if ((v & ~care) === 0n) all4.push({ value: v, care: care | 0xfffffff0n });
  const covers = (a: Address, v: bigint) => (v & a.care) === a.value;

  it(`intersectAddress is exact set intersection over all ${all4.length}² address pairs`, () => {
    let nonEmpty = 0;
    for (const a of all4)
      for (const b of all4) {
        const r = intersectAddress(a, b);
        for (let v = 0n; v < 16n; v++) {
          const want = covers(a, v) && covers(b, v);
          if ((r ? covers(r, v) : false) !== want) throw new Error(`a=${a.value}/${a.care} b=${b.value}/${b.care} v=${v}`);
        }
        // Empty exactly when no value is covered by both.
        let any = false;
        for (let v = 0n; v < 16n; v++) any ||= covers(a, v) && covers(b, v);
        expect(r !== undefined).toBe(any);
        if (r) nonEmpty++;
      }
    expect(nonEmpty).toBeGreaterThan(1000);
  });

  it('address subset is exact set inclusion over all pairs', () => {
    const sel = (a: Address): Selector => ({ family: 4, protocol: 0, src: a, dst: { value: 0n, care: 0n }, sport: FULL_PORTS, dport: FULL_PORTS });
    for (const a of all4)
      for (const b of all4) {
        let want = true;
        for (let v = 0n; v < 16n; v++) if (covers(a, v) && !covers(b, v)) want = false;
        expect(isSubset(sel(a), sel(b))).toBe(want);
      }
  });

  // Port sets over a universe of ports 0..7 plus the top edge, built from up to two ranges.
  const P = [0, 1, 2, 3, 4, 5, 6, 7, 65534, 65535];
  const sets: PortSet[] = [FULL_PORTS];
  for (const a of P)
    for (const b of P) {
      if (a > b) continue;
      sets.push(portSet([{ lo: a, hi: b }]));
      for (const c of P) if (c > b + 1) sets.push(portSet([{ lo: a, hi: b }, { lo: c, hi: c === 65535 ? 65535 : c + 1 }]));
    }
  const inSet = (s: PortSet, p: number) => s.some((r) => r.lo <= p && p <= r.hi);

  it(`intersectPorts is exact set intersection over ${sets.length}² port-set pairs`, () => {
    const probe = [...P, 8, 9, 100, 65533];
    for (const a of sets)
      for (const b of sets) {
        const r = intersectPorts(a, b);
        for (const p of probe) if (inSet(r, p) !== (inSet(a, p) && inSet(b, p))) throw new Error(`${JSON.stringify(a)} ∩ ${JSON.stringify(b)} at ${p}`);
        expect(r.length === 0).toBe(!probe.some((p) => inSet(a, p) && inSet(b, p)) && !(a === FULL_PORTS && b === FULL_PORTS));
      }
  });

  it('protocol intersection over all small protocol pairs, against contains', () => {
    const protos = [0, 1, 6, 17, 255];
    const s = (p: number): Selector => ({ family: 4, protocol: p, src: { value: 0n, care: 0n }, dst: { value: 0n, care: 0n }, sport: FULL_PORTS, dport: FULL_PORTS });
    for (const a of protos)
      for (const b of protos) {
        const r = intersect(s(a), s(b));
        for (const p of [1, 6, 17, 255, 42]) {
          const t: Tuple = { family: 4, protocol: p, src: 0n, dst: 0n, sport: 0, dport: 0, hasPorts: false };
          expect(!r.empty && contains(r.selector, t)).toBe(contains(s(a), t) && contains(s(b), t));
        }
      }
  });

  it('a tuple without ports never matches an entry with a port condition', () => {
    const t: Tuple = { family: 4, protocol: 6, src: 1n, dst: 2n, sport: 80, dport: 80, hasPorts: false };
    expect(contains(parseEntry('permit tcp any any eq 80').selector, t)).toBe(false);
    expect(contains(parseEntry('permit tcp any any').selector, t)).toBe(true);
    expect(contains(parseEntry('permit tcp any neq 1 any').selector, t)).toBe(false);
  });
});
