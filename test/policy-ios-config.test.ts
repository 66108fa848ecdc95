// Cisco IOS configurations as engineers have them: whole running-configs (checked list by list
// against the same lists written alone), crypto maps, object groups, the replace-then-define
// idiom, standard and non-IP lists, and which problems are errors and which warnings.
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PolicyError, UsageError } from '../src/errors.js';
import { loadPolicy, loadPolicyReport, parsePolicy, readIosConfig } from '../src/policy/index.js';
import { parseCisco, parseCiscoAcls } from '../src/policy/ios-select.js';
import { contains, entrySelectors, firstMatch, matches } from '../src/selector/algebra.js';
import { formatSelector } from '../src/selector/format.js';
import type { Entry, Policy, Selector } from '../src/selector/types.js';
import { tupleNear } from './algebra-arbitraries.js';
import { thrown } from './support/errors.js';

const FIX = new URL('./fixtures/ios/', import.meta.url).pathname;
const EX = new URL('../examples/', import.meta.url).pathname;
const errorOf = (fn: () => unknown): PolicyError => thrown(PolicyError, fn);
const key = (s: Selector) => formatSelector(s);

/**
 * The list read from the running-config must equal the list written alone, entry by entry: the
 * alone file numbers selector k of the config's entry with sequence N as N*100+k (object groups
 * expanded by hand), so each config entry's selectors are compared with their alone entries.
 */
function sameAsAlone(config: Policy, alone: Policy): void {
  const groups = new Map<number, Entry[]>();
  for (const e of alone.entries) {
    const n = Math.floor(e.sequence! / 100);
    groups.set(n, [...(groups.get(n) ?? []), e]);
  }
  // A numbered list has no sequence numbers: its entries count 10, 20, ...
  const configSeq = (e: Entry, i: number) => e.sequence ?? (i + 1) * 10;
  expect(config.entries.map(configSeq)).toEqual([...groups.keys()]);
  config.entries.forEach((e, i) => {
    const mine = groups.get(configSeq(e, i))!;
    expect(mine.every((a) => a.action === e.action), `entry ${e.ordinal} action`).toBe(true);
    expect(entrySelectors(e).map(key).sort(), `entry ${e.ordinal}`).toEqual(mine.map(key).sort());
  });
  // And as a whole: every packet near any selector gets the same action from both.
  const action = (p: Policy, t: Parameters<typeof firstMatch>[1]) => p.entries.find((e) => e.ordinal === firstMatch(p.entries, t))?.action ?? 'none';
  const all = alone.entries.flatMap(entrySelectors);
  fc.assert(
    fc.property(fc.constantFrom(...all).chain(tupleNear), (t) => {
      expect(action(config, t)).toBe(action(alone, t));
    }),
    { numRuns: 400 },
  );
}

/** The alone list; a numbered one (no sequence numbers) has one selector per entry, numbered as its entries count. */
function numberedAlone(file: string, name: string): Policy {
  const p = loadPolicy(file, { acl: name });
  if (p.entries.every((e) => e.sequence !== undefined)) return p;
  return { ...p, entries: p.entries.map((e, i) => ({ ...e, sequence: (i + 1) * 1000 })) };
}

