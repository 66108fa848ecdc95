// Real `ted` processes inside the lab's namespaces (src/lab/ted.ts, what `ted lab` uses), with
// the status typed as the tests read it, and the traffic tool's runners.
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { LabTed } from '../../src/lab/ted.js';
import type { SelectorJson } from '../../src/selector/format.js';
import type { Lab, NodeName } from './netns.js';

export { CLI, sleep, until, type LogLine } from '../../src/lab/ted.js';
import { until } from '../../src/lab/ted.js';

export const TOOL = fileURLToPath(new URL('./tool.mjs', import.meta.url));

export interface StatusJson {
  daemon: { role: string; probeSource: string };
  tunnels: { id: number; state: string; peer: string; entry: number; packets: number; proxy: SelectorJson; ike?: { connection: string; phase: string; ikeSa: string[]; childSas: { name: string; state: string; localTs: string[]; remoteTs: string[] }[] } }[];
  pending: { icookie: string; destination: string; tries: number }[];
  holdDowns: { destination: string; remainingMs: number; reason: string }[];
  counters: Record<string, number>;
  packets: Record<string, number>;
  transport: Record<string, number | boolean>;
  handoff: { kind: string; charon?: string; counters?: { initiated: number; established: number; down: number; failures: Record<string, number> } };
}

/** A ted daemon in the lab (src/lab/ted.ts) with the status typed as the tests read it. */
export class TedProcess extends LabTed {
  /** Through the control socket (the protocol `ted status` speaks; polling the CLI would cost a process per poll). */
  async status(): Promise<StatusJson> {
    return this.statusJson<StatusJson>();
  }

  /** `ted status --json` run inside the daemon's namespace. */
  async statusCli(): Promise<StatusJson> {
    return JSON.parse(await this.cliRun(['status', '--socket', this.socket, '--json'])) as StatusJson;
  }

  /** Runs `ted ARGS` in this daemon's namespace. */
  cli(args: string[]): Promise<string> {
    return this.cliRun(args);
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
