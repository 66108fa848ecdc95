// What a Linux gateway needs around the daemons (no kernel IPsec involved), printed by
// `ted initiator --print-setup` and `ted responder --print-setup`. Lines that are not comments are
// shell commands, run as root in order; the end-to-end test applies exactly these lines.
import { formatAddress, prefixLength } from '../selector/address.js';
import { entrySelectors } from '../selector/algebra.js';
import type { Family, Policy } from '../selector/types.js';
import type { DaemonConfig, Prefix } from './config.js';

/** Policy-routing table and rule priority the set-up uses (kept apart from main). */
export const INITIATOR_TABLE = 500;
export const RESPONDER_TABLE = 501;

function ipCmd(family: Family): string {
  return family === 6 ? 'ip -6' : 'ip';
}

/** Source prefixes of the permit entries: the hosts this gateway protects. */
export function protectedPrefixes(policy: Policy): Prefix[] {
  const out: Prefix[] = [];
  const seen = new Set<string>();
  for (const e of policy.entries) {
    if (e.action !== 'permit') continue;
    for (const m of entrySelectors(e)) {
      const len = prefixLength(m.family, m.src.care);
      if (len === undefined) continue; // a non-contiguous wildcard is no route
      const text = `${formatAddress(m.family, m.src.value)}/${len}`;
      if (seen.has(text)) continue;
      seen.add(text);
      out.push({ text, family: m.family, value: m.src.value, length: len });
    }
  }
  return out;
}

export interface SetupInput {
  readonly family: Family;
  readonly prefixes: readonly string[];
  /** Interface facing the protected hosts (initiator). */
  readonly lanInterface?: string;
  readonly sourceKind?: 'raw' | 'capture' | 'replay' | 'none';
  readonly ikeAddress?: string;
  readonly port?: number;
  /** The strongSwan handoff's SA backend, when the tunnels go to charon. */
  readonly strongswan?: 'libipsec' | 'netlink';
}

/** Rule priority that keeps ted's probes out of charon's routing table 220 (priority 220). */
export const PROBE_RULE_PRIORITY = 219;

/** The initiator's extra lines when charon installs the SAs. */
function strongswanInitiatorLines(ip: string, prefixes: readonly string[], kernel: 'libipsec' | 'netlink', kind: string): string[] {
  const lines = [
    `# handoff strongswan: a tunnel's packets are carried by charon's SAs, not re-sent by ted (source.forward false).`,
    `# ted's probes to the remote hosts must leave in clear even where a tunnel to that block exists. They`,
    `# leave a raw socket (IP_HDRINCL), whose route lookup sees no ports, so the rule takes what this`,
    `# gateway itself sends to those prefixes (iif lo): forwarded traffic still meets the tunnels.`,
  ];
  for (const p of prefixes) lines.push(`${ip} rule add iif lo to ${p} lookup main pref ${PROBE_RULE_PRIORITY}`);
  if (kernel === 'libipsec')
    lines.push(
      `# kernel-libipsec: charon routes each tunnel's whole remote block into its TUN device (table 220,`,
      `# priority 220, ahead of table ${INITIATOR_TABLE}). Packets there that no CHILD_SA covers are dropped by`,
      `# libipsec, never sent in clear; ted still sees them${kind === 'capture' ? '' : ' only with source.kind capture'} and discovers their tunnel.`,
    );
  else
    lines.push(
      `# kernel-netlink: set charon.install_routes = no in strongswan.conf (its routes in table 220 would`,
      `# send packets no CHILD_SA covers in clear, past the blackhole above); the kernel's IPsec policies`,
      `# pick the tunnel's packets after routing. Not exercised by ted's tests (their kernel has no ESP).`,
    );
  return lines;
}

