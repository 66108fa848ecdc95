// The gateway's settings, defined once: names, defaults, ranges and meanings of the timers, the
// bounds and the responder's rate limit. The API (GatewayOptions), the daemon configuration (the
// same sections and names in YAML/JSON), the JSON schema and the README tables all come from this
// table or are checked against it by test/settings.test.ts.
import { TedError } from '../errors.js';

export interface SettingSpec {
  readonly type: 'integer' | 'number';
  readonly default: number;
  /** Smallest value (inclusive unless `exclusiveMinimum`). */
  readonly minimum: number;
  readonly exclusiveMinimum?: boolean;
  /** Largest finite value a configuration file may give. */
  readonly maximum: number;
  /** The API also takes Infinity (never / no limit); a file cannot say Infinity. */
  readonly infinity?: string;
  readonly unit?: string;
  readonly description: string;
  /** Names this setting had before (daemon configuration keys, still read with a warning). */
  readonly formerly?: readonly string[];
  /** A setting of the daemon (configuration file only), not of the gateway API. */
  readonly daemonOnly?: boolean;
}

export const SETTINGS = {
  timers: {
    probeTimeoutMs: {
      type: 'integer',
      default: 1000,
      minimum: 1,
      maximum: 600_000,
      unit: 'ms',
      description: 'Wait for a response before the first retransmission; multiplied by backoffFactor after each.',
      formerly: ['timers.retransmitMs'],
    },
    probeTries: {
      type: 'integer',
      default: 3,
      minimum: 1,
      maximum: 20,
      description: 'Transmissions of one probe (the first included) before the discovery fails.',
      formerly: ['timers.retries'],
    },
    backoffFactor: { type: 'number', default: 2, minimum: 1, maximum: 10, description: 'Each retransmission waits this many times longer than the one before.' },
    holdDownMs: {
      type: 'integer',
      default: 60_000,
      minimum: 0,
      maximum: 86_400_000,
      unit: 'ms',
      description: 'After a failed discovery, no new probe to the destination for this long.',
    },
    tunnelLifetimeMs: {
      type: 'integer',
      default: 3_600_000,
      minimum: 1000,
      maximum: 604_800_000,
      infinity: 'never',
      unit: 'ms',
      description: 'A tunnel is removed this long after it was negotiated.',
    },
    tunnelIdleMs: {
      type: 'integer',
      default: 300_000,
      minimum: 1000,
      maximum: 604_800_000,
      infinity: 'never',
      unit: 'ms',
      description: 'A tunnel no packet used for this long is removed (at most tunnelLifetimeMs).',
    },
  },
  limits: {
    maxTunnels: {
      type: 'integer',
      default: 65_536,
      minimum: 1,
      maximum: 10_000_000,
      description: 'Tunnels (negotiated and established) at once; when full a new tunnel is refused and counted.',
      formerly: ['bounds.maxTunnels'],
    },
    maxPendingProbes: {
      type: 'integer',
      default: 4096,
      minimum: 1,
      maximum: 1_000_000,
      description: 'Probes awaiting a response at once; when full no probe is sent (the packet is still dropped) and it is counted.',
      formerly: ['bounds.maxPendingProbes'],
    },
    maxHoldDowns: {
      type: 'integer',
      default: 16_384,
      minimum: 1,
      maximum: 1_000_000,
      description: 'Destinations held down at once; when full a new hold-down is not recorded (counted).',
      formerly: ['bounds.maxHoldDowns'],
    },
    flowCacheEntries: {
      type: 'integer',
      default: 65_536,
      minimum: 16,
      maximum: 16_777_216,
      description: 'IPv4 flows in the flow cache in front of the tunnel table (IPv6 gets a sixteenth); older flows are evicted.',
      formerly: ['bounds.flowCacheEntries'],
    },
    maxPendingPerSource: {
      type: 'integer',
      default: 64,
      minimum: 1,
      maximum: 1_000_000,
      description: 'Pending probes one source host (the source of the dropped packets) may hold; beyond, its packets are dropped without a probe (counted).',
    },
    maxHoldDownsPerSource: {
      type: 'integer',
      default: 512,
      minimum: 1,
      maximum: 1_000_000,
      description: 'Hold-downs one source host may cause; beyond, its failures are not held down (counted).',
    },
    sourceReservePercent: {
      type: 'integer',
      default: 10,
      minimum: 0,
      maximum: 90,
      description: 'Share of the pending-probe and hold-down tables kept for source hosts that hold none: a host already holding entries cannot fill the last part.',
    },
  },
  rateLimit: {
    responsesPerSecond: {
      type: 'number',
      default: 20,
      minimum: 0,
      exclusiveMinimum: true,
      maximum: 1_000_000,
      infinity: 'no limit',
      description: 'Responder: sustained answers per second to one initiator address.',
    },
    burst: { type: 'integer', default: 40, minimum: 1, maximum: 1_000_000, description: 'Responder: answers one initiator may get in a burst.' },
    maxInitiators: {
      type: 'integer',
      default: 65_536,
      minimum: 1,
      maximum: 16_777_216,
      description: 'Responder: token buckets of the per-initiator and the per-prefix tables (fixed, hashed: addresses that share a bucket share its answers; nothing is ever evicted).',
    },
    prefixResponsesPerSecond: {
      type: 'number',
      default: 100,
      minimum: 0,
      exclusiveMinimum: true,
      maximum: 1_000_000,
      infinity: 'no limit',
      description: 'Responder: sustained answers per second to all initiator addresses of one prefix (prefixLength4/6), so that spreading identities over a network does not multiply the answers.',
    },
    prefixBurst: { type: 'integer', default: 200, minimum: 1, maximum: 1_000_000, description: 'Responder: answers one initiator prefix may get in a burst.' },
    prefixLength4: { type: 'integer', default: 24, minimum: 0, maximum: 32, description: 'Responder: IPv4 initiators in one prefix of this length share a prefix budget.' },
    prefixLength6: { type: 'integer', default: 56, minimum: 0, maximum: 128, description: 'Responder: IPv6 initiators in one prefix of this length share a prefix budget.' },
    globalResponsesPerSecond: {
      type: 'number',
      default: 1000,
      minimum: 0,
      exclusiveMinimum: true,
      maximum: 10_000_000,
      infinity: 'no limit',
      description: 'Responder: sustained answers per second in total, whoever asks.',
    },
    globalBurst: { type: 'integer', default: 2000, minimum: 1, maximum: 10_000_000, description: 'Responder: answers in a burst in total.' },
  },
  discovery: {
    destinationPrefix4: {
      type: 'integer',
      default: 0,
      minimum: 0,
      maximum: 32,
      description: "Initiator: a tunnel covers at most this prefix around P's destination (the intersection is narrowed to it), so that one answer cannot draw a whole ACL entry's traffic; 0 = as wide as the intersection.",
    },
    destinationPrefix6: { type: 'integer', default: 0, minimum: 0, maximum: 128, description: 'Initiator: the same for IPv6 destinations; 0 = as wide as the intersection.' },
  },
  log: {
    summaryIntervalMs: {
      type: 'integer',
      default: 10_000,
      minimum: 0,
      maximum: 3_600_000,
      unit: 'ms',
      description: 'Daemon: per-packet events are logged at debug and counted; one summary line per kind of event every interval (0: only at stop).',
      daemonOnly: true,
    },
    bufferBytes: {
      type: 'integer',
      default: 1_048_576,
      minimum: 4096,
      maximum: 1_073_741_824,
      description: 'Daemon: log text held while stderr is slow; beyond, lines are dropped and counted (a "log-dropped" line says how many).',
      daemonOnly: true,
    },
  },
} as const satisfies Record<string, Record<string, SettingSpec>>;

