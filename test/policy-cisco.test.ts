import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { PolicyError } from '../src/errors.js';
import { parseEntry } from '../src/policy/cisco.js';
import { parseCisco, parseCiscoAcls } from '../src/policy/ios-select.js';
import { detectFormat, loadPolicy, parsePolicy } from '../src/policy/index.js';
import { contains, equalSelectors, firstMatch, intersect, mirror, mirrorTuple } from '../src/selector/algebra.js';
import { formatEntry, formatSelector } from '../src/selector/format.js';
import type { Tuple } from '../src/selector/types.js';
import { thrown } from './support/errors.js';

const errorOf = (fn: () => unknown): PolicyError => thrown(PolicyError, fn);

/** The single problem of a one-ACL file made of `lines`. */
function problemOf(...lines: string[]) {
  const e = errorOf(() => parseCisco(['ip access-list extended T', ...lines].join('\n'), { file: 't.acl' }));
  expect(e.problems).toHaveLength(1);
  return e.problems[0]!;
}

const one = (text: string) => parseCisco(`ip access-list extended T\n ${text}`).entries[0]!;
const one6 = (text: string) => parseCisco(`ipv6 access-list T\n ${text}`).entries[0]!;

describe('Cisco entries', () => {
  it('reads protocols by name and number; icmp is 1 in IPv4 and 58 in IPv6 lists', () => {
    const names: [string, number][] = [['ip', 0], ['tcp', 6], ['udp', 17], ['icmp', 1], ['esp', 50], ['ahp', 51], ['gre', 47], ['sctp', 132], ['89', 89], ['0', 0], ['255', 255], ['TCP', 6]];
    for (const [name, n] of names) expect(one(`permit ${name} any any`).protocol).toBe(n);
    expect(one6('permit icmp any any').protocol).toBe(58);
    expect(one6('permit ipv6 any any').protocol).toBe(0);
  });

  it('reads any, host, A W (non-contiguous, value bits under wildcard bits ignored) and A/len', () => {
    const e = one('permit ip host 192.0.2.1 10.1.2.3 0.255.0.255');
    expect(e.src).toEqual({ value: 0xc0000201n, care: 0xffffffffn });
    expect(e.dst).toEqual({ value: 0x0a000200n, care: 0xff00ff00n });
    const f = one('permit ip 10.1.2.3/8 any');
    expect(f.src).toEqual({ value: 0x0a000000n, care: 0xff000000n });
    expect(f.dst).toEqual({ value: 0n, care: 0n });
  });

  it('reads IPv6 prefixes in any case, compressed or not', () => {
    const a = one6('permit tcp 2001:DB8:0:0:0:0:0:0/32 host FE80::1 eq 443');
    const b = one6('permit tcp 2001:db8::/32 host fe80:0::1 eq 443');
    expect(equalSelectors(a, b)).toBe(true);
    expect(a.src.care).toBe(((1n << 32n) - 1n) << 96n);
    expect(formatEntry(a)).toBe('permit tcp 2001:db8::/32 host fe80::1 eq 443');
  });

  it('reads every port operator, numbers and IOS service names', () => {
    const ports = (cond: string, proto = 'tcp') => one(`permit ${proto} any any ${cond}`).dport;
    expect(ports('eq www')).toEqual([{ lo: 80, hi: 80 }]);
    expect(ports('eq 0')).toEqual([{ lo: 0, hi: 0 }]);
    expect(ports('neq 22')).toEqual([{ lo: 0, hi: 21 }, { lo: 23, hi: 65535 }]);
    expect(ports('neq 0')).toEqual([{ lo: 1, hi: 65535 }]);
    expect(ports('neq 65535')).toEqual([{ lo: 0, hi: 65534 }]);
    expect(ports('lt 1024')).toEqual([{ lo: 0, hi: 1023 }]);
    expect(ports('gt 1023')).toEqual([{ lo: 1024, hi: 65535 }]);
    expect(ports('range ftp-data telnet')).toEqual([{ lo: 20, hi: 23 }]);
    expect(ports('range 7 7')).toEqual([{ lo: 7, hi: 7 }]);
    expect(ports('eq isakmp', 'udp')).toEqual([{ lo: 500, hi: 500 }]);
    expect(ports('eq non500-isakmp', 'udp')).toEqual([{ lo: 4500, hi: 4500 }]);
    expect(ports('eq BGP')).toEqual([{ lo: 179, hi: 179 }]);
    expect(ports('eq ssh')).toEqual([{ lo: 22, hi: 22 }]);
    const e = one('permit udp any eq domain any');
    expect(e.sport).toEqual([{ lo: 53, hi: 53 }]);
    expect(e.dport).toEqual([{ lo: 0, hi: 65535 }]);
  });

  it('accepts log and log-input, which do not change what an entry covers', () => {
    expect(equalSelectors(one('permit tcp any any eq 22 log'), one('permit tcp any any eq 22'))).toBe(true);
    expect(equalSelectors(one('permit tcp any any log-input'), one('permit tcp any any'))).toBe(true);
  });

  it('parses a single entry with the action optional and the family inferred', () => {
    const a = parseEntry('ip 10.11.0.0 0.0.255.255 any');
    expect(a).toMatchObject({ action: 'permit', hasAction: false, selector: { family: 4, protocol: 0 } });
    expect(parseEntry('deny tcp 2001:db8::/32 any').selector.family).toBe(6);
    expect(parseEntry('permit ipv6 any any').selector.family).toBe(6);
    expect(parseEntry('permit tcp any any', { family: 6 }).selector.family).toBe(6);
    expect(errorOf(() => parseEntry('')).code).toBe('POLICY_SYNTAX');
    // Lines pasted from a configuration.
    expect(parseEntry('access-list 101 deny tcp any any eq 22')).toMatchObject({ action: 'deny', selector: { protocol: 6 } });
    expect(parseEntry(' 10 permit udp any any')).toMatchObject({ action: 'permit', selector: { protocol: 17 } });
    expect(parseEntry('10 any any').selector.protocol).toBe(10);
    expect(errorOf(() => parseEntry('permit tcp any any sequence 5', { family: 6 })).code).toBe('POLICY_SYNTAX');
  });
});

