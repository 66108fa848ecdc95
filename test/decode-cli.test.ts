// `ted decode`: the JSON line format exactly as specified, frame numbering, UDP 500 / 4500 with
// the non-ESP marker / --port selection, TED details, bad messages reported and skipped, usage
// errors. Runs main() in-process; one end-to-end run of dist/ when it is built.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { ByteSink, tedJsonText, writeJsonLine } from '../src/cli/decode-output.js';
import { lineJson } from '../src/cli/json.js';
import { decodeMessagePartial } from '../src/ike/message.js';
import { selectorJson } from '../src/selector/format.js';
import { bits, familyArb, selectorArb } from './algebra-arbitraries.js';
import { formatAddress, formatIPv4 } from '../src/selector/address.js';
import { probeToBytes, responseToBytes } from '../src/ike/ted.js';
import type { TedProbe, TedResponse } from '../src/ike/ted-types.js';
import type { Family } from '../src/selector/types.js';
import { encodeEthernet, encodeUdpPacket } from '../src/packet/encode.js';
import { writePcap } from '../src/pcap/writer.js';
import { writePcapng } from '../src/pcap/pcapng-writer.js';
import { DIST_CLI, runCli } from './support/cli.js';
import { CAPTURES, present } from './support/shared.js';
import { SAMPLE_PROBE } from './support/ted-fixtures.js';

const run = runCli;

const KEYS = ['frame', 'src', 'dst', 'sport', 'dport', 'icookie', 'rcookie', 'version', 'exchange', 'flags', 'msgid', 'length', 'encrypted', 'payloads', 'ted'];
const SHARED = present(CAPTURES, 'decode-cli: skipping the shared-capture runs');

