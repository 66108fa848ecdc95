// The discovery messages as the rest of the project sees them, apart from their wire layout
// (src/ike/ted.ts encodes and decodes them; docs/wire-format.md documents the bytes).
import type { Family, Selector } from '../selector/types.js';

/** An IKE identity carried in the ID payload: the gateway's own IKE address. */
export interface TedIdentity {
  readonly family: Family;
  readonly address: bigint;
}

/** Summary of packet P (design 2.1): what the initiator wants protected. */
export interface TedSummary {
  /** TED protocol version (3). */
  readonly tedVersion: number;
  readonly family: Family;
  readonly protocol: number;
  readonly src: bigint;
  readonly dst: bigint;
  /** 0 when P has no ports. */
  readonly sport: number;
  readonly dport: number;
}

/** Exchange type 240. */
export interface TedProbe {
  /** Random, non-zero. */
  readonly icookie: bigint;
  /** Capability flags carried in our Vendor ID payload. */
  readonly capabilities: number;
  readonly id: TedIdentity;
  /** The source host's proxy (optional in the design). */
  readonly proxy?: Selector;
  readonly summary: TedSummary;
  /**
   * Bytes of the TED padding payload's body (payload 134, zeros), when the probe carries one: it
   * makes the probe as large on the wire as any response could be, so that answering it never
   * amplifies (`answerPadding`). A responder does not answer a probe smaller than its answer.
   */
  readonly padding?: number;
}

/** Exchange type 241. */
export interface TedResponse {
  /** The probe's initiator cookie. */
  readonly icookie: bigint;
  /** Fresh, non-zero. */
  readonly rcookie: bigint;
  readonly capabilities: number;
  readonly id: TedIdentity;
  /** The responder's full proxy, in the responder's orientation. */
  readonly proxy: Selector;
}

export const TED_EXCHANGE_PROBE = 240;
export const TED_EXCHANGE_RESPONSE = 241;
export const TED_VERSION = 3;

/** Protocols whose packets carry ports in the summary (TCP, UDP, SCTP); others send 0/0. */
export const SUMMARY_PORT_PROTOCOLS: ReadonlySet<number> = new Set([6, 17, 132]);