describe('Cisco files', () => {
  const file = [
    '! comment',
    'access-list 101 remark numbered',
    'access-list 101 permit tcp any any eq www',
    'ip access-list extended VPN',
    ' remark named with sequence numbers',
    ' 30 permit udp any any',
    ' 10 permit tcp any any',
    ' deny ip any any',
    ' 20 remark a numbered remark',
    ' 20 permit icmp any any',
    '  exit',
    'access-list 101 deny ip any any',
    'ipv6 access-list V6',
    ' permit tcp any any eq 443 sequence 20',
    ' sequence 10 permit udp any any',
    ' permit icmp any any',
    '',
  ].join('\r\n');

  it('lists every ACL in order of first appearance, numbered lines accumulating', () => {
    const acls = parseCiscoAcls(file, 'f.acl');
    expect(acls.map((a) => [a.name, a.family, a.entries.length, a.line])).toEqual([
      ['101', 4, 2, 2],
      ['VPN', 4, 4, 4],
      ['V6', 6, 3, 13],
    ]);
  });

  it('orders entries by sequence number; entries without one get 10 past the last; ordinal = position', () => {
    const vpn = parseCisco(file, { acl: 'VPN' });
    expect(vpn.entries.map((e) => [e.ordinal, e.sequence, e.line, e.protocol, e.action])).toEqual([
      [1, 10, 7, 6, 'permit'],
      [2, 20, 10, 1, 'permit'],
      [3, 30, 6, 17, 'permit'],
      [4, undefined, 8, 0, 'deny'], // implicit 40
    ]);
    const v6 = parseCisco(file, { acl: 'V6' });
    expect(v6.entries.map((e) => [e.ordinal, e.sequence, e.protocol])).toEqual([
      [1, 10, 17],
      [2, 20, 6],
      [3, undefined, 58],
    ]);
    expect(parseCisco(file, { acl: '101' }).entries.map((e) => e.action)).toEqual(['permit', 'deny']);
  });

  it('names the numbered list in named syntax the same as the numbered one', () => {
    const acls = parseCiscoAcls('access-list 150 permit ip any any\nip access-list extended 150\n 5 deny tcp any any\n');
    expect(acls).toHaveLength(1);
    expect(acls[0]!.entries.map((e) => e.action)).toEqual(['deny', 'permit']);
  });

  it('picks the only list by default; several without a pick is an error listing them', () => {
    expect(parseCisco('access-list 2000 permit esp any any').name).toBe('2000');
    const e = errorOf(() => parseCisco(file, { file: 'f.acl' }));
    expect(e.code).toBe('POLICY_ACL_AMBIGUOUS');
    expect(e.message).toContain('101 (IPv4, line 2), VPN (IPv4, line 4), V6 (IPv6, line 13)');
    const n = errorOf(() => parseCisco(file, { acl: 'NOPE' }));
    expect(n.code).toBe('POLICY_ACL_NOT_FOUND');
    expect(n.problems[0]).toMatchObject({ token: 'NOPE', expected: 'one of 101, VPN, V6' });
  });

  it('rejects a file with no list', () => {
    expect(errorOf(() => parseCisco('! nothing here\n\n')).code).toBe('POLICY_EMPTY');
  });

  it('reports every problem in the file, in file order, and applies nothing', () => {
    const text = [
      'ip access-list extended A',
      ' 10 permit ip any any',
      ' permit tcp any any eq wwww', // 3
      ' permit udp any any', // 4: fine
      ' 10 deny ip any any', // 5: duplicate
      ' permit esp any eq 5 any', // 6
      'access-list 2700 permit ip any any', // 7
      'permit ip any any', // 8: after a numbered line, outside any list
    ].join('\n');
    const e = errorOf(() => parseCisco(text, { file: 'bad.acl' }));
    expect(e.problems.map((p) => [p.line, p.code])).toEqual([
      [3, 'POLICY_BAD_PORT'],
      [5, 'POLICY_DUPLICATE_SEQUENCE'],
      [6, 'POLICY_PORT_NOT_ALLOWED'],
      [7, 'POLICY_BAD_ACL_NUMBER'],
      [8, 'POLICY_ENTRY_OUTSIDE_ACL'],
    ]);
    expect(e.problems[0]).toEqual({
      code: 'POLICY_BAD_PORT',
      message: 'unknown TCP service name',
      file: 'bad.acl',
      line: 3,
      column: 24,
      token: 'wwww',
      expected: 'a port number 0-65535 or a TCP service name',
    });
    expect(e.problems[1]).toMatchObject({ column: 2, token: '10' });
    expect(e.message).toMatch(/^bad\.acl:3:24: POLICY_BAD_PORT: .* \(and 4 more\)$/);
  });

  it('reports a duplicate with an implicit sequence number', () => {
    const p = problemOf(' permit ip any any', ' 10 deny ip any any');
    expect(p).toMatchObject({ code: 'POLICY_DUPLICATE_SEQUENCE', line: 3 });
    expect(p.message).toContain('implicitly');
  });

  // Every error path of the Cisco reader: [entry line, code, offending token].
  const cases: [string, string, string][] = [
    [' permit', 'POLICY_SYNTAX', '<end of line>'],
    [' permit frob any any', 'POLICY_BAD_PROTOCOL', 'frob'],
    [' permit 256 any any', 'POLICY_BAD_PROTOCOL', '256'],
    [' permit ipv6 any any', 'POLICY_BAD_PROTOCOL', 'ipv6'],
    [' permit object-group WEB any any', 'POLICY_OBJECT_GROUP_NOT_FOUND', 'WEB'],
    [' permit ip object-group NETS any', 'POLICY_OBJECT_GROUP_NOT_FOUND', 'NETS'],
    [' permit ip addrgroup NETS any', 'POLICY_UNSUPPORTED', 'addrgroup'],
    [' permit tcp any portgroup P any', 'POLICY_UNSUPPORTED', 'portgroup'],
    [' permit tcp any any eq 1 2 3 4 5 6 7 8 9 10 11', 'POLICY_BAD_PORT', '11'],
    [' permit igmp any any host-query', 'POLICY_UNSUPPORTED', 'host-query'],
    [' permit ip any', 'POLICY_SYNTAX', '<end of line>'],
    [' permit ip host', 'POLICY_SYNTAX', '<end of line>'],
    [' permit ip host 10.0.0.256 any', 'POLICY_BAD_ADDRESS', '10.0.0.256'],
    [' permit ip host 2001:db8::1 any', 'POLICY_FAMILY_MISMATCH', '2001:db8::1'],
    [' permit ip 10.0.0.0 any', 'POLICY_BAD_WILDCARD', 'any'],
    [' permit ip 10.0.0.0', 'POLICY_BAD_WILDCARD', '<end of line>'],
    [' permit ip 10.0.0.0/33 any', 'POLICY_BAD_PREFIX', '10.0.0.0/33'],
    [' permit ip 10.0.0/8 any', 'POLICY_BAD_ADDRESS', '10.0.0/8'],
    [' permit ip foo any', 'POLICY_BAD_ADDRESS', 'foo'],
    [' permit tcp any any eq', 'POLICY_SYNTAX', '<end of line>'],
    [' permit tcp any any eq 65536', 'POLICY_BAD_PORT', '65536'],
    [' permit tcp any any eq isakmp', 'POLICY_BAD_PORT', 'isakmp'],
    [' permit udp any any eq www', 'POLICY_BAD_PORT', 'www'],
    [' permit tcp any any lt 0', 'POLICY_EMPTY_PORT_SET', 'lt'],
    [' permit tcp any any gt 65535', 'POLICY_EMPTY_PORT_SET', 'gt'],
    [' permit tcp any any range 100 99', 'POLICY_BAD_PORT_RANGE', '99'],
    [' permit tcp any any range 100', 'POLICY_SYNTAX', '<end of line>'],
    [' permit ip any any eq 80', 'POLICY_PORT_NOT_ALLOWED', 'eq'],
    [' permit icmp any eq 80 any', 'POLICY_PORT_NOT_ALLOWED', 'eq'],
    [' permit tcp any any eq 80 eq 81', 'POLICY_SYNTAX', 'eq'],
    [' permit tcp any any established', 'POLICY_UNSUPPORTED', 'established'],
    [' permit ip any any fragments', 'POLICY_UNSUPPORTED', 'fragments'],
    [' permit ip any any dscp ef', 'POLICY_UNSUPPORTED', 'dscp'],
    [' permit icmp any any echo', 'POLICY_UNSUPPORTED', 'echo'],
    [' permit ip any any extra', 'POLICY_SYNTAX', 'extra'],
    [' 0 permit ip any any', 'POLICY_BAD_SEQUENCE', '0'],
    [' 2147483648 permit ip any any', 'POLICY_BAD_SEQUENCE', '2147483648'],
    [' 10', 'POLICY_SYNTAX', '<end of line>'],
    [' 10 frob', 'POLICY_SYNTAX', 'frob'],
    [' evaluate REFLECTED', 'POLICY_UNSUPPORTED', 'evaluate'],
  ];
  for (const [line, code, token] of cases)
    it(`rejects '${line.trim()}' with ${code}`, () => {
      expect(problemOf(line)).toMatchObject({ code, token, line: 2, file: 't.acl' });
    });

  const v6cases: [string, string, string][] = [
    [' permit ip any any', 'POLICY_BAD_PROTOCOL', 'ip'],
    [' permit tcp 2001:db8:: any', 'POLICY_BAD_PREFIX', '2001:db8::'],
    [' permit tcp 2001:db8::/129 any', 'POLICY_BAD_PREFIX', '2001:db8::/129'],
    [' permit tcp host 10.0.0.1 any', 'POLICY_FAMILY_MISMATCH', '10.0.0.1'],
    [' permit tcp 10.0.0.0 0.0.0.255 any', 'POLICY_FAMILY_MISMATCH', '10.0.0.0'],
    [' permit tcp any any sequence x', 'POLICY_BAD_SEQUENCE', 'x'],
    [' sequence 5 permit tcp any any sequence 6', 'POLICY_BAD_SEQUENCE', '6'],
    [' sequence', 'POLICY_BAD_SEQUENCE', '<end of line>'],
  ];
  for (const [line, code, token] of v6cases)
    it(`rejects '${line.trim()}' in an IPv6 list with ${code}`, () => {
      const e = errorOf(() => parseCisco(`ipv6 access-list T\n${line}`));
      expect(e.problems).toHaveLength(1);
      expect(e.problems[0]).toMatchObject({ code, token, line: 2 });
    });

  // Lines outside the list asked for: errors when no list is named, one warning each when one is.
  const headerCases: [string, string, string, string][] = [
    ['access-list', 'POLICY_BAD_ACL_NUMBER', '<end of line>', 'POLICY_WARN_LINE_IGNORED'],
    ['access-list 2700 permit ip any any', 'POLICY_BAD_ACL_NUMBER', '2700', 'POLICY_WARN_LINE_IGNORED'],
    ['access-list 101', 'POLICY_SYNTAX', '<end of line>', ''],
    ['access-list 101 allow ip any any', 'POLICY_SYNTAX', 'allow', ''],
    ['access-list 101 dynamic X permit ip any any', 'POLICY_UNSUPPORTED', 'dynamic', ''],
    ['ip access-list extended', 'POLICY_SYNTAX', '<end of line>', 'POLICY_WARN_LINE_IGNORED'],
    ['ip access-list extended A B', 'POLICY_SYNTAX', 'B', 'POLICY_WARN_ACL_UNUSABLE'],
    ['ip access-list extended 99', 'POLICY_BAD_ACL_NUMBER', '99', 'POLICY_WARN_LINE_IGNORED'],
    ['ipv6 access-list 101', 'POLICY_BAD_ACL_NUMBER', '101', 'POLICY_WARN_LINE_IGNORED'],
    ['permit ip any any', 'POLICY_ENTRY_OUTSIDE_ACL', 'permit', 'POLICY_WARN_LINE_IGNORED'],
  ];
  for (const [line, code, token, warning] of headerCases)
    it(`rejects '${line}' with ${code}${warning ? `, a ${warning} when another list is asked for` : ''}`, () => {
      const text = `${line}\naccess-list 101 permit ip any any\nip access-list extended OTHER\n permit ip any any`;
      const e = errorOf(() => parseCisco(text));
      expect(e.problems).toHaveLength(1);
      expect(e.problems[0]).toMatchObject({ code, token, line: 1 });
      if (!warning) return;
      const p = parseCisco(text, { acl: 'OTHER' });
      expect(p.entries).toHaveLength(1);
      expect(p.warnings).toHaveLength(1);
      expect(p.warnings![0]).toMatchObject({ code: warning, line: 1 });
      expect(p.warnings![0]!.message).toContain(code);
    });

  it('skips configuration lines that are not access lists, without a word', () => {
    for (const line of ['interface Gi0/0', 'ip access-list resequence S 10 10', 'ip access-list logging interval 10', 'ipv6 access-list log-update threshold 10', 'hostname R1', 'end'])
      expect(parseCisco(`${line}\naccess-list 101 permit ip any any`).warnings).toBeUndefined();
  });

  it('reads standard lists, and refuses one as the crypto ACL saying why', () => {
    const text = 'access-list 1 permit 10.0.0.1\naccess-list 1 permit 10.1.0.0 0.0.255.255 log\nip access-list standard VTY\n 10 permit host 10.9.9.9\n deny any\naccess-list 101 permit ip any any';
    expect(parseCisco(text).name).toBe('101');
    for (const acl of ['1', 'VTY']) {
      const e = errorOf(() => parseCisco(text, { acl }));
      expect(e.code).toBe('POLICY_STANDARD_ACL');
      expect(e.message).toContain('source addresses only');
    }
    expect(errorOf(() => parseCisco('access-list 99 permit any')).code).toBe('POLICY_STANDARD_ACL');
  });

  it('names the lists that are not IP lists (MAC 700-799, 1100-1199, ...) and reports nothing per entry', () => {
    const text = 'access-list 700 permit 0000.0c00.0000 0000.00ff.ffff\naccess-list 700 deny 0000.0000.0000 ffff.ffff.ffff\nmac access-list extended M\n permit any any\n permit host 0000.1111.2222 any\naccess-list 101 permit ip any any';
    expect(parseCisco(text).warnings).toBeUndefined();
    const e = errorOf(() => parseCisco(text, { acl: '700' }));
    expect(e.problems).toHaveLength(1);
    expect(e.problems[0]).toMatchObject({ code: 'POLICY_UNSUPPORTED', line: 1 });
    expect(e.message).toContain('MAC access list (700-799');
    expect(errorOf(() => parseCisco(text, { acl: 'M' })).message).toContain('MAC access list');
    expect(errorOf(() => parseCisco('access-list 1100 permit 0000.0c00.0000 0000.00ff.ffff 0000.0000.0000 ffff.ffff.ffff\n', { acl: '1100' })).message).toContain('extended MAC access list');
  });

  it('rejects the same name as an IPv4 and an IPv6 list', () => {
    const e = errorOf(() => parseCisco('ip access-list extended X\n permit ip any any\nipv6 access-list X\n permit ipv6 any any'));
    expect(e.problems[0]).toMatchObject({ code: 'POLICY_ACL_FAMILY_CONFLICT', line: 3, token: 'X' });
  });

  it('accepts exit and end lines as IOS prints them', () => {
    const p = parseCisco('ip access-list extended X\n permit ip any any\n exit\naccess-list 101 permit tcp any any\nend\n', { acl: 'X' });
    expect(p.entries).toHaveLength(1);
  });

  it('an entry after exit is outside any list', () => {
    const e = errorOf(() => parseCisco('ip access-list extended X\n permit ip any any\n exit\n permit ip any any'));
    expect(e.problems[0]).toMatchObject({ code: 'POLICY_ENTRY_OUTSIDE_ACL', line: 4 });
  });
});

