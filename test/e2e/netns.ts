// A throw-away lab of Linux network namespaces for the end-to-end test. Everything it creates is
// named with a per-run tag and removed by `destroy()` (call it from afterAll/finally): deleting a
// namespace removes its veth ends, routes and rules with it.
//
//   host A ─── gateway A ══[ switch ]══ gateway B ─── host B
//                             │
//                         forger X
//
// Addresses come only from the documentation ranges (RFC 5737, RFC 3849):
//   W (behind A)  192.0.2.0/24       2001:db8:a::/64
//   link          198.51.100.0/24    2001:db8:ff::/64
//   Y (behind B)  203.0.113.0/24     2001:db8:b::/64
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const ADDR = {
  hostA: { v4: '192.0.2.10', v6: '2001:db8:a::10' },
  gwALan: { v4: '192.0.2.1', v6: '2001:db8:a::1' },
  gwAWan: { v4: '198.51.100.1', v6: '2001:db8:ff::1' },
  gwBWan: { v4: '198.51.100.2', v6: '2001:db8:ff::2' },
  gwBLan: { v4: '203.0.113.1', v6: '2001:db8:b::1' },
  hostB: { v4: '203.0.113.20', v6: '2001:db8:b::20' },
  forger: { v4: '198.51.100.66', v6: '2001:db8:ff::66' },
  netW: { v4: '192.0.2.0/24', v6: '2001:db8:a::/64' },
  netY: { v4: '203.0.113.0/24', v6: '2001:db8:b::/64' },
} as const;

export type NodeName = 'hostA' | 'gwA' | 'sw' | 'gwB' | 'hostB' | 'forger';

/** Why the lab cannot run here, or undefined when it can. */
export async function labUnavailable(): Promise<string | undefined> {
  if (process.platform !== 'linux') return 'network namespaces need Linux';
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return 'creating network namespaces needs root (CI runs as root)';
  for (const tool of ['ip', 'tshark', 'tcpdump']) {
    try {
      await run('sh', ['-c', `command -v ${tool}`]);
    } catch {
      return `${tool} is not installed`;
    }
  }
  const probe = `tedprobe${process.pid}`;
  try {
    await run('ip', ['netns', 'add', probe]);
    await run('ip', ['netns', 'del', probe]);
  } catch (err) {
    return `cannot create a network namespace: ${(err as Error).message.split('\n')[0]}`;
  }
  return undefined;
}

export class Lab {
  readonly tag: string;
  readonly ns: Record<NodeName, string>;
  private readonly children = new Set<ChildProcess>();
  private created: string[] = [];

  constructor() {
    // Unique per run: pid + random, short enough for `ip netns` names.
    this.tag = `ted-${process.pid.toString(36)}-${Math.floor(Math.random() * 36 ** 3).toString(36)}`;
    this.ns = { hostA: `${this.tag}-ha`, gwA: `${this.tag}-ga`, sw: `${this.tag}-sw`, gwB: `${this.tag}-gb`, hostB: `${this.tag}-hb`, forger: `${this.tag}-x` };
  }

  /**
   * Deletes the namespaces of earlier runs whose test process is gone (killed before its
   * afterAll could run): names are `ted-<pid base 36>-<random>-<node>`.
   */
  static async reapStale(): Promise<string[]> {
    const { stdout } = await run('ip', ['netns', 'list']);
    const reaped: string[] = [];
    for (const line of stdout.split('\n')) {
      const name = line.split(' ')[0]!;
      const m = /^ted-([0-9a-z]+)-[0-9a-z]+-(ha|ga|sw|gb|hb|x)$/.exec(name);
      if (!m) continue;
      const pid = parseInt(m[1]!, 36);
      let alive = true;
      try {
        process.kill(pid, 0);
      } catch (err) {
        alive = (err as NodeJS.ErrnoException).code === 'EPERM';
      }
      if (alive) continue;
      await run('ip', ['netns', 'del', name]).catch(() => undefined);
      reaped.push(name);
    }
    return reaped;
  }

