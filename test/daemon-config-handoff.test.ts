// The daemon configuration's `handoff` section: defaults, the strongSwan settings, credentials
// from files, and every refusal naming its key; the set-up text with the handoff; ted status's
// lines for the handoff and a tunnel's SAs.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { formatStatus } from '../src/cli/commands/status.js';
import { validateConfig } from '../src/daemon/config.js';
import { setupFor } from '../src/daemon/setup.js';
import { readCredentials } from '../src/daemon/strongswan.js';
import { ConfigError } from '../src/errors.js';
import { thrown } from './support/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'ted-config-handoff-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
writeFileSync(join(dir, 'policy.acl'), 'access-list 101 permit ip 192.0.2.0 0.0.0.255 203.0.113.0 0.0.0.255\n');
writeFileSync(join(dir, 'psk'), 'from-a-file\n');
for (const f of ['cert.pem', 'key.pem', 'ca.pem']) writeFileSync(join(dir, f), `-----BEGIN ${f}-----\n`);

const base = { ike: { address: '198.51.100.1' }, policy: { file: 'policy.acl' } };
const psk = { kind: 'psk', secrets: [{ peers: ['198.51.100.0/24'], secret: 's3cret' }] };
const validate = (extra: Record<string, unknown>) => validateConfig({ ...base, ...extra }, { baseDir: dir });
const configError = (extra: Record<string, unknown>) => thrown(ConfigError, () => validate(extra));

