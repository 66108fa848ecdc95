// fast-check generators for selectors and tuples, shared by the algebra and format tests.
import fc from 'fast-check';
import { address, portSet } from '../src/selector/algebra.js';
import { prefixMask } from '../src/selector/address.js';
import type { Address, Family, PortSet, Selector, Tuple } from '../src/selector/types.js';
import { FULL_PORTS, allOnes } from '../src/selector/types.js';

const width = (f: Family) => (f === 4 ? 32 : 128);
export const bits = (f: Family) => fc.bigInt({ min: 0n, max: allOnes(f) });

/** Addresses of every shape: any, host, prefix, non-contiguous masks; value bits under wildcard bits are set at random and must be ignored. */
export function addressArb(f: Family, opts: { prefixOnly?: boolean } = {}): fc.Arbitrary<Address> {
  const prefix = fc.tuple(bits(f), fc.integer({ min: 0, max: width(f) })).map(([v, len]) => address(v, prefixMask(f, len)));
  const shapes: fc.Arbitrary<Address>[] = [
    fc.constant({ value: 0n, care: 0n }),
    bits(f).map((v) => address(v, allOnes(f))),
    prefix,
  ];
  if (!opts.prefixOnly) {
    shapes.push(fc.tuple(bits(f), bits(f)).map(([v, care]) => address(v, care)));
    // Few care bits, so that random tuples and other selectors often overlap.
    shapes.push(fc.tuple(bits(f), fc.array(fc.integer({ min: 0, max: width(f) - 1 }), { maxLength: 4 })).map(([v, idx]) => address(v, idx.reduce((m, i) => m | (1n << BigInt(i)), 0n))));
  }
  return fc.oneof(...shapes);
}

const port = fc.oneof(fc.constantFrom(0, 1, 2, 1023, 1024, 65534, 65535), fc.integer({ min: 0, max: 65535 }));

/** Port sets as the Cisco operators make them, plus arbitrary multi-range sets. */
export function portSetArb(opts: { cisco?: boolean } = {}): fc.Arbitrary<PortSet> {
  const shapes: fc.Arbitrary<PortSet>[] = [
    fc.constant(FULL_PORTS),
    port.map((p) => portSet([{ lo: p, hi: p }])),
    port.map((p) => portSet([{ lo: 0, hi: p - 1 }, { lo: p + 1, hi: 65535 }])), // neq
    port.filter((p) => p > 0).map((p) => portSet([{ lo: 0, hi: p - 1 }])), // lt
    port.filter((p) => p < 65535).map((p) => portSet([{ lo: p + 1, hi: 65535 }])), // gt
    fc.tuple(port, port).map(([a, b]) => portSet([{ lo: Math.min(a, b), hi: Math.max(a, b) }])), // range
  ];
  if (!opts.cisco)
    shapes.push(
      fc
        .array(fc.tuple(port, port), { minLength: 1, maxLength: 4 })
        .map((rs) => portSet(rs.map(([a, b]) => ({ lo: Math.min(a, b), hi: Math.max(a, b) })))),
    );
  return fc.oneof(...shapes);
}

export const protocolArb = fc.oneof(fc.constantFrom(0, 6, 17, 1, 50, 58), fc.integer({ min: 0, max: 255 }));

export function selectorArb(f: Family, opts: { cisco?: boolean } = {}): fc.Arbitrary<Selector> {
  return fc
    .record({
      protocol: protocolArb,
      src: addressArb(f, { prefixOnly: opts.cisco && f === 6 }),
      dst: addressArb(f, { prefixOnly: opts.cisco && f === 6 }),
      sport: portSetArb(opts),
      dport: portSetArb(opts),
    })
    .map((r) => {
      // Cisco text allows port conditions only after tcp and udp.
      const ports = !opts.cisco || r.protocol === 6 || r.protocol === 17;
      return { family: f, ...r, sport: ports ? r.sport : FULL_PORTS, dport: ports ? r.dport : FULL_PORTS };
    });
}

export const familyArb = fc.constantFrom<Family>(4, 6);

/** A tuple inside `s` when possible (don't-care bits random), to make hits common. */
export function tupleNear(s: Selector): fc.Arbitrary<Tuple> {
  const inAddr = (a: Address) => bits(s.family).map((r) => a.value | (r & ~a.care & allOnes(s.family)));
  const inPorts = (set: PortSet) => fc.integer({ min: 0, max: set.length - 1 }).chain((i) => fc.integer({ min: set[i]!.lo, max: set[i]!.hi }));
  // Mostly inside, sometimes anywhere: each field misses on its own.
  const mostly = <T>(inside: fc.Arbitrary<T>, anywhere: fc.Arbitrary<T>) => fc.oneof({ arbitrary: inside, weight: 6 }, { arbitrary: anywhere, weight: 1 });
  return fc.record({
    family: fc.constant(s.family),
    protocol: s.protocol === 0 ? protocolArb : mostly(fc.constant(s.protocol), protocolArb),
    src: mostly(inAddr(s.src), bits(s.family)),
    dst: mostly(inAddr(s.dst), bits(s.family)),
    sport: mostly(inPorts(s.sport), port),
    dport: mostly(inPorts(s.dport), port),
    hasPorts: mostly(fc.constant(true), fc.boolean()),
  });
}

/** Two selectors of one family: independent, or the second sharing some fields with the first. */
export function selectorPairArb(f: Family, opts: { cisco?: boolean } = {}): fc.Arbitrary<[Selector, Selector]> {
  const related = fc.tuple(selectorArb(f, opts), selectorArb(f, opts), fc.array(fc.boolean(), { minLength: 5, maxLength: 5 })).map(([a, r, keep]): [Selector, Selector] => {
    const b: Selector = {
      family: f,
      protocol: keep[0] ? a.protocol : r.protocol,
      src: keep[1] ? a.src : r.src,
      dst: keep[2] ? a.dst : r.dst,
      sport: keep[3] ? a.sport : r.sport,
      dport: keep[4] ? a.dport : r.dport,
    };
    return [a, b];
  });
  return fc.oneof(fc.tuple(selectorArb(f, opts), selectorArb(f, opts)), related);
}
