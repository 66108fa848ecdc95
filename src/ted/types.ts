// The gateway's public vocabulary: options, verdicts, tunnels, the handoff and the events it emits.
import type { Classifier, EngineName } from '../classify/types.js';
import type { TedIdentity, TedSummary } from '../ike/ted-types.js';
import type { Field } from '../selector/algebra.js';
import type { Policy, Selector, Tuple } from '../selector/types.js';
import type { Clock, Transport } from '../transport/types.js';
import type { Discovery, Limits, RateLimit, Timers } from './settings.js';
import type { TedWire } from './wire.js';

/** Verdict codes written by `gateway.process` (one byte per packet). */
export const FORWARD = 1;
export const BYPASS = 2;
export const DROP = 3;
export type VerdictCode = typeof FORWARD | typeof BYPASS | typeof DROP;
export const VERDICT_NAMES = ['', 'FORWARD', 'BYPASS', 'DROP'] as const;

export type Role = 'initiator' | 'responder' | 'both';

export type { Discovery, Limits, RateLimit, Timers } from './settings.js';
export { DEFAULT_DISCOVERY, DEFAULT_LIMITS, DEFAULT_RATE_LIMIT, DEFAULT_TIMERS } from './settings.js';

export type TunnelState = 'negotiated' | 'established';

/** A tunnel as the API shows it (a snapshot). */
export interface TunnelInfo {
  readonly id: number;
  readonly state: TunnelState;
  /** The responder's IKE address (its ID payload). */
  readonly peer: TedIdentity;
  /** The negotiated proxy, in our orientation (source = our side). */
  readonly proxy: Selector;
  /** Ordinal of our ACL entry the tunnel serves. */
  readonly entry: number;
  readonly icookie: bigint;
  readonly rcookie: bigint;
  /** 3 = intersection (this design), 2 = merged half proxies (compatibility mode). */
  readonly tedVersion: 2 | 3;
  readonly negotiatedAt: number;
  readonly establishedAt?: number;
  readonly lastUsed: number;
  readonly expiresAt: number;
  readonly packets: number;
}

/** Why a tunnel left the table. `ike-down`: the handoff reported its SAs gone (HandoffSink). */
export type TeardownReason = 'api' | 'lifetime' | 'idle' | 'handoff-failed' | 'ike-down' | 'closed';

/**
 * Whatever brings the IPsec SAs up with the negotiated proxies (IKE). `bringUp` returning or
 * resolving true/undefined marks the tunnel ESTABLISHED; false, a rejection or a throw removes it
 * (counted as a handoff failure, destination held down). The gateway calls `attach` once, at
 * construction, with the sink through which the handoff reports later events.
 */
export interface Handoff {
  bringUp(tunnel: TunnelInfo): boolean | void | Promise<boolean | void>;
  tearDown?(tunnel: TunnelInfo, reason: TeardownReason): void;
  attach?(sink: HandoffSink): void;
  /** What the handoff knows of a tunnel's SAs, JSON-ready (`ted status` shows it), or undefined. */
  status?(tunnel: TunnelInfo): Readonly<Record<string, unknown>> | undefined;
}

/** How a handoff tells the gateway about a tunnel after bringUp. */
export interface HandoffSink {
  /**
   * The tunnel's SAs are gone (IKE SA or CHILD_SA down, peer restarted): the gateway removes it,
   * holds its destination down and rediscovers afterwards. False when no such tunnel exists.
   */
  tunnelDown(id: number, reason?: TeardownReason): boolean;
}

/** A pending probe as the API shows it. */
export interface PendingInfo {
  readonly icookie: bigint;
  readonly entry: number;
  readonly family: 4 | 6;
  readonly destination: bigint;
  readonly tries: number;
  readonly nextAt: number;
  readonly startedAt: number;
}

export interface HoldDownInfo {
  readonly family: 4 | 6;
  readonly destination: bigint;
  readonly until: number;
  readonly reason: string;
}

