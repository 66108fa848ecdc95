// What the handoff tells charon over VICI: the load-conn messages (swanctl.conf(5) keys) for a
// discovered tunnel and for a responder's ACL, charon's traffic-selector text read back, and the
// reason an initiation failed, read from its control-log lines.
import { parseAnyAddress } from '../selector/address.js';
import type { Family } from '../selector/types.js';
import type { ViciInput } from '../vici/message.js';
import { systemNetDb, type NetDb } from './netdb.js';
import { formatTrafficSelector, type ChildSelectors, type TrafficSelector } from './selectors.js';

/** How we authenticate and whom we accept (built by credentials.ts). */
export interface AuthSections {
  readonly local: ViciInput;
  readonly remote: ViciInput;
}

export interface IkeSettings {
  readonly ikeVersion: 1 | 2;
  /** Our IKE address (local_addrs). */
  readonly localAddress: string;
  readonly localPort: number;
  readonly remotePort: number;
  /** IKE proposals (swanctl syntax); empty = charon's defaults. */
  readonly proposals: readonly string[];
  /** ESP proposals; empty = charon's defaults. */
  readonly espProposals: readonly string[];
  /** Force UDP encapsulation of ESP (ESP-in-UDP on the NAT-T port; kernel-libipsec needs it). */
  readonly encap: boolean;
  /** Dead peer detection interval in seconds (0 = off): how a restarted or vanished peer is noticed. */
  readonly dpdDelayS: number;
}

function ikeSection(s: IkeSettings, auth: AuthSections, remote: string | undefined): ViciInput {
  return {
    version: s.ikeVersion,
    local_addrs: [s.localAddress],
    ...(remote !== undefined ? { remote_addrs: [remote] } : {}),
    local_port: s.localPort,
    remote_port: s.remotePort,
    ...(s.proposals.length ? { proposals: s.proposals } : {}),
    encap: s.encap,
    mobike: false,
    ...(s.dpdDelayS > 0 ? { dpd_delay: `${s.dpdDelayS}s` } : {}),
    keyingtries: 1,
    local: auth.local,
    remote: auth.remote,
  };
}

function childSection(s: IkeSettings, local: readonly string[], remote: readonly string[]): ViciInput {
  return {
    local_ts: local,
    remote_ts: remote,
    mode: 'tunnel',
    ...(s.espProposals.length ? { esp_proposals: s.espProposals } : {}),
    start_action: 'none',
    // A dead peer clears the SA (and we hear child-updown down); no trap, no restart behind our back.
    dpd_action: 'clear',
    close_action: 'none',
  };
}

/** Children of a tunnel connection: `name` for one CHILD_SA, `name-1`, `name-2`, ... for a split proxy. */
export function childNames(name: string, count: number): string[] {
  return count === 1 ? [name] : Array.from({ length: count }, (_, i) => `${name}-${i + 1}`);
}

/** load-conn for a discovered tunnel: connection `name` to `peer`, one child per CHILD_SA of the proxy. */
export function tunnelConnection(name: string, peer: string, children: readonly ChildSelectors[], s: IkeSettings, auth: AuthSections): ViciInput {
  const names = childNames(name, children.length);
  const kids: ViciInput = {};
  children.forEach((c, i) => {
    kids[names[i]!] = childSection(s, c.local.map(formatTrafficSelector), c.remote.map(formatTrafficSelector));
  });
  return { [name]: { ...ikeSection(s, auth, peer), children: kids } };
}

/** load-conn for a responder: one connection (remote any), one child per ACL entry it can express. */
export function responderConnection(name: string, children: readonly { name: string; local: readonly string[]; remote: readonly string[] }[], s: IkeSettings, auth: AuthSections): ViciInput {
  const kids: ViciInput = {};
  for (const c of children) kids[c.name] = childSection(s, c.local, c.remote);
  return { [name]: { ...ikeSection(s, auth, undefined), children: kids } };
}

/** A traffic selector as a range, to compare what charon installed with what was proposed. */
export interface TsRange {
  readonly family: Family;
  readonly protocol: number;
  readonly from: bigint;
  readonly to: bigint;
  readonly portLo: number;
  readonly portHi: number;
}

export function tsKey(r: TsRange): string {
  return `${r.family}|${r.protocol}|${r.from}|${r.to}|${r.portLo}|${r.portHi}`;
}

