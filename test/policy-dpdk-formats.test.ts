// ClassBench filter sets and traces as DPDK's tools (test-acl, l3fwd-acl) write them: `#` comment
// lines, decimal protocol fields, hexadecimal numbers in traces, and DPDK's "no match" value in a
// trace's last column, which is an error only when the expected ordinals are read.
import { describe, expect, it } from 'vitest';
import { parseTrace } from '../src/classify/trace.js';
import { TedError } from '../src/errors.js';
import { detectFormat } from '../src/policy/index.js';
import { parseClassBench } from '../src/policy/classbench.js';
import { thrown } from './support/errors.js';

describe('ClassBench as DPDK writes it', () => {
  const dpdk = [
    '# rules for test-acl',
    '   # indented comment',
    '@192.168.0.0/16 10.0.0.0/8 0 : 65535 0 : 65535 6/0xFF',
    '@0.0.0.0/0 0.0.0.0/0 0 : 65535 53 : 53 17/255',
    '@0.0.0.0/0 0.0.0.0/0 0 : 65535 0 : 65535 0/0',
    '@1.2.3.0/24 0.0.0.0/0 0 : 65535 0 : 65535 0x32/0xff',
  ].join('\n');

  it('reads # comments and decimal or hexadecimal protocol fields; ordinals count rules, not lines', () => {
    expect(detectFormat(dpdk)).toBe('classbench');
    const p = parseClassBench(dpdk, 'rules.txt');
    expect(p.entries.map((e) => [e.ordinal, e.line, e.protocol])).toEqual([
      [1, 3, 6],
      [2, 4, 17],
      [3, 5, 0],
      [4, 6, 50],
    ]);
  });

  it('still refuses masks other than any and exact, and values past 255', () => {
    for (const field of ['6/0x0F', '6/15', '256/0xFF', '6/256', '0x6/0xFFF', 'tcp/0xFF'])
      expect(() => parseClassBench(`@0.0.0.0/0 0.0.0.0/0 0 : 65535 0 : 65535 ${field}`), field).toThrow(/POLICY_CLASSBENCH/);
    expect(() => parseClassBench('@0.0.0.0/0 0.0.0.0/0 0 : 65535 0 : 65535 0/0xFF')).toThrow(/POLICY_BAD_PROTOCOL/);
  });
});

describe('ClassBench traces as DPDK writes them', () => {
  it('reads hexadecimal addresses, ports and protocols beside decimal ones, and # comments', () => {
    const t = parseTrace('# trace\n0x0a000001 0xC0A80001 0x50 443 0x06 0 7\n167772162 3232235522 80 443 6 0 8\n', 't');
    expect(t.batch.count).toBe(2);
    expect(t.batch.get(0)).toMatchObject({ src: 0x0a000001n, dst: 0xc0a80001n, sport: 80, dport: 443, protocol: 6 });
    expect(t.batch.get(1)).toMatchObject({ src: 0x0a000002n, dst: 0xc0a80002n });
    expect(Array.from(t.expected)).toEqual([7, 8]);
  });

  it("DPDK's 4294967295 (no match) in the last column is accepted until the expected ordinals are read", () => {
    const t = parseTrace('1 2 3 4 6 0 4294967295\n1 2 3 4 6 0 5\n', 'dpdk_trace');
    expect(t.batch.count).toBe(2);
    const e = thrown(TedError, () => t.expected);
    expect(e.code).toBe('TED_INPUT_TRACE');
    expect(e.message).toBe('dpdk_trace:1: rule id 4294967295 is out of range (max 2147483647)');
    // Out of range where it is read at once (an address) is still an error at parse time.
    expect(thrown(TedError, () => parseTrace('0x1FFFFFFFF 2 3 4 6\n', 'bad')).message).toBe('bad:1: source address 0x1FFFFFFFF is out of range (max 4294967295)');
    expect(thrown(TedError, () => parseTrace('1 2 3 4 0x\n', 'bad')).message).toMatch(/protocol "0x" is not a number/);
  });
});
