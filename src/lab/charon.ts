// One charon per gateway namespace: its own strongswan.conf (STRONGSWAN_CONF), VICI socket and
// log, started as `ip netns exec GW env STRONGSWAN_CONF=... charon-systemd` (it writes no PID
// file, so several run side by side), stopped with SIGTERM (it takes about 1.3 s).
import type { ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { TedError } from '../errors.js';
import { charonConf, type CharonKernel } from '../strongswan/charon-conf.js';
import type { Lab, NodeName } from './netns.js';

export const CHARON_BINARY = 'charon-systemd';
/** Where distributions put strongSwan's plugins (Debian first). */
export const CHARON_PLUGIN_DIRS = ['/usr/lib/ipsec/plugins', '/usr/lib/x86_64-linux-gnu/ipsec/plugins', '/usr/lib/strongswan/plugins', '/usr/lib64/strongswan/plugins', '/usr/libexec/strongswan/plugins'];

/** What is missing to run charon for the lab (one line saying how to install it), or undefined. */
export function charonMissing(which: (tool: string) => boolean): string | undefined {
  const install = 'apt-get install charon-systemd libcharon-extra-plugins';
  if (!which(CHARON_BINARY)) return `strongSwan's charon (${CHARON_BINARY}) is not installed: ${install}`;
  // Where the plugin directory is unknown, charon itself says what it cannot load (its log is named).
  const dir = CHARON_PLUGIN_DIRS.find((d) => existsSync(d));
  if (dir)
    for (const p of ['vici', 'kernel-libipsec', 'kernel-netlink', 'kdf', 'socket-default'])
      if (!existsSync(join(dir, `libstrongswan-${p}.so`))) return `strongSwan's ${p} plugin is missing (${dir}): ${install}`;
  if (!existsSync('/dev/net/tun')) return 'kernel-libipsec needs /dev/net/tun (the tun module)';
  return undefined;
}

function canConnect(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = connect(path);
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
}

export class LabCharon {
  readonly conf: string;
  readonly vici: string;
  readonly log: string;
  private child: ChildProcess | undefined;
  exitCode: number | null = null;

  constructor(
    private readonly lab: Lab,
    readonly node: NodeName,
    dir: string,
    private readonly kernel: CharonKernel = 'libipsec',
  ) {
    this.conf = join(dir, `${node}-strongswan.conf`);
    this.vici = join(dir, `${node}-charon.vici`);
    this.log = join(dir, `${node}-charon.log`);
    writeFileSync(this.conf, charonConf({ viciSocket: this.vici, kernel: this.kernel, logFile: this.log }));
  }

  /** Starts charon and resolves when its VICI socket answers. */
  async start(options: { detached?: boolean } = {}): Promise<void> {
    this.exitCode = null;
    const out = openSync(`${this.log}.stderr`, 'a');
    const child = this.lab.spawn(this.node, [CHARON_BINARY], { STRONGSWAN_CONF: this.conf }, { stdio: ['ignore', out, out], detached: options.detached ?? false });
    closeSync(out);
    this.child = child;
    child.once('exit', (code, signal) => {
      this.exitCode = code ?? (signal ? 128 : -1);
    });
    const end = Date.now() + 15_000;
    while (!(existsSync(this.vici) && (await canConnect(this.vici)))) {
      if (this.exitCode !== null) throw new TedError('LAB_CHARON', `charon in ${this.node} exited (${this.exitCode}): ${this.tail()}`);
      if (Date.now() > end) throw new TedError('LAB_CHARON', `charon in ${this.node} did not open its VICI socket ${this.vici} within 15 s: ${this.tail()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** The last lines charon wrote (its files go with the lab). */
  tail(lines = 3): string {
    const text = [this.log, `${this.log}.stderr`].map((f) => (existsSync(f) ? readFileSync(f, 'utf8') : '')).join('\n');
    return text.split('\n').filter((l) => l.trim()).slice(-lines).join(' | ') || 'no output';
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves when it has exited. */
  async stop(graceMs = 4000): Promise<void> {
    const child = this.child;
    if (!child || this.exitCode !== null) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(t);
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }
}