/** The story of a discovery, step by step (for logs and `ted demo`). */
export type GatewayEvent =
  | { type: 'drop'; tuple: Tuple; entry: number; reason: 'no-tunnel' | 'probing' | 'held-down' | 'negotiating' | 'not-initiator' }
  | { type: 'probe-sent'; icookie: bigint; entry: number; summary: TedSummary; attempt: number; src: bigint; dst: bigint; sport: number; dport: number; bytes: Uint8Array; spoofed: boolean }
  | { type: 'probe-refused'; entry: number; reason: 'pending-full' | 'source-quota' }
  | { type: 'probe-gave-up'; icookie: bigint; entry: number; destination: bigint; tries: number }
  | { type: 'probe-received'; icookie: bigint; from: TedIdentity; summary: TedSummary }
  | { type: 'probe-ignored'; reason: string; icookie?: bigint }
  /** `bytes` is valid during the call only (the next response reuses the buffer): copy it to keep it. */
  | { type: 'response-sent'; icookie: bigint; rcookie: bigint; entry: number; proxy: Selector; to: TedIdentity; src: bigint; sport: number; dport: number; bytes: Uint8Array }
  | { type: 'response-received'; icookie: bigint; rcookie: bigint; peer: TedIdentity; proxy: Selector }
  | { type: 'response-dropped'; reason: string; icookie?: bigint }
  | { type: 'intersection'; icookie: bigint; entry: number; ours: Selector; theirs: Selector; result?: Selector; emptyField?: Field; tedVersion: 2 | 3 }
  | { type: 'verify'; icookie: bigint; inside: boolean; tuple: Tuple; proxy?: Selector }
  | { type: 'hold-down'; family: 4 | 6; destination: bigint; until: number; reason: string }
  | { type: 'tunnel'; state: TunnelState | 'down' | 'refused'; tunnel: TunnelInfo; reason?: string };

export interface GatewayOptions {
  readonly role: Role;
  /** The crypto ACL (permit = protect, deny = bypass). */
  readonly policy: Policy;
  /** Name to report for the ACL (default: policy.name). */
  readonly acl?: string;
  /** This gateway's IKE address: the ID payload of its probes/responses, the source of its responses. */
  readonly localAddress: TedIdentity | string;
  readonly transport: Transport;
  /** Default: systemClock. */
  readonly clock?: Clock;
  /** Default: records and establishes at once (see `recordingHandoff`). */
  readonly handoff?: Handoff;
  /** Bounds, timers, the responder's answer budgets and the discovery's limits: names, defaults and ranges in src/ted/settings.ts. */
  readonly limits?: Partial<Limits>;
  readonly timers?: Partial<Timers>;
  readonly rateLimit?: Partial<RateLimit>;
  readonly discovery?: Partial<Discovery>;
  /** Classifier engine for `compile(policy, { engine })` (default: the classifier's default). */
  readonly engine?: EngineName;
  /** A classifier already compiled from `policy` (skips compiling). */
  readonly classifier?: Classifier;
  /** 3 (default): intersect proxies. 2: merge half proxies as TED v1/v2 did (comparison only). */
  readonly tedVersion?: 2 | 3;
  /** IKE ports: `local` is where we listen (and answer from), `peer` where we send. Default 500/500. */
  readonly ports?: { readonly local?: number; readonly peer?: number };
  /** Responder cookie key (default: 32 random bytes). */
  readonly secret?: Uint8Array;
  /** Randomness for initiator cookies (default: crypto.randomFillSync). */
  readonly random?: (buf: Uint8Array) => void;
  /** Capability flags for our Vendor ID payload. */
  readonly capabilities?: number;
  /** Require a response's IP source to equal the responder's ID address (default true). */
  readonly checkResponseSource?: boolean;
  /** Wire codec (default: src/ike/ted.ts). */
  readonly wire?: TedWire;
  /** Called for every step of a discovery; must not throw, and must not call process(). */
  readonly onEvent?: (e: GatewayEvent) => void;
  /** Where the default handoff logs the tunnels it brings up and tears down (default: nowhere). */
  readonly log?: (line: string) => void;
}

/** Per-packet results of `process`, reused between calls (copy what you keep). */
export interface Verdicts {
  count: number;
  /** FORWARD / BYPASS / DROP per packet. */
  readonly verdict: Uint8Array;
  /** Tunnel id for FORWARD, else 0. */
  readonly tunnel: Int32Array;
  /** The classifier's ordinal (0 = no entry). */
  readonly ordinal: Int32Array;
}
