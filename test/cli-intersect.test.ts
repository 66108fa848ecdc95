import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { DIST_CLI, runCli } from './support/cli.js';
import { present } from './support/shared.js';

const run = (...argv: string[]) => runCli(argv);

const dir = mkdtempSync(join(tmpdir(), 'ted-intersect-'));
const EX = new URL('../examples/', import.meta.url).pathname;

describe('ted intersect', () => {
  it('prints the worked example of the design', async () => {
    const r = await run('intersect', 'permit ip 10.11.0.0 0.0.255.255 any', 'permit ip 10.0.0.0 0.255.255.255 any');
    expect(r).toEqual({ code: 0, out: 'permit ip 10.11.0.0 0.0.255.255 any\n', err: '' });
  });

  it('--json has the documented shape', async () => {
    const r = await run('intersect', '--json', 'ip 10.11.0.0 0.0.255.255 any', 'tcp 10.0.0.0 0.255.255.255 host 10.22.0.1 eq www');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toEqual({
      empty: false,
      protocol: 6,
      source: { value: '10.11.0.0', wildcard: '0.0.255.255' },
      destination: { value: '10.22.0.1', wildcard: '0.0.0.0' },
      sport: [0, 65535],
      dport: [80, 80],
      entry: 'permit tcp 10.11.0.0 0.0.255.255 host 10.22.0.1 eq 80',
    });
    expect(r.out.startsWith('{"empty": false, "protocol": 6, "source": {"value": "10.11.0.0", "wildcard": "0.0.255.255"}')).toBe(true);
  });

  it('prints empty: FIELD, in text and JSON, exit 0', async () => {
    expect(await run('intersect', 'udp any any', 'tcp any any')).toEqual({ code: 0, out: 'empty: protocol\n', err: '' });
    const r = await run('intersect', '--json', 'tcp any any eq 22', 'tcp any any range 80 443');
    expect(JSON.parse(r.out)).toEqual({ empty: true, field: 'dport' });
  });

  it('IPv6 entries give prefixes; one IPv6 side makes both IPv6', async () => {
    const r = await run('intersect', '--json', 'permit ipv6 2001:db8::/32 any', 'permit tcp 2001:DB8:11::/48 any eq 443');
    expect(JSON.parse(r.out)).toMatchObject({ empty: false, protocol: 6, source: { prefix: '2001:db8:11::/48' }, destination: { prefix: '::/0' }, dport: [443, 443] });
    expect((await run('intersect', 'tcp any any', 'ipv6 2001:db8::/32 any')).out).toBe('permit tcp 2001:db8::/32 any\n');
    expect(await run('intersect', 'ip 10.0.0.0/8 any', 'ipv6 2001:db8::/32 any')).toEqual({ code: 0, out: 'empty: family\n', err: '' });
    expect(JSON.parse((await run('intersect', '--json', 'ipv6 any any', 'ip any any')).out)).toEqual({ empty: true, field: 'family' });
  });

  it('a neq hole that no single entry expresses prints the lines whose union it is', async () => {
    const r = await run('intersect', 'tcp any any neq 80', 'tcp any any range 1 1000');
    expect(r.out).toBe('permit tcp any any range 1 79\npermit tcp any any range 81 1000\n');
    const j = JSON.parse((await run('intersect', '--json', 'tcp any any neq 80', 'tcp any any range 1 1000')).out);
    expect(j.dport).toEqual([
      [1, 79],
      [81, 1000],
    ]);
  });

  it('a bad entry exits 2 with one line naming the entry, column and token', async () => {
    const r = await run('intersect', 'permit tcp any any eq wwww', 'ip any any');
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    expect(r.err).toBe("ted: entry A:1:23: POLICY_BAD_PORT: unknown TCP service name at 'wwww'; expected a port number 0-65535 or a TCP service name\n");
    expect((await run('intersect', 'ip any any', 'ip any host 10.0.0.1/8')).err).toMatch(/^ted: entry B:1:/);
    // An IPv6 address in an entry that says `ip` is a mistake, not an IPv6 entry.
    const mixed = await run('intersect', 'ip host 10.0.0.1 host 2001:db8::1', 'ip any any');
    expect(mixed.code).toBe(2);
    expect(mixed.err).toMatch(/POLICY_FAMILY_MISMATCH/);
  });

  it('wrong usage exits 2', async () => {
    const one = await run('intersect', 'ip any any');
    expect(one.code).toBe(2);
    expect(one.err).toMatch(/TED_USAGE: expected two entries, got 1/);
    expect((await run('intersect', 'a', 'b', 'c')).code).toBe(2);
    const both = await run('intersect', '--batch', '-', 'ip any any', 'ip any any');
    expect(both.code).toBe(2);
    expect(both.err).toMatch(/either --batch/);
    expect((await run('intersect', '--frob')).code).toBe(2);
  });
});