describe('handoff configuration', () => {
  it('defaults to none: tunnels are only recorded', () => {
    expect(validate({}).handoff).toEqual({ kind: 'none' });
  });

  it('strongswan: the defaults the schema documents, the prefix by family, files resolved', () => {
    const c = validate({ handoff: { kind: 'strongswan', credentials: { kind: 'psk', secrets: [{ peers: ['198.51.100.2', 'any'], secretFile: 'psk' }] } } });
    expect(c.handoff).toEqual({
      kind: 'strongswan',
      vici: 'unix:///var/run/charon.vici',
      ikeVersion: 2,
      proposals: [],
      espProposals: [],
      localPort: 4500,
      remotePort: 4500,
      encap: true,
      dpdDelayS: 10,
      connectionPrefix: 'ted',
      initiateTimeoutMs: 10000,
      maxChildSas: 16,
      kernel: 'netlink',
      credentials: { kind: 'psk', secrets: [{ peers: ['198.51.100.2', 'any'], secretFile: join(dir, 'psk') }] },
    });
    if (c.handoff.kind !== 'strongswan') throw new Error('kind');
    expect(readCredentials(c.handoff.credentials)).toEqual({ kind: 'psk', secrets: [{ peers: ['198.51.100.2', 'any'], secret: 'from-a-file' }] });
    const v6 = validateConfig({ ike: { address: '2001:db8:ff::1' }, policy: { file: 'policy.acl' }, handoff: { kind: 'strongswan', credentials: { kind: 'psk', secrets: [{ peers: ['2001:db8:ff::/64'], secret: 's' }] } } }, { baseDir: dir, skipFileChecks: true });
    expect(v6.handoff).toMatchObject({ connectionPrefix: 'ted6' });
  });

  it('certificates: files read as bytes', () => {
    const c = validate({ handoff: { kind: 'strongswan', credentials: { kind: 'certificates', certificate: 'cert.pem', privateKey: 'key.pem', caCertificates: ['ca.pem'], remoteId: 'any' } } });
    if (c.handoff.kind !== 'strongswan') throw new Error('kind');
    const creds = readCredentials(c.handoff.credentials);
    expect(creds).toMatchObject({ kind: 'certificates', privateKeyType: 'any', remoteId: 'any' });
    if (creds.kind !== 'certificates') throw new Error('kind');
    expect(Buffer.from(creds.certificate as Uint8Array).toString()).toBe('-----BEGIN cert.pem-----\n');
  });

  it.each([
    [{ handoff: { kind: 'strongswan' } }, 'handoff.credentials', 'CONFIG_REQUIRED'],
    [{ handoff: { kind: 'strongswan', credentials: { kind: 'psk' } } }, 'handoff.credentials.secrets', 'CONFIG_REQUIRED'],
    [{ handoff: { kind: 'strongswan', credentials: { kind: 'psk', secrets: [{ peers: ['x'], secret: 'a', secretFile: 'psk' }] } } }, 'handoff.credentials.secrets[0]', 'CONFIG_INVALID'],
    [{ handoff: { kind: 'strongswan', credentials: { kind: 'psk', secrets: [{ peers: ['198.51.100.0/24'] }] } } }, 'handoff.credentials.secrets[0]', 'CONFIG_INVALID'],
    [{ handoff: { kind: 'strongswan', credentials: { kind: 'psk', secrets: [{ peers: ['198.51.100.300'], secret: 'a' }] } } }, 'handoff.credentials.secrets[0].peers[0]', 'CONFIG_ADDRESS'],
    [{ handoff: { kind: 'strongswan', credentials: { kind: 'psk', secrets: [{ peers: ['2001:db8::/32'], secret: 'a' }] } } }, 'handoff.credentials.secrets[0].peers[0]', 'CONFIG_FAMILY'],
    [{ handoff: { kind: 'strongswan', credentials: { kind: 'psk', secrets: [{ peers: ['any'], secretFile: 'nope' }] } } }, 'handoff.credentials.secrets[0].secretFile', 'CONFIG_FILE'],
    [{ handoff: { kind: 'strongswan', credentials: { kind: 'psk', secrets: [{ peers: ['any'], secret: 'a' }], certificate: 'cert.pem' } } }, 'handoff.credentials.certificate', 'CONFIG_CONFLICT'],
    [{ handoff: { kind: 'strongswan', credentials: { kind: 'certificates', certificate: 'cert.pem', privateKey: 'key.pem' } } }, 'handoff.credentials.caCertificates', 'CONFIG_REQUIRED'],
    [{ handoff: { kind: 'strongswan', credentials: { kind: 'certificates', certificate: 'missing.pem', privateKey: 'key.pem', caCertificates: ['ca.pem'] } } }, 'handoff.credentials.certificate', 'CONFIG_FILE'],
    [{ handoff: { kind: 'strongswan', credentials: psk, vici: 'tcp://127.0.0.1:4502' } }, 'handoff.vici', 'CONFIG_INVALID'],
    [{ handoff: { kind: 'strongswan', credentials: psk, connectionPrefix: 'ted-1' } }, 'handoff.connectionPrefix', 'CONFIG_INVALID'],
    [{ handoff: { kind: 'strongswan', credentials: psk, ikeVersion: 3 } }, 'handoff.ikeVersion', 'CONFIG_ENUM'],
    [{ handoff: { kind: 'strongswan', credentials: psk, kernel: 'xfrm' } }, 'handoff.kernel', 'CONFIG_ENUM'],
    [{ handoff: { kind: 'strongswan', credentials: psk, maxChildSas: 0 } }, 'handoff.maxChildSas', 'CONFIG_RANGE'],
    [{ handoff: { kind: 'strongswan', credentials: psk, initiateTimeout: 5 } }, 'handoff.initiateTimeout', 'CONFIG_UNKNOWN_KEY'],
    [{ handoff: { kind: 'none', credentials: psk } }, 'handoff.credentials', 'CONFIG_CONFLICT'],
    [{ handoff: { kind: 'strongswan', credentials: psk }, source: { kind: 'replay', file: 'policy.acl', forward: true } }, 'source.forward', 'CONFIG_CONFLICT'],
  ] as const)('%j -> %s (%s)', (extra, key, code) => {
    const e = configError(extra as Record<string, unknown>);
    expect([e.key, e.code]).toEqual([key, code]);
  });

  it('names the misspelt key with a suggestion', () => {
    expect(configError({ handoff: { kind: 'strongswan', credentials: psk, initiateTimeout: 5 } }).message).toMatch(/did you mean 'initiateTimeoutMs'/);
  });
});

