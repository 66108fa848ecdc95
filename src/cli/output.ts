// How the CLI's output reaches the terminal, for every command at once (commands just write):
// - text from files and packets (ACL names, pcapng interface names, tokens) cannot drive the
//   terminal: control characters in what goes to stdout are escaped (line feed and tab kept);
// - a reader that goes away (`ted ... 2>&1 | head -1`) does not change the exit status: EPIPE on
//   stdout or stderr ends that stream's output, the command runs to its own end and status.
import { terminalSafe } from '../terminal.js';

type Write = typeof process.stdout.write;

/** Escapes what goes to stdout until the returned function is called. */
export function escapeStdout(): () => void {
  const original = process.stdout.write;
  const safe = function (this: NodeJS.WriteStream, chunk: unknown, ...rest: unknown[]): boolean {
    return (original as (...a: unknown[]) => boolean).call(this, typeof chunk === 'string' ? terminalSafe(chunk) : chunk, ...rest);
  } as Write;
  process.stdout.write = safe;
  return () => {
    if (process.stdout.write === safe) process.stdout.write = original;
  };
}

/** Once per process: EPIPE on stdout/stderr is the reader's choice, not our failure. */
export function survivePipeClose(): void {
  for (const stream of [process.stdout, process.stderr]) {
    if (stream.listenerCount('error') > 0) continue;
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE' || err.code === 'ERR_STREAM_DESTROYED') return;
      // Anything else (a full disk behind `> file`) is a failure; the status says so.
      process.exitCode = 1;
    });
  }
}
