// Proxy -> IKE traffic selectors: the union of the selectors is exactly the proxy. Exhaustive at
// reduced address widths (every care mask and value, every address), property-based at full
// width against the algebra's `contains` (the reference), for IKEv2 (with and without splitting
// over CHILD_SAs) and IKEv1 (one subnet, one port per side), plus the refusals.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TedError } from '../src/errors.js';
import { address, contains, portSet } from '../src/selector/algebra.js';
import { prefixMask } from '../src/selector/address.js';
import type { Address, Family, PortSet, Selector, Tuple } from '../src/selector/types.js';
import { FULL_PORTS, allOnes } from '../src/selector/types.js';
import {
  addressBlocks,
  blockCount,
  childrenNeeded,
  formatTrafficSelector,
  ikev1Children,
  ikev2Children,
  type ChildSelectors,
  type TrafficSelector,
} from '../src/strongswan/selectors.js';
import { bits, portSetArb, tupleNear } from './algebra-arbitraries.js';
import { thrown } from './support/errors.js';

function inBlock(b: { value: bigint; prefix: number }, v: bigint, width: number): boolean {
  const mask = b.prefix === 0 ? 0n : ((1n << BigInt(width)) - 1n) ^ ((1n << BigInt(width - b.prefix)) - 1n);
  return (v & mask) === b.value;
}

/** Does one selector pair of a CHILD_SA carry this packet? (RFC 7296: protocol 0 = any, ports need a port-carrying packet unless full.) */
function tsCovers(ts: TrafficSelector, addr: bigint, port: number, t: Tuple, width: number): boolean {
  if (ts.protocol !== 0 && ts.protocol !== t.protocol) return false;
  if (!inBlock(ts.block, addr, width)) return false;
  const anyPort = ts.ports.lo === 0 && ts.ports.hi === 65535;
  return anyPort || (t.hasPorts && port >= ts.ports.lo && port <= ts.ports.hi);
}

function childrenCover(children: readonly ChildSelectors[], t: Tuple, width: number): boolean {
  return children.some(
    (c) => c.local.some((l) => tsCovers(l, t.src, t.sport, t, width)) && c.remote.some((r) => tsCovers(r, t.dst, t.dport, t, width)),
  );
}

describe('address fields as CIDR blocks', () => {
  it('is exact at width 6: every care mask, value and address', () => {
    const W = 6;
    const all = (1n << BigInt(W)) - 1n;
    for (let care = 0n; care <= all; care++) {
      for (let value = 0n; value <= all; value++) {
        if ((value & ~care) !== 0n) continue;
        const a = { value, care };
        const blocks = addressBlocks(a, W);
        expect(BigInt(blocks.length)).toBe(blockCount(a, W));
        for (let x = 0n; x <= all; x++) {
          const hits = blocks.filter((b) => inBlock(b, x, W)).length;
          expect(hits, `care ${care} value ${value} x ${x}`).toBe((x & care) === value ? 1 : 0); // covered exactly once
        }
        // Aligned, sorted, and never adjacent (so no coarser set of ranges exists).
        const size = blocks[0] ? 1n << BigInt(W - blocks[0].prefix) : 0n;
        for (let i = 0; i < blocks.length; i++) {
          expect(blocks[i]!.value % size).toBe(0n);
          if (i > 0) expect(blocks[i]!.value > blocks[i - 1]!.value + size).toBe(true);
        }
      }
    }
  });

  it('counts 2^k blocks, k = the wildcard bits above the lowest cared-for bit', () => {
    // Cisco 10.0.0.0 0.0.255.0: eight free bits above bit 0 -> 256 host blocks.
    expect(blockCount({ value: 0x0a000000n, care: 0xffff00ffn }, 32)).toBe(256n);
    expect(addressBlocks({ value: 0x0a000000n, care: 0xffff00ffn }, 32)[1]).toEqual({ value: 0x0a000100n, prefix: 32 });
    expect(addressBlocks({ value: 0n, care: 0n }, 32)).toEqual([{ value: 0n, prefix: 0 }]);
    expect(addressBlocks({ value: 0xc0000200n, care: 0xffffff00n }, 32)).toEqual([{ value: 0xc0000200n, prefix: 24 }]);
    expect(blockCount({ value: 0n, care: 1n }, 128)).toBe(1n << 127n);
    expect(thrown(TedError, () => addressBlocks({ value: 0n, care: 1n }, 128, 1000)).code).toBe('STRONGSWAN_TS_TOO_MANY');
  });
});

