// The reassemblers against brute-force references: IP fragments (any cut, order, duplicates and
// losses: the datagram comes back byte for byte exactly when every byte arrived), overlaps
// refused, every bound enforced; TCP streams (any segmentation, reordering within the window,
// retransmissions: the bytes come back in order, once); the IKE TCP framer on any chunking.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { IkeTcpFramer, IKETCP_PREFIX } from '../src/ike/tcp-framing.js';
import { LinkType, walkFrame, WalkState } from '../src/packet/decode.js';
import { encodeIPv4, encodeIPv6, encodeL4 } from '../src/packet/encode.js';
import { IpReassembler, type Abandoned, type ReassemblyLimits } from '../src/packet/reassembly.js';
import { defragmentFrames } from '../src/pcap/defragment.js';
import { TcpReassembler } from '../src/packet/tcp-stream.js';

const SRC = { 4: 0x0a000001n, 6: 0x20010db8000000000000000000000001n } as const;
const DST = { 4: 0x0a000002n, 6: 0x20010db8000000000000000000000002n } as const;

/** Raw IP fragments of `l4` (protocol 17) cut at `cuts` (multiples of 8). */
function fragment(family: 4 | 6, l4: Uint8Array, cuts: number[], id: number): { packet: Uint8Array; offset: number; length: number }[] {
  const points = [0, ...cuts.filter((c) => c > 0 && c < l4.length), l4.length];
  const out = [];
  for (let i = 0; i + 1 < points.length; i++) {
    const offset = points[i]!;
    const part = l4.subarray(offset, points[i + 1]!);
    const more = i + 2 < points.length;
    const packet =
      family === 4
        ? encodeIPv4({ src: SRC[4], dst: DST[4], protocol: 17, payload: part, id, fragmentOffset: offset, moreFragments: more })
        : encodeIPv6({ src: SRC[6], dst: DST[6], protocol: 17, payload: part, extensions: [{ type: 44, id, fragmentOffset: offset, moreFragments: more }] });
    out.push({ packet, offset, length: part.length });
  }
  return out;
}

function feed(r: IpReassembler, packet: Uint8Array, time: number, frame: number): ReturnType<IpReassembler['add']> {
  const s = new WalkState();
  walkFrame(LinkType.RAW, packet, 0, packet.length, s);
  expect(s.isFragment).toBe(true);
  return r.add(packet, s, time, frame);
}

/** The fragmentable part of a reassembled packet. */
function l4Of(packet: Uint8Array): Uint8Array {
  const s = new WalkState();
  expect(walkFrame(LinkType.RAW, packet, 0, packet.length, s)).toBe(0);
  expect(s.isFragment).toBe(false);
  return packet.subarray(s.l4, s.ipEnd);
}

const datagramArb = fc.record({
  family: fc.constantFrom(4 as const, 6 as const),
  payload: fc.uint8Array({ minLength: 1, maxLength: 5000 }),
  cuts: fc.array(fc.integer({ min: 1, max: 700 }).map((x) => x * 8), { maxLength: 12 }),
  order: fc.array(fc.nat(), { maxLength: 40 }),
  dups: fc.array(fc.nat(), { maxLength: 4 }),
  drop: fc.option(fc.nat(), { nil: undefined, freq: 3 }),
});

