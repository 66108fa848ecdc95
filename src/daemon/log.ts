// Structured logs: JSON lines on stderr (one object per event, for journald or a log shipper),
// readable lines (coloured unless NO_COLOR) when stderr is a terminal.
//
// Writing never blocks the daemon: lines go into a bounded queue that a single asynchronous
// write drains (fs.write on the thread pool). When the reader of stderr stalls (a stuck pipe, a
// terminal on XOFF), the queue fills, further lines are dropped and counted, and once the writer
// moves again one line says how many were lost. At a graceful stop the queue is flushed, with a
// time limit.
import { write as fsWrite } from 'node:fs';
import { createRequire } from 'node:module';
import { isatty } from 'node:tty';
import type * as Pino from 'pino';
import type { Logger } from 'pino';
import { colourWanted } from '../terminal.js';
import type { LogLevel } from './config.js';

export type { Logger } from 'pino';

/** Where the queue writes: one chunk at a time; `done` when it is written (or failed for good). */
export interface LogSink {
  write(chunk: string, done: (err?: Error | null) => void): void;
}

/** Default bound of the queue (bytes of log text held while the writer is busy). */
export const DEFAULT_LOG_BUFFER_BYTES = 1 << 20;
/** Largest chunk handed to the sink at once. */
const CHUNK = 64 * 1024;

/**
 * A file descriptor as a sink: fs.write on the thread pool (a blocked pipe blocks a pool thread,
 * not the event loop), partial writes continued, EAGAIN (a non-blocking descriptor) retried
 * after a pause.
 */
export function fdSink(fd: number): LogSink {
  return {
    write(chunk, done) {
      let buf = Buffer.from(chunk, 'utf8');
      let pause = 5;
      const step = () =>
        fsWrite(fd, buf, 0, buf.length, null, (err, n) => {
          if (err) {
            if ((err as NodeJS.ErrnoException).code === 'EAGAIN') {
              setTimeout(step, pause).unref();
              pause = Math.min(pause * 2, 500);
              return;
            }
            return done(err);
          }
          if (n < buf.length) {
            buf = buf.subarray(n);
            return step();
          }
          done();
        });
      step();
    },
  };
}

export interface BoundedLogStreamOptions {
  readonly sink: LogSink;
  /** Bytes of queued text before lines are dropped (default 1 MiB). */
  readonly maxBytes?: number;
  /** Turns a JSON line into what is written (pino-pretty on a terminal). */
  readonly format?: (line: string) => string;
}

/**
 * pino's destination: `write(line)` queues and returns at once. At most one sink write is in
 * flight; a line that does not fit the queue is dropped and counted.
 */
export class BoundedLogStream {
  /** Lines dropped since the last "dropped" notice was queued. */
  private pendingDrops = 0;
  /** Lines dropped in total. */
  dropped = 0;
  /** Lines handed to the sink in total. */
  written = 0;
  private queue: string[] = [];
  private head = 0;
  private bytes = 0;
  private busy = false;
  private broken: Error | undefined;
  private waiters: (() => void)[] = [];
  private readonly maxBytes: number;

  constructor(private readonly opts: BoundedLogStreamOptions) {
    this.maxBytes = opts.maxBytes ?? DEFAULT_LOG_BUFFER_BYTES;
  }

  /** Bytes of text waiting (not counting the chunk being written). */
  get queuedBytes(): number {
    return this.bytes;
  }

  /** The error that stopped the sink for good (EPIPE, EBADF...), if any. */
  get error(): Error | undefined {
    return this.broken;
  }

  write(line: string): boolean {
    const text = this.opts.format ? this.opts.format(line) : line;
    if (this.broken || this.bytes + text.length > this.maxBytes) {
      this.dropped++;
      this.pendingDrops++;
      return true;
    }
    if (this.pendingDrops > 0) this.noteDrops();
    this.push(text);
    this.pump();
    return true;
  }

  private push(text: string): void {
    this.queue.push(text);
    this.bytes += text.length;
  }

  /** Queues one line saying how many were lost (room for it is kept: it may exceed maxBytes by one line). */
  private noteDrops(): void {
    const n = this.pendingDrops;
    this.pendingDrops = 0;
    const line = `${JSON.stringify({ level: 'warn', time: new Date().toISOString(), pid: process.pid, event: 'log-dropped', dropped: n, msg: `${n} log lines dropped: the log writer was too slow` })}\n`;
    this.push(this.opts.format ? this.opts.format(line) : line);
  }