// Prefix masks with up to three holes: non-contiguous, yet few blocks.
function holedAddress(f: Family): fc.Arbitrary<Address> {
  const w = f === 4 ? 32 : 128;
  return fc
    .tuple(bits(f), fc.integer({ min: 0, max: w }), fc.array(fc.integer({ min: 0, max: w - 1 }), { maxLength: 3 }))
    .map(([v, len, holes]) => address(v, holes.reduce((m, h) => m & ~(1n << BigInt(h)), prefixMask(f, len)) & allOnes(f)));
}

function proxyArb(f: Family): fc.Arbitrary<Selector> {
  return fc
    .record({ protocol: fc.constantFrom(0, 6, 17, 1, 132), src: holedAddress(f), dst: holedAddress(f), sport: portSetArb(), dport: portSetArb() })
    .map((r) => (r.protocol === 0 ? { family: f, ...r, sport: FULL_PORTS, dport: FULL_PORTS } : { family: f, ...r }));
}

const withTuples = (f: Family) => proxyArb(f).chain((p) => fc.tuple(fc.constant(p), fc.array(tupleNear(p), { minLength: 20, maxLength: 40 })));

describe('IKEv2 children', () => {
  for (const f of [4, 6] as const) {
    it(`IPv${f}: the selectors cover exactly the proxy (against contains)`, () => {
      fc.assert(
        fc.property(withTuples(f), ([proxy, tuples]) => {
          const children = ikev2Children(proxy);
          expect(children.length).toBe(1);
          expect(BigInt(children.length)).toBe(childrenNeeded(proxy, 2));
          for (const t of tuples) expect(childrenCover(children, t, f === 4 ? 32 : 128)).toBe(contains(proxy, t));
          // Protocol is the proxy's on every selector.
          for (const ts of [...children[0]!.local, ...children[0]!.remote]) expect(ts.protocol).toBe(proxy.protocol);
        }),
        { numRuns: 200 },
      );
    });
  }

  it('splits above the per-payload limit into CHILD_SAs that still cover exactly the proxy', () => {
    fc.assert(
      fc.property(withTuples(4), fc.integer({ min: 1, max: 4 }), ([proxy, tuples], per) => {
        const need = childrenNeeded(proxy, 2, per)!;
        if (need > 64n) {
          expect(thrown(TedError, () => ikev2Children(proxy, { maxPerPayload: per, maxChildren: 64 })).code).toBe('STRONGSWAN_TS_TOO_MANY');
          return;
        }
        const children = ikev2Children(proxy, { maxPerPayload: per, maxChildren: 64 });
        expect(BigInt(children.length)).toBe(need);
        for (const c of children) {
          expect(c.local.length).toBeLessThanOrEqual(per);
          expect(c.remote.length).toBeLessThanOrEqual(per);
        }
        for (const t of tuples) expect(childrenCover(children, t, 32)).toBe(contains(proxy, t));
      }),
      { numRuns: 200 },
    );
  });

  it('puts at most 255 selectors in a TS payload: 256 blocks become two CHILD_SAs', () => {
    // 10.0.0.0 0.0.255.0: 256 blocks on the local side.
    const proxy: Selector = { family: 4, protocol: 6, src: { value: 0x0a000000n, care: 0xffff00ffn }, dst: address(0xcb007100n, 0xffffff00n), sport: FULL_PORTS, dport: portSet([{ lo: 80, hi: 80 }]) };
    const children = ikev2Children(proxy);
    expect(children.map((c) => [c.local.length, c.remote.length])).toEqual([
      [255, 1],
      [1, 1],
    ]);
    expect(thrown(TedError, () => ikev2Children(proxy, { maxChildren: 1 })).code).toBe('STRONGSWAN_TS_TOO_MANY');
  });

  it('refuses ports under protocol any (no selector can say it)', () => {
    const p: Selector = { family: 4, protocol: 0, src: address(0n, 0n), dst: address(0n, 0n), sport: FULL_PORTS, dport: portSet([{ lo: 80, hi: 80 }]) };
    expect(thrown(TedError, () => ikev2Children(p)).code).toBe('STRONGSWAN_TS_PORTS_WITHOUT_PROTOCOL');
    expect(thrown(TedError, () => ikev1Children(p)).code).toBe('STRONGSWAN_TS_PORTS_WITHOUT_PROTOCOL');
    expect(childrenNeeded(p, 2)).toBeUndefined();
  });
});

