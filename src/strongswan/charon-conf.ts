// A strongswan.conf for one charon serving ted (`ted lab` writes one per gateway; the deployment
// guide shows the same). What ted needs of charon, measured with strongSwan 5.9.8:
// - UDP 500 stays ted's: `port = 0` (charon takes a random port for it) and IKE on port_nat_t 4500;
// - an explicit plugin list (`load_modular = no`): `kdf` is required by 5.9.8, `vici` is how ted
//   talks to it, kernel-libipsec (ESP in charon over a TUN device) before kernel-netlink when the
//   kernel has no ESP; kernel-netlink is still needed for routes and addresses;
// - the VICI socket where ted's handoff connects, and a log file;
// - short retransmissions, so a peer that is gone is noticed in seconds rather than minutes.
// charon-systemd reads its settings under `charon-systemd`, not `charon`.

export type CharonKernel = 'libipsec' | 'netlink';

export interface CharonConfOptions {
  /** Path of the VICI Unix socket to create. */
  readonly viciSocket: string;
  readonly kernel: CharonKernel;
  /** A log file (IKE at level 1, with milliseconds); none when undefined. */
  readonly logFile?: string;
  /** Seconds before the first retransmission, retransmissions, and the backoff base (default 1, 2, 1.5). */
  readonly retransmit?: { readonly timeoutS: number; readonly tries: number; readonly base: number };
  /** Which daemon binary reads it: charon-systemd (default) or charon. */
  readonly daemon?: 'charon-systemd' | 'charon';
}

const COMMON_PLUGINS = ['random', 'nonce', 'aes', 'sha1', 'sha2', 'hmac', 'gmp', 'kdf', 'pem', 'pkcs1', 'pkcs8', 'x509', 'pubkey', 'constraints'];

/** The plugin load list, in priority order. */
export function charonPlugins(kernel: CharonKernel): string[] {
  return [...COMMON_PLUGINS, ...(kernel === 'libipsec' ? ['kernel-libipsec', 'kernel-netlink'] : ['kernel-netlink']), 'socket-default', 'vici'];
}

export function charonConf(o: CharonConfOptions): string {
  const r = o.retransmit ?? { timeoutS: 1, tries: 2, base: 1.5 };
  const daemon = o.daemon ?? 'charon-systemd';
  const lines = [
    `# strongswan.conf for a charon that ted hands tunnels to (written by ted).`,
    `${daemon} {`,
    `  load_modular = no`,
    `  load = ${charonPlugins(o.kernel).join(' ')}`,
    `  # UDP 500 belongs to ted (TED probes and responses); IKE runs on 4500.`,
    `  port = 0`,
    `  port_nat_t = 4500`,
    `  retransmit_timeout = ${r.timeoutS}`,
    `  retransmit_tries = ${r.tries}`,
    `  retransmit_base = ${r.base}`,
    `  plugins {`,
    `    vici {`,
    `      socket = unix://${o.viciSocket}`,
    `    }`,
    ...(o.kernel === 'libipsec' ? [`    kernel-libipsec {`, `      allow_peer_ts = no`, `    }`] : []),
    `  }`,
    ...(o.kernel === 'netlink' ? [`  # Routes into table 220 would carry packets no CHILD_SA covers in clear past ted's blackhole.`, `  install_routes = no`] : []),
    `  journal {`,
    `    default = -1`,
    `  }`,
  ];
  if (o.logFile)
    lines.push(`  filelog {`, `    ted {`, `      path = ${o.logFile}`, `      time_format = %T`, `      ike_name = yes`, `      default = 1`, `      flush_line = yes`, `    }`, `  }`);
  lines.push(`}`, '');
  return lines.join('\n');
}
