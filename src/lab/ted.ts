// Real `ted` daemons inside the lab's namespaces: start with a configuration, wait until the
// control socket answers, follow the JSON log lines (written to a file, so a kept lab's daemons
// outlive `ted lab`), read the status, stop with SIGTERM and report the exit code.
import type { ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { queryControl } from '../daemon/control.js';
import { TedError } from '../errors.js';
import type { Lab, NodeName } from './netns.js';

/** A script of this package, from dist/ also when the caller runs from the TypeScript sources (tests). */
export function packageScript(relFromDist: string): string {
  const here = fileURLToPath(import.meta.url);
  return here.endsWith('.ts') ? join(dirname(here), '..', '..', 'dist', relFromDist) : join(dirname(here), '..', relFromDist);
}

export const CLI = packageScript('cli/main.js');

export interface LogLine {
  level: string | number;
  event?: string;
  msg: string;
  time?: number | string;
  [k: string]: unknown;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `fn` until it returns a truthy value or the time is up (then throws with `what`). */
export async function until<T>(what: string, fn: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 8000, everyMs = 50): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > end) throw new TedError('LAB_TIMEOUT', `timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await sleep(everyMs);
  }
}

/** Follows a growing file line by line (polling: works for files written by other processes). */
export class LineTail {
  private offset = 0;
  private partial = '';
  private readonly buf = Buffer.alloc(64 * 1024);
  constructor(readonly path: string) {}
  read(): string[] {
    if (!existsSync(this.path)) return [];
    const fd = openSync(this.path, 'r');
    const out: string[] = [];
    try {
      for (;;) {
        const n = readSync(fd, this.buf, 0, this.buf.length, this.offset);
        if (n <= 0) break;
        this.offset += n;
        this.partial += this.buf.toString('utf8', 0, n);
        let nl: number;
        while ((nl = this.partial.indexOf('\n')) >= 0) {
          out.push(this.partial.slice(0, nl));
          this.partial = this.partial.slice(nl + 1);
        }
      }
    } finally {
      closeSync(fd);
    }
    return out;
  }
}

export class LabTed {
  readonly logs: LogLine[] = [];
  readonly stderr: string[] = [];
  exitCode: number | null = null;
  readonly configFile: string;
  readonly socket: string;
  readonly logFile: string;
  private child: ChildProcess | undefined;
  private tail: LineTail;
  private readonly listeners = new Set<(l: LogLine) => void>();

  constructor(
    private readonly lab: Lab,
    readonly node: NodeName,
    readonly name: string,
    readonly role: 'initiator' | 'responder' | 'daemon',
    config: Record<string, unknown>,
    dir: string,
    private readonly cliPath: string = CLI,
  ) {
    this.socket = join(dir, `${name}.sock`);
    this.configFile = join(dir, `${name}.json`);
    this.logFile = join(dir, `${name}.log`);
    this.tail = new LineTail(this.logFile);
    writeFileSync(this.configFile, JSON.stringify({ log: { level: 'debug', pretty: 'never' }, ...config, control: { socket: this.socket } }, null, 2));
  }

  /** Calls `fn` for every log line from now on (read as the file grows: call `poll` or any reader). */
  onLog(fn: (l: LogLine) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Reads the log lines written since the last call. */
  poll(): LogLine[] {
    const fresh: LogLine[] = [];
    for (const line of this.tail.read()) {
      this.stderr.push(line);
      try {
        const l = JSON.parse(line) as LogLine;
        this.logs.push(l);
        fresh.push(l);
        for (const fn of this.listeners) fn(l);
      } catch {
        // not a log line (a crash trace): kept in stderr
      }
    }
    return fresh;
  }

  async start(options: { detached?: boolean } = {}): Promise<void> {
    this.exitCode = null;
    const fd = openSync(this.logFile, 'a');
    const child = this.lab.spawn(this.node, [process.execPath, this.cliPath, this.role, '--config', this.configFile], {}, { stdio: ['ignore', fd, fd], detached: options.detached ?? false });
    closeSync(fd);
    this.child = child;
    child.once('exit', (code) => {
      this.exitCode = code ?? -1;
    });
    await until(
      `${this.name} to answer on its control socket`,
      async () => {
        this.poll();
        if (this.exitCode !== null) throw new TedError('LAB_DAEMON', `${this.name} exited with ${this.exitCode}: ${this.stderr.slice(-5).join('\n')}`);
        await queryControl(this.socket, { cmd: 'ping' }, 1000);
        return true;
      },
      15_000,
      100,
    );
  }

  /** The daemon's status through its control socket (what `ted status --json` prints). */
  async statusJson<T = Record<string, unknown>>(): Promise<T> {
    return (await queryControl(this.socket, { cmd: 'status' }, 3000)) as T;
  }

  /** A control-socket command (`teardown` with `tunnel`). */
  control(request: { cmd: string; [k: string]: unknown }): Promise<unknown> {
    return queryControl(this.socket, request, 3000);
  }

  /** Runs `ted ARGS` in this daemon's namespace. */
  async cliRun(args: string[]): Promise<string> {
    const r = await this.lab.exec(this.node, [process.execPath, this.cliPath, ...args]);
    return r.stdout;
  }

  /** Waits for a log line (already read or still to come). */
  async waitFor(what: string, pred: (l: LogLine) => boolean, timeoutMs = 8000): Promise<LogLine> {
    return until(what, () => {
      this.poll();
      if (this.exitCode !== null) throw new TedError('LAB_DAEMON', `${this.name} exited with ${this.exitCode}`);
      return this.logs.find(pred);
    }, timeoutMs, 25);
  }

  events(name: string): LogLine[] {
    this.poll();
    return this.logs.filter((l) => l.event === name);
  }

  /** SIGTERM, and the exit code (0 = a graceful stop; -1: it had to be killed). */
  async stop(graceMs = 8000): Promise<number> {
    const child = this.child;
    if (!child || this.exitCode !== null) return this.exitCode ?? 0;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill('SIGTERM');
    await Promise.race([exited, sleep(graceMs)]);
    this.poll();
    if (this.exitCode === null) {
      child.kill('SIGKILL');
      await exited;
      return -1;
    }
    return this.exitCode;
  }

  dump(): string {
    this.poll();
    return `--- ${this.name} (${this.node}) log tail ---\n${this.stderr.slice(-40).join('\n')}`;
  }
}
