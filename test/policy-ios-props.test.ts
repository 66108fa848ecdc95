// Property: a running-config is its access lists plus other configuration. Inserting random
// non-ACL blocks (interfaces, routing, banners and certificates whose text looks like access
// lists, crypto settings, lines, key chains, macros, ...) between the lists never changes what any
// list reads.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readIosConfig, type IosConfig } from '../src/policy/index.js';
import { entrySelectors } from '../src/selector/algebra.js';
import { formatSelector } from '../src/selector/format.js';
import { selectorArb } from './algebra-arbitraries.js';

const word = fc.stringMatching(/^[A-Za-z][A-Za-z0-9_-]{0,11}$/);
const octet = fc.integer({ min: 0, max: 255 });
const ipv4 = fc.tuple(octet, octet, octet, octet).map((o) => o.join('.'));
/** Text that looks like configuration a reader could mistake for lists, as banner or certificate content. */
const lookalike = fc.oneof(
  fc.constant('access-list 101 permit ip any any'),
  fc.constant('ip access-list extended A'),
  fc.constant(' permit tcp any any eq 22'),
  fc.constant('ipv6 access-list V6'),
  fc.constant('no access-list 101'),
  fc.constant('no ip access-list extended A'),
  fc.constant('object-group network NETS'),
  fc.constant('crypto map M 10 ipsec-isakmp dynamic D discover'),
  fc.constant('interface Loopback9'),
  fc.constant('end'),
  fc.stringMatching(/^[ -~]{0,40}$/),
);

/** One non-ACL block, as lines. */
const block: fc.Arbitrary<readonly string[]> = fc.oneof(
  fc.tuple(fc.integer({ min: 0, max: 9 }), fc.array(fc.oneof(
    ipv4.map((a) => ` ip address ${a} 255.255.255.0`),
    word.map((w) => ` description ${w} link`),
    word.map((w) => ` ip access-group ${w} in`),
    word.map((w) => ` crypto map ${w}`),
    fc.constant(' shutdown'),
    fc.constant(' ipv6 address 2001:DB8:1::1/64'),
    fc.constant(' ip nat inside'),
  ), { maxLength: 6 })).map(([n, lines]) => [`interface GigabitEthernet0/${n}`, ...lines, '!']),
  fc.array(ipv4.map((a) => ` network ${a} 0.0.0.255 area 0`), { maxLength: 4 }).map((l) => ['router ospf 1', ' router-id 10.255.0.1', ...l]),
  fc.tuple(word, fc.integer({ min: 1, max: 65535 })).map(([w, n]) => [`route-map ${w} permit ${n}`, ' match ip address 101', ' set local-preference 200']),
  // Banners: any text up to the delimiter, which the text does not contain.
  fc.tuple(fc.constantFrom('motd', 'login', 'exec', 'incoming'), fc.constantFrom('^C', '#', '%', '$'), fc.array(lookalike, { maxLength: 6 })).map(([type, d, text]) => {
    const body = text.map((l) => l.split(d).join(' '));
    return [`banner ${type} ${d}`, ...body, d];
  }),
  fc.tuple(fc.constantFrom('motd', 'exec'), fc.constantFrom('#', '%')).map(([type, d]) => [`banner ${type} ${d}one line${d}`]),
  // Certificates: hex (and anything else) up to quit, whatever the indentation.
  fc.array(fc.oneof(fc.stringMatching(/^ {0,2}[0-9A-F]{8}( [0-9A-F]{8}){0,7}$/), lookalike.filter((l) => l.trim() !== 'quit')), { maxLength: 8 }).map((hex) => [
    'crypto pki certificate chain TP-self-signed-1',
    ' certificate self-signed 01',
    ...hex,
    '  \tquit',
  ]),
  fc.array(fc.stringMatching(/^[0-9A-F]{8}( [0-9A-F]{8}){0,5}$/), { maxLength: 4 }).map((hex) => ['crypto key pubkey-chain rsa', ' named-key R2', '  key-string', ...hex.map((h) => `   ${h}`), '  quit']),
  fc.constant(['crypto isakmp policy 10', ' encr aes 256', ' hash sha256', ' authentication pre-share', ' group 14']),
  fc.constant(['crypto ipsec transform-set TS esp-aes 256 esp-sha256-hmac', ' mode tunnel']),
  fc.tuple(word, fc.integer({ min: 1, max: 1000 })).map(([m, n]) => [`crypto map ${m} ${n} ipsec-isakmp`, ' set peer 192.0.2.1', ' match address 101']),
  fc.constant(['line vty 0 4', ' access-class 1 in', ' transport input ssh']),
  fc.constant(['key chain K', ' key 1', '  key-string 7 0822455D0A16']),
  fc.array(lookalike.filter((l) => l.trim() !== '@'), { maxLength: 4 }).map((l) => ['macro name SETUP', ...l, '@']),
  fc.array(fc.oneof(
    fc.constant('no ip http server'),
    fc.constant('ip cef'),
    ipv4.map((a) => `ip route 0.0.0.0 0.0.0.0 ${a}`),
    ipv4.map((a) => `ntp server ${a}`),
    word.map((w) => `hostname ${w}`),
    fc.constant('ip prefix-list PL seq 5 permit 10.0.0.0/8 le 24'),
    fc.constant('ip access-list logging interval 10'),
    fc.constant('ipv6 access-list log-update threshold 10'),
    fc.constant('snmp-server community public RO 1'),
    fc.constant('!'),
    fc.constant(''),
  ), { minLength: 1, maxLength: 5 }),
  // Object groups of their own names (no list uses them).
  fc.constant(['object-group network UNUSED', ' host 10.9.9.9', ' 10.8.0.0 255.255.0.0']),
);

