// How the CLI turns errors into one clear line on stderr and an exit code:
// 0 ok, 1 runtime failure, 2 bad usage or bad input.
import { ConfigError, DecodeError, PolicyError, TedError, UsageError, formatProblem } from '../errors.js';

export function exitCodeOf(err: unknown): number {
  if (err instanceof UsageError || err instanceof PolicyError || err instanceof DecodeError || err instanceof ConfigError) return 2;
  if (err instanceof TedError && err.code.startsWith('TED_INPUT_')) return 2;
  const code = (err as { code?: unknown } | null)?.code;
  if (code === 'ENOENT' || code === 'EISDIR' || code === 'EACCES') return 2;
  return 1;
}

export function reportError(err: unknown): void {
  if (err instanceof PolicyError) {
    for (const p of err.problems) process.stderr.write(`ted: ${formatProblem(p)}\n`);
    return;
  }
  if (err instanceof TedError) {
    process.stderr.write(`ted: ${err.code}: ${err.message}\n`);
    return;
  }
  const e = err as { code?: string; message?: string };
  if (e && e.code === 'ENOENT') {
    process.stderr.write(`ted: ${e.message}\n`);
    return;
  }
  process.stderr.write(`ted: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
}
