// A proxy (src/selector) as IKE traffic selectors, exactly: never wider, never narrower.
//
// An address with care mask C is a union of aligned CIDR blocks: the bits below C's lowest set
// bit are free inside each block, and every don't-care bit above it doubles the blocks, so there
// are 2^k blocks of prefix length (width - trailing zeros of C). No two are adjacent (they differ
// in a don't-care bit above a cared-for one), so no fewer ranges express the set either. Each
// port range of a side is one selector; the protocol is the proxy's. A CHILD_SA covers the cross
// product of its local and remote selector lists, which is exactly the proxy.
//
// IKEv2 (RFC 7296 3.13): a TS payload counts its selectors in one octet, so at most 255 per side
// and CHILD_SA (strongSwan 5.9.8 sends 256 anyway and the peer answers INVALID_SYNTAX); larger
// sides are cut into chunks, one CHILD_SA per (local chunk, remote chunk).
// IKEv1 quick mode carries one subnet, one protocol and one port per side (strongSwan 5.9.8
// silently keeps only a range's first port and the first selector), so each combination of
// block and single port becomes a CHILD_SA of its own, or the proxy is refused.
import { TedError } from '../errors.js';
import { formatAddress } from '../selector/address.js';
import { isAnyPort } from '../selector/algebra.js';
import type { Address, Family, PortRange, PortSet, Selector } from '../selector/types.js';
import { addressBits } from '../selector/types.js';

/** One aligned CIDR block. */
export interface Block {
  readonly value: bigint;
  readonly prefix: number;
}

/** One traffic selector: a block, the protocol (0 = any) and one port range. */
export interface TrafficSelector {
  readonly family: Family;
  readonly protocol: number;
  readonly block: Block;
  readonly ports: PortRange;
}

/** The selectors of one CHILD_SA: it covers every (local, remote) pair. */
export interface ChildSelectors {
  readonly local: readonly TrafficSelector[];
  readonly remote: readonly TrafficSelector[];
}

export interface SelectorLimits {
  /** Selectors in one TS payload (IKEv2); default and maximum 255. */
  readonly maxPerPayload?: number;
  /** CHILD_SAs one proxy may need before it is refused; default 16. */
  readonly maxChildren?: number;
}

export const MAX_TS_PER_PAYLOAD = 255;
export const DEFAULT_MAX_CHILDREN = 16;

function trailingZeros(v: bigint, width: number): number {
  if (v === 0n) return width;
  let n = 0;
  while (((v >> BigInt(n)) & 1n) === 0n) n++;
  return n;
}

/** Don't-care bit positions above the lowest cared-for bit, low to high. */
function freeBits(care: bigint, width: number): number[] {
  const z = trailingZeros(care, width);
  const out: number[] = [];
  for (let i = z + 1; i < width; i++) if (((care >> BigInt(i)) & 1n) === 0n) out.push(i);
  return out;
}

/** How many blocks an address field is (2^k; may be astronomically large for IPv6). */
export function blockCount(a: Address, width: number): bigint {
  return 1n << BigInt(freeBits(a.care, width).length);
}

/**
 * The blocks of an address field, lowest address first. `width` is the address width (32, 128;
 * smaller widths for exhaustive tests). Refuses with STRONGSWAN_TS_TOO_MANY above `limit`.
 */
export function addressBlocks(a: Address, width: number, limit = Number.MAX_SAFE_INTEGER): Block[] {
  const free = freeBits(a.care, width);
  const count = 1n << BigInt(free.length);
  if (count > BigInt(limit)) throw new TedError('STRONGSWAN_TS_TOO_MANY', `an address with ${free.length} non-contiguous wildcard bits is ${count} blocks; at most ${limit} are allowed`);
  const prefix = width - trailingZeros(a.care, width);
  const base = a.value & a.care;
  const out: Block[] = [];
  for (let j = 0n; j < count; j++) {
    let v = base;
    for (let b = 0; b < free.length; b++) if ((j >> BigInt(b)) & 1n) v |= 1n << BigInt(free[b]!);
    out.push({ value: v, prefix });
  }
  return out;
}

function sideCount(a: Address, ports: PortSet, width: number): bigint {
  return blockCount(a, width) * BigInt(ports.length);
}

function side(family: Family, protocol: number, a: Address, ports: PortSet, width: number, limit: number): TrafficSelector[] {
  const out: TrafficSelector[] = [];
  for (const block of addressBlocks(a, width, limit)) for (const r of ports) out.push({ family, protocol, block, ports: r });
  return out;
}

function checkExpressible(proxy: Selector): void {
  if (proxy.protocol === 0 && (!isAnyPort(proxy.sport) || !isAnyPort(proxy.dport)))
    throw new TedError('STRONGSWAN_TS_PORTS_WITHOUT_PROTOCOL', 'a proxy with port conditions but protocol any has no traffic selector form (ports need a protocol)');
}

function chunks<T>(list: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < list.length; i += size) out.push(list.slice(i, i + size));
  return out;
}

/**
 * IKEv2: the CHILD_SAs (usually one) whose selectors cover exactly `proxy` (our orientation:
 * source = local). Refuses STRONGSWAN_TS_PORTS_WITHOUT_PROTOCOL or STRONGSWAN_TS_TOO_MANY.
 */
