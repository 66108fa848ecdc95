// The Cisco reader against a direct reading of IOS semantics, independent of the formatter: for
// random entry text and random packets, "the parsed entry covers the packet" must equal what the
// wildcard masks and port operators mean.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseEntry } from '../src/policy/cisco.js';
import { contains } from '../src/selector/algebra.js';
import { formatIPv4 } from '../src/selector/address.js';
import type { Tuple } from '../src/selector/types.js';

const u32 = fc.oneof(fc.bigInt({ min: 0n, max: 0xffffffffn }), fc.constantFrom(0n, 0xffffffffn, 0x0a000000n, 0x00ff00ffn));
const port = fc.oneof(fc.constantFrom(0, 1, 22, 80, 65534, 65535), fc.integer({ min: 0, max: 65535 }));

// `near(r)` turns 32 random bits into an address close to the entry (inside unless the
// wildcard forbids it), so that packets hit entries often; the oracle never uses it.
type Addr = { text: string; covers: (v: bigint) => boolean; near: (r: bigint) => bigint };
const addrArb: fc.Arbitrary<Addr> = fc.oneof(
  fc.constant({ text: 'any', covers: () => true, near: (r: bigint) => r }),
  u32.map((a) => ({ text: `host ${formatIPv4(a)}`, covers: (v: bigint) => v === a, near: () => a })),
  // Wildcard masks of any shape, the address with bits set under wildcard bits.
  fc.tuple(u32, u32).map(([a, w]) => ({
    text: `${formatIPv4(a)} ${formatIPv4(w)}`,
    covers: (v: bigint) => (v & ~w & 0xffffffffn) === (a & ~w & 0xffffffffn),
    near: (r: bigint) => (a & ~w & 0xffffffffn) | (r & w),
  })),
  fc.tuple(u32, fc.integer({ min: 0, max: 32 })).map(([a, len]) => {
    const shift = BigInt(32 - len);
    const low = (1n << shift) - 1n;
    return { text: `${formatIPv4(a)}/${len}`, covers: (v: bigint) => v >> shift === a >> shift, near: (r: bigint) => (a & ~low & 0xffffffffn) | (r & low) };
  }),
);

// `all`: the condition admits every port (`range 0 65535`). Set semantics: that is no condition,
// so a packet without ports (a non-first fragment) matches it like an entry without ports.
type Ports = { text: string; covers: (p: number) => boolean; all?: boolean };
const portsArb: fc.Arbitrary<Ports> = fc.oneof(
  fc.constant({ text: '', covers: () => true }),
  port.map((n) => ({ text: `eq ${n}`, covers: (p: number) => p === n })),
  port.map((n) => ({ text: `neq ${n}`, covers: (p: number) => p !== n })),
  port.filter((n) => n > 0).map((n) => ({ text: `lt ${n}`, covers: (p: number) => p < n })),
  port.filter((n) => n < 65535).map((n) => ({ text: `gt ${n}`, covers: (p: number) => p > n })),
  fc.tuple(port, port).map(([a, b]) => {
    const [lo, hi] = a <= b ? [a, b] : [b, a];
    return { text: `range ${lo} ${hi}`, covers: (p: number) => lo <= p && p <= hi, all: lo === 0 && hi === 65535 };
  }),
);

const entryArb = fc.record({
  action: fc.constantFrom('', 'permit ', 'deny '),
  proto: fc.constantFrom(['ip', 0], ['tcp', 6], ['udp', 17], ['icmp', 1], ['esp', 50], ['47', 47]) as fc.Arbitrary<[string, number]>,
  src: addrArb,
  dst: addrArb,
  sp: portsArb,
  dp: portsArb,
});

describe('Cisco reader semantics (property)', () => {
  it('a parsed entry covers exactly the packets its text describes', () => {
    let hits = 0;
    fc.assert(
      fc.property(
        entryArb,
        fc.record({ src: u32, dst: u32, sport: port, dport: port, protocol: fc.constantFrom(0, 1, 6, 17, 50, 47), hasPorts: fc.boolean(), nearSrc: fc.boolean(), nearDst: fc.boolean() }),
        (e, raw) => {
          const { nearSrc, nearDst, ...rest } = raw;
          const pkt = { ...rest, src: nearSrc ? e.src.near(raw.src) : raw.src, dst: nearDst ? e.dst.near(raw.dst) : raw.dst };
          const ported = e.proto[1] === 6 || e.proto[1] === 17;
          const sp = ported ? e.sp : { text: '', covers: () => true };
          const dp = ported ? e.dp : { text: '', covers: () => true };
          const text = [e.action + e.proto[0], e.src.text, sp.text, e.dst.text, dp.text].filter((x) => x !== '').join(' ');
          const sel = parseEntry(text).selector;
          const t: Tuple = { family: 4, ...pkt };
          const hasCond = (sp.text !== '' && !sp.all) || (dp.text !== '' && !dp.all);
          const want =
            (e.proto[1] === 0 || e.proto[1] === pkt.protocol) &&
            e.src.covers(pkt.src) &&
            e.dst.covers(pkt.dst) &&
            (!hasCond || (pkt.hasPorts && sp.covers(pkt.sport) && dp.covers(pkt.dport)));
          if (want) hits++;
          expect(contains(sel, t)).toBe(want);
        },
      ),
      { numRuns: 4000 },
    );
    expect(hits).toBeGreaterThan(200);
  });
});
