// Real `ted` processes inside the lab's namespaces: start with a configuration, wait until the
// control socket answers, read `ted status --json`, stop with SIGTERM and check the clean exit.
import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { queryControl } from '../../src/daemon/control.js';
import type { Lab, NodeName } from './netns.js';

export const CLI = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
export const TOOL = fileURLToPath(new URL('./tool.mjs', import.meta.url));

export interface LogLine {
  level: string;
  event?: string;
  msg: string;
  [k: string]: unknown;
}

import type { SelectorJson } from '../../src/selector/format.js';

export interface StatusJson {
  daemon: { role: string; probeSource: string };
  tunnels: { id: number; state: string; peer: string; entry: number; packets: number; proxy: SelectorJson }[];
  pending: { icookie: string; destination: string; tries: number }[];
  holdDowns: { destination: string; remainingMs: number; reason: string }[];
  counters: Record<string, number>;
  packets: Record<string, number>;
  transport: Record<string, number | boolean>;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `fn` until it returns a truthy value or the time is up (then throws with `what`). */
export async function until<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 8000, everyMs = 100): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await sleep(everyMs);
  }
}

export class TedProcess {
  readonly logs: LogLine[] = [];
  readonly stderr: string[] = [];
  private child: ChildProcess | undefined;
  exitCode: number | null = null;
  readonly configFile: string;
  readonly socket: string;

  constructor(
    private readonly lab: Lab,
    readonly node: NodeName,
    readonly name: string,
    readonly role: 'initiator' | 'responder' | 'daemon',
    config: Record<string, unknown>,
    dir: string,
  ) {
    this.socket = join(dir, `${name}.sock`);
    this.configFile = join(dir, `${name}.json`);
    writeFileSync(this.configFile, JSON.stringify({ ...config, control: { socket: this.socket }, log: { level: 'debug', pretty: 'never' } }, null, 2));
  }

  async start(): Promise<void> {
    this.logs.length = 0;
    this.exitCode = null;
    const child = this.lab.spawn(this.node, [process.execPath, CLI, this.role, '--config', this.configFile]);
    this.child = child;
    let buf = '';
    child.stderr!.on('data', (b: Buffer) => {
      buf += b.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        this.stderr.push(line);
        try {
          this.logs.push(JSON.parse(line) as LogLine);
        } catch {
          // not a log line (a crash trace): kept in stderr
        }
      }
    });
    child.once('exit', (code) => {
      this.exitCode = code ?? -1;
    });
    await until(`${this.name} to answer on its control socket`, async () => {
      if (this.exitCode !== null) throw new Error(`${this.name} exited with ${this.exitCode}: ${this.stderr.slice(-5).join('\n')}`);
      await queryControl(this.socket, { cmd: 'ping' }, 1000);
      return true;
    }, 15_000, 150);
  }

  /** Runs `ted ARGS` in this daemon's namespace. */
  async cli(args: string[]): Promise<string> {
    const r = await this.lab.exec(this.node, [process.execPath, CLI, ...args]);
    return r.stdout;
  }

  /**
   * The daemon's status through its control socket (the protocol `ted status` speaks; a path
   * socket is reachable from the test's own namespace). Polling through the CLI would cost a
   * process start per poll; `statusCli` runs the real command where a test asserts on it.
   */
  async status(): Promise<StatusJson> {
    return (await queryControl(this.socket, { cmd: 'status' }, 3000)) as StatusJson;
  }

  /** `ted status --json` run inside the daemon's namespace. */
  async statusCli(): Promise<StatusJson> {
    return JSON.parse(await this.cli(['status', '--socket', this.socket, '--json'])) as StatusJson;
  }

  /** SIGTERM, and the exit code (0 = a graceful stop). */
  async stop(): Promise<number> {
    const child = this.child;
    if (!child || this.exitCode !== null) return this.exitCode ?? 0;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill('SIGTERM');
    await Promise.race([exited, sleep(5000)]);
    if (this.exitCode === null) {
      child.kill('SIGKILL');
      await exited;
      return -1;
    }
    return this.exitCode;
  }

  events(name: string): LogLine[] {
    return this.logs.filter((l) => l.event === name);
  }

  dump(): string {
    return `--- ${this.name} (${this.node}) log tail ---\n${this.stderr.slice(-40).join('\n')}`;
  }
}

/** Runs the traffic tool in a namespace and returns its JSON lines. */
export async function tool(lab: Lab, node: NodeName, args: string[]): Promise<Record<string, unknown>[]> {
  const r = await lab.exec(node, [process.execPath, TOOL, ...args], { timeoutMs: 15_000 });
  return r.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** A long-running listener (udp-listen / tcp-listen) whose lines are collected. */
export class Listener {
  readonly lines: Record<string, unknown>[] = [];
  private child: ChildProcess | undefined;
  constructor(
    private readonly lab: Lab,
    private readonly node: NodeName,
    private readonly args: string[],
  ) {}
  async start(): Promise<void> {
    const child = this.lab.spawn(this.node, [process.execPath, TOOL, ...this.args]);
    this.child = child;
    let buf = '';
    child.stdout!.on('data', (b: Buffer) => {
      buf += b.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        this.lines.push(JSON.parse(buf.slice(0, nl)) as Record<string, unknown>);
        buf = buf.slice(nl + 1);
      }
    });
    await until(`listener ${this.args.join(' ')}`, async () => this.lines.some((l) => l.listening), 10_000, 50);
  }
  stop(): void {
    this.child?.kill('SIGKILL');
  }
}