describe('IP reassembly against the reference (complete exactly when every byte arrived)', () => {
  it('any cut, order, duplicates and losses', () => {
    fc.assert(
      fc.property(datagramArb, ({ family, payload, cuts, order, dups, drop }) => {
        const l4 = encodeL4({ protocol: 17, sport: 500, dport: 500, payload }, family, SRC[family], DST[family]);
        // At least two fragments (one cut at 8 bytes always lies inside the datagram).
        const frags = fragment(family, l4, [...new Set([8, ...cuts])].sort((a, b) => a - b), 0x77);
        // Arrival order: a permutation from `order`, duplicates appended, maybe one dropped.
        const idx = frags.map((_, i) => i);
        order.forEach((o, i) => {
          const j = o % idx.length;
          const k = i % idx.length;
          [idx[j], idx[k]] = [idx[k]!, idx[j]!];
        });
        for (const d of dups) idx.splice(d % (idx.length + 1), 0, idx[d % idx.length]!);
        const dropped = drop === undefined || frags.length === 1 ? undefined : drop % frags.length;
        const arrivals = idx.filter((i) => i !== dropped);
        const abandoned: Abandoned[] = [];
        const r = new IpReassembler({}, (a) => abandoned.push(a));
        const done = arrivals.map((i, n) => feed(r, frags[i]!.packet, n * 0.001, n + 1)).filter((x) => x !== undefined);
        r.flush();
        if (dropped === undefined) {
          expect(done).toHaveLength(1);
          expect(l4Of(done[0]!.packet)).toEqual(l4);
          expect(done[0]!.frames).toHaveLength(frags.length);
          expect(abandoned).toHaveLength(0);
          // Duplicates before and after completion are counted, not reassembled again.
          expect(r.counters.duplicates).toBe(arrivals.length - frags.length);
        } else {
          expect(done).toHaveLength(0);
          expect(abandoned).toHaveLength(1);
          expect(abandoned[0]).toMatchObject({ reason: 'incomplete', code: 'PKT_FRAG_INCOMPLETE', offset: frags[dropped]!.offset });
        }
        expect(r.held).toEqual({ datagrams: 0, bytes: 0 });
      }),
      { numRuns: 300 },
    );
  });

  it('a fragment overlapping another (not an exact repeat) abandons the datagram; its later fragments are dropped', () => {
    fc.assert(
      fc.property(fc.constantFrom(4 as const, 6 as const), fc.integer({ min: 2, max: 60 }), fc.integer({ min: 1, max: 59 }), fc.integer({ min: 1, max: 20 }), (family, n8, at8, len8) => {
        const l4 = encodeL4({ protocol: 17, sport: 500, dport: 500, payload: new Uint8Array(n8 * 8 * 4) }, family, SRC[family], DST[family]);
        const frags = fragment(family, l4, [n8 * 8, n8 * 16, n8 * 24], 5);
        const at = (at8 * 8) % (n8 * 8 * 2);
        // [at, at + len) overlaps fragment 0 or 1 without being either exactly.
        const junk = new Uint8Array(Math.max(8, len8 * 8)).fill(0xee);
        if ((at === 0 && junk.length === n8 * 8) || (at === n8 * 8 && junk.length === n8 * 8)) return;
        const abandoned: Abandoned[] = [];
        const r = new IpReassembler({}, (a) => abandoned.push(a));
        expect(feed(r, frags[0]!.packet, 0, 1)).toBeUndefined();
        expect(feed(r, frags[1]!.packet, 0, 2)).toBeUndefined();
        const bp = family === 4 ? encodeIPv4({ src: SRC[4], dst: DST[4], protocol: 17, payload: junk, id: 5, fragmentOffset: at, moreFragments: true }) : encodeIPv6({ src: SRC[6], dst: DST[6], protocol: 17, payload: junk, extensions: [{ type: 44, id: 5, fragmentOffset: at, moreFragments: true }] });
        expect(feed(r, bp, 0, 3)).toBeUndefined();
        expect(abandoned.map((a) => a.reason)).toEqual(['overlap']);
        for (const f of frags.slice(2)) expect(feed(r, f.packet, 0, 4)).toBeUndefined();
        expect(r.counters.late).toBe(frags.length - 2);
        expect(r.held.bytes).toBe(0);
      }),
      { numRuns: 200 },
    );
  });
});