describe('set-up text with the strongSwan handoff', () => {
  it('keeps the probes out of charon\'s table 220 (iif lo: raw sockets show no ports to rules), and says what each kernel backend means', () => {
    const lib = validate({ source: { kind: 'capture', prefixes: ['203.0.113.0/24'], interface: 'lan0' }, handoff: { kind: 'strongswan', credentials: psk, kernel: 'libipsec' } });
    const text = setupFor('initiator', lib);
    expect(text).toContain('ip rule add iif lo to 203.0.113.0/24 lookup main pref 219');
    expect(text).toMatch(/kernel-libipsec: charon routes each tunnel's whole remote block/);
    expect(text).toMatch(/ip rule del pref 219/);
    const net = validate({ source: { kind: 'capture', prefixes: ['203.0.113.0/24'], interface: 'lan0' }, handoff: { kind: 'strongswan', credentials: psk } });
    expect(setupFor('initiator', net)).toMatch(/install_routes = no/);
    expect(setupFor('initiator', validate({ source: { kind: 'capture', prefixes: ['203.0.113.0/24'], interface: 'lan0' } }))).not.toMatch(/pref 219/);
  });
});

describe('ted status with the strongSwan handoff', () => {
  it('shows the handoff, the failures by reason, and each tunnel\'s IKE and CHILD SAs', () => {
    const text = formatStatus({
      daemon: { role: 'initiator', pid: 1, version: '0.1.0', uptimeMs: 1000, ike: { address: '198.51.100.1', port: 500 }, policy: { acl: '101', entries: 1 }, probeSource: 'host', source: { kind: 'capture', prefixes: ['203.0.113.0/24'] } },
      tunnels: [
        {
          id: 3,
          state: 'established',
          peer: '198.51.100.2',
          proxy: { entry: 'permit tcp 192.0.2.0 0.0.0.255 203.0.113.0 0.0.0.255 range 8000 8099' } as never,
          entry: 1,
          packets: 9,
          ageMs: 1000,
          idleMs: 10,
          expiresInMs: 5000,
          ike: { connection: 'ted-3', phase: 'up', ikeSa: ['7'], childSas: [{ name: 'ted-3', state: 'INSTALLED', localTs: ['192.0.2.0/24[tcp]'], remoteTs: ['203.0.113.0/24[tcp/8000-8099]'], spiIn: 'c1', spiOut: 'c2', encap: true }] },
        },
      ],
      pending: [],
      holdDowns: [],
      counters: {},
      packets: {},
      transport: {},
      handoff: { kind: 'strongswan', vici: '/run/charon.vici', charon: 'connected', ikeVersion: 2, kernel: 'libipsec', counters: { initiated: 4, established: 3, down: 1, failures: { authentication: 1 } } },
    });
    expect(text).toContain('handoff: strongSwan over /run/charon.vici (connected); IKEv2, libipsec; initiated 4, established 3, down 1; failed: authentication 1');
    expect(text).toContain('      IKE ted-3 up (IKE SA #7)');
    expect(text).toContain('      CHILD_SA ted-3 INSTALLED UDP-encap spi c1/c2: 192.0.2.0/24[tcp] === 203.0.113.0/24[tcp/8000-8099]');
  });
});

describe('the shipped strongswan.conf', () => {
  it('is what charonConf writes (examples/strongswan/strongswan.conf)', async () => {
    const { charonConf } = await import('../src/strongswan/charon-conf.js');
    const { readFileSync } = await import('node:fs');
    const shipped = readFileSync(new URL('../examples/strongswan/strongswan.conf', import.meta.url), 'utf8');
    expect(shipped).toBe(charonConf({ viciSocket: '/var/run/charon.vici', kernel: 'libipsec', logFile: '/var/log/charon-ted.log' }));
  });
});
