// The daemon's configuration: read YAML or JSON, validate it against
// schema/daemon-config.schema.json (the documented source of truth, defaults included), then
// check what a schema cannot (addresses, prefixes, files). Any problem is a ConfigError whose
// `key` names the setting, e.g. `timers.retransmitMs`.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import type { ErrorObject } from 'ajv';
import type * as Yaml from 'yaml';
import { ConfigError } from '../errors.js';
import { inputProblem } from '../files.js';
import { controlSocketProblem } from './control.js';
import { parseAnyAddress, prefixMask } from '../selector/address.js';
import type { Family } from '../selector/types.js';
import { parsePeer } from '../strongswan/credentials.js';
import { formerKeys, type Discovery, type Limits, type RateLimit, type Timers } from '../ted/settings.js';
import type { LoadPolicyOptions } from '../policy/index.js';

export type Role = 'initiator' | 'responder' | 'both';
export type SourceKind = 'raw' | 'capture' | 'replay' | 'none';
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface Prefix {
  readonly text: string;
  readonly family: Family;
  readonly value: bigint;
  readonly length: number;
}

/** A setting given under a former name. */
export interface Deprecation {
  readonly key: string;
  readonly replacement: string;
}

/** The configuration after validation, defaults and path resolution. */
export interface DaemonConfig {
  /** The file it came from (absolute), or '(inline)'. */
  readonly file: string;
  readonly role: Role;
  readonly ike: {
    readonly address: string;
    readonly family: Family;
    readonly value: bigint;
    readonly port: number;
    readonly peerPort: number;
    readonly intercept: boolean;
  };
  readonly policy: { readonly file: string; readonly format: 'auto' | 'cisco' | 'classbench' | 'json'; readonly acl?: string; readonly cryptoMap?: string };
  readonly probe: { readonly source: 'host' | 'gateway' };
  /** The gateway's settings, by the names the API uses too (src/ted/settings.ts). */
  readonly timers: Readonly<Timers>;
  readonly limits: Readonly<Limits>;
  readonly rateLimit: Readonly<RateLimit>;
  readonly discovery: Readonly<Discovery>;
  /** Former names the file used (still read): the daemon warns with the current key. */
  readonly deprecated: readonly Deprecation[];
  readonly source: {
    readonly kind: SourceKind;
    readonly prefixes: readonly Prefix[];
    readonly protocols: readonly number[];
    readonly interface?: string;
    readonly file?: string;
    readonly batchSize: number;
    readonly forward: boolean;
  };
  readonly protects?: readonly Prefix[];
  /** What brings the SAs up: nothing (log only) or strongSwan's charon over VICI. */
  readonly handoff: HandoffConfig;
  readonly log: { readonly level: LogLevel; readonly pretty: 'auto' | 'always' | 'never'; readonly summaryIntervalMs: number; readonly bufferBytes: number };
  readonly control: { readonly socket: string };
}

export type HandoffConfig = { readonly kind: 'none' } | StrongswanConfig;

export interface StrongswanConfig {
  readonly kind: 'strongswan';
  readonly vici: string;
  readonly ikeVersion: 1 | 2;
  readonly proposals: readonly string[];
  readonly espProposals: readonly string[];
  readonly localPort: number;
  readonly remotePort: number;
  readonly encap: boolean;
  readonly dpdDelayS: number;
  readonly connectionPrefix: string;
  readonly initiateTimeoutMs: number;
  readonly maxChildSas: number;
  readonly kernel: 'netlink' | 'libipsec';
  readonly credentials:
    | { readonly kind: 'psk'; readonly secrets: readonly { readonly peers: readonly string[]; readonly secret?: string; readonly secretFile?: string }[] }
    | {
        readonly kind: 'certificates';
        readonly certificate: string;
        readonly privateKey: string;
        readonly privateKeyType: 'rsa' | 'ecdsa' | 'any';
        readonly caCertificates: readonly string[];
        readonly localId?: string;
        readonly remoteId: 'address' | 'any';
      };
}

const PROTOCOL_NUMBERS: Record<string, number> = { icmp: 1, tcp: 6, udp: 17, gre: 47, esp: 50, ah: 51, icmpv6: 58, sctp: 132 };

let validator: ((data: unknown) => boolean) & { errors?: ErrorObject[] | null } = undefined as never;

/** The JSON Schema, as shipped in the package. */
export function configSchema(): Record<string, unknown> {
  return JSON.parse(readFileSync(new URL('../../schema/daemon-config.schema.json', import.meta.url), 'utf8')) as Record<string, unknown>;
}