describe('ted intersect --batch', () => {
  it('answers every line in order, echoing ids, and goes on after bad lines (exit 2 at the end)', async () => {
    const f = join(dir, 'in.jsonl');
    writeFileSync(
      f,
      [
        '{"id": 1, "a": "ip 10.11.0.0 0.0.255.255 any", "b": "ip 10.0.0.0 0.255.255.255 any", "note": "ignored"}',
        'not json',
        '{"id": "x", "a": "tcp any any eq frob", "b": "ip any any"}',
        '',
        '[1, 2]',
        '{"id": {"k": [1]}, "a": "udp any any", "b": "tcp any any"}',
        '{"a": "ip any any", "b": 5}',
        '{"id": null, "a": "ip any any", "b": "ip any any"}',
      ].join('\r\n') + '\r\n',
    );
    const r = await run('intersect', '--batch', f);
    const lines = r.out.trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(lines).toHaveLength(8);
    expect(lines[0]).toEqual({ id: 1, empty: false, protocol: 0, source: { value: '10.11.0.0', wildcard: '0.0.255.255' }, destination: { value: '0.0.0.0', wildcard: '255.255.255.255' }, sport: [0, 65535], dport: [0, 65535], entry: 'permit ip 10.11.0.0 0.0.255.255 any' });
    expect(lines[1]).toMatchObject({ id: null, error: { code: 'TED_INPUT_JSON' } });
    expect(lines[2]).toMatchObject({ id: 'x', error: { code: 'POLICY_BAD_PORT' } });
    expect(lines[2].error.message).toContain("'frob'");
    expect(lines[3]).toMatchObject({ id: null, error: { code: 'TED_INPUT_EMPTY_LINE' } });
    expect(lines[4]).toMatchObject({ id: null, error: { code: 'TED_INPUT_JSON' } });
    expect(lines[5]).toEqual({ id: { k: [1] }, empty: true, field: 'protocol' });
    expect(lines[6]).toMatchObject({ id: null, error: { code: 'TED_INPUT_FIELD' } });
    expect(lines[7]).toMatchObject({ id: null, empty: false });
    expect(r.code).toBe(2);
    expect(r.err).toBe('ted: TED_INPUT_BATCH: 5 of 8 lines had errors (answered with an "error" object)\n');
  });

  it('exits 0 when every line is good; the bundled example has one bad line on purpose', async () => {
    const f = join(dir, 'good.jsonl');
    writeFileSync(f, '{"id": 1, "a": "ip any any", "b": "tcp any any eq 22"}\n');
    const r = await run('intersect', '--batch', f);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ id: 1, protocol: 6, dport: [22, 22] });
    const ex = await run('intersect', '--batch', EX + 'intersect.jsonl');
    const ans = ex.out.trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(ans.map((a) => a.id)).toEqual(['worked-example', 'web', 'protocols-differ', 'ports-conflict', 'v6', 'bad']);
    expect(ans[0].entry).toBe('permit ip 10.11.0.0 0.0.255.255 any');
    expect(ans[1].entry).toBe('permit tcp 10.11.0.0 0.0.255.255 10.22.0.0 0.0.255.255 eq 80');
    expect(ans[2]).toMatchObject({ empty: true, field: 'protocol' });
    expect(ans[3]).toMatchObject({ empty: true, field: 'dport' });
    expect(ans[4]).toMatchObject({ source: { prefix: '2001:db8:11::/48' } });
    expect(ans[5].error.code).toBe('POLICY_BAD_PORT');
    expect(ex.code).toBe(2);
  });

  it('an empty file answers nothing, exit 0; a missing file or a directory exits 2', async () => {
    const f = join(dir, 'empty.jsonl');
    writeFileSync(f, '');
    expect(await run('intersect', '--batch', f)).toEqual({ code: 0, out: '', err: '' });
    const missing = await run('intersect', '--batch', join(dir, 'nope.jsonl'));
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/TED_INPUT_NOT_FOUND: --batch .*nope\.jsonl: no such file/);
    const d = await run('intersect', '--batch', dir);
    expect(d.code).toBe(2);
    expect(d.err).toMatch(/TED_INPUT_IS_DIRECTORY/);
  });

  it('answers many lines in order (the same answers as one at a time)', async () => {
    const f = join(dir, 'many.jsonl');
    const n = 5000;
    const lines: string[] = [];
    for (let i = 0; i < n; i++) lines.push(JSON.stringify({ id: i, a: `tcp 10.${i % 256}.0.0 0.0.255.255 any range ${i % 1000} ${1000 + (i % 7)}`, b: `ip any host 10.0.0.${i % 256}` }));
    writeFileSync(f, lines.join('\n'));
    const r = await run('intersect', '--batch', f);
    expect(r.code).toBe(0);
    const out = r.out.trimEnd().split('\n');
    expect(out).toHaveLength(n);
    for (const i of [0, 1, 2047, 2048, 2049, 4999]) {
      const a = JSON.parse(out[i]!);
      expect(a.id).toBe(i);
      const one = await run('intersect', '--json', JSON.parse(lines[i]!).a, JSON.parse(lines[i]!).b);
      expect({ id: i, ...JSON.parse(one.out) }).toEqual(a);
    }
  });
});

describe.skipIf(!present(DIST_CLI, 'skipping end-to-end CLI tests (npm run build:ts builds dist)'))('ted intersect end to end (dist)', () => {
  it('the README command works and reads --batch from stdin', () => {
    const r = spawnSync(process.execPath, [DIST_CLI, 'intersect', 'permit ip 10.11.0.0 0.0.255.255 any', 'permit ip 10.0.0.0 0.255.255.255 any'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('permit ip 10.11.0.0 0.0.255.255 any\n');
    const s = spawnSync(process.execPath, [DIST_CLI, 'intersect', '--batch', '-'], { input: '{"id": 7, "a": "udp any any", "b": "tcp any any"}\n', encoding: 'utf8' });
    expect(s.status).toBe(0);
    expect(JSON.parse(s.stdout)).toEqual({ id: 7, empty: true, field: 'protocol' });
  });
});
