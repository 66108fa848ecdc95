// Port and protocol keywords as Cisco IOS knows them in extended access lists. TCP and UDP have
// separate keyword sets (IOS rejects `www` after udp and `isakmp` after tcp, and so do we).

export const TCP_PORTS: Readonly<Record<string, number>> = Object.freeze({
  bgp: 179, chargen: 19, cmd: 514, daytime: 13, discard: 9, domain: 53, drip: 3949, echo: 7,
  exec: 512, finger: 79, ftp: 21, 'ftp-data': 20, gopher: 70, hostname: 101, ident: 113, irc: 194,
  klogin: 543, kshell: 544, login: 513, lpd: 515, msrpc: 135, nntp: 119, 'onep-plain': 15001,
  'onep-tls': 15002, 'pim-auto-rp': 496, pop2: 109, pop3: 110, smtp: 25, ssh: 22, sunrpc: 111,
  tacacs: 49, talk: 517, telnet: 23, time: 37, uucp: 540, whois: 43, www: 80,
});

export const UDP_PORTS: Readonly<Record<string, number>> = Object.freeze({
  biff: 512, bootpc: 68, bootps: 67, discard: 9, dnsix: 195, domain: 53, echo: 7, isakmp: 500,
  'mobile-ip': 434, nameserver: 42, 'netbios-dgm': 138, 'netbios-ns': 137, 'netbios-ss': 139,
  'non500-isakmp': 4500, ntp: 123, 'pim-auto-rp': 496, rip: 520, ripv6: 521, snmp: 161,
  snmptrap: 162, sunrpc: 111, syslog: 514, tacacs: 49, talk: 517, tftp: 69, time: 37, who: 513,
  xdmcp: 177,
});

export const TCP = 6;
export const UDP = 17;

// Protocol keywords live with the formatter (the algebra side must not import from policy/).
export { PROTOCOLS_V4, PROTOCOLS_V6, protocolName } from '../selector/format.js';

export function portTable(protocol: number): Readonly<Record<string, number>> | undefined {
  return protocol === TCP ? TCP_PORTS : protocol === UDP ? UDP_PORTS : undefined;
}

/** A port number or service name, or undefined. */
export function lookupPort(protocol: number, text: string): number | undefined {
  if (/^\d{1,5}$/.test(text)) {
    const n = Number(text);
    return n <= 65535 ? n : undefined;
  }
  return portTable(protocol)?.[text.toLowerCase()];
}