describe('IP reassembly bounds', () => {
  const l4 = (n: number, family: 4 | 6 = 4): Uint8Array => encodeL4({ protocol: 17, sport: 500, dport: 500, payload: new Uint8Array(n) }, family, SRC[family], DST[family]);
  const run = (limits: Partial<ReassemblyLimits>, packets: { packet: Uint8Array; time?: number }[]): { r: IpReassembler; abandoned: Abandoned[]; done: number } => {
    const abandoned: Abandoned[] = [];
    const r = new IpReassembler(limits, (a) => abandoned.push(a));
    let done = 0;
    packets.forEach((p, i) => {
      if (feed(r, p.packet, p.time ?? 0, i + 1)) done++;
      expect(r.held.bytes).toBeLessThanOrEqual(limits.maxTotalBytes ?? Infinity);
      expect(r.held.datagrams).toBeLessThanOrEqual(limits.maxDatagrams ?? Infinity);
    });
    return { r, abandoned, done };
  };

  it('fragments per datagram', () => {
    const frags = fragment(4, l4(400), Array.from({ length: 20 }, (_, i) => (i + 1) * 16), 1);
    const { abandoned, done } = run({ maxFragments: 8 }, frags);
    expect(done).toBe(0);
    expect(abandoned.map((a) => a.code)).toEqual(['PKT_FRAG_TOO_MANY']);
  });

  it('bytes per datagram (no datagram past the IP maximum, ping of death)', () => {
    const p = encodeIPv4({ src: SRC[4], dst: DST[4], protocol: 17, payload: new Uint8Array(1000), id: 2, fragmentOffset: 65528 - 8 * 16, moreFragments: false });
    const { abandoned } = run({}, [{ packet: p }]);
    expect(abandoned.map((a) => a.code)).toEqual(['PKT_FRAG_TOO_LARGE']);
    const small = run({ maxDatagramBytes: 1000 }, fragment(6, l4(3000, 6), [800], 3));
    expect(small.abandoned.map((a) => a.code)).toEqual(['PKT_FRAG_TOO_LARGE']);
  });

  it('bytes in total and datagrams at once: the oldest go first', () => {
    const many = Array.from({ length: 40 }, (_, id) => fragment(4, l4(1000), [512], id)[0]!);
    const mem = run({ maxTotalBytes: 8 * 1024 }, many);
    expect(mem.r.counters.memory).toBeGreaterThan(0);
    expect(mem.abandoned[0]!.frames).toEqual([1]);
    const count = run({ maxDatagrams: 10 }, many);
    expect(count.r.counters.memory).toBe(30);
    expect(count.r.held.datagrams).toBe(10);
  });

  it('capture time: a datagram older than the timeout is abandoned when a later fragment arrives', () => {
    const a = fragment(4, l4(1000), [512], 1);
    const b = fragment(4, l4(1000), [512], 2);
    const { abandoned, done } = run({ timeoutSec: 30 }, [{ packet: a[0]!.packet, time: 0 }, { packet: b[0]!.packet, time: 31 }, { packet: a[1]!.packet, time: 32 }, { packet: b[1]!.packet, time: 33 }]);
    expect(abandoned.map((x) => [x.code, x.frames])).toEqual([['PKT_FRAG_TIMEOUT', [1]]]);
    // a's second half starts a new datagram that never completes; b completes.
    expect(done).toBe(1);
  });

  it('a non-last fragment whose length is not a multiple of 8 is refused', () => {
    const p = encodeIPv4({ src: SRC[4], dst: DST[4], protocol: 17, payload: new Uint8Array(13), id: 9, fragmentOffset: 0, moreFragments: true });
    expect(run({}, [{ packet: p }]).abandoned.map((a) => a.code)).toEqual(['PKT_FRAG_BAD']);
  });
});

