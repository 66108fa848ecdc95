// A throw-away network of Linux network namespaces: FIG. 1 on one machine, for `ted lab` and
// the end-to-end tests. Everything is named with a per-run tag and removed by `destroy()` (call
// it from finally/afterAll): deleting a namespace removes its veth ends, TUN devices, routes and
// rules with it, after the processes still inside are killed.
//
//   host A ─── gateway A ═══════════ gateway B ─── host B          (ted lab)
//   host A ─── gateway A ══[ switch ]══ gateway B ─── host B       (with a forger on the switch)
//                             │
//                         forger X
//
// Addresses come only from the documentation ranges (RFC 5737, RFC 3849):
//   W (behind A)  192.0.2.0/24       2001:db8:a::/64
//   link          198.51.100.0/24    2001:db8:ff::/64
//   Y (behind B)  203.0.113.0/24     2001:db8:b::/64
import { execFile, spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
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

const SUFFIX: Record<NodeName, string> = { hostA: 'ha', gwA: 'ga', sw: 'sw', gwB: 'gb', hostB: 'hb', forger: 'x' };

/** Namespace names: `ted-<pid base 36>-<random>-<node>`, so a later run can tell whose they are. */
const NAME = /^ted-([0-9a-z]+)-[0-9a-z]+-(ha|ga|sw|gb|hb|x)$/;

export interface LabOptions {
  /** A switch between the gateways with a forger attached (the daemons' e2e); default false. */
  readonly forger?: boolean;
}

/** Why namespaces cannot be made here, or undefined when they can. */
export async function namespacesUnavailable(): Promise<string | undefined> {
  if (process.platform !== 'linux') return 'network namespaces need Linux';
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return 'creating network namespaces needs root';
  if (!(await commandExists('ip'))) return 'ip (iproute2) is not installed';
  const probe = `tedprobe${process.pid}`;
  try {
    await run('ip', ['netns', 'add', probe]);
    await run('ip', ['netns', 'del', probe]);
  } catch (err) {
    return `cannot create a network namespace: ${(err as Error).message.split('\n')[0]}`;
  }
  return undefined;
}

export async function commandExists(tool: string): Promise<boolean> {
  try {
    await run('sh', ['-c', `command -v ${tool}`]);
    return true;
  } catch {
    return false;
  }
}

/** Whether a process id is alive (EPERM: alive, not ours). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Kills every process inside a namespace (a daemon or charon started with `ip netns exec`). */
async function killInside(name: string, signal: NodeJS.Signals): Promise<number> {
  let n = 0;
  try {
    const { stdout } = await run('ip', ['netns', 'pids', name]);
    for (const pid of stdout.split(/\s+/).filter(Boolean)) {
      try {
        process.kill(Number(pid), signal);
        n++;
      } catch {
        // exited meanwhile
      }
    }
  } catch {
    // no such namespace any more
  }
  return n;
}

export class Lab {
  readonly tag: string;
  readonly ns: Record<NodeName, string>;
  readonly nodes: readonly NodeName[];
  private readonly withForger: boolean;
  private readonly children = new Set<ChildProcess>();
  private created: string[] = [];

  constructor(options: LabOptions = {}) {
    // Unique per run: pid + random, short enough for `ip netns` names.
    this.tag = `ted-${process.pid.toString(36)}-${Math.floor(Math.random() * 36 ** 3).toString(36)}`;
    this.ns = Object.fromEntries((Object.keys(SUFFIX) as NodeName[]).map((n) => [n, `${this.tag}-${SUFFIX[n]}`])) as Record<NodeName, string>;
    this.withForger = options.forger ?? false;
    this.nodes = this.withForger ? ['hostA', 'gwA', 'sw', 'gwB', 'hostB', 'forger'] : ['hostA', 'gwA', 'gwB', 'hostB'];
  }

  /**
   * Deletes the namespaces of earlier runs whose process is gone (killed before it could clean
   * up, or `ted lab --keep`), killing what still runs inside (daemons, charon) first.
   */
  static async reapStale(): Promise<string[]> {
    const { stdout } = await run('ip', ['netns', 'list']);
    const reaped: string[] = [];
    for (const line of stdout.split('\n')) {
      const name = line.split(' ')[0]!;
      const m = NAME.exec(name);
      if (!m || pidAlive(parseInt(m[1]!, 36))) continue;
      if ((await killInside(name, 'SIGKILL')) > 0) await new Promise((r) => setTimeout(r, 100));
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

  /**
   * Starts a long-running process in a namespace; it is killed by destroy() at the latest.
   * `stdio` defaults to pipes; `detached` lets it outlive this process (`ted lab --keep`).
   */
  spawn(node: NodeName, cmd: string[], env: NodeJS.ProcessEnv = {}, options: { stdio?: StdioOptions; detached?: boolean } = {}): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', this.ns[node], ...cmd], {
      stdio: options.stdio ?? ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
      detached: options.detached ?? false,
    });
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    child.once('error', () => this.children.delete(child));
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
    for (const node of this.nodes) {
      await run('ip', ['netns', 'add', this.ns[node]]);
      this.created.push(this.ns[node]);
      await this.ip(node, 'link', 'set', 'lo', 'up');
      // No duplicate address detection on the links made next: a tentative link-local address
      // holds IPv6 neighbour discovery, hence the first packets, for about a second.
      await this.exec(node, ['sysctl', '-q', '-w', 'net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.default.accept_dad=0']);
    }
    for (const gw of ['gwA', 'gwB'] as const) {
      await this.exec(gw, ['sysctl', '-q', '-w', 'net.ipv4.ip_forward=1']);
      await this.exec(gw, ['sysctl', '-q', '-w', 'net.ipv6.conf.all.forwarding=1']);
    }
    await this.link('hostA', 'eth0', 'gwA', 'lan0');
    if (this.withForger) {
      await this.ip('sw', 'link', 'add', 'br0', 'type', 'bridge');
      await this.ip('sw', 'link', 'set', 'br0', 'up');
      await this.link('gwA', 'wan0', 'sw', 'pa');
      await this.link('gwB', 'wan0', 'sw', 'pb');
      await this.link('forger', 'eth0', 'sw', 'px');
      for (const p of ['pa', 'pb', 'px']) await this.ip('sw', 'link', 'set', p, 'master', 'br0');
    } else await this.link('gwA', 'wan0', 'gwB', 'wan0');
    await this.link('hostB', 'eth0', 'gwB', 'lan0');

    await this.addr('hostA', 'eth0', `${ADDR.hostA.v4}/24`, `${ADDR.hostA.v6}/64`);
    await this.addr('gwA', 'lan0', `${ADDR.gwALan.v4}/24`, `${ADDR.gwALan.v6}/64`);
    await this.addr('gwA', 'wan0', `${ADDR.gwAWan.v4}/24`, `${ADDR.gwAWan.v6}/64`);
    await this.addr('gwB', 'wan0', `${ADDR.gwBWan.v4}/24`, `${ADDR.gwBWan.v6}/64`);
    await this.addr('gwB', 'lan0', `${ADDR.gwBLan.v4}/24`, `${ADDR.gwBLan.v6}/64`);
    await this.addr('hostB', 'eth0', `${ADDR.hostB.v4}/24`, `${ADDR.hostB.v6}/64`);
    if (this.withForger) await this.addr('forger', 'eth0', `${ADDR.forger.v4}/24`, `${ADDR.forger.v6}/64`);

    await this.ip('hostA', 'route', 'add', 'default', 'via', ADDR.gwALan.v4);
    await this.ip('hostA', '-6', 'route', 'add', 'default', 'via', ADDR.gwALan.v6);
    await this.ip('hostB', 'route', 'add', 'default', 'via', ADDR.gwBLan.v4);
    await this.ip('hostB', '-6', 'route', 'add', 'default', 'via', ADDR.gwBLan.v6);
    await this.ip('gwA', 'route', 'add', ADDR.netY.v4, 'via', ADDR.gwBWan.v4);
    await this.ip('gwA', '-6', 'route', 'add', ADDR.netY.v6, 'via', ADDR.gwBWan.v6);
    await this.ip('gwB', 'route', 'add', ADDR.netW.v4, 'via', ADDR.gwAWan.v4);
    await this.ip('gwB', '-6', 'route', 'add', ADDR.netW.v6, 'via', ADDR.gwAWan.v6);
    if (this.withForger) await this.ip('forger', 'route', 'add', ADDR.netW.v4, 'via', ADDR.gwAWan.v4);
  }

  /**
   * Runs the lines of a `ted ... --print-setup` text (shell commands, comments skipped) in a
   * namespace: what the documentation tells a user to run, exactly.
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

  /**
   * Stops every process it started and every process inside its namespaces (SIGTERM, then
   * SIGKILL after `graceMs`: charon needs about 1.3 s to exit), then deletes the namespaces.
   * Never throws.
   */
  async destroy(graceMs = 0): Promise<void> {
    const signal = graceMs > 0 ? 'SIGTERM' : 'SIGKILL';
    for (const child of this.children) {
      try {
        child.kill(signal);
      } catch {
        // gone already
      }
    }
    let inside = 0;
    for (const name of this.created) inside += await killInside(name, signal);
    if (graceMs > 0 && (inside > 0 || this.children.size > 0)) {
      const end = Date.now() + graceMs;
      while (Date.now() < end) {
        let left = 0;
        for (const name of this.created) left += (await run('ip', ['netns', 'pids', name]).catch(() => ({ stdout: '' }))).stdout.trim() ? 1 : 0;
        if (left === 0) break;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    for (const child of this.children) {
      try {
        child.kill('SIGKILL');
      } catch {
        // gone already
      }
    }
    for (const name of [...this.created].reverse()) {
      await killInside(name, 'SIGKILL');
      await run('ip', ['netns', 'del', name]).catch(() => undefined);
    }
    this.created = [];
  }

  /** Forgets its namespaces without deleting them (`ted lab --keep`); a later run reaps them. */
  keep(): string[] {
    const kept = [...this.created];
    this.created = [];
    // Let this process exit: no pipe or handle of theirs keeps its event loop alive.
    for (const child of this.children) {
      child.stdout?.destroy();
      child.stderr?.destroy();
      child.unref();
    }
    this.children.clear();
    return kept;
  }

  /** Namespaces of this run that still exist (for the cleanup assertion). */
  async leftovers(): Promise<string[]> {
    const { stdout } = await run('ip', ['netns', 'list']);
    return stdout
      .split('\n')
      .map((l) => l.split(' ')[0]!)
      .filter((n) => n.startsWith(`${this.tag}-`));
  }
}