/** A base configuration: named, numbered, IPv6 and standard lists, one entry with object groups. */
const base = fc
  .tuple(
    fc.array(selectorArb(4, { cisco: true }), { minLength: 1, maxLength: 5 }),
    fc.array(selectorArb(4, { cisco: true }), { minLength: 1, maxLength: 4 }),
    fc.array(selectorArb(6, { cisco: true }), { minLength: 1, maxLength: 4 }),
    fc.array(fc.boolean(), { minLength: 14, maxLength: 14 }),
  )
  .map(([named, numbered, v6, acts]) => {
    const act = (i: number) => (acts[i % acts.length] ? 'permit' : 'deny');
    return [
      ['object-group network NETS', ' host 10.0.0.1', ' 10.1.0.0 255.255.0.0'],
      ['object-group service SVC', ' tcp eq 80 443', ' udp range 5000 5010'],
      ['ip access-list extended A', ...named.map((s, i) => ` ${(i + 1) * 10} ${formatSelector(s, act(i))}`), ` ${named.length * 10 + 10} permit object-group SVC object-group NETS any`],
      ...numbered.map((s, i) => [`access-list 150 ${formatSelector(s, act(i + 5))}`]),
      ['ipv6 access-list V6', ...v6.map((s, i) => ` ${formatSelector(s, act(i + 9))}`)],
      ['access-list 1 permit 10.1.5.0 0.0.0.255', 'access-list 1 deny any'],
      ['ip access-list standard S', ' permit host 10.9.9.9'],
    ];
  });

function summary(cfg: IosConfig) {
  return cfg.lists.map((l) => ({
    name: l.name,
    kind: l.kind,
    family: l.family,
    problems: l.problems.list.map((p) => p.code),
    warnings: l.warnings.map((w) => w.code),
    entries: l.entries.map((e) => [e.ordinal, e.sequence, e.action, entrySelectors(e).map((s) => formatSelector(s))]),
  }));
}

describe('running-configs (property)', () => {
  it('random non-ACL blocks between the lists never change what any list reads', () => {
    fc.assert(
      fc.property(base, fc.array(fc.tuple(fc.nat(), block), { maxLength: 8 }), (chunks, inserts) => {
        const plain = chunks.flat().join('\n') + '\n';
        const before = summary(readIosConfig(plain));
        expect(before.every((l) => l.problems.length === 0)).toBe(true);
        const out = chunks.map((c) => [...c]);
        const between: (readonly string[])[][] = chunks.map(() => []);
        for (const [at, b] of inserts) between[at % chunks.length]!.push(b);
        const text = out.flatMap((c, i) => [...between[i]!.flat(), ...c]).join('\n') + '\n';
        const cfg = readIosConfig(text);
        expect(summary(cfg)).toEqual(before);
        expect(cfg.fileProblems.count).toBe(0);
      }),
      { numRuns: 300 },
    );
  });
});
