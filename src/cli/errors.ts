// How the CLI turns errors into one clear line on stderr and an exit code:
// 0 ok, 1 runtime failure, 2 bad usage or bad input. Every line goes through printable(): messages
// carry untrusted text (file names, tokens) that must not drive the terminal.
import { ConfigError, DecodeError, PolicyError, TedError, UsageError, formatProblem } from '../errors.js';
import { printable } from '../terminal.js';

// An OS error about a path that slipped past the checks of src/files.ts (a file that changed in
// between, a path a library opened itself): reported with the same codes.
const PATH_ERRNO: Record<string, { code: string; reason: string }> = {
  ENOENT: { code: 'TED_INPUT_NOT_FOUND', reason: 'no such file' },
  ENOTDIR: { code: 'TED_INPUT_NOT_FOUND', reason: 'a part of the path is not a directory' },
  ELOOP: { code: 'TED_INPUT_NOT_FOUND', reason: 'too many symbolic links' },
  ENAMETOOLONG: { code: 'TED_INPUT_NOT_FOUND', reason: 'name too long' },
  EISDIR: { code: 'TED_INPUT_IS_DIRECTORY', reason: 'a directory where a file is expected' },
  EACCES: { code: 'TED_INPUT_UNREADABLE', reason: 'permission denied' },
  EPERM: { code: 'TED_INPUT_UNREADABLE', reason: 'operation not permitted' },
  EROFS: { code: 'TED_INPUT_UNWRITABLE', reason: 'read-only file system' },
};

function pathErrno(err: unknown): { code: string; line: string } | undefined {
  if (err instanceof TedError || !(err instanceof Error)) return undefined;
  const e = err as NodeJS.ErrnoException;
  const known = e.code !== undefined ? PATH_ERRNO[e.code] : undefined;
  if (!known || e.syscall === undefined) return undefined;
  return { code: known.code, line: `${known.code}: ${e.path !== undefined ? `${e.path}: ` : ''}${known.reason}` };
}

export function exitCodeOf(err: unknown): number {
  if (err instanceof UsageError || err instanceof PolicyError || err instanceof DecodeError || err instanceof ConfigError) return 2;
  if (err instanceof TedError && err.code.startsWith('TED_INPUT_')) return 2;
  if (pathErrno(err)) return 2;
  return 1;
}

/** The lines (without `ted: ` and newline) that report `err`. */
export function errorLines(err: unknown, env: NodeJS.ProcessEnv = process.env): string[] {
  if (err instanceof PolicyError) return err.problems.map(formatProblem);
  if (err instanceof TedError) return [`${err.code}: ${err.message}`];
  const p = pathErrno(err);
  if (p) return [p.line];
  // Any other OS error (a full disk, a refused connection): the system's own words, one line.
  const sys = err as NodeJS.ErrnoException;
  if (err instanceof Error && typeof sys.code === 'string' && typeof sys.syscall === 'string')
    return [sys.message.startsWith(`${sys.code}:`) ? sys.message : `${sys.code}: ${sys.message}`];
  // A bug: one line, the stack only on request.
  const message = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  if (env.TED_DEBUG && err instanceof Error && err.stack) return [`internal error: ${message}`, ...err.stack.split('\n').slice(1).map((l) => l.trim())];
  return [`internal error: ${message} (TED_DEBUG=1 shows where)`];
}

export function reportError(err: unknown): void {
  for (const line of errorLines(err)) process.stderr.write(`ted: ${printable(line)}\n`);
}
