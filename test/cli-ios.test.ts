// The commands on what engineers have: `ted policy check` on a running-config (crypto maps,
// skipped lines, warnings, --strict, --verbose), --crypto-map on classify and demo, and
// `ted intersect` with JSON entry objects.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from './support/cli.js';

const run = (...argv: string[]) => runCli(argv);
const FIX = new URL('./fixtures/ios/', import.meta.url).pathname;
const EX = new URL('../examples/', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'ted-ios-'));
const file = (name: string, text: string) => {
  const f = join(dir, name);
  writeFileSync(f, text);
  return f;
};

describe('ted policy check on a running-config', () => {
  it('follows the discover crypto map entry, lists the crypto maps and counts what it skipped; warnings on stderr', async () => {
    const r = await run('policy', 'check', FIX + 'branch-ted.cfg');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^TED-ACL: IPv4, 5 entries\n/);
    expect(r.out).toContain('  5   50  permit tcp 10.7.0.0 0.0.255.255 10.20.0.0 0.0.255.255 eq 22 3389\n          permit tcp 10.7.0.0 0.0.255.255 10.21.0.0 0.0.255.255 eq 22 3389\n');
    expect(r.out).toContain(
      [
        'crypto maps:',
        '    VPN 10 ipsec-isakmp (match address 120; peer 192.0.2.1) on GigabitEthernet0/0',
        '  * VPN 20 ipsec-isakmp dynamic TED-DYN discover -> dynamic map TED-DYN 10 (match address TED-ACL) on GigabitEthernet0/0',
        '  * the entry followed (the only one marked discover); its ACL is TED-ACL',
        'read: 7 access lists, 4 object groups, 3 crypto map entries; 121 other lines skipped (--verbose lists them)',
        '',
      ].join('\n'),
    );
    expect(r.err).toBe(`ted: ${FIX}branch-ted.cfg:179:24: POLICY_WARN_ACL_UNUSABLE: access list INBOUND (line 177) cannot be used (2 problems; the first: POLICY_UNSUPPORTED: 'established' would narrow the entry in a way a selector cannot express) at 'established'\n`);
  });

  it('--crypto-map NAME SEQ, --acl, --verbose', async () => {
    const r = await run('policy', 'check', FIX + 'hub-generated.cfg', '--crypto-map', 'HUB', '20', '--verbose');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^150: IPv4, 3 entries\n/);
    expect(r.out).toContain('  * HUB 20 ipsec-isakmp (match address 150; peer 203.0.113.20, 203.0.113.21) on GigabitEthernet0/0/0\n');
    expect(r.out).toContain('read: 7 access lists, 2 object groups, 4 crypto map entries; 18 other lines skipped\nskipped:\n   5  hostname HUB-01\n  55  crypto keyring PARTNERS (+2 lines)\n');
    expect(r.out).toMatch(/ {2}87 {2}interface GigabitEthernet0\/0\/0 \(\+3 lines\)\n {2}92 {2}key chain OSPF-KEYS \(\+2 lines\)\n {2}96 {2}end\n$/);
    const amb = await run('policy', 'check', FIX + 'hub-generated.cfg', '--crypto-map', 'HUB');
    expect(amb.code).toBe(2);
    expect(amb.err).toMatch(/POLICY_CRYPTO_MAP_AMBIGUOUS: crypto map HUB has 3 entries, none marked discover/);
    const bad = await run('policy', 'check', FIX + 'hub-generated.cfg', '--crypto-map', 'HUB', 'x');
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/POLICY_BAD_CRYPTO_MAP/);
    const both = await run('policy', 'check', FIX + 'hub-generated.cfg', '--crypto-map', 'HUB', '10', '--acl', '150');
    expect(both.code).toBe(2);
    expect(both.err).toMatch(/POLICY_ACL_AND_CRYPTO_MAP/);
  });

  it('--strict makes the warnings errors (exit 2); --json carries warnings, crypto maps and skipped lines', async () => {
    const strict = await run('policy', 'check', FIX + 'hub-generated.cfg', '--crypto-map', 'HUB', '10', '--strict');
    expect(strict.code).toBe(2);
    expect(strict.err.split('\n').filter(Boolean).map((l) => /: (POLICY_\w+):/.exec(l)![1])).toEqual(['POLICY_WARN_NETMASK', 'POLICY_WARN_ACL_UNUSABLE', 'POLICY_WARN_ACL_UNUSABLE']);
    const j = await run('policy', 'check', FIX + 'hub-generated.cfg', '--crypto-map', 'HUB', '10', '--json');
    expect(j.code).toBe(0);
    const doc = JSON.parse(j.out);
    expect(Object.keys(doc)).toEqual(['acl', 'family', 'entries', 'list', 'warnings', 'cryptoMap', 'cryptoMaps', 'skipped']);
    expect(doc.cryptoMap).toEqual({ map: 'HUB', sequence: 10, by: 'crypto-map' });
    expect(doc.warnings.map((w: { code: string }) => w.code)).toEqual(['POLICY_WARN_NETMASK', 'POLICY_WARN_ACL_UNUSABLE', 'POLICY_WARN_ACL_UNUSABLE']);
    expect(doc.skipped).toBe(18);
    expect(doc.cryptoMaps[1]).toEqual({ map: 'HUB', sequence: 20, line: 78, type: 'ipsec-isakmp', discover: false, acl: '150', peers: ['203.0.113.20', '203.0.113.21'], interfaces: ['GigabitEthernet0/0/0'] });
    // An object-group entry: its selectors, and `entry` one line each.
    expect(doc.list[2].selectors.map((s: { entry: string }) => s.entry)).toEqual(['permit tcp 10.50.1.0 0.0.0.255 172.16.0.0 0.0.255.255 eq 443 8443 9443', 'permit tcp host 10.50.2.10 172.16.0.0 0.0.255.255 eq 443 8443 9443']);
    expect(doc.list[2].entry).toBe(doc.list[2].selectors.map((s: { entry: string }) => s.entry).join('\n'));
    // A plain ACL file keeps the document it always had.
    expect(Object.keys(JSON.parse((await run('policy', 'check', '--json', EX + 'initiator.acl')).out))).toEqual(['acl', 'family', 'entries', 'list']);
  });

  it("README's running-config example is what the command prints", async () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const at = readme.indexOf('$ ted policy check examples/ios/initiator-running.cfg\n');
    expect(at).toBeGreaterThan(0);
    const shown = readme.slice(at, readme.indexOf('```', at)).split('\n').slice(1, -1);
    const r = await runCli(['policy', 'check', 'examples/ios/initiator-running.cfg']);
    expect(r.code).toBe(0);
    expect([...r.err.trim().split('\n'), ...r.out.trim().split('\n')]).toEqual(shown);
  });

  it('a file of lines that are not lists says so, naming how much was skipped', async () => {
    const r = await run('policy', 'check', file('none.cfg', 'hostname R1\ninterface Gi0/0\n ip address 10.0.0.1 255.0.0.0\n'));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/POLICY_EMPTY: no access list in the file; 3 other lines were skipped/);
  });
});

