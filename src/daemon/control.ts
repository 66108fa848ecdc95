// The local control socket: `ted status` asks a running daemon for its tunnel table, pending
// probes, hold-downs and counters. Protocol: one JSON object per line each way over a Unix socket;
// the client sends {"cmd": "status"} and reads one reply line {"ok": true, "result": {...}} or
// {"ok": false, "error": {"code", "message"}}. The socket is created mode 0600 (owner only) from
// the start, and only a socket is ever replaced at its path.
import { chmodSync, lstatSync, mkdirSync, statSync, unlinkSync } from 'node:fs';
import net from 'node:net';
import { dirname } from 'node:path';
import { ConfigError, TedError } from '../errors.js';
import { describeKind, directoryProblem } from '../files.js';

export type ControlHandler = (request: { cmd: string; [k: string]: unknown }) => unknown | Promise<unknown>;

/** Longest request line accepted; a longer one closes the connection. */
const MAX_LINE = 64 * 1024;

export interface ControlServer {
  readonly path: string;
  close(): Promise<void>;
}

/** JSON.stringify that writes bigint as decimal strings (status holds numeric addresses/cookies). */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
}

/** Is a daemon answering on `path`? (false for a stale file left by a crash) */
function alive(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = net.connect(path);
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
}

/**
 * Why the control socket cannot be at `path`, or undefined: its directory must be (or be
 * creatable as) a directory, and anything already there must be a socket, the only kind of file
 * the daemon replaces (a stale one, from a daemon that did not stop cleanly).
 */
export function controlSocketProblem(path: string): string | undefined {
  const dir = directoryProblem(dirname(path));
  if (dir) return `cannot use the directory of ${path}: ${dir.reason}`;
  try {
    const s = lstatSync(path);
    if (!s.isSocket()) return `${path} exists and is ${describeKind(s)}, not a socket: remove it or choose another path`;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') return `${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`;
  }
  return undefined;
}

/** Listens on `path` with the socket created 0600: no moment where others may connect. */
function listenOwnerOnly(server: net.Server, path: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => reject(new TedError('CONTROL_LISTEN', `cannot listen on ${path}: ${err.code ?? err.message}`, { cause: err })));
    // The bind happens inside listen(), synchronously: the umask covers exactly that moment.
    // (A worker thread cannot set the umask: there the chmod after listening has to do.)
    let umask: number | undefined;
    try {
      umask = process.umask(0o177);
    } catch {
      umask = undefined;
    }
    try {
      server.listen(path, () => resolve());
    } finally {
      if (umask !== undefined) process.umask(umask);
    }
  });
}

export async function startControlServer(path: string, handler: ControlHandler): Promise<ControlServer> {
  const problem = controlSocketProblem(path);
  if (problem) throw new ConfigError('CONFIG_CONTROL_SOCKET', 'control.socket', problem);
  mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
  let stale = false;
  try {
    stale = lstatSync(path).isSocket();
  } catch {
    stale = false; // nothing there
  }
  if (stale) {
    if (await alive(path)) throw new TedError('CONTROL_IN_USE', `control socket ${path} is in use: is another ted daemon running?`);
    unlinkSync(path); // a socket left by a daemon that did not stop cleanly
  }
  const server = net.createServer((conn) => {
    let buf = '';
    conn.setEncoding('utf8');
    conn.on('error', () => conn.destroy());
    conn.on('data', (chunk: string) => {
      buf += chunk;
      if (buf.length > MAX_LINE) {
        conn.end(toJson({ ok: false, error: { code: 'CONTROL_TOO_LONG', message: 'request too long' } }) + '\n');
        return;
      }
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (line) void answer(line).then((reply) => conn.write(reply + '\n'));
      }
    });
  });
  const answer = async (line: string): Promise<string> => {
    let req: unknown;
    try {
      req = JSON.parse(line);
    } catch {
      return toJson({ ok: false, error: { code: 'CONTROL_BAD_REQUEST', message: 'request is not JSON' } });
    }
    if (!req || typeof req !== 'object' || typeof (req as { cmd?: unknown }).cmd !== 'string')
      return toJson({ ok: false, error: { code: 'CONTROL_BAD_REQUEST', message: 'request needs a "cmd" string' } });
    try {
      return toJson({ ok: true, result: await handler(req as { cmd: string }) });
    } catch (err) {
      const e = err as { code?: string; message?: string };
      return toJson({ ok: false, error: { code: e.code ?? 'CONTROL_FAILED', message: e.message ?? String(err) } });
    }
  };
  await listenOwnerOnly(server, path);
  chmodSync(path, 0o600); // in case a file system ignores the umask for sockets
  server.unref();
  return {
    path,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        try {
          unlinkSync(path);
        } catch {
          // already gone
        }
      }),
  };
}

/** What is at `path` when it exists and is not a socket (a mistyped --socket). */
function notASocket(path: string): string | undefined {
  try {
    const s = statSync(path);
    return s.isSocket() ? undefined : `${describeKind(s)}, not a socket`;
  } catch {
    return undefined;
  }
}

/** Sends one request and returns the `result`; failures are TedErrors with CONTROL_* codes. */
export function queryControl(path: string, request: { cmd: string; [k: string]: unknown }, timeoutMs = 3000): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const conn = net.connect(path);
    let buf = '';
    const timer = setTimeout(() => {
      conn.destroy();
      reject(new TedError('CONTROL_TIMEOUT', `no answer from ${path} within ${timeoutMs} ms`));
    }, timeoutMs);
    conn.setEncoding('utf8');
    conn.on('connect', () => conn.write(JSON.stringify(request) + '\n'));
    conn.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      const why = notASocket(path) ?? (err.code === 'ENOENT' || err.code === 'ECONNREFUSED' ? 'no ted daemon is running there' : err.code === 'EACCES' ? 'permission denied (run as root)' : err.message);
      reject(new TedError('CONTROL_UNREACHABLE', `cannot reach the daemon at ${path}: ${why}`, { cause: err }));
    });
    conn.on('data', (chunk: string) => {
      buf += chunk;
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(timer);
      conn.end();
      let reply: { ok?: boolean; result?: unknown; error?: { code?: string; message?: string } };
      try {
        reply = JSON.parse(buf.slice(0, nl));
      } catch {
        reject(new TedError('CONTROL_BAD_REPLY', `the daemon at ${path} sent a reply that is not JSON`));
        return;
      }
      if (reply.ok) resolve(reply.result);
      else reject(new TedError(reply.error?.code ?? 'CONTROL_FAILED', reply.error?.message ?? 'request failed'));
    });
  });
}
