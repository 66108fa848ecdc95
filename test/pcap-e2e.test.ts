// End to end: a Cisco ACL plus a generated capture (non-contiguous wildcards, neq/lt/gt/range,
// VLAN tags, IPv4 options, fragments, IPv6 with extension headers), decoded by both header-walk
// engines and classified; every frame's result equals the linear oracle (firstMatch) on the
// tuple the frame was built from.
import fc from 'fast-check';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { main } from '../src/cli/main.js';
import type { Classifier } from '../src/classify/types.js';
import type { IPv6Extension } from '../src/packet/encode.js';
import { classifyCapture } from '../src/pcap/classify.js';
import { writePcap } from '../src/pcap/writer.js';
import { loadPolicy, parsePolicy } from '../src/policy/index.js';
import { parseTrace } from '../src/classify/trace.js';
import { encodeEthernet, encodeIPv4, encodeL4 } from '../src/packet/encode.js';
import { writePcapng } from '../src/pcap/pcapng-writer.js';
import { parseIPv4, parseIPv6 } from '../src/selector/address.js';
import { firstMatch } from '../src/selector/algebra.js';
import type { Policy, Tuple } from '../src/selector/types.js';
import { buildFrame, type PacketSpec } from './packet-gen.js';
import { CLASSBENCH, present } from './support/shared.js';

const ACL = `
ip access-list extended E2E-V4
 10 permit udp 10.1.0.0 0.0.255.255 host 192.0.2.1 eq 500
 20 deny tcp 10.0.0.0 0.255.0.255 any neq 80
 30 permit tcp any 172.16.0.0 0.0.15.255 lt 1024
 40 permit udp host 10.9.9.9 gt 1023 any range 5000 5100
 50 permit tcp 10.0.0.0 0.255.0.255 range 1000 2000 172.16.0.0 0.0.255.255 eq 80
 60 permit icmp any any
 70 permit esp any host 192.0.2.1
 80 deny ip 10.0.0.0 0.0.0.255 any
 90 permit ip any 198.51.100.0 0.0.0.255
!
ipv6 access-list E2E-V6
 permit udp 2001:db8:1::/48 any eq 500 sequence 10
 deny tcp any 2001:db8:2::/48 neq 443 sequence 20
 permit tcp 2001:db8::/32 gt 1023 2001:db8:2::/48 sequence 30
 permit icmp any any sequence 40
 permit ipv6 2001:db8:1::/48 any sequence 50
`;

const v4 = (s: string) => parseIPv4(s)!;
const v6 = (s: string) => parseIPv6(s)!;

const V4_ADDRS = ['10.1.2.3', '10.1.255.1', '10.7.3.9', '10.200.0.4', '10.0.0.7', '192.0.2.1', '10.9.9.9', '172.16.3.4', '172.16.200.1', '172.17.0.1', '198.51.100.9', '203.0.113.5', '10.2.9.1'].map(v4);
const V6_ADDRS = ['2001:db8:1::1', '2001:db8:1:ffff::2', '2001:db8:2::5', '2001:db8:3::9', '2001:db9::1', 'fe80::1'].map(v6);
const PORTS = [0, 79, 80, 81, 443, 500, 999, 1000, 1023, 1024, 1025, 2000, 2001, 4999, 5000, 5050, 5100, 5101, 65535];

const specArb = fc
  .record({
    family: fc.constantFrom<4 | 6>(4, 4, 6),
    src: fc.nat(),
    dst: fc.nat(),
    protocol: fc.constantFrom(6, 6, 17, 17, 1, 50, 47, 132),
    sport: fc.oneof(fc.constantFrom(...PORTS), fc.integer({ min: 0, max: 65535 })),
    dport: fc.oneof(fc.constantFrom(...PORTS), fc.integer({ min: 0, max: 65535 })),
    vlans: fc.array(fc.record({ id: fc.integer({ min: 1, max: 4094 }), tpid: fc.constantFrom(0x8100, 0x88a8) }), { maxLength: 2 }),
    v4optLen: fc.constantFrom(0, 0, 0, 4, 12, 40),
    frag: fc.constantFrom(0, 0, 0, 0, 1, 2),
    exts: fc.array(fc.constantFrom<IPv6Extension['type']>(0, 43, 60, 51), { maxLength: 3 }),
  })
  .map((r): PacketSpec => {
    const fam = r.family;
    const pool = fam === 4 ? V4_ADDRS : V6_ADDRS;
    const protocol = fam === 6 && r.protocol === 1 ? 58 : r.protocol;
    const fragOffset = r.frag === 2 ? 1480 : 0;
    const exts: IPv6Extension[] = fam === 6 ? r.exts.map((type) => ({ type })) : [];
    if (fam === 6 && r.frag !== 0) exts.push({ type: 44, fragmentOffset: fragOffset, moreFragments: r.frag === 1, id: 1 });
    return {
      linkType: 1,
      vlans: r.vlans,
      family: fam,
      protocol,
      src: pool[r.src % pool.length]!,
      dst: pool[r.dst % pool.length]!,
      sport: r.sport,
      dport: r.dport,
      v4options: fam === 4 && r.v4optLen > 0 ? new Uint8Array(r.v4optLen).fill(1) : undefined,
      fragOffset: fam === 4 ? fragOffset : 0,
      moreFragments: fam === 4 && r.frag === 1,
      exts,
      payloadLen: 6,
      nullBigEndian: false,
    };
  });