describe('--crypto-map on the other commands', () => {
  it('ted classify --crypto-map takes the running-config ACL; a DPDK "no match" last column is not read', async () => {
    const trace = file('t.trace', '0x0a070005 0x0a140009 40000 443 6 0 4294967295\n168230917 167903241 40000 9999 6 0 4294967295\n');
    const r = await run('classify', '--policy', FIX + 'branch-ted.cfg', '--crypto-map', 'VPN', '20', '--trace', trace, '--json', '--engine', 'ts');
    expect(r.code).toBe(0);
    const s = JSON.parse(r.out);
    expect(s).toMatchObject({ packets: 2, matched: 1 });
    expect(r.err).toMatch(/POLICY_WARN_ACL_UNUSABLE/);
  });

  it('ted demo on the two running-configs: the discover entries name the ACLs, the story is the bundled one', async () => {
    const r = await run('demo', '--json', '--unprivileged', '--initiator-policy', EX + 'ios/initiator-running.cfg', '--responder-policy', EX + 'ios/responder-running.cfg');
    expect(r.code).toBe(0);
    const steps = r.out.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(steps[0]).toMatchObject({ initiator: { acl: 'TED-INITIATOR' }, responder: { acl: 'TED-RESPONDER' } });
    expect((steps.find((s) => s.step === 'tunnel' && s.state === 'established')?.proxy as { entry: string }).entry).toBe('permit tcp 127.11.0.0 0.0.255.255 127.22.0.0 0.0.255.255 eq 80');
    expect(steps.find((s) => s.step === 'verdict')).toMatchObject({ v3: 'established', v2: 'refused by the responder' });
    expect(steps.at(-1)).toMatchObject({ step: 'done', ok: true });
    // The initiator's edge list with `established` is not its crypto ACL: one warning.
    expect(r.err).toMatch(/^ted: .*initiator-running\.cfg:\d+:\d+: POLICY_WARN_ACL_UNUSABLE: access list EDGE-IN/);
    const explicit = await run('demo', '--json', '--unprivileged', '--initiator-policy', EX + 'ios/initiator-running.cfg', '--initiator-crypto-map', 'TED-MAP', '10', '--responder-policy', EX + 'ios/responder-running.cfg', '--responder-crypto-map', 'TED-DYN');
    expect(explicit.code).toBe(0);
  });
});