describe('parsePolicy / loadPolicy', () => {
  const ex = (name: string) => new URL(`../examples/${name}`, import.meta.url).pathname;

  it('detects the format from the extension and the content', () => {
    expect(detectFormat('{"entries": []}')).toBe('json');
    expect(detectFormat('', 'x.JSON')).toBe('json');
    expect(detectFormat('\uFEFF  @1.2.3.4/32 ...')).toBe('classbench');
    expect(detectFormat('ip access-list extended X')).toBe('cisco');
  });

  it('loads the bundled examples in every format', () => {
    const acl = loadPolicy(ex('initiator.acl'));
    const json = loadPolicy(ex('initiator.json'));
    expect(acl.name).toBe('TED-INITIATOR');
    expect(json.name).toBe('TED-INITIATOR');
    expect(json.entries).toHaveLength(acl.entries.length);
    for (let i = 0; i < acl.entries.length; i++) {
      expect(equalSelectors(acl.entries[i]!, json.entries[i]!)).toBe(true);
      expect(json.entries[i]!.action).toBe(acl.entries[i]!.action);
    }
    expect(loadPolicy(ex('responder.acl')).entries).toHaveLength(6);
    expect(loadPolicy(ex('gateway.acl'), { acl: 'VPN-V6' }).family).toBe(6);
    expect(loadPolicy(ex('filters.classbench')).entries).toHaveLength(4);
    expect(loadPolicy(ex('filters.classbench'), { format: 'classbench' }).name).toBe('filters.classbench');
  });

  it('the example policies behave as the design describes', () => {
    const ini = loadPolicy(ex('initiator.acl'));
    const t = (proto: number, src: string, dst: string, sport: number, dport: number): Tuple => {
      const ip = (s: string) => s.split('.').reduce((v, o) => (v << 8n) | BigInt(o), 0n);
      return { family: 4, protocol: proto, src: ip(src), dst: ip(dst), sport, dport, hasPorts: proto === 6 || proto === 17 };
    };
    expect(firstMatch(ini.entries, t(17, '10.11.0.5', '10.22.0.1', 500, 500))).toBe(1); // IKE bypass
    expect(firstMatch(ini.entries, t(6, '10.11.5.5', '10.22.3.3', 40000, 80))).toBe(3);
    expect(firstMatch(ini.entries, t(17, '10.11.5.5', '10.22.3.3', 40000, 53))).toBe(4);
    expect(firstMatch(ini.entries, t(17, '10.11.5.5', '10.33.3.3', 40000, 53))).toBe(0);
  });

  it('the initiator and responder examples negotiate non-trivial proxies (design FIG. 2, 3A-3C)', () => {
    const ini = loadPolicy(ex('initiator.acl'));
    const rsp = loadPolicy(ex('responder.acl'));
    const ip = (s: string) => s.split('.').reduce((v, o) => (v << 8n) | BigInt(o), 0n);
    // The TED exchange on the selectors alone: the initiator's matching entry, the responder's
    // entry for the mirrored packet, and their intersection (responder proxy mirrored back).
    const negotiate = (proto: number, src: string, dst: string, sport: number, dport: number) => {
      const p: Tuple = { family: 4, protocol: proto, src: ip(src), dst: ip(dst), sport, dport, hasPorts: proto === 6 || proto === 17 };
      const i = firstMatch(ini.entries, p);
      const r = firstMatch(rsp.entries, mirrorTuple(p));
      const x = intersect(ini.entries[i - 1]!, mirror(rsp.entries[r - 1]!));
      expect(x.empty).toBe(false);
      if (x.empty) throw new Error('empty');
      expect(contains(x.selector, p)).toBe(true);
      return { i, r, proxy: formatSelector(x.selector) };
    };
    expect(negotiate(6, '10.11.5.5', '10.22.3.3', 40000, 80)).toEqual({ i: 3, r: 3, proxy: 'permit tcp 10.11.0.0 0.0.255.255 10.22.0.0 0.0.255.255 eq 80' });
    expect(negotiate(6, '10.11.5.5', '10.22.1.7', 40000, 8080)).toEqual({ i: 3, r: 4, proxy: 'permit tcp 10.11.0.0 0.0.255.255 10.22.1.0 0.0.0.255 range 8000 8999' });
    expect(negotiate(1, '10.11.5.5', '10.22.9.1', 0, 0)).toEqual({ i: 5, r: 6, proxy: 'permit icmp 10.11.0.0 0.0.255.255 10.22.0.1 0.0.255.0' });
    expect(negotiate(17, '10.11.5.5', '10.22.9.9', 3333, 53)).toEqual({ i: 4, r: 5, proxy: 'permit udp 10.11.0.0 0.0.255.255 10.22.0.0 0.0.255.255 eq 53' });
  });

  it('passes acl to every format and rejects an unknown format', () => {
    expect(errorOf(() => parsePolicy('@1.2.3.4/32 0.0.0.0/0 0 : 65535 0 : 65535 0x00/0x00', { format: 'classbench', acl: 'X' })).code).toBe('POLICY_ACL_NOT_FOUND');
    expect(parsePolicy('{"name": "X", "entries": []}', { format: 'json', acl: 'X' }).name).toBe('X');
    expect(errorOf(() => parsePolicy('{"name": "X", "entries": []}', { format: 'json', acl: 'Y' })).code).toBe('POLICY_ACL_NOT_FOUND');
    expect(() => parsePolicy('', { format: 'yaml' as never })).toThrow(expect.objectContaining({ code: 'POLICY_UNKNOWN_FORMAT' }));
  });

  it('a missing file is a PathError naming it', () => {
    expect(() => loadPolicy('/nonexistent/policy.acl')).toThrow(expect.objectContaining({ code: 'TED_INPUT_NOT_FOUND', path: '/nonexistent/policy.acl' }));
  });

  it('bundled examples use only the syntax they claim', () => {
    // initiator.json names the schema it follows.
    expect(JSON.parse(readFileSync(ex('initiator.json'), 'utf8')).$schema).toBe('../schema/policy.schema.json');
  });
});