describe('running-configs, list by list against the lists written alone', () => {
  const cases: [string, string, string, string][] = [
    ['branch-ted.cfg', 'TED-ACL', 'branch-ted.TED-ACL.acl', 'TED-ACL-ALONE'],
    ['branch-ted.cfg', '120', 'branch-ted.120.acl', '120'],
    ['branch-ted.cfg', 'V6-TED', 'branch-ted.V6-TED.acl', 'V6-TED-ALONE'],
    ['hub-generated.cfg', 'VPN-PARTNER-A', 'hub-generated.VPN-PARTNER-A.acl', 'VPN-PARTNER-A'],
    ['hub-generated.cfg', '150', 'hub-generated.150.acl', '150'],
    ['hub-generated.cfg', 'RA-ACL', 'hub-generated.RA-ACL.acl', 'RA-ACL'],
  ];
  for (const [cfg, acl, aloneFile, aloneName] of cases)
    it(`${cfg} ${acl} = ${aloneFile}`, () => {
      const config = loadPolicy(FIX + cfg, { acl });
      const alone = numberedAlone(FIX + aloneFile, aloneName);
      if (acl === 'V6-TED') expect(config.family).toBe(6);
      sameAsAlone(config, alone);
    });

  it('the demo running-configs read as the bundled demo ACLs', () => {
    for (const [cfg, acl] of [
      ['ios/initiator-running.cfg', 'demo/initiator.acl'],
      ['ios/responder-running.cfg', 'demo/responder.acl'],
    ] as const) {
      const flat = (p: Policy) => p.entries.flatMap((e) => entrySelectors(e).map((s) => formatSelector(s, e.action)));
      const a = loadPolicy(EX + cfg);
      const b = loadPolicy(EX + acl);
      expect(flat(a)).toEqual(flat(b));
    }
    // The initiator's entry 30 is one object-group entry for the plain list's 30 and 40.
    expect(loadPolicy(EX + 'ios/initiator-running.cfg').entries.map((e) => entrySelectors(e).length)).toEqual([1, 1, 2]);
  });

  it('a running-config with a discover crypto map entry needs no --acl; the lists it does not use are warnings', () => {
    const r = loadPolicyReport(FIX + 'branch-ted.cfg');
    expect(r.policy.name).toBe('TED-ACL');
    expect(r.choice).toMatchObject({ by: 'discover', cryptoMap: { map: 'VPN', sequence: 20, dynamic: 'TED-DYN' }, dynamicMap: { map: 'TED-DYN', sequence: 10, acl: 'TED-ACL' } });
    expect(r.warnings.map((w) => [w.code, w.line])).toEqual([['POLICY_WARN_ACL_UNUSABLE', 179]]);
    expect(r.warnings[0]!.message).toContain('access list INBOUND (line 177) cannot be used (2 problems');
    const cfg = r.config!;
    expect(cfg.lists.map((l) => [l.name, l.kind])).toEqual([
      ['NAT-LAN', 'standard'],
      ['SNMP-RO', 'standard'],
      ['INBOUND', 'extended'],
      ['TED-ACL', 'extended'],
      ['1', 'standard'],
      ['120', 'extended'],
      ['V6-TED', 'ipv6'],
    ]);
    expect(cfg.cryptoMaps.map((e) => [e.map, e.sequence, e.acl, e.peers, e.dynamic, e.discover])).toEqual([
      ['VPN', 10, '120', ['192.0.2.1'], undefined, false],
      ['VPN', 20, undefined, [], 'TED-DYN', true],
    ]);
    expect(cfg.interfaces.get('VPN')).toEqual(['GigabitEthernet0/0']);
    expect([...cfg.groups.keys()]).toEqual(['BRANCH-LAN', 'DATA-CENTERS', 'APP-PORTS', 'DC-AND-HQ']);
    // Skipped: every line that is not blank, a comment, a list, a group or a crypto map entry.
    const text = readFileSync(FIX + 'branch-ted.cfg', 'utf8').split('\n');
    expect(cfg.skippedLines).toBe(cfg.skipped.reduce((n, b) => n + b.lines, 0));
    const banner = cfg.skipped.find((b) => b.text.startsWith('banner login'))!;
    expect(banner.lines).toBe(8);
    expect(text[banner.line - 1 + banner.lines - 1]).toBe('^C');
    const chain = cfg.skipped.find((b) => b.text.startsWith('crypto pki certificate chain'))!;
    expect(text[chain.line - 1 + chain.lines - 1]!.trim()).toBe('quit');
  });

  it('the standard lists of a running-config are read (source only) but refused as crypto ACLs', () => {
    const cfg = readIosConfig(readFileSync(FIX + 'branch-ted.cfg', 'utf8'), 'b.cfg');
    const one = cfg.lists.find((l) => l.name === '1')!;
    expect(one.problems.count).toBe(0);
    expect(one.entries.map((e) => [e.action, formatSelector(e, e.action)])).toEqual([
      ['permit', 'permit ip 10.1.5.0 0.0.0.255 any'],
      ['permit', 'permit ip host 10.7.0.10 any'],
      ['deny', 'deny ip any any'],
    ]);
    const e = errorOf(() => loadPolicy(FIX + 'branch-ted.cfg', { acl: 'SNMP-RO' }));
    expect(e.code).toBe('POLICY_STANDARD_ACL');
  });

  it('--acl NAME: only that list is errors; an unusable list asked for says why', () => {
    const e = errorOf(() => loadPolicy(FIX + 'branch-ted.cfg', { acl: 'INBOUND' }));
    expect(e.problems.map((p) => [p.code, p.line, p.token])).toEqual([
      ['POLICY_UNSUPPORTED', 179, 'established'],
      ['POLICY_UNSUPPORTED', 183, 'echo-reply'],
    ]);
  });

  it('the replace-then-define idiom: `no ip access-list extended`, `no access-list N` and ` no SEQ` clear what came before', () => {
    const cfg = readIosConfig(readFileSync(FIX + 'hub-generated.cfg', 'utf8'));
    const a = cfg.lists.find((l) => l.name === 'VPN-PARTNER-A')!;
    expect(a.entries.map((e) => e.sequence)).toEqual([10, 20, 30, 50]);
    const n150 = cfg.lists.find((l) => l.name === '150')!;
    expect(n150.entries).toHaveLength(3);
    const lines = readFileSync(FIX + 'hub-generated.cfg', 'utf8').split('\n');
    expect(lines[n150.entries[0]!.line! - 1]).toMatch(/^access-list 150 permit tcp .* neq 23 513 514$/);
    const p = parseCisco('access-list 101 permit ip any any\nno access-list 101 permit ip any any\naccess-list 101 deny tcp any any\n');
    expect(p.entries.map((e) => e.action)).toEqual(['deny']);
    const q = parseCisco('ip access-list extended X\n 10 permit tcp any any\n 20 permit udp any any\n no permit tcp any any\n 30 permit esp any any\n');
    expect(q.entries.map((e) => e.sequence)).toEqual([20, 30]);
    // A list cleared and never defined again is gone.
    expect(errorOf(() => parseCisco('access-list 101 permit ip any any\nno access-list 101\nip access-list extended B\n permit ip any any', { acl: '101' })).code).toBe('POLICY_ACL_NOT_FOUND');
  });

  it('a netmask where a wildcard belongs is read as IOS reads it, with a warning; strict makes it an error', () => {
    const r = loadPolicyReport(FIX + 'hub-generated.cfg', { cryptoMap: 'HUB 10' });
    const w = r.warnings.find((x) => x.code === 'POLICY_WARN_NETMASK')!;
    expect(w).toMatchObject({ line: 17, column: 25, token: '255.255.0.0', expected: "'10.50.0.0 0.0.255.255' for the network 10.50.0.0/16" });
    expect(r.policy.entries[1]!.src).toEqual({ value: 0n, care: 0x0000ffffn });
    const e = errorOf(() => loadPolicy(FIX + 'hub-generated.cfg', { cryptoMap: 'HUB 10', strict: true }));
    expect(e.problems.map((p) => p.code)).toEqual(['POLICY_WARN_NETMASK', 'POLICY_WARN_ACL_UNUSABLE', 'POLICY_WARN_ACL_UNUSABLE']);
    // 0.0.0.0 (host), 255.255.255.255 (any) and real wildcards are not netmasks.
    for (const w2 of ['0.0.0.0', '255.255.255.255', '0.0.255.255', '0.255.0.255'])
      expect(parseCisco(`access-list 101 permit ip 10.0.0.0 ${w2} any`).warnings).toBeUndefined();
  });
});