export function initiatorSetup(s: SetupInput): string {
  const ip = ipCmd(s.family);
  const lan = s.lanInterface ?? 'LAN_IF';
  const kind = s.sourceKind === 'capture' ? 'capture' : 'raw';
  const prefixes = s.prefixes.length > 0 ? s.prefixes : [s.family === 6 ? 'REMOTE_PREFIX6' : 'REMOTE_PREFIX'];
  const lines = [
    `# ted initiator: Linux set-up (run as root; undo at the end of this text).`,
    `# Packets from the protected hosts (arriving on ${lan}) to the remote prefixes must reach ted`,
    `# instead of being forwarded in clear. Policy routing sends only that traffic to table ${INITIATOR_TABLE};`,
    `# everything else, and the packets ted itself sends, keep using the main table.`,
    s.lanInterface ? '' : `# Replace LAN_IF with the interface facing your hosts (or set source.interface).`,
    s.family === 6 ? 'sysctl -q -w net.ipv6.conf.all.forwarding=1' : 'sysctl -q -w net.ipv4.ip_forward=1',
  ];
  for (const p of prefixes) lines.push(`${ip} rule add iif ${lan} to ${p} lookup ${INITIATOR_TABLE} pref ${INITIATOR_TABLE}`);
  if (kind === 'raw') {
    lines.push(`# source.kind raw: the prefixes are local in that table, so the kernel hands the packets to`);
    lines.push(`# ted's raw sockets (IPv4). The kernel also answers them (TCP RST, ICMP port unreachable):`);
    lines.push(`# the host sees the first packet refused, as with a drop, and retries.`);
    for (const p of prefixes) lines.push(`${ip} route add local ${p} dev lo table ${INITIATOR_TABLE}`);
  } else {
    lines.push(`# source.kind capture: ted reads the packets with tcpdump on ${lan} (IPv4 and IPv6); the`);
    lines.push(`# kernel drops them silently (blackhole) until a tunnel carries them.`);
    for (const p of prefixes) lines.push(`${ip} route add blackhole ${p} table ${INITIATOR_TABLE}`);
  }
  if (s.strongswan) lines.push(...strongswanInitiatorLines(ip, prefixes, s.strongswan, kind));
  lines.push(
    `# ted needs root, or CAP_NET_RAW (raw sockets: the probe carries the host's source address) and`,
    `# CAP_NET_BIND_SERVICE (UDP ${s.port ?? 500}). Then: ted initiator --config FILE`,
    `# Undo: ${ip} rule del pref ${INITIATOR_TABLE} (once per prefix)${s.strongswan ? `; ${ip} rule del pref ${PROBE_RULE_PRIORITY} (once per prefix)` : ''}; ${ip} route flush table ${INITIATOR_TABLE}`,
  );
  return lines.filter((l) => l !== '').join('\n') + '\n';
}

export function responderSetup(s: SetupInput): string {
  const ip = ipCmd(s.family);
  const port = s.port ?? 500;
  const prefixes = s.prefixes.length > 0 ? s.prefixes : [s.family === 6 ? 'PROTECTED_PREFIX6' : 'PROTECTED_PREFIX'];
  const lines = [
    `# ted responder: Linux set-up (run as root; undo at the end of this text).`,
    `# A TED probe is addressed to a protected host (IP destination = the host, UDP port 500), not to`,
    `# this gateway. Policy routing delivers exactly those datagrams locally, to ted's socket on the`,
    `# wildcard address (ike.intercept: true); all other traffic to the hosts is forwarded as before.`,
  ];
  for (const p of prefixes) {
    if (p.endsWith('/0')) lines.push(`# WARNING: ${p} intercepts every IKE datagram this gateway forwards; list narrower prefixes in 'protects'.`);
    lines.push(`${ip} rule add to ${p} ipproto udp dport 500 lookup ${RESPONDER_TABLE} pref ${RESPONDER_TABLE}`);
  }
  for (const p of prefixes) lines.push(`${ip} route add local ${p} dev lo table ${RESPONDER_TABLE}`);
  lines.push(
    `# Responses leave from ike.address${s.ikeAddress ? ` (${s.ikeAddress})` : ''}, UDP ${port}. ted needs root or CAP_NET_BIND_SERVICE.`,
    `# Alternative with nftables on the forwarding path (instead of the two kinds of lines above):`,
    `#   nft add rule ip nat prerouting ip daddr PROTECTED_PREFIX udp dport 500 redirect to :${port}`,
    `# Then: ted responder --config FILE`,
    `# Undo: ${ip} rule del pref ${RESPONDER_TABLE} (once per prefix); ${ip} route flush table ${RESPONDER_TABLE}`,
  );
  return lines.join('\n') + '\n';
}

/** The set-up text for a configuration (prefixes from the file or, for the responder, the policy). */
export function setupFor(role: 'initiator' | 'responder', config: DaemonConfig | undefined, policy?: Policy): string {
  if (!config) return role === 'initiator' ? initiatorSetup({ family: 4, prefixes: [] }) : responderSetup({ family: 4, prefixes: [] });
  const family = config.ike.family;
  if (role === 'initiator')
    return initiatorSetup({
      family,
      prefixes: config.source.prefixes.map((p) => p.text),
      ...(config.source.interface !== undefined ? { lanInterface: config.source.interface } : {}),
      sourceKind: config.source.kind,
      port: config.ike.port,
      ...(config.handoff.kind === 'strongswan' ? { strongswan: config.handoff.kernel } : {}),
    });
  const protects = config.protects ?? (policy ? protectedPrefixes(policy) : []);
  return responderSetup({ family, prefixes: protects.map((p) => p.text), ikeAddress: config.ike.address, port: config.ike.port });
}
