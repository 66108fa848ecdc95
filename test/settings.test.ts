// One vocabulary of settings: src/ted/settings.ts defines names, defaults and ranges; the schema
// file, the README and deployment tables, the API and the daemon configuration follow it.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { TedError } from '../src/errors.js';
import { parseCisco } from '../src/policy/index.js';
import { createGateway } from '../src/ted/gateway.js';
import { renderSchema, renderTable } from '../src/ted/settings-docs.js';
import { allSettings, DEFAULT_LIMITS, DEFAULT_RATE_LIMIT, DEFAULT_TIMERS, resolveSection, SETTINGS, SETTINGS_SECTIONS, settingsTable } from '../src/ted/settings.js';
import { validateConfig } from '../src/daemon/config.js';
import { ManualClock } from '../src/ted/clock.js';
import { MemoryNetwork } from '../src/transport/memory.js';
import { thrown } from './support/errors.js';

const root = new URL('..', import.meta.url).pathname;
const read = (f: string) => readFileSync(root + f, 'utf8');
const fix = 'run `npm run settings:docs`';

describe('settings, defined once', () => {
  it('the schema file carries exactly the settings sections the table defines', () => {
    const text = read('schema/daemon-config.schema.json');
    expect(renderSchema(text), `schema/daemon-config.schema.json is stale: ${fix}`).toBe(text);
  });

  it.each(['README.md', 'docs/deployment.md'])('%s carries the settings table verbatim', (doc) => {
    const text = read(doc);
    expect(renderTable(text, doc), `${doc} is stale: ${fix}`).toBe(text);
    expect(text).toContain(settingsTable());
  });

  it('every default lies in its own range, and the configuration takes every setting by the API name', () => {
    const sections: Record<string, Record<string, number>> = {};
    for (const { section, name, spec } of allSettings()) {
      expect(spec.default, name).toBeGreaterThanOrEqual(spec.minimum);
      expect(spec.default, name).toBeLessThanOrEqual(spec.maximum);
      // Take the maximum everywhere except the idle timer, which may not exceed the lifetime.
      (sections[section] ??= {})[name] = name === 'tunnelIdleMs' ? spec.minimum : spec.maximum;
    }
    const minimal = { ike: { address: '198.51.100.1' }, policy: { file: 'x.acl' } };
    const c = validateConfig({ ...minimal, ...sections }, { skipFileChecks: true }) as unknown as Record<string, Record<string, unknown>>;
    for (const [section, values] of Object.entries(sections)) expect(c[section], section).toMatchObject(values);
    expect(SETTINGS_SECTIONS.reduce((n, s) => n + Object.keys(SETTINGS[s]).length, 0)).toBe(allSettings().length);
  });

  it('daemon-only settings are not gateway options, every other section is', () => {
    const net = new MemoryNetwork();
    const policy = parseCisco('access-list 101 permit ip 10.1.0.0 0.0.255.255 10.2.0.0 0.0.255.255\n');
    const g = createGateway({ role: 'both', policy, localAddress: '192.0.2.1', transport: net.attach([]), clock: new ManualClock(0) }) as unknown as Record<string, unknown>;
    for (const { section, name, spec } of allSettings()) {
      if (spec.daemonOnly) expect(g[section], `${section} is daemon-only`).toBeUndefined();
      else expect((g[section] as Record<string, number>)[name], `${section}.${name}`).toBe(spec.default);
    }
  });

  it('the API refuses unknown names (pointing at the renamed ones) and out-of-range values', () => {
    const bad = (fn: () => unknown) => thrown(TedError, fn);
    expect(resolveSection('timers', { holdDownMs: 5 })).toEqual({ ...DEFAULT_TIMERS, holdDownMs: 5 });
    expect(resolveSection('timers', { tunnelLifetimeMs: Infinity }).tunnelLifetimeMs).toBe(Infinity);
    let e = bad(() => resolveSection('limits', { maxPending: 3 }));
    expect(e.code).toBe('TED_BAD_SETTING');
    expect(e.message).toMatch(/^limits\.maxPending: unknown setting \(renamed limits\.maxPendingProbes\)/);
    e = bad(() => resolveSection('limits', { answersPerSecond: 3 }));
    expect(e.message).toContain('renamed rateLimit.responsesPerSecond');
    expect(bad(() => resolveSection('timers', { probeTries: 0 })).message).toBe('timers.probeTries: must be >= 1, got 0');
    expect(bad(() => resolveSection('timers', { probeTries: 2.5 })).message).toMatch(/integer/);
    expect(bad(() => resolveSection('timers', { holdDownMs: Infinity })).message).toMatch(/finite/);
    expect(bad(() => resolveSection('rateLimit', { responsesPerSecond: 0 })).message).toMatch(/> 0/);
    expect(bad(() => resolveSection('limits', { maxTunnels: Number.NaN })).message).toMatch(/a number/);

    const net = new MemoryNetwork();
    const policy = parseCisco('access-list 101 permit ip 10.1.0.0 0.0.255.255 10.2.0.0 0.0.255.255\n');
    const gw = (o: object) => createGateway({ role: 'both', policy, localAddress: '192.0.2.1', transport: net.attach([]), clock: new ManualClock(0), ...o });
    expect(bad(() => gw({ limits: { flowCacheSize: 1 << 17 } })).message).toContain('renamed limits.flowCacheEntries');
    expect(bad(() => gw({ timers: { tunnelIdleMs: 20_000, tunnelLifetimeMs: 10_000 } })).message).toMatch(/tunnelIdleMs: must not exceed/);
    const g = gw({ limits: { maxTunnels: 3 }, rateLimit: { burst: 2 } });
    expect(g.limits).toEqual({ ...DEFAULT_LIMITS, maxTunnels: 3 });
    expect(g.rateLimit).toEqual({ ...DEFAULT_RATE_LIMIT, burst: 2 });
  });
});