export function rangeOf(ts: TrafficSelector): TsRange {
  const width = ts.family === 4 ? 32 : 128;
  const size = 1n << BigInt(width - ts.block.prefix);
  return { family: ts.family, protocol: ts.protocol, from: ts.block.value, to: ts.block.value + size - 1n, portLo: ts.ports.lo, portHi: ts.ports.hi };
}

/**
 * Reads charon's text of a selector (`192.0.2.0/24[tcp/http]`, `10.0.0.1..10.0.0.9[17]`,
 * `2001:db8::/64[udp/1000-2000]`, `0.0.0.0/0`). Undefined when it cannot be read exactly (ICMP
 * type/code, OPAQUE, dynamic, an unknown name): the caller then cannot verify, and says so.
 */
export function parseCharonTs(text: string, db: NetDb = systemNetDb()): TsRange | undefined {
  const m = /^([^[\]]+?)(?:\[([^/\]]*)(?:\/([^\]]*))?\])?$/.exec(text.trim());
  if (!m) return undefined;
  const [, net, protoText, portText] = m;
  let family: Family;
  let from: bigint;
  let to: bigint;
  const dots = net!.indexOf('..');
  if (dots >= 0) {
    const a = parseAnyAddress(net!.slice(0, dots));
    const b = parseAnyAddress(net!.slice(dots + 2));
    if (!a || !b || a.family !== b.family) return undefined;
    family = a.family;
    from = a.value;
    to = b.value;
  } else {
    const slash = net!.indexOf('/');
    const a = parseAnyAddress(slash < 0 ? net! : net!.slice(0, slash));
    if (!a) return undefined;
    family = a.family;
    const width = family === 4 ? 32 : 128;
    const len = slash < 0 ? width : Number(net!.slice(slash + 1));
    if (!Number.isInteger(len) || len < 0 || len > width) return undefined;
    const size = 1n << BigInt(width - len);
    from = a.value & ~(size - 1n);
    to = from + size - 1n;
  }
  let protocol = 0;
  let protoName: string | undefined;
  if (protoText !== undefined && protoText !== '') {
    if (/^\d+$/.test(protoText)) protocol = Number(protoText);
    else {
      const p = db.protocol(protoText);
      if (p === undefined) return undefined;
      protocol = p;
      protoName = protoText;
    }
  }
  let portLo = 0;
  let portHi = 65535;
  if (portText !== undefined) {
    if (protocol === 1 || protocol === 58 || portText === 'OPAQUE') return undefined;
    const range = /^(\d+)-(\d+)$/.exec(portText);
    if (range) {
      portLo = Number(range[1]);
      portHi = Number(range[2]);
    } else if (/^\d+$/.test(portText)) portLo = portHi = Number(portText);
    else {
      const p = db.port(portText, protoName ?? String(protocol));
      if (p === undefined) return undefined;
      portLo = portHi = p;
    }
  }
  return { family, protocol, from, to, portLo, portHi };
}

/** Why an initiation failed, read from charon's control-log lines (the first symptom wins: later lines are its consequences). */
export type FailureReason =
  | 'authentication'
  | 'ts-unacceptable'
  | 'no-proposal'
  | 'invalid-syntax'
  | 'timeout'
  | 'install'
  | 'no-credentials'
  | 'narrowed'
  | 'selectors'
  | 'no-local-address'
  | 'charon-unavailable'
  | 'charon-error'
  | 'ike-failed';

const PATTERNS: [RegExp, FailureReason][] = [
  [/AUTHENTICATION_FAILED|authentication of .* failed|constraint check failed|no trusted .* public key found/i, 'authentication'],
  [/TS_UNACCEPTABLE/, 'ts-unacceptable'],
  [/NO_PROPOSAL_CHOSEN|no acceptable proposal found/i, 'no-proposal'],
  [/INVALID_SYNTAX/, 'invalid-syntax'],
  [/giving up after \d+ retransmits|peer not responding/i, 'timeout'],
  [/unable to install|error installing route|installing route failed/i, 'install'],
  [/no shared key found|no private key found|no PSK found/i, 'no-credentials'],
];

export function classifyFailure(lines: readonly string[]): FailureReason {
  let found: FailureReason | undefined;
  for (const line of lines) for (const [re, reason] of PATTERNS) if (re.test(line)) found ??= reason;
  return found ?? 'ike-failed';
}
