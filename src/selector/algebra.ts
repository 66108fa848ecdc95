// The exact algebra of proxies: the reference every engine is tested against. Plain and
// obviously correct rather than fast; the hot path has its own twins in src/classify and assembly/.
import type { Address, Entry, Family, PortRange, PortSet, Selector, Tuple } from './types.js';
import { FULL_PORTS, allOnes } from './types.js';

export type Field = 'family' | 'protocol' | 'source' | 'destination' | 'sport' | 'dport';

export type Intersection =
  | { readonly empty: false; readonly selector: Selector }
  | { readonly empty: true; readonly field: Field };

/** Builds an address field, clearing value bits under don't-care bits. */
export function address(value: bigint, care: bigint): Address {
  return { value: value & care, care };
}

export function isAnyPort(set: PortSet): boolean {
  return set.length === 1 && set[0]!.lo === 0 && set[0]!.hi === 65535;
}

export function hasPortCondition(s: Selector): boolean {
  return !isAnyPort(s.sport) || !isAnyPort(s.dport);
}

export function portIn(set: PortSet, port: number): boolean {
  for (const r of set) if (port >= r.lo && port <= r.hi) return true;
  return false;
}

export function addressMatches(a: Address, v: bigint): boolean {
  return (v & a.care) === a.value;
}

/** Does the selector cover this packet? (Entries are selectors, so this is also `matches`.) */
export function contains(s: Selector, t: Tuple): boolean {
  if (s.family !== t.family) return false;
  if (s.protocol !== 0 && s.protocol !== t.protocol) return false;
  if (!addressMatches(s.src, t.src) || !addressMatches(s.dst, t.dst)) return false;
  if (!hasPortCondition(s)) return true;
  return t.hasPorts && portIn(s.sport, t.sport) && portIn(s.dport, t.dport);
}

/** The selectors an entry covers: several for an entry written with object groups, else the entry itself. */
export function entrySelectors(e: Entry): readonly Selector[] {
  return e.selectors ?? [e];
}

/** The first of the entry's selectors that covers the packet (what a responder answers with), or undefined. */
export function selectorContaining(e: Entry, t: Tuple): Selector | undefined {
  if (!e.selectors) return contains(e, t) ? e : undefined;
  for (const s of e.selectors) if (contains(s, t)) return s;
  return undefined;
}

/** Does the entry cover this packet (any of its selectors)? */
export function matches(entry: Entry, t: Tuple): boolean {
  return selectorContaining(entry, t) !== undefined;
}

/** 1-based ordinal of the first entry covering the tuple, 0 for none: the linear oracle. */
export function firstMatch(entries: readonly Entry[], t: Tuple): number {
  for (const e of entries) if (matches(e, t)) return e.ordinal;
  return 0;
}

/** Normalizes ranges into a PortSet: sorted, clipped, merged when overlapping or adjacent. */
export function portSet(ranges: readonly PortRange[]): PortSet {
  const sorted = ranges
    .map((r) => ({ lo: Math.max(0, r.lo), hi: Math.min(65535, r.hi) }))
    .filter((r) => r.lo <= r.hi)
    .sort((a, b) => a.lo - b.lo);
  const out: PortRange[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && r.lo <= last.hi + 1) out[out.length - 1] = { lo: last.lo, hi: Math.max(last.hi, r.hi) };
    else out.push(r);
  }
  if (out.length === 1 && out[0]!.lo === 0 && out[0]!.hi === 65535) return FULL_PORTS;
  return out;
}

export function intersectPorts(a: PortSet, b: PortSet): PortSet {
  const out: PortRange[] = [];
  for (const x of a)
    for (const y of b) {
      const lo = Math.max(x.lo, y.lo);
      const hi = Math.min(x.hi, y.hi);
      if (lo <= hi) out.push({ lo, hi });
    }
  return portSet(out);
}

/**
 * Wildcard-masked address intersection (design FIG. 3B, with the set semantics): A/B and C/D
 * overlap iff A&B&D == C&B&D; the result is (A&B)|(C&D) with care-mask B|D.
 */
export function intersectAddress(a: Address, b: Address): Address | undefined {
  if ((a.value & a.care & b.care) !== (b.value & a.care & b.care)) return undefined;
  return { value: (a.value & a.care) | (b.value & b.care), care: a.care | b.care };
}

/** Protocol intersection (FIG. 3A): any ∩ P = P, P ∩ P = P, P ∩ Q = empty (undefined). */
export function intersectProtocol(a: number, b: number): number | undefined {
  if (a === 0) return b;
  if (b === 0 || a === b) return a;
  return undefined;
}

/** The largest selector inside both, or the first empty field (protocol, source, destination, sport, dport). */
export function intersect(a: Selector, b: Selector): Intersection {
  if (a.family !== b.family) return { empty: true, field: 'family' };
  const protocol = intersectProtocol(a.protocol, b.protocol);
  if (protocol === undefined) return { empty: true, field: 'protocol' };
  const src = intersectAddress(a.src, b.src);
  if (!src) return { empty: true, field: 'source' };
  const dst = intersectAddress(a.dst, b.dst);
  if (!dst) return { empty: true, field: 'destination' };
  const sport = intersectPorts(a.sport, b.sport);
  if (sport.length === 0) return { empty: true, field: 'sport' };
  const dport = intersectPorts(a.dport, b.dport);
  if (dport.length === 0) return { empty: true, field: 'dport' };
  return { empty: false, selector: { family: a.family, protocol, src, dst, sport, dport } };
}

/** The same selector seen from the other side: source and destination (and their ports) swapped. */
export function mirror<S extends Selector>(s: S): S {
  return { ...s, src: s.dst, dst: s.src, sport: s.dport, dport: s.sport };
}

export function mirrorTuple(t: Tuple): Tuple {
  return { ...t, src: t.dst, dst: t.src, sport: t.dport, dport: t.sport };
}

function portSubset(a: PortSet, b: PortSet): boolean {
  return a.every((r) => b.some((q) => q.lo <= r.lo && r.hi <= q.hi));
}

function addressSubset(a: Address, b: Address): boolean {
  return (b.care & ~a.care) === 0n && (a.value & b.care) === b.value;
}

/** Does `b` cover every packet `a` covers? */
export function isSubset(a: Selector, b: Selector): boolean {
  if (a.family !== b.family) return false;
  if (b.protocol !== 0 && a.protocol !== b.protocol) return false;
  return addressSubset(a.src, b.src) && addressSubset(a.dst, b.dst) && portSubset(a.sport, b.sport) && portSubset(a.dport, b.dport);
}

export function equalSelectors(a: Selector, b: Selector): boolean {
  return isSubset(a, b) && isSubset(b, a);
}

/** A selector that covers exactly one tuple's host pair, protocol and ports. */
export function selectorOfTuple(t: Tuple): Selector {
  const ones = allOnes(t.family);
  const ports = (p: number): PortSet => (t.hasPorts ? [{ lo: p, hi: p }] : FULL_PORTS);
  return {
    family: t.family,
    protocol: t.protocol,
    src: { value: t.src, care: ones },
    dst: { value: t.dst, care: ones },
    sport: ports(t.sport),
    dport: ports(t.dport),
  };
}

export function anySelector(family: Family): Selector {
  return { family, protocol: 0, src: { value: 0n, care: 0n }, dst: { value: 0n, care: 0n }, sport: FULL_PORTS, dport: FULL_PORTS };
}
