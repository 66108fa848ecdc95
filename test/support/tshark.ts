// tshark for the interoperability tests: whether it is installed, and one way to run it.
import { execFileSync } from 'node:child_process';

let installed: boolean | undefined;

/** Whether tshark runs here; when not, prints why the tests that need it are skipped. */
export function haveTshark(skipping: string): boolean {
  if (installed === undefined) {
    try {
      execFileSync('tshark', ['--version'], { stdio: 'ignore' });
      installed = true;
    } catch {
      installed = false;
    }
  }
  if (!installed) console.warn(`${skipping}: tshark is not installed (.ci/run installs it)`);
  return installed;
}

/** tshark's standard output for `args` (its stderr chatter is dropped). */
export function tshark(args: string[]): string {
  return execFileSync('tshark', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 64 << 20 });
}