export type SettingsSection = keyof typeof SETTINGS;
export const SETTINGS_SECTIONS = Object.keys(SETTINGS) as SettingsSection[];

type Values<S extends SettingsSection> = { -readonly [K in keyof (typeof SETTINGS)[S]]: number };
export type Timers = Values<'timers'>;
export type Limits = Values<'limits'>;
export type RateLimit = Values<'rateLimit'>;
export type Discovery = Values<'discovery'>;
export type LogSettings = Values<'log'>;

function defaults<S extends SettingsSection>(section: S): Readonly<Values<S>> {
  const out: Record<string, number> = {};
  for (const [k, spec] of Object.entries(SETTINGS[section])) out[k] = (spec as SettingSpec).default;
  return Object.freeze(out) as Values<S>;
}

export const DEFAULT_TIMERS = defaults('timers');
export const DEFAULT_LIMITS = defaults('limits');
export const DEFAULT_RATE_LIMIT = defaults('rateLimit');
export const DEFAULT_DISCOVERY = defaults('discovery');
export const DEFAULT_LOG_SETTINGS = defaults('log');

/** Every setting as `section.key` with its spec, in table order. */
export function allSettings(): { key: string; section: SettingsSection; name: string; spec: SettingSpec }[] {
  const out: { key: string; section: SettingsSection; name: string; spec: SettingSpec }[] = [];
  for (const section of SETTINGS_SECTIONS)
    for (const [name, spec] of Object.entries(SETTINGS[section])) out.push({ key: `${section}.${name}`, section, name, spec: spec as SettingSpec });
  return out;
}

/** Old key (`timers.retransmitMs`) -> current key (`timers.probeTimeoutMs`). */
export function formerKeys(): Map<string, string> {
  const m = new Map<string, string>();
  for (const s of allSettings()) for (const old of s.spec.formerly ?? []) m.set(old, s.key);
  return m;
}

/** The API's names before they were unified with the configuration's, for a helpful error. */
const FORMER_API_NAMES: Record<string, string> = {
  'limits.maxPending': 'limits.maxPendingProbes',
  'limits.flowCacheSize': 'limits.flowCacheEntries',
  'limits.answersPerSecond': 'rateLimit.responsesPerSecond',
  'limits.answerBurst': 'rateLimit.burst',
  'limits.maxRateEntries': 'rateLimit.maxInitiators',
};

