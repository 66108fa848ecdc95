// The local control socket: `ted status` asks a running daemon for its tunnel table, pending
// probes, hold-downs and counters. Protocol: one JSON object per line each way over a Unix socket;
// the client sends {"cmd": "status"} and reads one reply line {"ok": true, "result": {...}} or
// {"ok": false, "error": {"code", "message"}}. The socket is created mode 0600 (root only).
import { chmodSync, mkdirSync, unlinkSync, existsSync } from 'node:fs';
import net from 'node:net';
import { dirname } from 'node:path';
import { TedError } from '../errors.js';

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

export async function startControlServer(path: string, handler: ControlHandler): Promise<ControlServer> {
  mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
  if (existsSync(path)) {
    if (await alive(path)) throw new TedError('CONTROL_IN_USE', `control socket ${path} is in use: is another ted daemon running?`);
    unlinkSync(path); // stale, from a daemon that did not stop cleanly
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
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => reject(new TedError('CONTROL_LISTEN', `cannot listen on ${path}: ${err.code ?? err.message}`, { cause: err })));
    server.listen(path, () => resolve());
  });
  chmodSync(path, 0o600);
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
      const why = err.code === 'ENOENT' || err.code === 'ECONNREFUSED' ? 'no ted daemon is running there' : err.code === 'EACCES' ? 'permission denied (run as root)' : err.message;
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