describe('IKEv1 children', () => {
  const smallPorts: fc.Arbitrary<PortSet> = fc.oneof(
    fc.constant(FULL_PORTS),
    fc.array(fc.tuple(fc.integer({ min: 0, max: 65533 }), fc.integer({ min: 0, max: 2 })), { minLength: 1, maxLength: 2 }).map((rs) => portSet(rs.map(([lo, n]) => ({ lo, hi: lo + n })))),
  );
  it('one subnet and one port (or any) per side and CHILD_SA; together exactly the proxy', () => {
    const arb = fc
      .record({ protocol: fc.constantFrom(6, 17), src: holedAddress(4), dst: holedAddress(4), sport: smallPorts, dport: smallPorts })
      .map((r): Selector => ({ family: 4, ...r }))
      .chain((p) => fc.tuple(fc.constant(p), fc.array(tupleNear(p), { minLength: 20, maxLength: 40 })));
    fc.assert(
      fc.property(arb, ([proxy, tuples]) => {
        const need = childrenNeeded(proxy, 1)!;
        if (need > 64n) {
          expect(thrown(TedError, () => ikev1Children(proxy, { maxChildren: 64 })).code).toBe('STRONGSWAN_TS_TOO_MANY');
          return;
        }
        const children = ikev1Children(proxy, { maxChildren: 64 });
        expect(BigInt(children.length)).toBe(need);
        for (const c of children) {
          expect(c.local).toHaveLength(1);
          expect(c.remote).toHaveLength(1);
          for (const ts of [c.local[0]!, c.remote[0]!]) expect(ts.ports.lo === ts.ports.hi || (ts.ports.lo === 0 && ts.ports.hi === 65535)).toBe(true);
        }
        for (const t of tuples) expect(childrenCover(children, t, 32)).toBe(contains(proxy, t));
      }),
      { numRuns: 200 },
    );
  });

  it('refuses a port range that would need too many CHILD_SAs instead of cutting it to its first port', () => {
    const p: Selector = { family: 4, protocol: 6, src: address(0xc0000200n, 0xffffff00n), dst: address(0xcb007100n, 0xffffff00n), sport: FULL_PORTS, dport: portSet([{ lo: 8000, hi: 8999 }]) };
    const e = thrown(TedError, () => ikev1Children(p));
    expect(e.code).toBe('STRONGSWAN_TS_TOO_MANY');
    expect(e.message).toMatch(/1000/);
    expect(ikev1Children({ ...p, dport: portSet([{ lo: 8000, hi: 8002 }]) }).map((c) => formatTrafficSelector(c.remote[0]!))).toEqual([
      '203.0.113.0/24[6/8000]',
      '203.0.113.0/24[6/8001]',
      '203.0.113.0/24[6/8002]',
    ]);
  });
});

describe('swanctl selector text', () => {
  const ts = (family: Family, protocol: number, value: bigint, prefix: number, lo = 0, hi = 65535): TrafficSelector => ({ family, protocol, block: { value, prefix }, ports: { lo, hi } });
  it.each([
    [ts(4, 0, 0xc0000200n, 24), '192.0.2.0/24'],
    [ts(4, 6, 0xc0000200n, 24), '192.0.2.0/24[6]'],
    [ts(4, 6, 0xc0000280n, 25, 8000, 8999), '192.0.2.128/25[6/8000-8999]'],
    [ts(6, 17, 0x20010db8000b0000n << 64n, 64, 53, 53), '2001:db8:b::/64[17/53]'],
    [ts(4, 1, 0n, 0), '0.0.0.0/0[1]'],
  ])('%o -> %s', (t, text) => expect(formatTrafficSelector(t)).toBe(text));
});