/**
 * Fills defaults into one section of API options and checks every value: an unknown name, a
 * value that is not a number or is out of range is a TedError TED_BAD_SETTING naming the key.
 */
export function resolveSection<S extends SettingsSection>(section: S, given: Partial<Record<string, number>> | undefined): Readonly<Values<S>> {
  const specs = SETTINGS[section] as Record<string, SettingSpec>;
  const out: Record<string, number> = { ...defaults(section) };
  for (const [name, value] of Object.entries(given ?? {})) {
    const key = `${section}.${name}`;
    const spec = specs[name];
    if (!spec) {
      const renamed = FORMER_API_NAMES[key];
      const known = Object.keys(specs).join(', ');
      throw new TedError('TED_BAD_SETTING', `${key}: unknown setting${renamed ? ` (renamed ${renamed})` : ''}; known: ${known}`);
    }
    if (value === undefined) continue;
    const why = checkValue(spec, value);
    if (why) throw new TedError('TED_BAD_SETTING', `${key}: ${why}`);
    out[name] = value;
  }
  return Object.freeze(out) as Values<S>;
}

function checkValue(spec: SettingSpec, v: unknown): string | undefined {
  if (typeof v !== 'number' || Number.isNaN(v)) return `must be a number, got ${JSON.stringify(v) ?? String(v)}`;
  if (v === Infinity) return spec.infinity ? undefined : 'must be finite';
  if (spec.type === 'integer' && !Number.isInteger(v)) return `must be an integer, got ${v}`;
  if (spec.exclusiveMinimum ? v <= spec.minimum : v < spec.minimum) return `must be ${spec.exclusiveMinimum ? '>' : '>='} ${spec.minimum}, got ${v}`;
  if (v > spec.maximum) return `must be <= ${spec.maximum}${spec.infinity ? ` (or Infinity: ${spec.infinity})` : ''}, got ${v}`;
  return undefined;
}

/** The schema node of one setting (schema/daemon-config.schema.json is checked against these). */
export function schemaProperty(spec: SettingSpec): Record<string, unknown> {
  return {
    description: spec.description + (spec.unit === 'ms' ? ' Milliseconds.' : ''),
    type: spec.type,
    ...(spec.exclusiveMinimum ? { exclusiveMinimum: spec.minimum } : { minimum: spec.minimum }),
    maximum: spec.maximum,
    default: spec.default,
  };
}

const SECTION_DESCRIPTIONS: Record<SettingsSection, string> = {
  timers: 'Probe retransmission, hold-down and tunnel timers.',
  limits: 'Upper limits; when one is full the new item is refused and counted (nothing grows without limit).',
  rateLimit: 'Responder: answer budgets per initiator address, per initiator prefix and in total.',
  discovery: 'Initiator: what a discovery may yield.',
  log: 'Logs: level, format, summaries and the write buffer.',
};

/**
 * The schema nodes of the settings sections (timers, limits, rateLimit), plus the former names:
 * deprecated properties without defaults, and the deprecated `bounds` section. The daemon
 * reads former names with a warning naming the current key.
 */
export function schemaSections(): Record<string, Record<string, unknown>> {
  const out: Record<string, { description: string; type: 'object'; additionalProperties: false; properties: Record<string, unknown>; deprecated?: true }> = {};
  for (const section of SETTINGS_SECTIONS) {
    const properties: Record<string, unknown> = {};
    for (const [name, spec] of Object.entries(SETTINGS[section])) properties[name] = schemaProperty(spec as SettingSpec);
    out[section] = { description: SECTION_DESCRIPTIONS[section], type: 'object', additionalProperties: false, properties };
  }
  for (const { key, spec } of allSettings())
    for (const old of spec.formerly ?? []) {
      const [section, name] = old.split('.') as [string, string];
      out[section] ??= { description: `Deprecated: the same settings under ${key.split('.')[0]}.`, type: 'object', additionalProperties: false, properties: {}, deprecated: true };
      const { default: _d, description: _t, ...constraints } = schemaProperty(spec);
      out[section].properties[name] = { description: `Deprecated: use ${key}.`, deprecated: true, ...constraints };
    }
  return out;
}

/** The markdown table of every setting (README.md and docs/deployment.md carry it verbatim). */
export function settingsTable(): string {
  const rows = allSettings().map(({ key, spec }) => {
    const range = `${spec.exclusiveMinimum ? '>' : ''}${String(spec.minimum)}..${String(spec.maximum)}${spec.infinity ? ` (API: Infinity = ${spec.infinity})` : ''}`;
    const was = spec.formerly?.length ? ` Formerly ${spec.formerly.map((f) => `\`${f}\``).join(', ')}.` : '';
    return `| \`${key}\` | ${String(spec.default)} | ${range} | ${spec.description}${was} |`;
  });
  return ['| setting | default | range | meaning |', '| --- | --- | --- | --- |', ...rows].join('\n');
}
