// The end-to-end tests' lab: the namespaces come from src/lab/netns.ts (what `ted lab` uses);
// this adds what only tests need: the check for tshark/tcpdump and a tshark capture that
// dissects what crossed a link.
import { execFile, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { commandExists, Lab, namespacesUnavailable, type NodeName } from '../../src/lab/netns.js';

export { ADDR, Lab, type NodeName } from '../../src/lab/netns.js';

const run = promisify(execFile);

/** Why the lab cannot run here, or undefined when it can. */
export async function labUnavailable(): Promise<string | undefined> {
  const why = await namespacesUnavailable();
  if (why) return why === 'creating network namespaces needs root' ? `${why} (CI runs as root)` : why;
  for (const tool of ['tshark', 'tcpdump']) if (!(await commandExists(tool))) return `${tool} is not installed`;
  return undefined;
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