  private pump(): void {
    if (this.busy || this.broken || this.head === this.queue.length) return;
    let chunk = '';
    while (this.head < this.queue.length && (chunk.length === 0 || chunk.length + this.queue[this.head]!.length <= CHUNK)) {
      const t = this.queue[this.head]!;
      this.queue[this.head++] = '';
      chunk += t;
      this.written++;
    }
    this.bytes -= chunk.length;
    if (this.head === this.queue.length) {
      this.queue = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    this.busy = true;
    this.opts.sink.write(chunk, (err) => {
      this.busy = false;
      if (err) {
        // The reader is gone: nothing more can be written; count the rest as dropped.
        this.broken = err;
        const lost = this.queue.length - this.head;
        this.dropped += lost;
        this.queue = [];
        this.head = 0;
        this.bytes = 0;
      } else if (this.pendingDrops > 0) this.noteDrops();
      if (this.head === this.queue.length || this.broken) for (const w of this.waiters.splice(0)) w();
      this.pump();
    });
  }

  /** Resolves true once everything queued is written, false after `timeoutMs` or a broken sink. */
  flush(timeoutMs = 2000): Promise<boolean> {
    if (this.pendingDrops > 0 && !this.broken) {
      this.noteDrops();
      this.pump();
    }
    const idle = () => !this.busy && this.head === this.queue.length;
    if (idle() || this.broken) return Promise.resolve(!this.broken && idle());
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== done);
        resolve(false);
      }, timeoutMs);
      timer.unref();
      const done = () => {
        if (!idle() && !this.broken) return void this.waiters.push(done);
        clearTimeout(timer);
        resolve(!this.broken);
      };
      this.waiters.push(done);
    });
  }
}

export interface LoggerOptions {
  readonly level: LogLevel;
  /** auto: pretty when stderr is a TTY. */
  readonly pretty?: 'auto' | 'always' | 'never';
  /** Where to write (default stderr, fd 2). */
  readonly fd?: number;
  /** Instead of `fd` (tests: a writer that never drains). */
  readonly sink?: LogSink;
  /** Bound of the queue in bytes (default 1 MiB). */
  readonly bufferBytes?: number;
  /** Fields on every line, e.g. { role: 'initiator' }. */
  readonly base?: Record<string, unknown>;
}

const streams = new WeakMap<Logger, BoundedLogStream>();

export function createLogger(options: LoggerOptions): Logger {
  const fd = options.fd ?? 2;
  const mode = options.pretty ?? 'auto';
  const usePretty = mode === 'always' || (mode === 'auto' && !options.sink && fd === 2 && process.stderr.isTTY === true);
  const base = { pid: process.pid, ...(options.base ?? {}) };
  // Loaded here, not at import: commands that never log (most of the CLI) start faster.
  const { pino } = createRequire(import.meta.url)('pino') as typeof Pino;
  const opts = {
    level: options.level,
    base,
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
  };
  // pino-pretty only when a person reads the terminal (it costs start-up time otherwise).
  const format = usePretty
    ? (createRequire(import.meta.url)('pino-pretty') as typeof import('pino-pretty')).prettyFactory({
        // Readable lines may go to a file (log.pretty: always): colour only a terminal, never with NO_COLOR.
        colorize: options.sink ? false : colourWanted({ isTTY: isatty(fd) }),
        translateTime: 'SYS:HH:MM:ss.l',
        ignore: 'pid,hostname',
      })
    : undefined;
  const stream = new BoundedLogStream({ sink: options.sink ?? fdSink(fd), maxBytes: options.bufferBytes ?? DEFAULT_LOG_BUFFER_BYTES, ...(format ? { format } : {}) });
  const logger = pino(opts, stream);
  streams.set(logger, stream);
  return logger;
}

/** The queue behind a logger made by createLogger (undefined for other loggers). */
export function logStream(logger: Logger): BoundedLogStream | undefined {
  return streams.get(logger);
}

/** Writes out what is queued (true), or gives up after `timeoutMs` (false). Other loggers: true. */
export function flushLogger(logger: Logger, timeoutMs = 2000): Promise<boolean> {
  return streams.get(logger)?.flush(timeoutMs) ?? Promise.resolve(true);
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