  /** Runs a command in a namespace; rejects with its stderr on failure. */
  async exec(node: NodeName, cmd: string[], opts: { allowFail?: boolean; timeoutMs?: number } = {}): Promise<{ stdout: string; stderr: string; code: number }> {
    try {
      const r = await run('ip', ['netns', 'exec', this.ns[node], ...cmd], { timeout: opts.timeoutMs ?? 20_000, maxBuffer: 16 << 20 });
      return { stdout: r.stdout, stderr: r.stderr, code: 0 };
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string; code?: number; message: string };
      if (opts.allowFail) return { stdout: e.stdout ?? '', stderr: e.stderr ?? e.message, code: typeof e.code === 'number' ? e.code : 1 };
      throw new Error(`[${node}] ${cmd.join(' ')}: ${e.stderr || e.message}`);
    }
  }

  /** `ip ARGS` inside a namespace. */
  ip(node: NodeName, ...args: string[]) {
    return this.exec(node, ['ip', ...args]);
  }

  /** Starts a long-running process in a namespace; it is killed by destroy() at the latest. */
  spawn(node: NodeName, cmd: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', this.ns[node], ...cmd], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    return child;
  }

  private async link(a: NodeName, aIf: string, b: NodeName, bIf: string): Promise<void> {
    // Created inside namespace a with its peer moved straight into b: no name ever exists in the
    // host's own namespace, so parallel runs cannot collide.
    await this.ip(a, 'link', 'add', aIf, 'type', 'veth', 'peer', 'name', bIf, 'netns', this.ns[b]);
    await this.ip(a, 'link', 'set', aIf, 'up');
    await this.ip(b, 'link', 'set', bIf, 'up');
  }

  private async addr(node: NodeName, dev: string, v4: string, v6: string): Promise<void> {
    await this.ip(node, 'addr', 'add', v4, 'dev', dev);
    await this.ip(node, '-6', 'addr', 'add', v6, 'dev', dev, 'nodad');
  }

  /** Builds the topology. On failure the caller must still call destroy(). */
  async create(): Promise<void> {
    for (const node of Object.keys(this.ns) as NodeName[]) {
      await run('ip', ['netns', 'add', this.ns[node]]);
      this.created.push(this.ns[node]);
      await this.ip(node, 'link', 'set', 'lo', 'up');
    }
    for (const gw of ['gwA', 'gwB'] as const) {
      await this.exec(gw, ['sysctl', '-q', '-w', 'net.ipv4.ip_forward=1']);
      await this.exec(gw, ['sysctl', '-q', '-w', 'net.ipv6.conf.all.forwarding=1']);
    }
    await this.ip('sw', 'link', 'add', 'br0', 'type', 'bridge');
    await this.ip('sw', 'link', 'set', 'br0', 'up');
    await this.link('hostA', 'eth0', 'gwA', 'lan0');
    await this.link('gwA', 'wan0', 'sw', 'pa');
    await this.link('gwB', 'wan0', 'sw', 'pb');
    await this.link('forger', 'eth0', 'sw', 'px');
    await this.link('hostB', 'eth0', 'gwB', 'lan0');
    for (const p of ['pa', 'pb', 'px']) await this.ip('sw', 'link', 'set', p, 'master', 'br0');

    await this.addr('hostA', 'eth0', `${ADDR.hostA.v4}/24`, `${ADDR.hostA.v6}/64`);
    await this.addr('gwA', 'lan0', `${ADDR.gwALan.v4}/24`, `${ADDR.gwALan.v6}/64`);
    await this.addr('gwA', 'wan0', `${ADDR.gwAWan.v4}/24`, `${ADDR.gwAWan.v6}/64`);
    await this.addr('gwB', 'wan0', `${ADDR.gwBWan.v4}/24`, `${ADDR.gwBWan.v6}/64`);
    await this.addr('gwB', 'lan0', `${ADDR.gwBLan.v4}/24`, `${ADDR.gwBLan.v6}/64`);
    await this.addr('hostB', 'eth0', `${ADDR.hostB.v4}/24`, `${ADDR.hostB.v6}/64`);
    await this.addr('forger', 'eth0', `${ADDR.forger.v4}/24`, `${ADDR.forger.v6}/64`);

    await this.ip('hostA', 'route', 'add', 'default', 'via', ADDR.gwALan.v4);
    await this.ip('hostA', '-6', 'route', 'add', 'default', 'via', ADDR.gwALan.v6);
    await this.ip('hostB', 'route', 'add', 'default', 'via', ADDR.gwBLan.v4);
    await this.ip('hostB', '-6', 'route', 'add', 'default', 'via', ADDR.gwBLan.v6);
    await this.ip('gwA', 'route', 'add', ADDR.netY.v4, 'via', ADDR.gwBWan.v4);
    await this.ip('gwA', '-6', 'route', 'add', ADDR.netY.v6, 'via', ADDR.gwBWan.v6);
    await this.ip('gwB', 'route', 'add', ADDR.netW.v4, 'via', ADDR.gwAWan.v4);
    await this.ip('gwB', '-6', 'route', 'add', ADDR.netW.v6, 'via', ADDR.gwAWan.v6);
    await this.ip('forger', 'route', 'add', ADDR.netW.v4, 'via', ADDR.gwAWan.v4);
  }

  /**
   * Runs the lines of a `ted ... --print-setup` text (shell commands, comments skipped) in a
   * namespace: the test uses exactly what the documentation tells a user to run.
   */
  async applySetup(node: NodeName, text: string): Promise<string[]> {
    const done: string[] = [];
    for (const raw of text.split('\n')) {
      const line = raw.trim();
      if (!line || line.startsWith('#')) continue;
      await this.exec(node, ['sh', '-c', line]);
      done.push(line);
    }
    return done;
  }

  /** Kills every process it started, then deletes every namespace. Never throws. */
  async destroy(): Promise<void> {
    for (const child of this.children) {
      try {
        child.kill('SIGKILL');
      } catch {
        // gone already
      }
    }
    await new Promise((r) => setTimeout(r, 50));
    for (const name of this.created.reverse()) {
      // Processes still inside (a daemon started with `ip netns exec`) die with SIGKILL first.
      await run('ip', ['netns', 'pids', name])
        .then(async ({ stdout }) => {
          for (const pid of stdout.split(/\s+/).filter(Boolean)) {
            try {
              process.kill(Number(pid), 'SIGKILL');
            } catch {
              // exited meanwhile
            }
          }
        })
        .catch(() => undefined);
      await run('ip', ['netns', 'del', name]).catch(() => undefined);
    }
    this.created = [];
  }

  /** Namespaces of this run that still exist (for the cleanup assertion). */
  async leftovers(): Promise<string[]> {
    const { stdout } = await run('ip', ['netns', 'list']);
    return stdout
      .split('\n')
      .map((l) => l.split(' ')[0]!)
      .filter((n) => n.startsWith(`${this.tag}-`) || existsSync(`/run/netns/${n}`) && n.startsWith(`${this.tag}-`));
  }
}

