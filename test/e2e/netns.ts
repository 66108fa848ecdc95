// The end-to-end tests' lab: the namespaces come from src/lab/netns.ts (what `ted lab` uses);
// this adds what only tests need: the check for tshark/tcpdump and a tshark capture that
// dissects what crossed a link.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { LinkCapture } from '../../src/lab/capture.js';
import { commandExists, namespacesUnavailable, type Lab, type NodeName } from '../../src/lab/netns.js';

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
 * tshark on one interface of a namespace, writing a capture file (src/lab/capture.ts); `read()`
 * dissects it into rows of the named fields.
 */
export class Capture extends LinkCapture {
  constructor(lab: Lab, node: NodeName, iface: string, file: string, filter = 'udp port 500') {
    super(lab, node, iface, file, { tool: 'tshark', filter });
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
