// A scriptable stand-in for charon's VICI socket, for unit tests of the VICI session and the
// strongSwan handoff: a real Unix socket speaking the real framing (our codec), with handlers per
// command, event registration per connection, and a small model of connections and SAs.
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ViciInput, ViciSection } from '../../src/vici/message.js';
import { CMD_REQUEST, CMD_RESPONSE, CMD_UNKNOWN, EVENT, EVENT_CONFIRM, EVENT_REGISTER, EVENT_UNKNOWN, EVENT_UNREGISTER, FrameReader, decodePacket, encodeFrame } from '../../src/vici/packet.js';

export interface FakeConnection {
  readonly socket: net.Socket;
  readonly events: Set<string>;
  /** Sends an event to this connection if it registered it (what charon does for streams). */
  emit(name: string, message: ViciInput): void;
  /** Raw bytes, for protocol-error tests. */
  raw(bytes: Uint8Array): void;
}

export type Handler = (message: ViciSection, conn: FakeConnection) => ViciInput | undefined | Promise<ViciInput | undefined>;

export class FakeCharon {
  readonly dir = mkdtempSync(join(tmpdir(), 'ted-fake-charon-'));
  readonly path = join(this.dir, 'charon.vici');
  readonly handlers = new Map<string, Handler>();
  /** Every request, in order: command and message. */
  readonly requests: { command: string; message: ViciSection }[] = [];
  /** EVENT_REGISTER/UNREGISTER seen, in order. */
  readonly registrations: { type: 'register' | 'unregister'; event: string }[] = [];
  /** Events charon knows (others get EVENT_UNKNOWN). */
  readonly knownEvents = new Set(['control-log', 'list-sa', 'list-conn', 'ike-updown', 'child-updown', 'ike-rekey', 'child-rekey', 'log']);
  readonly connections = new Set<FakeConnection>();
  /** Most requests in flight on one connection at any time (the wire allows one). */
  maxInFlight = 0;
  private server: net.Server | undefined;

  async start(): Promise<void> {
    this.server = net.createServer((socket) => this.accept(socket));
    await new Promise<void>((resolve) => this.server!.listen(this.path, resolve));
  }

  private accept(socket: net.Socket): void {
    const reader = new FrameReader();
    let inFlight = 0;
    const conn: FakeConnection = {
      socket,
      events: new Set(),
      emit: (name, message) => {
        if (conn.events.has(name) && !socket.destroyed) socket.write(encodeFrame({ type: EVENT, name, message }));
      },
      raw: (bytes) => socket.write(bytes),
    };
    this.connections.add(conn);
    socket.on('close', () => this.connections.delete(conn));
    socket.on('error', () => undefined);
    // Requests are answered in order, one at a time, like charon's per-connection dispatcher.
    let chain = Promise.resolve();
    socket.on('data', (chunk) => {
      for (const f of reader.push(chunk)) {
        const p = decodePacket(f);
        chain = chain.then(async () => {
          if (socket.destroyed) return;
          if (p.type === EVENT_REGISTER || p.type === EVENT_UNREGISTER) {
            const reg = p.type === EVENT_REGISTER;
            this.registrations.push({ type: reg ? 'register' : 'unregister', event: p.name });
            if (!this.knownEvents.has(p.name)) return void socket.write(encodeFrame({ type: EVENT_UNKNOWN }));
            if (reg) conn.events.add(p.name);
            else conn.events.delete(p.name);
            socket.write(encodeFrame({ type: EVENT_CONFIRM }));
            return;
          }
          if (p.type !== CMD_REQUEST) return;
          inFlight++;
          this.maxInFlight = Math.max(this.maxInFlight, inFlight);
          this.requests.push({ command: p.name, message: p.message });
          const h = this.handlers.get(p.name);
          if (!h) {
            inFlight--;
            return void socket.write(encodeFrame({ type: CMD_UNKNOWN }));
          }
          const out = await h(p.message, conn);
          inFlight--;
          if (out !== undefined && !socket.destroyed) socket.write(encodeFrame({ type: CMD_RESPONSE, message: out }));
        });
      }
    });
  }

  /** An event to every connection registered for it (ike-updown, child-updown). */
  broadcast(name: string, message: ViciInput): void {
    for (const c of this.connections) c.emit(name, message);
  }

  /** Drops every client connection and stops listening (charon exiting). */
  async stop(): Promise<void> {
    for (const c of this.connections) c.socket.destroy();
    this.connections.clear();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.server = undefined;
  }

  async close(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }

  commands(name: string): ViciSection[] {
    return this.requests.filter((r) => r.command === name).map((r) => r.message);
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function until<T>(what: string, fn: () => T | undefined | false, timeoutMs = 3000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}