export function ikev2Children(proxy: Selector, limits: SelectorLimits = {}, width = addressBits(proxy.family)): ChildSelectors[] {
  checkExpressible(proxy);
  const per = Math.min(MAX_TS_PER_PAYLOAD, Math.max(1, limits.maxPerPayload ?? MAX_TS_PER_PAYLOAD));
  const maxChildren = limits.maxChildren ?? DEFAULT_MAX_CHILDREN;
  const nl = sideCount(proxy.src, proxy.sport, width);
  const nr = sideCount(proxy.dst, proxy.dport, width);
  const p = BigInt(per);
  const children = ((nl + p - 1n) / p) * ((nr + p - 1n) / p);
  if (children > BigInt(maxChildren))
    throw new TedError('STRONGSWAN_TS_TOO_MANY', `the proxy is ${nl} local x ${nr} remote selectors: ${children} CHILD_SAs of at most ${per} selectors per side; at most ${maxChildren} are allowed`);
  const limit = maxChildren * per;
  const local = side(proxy.family, proxy.protocol, proxy.src, proxy.sport, width, limit);
  const remote = side(proxy.family, proxy.protocol, proxy.dst, proxy.dport, width, limit);
  const out: ChildSelectors[] = [];
  for (const l of chunks(local, per)) for (const r of chunks(remote, per)) out.push({ local: l, remote: r });
  return out;
}

/** Single ports of a port set, or the whole range when it is "any" (port 0 in IKEv1 = any). */
function singlePorts(ports: PortSet): PortRange[] {
  if (isAnyPort(ports)) return [ports[0]!];
  const out: PortRange[] = [];
  for (const r of ports) for (let p = r.lo; p <= r.hi; p++) out.push({ lo: p, hi: p });
  return out;
}

function singlePortCount(ports: PortSet): number {
  return isAnyPort(ports) ? 1 : ports.reduce((n, r) => n + r.hi - r.lo + 1, 0);
}

/**
 * IKEv1: one CHILD_SA per (local block and port, remote block and port), each with exactly one
 * selector per side, so nothing is lost to quick mode's single subnet and single port.
 */
export function ikev1Children(proxy: Selector, limits: SelectorLimits = {}, width = addressBits(proxy.family)): ChildSelectors[] {
  checkExpressible(proxy);
  const maxChildren = limits.maxChildren ?? DEFAULT_MAX_CHILDREN;
  const nl = blockCount(proxy.src, width) * BigInt(singlePortCount(proxy.sport));
  const nr = blockCount(proxy.dst, width) * BigInt(singlePortCount(proxy.dport));
  if (nl * nr > BigInt(maxChildren))
    throw new TedError('STRONGSWAN_TS_TOO_MANY', `IKEv1 quick mode carries one subnet and one port per side: the proxy needs ${nl} x ${nr} = ${nl * nr} CHILD_SAs; at most ${maxChildren} are allowed`);
  const local = side(proxy.family, proxy.protocol, proxy.src, singlePorts(proxy.sport), width, maxChildren);
  const remote = side(proxy.family, proxy.protocol, proxy.dst, singlePorts(proxy.dport), width, maxChildren);
  const out: ChildSelectors[] = [];
  for (const l of local) for (const r of remote) out.push({ local: [l], remote: [r] });
  return out;
}

/** How many CHILD_SAs a proxy needs (without building them); undefined when it cannot be expressed at all. */
export function childrenNeeded(proxy: Selector, ikeVersion: 1 | 2, maxPerPayload = MAX_TS_PER_PAYLOAD): bigint | undefined {
  if (proxy.protocol === 0 && (!isAnyPort(proxy.sport) || !isAnyPort(proxy.dport))) return undefined;
  const width = addressBits(proxy.family);
  if (ikeVersion === 1)
    return blockCount(proxy.src, width) * BigInt(singlePortCount(proxy.sport)) * blockCount(proxy.dst, width) * BigInt(singlePortCount(proxy.dport));
  const p = BigInt(Math.min(MAX_TS_PER_PAYLOAD, maxPerPayload));
  const nl = sideCount(proxy.src, proxy.sport, width);
  const nr = sideCount(proxy.dst, proxy.dport, width);
  return ((nl + p - 1n) / p) * ((nr + p - 1n) / p);
}

/**
 * swanctl/VICI text of a selector: `192.0.2.0/24`, `192.0.2.0/24[6]`, `2001:db8::/64[17/53]`,
 * `192.0.2.0/25[6/8000-8999]` (protocols by number: no dependence on /etc/protocols).
 */
export function formatTrafficSelector(ts: TrafficSelector): string {
  const net = `${formatAddress(ts.family, ts.block.value)}/${ts.block.prefix}`;
  const anyPort = ts.ports.lo === 0 && ts.ports.hi === 65535;
  if (ts.protocol === 0 && anyPort) return net;
  if (anyPort) return `${net}[${ts.protocol}]`;
  const port = ts.ports.lo === ts.ports.hi ? `${ts.ports.lo}` : `${ts.ports.lo}-${ts.ports.hi}`;
  return `${net}[${ts.protocol}/${port}]`;
}