describe('crypto maps', () => {
  const hub = readFileSync(FIX + 'hub-generated.cfg', 'utf8');
  it('follows NAME SEQ to its match address, and a dynamic entry through its dynamic map', () => {
    expect(parseCisco(hub, { cryptoMap: 'HUB 20' }).name).toBe('150');
    expect(parseCisco(hub, { cryptoMap: { name: 'HUB', sequence: 10 } }).name).toBe('VPN-PARTNER-A');
    expect(parseCisco(hub, { cryptoMap: 'HUB 65535' }).name).toBe('RA-ACL');
    expect(parseCisco(hub, { cryptoMap: 'RA-DYN' }).name).toBe('RA-ACL');
  });

  it('several entries and none (or several) marked discover: an error that lists them', () => {
    const e = errorOf(() => parseCisco(hub, { cryptoMap: 'HUB' }));
    expect(e.code).toBe('POLICY_CRYPTO_MAP_AMBIGUOUS');
    expect(e.message).toContain('HUB 10 ipsec-isakmp (match address VPN-PARTNER-A; peer 203.0.113.10), HUB 20 ipsec-isakmp (match address 150; peer 203.0.113.20, 203.0.113.21), HUB 65535 ipsec-isakmp dynamic RA-DYN');
    const two = 'crypto map M 10 ipsec-isakmp dynamic D discover\ncrypto map M 20 ipsec-isakmp dynamic D discover\ncrypto dynamic-map D 10\n match address 101\naccess-list 101 permit ip any any\n';
    expect(errorOf(() => parseCisco(two, { cryptoMap: 'M' })).message).toContain('2 of them marked discover');
    expect(parseCisco(two, { cryptoMap: 'M 20' }).name).toBe('101');
  });

  it('missing maps, entries, dynamic maps and ACLs are errors that say which', () => {
    const cases: [string, string, string, RegExp][] = [
      [hub, 'NOPE', 'POLICY_CRYPTO_MAP_NOT_FOUND', /it has crypto map HUB, dynamic map RA-DYN/],
      [hub, 'HUB 30', 'POLICY_CRYPTO_MAP_NOT_FOUND', /has no entry 30/],
      ['access-list 101 permit ip any any', 'M', 'POLICY_CRYPTO_MAP_NOT_FOUND', /it has none/],
      ['crypto map M 10 ipsec-isakmp dynamic D\naccess-list 101 permit ip any any', 'M', 'POLICY_CRYPTO_MAP_NOT_FOUND', /dynamic map D, which the file does not define/],
      ['crypto map M 10 ipsec-isakmp\n set peer 192.0.2.1\naccess-list 101 permit ip any any', 'M', 'POLICY_CRYPTO_MAP_NO_ACL', /has no 'match address'/],
      ['crypto map M 10 ipsec-isakmp dynamic D\ncrypto dynamic-map D 10\n set transform-set T\naccess-list 101 permit ip any any', 'M', 'POLICY_CRYPTO_MAP_NO_ACL', /dynamic map D \(line 2\) has no 'match address'/],
      ['crypto map M 10 ipsec-isakmp dynamic D\ncrypto dynamic-map D 10\n match address 101\ncrypto dynamic-map D 20\n match address 102\naccess-list 101 permit ip any any', 'M', 'POLICY_CRYPTO_MAP_AMBIGUOUS', /matches 2 access lists/],
      ['crypto map M 10 ipsec-isakmp\n match address GONE\naccess-list 101 permit ip any any', 'M', 'POLICY_ACL_NOT_FOUND', /crypto map M 10 matches address 'GONE', but the file defines no such access list/],
    ];
    for (const [text, ref, code, msg] of cases) {
      const e = errorOf(() => parseCisco(text, { cryptoMap: ref }));
      expect(e.code, ref).toBe(code);
      expect(e.message).toMatch(msg);
    }
    expect(thrown(UsageError, () => parseCisco(hub, { cryptoMap: 'HUB ten' })).code).toBe('POLICY_BAD_CRYPTO_MAP');
    expect(thrown(UsageError, () => parseCisco(hub, { cryptoMap: 'HUB 10', acl: '150' })).code).toBe('POLICY_ACL_AND_CRYPTO_MAP');
    expect(errorOf(() => parsePolicy('{"entries": []}', { format: 'json', cryptoMap: 'M' })).code).toBe('POLICY_CRYPTO_MAP_NOT_FOUND');
  });

  it('without a discover entry and with several lists, the file still asks which one, naming the crypto maps', () => {
    const e = errorOf(() => parseCisco(hub.replace(/^access-list 130 .*$/m, '').replace(/^ permit hbh .*$/m, '')));
    expect(e.code).toBe('POLICY_ACL_AMBIGUOUS');
    expect(e.message).toContain('--crypto-map NAME; crypto maps: HUB 10');
  });
});