describe('ted intersect with JSON entry objects', () => {
  it('intersects what only JSON can write (ports with protocol any) and prints it back as JSON', async () => {
    const r = await run('intersect', '{"protocol": "ip", "source": "10.0.0.0/8", "dport": [80, 90]}', 'permit ip 10.1.0.0 0.0.255.255 any');
    expect(r).toEqual({ code: 0, out: '{"action": "permit", "protocol": "ip", "source": "10.1.0.0 0.0.255.255", "destination": "any", "dport": [80, 90]}\n', err: '' });
    const t = await run('intersect', '--json', '{"protocol": 0, "dport": 443}', 'tcp any host 10.0.0.1');
    expect(JSON.parse(t.out)).toMatchObject({ empty: false, protocol: 6, dport: [443, 443], entry: 'permit tcp any host 10.0.0.1 eq 443' });
    const v6 = await run('intersect', '{"protocol": "ipv6", "dport": 22}', 'tcp any any');
    expect(v6.out).toBe('permit tcp any any eq 22\n');
    const bad = await run('intersect', '{"protocol": "ip", "dport": 70000}', 'ip any any');
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/entry A:1:\d+: POLICY_BAD_PORT/);
  });

  it('--batch takes a and b as strings or objects', async () => {
    const f = file('b.jsonl', ['{"id": 1, "a": {"protocol": "ip", "dport": 80}, "b": "tcp 10.0.0.0 0.0.0.255 any"}', '{"id": 2, "a": {"protocol": "udp", "sequence": 5}, "b": "udp any any"}', '{"id": 3, "a": [1], "b": "ip any any"}'].join('\n') + '\n');
    const out: string[] = [];
    const r = await run('intersect', '--batch', f);
    out.push(...r.out.trim().split('\n'));
    expect(JSON.parse(out[0]!)).toMatchObject({ id: 1, empty: false, protocol: 6, entry: 'permit tcp 10.0.0.0 0.0.0.255 any eq 80' });
    expect(JSON.parse(out[1]!)).toMatchObject({ id: 2, error: { code: 'POLICY_SYNTAX' } });
    expect(JSON.parse(out[2]!)).toMatchObject({ id: 3, error: { code: 'TED_INPUT_FIELD' } });
    expect(r.code).toBe(2);
  });
});