describe('TCP stream reassembly against the reference (the bytes in order, once)', () => {
  const seg = (family: 4 | 6, seq: number, flags: number, payload: Uint8Array): Uint8Array => {
    const l4 = encodeL4({ protocol: 6, sport: 40000, dport: 500, seq, tcpFlags: flags, payload }, family, SRC[family], DST[family]);
    return family === 4 ? encodeIPv4({ src: SRC[4], dst: DST[4], protocol: 6, payload: l4 }) : encodeIPv6({ src: SRC[6], dst: DST[6], protocol: 6, payload: l4 });
  };
  it('any segmentation, reordering within the window and retransmission', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(4 as const, 6 as const),
        fc.uint8Array({ minLength: 1, maxLength: 3000 }),
        fc.array(fc.integer({ min: 1, max: 2999 }), { maxLength: 30 }),
        fc.array(fc.nat(), { maxLength: 30 }),
        fc.integer({ min: 0, max: 0xffffffff }),
        (family, stream, cuts, swaps, isn) => {
          const points = [0, ...[...new Set(cuts)].filter((c) => c < stream.length).sort((a, b) => a - b), stream.length];
          const segs = points.slice(0, -1).map((p, i) => seg(family, (isn + 1 + p) >>> 0, 0x18, stream.subarray(p, points[i + 1]!)));
          // Neighbours swapped, and every swap also retransmits the earlier segment.
          const order = segs.map((_, i) => i);
          const arrivals: number[] = [];
          for (const s of swaps) {
            const i = s % order.length;
            if (i + 1 < order.length) [order[i], order[i + 1]] = [order[i + 1]!, order[i]!];
          }
          for (const i of order) arrivals.push(i);
          for (const s of swaps.slice(0, 3)) arrivals.push(s % segs.length);
          const got: number[] = [];
          const t = new TcpReassembler<null>({ data: (_d, b) => got.push(...b) });
          const s = new WalkState();
          const push = (p: Uint8Array, i: number): void => {
            walkFrame(LinkType.RAW, p, 0, p.length, s);
            t.push(p, s, i * 0.001, i + 1);
          };
          push(seg(family, isn, 0x02, new Uint8Array(0)), 0);
          arrivals.forEach((i, n) => push(segs[i]!, n + 1));
          expect(Uint8Array.from(got)).toEqual(stream);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('a gap larger than the window loses the direction; nothing after it is delivered', () => {
    const lost: string[] = [];
    let got = 0;
    const t = new TcpReassembler<null>({ data: (_d, b) => (got += b.length), lost: (_d, why) => lost.push(why) }, { maxHeldBytes: 1000 });
    const s = new WalkState();
    for (const [seq, n] of [[0, 100], [2000, 100], [100, 100]] as const) {
      const p = seg(4, seq, 0x18, new Uint8Array(n));
      walkFrame(LinkType.RAW, p, 0, p.length, s);
      t.push(p, s, 0, 1);
    }
    expect(got).toBe(100);
    expect(lost).toEqual(['gap']);
    expect(t.counters.gap).toBe(1);
  });
});

describe('IKE TCP framing on any chunking', () => {
  const msg = (n: number, seed: number): Uint8Array => {
    const b = Uint8Array.from({ length: 28 + n }, (_, i) => (i * 13 + seed) & 255);
    b[24] = 0;
    b[25] = 0;
    b[26] = b.length >> 8;
    b[27] = b.length & 255;
    return b;
  };
  it('ISAKMP (length in the header) and RFC 8229 (prefix, 2-byte length, marker, ESP skipped)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 300 }), { minLength: 1, maxLength: 6 }), fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 20 }), (sizes, chunks) => {
        const msgs = sizes.map((n, i) => msg(n, i));
        for (const mode of ['isakmp', 'rfc8229'] as const) {
          const parts: Uint8Array[] = mode === 'isakmp' ? msgs : [IKETCP_PREFIX];
          if (mode === 'rfc8229') {
            for (const m of msgs) {
              const rec = new Uint8Array(6 + m.length);
              rec[0] = rec.length >> 8;
              rec[1] = rec.length & 255;
              rec.set(m, 6);
              parts.push(rec, Uint8Array.from([0, 8, 1, 2, 3, 4, 5, 6])); // and an ESP record
            }
          }
          const stream = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
          let o = 0;
          for (const p of parts) {
            stream.set(p, o);
            o += p.length;
          }
          const f = new IkeTcpFramer(mode);
          const out: Uint8Array[] = [];
          let at = 0;
          let k = 0;
          while (at < stream.length) {
            const n = chunks[k++ % chunks.length]!;
            f.push(stream.subarray(at, at + n), k, (m) => out.push(m.bytes));
            at += n;
          }
          expect(out).toEqual(msgs);
          expect(f.pending).toBe(0);
          if (mode === 'rfc8229') expect(f.esp).toBe(msgs.length);
        }
      }),
      { numRuns: 200 },
    );
  });
});

describe('defragmentFrames (capture reading with whole payloads)', () => {
  it('passes other frames through and replaces the completing frame by the datagram', async () => {
    const l4 = encodeL4({ protocol: 17, sport: 500, dport: 500, payload: new Uint8Array(2000).fill(7) }, 6, SRC[6], DST[6]);
    const frags = fragment(6, l4, [1024], 3).map((f) => f.packet);
    const other = encodeIPv4({ src: SRC[4], dst: DST[4], protocol: 17, payload: encodeL4({ protocol: 17, sport: 53, dport: 53, payload: new Uint8Array(4) }, 4, SRC[4], DST[4]) });
    const frames = [frags[1]!, other, frags[0]!].map((data, i) => ({ index: i + 1, linkType: LinkType.RAW, timestamp: i, data }));
    const out = [];
    for await (const f of defragmentFrames(frames)) out.push(f);
    expect(out.map((f) => [f.index, f.fragments])).toEqual([[2, undefined], [3, [3, 1]]]);
    expect(out[0]!.data).toBe(other);
    expect(l4Of(out[1]!.data)).toEqual(l4);
  });
});