// The YAML parser and the schema validator load on first use: together they are most of the
// start-up time of a command that never reads a configuration (`ted decode`, `ted policy check`).
const requireLazy = createRequire(import.meta.url);

function getValidator() {
  if (!validator) {
    const Ajv2020Module = requireLazy('ajv/dist/2020.js') as { default?: unknown };
    const Ajv2020 = Ajv2020Module.default ?? Ajv2020Module;
    const ajv = new (Ajv2020 as unknown as new (o: object) => { compile(s: object): typeof validator })({ allErrors: true, useDefaults: true, strict: true });
    validator = ajv.compile(configSchema());
  }
  return validator;
}

/** JSON pointer `/timers/retransmitMs` -> `timers.retransmitMs`; array items as `source.prefixes[0]`. */
function keyOf(pointer: string, extra?: string): string {
  const parts = pointer.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (extra !== undefined) parts.push(extra);
  let out = '';
  for (const p of parts) out += /^\d+$/.test(p) ? `[${p}]` : out ? `.${p}` : p;
  return out || '(root)';
}

function closest(word: string, candidates: readonly string[]): string | undefined {
  const lw = word.toLowerCase();
  // A name cut short (`maxPending` for `maxPendingProbes`) is the likeliest slip: the shortest
  // name it begins.
  const prefixed = candidates.filter((c) => c.toLowerCase().startsWith(lw)).sort((a, b) => a.length - b.length);
  if (lw.length >= 4 && prefixed.length > 0) return prefixed[0];
  let best: string | undefined;
  let bestScore = Infinity;
  for (const c of candidates) {
    const d = editDistance(lw, c.toLowerCase());
    if (d < bestScore) {
      bestScore = d;
      best = c;
    }
  }
  return best !== undefined && bestScore <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length]!;
}

/** Turns one schema error into (code, key, message). */
function describe(e: ErrorObject, schema: Record<string, unknown>): { code: string; key: string; message: string } {
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'additionalProperties': {
      const name = String(p.additionalProperty);
      // Former names stay readable but are not offered: suggest and list current names only.
      const known = Object.entries(schemaAt(schema, e.schemaPath) ?? {})
        .filter(([, v]) => !(v as { deprecated?: boolean }).deprecated)
        .map(([k]) => k);
      const hint = closest(name, known);
      return { code: 'CONFIG_UNKNOWN_KEY', key: keyOf(e.instancePath, name), message: `unknown setting${hint ? ` (did you mean '${hint}'?)` : ''}; known: ${known.join(', ')}` };
    }
    case 'required':
      return { code: 'CONFIG_REQUIRED', key: keyOf(e.instancePath, String(p.missingProperty)), message: 'required setting is missing' };
    case 'type':
      return { code: 'CONFIG_TYPE', key: keyOf(e.instancePath), message: `must be ${p.type === 'integer' ? 'an integer' : `a${/^[aeiou]/.test(String(p.type)) ? 'n' : ''} ${p.type}`}` };
    case 'enum':
      return { code: 'CONFIG_ENUM', key: keyOf(e.instancePath), message: `must be one of ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}` };
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      return { code: 'CONFIG_RANGE', key: keyOf(e.instancePath), message: `must be ${String(p.comparison)} ${String(p.limit)}` };
    case 'minLength':
      return { code: 'CONFIG_EMPTY', key: keyOf(e.instancePath), message: 'must not be empty' };
    default:
      return { code: 'CONFIG_INVALID', key: keyOf(e.instancePath), message: e.message ?? 'invalid' };
  }
}