describe('object groups', () => {
  const groups = [
    'object-group network NETS',
    ' host 10.0.0.1',
    ' 10.1.0.0 255.255.0.0',
    ' 10.2.0.0 /24',
    ' range 10.3.0.1 10.3.0.6',
    ' group-object MORE',
    'object-group network MORE',
    ' 10.9.0.0/16',
    ' host 2001:db8::9',
    'object-group v6-network NETS6',
    ' 2001:db8:1::/48',
    ' host 2001:db8::1',
    'object-group service SVC',
    ' tcp eq 80',
    ' tcp source 1000 ftp',
    ' tcp-udp range 5000 5001',
    ' udp neq 53 67 68',
    ' esp',
    ' 47',
    'object-group service ALL',
    ' ip',
  ];
  const list = (...entries: string[]) => [...groups, 'ip access-list extended X', ...entries.map((e) => ` ${e}`)].join('\n');

  it('expands network groups (hosts, netmasks, /len, ranges, nested) in source and destination', () => {
    const e = parseCisco(list('permit ip object-group NETS any'), { acl: 'X' }).entries[0]!;
    expect(entrySelectors(e).map((s) => formatSelector(s))).toEqual([
      'permit ip host 10.0.0.1 any',
      'permit ip 10.1.0.0 0.0.255.255 any',
      'permit ip 10.2.0.0 0.0.0.255 any',
      'permit ip host 10.3.0.1 any',
      'permit ip 10.3.0.2 0.0.0.1 any',
      'permit ip 10.3.0.4 0.0.0.1 any',
      'permit ip host 10.3.0.6 any',
      'permit ip 10.9.0.0 0.0.255.255 any',
    ]);
    expect(e.ordinal).toBe(1);
    const d = parseCisco(list('deny tcp any object-group NETS eq 443'), { acl: 'X' }).entries[0]!;
    expect(d.selectors).toHaveLength(8);
    expect(d.selectors!.every((s) => s.protocol === 6 && s.dport[0]!.lo === 443)).toBe(true);
  });

  it('expands service groups: tcp/udp/tcp-udp with source and destination ports, eq left out, neq lists, protocols', () => {
    const e = parseCisco(list('permit object-group SVC host 10.0.0.1 any'), { acl: 'X' }).entries[0]!;
    expect(entrySelectors(e).map((s) => formatSelector(s))).toEqual([
      'permit tcp host 10.0.0.1 any eq 80',
      'permit tcp host 10.0.0.1 eq 1000 any eq 21',
      'permit tcp host 10.0.0.1 any range 5000 5001',
      'permit udp host 10.0.0.1 any range 5000 5001',
      'permit udp host 10.0.0.1 any neq 53 67 68',
      'permit esp host 10.0.0.1 any',
      'permit gre host 10.0.0.1 any',
    ]);
    expect(parseCisco(list('permit object-group ALL any any'), { acl: 'X' }).entries[0]!.selectors).toBeUndefined();
  });

  it('IPv6 lists take the IPv6 members of a group', () => {
    const p = parsePolicy(`${groups.join('\n')}\nipv6 access-list V6\n permit tcp object-group NETS6 object-group MORE eq 22`, { format: 'cisco' });
    expect(p.family).toBe(6);
    expect(entrySelectors(p.entries[0]!).map((s) => formatSelector(s))).toEqual(['permit tcp 2001:db8:1::/48 host 2001:db8::9 eq 22', 'permit tcp host 2001:db8::1 host 2001:db8::9 eq 22']);
  });

  it('an entry covers the union of its groups: packets, checked member by member against a direct reading', () => {
    const p = parseCisco(list('permit object-group SVC object-group NETS object-group MORE', 'deny ip any any'), { acl: 'X' });
    const e = p.entries[0]!;
    const inNets = (v: bigint) => v === 0x0a000001n || v >> 16n === 0x0a01n || v >> 8n === 0x0a0200n || (v >= 0x0a030001n && v <= 0x0a030006n) || v >> 16n === 0x0a09n;
    const svc = (t: { protocol: number; sport: number; dport: number; hasPorts: boolean }) =>
      (t.protocol === 6 && t.hasPorts && t.dport === 80) ||
      (t.protocol === 6 && t.hasPorts && t.sport === 1000 && t.dport === 21) ||
      ((t.protocol === 6 || t.protocol === 17) && t.hasPorts && t.dport >= 5000 && t.dport <= 5001) ||
      (t.protocol === 17 && t.hasPorts && ![53, 67, 68].includes(t.dport)) ||
      t.protocol === 50 ||
      t.protocol === 47;
    let hits = 0;
    fc.assert(
      fc.property(fc.constantFrom(...entrySelectors(e)).chain(tupleNear), (t) => {
        const want = inNets(t.src) && t.dst >> 16n === 0x0a09n && svc(t);
        if (want) hits++;
        expect(matches(e, t)).toBe(want);
        expect(firstMatch(p.entries, t)).toBe(want ? 1 : 2);
      }),
      { numRuns: 2000 },
    );
    expect(hits).toBeGreaterThan(300);
  });

  it('refuses what it cannot expand, at the reference, with the group problems beside it', () => {
    const cases: [string[], string, string][] = [
      [['permit ip object-group NOPE any'], 'POLICY_OBJECT_GROUP_NOT_FOUND', 'NOPE'],
      [['permit object-group NETS any any'], 'POLICY_OBJECT_GROUP_TYPE', 'NETS'],
      [['permit ip object-group SVC any'], 'POLICY_OBJECT_GROUP_TYPE', 'SVC'],
      [['permit ip object-group NETS6 any'], 'POLICY_OBJECT_GROUP_EMPTY', 'NETS6'],
      [['permit object-group SVC any any eq 80'], 'POLICY_PORT_NOT_ALLOWED', 'eq'],
    ];
    for (const [entries, code, token] of cases) {
      const e = errorOf(() => parseCisco(list(...entries), { acl: 'X' }));
      expect(e.problems[0], entries[0]).toMatchObject({ code, token });
    }
    const cyc = errorOf(() => parseCisco('object-group network A\n group-object B\nobject-group network B\n group-object A\nip access-list extended X\n permit ip object-group A any', { acl: 'X' }));
    expect(cyc.code).toBe('POLICY_OBJECT_GROUP_CYCLE');
    expect(cyc.message).toContain('A -> B -> A');
    const bad = errorOf(() => parseCisco('object-group network A\n 10.0.0.0 0.0.0.255\n host 10.0.0.999\nobject-group service S\n icmp echo\nip access-list extended X\n permit ip object-group A any\n permit object-group S any any', { acl: 'X' }));
    expect(bad.problems.map((p) => [p.line, p.code])).toEqual([
      [2, 'POLICY_BAD_NETMASK'],
      [3, 'POLICY_BAD_ADDRESS'],
      [5, 'POLICY_UNSUPPORTED'],
      [7, 'POLICY_OBJECT_GROUP_INVALID'],
      [8, 'POLICY_OBJECT_GROUP_INVALID'],
    ]);
    // A broken group that the list asked for does not use costs nothing.
    expect(parseCisco('object-group network A\n host 10.0.0.999\nip access-list extended X\n permit ip any any', { acl: 'X' }).entries).toHaveLength(1);
    const big = ['object-group network BIG', ...Array.from({ length: 70 }, (_, i) => ` host 10.0.0.${i}`), 'ip access-list extended X', ' permit ip object-group BIG object-group BIG'].join('\n');
    expect(errorOf(() => parseCisco(big, { acl: 'X' })).code).toBe('POLICY_OBJECT_GROUP_TOO_LARGE');
    expect(errorOf(() => parseCisco('object-group ip port P\n eq 80\nip access-list extended X\n permit tcp any object-group P', { acl: 'X' })).code).toBe('POLICY_UNSUPPORTED');
  });

  it('object-group ip address (numbered members, wildcards) as the NX-OS-style form', () => {
    const p = parseCisco(readFileSync(FIX + 'hub-generated.cfg', 'utf8'), { acl: 'RA-ACL' });
    expect(entrySelectors(p.entries[0]!).map((s) => formatSelector(s))).toEqual(['permit ip 10.50.0.0 0.0.255.255 10.60.0.0 0.0.255.255', 'permit ip 10.50.0.0 0.0.255.255 host 10.61.0.1']);
  });

  it('parseCiscoAcls returns every usable list, object-group entries expanded', () => {
    const acls = parseCiscoAcls(list('permit ip object-group NETS any'));
    expect(acls.map((a) => [a.name, a.entries.length, a.entries[0]!.selectors?.length])).toEqual([['X', 1, 8]]);
    expect(contains(acls[0]!.entries[0]!.selectors![7]!, { family: 4, protocol: 6, src: 0x0a090001n, dst: 1n, sport: 1, dport: 2, hasPorts: true })).toBe(true);
  });
});

