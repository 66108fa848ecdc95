// Test helper: fast-check arbitraries for packet specs, built into frames with the project's
// encoders, together with the 5-tuple a correct decoder must report for them.
import fc from 'fast-check';
import { encodeEthernet, encodeIPv4, encodeIPv6, encodeL4, type IPv6Extension } from '../src/packet/encode.js';
import type { Family, Tuple } from '../src/selector/types.js';

export interface PacketSpec {
  linkType: number;
  vlans: { id: number; tpid: number }[];
  family: Family;
  protocol: number;
  src: bigint;
  dst: bigint;
  sport: number;
  dport: number;
  v4options?: Uint8Array;
  fragOffset: number;
  moreFragments: boolean;
  exts: IPv6Extension[];
  payloadLen: number;
  /** For link type 0: write the address family big-endian. */
  nullBigEndian: boolean;
}

export interface BuiltFrame {
  linkType: number;
  data: Uint8Array;
  tuple: Tuple;
}

const PROTOS = [1, 6, 17, 132, 47, 50, 51, 58, 103];

export const specArb = (opts: { linkTypes?: number[]; families?: Family[] } = {}): fc.Arbitrary<PacketSpec> =>
  fc
    .record({
      linkType: fc.constantFrom(...(opts.linkTypes ?? [1, 1, 1, 101, 113, 276, 0, 228, 229])),
      vlans: fc.array(fc.record({ id: fc.integer({ min: 0, max: 4095 }), tpid: fc.constantFrom(0x8100, 0x88a8, 0x9100) }), { maxLength: 3 }),
      family: fc.constantFrom(...(opts.families ?? ([4, 6] as Family[]))),
      protocol: fc.constantFrom(...PROTOS),
      src4: fc.bigInt({ min: 0n, max: 0xffffffffn }),
      dst4: fc.bigInt({ min: 0n, max: 0xffffffffn }),
      src6: fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }),
      dst6: fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }),
      sport: fc.integer({ min: 0, max: 65535 }),
      dport: fc.integer({ min: 0, max: 65535 }),
      v4optLen: fc.constantFrom(0, 0, 4, 8, 40),
      frag: fc.constantFrom(0, 0, 0, 1, 2),
      fragOffset8: fc.integer({ min: 1, max: 8000 }),
      exts: fc.array(fc.constantFrom<IPv6Extension['type']>(0, 43, 60, 51), { maxLength: 4 }),
      extBody: fc.integer({ min: 0, max: 30 }),
      payloadLen: fc.integer({ min: 0, max: 40 }),
      nullBigEndian: fc.boolean(),
    })
    .map((r) => {
      const linkFamily: Family | undefined = r.linkType === 228 ? 4 : r.linkType === 229 ? 6 : undefined;
      const family = linkFamily ?? r.family;
      // frag: 0 none, 1 first fragment (MF, offset 0), 2 non-first fragment.
      const fragOffset = r.frag === 2 ? r.fragOffset8 * 8 : 0;
      const moreFragments = r.frag === 1 || (r.frag === 2 && r.fragOffset8 % 2 === 0);
      const exts: IPv6Extension[] = family === 6 ? r.exts.map((type) => ({ type, body: new Uint8Array(r.extBody) })) : [];
      if (family === 6 && r.frag !== 0) exts.splice(exts.length > 0 ? 1 : 0, 0, { type: 44, fragmentOffset: fragOffset, moreFragments, id: 77 });
      // In IPv6, AH is part of the header chain (walked through), so it is not an upper-layer protocol.
      const protocol = family === 6 && r.protocol === 1 ? 58 : family === 6 && r.protocol === 51 ? 50 : family === 4 && r.protocol === 58 ? 1 : r.protocol;
      return {
        linkType: r.linkType,
        vlans: r.linkType === 1 ? r.vlans : [],
        family,
        protocol,
        src: family === 4 ? r.src4 : r.src6,
        dst: family === 4 ? r.dst4 : r.dst6,
        sport: r.sport,
        dport: r.dport,
        v4options: r.v4optLen > 0 ? new Uint8Array(r.v4optLen).fill(1) : undefined, // NOPs
        fragOffset: family === 4 ? fragOffset : 0,
        moreFragments: family === 4 ? moreFragments : false,
        exts,
        payloadLen: r.payloadLen,
        nullBigEndian: r.nullBigEndian,
      } satisfies PacketSpec;
    });

export function buildFrame(s: PacketSpec): BuiltFrame {
  const payload = new Uint8Array(s.payloadLen).map((_, i) => (i * 7 + 3) & 255);
  const l4 = encodeL4({ protocol: s.protocol, sport: s.sport, dport: s.dport, payload }, s.family, s.src, s.dst);
  let ip: Uint8Array;
  // Which protocol the decoder must report, and whether ports are visible.
  let protocol = s.protocol;
  let nonFirst = s.fragOffset !== 0;
  if (s.family === 4) {
    ip = encodeIPv4({ src: s.src, dst: s.dst, protocol: s.protocol, payload: l4, options: s.v4options, fragmentOffset: s.fragOffset, moreFragments: s.moreFragments, id: 5 });
  } else {
    ip = encodeIPv6({ src: s.src, dst: s.dst, protocol: s.protocol, payload: l4, extensions: s.exts });
    const k = s.exts.findIndex((e) => e.type === 44 && (e.fragmentOffset ?? 0) !== 0);
    if (k >= 0) {
      nonFirst = true;
      protocol = s.exts[k + 1]?.type ?? s.protocol;
    }
  }
  const hasPorts = !nonFirst && (protocol === 6 || protocol === 17 || protocol === 132);
  const tuple: Tuple = { family: s.family, protocol, src: s.src, dst: s.dst, sport: hasPorts ? s.sport : 0, dport: hasPorts ? s.dport : 0, hasPorts };
  return { linkType: s.linkType, data: encapsulate(s, ip), tuple };
}

export function encapsulate(s: Pick<PacketSpec, 'linkType' | 'vlans' | 'family' | 'nullBigEndian'>, ip: Uint8Array): Uint8Array {
  const etype = s.family === 4 ? 0x0800 : 0x86dd;
  const withHead = (head: Uint8Array) => {
    const b = new Uint8Array(head.length + ip.length);
    b.set(head, 0);
    b.set(ip, head.length);
    return b;
  };
  switch (s.linkType) {
    case 1:
      return encodeEthernet({ vlans: s.vlans, etherType: etype }, ip);
    case 101:
    case 228:
    case 229:
      return ip;
    case 113: {
      const h = new Uint8Array(16);
      h[3] = 1; // ARPHRD_ETHER
      h[5] = 6;
      h.set([2, 0, 0, 0, 0, 9], 6);
      h[14] = etype >> 8;
      h[15] = etype & 255;
      return withHead(h);
    }
    case 276: {
      const h = new Uint8Array(20);
      h[0] = etype >> 8;
      h[1] = etype & 255;
      h[7] = 3; // if index
      h[9] = 1;
      h[11] = 6;
      return withHead(h);
    }
    case 0: {
      const af = s.family === 4 ? 2 : 30;
      const h = new Uint8Array(4);
      if (s.nullBigEndian) h[3] = af;
      else h[0] = af;
      return withHead(h);
    }
    default:
      throw new Error(`no encapsulation for link type ${s.linkType}`);
  }
}
