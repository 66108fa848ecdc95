import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig, validateConfig, parsePrefix, inPrefixes } from '../src/daemon/config.js';
import { ConfigError } from '../src/errors.js';
import { loadPolicy } from '../src/policy/index.js';
import { thrown } from './support/errors.js';
import { DEFAULT_LIMITS, DEFAULT_RATE_LIMIT, DEFAULT_TIMERS } from '../src/ted/settings.js';

const dir = mkdtempSync(join(tmpdir(), 'ted-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
writeFileSync(join(dir, 'policy.acl'), 'access-list 101 permit ip 192.0.2.0 0.0.0.255 203.0.113.0 0.0.0.255\n');

function write(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

const configError = (fn: () => unknown): ConfigError => thrown(ConfigError, fn);

const minimal = { ike: { address: '198.51.100.1' }, policy: { file: 'policy.acl' } };

describe('daemon configuration', () => {
  it('fills every default from the schema and resolves paths against the file', () => {
    const c = loadConfig(write('min.yaml', 'ike:\n  address: 198.51.100.1\npolicy:\n  file: policy.acl\n'), { overrides: { role: 'initiator' } });
    expect(c.role).toBe('initiator');
    expect(c.ike).toMatchObject({ address: '198.51.100.1', family: 4, port: 500, peerPort: 500, intercept: true });
    expect(c.policy.file).toBe(join(dir, 'policy.acl'));
    // The same defaults as the API's (one table: src/ted/settings.ts).
    expect(c.timers).toEqual(DEFAULT_TIMERS);
    expect(c.limits).toEqual(DEFAULT_LIMITS);
    expect(c.rateLimit).toEqual(DEFAULT_RATE_LIMIT);
    expect(c.timers).toMatchObject({ probeTimeoutMs: 1000, probeTries: 3, tunnelIdleMs: 300000 });
    expect(c.deprecated).toEqual([]);
    expect(c.source.kind).toBe('none');
    expect(c.source.protocols).toEqual([6, 17, 1]);
    expect(c.log).toEqual({ level: 'info', pretty: 'auto', summaryIntervalMs: 10_000, bufferBytes: 1_048_576 });
    expect(c.probe.source).toBe('host');
  });

  it('reads JSON too, and a command-line --replay turns the source into replay', () => {
    write('trace.pcap', '');
    const c = loadConfig(write('c.json', JSON.stringify({ ...minimal, role: 'both' })), { overrides: { replay: join(dir, 'trace.pcap') } });
    expect(c.role).toBe('both');
    expect(c.source).toMatchObject({ kind: 'replay', file: join(dir, 'trace.pcap') });
  });

  it.each([
    [{ ...minimal, timers: { retransmitMs: 0 } }, 'timers.retransmitMs', 'CONFIG_RANGE', /must be >= 1/],
    [{ ...minimal, timers: { probeTimeout: 5 } }, 'timers.probeTimeout', 'CONFIG_UNKNOWN_KEY', /did you mean 'probeTimeoutMs'/],
    [{ ...minimal, limits: { maxPending: 5 } }, 'limits.maxPending', 'CONFIG_UNKNOWN_KEY', /did you mean 'maxPendingProbes'/],
    [{ ...minimal, bounds: { maxTunnels: 0 } }, 'bounds.maxTunnels', 'CONFIG_RANGE', />= 1/],
    [{ ...minimal, timers: { retries: 2, probeTries: 3 } }, 'timers.retries', 'CONFIG_CONFLICT', /probeTries/],
    [{ ...minimal, bounds: { flowCacheEntries: 64 }, limits: { flowCacheEntries: 128 } }, 'bounds.flowCacheEntries', 'CONFIG_CONFLICT', /limits\.flowCacheEntries/],
    [{ ...minimal, timers: { retries: 2.5 } }, 'timers.retries', 'CONFIG_TYPE', /integer/],
    [{ policy: { file: 'policy.acl' } }, 'ike', 'CONFIG_REQUIRED', /missing/],
    [{ ...minimal, ike: {} }, 'ike.address', 'CONFIG_REQUIRED', /missing/],
    [{ ...minimal, ike: { address: '198.51.100.300' } }, 'ike.address', 'CONFIG_ADDRESS', /not a usable/],
    [{ ...minimal, ike: { address: '198.51.100.1', port: 70000 } }, 'ike.port', 'CONFIG_RANGE', /<= 65535/],
    [{ ...minimal, log: { level: 'loud' } }, 'log.level', 'CONFIG_ENUM', /one of/],
    [{ ...minimal, role: 'router' }, 'role', 'CONFIG_ENUM', /initiator/],
    [{ ...minimal, source: { kind: 'raw' } }, 'source.prefixes', 'CONFIG_REQUIRED', /remote prefixes/],
    [{ ...minimal, source: { kind: 'raw', prefixes: ['203.0.113.7/24'] } }, 'source.prefixes[0]', 'CONFIG_PREFIX', /host bits/],
    [{ ...minimal, source: { kind: 'raw', prefixes: ['2001:db8::/32'] } }, 'source.prefixes[0]', 'CONFIG_FAMILY', /IPv6 prefix/],
    [{ ...minimal, source: { kind: 'raw', prefixes: ['203.0.113.0/24'], protocols: ['tcpp'] } }, 'source.protocols[0]', 'CONFIG_ENUM', /tcp/],
    [{ ...minimal, source: { kind: 'capture', prefixes: ['203.0.113.0/24'] } }, 'source.interface', 'CONFIG_REQUIRED', /interface/],
    [{ ike: { address: '2001:db8:1::1' }, policy: { file: 'policy.acl' }, source: { kind: 'raw', prefixes: ['2001:db8:b::/48'] } }, 'source.kind', 'CONFIG_SOURCE', /IPv6/],
    [{ ...minimal, policy: { file: 'missing.acl' } }, 'policy.file', 'CONFIG_POLICY_FILE', /no such file/],
    [{ ...minimal, timers: { tunnelIdleMs: 7200000, tunnelLifetimeMs: 3600000 } }, 'timers.tunnelIdleMs', 'CONFIG_RANGE', /tunnelLifetimeMs/],
    [{ ...minimal, control: { socket: 5 } }, 'control.socket', 'CONFIG_TYPE', /string/],
    [{ ...minimal, extra: 1 }, 'extra', 'CONFIG_UNKNOWN_KEY', /unknown setting/],
    [{ ...minimal, policy: { file: 'policy.acl', acl: '101', cryptoMap: 'VPN' } }, 'policy.cryptoMap', 'CONFIG_CONFLICT', /not both/],
    [{ ...minimal, policy: { file: 'policy.acl', cryptoMap: 'VPN ten' } }, 'policy.cryptoMap', 'CONFIG_INVALID', /pattern|match/],
  ])('refuses %j naming %s', (raw, key, code, message) => {
    const e = configError(() => validateConfig(raw, { baseDir: dir }));
    expect(e.key).toBe(key);
    expect(e.code).toBe(code);
    expect(e.message).toMatch(message);
    expect(e.message.startsWith(`${key}: `)).toBe(true);
  });

  it('policy.cryptoMap: NAME or NAME SEQ', () => {
    expect(validateConfig({ ...minimal, policy: { file: 'policy.acl', cryptoMap: 'VPN 10' } }, { baseDir: dir }).policy).toMatchObject({ cryptoMap: 'VPN 10' });
    expect(validateConfig({ ...minimal, policy: { file: 'policy.acl', cryptoMap: 'TED-MAP' } }, { baseDir: dir }).policy.cryptoMap).toBe('TED-MAP');
  });

  it('former names are read as the current settings and reported as deprecated', () => {
    const c = validateConfig(
      { ...minimal, timers: { retransmitMs: 250, retries: 5, holdDownMs: 1000 }, bounds: { maxPendingProbes: 7, flowCacheEntries: 64 }, limits: { maxTunnels: 9 } },
      { baseDir: dir },
    );
    expect(c.timers).toMatchObject({ probeTimeoutMs: 250, probeTries: 5, holdDownMs: 1000 });
    expect(c.limits).toEqual({ ...DEFAULT_LIMITS, maxTunnels: 9, maxPendingProbes: 7, flowCacheEntries: 64 });
    expect(Object.keys(c.timers).sort()).toEqual(Object.keys(DEFAULT_TIMERS).sort());
    expect(c.deprecated).toEqual([
      { key: 'timers.retransmitMs', replacement: 'timers.probeTimeoutMs' },
      { key: 'timers.retries', replacement: 'timers.probeTries' },
      { key: 'bounds.maxPendingProbes', replacement: 'limits.maxPendingProbes' },
      { key: 'bounds.flowCacheEntries', replacement: 'limits.flowCacheEntries' },
    ]);
  });

  it('a role in the file that contradicts the command refuses to start', () => {
    const e = configError(() => validateConfig({ ...minimal, role: 'responder' }, { baseDir: dir, overrides: { role: 'initiator' } }));
    expect(e.key).toBe('role');
    expect(validateConfig({ ...minimal, role: 'both' }, { baseDir: dir, overrides: { role: 'initiator' } }).role).toBe('both');
  });

  it('several problems: the first is reported and the others are named', () => {
    const e = configError(() => validateConfig({ ...minimal, timers: { probeTries: 0, holdDownMs: -1 } }, { baseDir: dir }));
    expect(e.key).toBe('timers.probeTries');
    expect(e.message).toContain('timers.holdDownMs');
  });

  it('YAML syntax errors and unreadable files name the file and line', () => {
    const e = configError(() => loadConfig(write('bad.yaml', 'ike:\n  address: [1\n')));
    expect(e.code).toBe('CONFIG_PARSE');
    expect(e.message).toMatch(/bad\.yaml:\d+:\d+/);
    const dup = configError(() => loadConfig(write('dup.yaml', 'ike:\n  address: 1.2.3.4\nike:\n  port: 1\n')));
    expect(dup.code).toBe('CONFIG_PARSE');
    expect(configError(() => loadConfig(join(dir, 'nope.yaml'))).code).toBe('CONFIG_FILE');
    expect(configError(() => loadConfig(write('empty.yaml', ''))).key).toBe('(root)');
  });

  it('the example configurations shipped in examples/daemon are valid', () => {
    const exampleDir = new URL('../examples/daemon/', import.meta.url).pathname;
    const files = readdirSync(exampleDir).filter((f) => /\.(ya?ml|json)$/.test(f) && !f.includes('policy'));
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) {
      const c = loadConfig(join(exampleDir, f));
      // The policy each example names parses, in the family of its IKE address.
      const policy = loadPolicy(c.policy.file, c.policy.acl !== undefined ? { acl: c.policy.acl } : {});
      expect(policy.family, f).toBe(c.ike.family);
      expect(policy.entries.length, f).toBeGreaterThan(0);
    }
  });

  it('prefixes parse and match', () => {
    const p = parsePrefix('203.0.113.0/24', 'k');
    expect(inPrefixes([p], 4, 0xcb007105n)).toBe(true);
    expect(inPrefixes([p], 4, 0xcb007205n)).toBe(false);
    const p6 = parsePrefix('2001:db8:b::/48', 'k');
    expect(p6.family).toBe(6);
    expect(parsePrefix('192.0.2.1', 'k').length).toBe(32);
    expect(() => parsePrefix('192.0.2.0/33', 'k')).toThrow(ConfigError);
    expect(() => parsePrefix('192.0.2.0/2x', 'k')).toThrow(ConfigError);
  });
});
