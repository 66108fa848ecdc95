// Structured logs: JSON lines on stderr (one object per event, for journald or a log shipper),
// readable lines (coloured unless NO_COLOR) when stderr is a terminal. Written synchronously so
// that nothing is lost when the daemon stops on a signal.
import { pino, type Logger } from 'pino';
import { createRequire } from 'node:module';
import { isatty } from 'node:tty';
import { colourWanted } from '../terminal.js';
import type { LogLevel } from './config.js';

export type { Logger } from 'pino';

export interface LoggerOptions {
  readonly level: LogLevel;
  /** auto: pretty when stderr is a TTY. */
  readonly pretty?: 'auto' | 'always' | 'never';
  /** Where to write (default stderr, fd 2). */
  readonly fd?: number;
  /** Fields on every line, e.g. { role: 'initiator' }. */
  readonly base?: Record<string, unknown>;
}

export function createLogger(options: LoggerOptions): Logger {
  const fd = options.fd ?? 2;
  const mode = options.pretty ?? 'auto';
  const usePretty = mode === 'always' || (mode === 'auto' && fd === 2 && process.stderr.isTTY === true);
  const base = { pid: process.pid, ...(options.base ?? {}) };
  // BigInt values (cookies, numeric addresses) are not JSON: write them as decimal strings.
  const opts = {
    level: options.level,
    base,
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
  };
  // pino-pretty only when a person reads the terminal (it costs start-up time otherwise).
  const stream = usePretty
    ? (createRequire(import.meta.url)('pino-pretty') as typeof import('pino-pretty'))({
        destination: fd,
        sync: true,
        // Readable lines may go to a file (log.pretty: always): colour only a terminal, never with NO_COLOR.
        colorize: colourWanted({ isTTY: isatty(fd) }),
        translateTime: 'SYS:HH:MM:ss.l',
        ignore: 'pid,hostname',
      })
    : pino.destination({ dest: fd, sync: true });
  return pino(opts, stream);
}

/** For JSON-safe log fields: bigint -> hex string ("0x..."), recursively for plain objects. */
export function jsonSafe(value: unknown): unknown {
  if (typeof value === 'bigint') return `0x${value.toString(16).padStart(16, '0')}`;
  if (Array.isArray(value)) return value.map(jsonSafe);
  if (value && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = jsonSafe(v);
    return out;
  }
  return value;
}