/** The `properties` object of the schema node that reported an additionalProperties error. */
function schemaAt(schema: Record<string, unknown>, schemaPath: string): Record<string, unknown> | undefined {
  const parts = schemaPath.replace(/^#\//, '').split('/').slice(0, -1);
  let node: unknown = schema;
  for (const part of parts) node = (node as Record<string, unknown> | undefined)?.[part];
  return (node as { properties?: Record<string, unknown> } | undefined)?.properties;
}

/** Parses `a.b.c.d/len` or `x::/len` (a bare address is a host prefix). */
export function parsePrefix(text: string, key: string): Prefix {
  const slash = text.indexOf('/');
  const addrText = slash < 0 ? text : text.slice(0, slash);
  const a = parseAnyAddress(addrText.trim());
  if (!a) throw new ConfigError('CONFIG_PREFIX', key, `'${text}' is not an IPv4 or IPv6 prefix (like 203.0.113.0/24 or 2001:db8:b::/48)`);
  const max = a.family === 4 ? 32 : 128;
  const length = slash < 0 ? max : Number(text.slice(slash + 1));
  if (!Number.isInteger(length) || length < 0 || length > max || (slash >= 0 && !/^\d+$/.test(text.slice(slash + 1).trim())))
    throw new ConfigError('CONFIG_PREFIX', key, `'${text}': prefix length must be 0..${max}`);
  if ((a.value & ~prefixMask(a.family, length) & (a.family === 4 ? 0xffffffffn : (1n << 128n) - 1n)) !== 0n)
    throw new ConfigError('CONFIG_PREFIX', key, `'${text}' has host bits set beyond /${length}`);
  return { text, family: a.family, value: a.value, length };
}

export interface LoadOptions {
  /** Settings from the command line that win over the file, e.g. { role: 'initiator' }. */
  readonly overrides?: { role?: Role; replay?: string; logLevel?: LogLevel; controlSocket?: string };
  /** Skip the check that files named in the configuration exist (for --print-setup). */
  readonly skipFileChecks?: boolean;
}

/** Reads and validates a configuration file (YAML, or JSON, which YAML also reads). */
export function loadConfig(path: string, options: LoadOptions = {}): DaemonConfig {
  let text: string;
  const file = resolve(path);
  // A directory, a FIFO (would block), /dev/zero (never ends) or a binary file: refused, named.
  const problem = inputProblem(file, { text: true });
  if (problem) throw new ConfigError('CONFIG_FILE', '(file)', `${path}: ${problem.reason}`);
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError('CONFIG_FILE', '(file)', `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err });
  }
  const { parseDocument } = requireLazy('yaml') as typeof Yaml;
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    const where = e.linePos?.[0] ? `${path}:${e.linePos[0].line}:${e.linePos[0].col}` : path;
    throw new ConfigError('CONFIG_PARSE', '(file)', `${where}: ${e.message.split('\n')[0]}`);
  }
  return validateConfig(doc.toJS(), { ...options, file, baseDir: dirname(file) });
}

/** Validates a configuration object (already parsed). Relative paths resolve against `baseDir`. */
export function validateConfig(raw: unknown, options: LoadOptions & { file?: string; baseDir?: string } = {}): DaemonConfig {
  if (raw === null || raw === undefined) throw new ConfigError('CONFIG_TYPE', '(root)', 'the configuration is empty; it needs at least ike.address and policy.file');
  // Defaults are filled into a copy (ajv's useDefaults mutates).
  const data = structuredClone(raw) as Record<string, unknown>;
  if (typeof data === 'object' && !Array.isArray(data)) {
    // Sections with only defaults may be absent: create them so the defaults inside are applied.
    for (const section of ['probe', 'timers', 'limits', 'rateLimit', 'discovery', 'source', 'handoff', 'log', 'control']) if (data[section] === undefined) data[section] = {};
  }
  const deprecated = findFormerKeys(data);
  const validate = getValidator();
  if (!validate(data)) {
    const schema = configSchema();
    const errs = (validate.errors ?? []).map((e) => describe(e, schema));
    const first = errs[0]!;
    const more = errs.length > 1 ? ` (and ${errs.length - 1} more: ${[...new Set(errs.slice(1).map((e) => e.key))].join(', ')})` : '';
    throw new ConfigError(first.code, first.key, first.message + more);
  }
  moveFormerKeys(data, deprecated);
  const o = options.overrides ?? {};
  const d = data as Record<string, Record<string, unknown>> & { role?: Role; protects?: string[] };
  const baseDir = options.baseDir ?? process.cwd();

  const ike = d.ike!;
  const ikeAddr = parseAnyAddress(String(ike.address).trim());
  if (!ikeAddr || ikeAddr.value === 0n) throw new ConfigError('CONFIG_ADDRESS', 'ike.address', `'${String(ike.address)}' is not a usable IPv4 or IPv6 address`);
  const family = ikeAddr.family;

  const src = d.source!;
  const prefixes = (src.prefixes as string[]).map((t, i) => parsePrefix(t, `source.prefixes[${i}]`));
  prefixes.forEach((p, i) => {
    if (p.family !== family) throw new ConfigError('CONFIG_FAMILY', `source.prefixes[${i}]`, `IPv${p.family} prefix but ike.address is IPv${family}`);
  });
  const protects = d.protects?.map((t, i) => parsePrefix(t, `protects[${i}]`));
  protects?.forEach((p, i) => {
    if (p.family !== family) throw new ConfigError('CONFIG_FAMILY', `protects[${i}]`, `IPv${p.family} prefix but ike.address is IPv${family}`);
  });
  const protocols = [...new Set((src.protocols as (string | number)[]).map((p) => (typeof p === 'number' ? p : PROTOCOL_NUMBERS[p]!)))];

  let kind = src.kind as SourceKind;
  let sourceFile = src.file === undefined ? undefined : resolve(baseDir, String(src.file));
  if (o.replay !== undefined) {
    kind = 'replay';
    sourceFile = resolve(o.replay);
  }
  // The file's role wins when it says both; otherwise the command (`ted initiator`) decides, and a
  // contradiction is an error rather than a silent choice.
  let role: Role = d.role ?? o.role ?? 'both';
  // (`ted daemon` gives no role: it runs as the file says, both by default.)
  if (d.role !== undefined && d.role !== 'both' && o.role !== undefined && o.role !== d.role)
    throw new ConfigError(
      'CONFIG_ROLE',
      'role',
      `the file says ${d.role} but the command is \`ted ${o.role === 'both' ? 'daemon' : o.role}\`; run \`ted ${d.role}\` or \`ted daemon\`, or set role to both`,
    );

  if (kind === 'replay' && sourceFile === undefined) throw new ConfigError('CONFIG_REQUIRED', 'source.file', 'source.kind is replay: name the capture file (or pass --replay FILE)');
  if (kind === 'capture' && src.interface === undefined) throw new ConfigError('CONFIG_REQUIRED', 'source.interface', 'source.kind is capture: name the interface facing the protected hosts');
  if ((kind === 'raw' || kind === 'capture') && prefixes.length === 0)
    throw new ConfigError('CONFIG_REQUIRED', 'source.prefixes', `source.kind is ${kind}: list the remote prefixes whose traffic is intercepted`);
  if (kind === 'raw' && family === 6)
    throw new ConfigError('CONFIG_SOURCE', 'source.kind', 'raw sockets cannot see the destination address of IPv6 packets (no IPv6 header on receive); use capture for IPv6');
  if (kind !== 'none' && role === 'responder')
    throw new ConfigError('CONFIG_SOURCE', 'source.kind', `a pure responder takes no packets; set role to initiator or both, or source.kind to none`);

  const policyFile = resolve(baseDir, String(d.policy!.file));
  if (d.policy!.acl !== undefined && d.policy!.cryptoMap !== undefined)
    throw new ConfigError('CONFIG_CONFLICT', 'policy.cryptoMap', 'give policy.acl or policy.cryptoMap, not both (the crypto map names its ACL)');
  const log = d.log!;
  const control = d.control!;
  const controlSocket = o.controlSocket ?? (control.socket === '' ? '' : resolve(baseDir, String(control.socket)));
  if (!options.skipFileChecks) {
    const policyProblem = inputProblem(policyFile, { text: true });
    if (policyProblem) throw new ConfigError('CONFIG_POLICY_FILE', 'policy.file', `${policyFile}: ${policyProblem.reason}`);
    const sourceProblem = kind === 'replay' && sourceFile ? inputProblem(sourceFile) : undefined;
    if (sourceProblem) throw new ConfigError('CONFIG_SOURCE_FILE', o.replay !== undefined ? '--replay' : 'source.file', `${sourceFile}: ${sourceProblem.reason}`);
    const socketProblem = controlSocket ? controlSocketProblem(controlSocket) : undefined;
    if (socketProblem) throw new ConfigError('CONFIG_CONTROL_SOCKET', o.controlSocket !== undefined ? '--control' : 'control.socket', socketProblem);
  }

  const t = d.timers!;
  if ((t.tunnelIdleMs as number) > (t.tunnelLifetimeMs as number))
    throw new ConfigError('CONFIG_RANGE', 'timers.tunnelIdleMs', `must not exceed timers.tunnelLifetimeMs (${String(t.tunnelLifetimeMs)})`);

  const handoff = handoffConfig(d.handoff as Record<string, unknown>, family, baseDir, options.skipFileChecks === true);
  if (handoff.kind === 'strongswan' && src.forward === true)
    throw new ConfigError('CONFIG_CONFLICT', 'source.forward', 'with handoff.kind strongswan the IPsec SAs carry the packets; re-sending them in clear as well would duplicate them (set source.forward to false)');
  return {
    file: options.file ?? '(inline)',
    role,
    ike: { address: String(ike.address).trim(), family, value: ikeAddr.value, port: ike.port as number, peerPort: ike.peerPort as number, intercept: ike.intercept as boolean },
    policy: {
      file: policyFile,
      format: d.policy!.format as DaemonConfig['policy']['format'],
      ...(d.policy!.acl !== undefined ? { acl: String(d.policy!.acl) } : {}),
      ...(d.policy!.cryptoMap !== undefined ? { cryptoMap: String(d.policy!.cryptoMap).trim() } : {}),
    },
    probe: { source: d.probe!.source as 'host' | 'gateway' },
    timers: t as unknown as Timers,
    limits: d.limits as unknown as Limits,
    rateLimit: d.rateLimit as unknown as RateLimit,
    discovery: d.discovery as unknown as Discovery,
    deprecated,
    source: {
      kind,
      prefixes,
      protocols,
      ...(src.interface !== undefined ? { interface: String(src.interface) } : {}),
      ...(sourceFile !== undefined ? { file: sourceFile } : {}),
      batchSize: src.batchSize as number,
      forward: src.forward as boolean,
    },
    ...(protects ? { protects } : {}),
    handoff,
    log: {
      level: o.logLevel ?? (log.level as LogLevel),
      pretty: log.pretty as 'auto' | 'always' | 'never',
      summaryIntervalMs: log.summaryIntervalMs as number,
      bufferBytes: log.bufferBytes as number,
    },
    control: { socket: controlSocket },
  };
}

/** The handoff section after the schema: what a schema cannot check (peers, files, one of secret/secretFile). */
function handoffConfig(h: Record<string, unknown>, family: Family, baseDir: string, skipFileChecks: boolean): HandoffConfig {
  if (h.kind !== 'strongswan') {
    for (const k of Object.keys(h)) if (k !== 'kind' && !(k in HANDOFF_DEFAULT_KEYS)) throw new ConfigError('CONFIG_CONFLICT', `handoff.${k}`, 'only used with handoff.kind strongswan');
    return { kind: 'none' };
  }
  const vici = String(h.vici);
  if (/^[a-z]+:\/\//i.test(vici) && !vici.startsWith('unix://')) throw new ConfigError('CONFIG_INVALID', 'handoff.vici', `'${vici}': only unix:// sockets (or a path)`);
  const c = h.credentials as Record<string, unknown> | undefined;
  if (!c) throw new ConfigError('CONFIG_REQUIRED', 'handoff.credentials', 'handoff.kind strongswan needs credentials: pre-shared keys (kind psk) or certificates');
  const file = (key: string, v: unknown): string => {
    const p = resolve(baseDir, String(v));
    const problem = skipFileChecks ? undefined : inputProblem(p);
    if (problem) throw new ConfigError('CONFIG_FILE', key, `${p}: ${problem.reason}`);
    return p;
  };
  let credentials: StrongswanConfig['credentials'];
  if (c.kind === 'psk') {
    for (const k of ['certificate', 'privateKey', 'caCertificates', 'localId']) if (c[k] !== undefined) throw new ConfigError('CONFIG_CONFLICT', `handoff.credentials.${k}`, 'a certificates setting under credentials.kind psk');
    const secrets = (c.secrets as Record<string, unknown>[] | undefined) ?? [];
    if (secrets.length === 0) throw new ConfigError('CONFIG_REQUIRED', 'handoff.credentials.secrets', 'credentials.kind psk: list at least one key and its peers');
    credentials = {
      kind: 'psk',
      secrets: secrets.map((e, i) => {
        const key = `handoff.credentials.secrets[${i}]`;
        if ((e.secret === undefined) === (e.secretFile === undefined)) throw new ConfigError('CONFIG_INVALID', key, 'give exactly one of secret and secretFile');
        const peers = (e.peers as string[]).map((p, j) => {
          try {
            const m = parsePeer(p, `${key}.peers[${j}]`);
            if (m.family !== 0 && m.family !== family) throw new ConfigError('CONFIG_FAMILY', `${key}.peers[${j}]`, `IPv${m.family} peer but ike.address is IPv${family}`);
          } catch (err) {
            if (err instanceof ConfigError) throw err;
            throw new ConfigError('CONFIG_ADDRESS', `${key}.peers[${j}]`, `'${p}' is not an address, a prefix or any`);
          }
          return p;
        });
        return { peers, ...(e.secret !== undefined ? { secret: String(e.secret) } : { secretFile: file(`${key}.secretFile`, e.secretFile) }) };
      }),
    };
  } else {
    if (c.secrets !== undefined) throw new ConfigError('CONFIG_CONFLICT', 'handoff.credentials.secrets', 'pre-shared keys under credentials.kind certificates');
    for (const k of ['certificate', 'privateKey', 'caCertificates'] as const) if (c[k] === undefined) throw new ConfigError('CONFIG_REQUIRED', `handoff.credentials.${k}`, 'credentials.kind certificates needs certificate, privateKey and caCertificates');
    const cas = c.caCertificates as string[];
    if (cas.length === 0) throw new ConfigError('CONFIG_REQUIRED', 'handoff.credentials.caCertificates', 'at least one CA certificate');
    credentials = {
      kind: 'certificates',
      certificate: file('handoff.credentials.certificate', c.certificate),
      privateKey: file('handoff.credentials.privateKey', c.privateKey),
      privateKeyType: c.privateKeyType as 'rsa' | 'ecdsa' | 'any',
      caCertificates: cas.map((f, i) => file(`handoff.credentials.caCertificates[${i}]`, f)),
      ...(c.localId !== undefined ? { localId: String(c.localId) } : {}),
      remoteId: c.remoteId as 'address' | 'any',
    };
  }
  return {
    kind: 'strongswan',
    vici,
    ikeVersion: h.ikeVersion as 1 | 2,
    proposals: h.proposals as string[],
    espProposals: h.espProposals as string[],
    localPort: h.localPort as number,
    remotePort: h.remotePort as number,
    encap: h.encap as boolean,
    dpdDelayS: h.dpdDelayS as number,
    connectionPrefix: (h.connectionPrefix as string | undefined) ?? (family === 6 ? 'ted6' : 'ted'),
    initiateTimeoutMs: h.initiateTimeoutMs as number,
    maxChildSas: h.maxChildSas as number,
    kernel: h.kernel as 'netlink' | 'libipsec',
    credentials,
  };
}

/** Keys the schema fills with defaults whatever the kind (so their presence says nothing). */
const HANDOFF_DEFAULT_KEYS = { vici: 1, ikeVersion: 1, proposals: 1, espProposals: 1, localPort: 1, remotePort: 1, encap: 1, dpdDelayS: 1, initiateTimeoutMs: 1, maxChildSas: 1, kernel: 1 };

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Settings given under a former name (`timers.retransmitMs`, `bounds.*`). Both names at once is
 * an error: which one was meant cannot be guessed.
 */
function findFormerKeys(data: unknown): Deprecation[] {
  if (!isObject(data)) return [];
  const found: Deprecation[] = [];
  for (const [old, current] of formerKeys()) {
    const [os, ok] = old.split('.') as [string, string];
    const [ns, nk] = current.split('.') as [string, string];
    const from = data[os];
    if (!isObject(from) || !(ok in from)) continue;
    const to = data[ns];
    if (isObject(to) && nk in to) throw new ConfigError('CONFIG_CONFLICT', old, `former name of ${current}, which is also set; keep only ${current}`);
    found.push({ key: old, replacement: current });
  }
  return found;
}

/** After validation (so errors name the key the file used): each former key's value moves to its current key. */
function moveFormerKeys(data: Record<string, unknown>, found: readonly Deprecation[]): void {
  for (const { key, replacement } of found) {
    const [os, ok] = key.split('.') as [string, string];
    const [ns, nk] = replacement.split('.') as [string, string];
    const from = data[os] as Record<string, unknown>;
    const to = (isObject(data[ns]) ? data[ns] : (data[ns] = {})) as Record<string, unknown>;
    to[nk] = from[ok];
    delete from[ok];
    if (Object.keys(from).length === 0 && os !== ns) delete data[os];
  }
}

/** True when `addr` (numeric, same family) lies in one of `prefixes`. */
export function inPrefixes(prefixes: readonly Prefix[], family: Family, addr: bigint): boolean {
  for (const p of prefixes) if (p.family === family && (addr & prefixMask(family, p.length)) === p.value) return true;
  return false;
}

/** The policy loader's options for a configuration's `policy` section. */
export function policyLoadOptions(p: DaemonConfig['policy']): LoadPolicyOptions {
  return {
    ...(p.format !== 'auto' ? { format: p.format } : {}),
    ...(p.acl !== undefined ? { acl: p.acl } : {}),
    ...(p.cryptoMap !== undefined ? { cryptoMap: p.cryptoMap } : {}),
  };
}
