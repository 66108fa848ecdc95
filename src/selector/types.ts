// The data model every part of the project shares: what a policy entry (a proxy, a selector)
// covers, and what a packet's 5-tuple is. The algebra over these lives in ./algebra.ts.
import type { PolicyProblem } from '../errors.js';

export type Family = 4 | 6;

/** Inclusive port range, 0 <= lo <= hi <= 65535. */
export interface PortRange {
  readonly lo: number;
  readonly hi: number;
}

/**
 * A set of ports as sorted, disjoint, non-adjacent inclusive ranges. `[{lo: 0, hi: 65535}]` is
 * "any port"; a selector never holds an empty set (intersect reports emptiness instead).
 */
export type PortSet = readonly PortRange[];

/**
 * An address field: `value` with a care-mask (1 = the bit must match; the opposite of a Cisco
 * wildcard). 32 bits for IPv4, 128 for IPv6. Invariant: `value & ~care == 0` (bits under
 * don't-care bits are cleared when the field is built).
 */
export interface Address {
  readonly value: bigint;
  readonly care: bigint;
}

/** A proxy / traffic selector: the set of packets an entry covers. */
export interface Selector {
  readonly family: Family;
  /** IP protocol number; 0 = any. */
  readonly protocol: number;
  readonly src: Address;
  readonly dst: Address;
  readonly sport: PortSet;
  readonly dport: PortSet;
}

/** In a crypto ACL: permit = protect, deny = bypass. */
export type Action = 'permit' | 'deny';

/**
 * One policy entry in evaluation order. Usually one selector (the entry's own fields); an entry
 * written with object groups covers the union of several, listed in `selectors` (the entry's own
 * fields are then the first of them). Code that needs what an entry covers iterates
 * `entrySelectors(e)` (./algebra.ts) rather than reading the fields.
 */
export interface Entry extends Selector {
  /** 1-based position in evaluation order; every result, counter and message names entries by it. */
  readonly ordinal: number;
  /** Every selector of an entry that covers several (two or more); absent for a single selector. */
  readonly selectors?: readonly Selector[];
  readonly action: Action;
  /** Cisco sequence number, when the source had one. */
  readonly sequence?: number;
  /** Where the entry came from (1-based line), for messages. */
  readonly line?: number;
}

/** An ordered policy: one ACL. */
export interface Policy {
  /** ACL name or number ("101", "VPN"), or the file's base name for ClassBench/JSON sets. */
  readonly name: string;
  readonly family: Family;
  readonly entries: readonly Entry[];
  /** Warnings from reading it (a netmask where a wildcard belongs, other lists that could not be used, ...). */
  readonly warnings?: readonly PolicyProblem[];
}

/**
 * A packet's 5-tuple. `hasPorts` is false for protocols without ports and for non-first
 * fragments: such a tuple never matches an entry with a port condition.
 */
export interface Tuple {
  readonly family: Family;
  readonly protocol: number;
  readonly src: bigint;
  readonly dst: bigint;
  readonly sport: number;
  readonly dport: number;
  readonly hasPorts: boolean;
}

export const FULL_PORTS: PortSet = Object.freeze([Object.freeze({ lo: 0, hi: 65535 })]);

/**
 * Most port ranges one side of a selector may have: what a TED proxy carries on the wire
 * (docs/wire-format.md). Policies are checked against it when they are read, so that every
 * permit entry can be sent in a response.
 */
export const MAX_PORT_RANGES = 16;

export function addressBits(family: Family): number {
  return family === 4 ? 32 : 128;
}

export function allOnes(family: Family): bigint {
  return family === 4 ? 0xffffffffn : (1n << 128n) - 1n;
}
