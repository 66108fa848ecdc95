import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { DIST_CLI, runCli } from './support/cli.js';
import { present } from './support/shared.js';

const run = (...argv: string[]) => runCli(argv);

const EX = new URL('../examples/', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'ted-policy-'));
const file = (name: string, text: string) => {
  const f = join(dir, name);
  writeFileSync(f, text);
  return f;
};

describe('ted policy check', () => {
  it('prints the canonical listing with ordinals and sequence numbers', async () => {
    const r = await run('policy', 'check', EX + 'initiator.acl');
    expect(r.code).toBe(0);
    expect(r.err).toBe('');
    expect(r.out).toBe(
      [
        'TED-INITIATOR: IPv4, 5 entries',
        '  #  seq  entry',
        '  1   10  deny udp any any eq 500',
        '  2   20  deny udp any any eq 4500',
        '  3   30  permit tcp 10.11.0.0 0.0.255.255 10.0.0.0 0.255.255.255',
        '  4   40  permit udp 10.11.0.0 0.0.255.255 10.22.0.0 0.0.255.255 eq 53',
        '  5   50  permit icmp 10.11.0.0 0.0.255.255 10.22.0.0 0.0.255.255',
        '',
      ].join('\n'),
    );
  });

  it('--json: {"acl", "family", "entries", "list"}', async () => {
    const r = await run('policy', 'check', '--json', '--acl', 'VPN-V6', EX + 'gateway.acl');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(Object.keys(j)).toEqual(['acl', 'family', 'entries', 'list']);
    expect(j).toMatchObject({ acl: 'VPN-V6', family: 6, entries: 3 });
    expect(j.list[0]).toEqual({
      ordinal: 1,
      sequence: 10,
      line: 12,
      action: 'permit',
      protocol: 6,
      source: { prefix: '2001:db8:11::/48' },
      destination: { prefix: '::/0' },
      sport: [0, 65535],
      dport: [443, 443],
      entry: 'permit tcp 2001:db8:11::/48 any eq 443',
    });
    expect(j.list.map((e: { entry: string }) => e.entry)).toEqual(['permit tcp 2001:db8:11::/48 any eq 443', 'permit icmp 2001:db8:11::/48 2001:db8:22::/48', 'deny ipv6 any any']);
  });

  it('reads every format, detected or forced, and the canonical listing parses back to the same policy', async () => {
    const acl = JSON.parse((await run('policy', 'check', '--json', EX + 'initiator.acl')).out);
    const json = JSON.parse((await run('policy', 'check', '--json', EX + 'initiator.json')).out);
    expect(json.list.map((e: { entry: string }) => e.entry)).toEqual(acl.list.map((e: { entry: string }) => e.entry));
    const cb = await run('policy', 'check', '--format', 'classbench', EX + 'filters.classbench');
    expect(cb.code).toBe(0);
    expect(cb.out).toContain('  1    -  permit tcp 10.11.0.0 0.0.255.255 10.22.0.0 0.0.255.255 eq 80');
    // The listing's entries, as a Cisco file, give the same entries again.
    const back = file('back.acl', 'ip access-list extended BACK\n' + acl.list.map((e: { entry: string }) => ` ${e.entry}`).join('\n'));
    const again = JSON.parse((await run('policy', 'check', '--json', back)).out);
    expect(again.list.map((e: { entry: string }) => e.entry)).toEqual(acl.list.map((e: { entry: string }) => e.entry));
  });

  it('a JSON policy with a port set no single entry expresses lists its pieces under one ordinal', async () => {
    const f = file('multi.json', '{"entries": [{"protocol": "tcp", "dport": [[1, 50], [90, 90]]}, {"protocol": "ip", "dport": 80}]}');
    const r = await run('policy', 'check', f);
    expect(r.out.split('\n').slice(2, 5)).toEqual([
      '  1    -  permit tcp any any range 1 50',
      '          permit tcp any any eq 90',
      // Ports with protocol any: no Cisco entry says it, the JSON entry object does.
      '  2    -  {"action": "permit", "protocol": "ip", "source": "any", "destination": "any", "dport": 80}',
    ]);
  });

  it('every problem in the file: one stderr line each, exit 2, nothing on stdout', async () => {
    const f = file('bad.acl', 'ip access-list extended X\n permit tcp any any eq wwww\n permit udp any any\n permit ip any any range 1 2\n');
    const r = await run('policy', 'check', f);
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    expect(r.err.trimEnd().split('\n')).toEqual([
      `ted: ${f}:2:24: POLICY_BAD_PORT: unknown TCP service name at 'wwww'; expected a port number 0-65535 or a TCP service name`,
      `ted: ${f}:4:20: POLICY_PORT_NOT_ALLOWED: port conditions are allowed only after a tcp or udp address at 'range'; expected the protocol 'tcp' or 'udp', or no port condition`,
    ]);
  });

  it('--json errors: {"errors": [...]} on stdout, exit 2', async () => {
    const f = file('bad2.acl', 'access-list 101 permit tcp any any lt 0\n');
    const r = await run('policy', 'check', '--json', f);
    expect(r.code).toBe(2);
    expect(JSON.parse(r.out)).toEqual({ errors: [{ code: 'POLICY_EMPTY_PORT_SET', message: "'lt 0' matches no port", file: f, line: 1, column: 36, token: 'lt', expected: 'lt 1-65535' }] });
  });

  it('several lists and no --acl: exit 2 listing them; unknown --acl: exit 2', async () => {
    const r = await run('policy', 'check', EX + 'gateway.acl');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/POLICY_ACL_AMBIGUOUS: the file has 3 access lists: 101 \(IPv4, line 2\), VPN-V4 \(IPv4, line 6\), VPN-V6 \(IPv6, line 11\)/);
    const n = await run('policy', 'check', '--acl', '102', EX + 'gateway.acl');
    expect(n.code).toBe(2);
    expect(n.err).toMatch(/POLICY_ACL_NOT_FOUND: no access list '102'/);
    expect((await run('policy', 'check', '--acl', '101', EX + 'gateway.acl')).out).toContain('101: IPv4, 2 entries');
  });

  it('usage errors and unreadable files exit 2 with one line', async () => {
    const fmt = await run('policy', 'check', '--format', 'yaml', EX + 'initiator.acl');
    expect(fmt.code).toBe(2);
    expect(fmt.err).toMatch(/yaml/);
    expect((await run('policy', 'check')).code).toBe(2);
    const missing = await run('policy', 'check', join(dir, 'nope.acl'));
    expect(missing.code).toBe(2);
    expect(missing.err.trimEnd().split('\n')).toHaveLength(1);
    expect(missing.err).toMatch(/TED_INPUT_NOT_FOUND: policy .*nope\.acl: no such file/);
    expect((await run('policy', 'check', dir)).code).toBe(2);
    // Forcing the wrong language reports that language's problems.
    const wrong = await run('policy', 'check', '--format', 'json', EX + 'initiator.acl');
    expect(wrong.code).toBe(2);
    expect(wrong.err).toMatch(/POLICY_JSON_SYNTAX/);
  });
});

describe.skipIf(!present(DIST_CLI, 'skipping end-to-end CLI tests (npm run build:ts builds dist)'))('ted policy check end to end (dist)', () => {
  it('lists the bundled example and fails on a bad file with exit 2', () => {
    const ok = spawnSync(process.execPath, [DIST_CLI, 'policy', 'check', EX + 'responder.acl'], { encoding: 'utf8' });
    expect(ok.status).toBe(0);
    expect(ok.stdout).toContain('TED-RESPONDER: IPv4, 6 entries');
    const bad = spawnSync(process.execPath, [DIST_CLI, 'policy', 'check', file('e2e.acl', 'access-list 5 permit any\n')], { encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/POLICY_STANDARD_ACL/);
  });
});