const dir = mkdtempSync(join(tmpdir(), 'ted-e2e-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const policies: Record<4 | 6, Policy> = {
  4: parsePolicy(ACL, { format: 'cisco', acl: 'E2E-V4' }),
  6: parsePolicy(ACL, { format: 'cisco', acl: 'E2E-V6' }),
};

// The classifier engines when they are built (the classifier issue); the oracle path otherwise.
type Compile = (p: Policy, o: { engine: 'wasm' | 'ts' | 'linear' }) => Classifier | Promise<Classifier>;
let compile: Compile | undefined;
try {
  compile = ((await import('../src/classify/index.js')) as { compile?: Compile }).compile;
} catch {
  compile = undefined;
}
if (!compile) console.warn('pcap e2e: src/classify/index.ts compile() not available yet: checking decode + oracle only');

describe('Cisco ACL + generated capture vs the linear oracle', () => {
  // Random frames, plus frames aimed at each entry (random ones rarely hit the narrow entries).
  const random = fc.sample(specArb, { numRuns: 3000, seed: 2024 });
  const aimed: Partial<PacketSpec>[] = [
    { family: 4, protocol: 17, src: v4('10.1.77.1'), dst: v4('192.0.2.1'), dport: 500 },
    { family: 4, protocol: 17, src: v4('10.9.9.9'), dst: v4('203.0.113.5'), sport: 1024, dport: 5000 },
    { family: 4, protocol: 17, src: v4('10.9.9.9'), dst: v4('203.0.113.5'), sport: 40000, dport: 5100 },
    { family: 4, protocol: 6, src: v4('10.44.0.1'), dst: v4('172.16.200.1'), sport: 1500, dport: 80 },
    { family: 4, protocol: 50, src: v4('203.0.113.5'), dst: v4('192.0.2.1') },
    { family: 6, protocol: 17, src: v6('2001:db8:1::7'), dst: v6('2001:db8:3::9'), dport: 500 },
    { family: 6, protocol: 6, src: v6('2001:db8:5::1'), dst: v6('2001:db8:2::9'), sport: 2000, dport: 443 },
  ];
  const specs = [...random];
  aimed.forEach((a, k) => {
    for (let j = 0; j < 6; j++) {
      const base = random[(k * 6 + j) * 7]!;
      // Keep the random encapsulation (VLANs, options, extension headers) but only of the right family.
      const sameFamily = random.find((r, i) => i >= (k * 6 + j) * 7 && r.family === a.family)!;
      specs.push({ ...sameFamily, ...a, fragOffset: 0, moreFragments: false, exts: sameFamily.exts.filter((e) => e.type !== 44), vlans: base.vlans });
    }
  });
  const built = specs.map(buildFrame);

  it('the generated capture covers what it should (wildcards, port operators, VLANs, options, fragments, IPv6)', () => {
    const hits = new Set<string>();
    for (const f of built) {
      const fam = f.tuple.family as 4 | 6;
      hits.add(`${fam}:${firstMatch(policies[fam].entries, f.tuple)}`);
    }
    for (const k of ['4:1', '4:2', '4:3', '4:4', '4:5', '4:6', '4:7', '4:8', '4:9', '4:0', '6:1', '6:2', '6:3', '6:4', '6:5', '6:0']) expect(hits, k).toContain(k);
    expect(specs.some((s) => s.vlans.length === 2)).toBe(true);
    expect(specs.some((s) => s.v4options && s.fragOffset > 0)).toBe(true);
  });

  for (const family of [4, 6] as const) {
    it(`IPv${family}: every frame's result equals firstMatch on the tuple it was built from`, async () => {
      const policy = policies[family];
      // Frames of the other family are in the capture too: they must get 0 from this policy.
      const path = join(dir, `e2e${family}.pcap`);
      writeFileSync(path, writePcap(built.map((f) => ({ data: f.data })), { linkType: 1 }));
      const expected = built.map((f) => (f.tuple.family === family ? firstMatch(policy.entries, f.tuple) : 0));
      const engines: { decode: 'wasm' | 'ts'; classifier?: Classifier }[] = [{ decode: 'wasm' }, { decode: 'ts' }];
      if (compile) for (const engine of ['wasm', 'ts', 'linear'] as const) for (const decode of ['wasm', 'ts'] as const) engines.push({ decode, classifier: await compile(policy, { engine }) });
      for (const { decode, classifier } of engines) {
        const got: number[] = [];
        for await (const b of classifyCapture(path, { engine: decode, classifier, batchSize: 257, chunkSize: 10000 })) {
          for (let i = 0; i < b.count; i++) {
            if (classifier) got.push(b.results![i]!);
            else {
              const t: Tuple | undefined = b.batch.get(i);
              got.push(t && t.family === family ? firstMatch(policy.entries, t) : 0);
            }
          }
        }
        expect(got.length).toBe(expected.length);
        const bad = got.map((g, i) => [i + 1, g, expected[i]]).filter(([, g, e]) => g !== e);
        expect(bad.slice(0, 5), `decode ${decode}, classifier ${classifier?.engine ?? 'oracle'}`).toEqual([]);
      }
      // And through the command line: ted classify --policy ACL --acl NAME --pcap FILE --out LINES.
      if (compile) {
        const aclPath = join(dir, 'e2e.acl');
        writeFileSync(aclPath, ACL);
        for (const engine of ['wasm', 'ts', 'linear']) {
          const outPath = join(dir, `e2e${family}-${engine}.txt`);
          const spy = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
          const code = await main(['classify', '--policy', aclPath, '--acl', `E2E-V${family}`, '--pcap', path, '--engine', engine, '--out', outPath]);
          spy.mockRestore();
          expect(code).toBe(0);
          const lines = readFileSync(outPath, 'utf8').trimEnd().split('\n').map(Number);
          expect(lines).toEqual(expected);
        }
      }
    });
  }
});

// Real rule sets: frames built from ClassBench trace tuples must classify to the trace's expected
// first match (its last column) through capture -> header walk -> classifier.
const classbench = CLASSBENCH;
const haveClassbench = present(join(classbench, 'acl1_1K_trace'), 'pcap e2e: skipping the ClassBench capture test');

describe.skipIf(!haveClassbench || !compile)('ClassBench traces as captures', () => {
  for (const set of ['acl1_1K', 'fw1_1K']) {
    it(`${set}: every frame gets the trace's expected ordinal (wasm and ts engines, pcap and pcapng)`, async () => {
      const policy = loadPolicy(join(classbench, set), { format: 'classbench' });
      const trace = parseTrace(readFileSync(join(classbench, `${set}_trace`), 'utf8'));
      const frames: Uint8Array[] = [];
      for (let i = 0; i < trace.batch.count; i++) {
        const t = trace.batch.get(i)!;
        const l4 = encodeL4({ protocol: t.protocol, sport: t.sport, dport: t.dport, payload: new Uint8Array(4) }, 4, t.src, t.dst);
        frames.push(encodeEthernet({ vlans: i % 3 === 0 ? [{ id: i % 4000 }] : [] }, encodeIPv4({ src: t.src, dst: t.dst, protocol: t.protocol, payload: l4, options: i % 5 === 0 ? new Uint8Array(8).fill(1) : undefined })));
      }
      const pcapPath = join(dir, `${set}.pcap`);
      writeFileSync(pcapPath, writePcap(frames.map((data) => ({ data })), { linkType: 1 }));
      const ngPath = join(dir, `${set}.pcapng`);
      writeFileSync(ngPath, writePcapng([{ interfaces: [{ linkType: 1 }], blocks: frames.map((data) => ({ data })) }]));
      // A protocol without ports carries none in the frame, whatever the trace line said: for those
      // the oracle answers (no port condition may match); the rest must equal the trace's column.
      const expected = Array.from(trace.expected, (e, i) => {
        const t = trace.batch.get(i)!;
        return hasPortsProto(t.protocol) ? e : firstMatch(policy.entries, { ...t, sport: 0, dport: 0, hasPorts: false });
      });
      expect(expected.every((e) => e >= 0)).toBe(true);
      for (const engine of ['wasm', 'ts'] as const) {
        const cls = await compile!(policy, { engine });
        for (const path of [pcapPath, ngPath]) {
          const got: number[] = [];
          for await (const b of classifyCapture(path, { engine, classifier: cls })) got.push(...b.results!.subarray(0, b.count));
          const bad = got.map((g, i) => [i + 1, g, expected[i]]).filter(([, g, e]) => g !== e);
          expect(got.length).toBe(expected.length);
          expect(bad.slice(0, 5), `${engine} ${path}`).toEqual([]);
        }
      }
    });
  }
});

function hasPortsProto(p: number): boolean {
  return p === 6 || p === 17 || p === 132;
}