const tmp = mkdtempSync(join(tmpdir(), 'ted-decode-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const probe: TedProbe = SAMPLE_PROBE;
const response: TedResponse = {
  icookie: 0xfafaeb49382a763cn,
  rcookie: 0x1122334455667788n,
  capabilities: 3,
  id: { family: 6, address: 0x20010db8000000000000000000000002n },
  proxy: { family: 6, protocol: 0, src: { value: 0x20010db8n << 96n, care: 0xffffffffn << 96n }, dst: { value: 0n, care: 0n }, sport: [{ lo: 0, hi: 65535 }], dport: [{ lo: 0, hi: 65535 }] },
};

function udp(family: 4 | 6, sport: number, dport: number, payload: Uint8Array): Uint8Array {
  const src = family === 4 ? 0x0a0b0001n : 0x20010db8000000000000000000000001n;
  const dst = family === 4 ? 0x0a000001n : 0x20010db8000000000000000000000002n;
  return encodeEthernet({}, encodeUdpPacket({ family, src, dst, sport, dport, payload }));
}
const marker = (m: Uint8Array): Uint8Array => {
  const b = new Uint8Array(m.length + 4);
  b.set(m, 4);
  return b;
};

function tedCapture(): string {
  const p = probeToBytes(probe);
  const bad = p.slice();
  bad[23] = 1; // message ID 1: decodes, fails verification
  const frames = [
    udp(4, 500, 500, p), // 1
    udp(6, 500, 500, responseToBytes(response)), // 2
    udp(4, 4500, 4500, marker(p)), // 3: IKE behind the non-ESP marker
    udp(4, 4500, 4500, Uint8Array.from([0, 0, 0x10, 1, 0, 0, 0, 1, 9, 9, 9, 9])), // 4: ESP (SPI 0x1001): skipped
    udp(4, 4500, 4500, Uint8Array.from([0xff])), // 5: NAT keepalive: skipped
    udp(4, 7000, 7000, p), // 6: only with --port 7000
    udp(4, 53, 53, Uint8Array.from([1, 2, 3])), // 7: not IKE
    udp(4, 500, 500, bad), // 8: TED verification error
    udp(4, 500, 500, p.subarray(0, 50)), // 9: truncated message
  ];
  const file = join(tmp, 'ted.pcap');
  writeFileSync(file, writePcap(frames.map((data, i) => ({ data, timestamp: 1700000000 + i }))));
  return file;
}

describe('ted decode --json', () => {
  const file = tedCapture();
  it('prints one line per ISAKMP message, in the documented shape and spacing', async () => {
    const r = await run(['decode', file, '--json']);
    expect(r.code).toBe(0);
    const lines = r.out.trim().split('\n');
    expect(lines.map((l) => JSON.parse(l).frame)).toEqual([1, 2, 3, 8, 9]);
    expect(lines[0]).toMatch(/^\{"frame": 1, "src": "10\.11\.0\.1", "dst": "10\.0\.0\.1", "sport": 500, "dport": 500, "icookie": "fafaeb49382a763c", "rcookie": "0000000000000000", "version": "1\.0", "exchange": 240, "flags": 0, "msgid": 0, "length": 136, "encrypted": false, "payloads": \[\{"type": 13, "length": 24\}, \{"type": 5, "length": 12\}, \{"type": 128, "length": 36\}, \{"type": 129, "length": 36\}\], "ted": \{/);
    const j = lines.map((l) => JSON.parse(l));
    expect(Object.keys(j[0])).toEqual(KEYS);
    expect(j[0].ted).toEqual({
      kind: 'probe',
      capabilities: 7,
      id: '192.0.2.1',
      summary: { tedVersion: 3, family: 4, protocol: 6, src: '10.11.0.1', dst: '10.0.0.1', sport: 1234, dport: 80 },
      // The one selector shape of every command's JSON (src/selector/format.ts selectorJson).
      proxy: { protocol: 6, source: { value: '10.11.0.0', wildcard: '0.0.255.255' }, destination: { value: '0.0.0.0', wildcard: '255.255.255.255' }, sport: [0, 65535], dport: [[0, 79], [81, 65535]], entry: 'permit tcp 10.11.0.0 0.0.255.255 any neq 80' },
    });
    expect(j[1]).toMatchObject({ src: '2001:db8::1', dst: '2001:db8::2', exchange: 241, rcookie: '1122334455667788' });
    expect(j[1].ted).toEqual({
      kind: 'response',
      capabilities: 3,
      id: '2001:db8::2',
      proxy: { protocol: 0, source: { prefix: '2001:db8::/32' }, destination: { prefix: '::/0' }, sport: [0, 65535], dport: [0, 65535], entry: 'permit ipv6 2001:db8::/32 any' },
    });
    expect(j[2]).toMatchObject({ frame: 3, sport: 4500, dport: 4500, exchange: 240 });
    expect(j[3].ted).toEqual({ error: { code: 'IKE_TED_BAD_MSGID', offset: 20 } });
    // A message cut short: its header and the payloads that fit, then the error.
    expect(lines[4]).toBe('{"frame": 9, "src": "10.11.0.1", "dst": "10.0.0.1", "sport": 500, "dport": 500, "icookie": "fafaeb49382a763c", "rcookie": "0000000000000000", "version": "1.0", "exchange": 240, "flags": 0, "msgid": 0, "length": 136, "encrypted": false, "payloads": [], "ted": null, "error": {"code": "IKE_TRUNCATED", "offset": 0}}');
  });
  it('pcapng with raw-IP and Ethernet interfaces gives the same messages', async () => {
    const p = probeToBytes(probe);
    const rawIp = encodeUdpPacket({ family: 6, src: 1n, dst: 2n, sport: 500, dport: 500, payload: responseToBytes(response) });
    const ng = join(tmp, 'ted.pcapng');
    writeFileSync(ng, writePcapng([{ interfaces: [{ linkType: 1 }, { linkType: 101 }], blocks: [{ data: udp(4, 500, 500, p) }, { interfaceId: 1, data: rawIp }] }]));
    const r = await run(['decode', ng, '--json']);
    const j = r.out.trim().split('\n').map((l) => JSON.parse(l));
    expect(j.map((x) => [x.frame, x.exchange, x.src])).toEqual([[1, 240, '10.11.0.1'], [2, 241, '::1']]);
    expect(j[1].ted.kind).toBe('response');
  });
  it('--port adds a port', async () => {
    const r = await run(['decode', file, '--json', '--port', '7000']);
    expect(r.out.trim().split('\n').map((l) => JSON.parse(l).frame)).toEqual([1, 2, 3, 6, 8, 9]);
  });
  it('text output names exchanges and payloads and reports errors with offsets', async () => {
    const r = await run(['decode', file]);
    expect(r.code).toBe(0);
    expect(r.out).toContain('frame 1  10.11.0.1:500 -> 10.0.0.1:500  IKEv1 TED Probe (240)');
    expect(r.out).toContain('#2 TED Proxy (128) length 36');
    expect(r.out).toContain('ted: invalid: IKE_TED_BAD_MSGID at offset 20');
    expect(r.out).toContain('frame 9  10.11.0.1:500 -> 10.0.0.1:500  IKEv1 TED Probe (240)');
    expect(r.out).toContain('  error IKE_TRUNCATED at offset 0: message of 136 bytes: need 136 bytes, 50 left');
    // Proxies in the notation of the rest of the CLI (Cisco entries), not netmasks.
    expect(r.out).toContain('  proxy: permit tcp 10.11.0.0 0.0.255.255 any neq 80');
    expect(r.out).toContain('  packet: tcp 10.11.0.1 -> 10.0.0.1 ports 1234 -> 80');
    expect(r.out).toContain('frame 2  [2001:db8::1]:500 -> [2001:db8::2]:500  IKEv1 TED Response (241)');
  });
  it('usage and file errors exit 2 with one line on stderr', async () => {
    const missing = await run(['decode', join(tmp, 'nope.pcap')]);
    expect(missing.code).toBe(2);
    expect(missing.err.trim().split('\n')).toHaveLength(1);
    const badPort = await run(['decode', file, '--port', 'abc']);
    expect(badPort.code).toBe(2);
    expect(badPort.err).toContain('TED_INPUT_BAD_PORT');
    const notPcap = join(tmp, 'x.txt');
    writeFileSync(notPcap, 'hello world, not a capture');
    expect((await run(['decode', notPcap])).code).toBe(2);
  });
});

describe.skipIf(!SHARED)('ted decode on the shared captures', () => {
  it('main mode: 9 messages, encrypted ones with empty payloads', async () => {
    const r = await run(['decode', join(CAPTURES, 'ipsec-ikev1-isakmp-main-mode.pcap'), '--json']);
    const j = r.out.trim().split('\n').map((l) => JSON.parse(l));
    expect(j.map((x) => x.frame)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(j[0].payloads).toEqual([{ type: 1, length: 60 }, { type: 13, length: 20 }, { type: 13, length: 20 }, { type: 13, length: 20 }, { type: 13, length: 20 }]);
    expect(j[4]).toMatchObject({ flags: 1, encrypted: true, payloads: [] });
    for (const x of j) expect(Object.keys(x)).toEqual(KEYS);
  });
  it('the broken captures: error code and offset, exit 0', async () => {
    const bad = await run(['decode', join(CAPTURES, 'ipsec-ikev1-payload-bad-length.pcap'), '--json']);
    expect(bad.code).toBe(0);
    // The header and the payload before the lying length, as tshark shows them, then the error.
    expect(bad.out).toBe('{"frame": 1, "src": "192.168.12.1", "dst": "192.168.12.2", "sport": 500, "dport": 500, "icookie": "e47a591fd057587f", "rcookie": "0000000000000000", "version": "1.0", "exchange": 2, "flags": 0, "msgid": 0, "length": 168, "encrypted": false, "payloads": [{"type": 1, "length": 60}], "ted": null, "error": {"code": "IKE_BAD_PAYLOAD_LENGTH", "offset": 90}}\n');
    const zero = await run(['decode', join(CAPTURES, 'ipsec-ikev1-zero-length.pcap'), '--json']);
    expect(zero.out).toContain('"error": {"code": "IKE_BAD_LENGTH", "offset": 24}');
  });
});

const BUILT = existsSync(DIST_CLI) && existsSync(new URL('../dist/cli/commands/decode.js', import.meta.url).pathname);
if (!BUILT) console.warn('decode-cli: dist/ not built with the decode command; skipping the end-to-end run (npm test builds it)');
describe.skipIf(!BUILT)('end to end', () => {
  it('node dist/cli/main.js decode --json', () => {
    const out = execFileSync('node', [DIST_CLI, 'decode', tedCapture(), '--json'], { encoding: 'utf8' });
    expect(out.trim().split('\n')).toHaveLength(5);
  });
  it('a reader that goes away (| head) ends the run quietly with exit 0', () => {
    const frame = udp(4, 500, 500, probeToBytes(probe));
    const file = join(tmp, 'many.pcap');
    writeFileSync(file, writePcap(Array.from({ length: 20000 }, (_, i) => ({ data: frame, timestamp: 1700000000 + i }))));
    const r = spawnSync('bash', ['-c', `set -o pipefail; node ${JSON.stringify(DIST_CLI)} decode ${JSON.stringify(file)} | head -c 100 >/dev/null`], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});

describe('decode JSON selectors', () => {
  it('a TED response proxy is written in exactly the shape of selectorJson (through lineJson), for any selector', () => {
    fc.assert(
      fc.property(familyArb.chain((f) => selectorArb(f)), (proxy) => {
        const bytes = responseToBytes({ ...response, id: { family: proxy.family, address: 1n }, proxy });
        const m = decodeMessagePartial(bytes);
        expect(tedJsonText(m)).toContain(`"proxy": ${lineJson(selectorJson(proxy))}}`);
        expect(JSON.parse(tedJsonText(m)).proxy).toEqual(JSON.parse(lineJson(selectorJson(proxy))));
      }),
      { numRuns: 300 },
    );
  });
});

describe('decode JSON writers', () => {
  const written = (f: (o: ByteSink) => void): string => {
    const o = new ByteSink(8);
    f(o);
    return Buffer.from(o.take()).toString('utf8');
  };

  it('numbers as String() writes them, across every digit count and the int32 edge', () => {
    const edges = [0, 9, 10, 99, 100, 999, 1000, 65535, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, Number.MAX_SAFE_INTEGER];
    for (let d = 1; d < 16; d++) edges.push(10 ** d - 1, 10 ** d, 10 ** d + 1);
    for (const v of edges) expect(written((o) => o.num(v))).toBe(String(v));
    fc.assert(fc.property(fc.oneof(fc.nat(), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER })), (v) => written((o) => o.num(v)) === String(v)));
  });

  it('IPv4 addresses as formatIPv4, strings as JSON.stringify (escapes, non-ASCII)', () => {
    fc.assert(fc.property(bits(4), (v) => written((o) => o.ipv4(Number(v))) === formatIPv4(v)));
    fc.assert(fc.property(fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.constantFrom('permit ip any any\npermit tcp any any', 'a"b', 'a\\b', '\u0000\u001f\u007f')), (s) => written((o) => o.jsonString(s)) === JSON.stringify(s)));
  });

  const identity = familyArb.chain((f) => bits(f).map((address) => ({ family: f, address })));
  const summaryArb = (f: Family) =>
    fc.record({ tedVersion: fc.constant(3), family: fc.constant(f), protocol: fc.integer({ min: 0, max: 255 }), src: bits(f), dst: bits(f), sport: fc.integer({ min: 0, max: 65535 }), dport: fc.integer({ min: 0, max: 65535 }) });
  const probeArb = familyArb.chain((f) => fc.record({ capabilities: fc.integer({ min: 0, max: 0xffffffff }), id: identity, summary: summaryArb(f), proxy: fc.option(selectorArb(f), { nil: undefined }) }));

  it('the `ted` value of a probe and of a response, field for field, against objects printed by lineJson', () => {
    fc.assert(
      fc.property(probeArb, (p) => {
        const m = decodeMessagePartial(probeToBytes({ icookie: probe.icookie, capabilities: p.capabilities, id: p.id, summary: p.summary, ...(p.proxy ? { proxy: p.proxy } : {}) }));
        const s = p.summary;
        const want = {
          kind: 'probe',
          capabilities: p.capabilities,
          id: formatAddress(p.id.family, p.id.address),
          summary: { tedVersion: s.tedVersion, family: s.family, protocol: s.protocol, src: formatAddress(s.family, s.src), dst: formatAddress(s.family, s.dst), sport: s.sport, dport: s.dport },
          proxy: p.proxy ? selectorJson(p.proxy) : undefined,
        };
        expect(tedJsonText(m)).toBe(lineJson(want));
      }),
      { numRuns: 300 },
    );
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), identity, familyArb.chain((f) => selectorArb(f)), (capabilities, id, proxy) => {
        const m = decodeMessagePartial(responseToBytes({ ...response, capabilities, id, proxy }));
        expect(tedJsonText(m)).toBe(lineJson({ kind: 'response', capabilities, id: formatAddress(id.family, id.address), proxy: selectorJson(proxy) }));
      }),
      { numRuns: 300 },
    );
  });

  it('a proxy seen lately is written from its bytes: the same text as formatting it, for runs drawn from a few proxies', () => {
    // Random proxies, and proxies that differ from one another only in their first bytes (the
    // protocol) or only in their last (the destination port).
    const pool = fc
      .tuple(fc.array(familyArb.chain((f) => selectorArb(f)), { minLength: 1, maxLength: 8 }), fc.uniqueArray(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 3 }), fc.uniqueArray(fc.integer({ min: 0, max: 65535 }), { minLength: 1, maxLength: 3 }))
      .map(([sels, protocols, ports]) => [...sels, ...protocols.map((protocol) => ({ ...sels[0]!, protocol })), ...ports.map((p) => ({ ...sels[0]!, dport: [{ lo: p, hi: p }] }))]);
    fc.assert(
      fc.property(pool, fc.array(fc.tuple(fc.nat(), fc.boolean()), { minLength: 1, maxLength: 40 }), (proxies, picks) => {
        const sink = new ByteSink(64);
        for (const [k, isProbe] of picks) {
          const proxy = proxies[k % proxies.length]!;
          const msg = isProbe
            ? probeToBytes({ icookie: probe.icookie, capabilities: 7, id: probe.id, summary: { ...probe.summary, family: proxy.family, src: 1n, dst: 2n }, proxy })
            : responseToBytes({ ...response, proxy });
          // At an offset in a larger buffer, as a TCP or reassembled message may be.
          const buf = new Uint8Array(msg.length + 9);
          buf.set(msg, 9);
          const m = decodeMessagePartial(buf, 9, buf.length);
          writeJsonLine({ frame: 1, family: 4, src: '192.0.2.1', dst: '192.0.2.2', sport: 500, dport: 500, transport: 'udp', bytes: buf.subarray(9), message: m }, sink);
          const line = Buffer.from(sink.take()).toString('latin1');
          expect(line.endsWith(`"ted": ${tedJsonText(m)}}\n`)).toBe(true);
          expect(tedJsonText(m)).toContain(`"proxy": ${lineJson(selectorJson(proxy))}}`);
        }
      }),
      { numRuns: 100 },
    );
  });
});