describe('reading the structure of a configuration', () => {
  it('a named list ends at the next top-level line that is not an entry', () => {
    const text = 'ip access-list extended X\n permit tcp any any\ninterface Gi0/0\n permit udp any any\n ip address 10.0.0.1 255.0.0.0\n';
    const p = parseCisco(text);
    expect(p.entries).toHaveLength(1);
    // Unindented entries right after the header still belong to it (as typed in config mode).
    expect(parseCisco('ip access-list extended X\npermit tcp any any\n20 permit udp any any\n').entries).toHaveLength(2);
  });

  it('skips banners whatever their text, one-line and multi-line, with ^C, # or any delimiter', () => {
    const text = [
      'banner motd ^C',
      'ip access-list extended NOT-A-LIST',
      ' permit frob',
      '^C',
      'banner login #one line#',
      'banner exec %',
      'access-list 199 permit ip any any',
      '%',
      'banner incoming ^CText ^C',
      'access-list 101 permit ip any any',
    ].join('\n');
    const cfg = readIosConfig(text);
    expect(cfg.lists.map((l) => l.name)).toEqual(['101']);
    expect(cfg.skipped.map((b) => [b.line, b.lines])).toEqual([
      [1, 4],
      [5, 1],
      [6, 3],
      [9, 1],
    ]);
  });

  it('skips certificates and RSA keys up to quit, but a key chain key-string is one line', () => {
    const text = [
      'crypto pki certificate chain TP',
      ' certificate ca 01',
      'access-list 101 permit ip any any',
      '  quit',
      'crypto key pubkey-chain rsa',
      ' named-key R1',
      '  key-string',
      'ip access-list extended HEX',
      '  quit',
      'key chain K',
      ' key 1',
      '  key-string 7 0822455D0A16',
      'access-list 102 permit ip any any',
    ].join('\n');
    expect(readIosConfig(text).lists.map((l) => l.name)).toEqual(['102']);
  });

  it('a refused list header does not add one error per entry', () => {
    for (const header of ['ip access-list extended 99', 'ip access-list extended', 'mac access-list extended M', 'ip access-list role-based R']) {
      const text = `${header}\n permit tcp any any\n permit udp any any established\n deny ip any any\naccess-list 101 permit ip any any`;
      expect(parseCisco(text, { acl: '101' }).warnings?.length ?? 0, header).toBeLessThanOrEqual(1);
      try {
        parseCisco(text);
      } catch (e) {
        expect((e as PolicyError).problems, header).toHaveLength(1);
      }
    }
  });

  it('warnings are bounded like problems: 100, then one line counting the rest', () => {
    const text = [...Array.from({ length: 150 }, (_, i) => `access-list ${2000 + i} permit tcp any any established`), 'ip access-list extended X', ' permit ip any any'].join('\n');
    const w = parseCisco(text, { acl: 'X' }).warnings!;
    expect(w).toHaveLength(101);
    expect(w[100]).toMatchObject({ code: 'POLICY_WARN_TOO_MANY', message: '50 more warning(s) not listed (limit 100)' });
  });

  it('warnings and unusable lists: one line each, then the asked list as if alone', () => {
    const text = 'ip access-list extended A\n permit tcp any any established\n permit udp any any dscp ef\nip access-list extended B\n permit ip 10.0.0.0 255.0.0.0 any\naccess-list 2700 permit ip any any\n';
    const p = parseCisco(text, { acl: 'B' });
    expect(p.warnings!.map((w) => [w.code, w.line])).toEqual([
      ['POLICY_WARN_ACL_UNUSABLE', 2],
      ['POLICY_WARN_NETMASK', 5],
      ['POLICY_WARN_LINE_IGNORED', 6],
    ]);
    expect(errorOf(() => parseCisco(text, { acl: 'A' })).problems).toHaveLength(2);
  });
});