/**
 * tshark on one interface of a namespace, writing a capture file; `stop()` ends it and returns the
 * packets dissected as JSON-friendly field rows.
 */
export class Capture {
  private child: ChildProcess | undefined;
  constructor(
    private readonly lab: Lab,
    private readonly node: NodeName,
    private readonly iface: string,
    readonly file: string,
    private readonly filter = 'udp port 500',
  ) {}

  async start(): Promise<void> {
    const child = this.lab.spawn(this.node, ['tshark', '-q', '-n', '-i', this.iface, '-f', this.filter, '-w', this.file]);
    this.child = child;
    await new Promise<void>((resolve, reject) => {
      let err = '';
      const timer = setTimeout(() => reject(new Error(`tshark did not start: ${err}`)), 15_000);
      child.stderr!.on('data', (b: Buffer) => {
        err += b.toString();
        if (err.includes('Capturing on')) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`tshark exited (${code}): ${err}`));
      });
    });
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    // Let the last packets reach the file before stopping.
    await new Promise((r) => setTimeout(r, 300));
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGINT');
      setTimeout(() => {
        child.kill('SIGKILL');
        resolve();
      }, 5000).unref();
    });
  }

  /** Dissects the capture with tshark: one row per packet with the named fields. */
  async read(fields: string[]): Promise<Record<string, string>[]> {
    const args = ['-r', this.file, '-n', '-T', 'fields', '-E', 'separator=\t', '-E', 'occurrence=f'];
    for (const f of fields) args.push('-e', f);
    const { stdout } = await run('tshark', args, { maxBuffer: 16 << 20 });
    return stdout
      .split('\n')
      .filter((l) => l.length > 0)
      .map((l) => {
        const cols = l.split('\t');
        return Object.fromEntries(fields.map((f, i) => [f, cols[i] ?? '']));
      });
  }
}
