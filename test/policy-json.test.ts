import { describe, expect, it } from 'vitest';
import { PolicyError } from '../src/errors.js';
import { parseJsonPolicy } from '../src/policy/json.js';
import { parseCisco } from '../src/policy/ios-select.js';
import { equalSelectors } from '../src/selector/algebra.js';
import { thrown } from './support/errors.js';

const errorOf = (fn: () => unknown): PolicyError => thrown(PolicyError, fn);

const entries = (...items: string[]) => `{"entries": [\n${items.join(',\n')}\n]}`;

describe('JSON policies', () => {
  it('reads every address and port form and matches the Cisco meaning', () => {
    const p = parseJsonPolicy(
      entries(
        '{"protocol": "tcp", "source": "10.1.0.0 0.0.255.255", "destination": {"host": "192.0.2.1"}, "dport": 80}',
        '{"action": "deny", "protocol": 17, "source": {"value": "10.1.2.3", "wildcard": "0.255.0.255"}, "sport": [1000, 2000], "dport": [[0, 21], [23, 65535]]}',
        '{"protocol": "ip", "source": "10.0.0.0/8", "destination": {"prefix": "172.16.0.0/12"}}',
        '"deny tcp any host 10.0.0.1 lt 1024"',
        '{}',
      ),
      { file: 'dir/pol.json' },
    );
    expect(p.name).toBe('pol');
    expect(p.family).toBe(4);
    const cisco = parseCisco(
      [
        'ip access-list extended X',
        ' permit tcp 10.1.0.0 0.0.255.255 host 192.0.2.1 eq 80',
        ' deny udp 10.1.2.3 0.255.0.255 range 1000 2000 any neq 22',
        ' permit ip 10.0.0.0/8 172.16.0.0/12',
        ' deny tcp any host 10.0.0.1 lt 1024',
        ' permit ip any any',
      ].join('\n'),
    );
    expect(p.entries).toHaveLength(5);
    p.entries.forEach((e, i) => {
      expect(equalSelectors(e, cisco.entries[i]!)).toBe(true);
      expect(e.action).toBe(cisco.entries[i]!.action);
      expect(e.ordinal).toBe(i + 1);
    });
    expect(p.entries.map((e) => e.line)).toEqual([2, 3, 4, 5, 6]);
  });

  it('orders by sequence when every entry has one', () => {
    const p = parseJsonPolicy(entries('{"sequence": 20, "protocol": 6}', '{"sequence": 10, "protocol": 17}'));
    expect(p.entries.map((e) => [e.ordinal, e.sequence, e.protocol])).toEqual([
      [1, 10, 17],
      [2, 20, 6],
    ]);
  });

  it('infers IPv6 from the addresses, or takes the family given', () => {
    const p = parseJsonPolicy(entries('{"protocol": "icmp", "source": "2001:DB8::/32"}', '"permit tcp any any eq 22"'));
    expect(p.family).toBe(6);
    expect(p.entries[0]!.protocol).toBe(58);
    expect(p.entries[1]!.family).toBe(6);
    expect(parseJsonPolicy('{"family": 6, "name": "V6", "entries": [{}]}').entries[0]!.family).toBe(6);
  });

  // [document, code, line, column, token]
  const cases: [string, string, number, number, string][] = [
    ['', 'POLICY_JSON_SYNTAX', 1, 1, '<end of file>'],
    ['{"entries": [}', 'POLICY_JSON_SYNTAX', 1, 14, '}'],
    ['{"entries": []} x', 'POLICY_JSON_SYNTAX', 1, 17, 'x'],
    ['{"entries": [\n  {"protocol": tcp}]}', 'POLICY_JSON_SYNTAX', 2, 16, 'tcp'],
    ['[]', 'POLICY_JSON_SCHEMA', 1, 1, '['],
    ['{}', 'POLICY_JSON_SCHEMA', 1, 1, '{'],
    ['{"entries": {}}', 'POLICY_JSON_SCHEMA', 1, 13, '{'],
    ['{"entries": [], "extra": 1}', 'POLICY_JSON_SCHEMA', 1, 17, '"extra"'],
    ['{"entries": [], "entries": []}', 'POLICY_JSON_SCHEMA', 1, 17, '"entries"'],
    ['{"family": 5, "entries": []}', 'POLICY_JSON_SCHEMA', 1, 12, '5'],
    ['{"name": "a b", "entries": []}', 'POLICY_JSON_SCHEMA', 1, 10, '"a b"'],
    ['{"description": 1, "entries": []}', 'POLICY_JSON_SCHEMA', 1, 17, '1'],
    ['{"entries": [42]}', 'POLICY_JSON_SCHEMA', 1, 14, '42'],
    ['{"entries": [{"actoin": "deny"}]}', 'POLICY_JSON_SCHEMA', 1, 15, '"actoin"'],
    ['{"entries": [{"action": "drop"}]}', 'POLICY_JSON_SCHEMA', 1, 25, '"drop"'],
    ['{"entries": [{"action": "deny", "action": "deny"}]}', 'POLICY_JSON_SCHEMA', 1, 33, '"action"'],
    ['{"entries": [{"sequence": 0}]}', 'POLICY_BAD_SEQUENCE', 1, 27, '0'],
    ['{"entries": [{"sequence": 1.5}]}', 'POLICY_BAD_SEQUENCE', 1, 27, '1.5'],
    ['{"entries": [{"protocol": 256}]}', 'POLICY_BAD_PROTOCOL', 1, 27, '256'],
    ['{"entries": [{"protocol": "tpc"}]}', 'POLICY_BAD_PROTOCOL', 1, 27, '"tpc"'],
    ['{"entries": [{"protocol": true}]}', 'POLICY_BAD_PROTOCOL', 1, 27, 'true'],
    ['{"entries": [{"source": "10.0.0.0/33"}]}', 'POLICY_BAD_ADDRESS', 1, 25, '"10.0.0.0/33"'],
    ['{"entries": [{"source": "host 10.0.0"}]}', 'POLICY_BAD_ADDRESS', 1, 25, '"host 10.0.0"'],
    ['{"entries": [{"source": "10.0.0.0 255.0.0"}]}', 'POLICY_BAD_ADDRESS', 1, 25, '"10.0.0.0 255.0.0"'],
    ['{"entries": [{"source": "a b c"}]}', 'POLICY_BAD_ADDRESS', 1, 25, '"a b c"'],
    ['{"entries": [{"source": {"prefix": 8}}]}', 'POLICY_BAD_ADDRESS', 1, 36, '8'],
    ['{"entries": [{"source": {"host": "x"}}]}', 'POLICY_BAD_ADDRESS', 1, 34, '"x"'],
    ['{"entries": [{"source": {"value": "10.0.0.0", "wildcard": "x"}}]}', 'POLICY_BAD_ADDRESS', 1, 59, '"x"'],
    ['{"entries": [{"source": {"value": "x", "wildcard": "0.0.0.0"}}]}', 'POLICY_BAD_ADDRESS', 1, 35, '"x"'],
    ['{"entries": [{"source": {"mask": "x"}}]}', 'POLICY_BAD_ADDRESS', 1, 25, '{'],
    ['{"entries": [{"source": 10}]}', 'POLICY_BAD_ADDRESS', 1, 25, '10'],
    ['{"family": 4, "entries": [{"source": "2001:db8::/32"}]}', 'POLICY_FAMILY_MISMATCH', 1, 38, '"2001:db8::/32"'],
    ['{"entries": [{"dport": 65536}]}', 'POLICY_BAD_PORT', 1, 24, '65536'],
    ['{"entries": [{"dport": [1, 2, 3]}]}', 'POLICY_BAD_PORT', 1, 24, '['],
    ['{"entries": [{"dport": [9, 1]}]}', 'POLICY_BAD_PORT_RANGE', 1, 24, '['],
    ['{"entries": [{"dport": "www"}]}', 'POLICY_BAD_PORT', 1, 24, '"www"'],
    // 17 separate ranges do not fit a TED proxy (a responder could never answer for the entry).
    [`{"entries": [{"dport": ${JSON.stringify(Array.from({ length: 17 }, (_, i) => [i * 10, i * 10 + 1]))}}]}`, 'POLICY_TOO_MANY_PORT_RANGES', 1, 24, '['],
    ['{"entries": [{"remark": 1}]}', 'POLICY_JSON_SCHEMA', 1, 25, '1'],
    ['{"entries": [{"sequence": 5}, {}]}', 'POLICY_JSON_SCHEMA', 1, 31, '{'],
    ['{"entries": [{"sequence": 5},\n {"sequence": 5}]}', 'POLICY_DUPLICATE_SEQUENCE', 2, 2, '5'],
    ['{"entries": ["permit tcp any any eq wwww"]}', 'POLICY_BAD_PORT', 1, 37, 'wwww'],
  ];
  for (const [doc, code, line, column, token] of cases)
    it(`rejects ${JSON.stringify(doc)} with ${code}`, () => {
      const e = errorOf(() => parseJsonPolicy(doc, { file: 'p.json' }));
      expect(e.problems).toHaveLength(1);
      expect(e.problems[0]).toMatchObject({ code, line, column, token, file: 'p.json' });
      expect(e.problems[0]!.expected).toBeTruthy();
    });

  it('counts port ranges after merging: 40 adjacent ranges are one, 16 separate ones are accepted', () => {
    const adjacent = Array.from({ length: 40 }, (_, i) => [i * 10, i * 10 + 9]);
    const sixteen = Array.from({ length: 16 }, (_, i) => [i * 10, i * 10 + 1]);
    const p = parseJsonPolicy(`{"entries": [{"dport": ${JSON.stringify(adjacent)}}, {"sport": ${JSON.stringify(sixteen)}}]}`);
    expect(p.entries[0]!.dport).toEqual([{ lo: 0, hi: 399 }]);
    expect(p.entries[1]!.sport).toHaveLength(16);
  });

  it('reports problems of several entries at once', () => {
    const e = errorOf(() => parseJsonPolicy(entries('{"protocol": 300}', '{}', '{"dport": -1}')));
    expect(e.problems.map((p) => [p.line, p.code])).toEqual([
      [2, 'POLICY_BAD_PROTOCOL'],
      [4, 'POLICY_BAD_PORT'],
    ]);
  });

  it('rejects deep nesting without overflowing the stack', () => {
    const deep = '{"entries": [' + '['.repeat(10_000) + ']'.repeat(10_000) + ']}';
    expect(errorOf(() => parseJsonPolicy(deep)).code).toBe('POLICY_JSON_SYNTAX');
  });
});
