import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { PolicyError } from '../src/errors.js';
import { parseClassBench } from '../src/policy/classbench.js';
import { firstMatch } from '../src/selector/algebra.js';
import type { Tuple } from '../src/selector/types.js';
import { thrown } from './support/errors.js';
import { CLASSBENCH, present } from './support/shared.js';

const DIR = CLASSBENCH + '/';
const haveData = present(DIR, 'skipping ClassBench data tests');

const errorOf = (fn: () => unknown): PolicyError => thrown(PolicyError, fn);

describe('parseClassBench', () => {
  it('parses a rule with tabs or spaces, ranges, exact and any protocol', () => {
    const p = parseClassBench('@10.1.0.0/16\t0.0.0.0/0\t0 : 65535\t1000 : 2000\t0x06/0xFF\n@1.2.3.4/32 5.6.7.8/32 53:53 0 : 65535 0x00/0x00 0x0000/0x0000\n', 'dir/set1');
    expect(p.name).toBe('set1');
    expect(p.family).toBe(4);
    expect(p.entries).toHaveLength(2);
    const [a, b] = p.entries;
    expect(a).toMatchObject({ ordinal: 1, line: 1, action: 'permit', protocol: 6, src: { value: 0x0a010000n, care: 0xffff0000n }, dst: { value: 0n, care: 0n } });
    expect(a!.sport).toEqual([{ lo: 0, hi: 65535 }]);
    expect(a!.dport).toEqual([{ lo: 1000, hi: 2000 }]);
    expect(b).toMatchObject({ ordinal: 2, protocol: 0, src: { value: 0x01020304n, care: 0xffffffffn } });
    expect(b!.sport).toEqual([{ lo: 53, hi: 53 }]);
  });

  it('clears host bits under the prefix', () => {
    const p = parseClassBench('@10.1.2.3/8 0.0.0.0/0 0 : 65535 0 : 65535 0x00/0x00');
    expect(p.entries[0]!.src).toEqual({ value: 0x0a000000n, care: 0xff000000n });
  });

  it('reports every bad line with code, line, column, token and expectation', () => {
    const text = [
      '@10.0.0.0/8 0.0.0.0/0 0 : 65535 0 : 65535 0x06/0xF0', // bad protocol mask
      '10.0.0.0/8 0.0.0.0/0 0 : 65535 0 : 65535 0x06/0xFF', // no @
      '@10.0.0.0/33 0.0.0.0/0 0 : 65535 0 : 65535 0x06/0xFF', // bad len
      '@10.0.0.0/8 0.0.0.0/0 10 : 5 0 : 65535 0x06/0xFF', // empty range
      '@10.0.0.0/8 0.0.0.0/0 0 : 65536 0 : 65535 0x06/0xFF', // port too big
      '@10.0.0.0/8 0.0.0.0/0 0 : 65535 0 : 65535 0x06/0xFF 0x0200/0x0200', // flags
      '@10.0.0.0/8 0.0.0.0/0 0 : 65535 0 : 65535 0x06/0xFF junk', // trailing
      '@10.0.0.0/8 0.0.0.0/0 0 : 65535 0 : 65535', // missing protocol
      '@10.0.0.0/8 0.0.0.0/0 0 65535 0 : 65535 0x06/0xFF', // missing colon
      '@10.0.0.0/8 0.0.0.0/0 0 : 65535 0 : 65535 0x00/0xFF', // exact protocol 0
    ].join('\n');
    const e = errorOf(() => parseClassBench(text, 'f.txt'));
    expect(e.problems.map((p) => [p.code, p.line])).toEqual([
      ['POLICY_CLASSBENCH_PROTOCOL_MASK', 1],
      ['POLICY_CLASSBENCH_SYNTAX', 2],
      ['POLICY_BAD_ADDRESS', 3],
      ['POLICY_BAD_PORT_RANGE', 4],
      ['POLICY_BAD_PORT', 5],
      ['POLICY_CLASSBENCH_FLAGS', 6],
      ['POLICY_CLASSBENCH_SYNTAX', 7],
      ['POLICY_CLASSBENCH_SYNTAX', 8],
      ['POLICY_CLASSBENCH_SYNTAX', 9],
      ['POLICY_BAD_PROTOCOL', 10],
    ]);
    const first = e.problems[0]!;
    expect(first).toMatchObject({ file: 'f.txt', column: 43, token: '0x06/0xF0', expected: '0x00 or 0xFF' });
    expect(e.problems[2]).toMatchObject({ column: 2, token: '10.0.0.0/33' });
    expect(e.problems[7]).toMatchObject({ token: '<end of line>', column: 42 });
    expect(e.code).toBe('POLICY_CLASSBENCH_PROTOCOL_MASK');
  });

  it('limits the number of listed problems and says how many were left out', () => {
    const text = Array.from({ length: 150 }, () => 'garbage').join('\n');
    const e = errorOf(() => parseClassBench(text));
    expect(e.problems).toHaveLength(101);
    expect(e.problems[100]).toMatchObject({ code: 'POLICY_TOO_MANY_ERRORS' });
    expect(e.problems[100]!.message).toContain('50 more');
  });

  it('rejects an empty set', () => {
    expect(errorOf(() => parseClassBench('\n\n')).code).toBe('POLICY_EMPTY');
  });
});

describe.skipIf(!haveData)('ClassBench data in ../shared', () => {
  const sets: [string, number, number][] = [
    ['acl1_1K', 916, 1],
    ['fw1_1K', 791, 1],
    ['acl1_10K', 9603, 40],
    ['fw1_10K', 9311, 40],
  ];
  for (const [name, rules, step] of sets) {
    it(`${name}: ${rules} rules; firstMatch reproduces the trace (every ${step === 1 ? '' : `${step}th `}packet)`, () => {
      const policy = parseClassBench(readFileSync(DIR + name, 'utf8'), DIR + name);
      expect(policy.entries).toHaveLength(rules);
      expect(policy.entries.every((e, i) => e.ordinal === i + 1 && e.line === i + 1)).toBe(true);
      const trace = readFileSync(`${DIR}${name}_trace`, 'utf8').trim().split('\n');
      let checked = 0;
      for (let i = 0; i < trace.length; i += step) {
        const f = trace[i]!.trim().split(/\s+/).map(Number);
        const t: Tuple = { family: 4, src: BigInt(f[0]!), dst: BigInt(f[1]!), sport: f[2]!, dport: f[3]!, protocol: f[4]!, hasPorts: true };
        const want = f[f.length - 1]!;
        const got = firstMatch(policy.entries, t);
        if (got !== want) expect({ line: i + 1, got }).toEqual({ line: i + 1, got: want });
        checked++;
      }
      expect(checked).toBeGreaterThan(1000);
    });
  }
});
