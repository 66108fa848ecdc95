// A VICI session with charon over its Unix socket. The wire has no sequence numbers, so one
// exchange is in flight per connection: requests queue and run one after another. Streamed
// commands (initiate/terminate -> control-log, list-sas -> list-sa, ...) register their event,
// collect it until the response, and unregister. Subscriptions (ike-updown, child-updown) are
// re-registered on every reconnect. A request that times out closes the connection (its late
// answer would otherwise be taken for the next request's) and the session reconnects.
import { createConnection } from 'node:net';
import type { Duplex } from 'node:stream';
import { TedError, ViciError } from '../errors.js';
import type { ViciInput, ViciSection } from './message.js';
import {
  CMD_REQUEST,
  CMD_RESPONSE,
  CMD_UNKNOWN,
  EVENT,
  EVENT_CONFIRM,
  EVENT_REGISTER,
  EVENT_UNKNOWN,
  EVENT_UNREGISTER,
  FrameReader,
  PACKET_TYPE_NAMES,
  decodePacket,
  encodeFrame,
  type OutgoingPacket,
  type ViciPacket,
} from './packet.js';

export type ViciEventHandler = (message: ViciSection, name: string) => void;

export interface ViciSessionOptions {
  /** charon's VICI socket: a path, or `unix:///path` as swanctl's --uri takes it. */
  readonly socket: string;
  /** Per request (a streamed command counts as one); default 15000 ms. */
  readonly requestTimeoutMs?: number;
  /** Reconnect after the connection is lost or could not be made (default true). Delays double from minMs to maxMs. */
  readonly reconnect?: boolean | { readonly minMs?: number; readonly maxMs?: number };
  /** Requests waiting behind the one in flight (default 1024); more fail with VICI_QUEUE_FULL. */
  readonly maxQueued?: number;
  /** Opens the byte stream (tests put a fake charon here). Default: a Unix socket connection. */
  readonly connect?: (path: string) => Duplex;
}

export interface RequestOptions {
  readonly timeoutMs?: number;
}

/** The path of a `unix://` URI (or the text itself when it is a path). */
export function viciSocketPath(uriOrPath: string): string {
  if (uriOrPath.startsWith('unix://')) return uriOrPath.slice('unix://'.length);
  if (/^[a-z]+:\/\//i.test(uriOrPath)) throw new TedError('VICI_BAD_URI', `only unix:// VICI sockets are supported, got '${uriOrPath}'`);
  return uriOrPath;
}

type State = 'idle' | 'connecting' | 'up' | 'down' | 'closed';

interface Waiter {
  readonly expect: 'command' | 'event';
  readonly resolve: (p: ViciPacket) => void;
  readonly reject: (e: Error) => void;
}

interface Job {
  readonly run: () => Promise<unknown>;
  readonly resolve: (v: unknown) => void;
  readonly reject: (e: Error) => void;
  readonly timeoutMs: number;
  readonly what: string;
}

export interface ViciSessionCounters {
  requests: number;
  timeouts: number;
  connects: number;
  disconnects: number;
  events: number;
  /** Frames that did not decode, or packets that made no sense where they came (each drops the connection). */
  protocolErrors: number;
}

export class ViciSession {
  readonly path: string;
  readonly counters: ViciSessionCounters = { requests: 0, timeouts: 0, connects: 0, disconnects: 0, events: 0, protocolErrors: 0 };
  private readonly timeoutMs: number;
  private readonly reconnectMin: number;
  private readonly reconnectMax: number;
  private readonly reconnects: boolean;
  private readonly maxQueued: number;
  private readonly open: (path: string) => Duplex;

  private state: State = 'idle';
  private conn: Duplex | undefined;
  private reader = new FrameReader();
  private waiter: Waiter | undefined;
  private readonly queue: Job[] = [];
  private running = false;
  private retryDelay: number;
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly subscriptions = new Map<string, Set<ViciEventHandler>>();
  private readonly streaming = new Map<string, ViciEventHandler>();
  private readonly upListeners = new Set<() => void>();
  private readonly downListeners = new Set<(err: ViciError) => void>();
  private firstConnect: { resolve: () => void; reject: (e: Error) => void } | undefined;
  private lastError: ViciError | undefined;

  constructor(options: ViciSessionOptions) {
    this.path = viciSocketPath(options.socket);
    this.timeoutMs = options.requestTimeoutMs ?? 15_000;
    const rc = options.reconnect ?? true;
    this.reconnects = rc !== false;
    this.reconnectMin = (typeof rc === 'object' ? rc.minMs : undefined) ?? 100;
    this.reconnectMax = (typeof rc === 'object' ? rc.maxMs : undefined) ?? 5000;
    this.retryDelay = this.reconnectMin;
    this.maxQueued = options.maxQueued ?? 1024;
    this.open = options.connect ?? ((p) => createConnection(p));
  }

  /** Whether the session is connected and its subscriptions registered. */
  get connected(): boolean {
    return this.state === 'up';
  }

  /** Why the last connection ended or failed (undefined while none did). */
  get lastFailure(): ViciError | undefined {
    return this.lastError;
  }

  /**
   * Connects. Resolves once connected (subscriptions registered); rejects with the first failure
   * (VICI_CONNECT), while reconnecting goes on in the background unless `reconnect: false`.
   */
  connect(): Promise<void> {
    if (this.state === 'closed') return Promise.reject(new ViciError('VICI_CLOSED', 'the session was closed'));
    if (this.state === 'up') return Promise.resolve();
    const p = new Promise<void>((resolve, reject) => {
      this.firstConnect = { resolve, reject };
    });
    if (this.state === 'idle' || this.state === 'down') this.dial();
    return p;
  }

  /** Called every time the session comes up (also after a reconnect): resynchronise here. */
  onUp(listener: () => void): () => void {
    this.upListeners.add(listener);
    return () => this.upListeners.delete(listener);
  }

  /** Called every time a connection ends or a connection attempt fails. */
  onDown(listener: (err: ViciError) => void): () => void {
    this.downListeners.add(listener);
    return () => this.downListeners.delete(listener);
  }

  /** One command; resolves with charon's response message. */
  request(command: string, message: ViciInput = {}, options: RequestOptions = {}): Promise<ViciSection> {
    return this.enqueue(`command '${command}'`, options.timeoutMs, () => this.command(command, message));
  }

  /**
   * A streamed command: `event` is registered (unless already subscribed), every such event is
   * passed to `onEvent` until the response arrives, then it is unregistered.
   */
  stream(command: string, message: ViciInput, event: string, onEvent: ViciEventHandler, options: RequestOptions = {}): Promise<ViciSection> {
    return this.enqueue(`command '${command}'`, options.timeoutMs, async () => {
      const own = !this.subscriptions.has(event);
      if (own) await this.register(EVENT_REGISTER, event);
      this.streaming.set(event, onEvent);
      try {
        return await this.command(command, message);
      } finally {
        this.streaming.delete(event);
        // The connection may be gone (then there is nothing to unregister).
        if (own && this.state === 'up') await this.register(EVENT_UNREGISTER, event).catch(() => undefined);
      }
    });
  }

  /**
   * Delivers every `event` to `handler` from now on, across reconnects. Resolves when charon
   * confirmed the registration (or at once while disconnected: it is registered on connect).
   * The returned function unsubscribes.
   */
  async subscribe(event: string, handler: ViciEventHandler): Promise<() => Promise<void>> {
    let set = this.subscriptions.get(event);
    const first = !set;
    if (!set) this.subscriptions.set(event, (set = new Set()));
    set.add(handler);
    if (first && this.state === 'up') {
      try {
        await this.enqueue(`event '${event}' registration`, undefined, () => this.register(EVENT_REGISTER, event));
      } catch (err) {
        set.delete(handler);
        if (set.size === 0) this.subscriptions.delete(event);
        throw err;
      }
    }
    return async () => {
      const s = this.subscriptions.get(event);
      if (!s || !s.delete(handler) || s.size > 0) return;
      this.subscriptions.delete(event);
      if (this.state === 'up') await this.enqueue(`event '${event}' unregistration`, undefined, () => this.register(EVENT_UNREGISTER, event)).catch(() => undefined);
    };
  }

  /** Closes the connection for good; queued and in-flight requests fail with VICI_CLOSED. */
  close(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    clearTimeout(this.retryTimer);
    const err = new ViciError('VICI_CLOSED', 'the VICI session was closed');
    this.failAll(err);
    this.firstConnect?.reject(err);
    this.firstConnect = undefined;
    this.conn?.destroy();
    this.conn = undefined;
  }

  // ------------------------------------------------------------------ connection

  private dial(): void {
    if (this.state === 'closed') return;
    this.state = 'connecting';
    clearTimeout(this.retryTimer);
    this.reader = new FrameReader();
    let s: Duplex;
    try {
      s = this.open(this.path);
    } catch (err) {
      this.lost(new ViciError('VICI_CONNECT', `cannot connect to charon at ${this.path}: ${(err as Error).message}`, { cause: err }));
      return;
    }
    this.conn = s;
    let opened = false;
    s.on('data', (chunk: Buffer) => {
      if (this.conn === s) this.receive(chunk);
    });
    s.on('error', (err: NodeJS.ErrnoException) => {
      if (this.conn !== s) return;
      const code = opened ? 'VICI_CLOSED' : 'VICI_CONNECT';
      const what = opened ? 'connection to charon lost' : `cannot connect to charon at ${this.path}`;
      this.lost(new ViciError(code, `${what}: ${err.code ?? err.message}`, { cause: err }));
    });
    s.on('close', () => {
      if (this.conn === s) this.lost(new ViciError(opened ? 'VICI_CLOSED' : 'VICI_CONNECT', opened ? 'charon closed the VICI connection' : `cannot connect to charon at ${this.path}`));
    });
    const ready = () => {
      if (this.conn !== s) return;
      opened = true;
      void this.established();
    };
    s.once('connect', ready);
  }

  /** Registers the subscriptions again, then reports the session up. */
  private async established(): Promise<void> {
    this.counters.connects++;
    try {
      for (const event of this.subscriptions.keys()) await this.withTimeout(this.register(EVENT_REGISTER, event), this.timeoutMs, `event '${event}' registration`);
    } catch (err) {
      this.lost(err instanceof ViciError ? err : new ViciError('VICI_PROTOCOL', String(err)));
      return;
    }
    if (this.state !== 'connecting') return;
    this.state = 'up';
    this.retryDelay = this.reconnectMin;
    this.firstConnect?.resolve();
    this.firstConnect = undefined;
    for (const l of this.upListeners) {
      try {
        l();
      } catch {
        // a listener's failure is its own
      }
    }
    void this.pump();
  }

  private lost(err: ViciError): void {
    if (this.state === 'closed' || this.state === 'down') return;
    const wasUp = this.state === 'up';
    this.state = 'down';
    this.lastError = err;
    if (wasUp) this.counters.disconnects++;
    const s = this.conn;
    this.conn = undefined;
    s?.destroy();
    this.failAll(err);
    if (this.firstConnect) {
      this.firstConnect.reject(err);
      this.firstConnect = undefined;
    }
    for (const l of this.downListeners) {
      try {
        l(err);
      } catch {
        // a listener's failure is its own
      }
    }
    if (this.reconnects) {
      const delay = this.retryDelay;
      this.retryDelay = Math.min(this.reconnectMax, this.retryDelay * 2);
      this.retryTimer = setTimeout(() => this.dial(), delay);
      this.retryTimer.unref?.();
    }
  }

  private failAll(err: ViciError): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.reject(err);
    for (const j of this.queue.splice(0)) j.reject(err);
  }

  private receive(chunk: Uint8Array): void {
    let frames: Uint8Array[];
    try {
      frames = this.reader.push(chunk);
    } catch (err) {
      this.counters.protocolErrors++;
      this.lost(new ViciError('VICI_PROTOCOL', `undecodable data from charon: ${(err as Error).message}`, { cause: err }));
      return;
    }
    for (const f of frames) {
      if (this.state === 'down' || this.state === 'closed') return;
      let p: ViciPacket;
      try {
        p = decodePacket(f);
      } catch (err) {
        this.counters.protocolErrors++;
        this.lost(new ViciError('VICI_PROTOCOL', `undecodable packet from charon: ${(err as Error).message}`, { cause: err }));
        return;
      }
      this.dispatch(p);
    }
  }

  private dispatch(p: ViciPacket): void {
    if (p.type === EVENT) {
      this.counters.events++;
      const handlers = [this.streaming.get(p.name), ...(this.subscriptions.get(p.name) ?? [])];
      for (const h of handlers) {
        if (!h) continue;
        try {
          h(p.message, p.name);
        } catch {
          // a handler's failure is its own
        }
      }
      return;
    }
    const w = this.waiter;
    const isCommand = p.type === CMD_RESPONSE || p.type === CMD_UNKNOWN;
    const isEvent = p.type === EVENT_CONFIRM || p.type === EVENT_UNKNOWN;
    if (!w || (w.expect === 'command' && !isCommand) || (w.expect === 'event' && !isEvent)) {
      this.counters.protocolErrors++;
      this.lost(new ViciError('VICI_PROTOCOL', `unexpected ${PACKET_TYPE_NAMES[p.type]} from charon${w ? '' : ' (no request in flight)'}`));
      return;
    }
    this.waiter = undefined;
    w.resolve(p);
  }

  // ------------------------------------------------------------------ exchanges

  private exchange(packet: OutgoingPacket, expect: 'command' | 'event'): Promise<ViciPacket> {
    const s = this.conn;
    if (!s || (this.state !== 'up' && this.state !== 'connecting')) return Promise.reject(new ViciError('VICI_NOT_CONNECTED', `not connected to charon at ${this.path}`));
    if (this.waiter) return Promise.reject(new ViciError('VICI_PROTOCOL', 'an exchange is already in flight'));
    const bytes = encodeFrame(packet);
    return new Promise<ViciPacket>((resolve, reject) => {
      this.waiter = { expect, resolve, reject };
      s.write(bytes);
    });
  }

  private async command(name: string, message: ViciInput): Promise<ViciSection> {
    this.counters.requests++;
    const p = await this.exchange({ type: CMD_REQUEST, name, message }, 'command');
    if (p.type === CMD_UNKNOWN) throw new ViciError('VICI_UNKNOWN_COMMAND', `charon does not know the command '${name}'`, { command: name });
    return (p as { message: ViciSection }).message;
  }

  private async register(type: typeof EVENT_REGISTER | typeof EVENT_UNREGISTER, event: string): Promise<void> {
    const p = await this.exchange({ type, name: event }, 'event');
    if (p.type === EVENT_UNKNOWN) throw new ViciError('VICI_UNKNOWN_EVENT', `charon does not know the event '${event}'`);
  }

  private withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const t = setTimeout(() => {
        this.counters.timeouts++;
        const err = new ViciError('VICI_TIMEOUT', `${what}: no answer from charon within ${ms} ms`);
        reject(err);
        // The answer may still come and would be taken for the next request's: start afresh.
        this.lost(err);
      }, ms);
      p.then(
        (v) => {
          clearTimeout(t);
          resolve(v);
        },
        (e: Error) => {
          clearTimeout(t);
          reject(e);
        },
      );
    });
  }

  private enqueue<T>(what: string, timeoutMs: number | undefined, run: () => Promise<T>): Promise<T> {
    if (this.state === 'closed') return Promise.reject(new ViciError('VICI_CLOSED', 'the VICI session was closed'));
    if (this.state !== 'up') return Promise.reject(new ViciError('VICI_NOT_CONNECTED', `${what}: not connected to charon at ${this.path}${this.lastError ? ` (${this.lastError.message})` : ''}`));
    if (this.queue.length >= this.maxQueued) return Promise.reject(new ViciError('VICI_QUEUE_FULL', `${what}: ${this.queue.length} requests already wait for charon`));
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ run, resolve: resolve as (v: unknown) => void, reject, timeoutMs: timeoutMs ?? this.timeoutMs, what });
      void this.pump();
    });
  }

  private async pump(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      while (this.state === 'up' && this.queue.length > 0) {
        const job = this.queue.shift()!;
        try {
          job.resolve(await this.withTimeout(job.run(), job.timeoutMs, job.what));
        } catch (err) {
          job.reject(err as Error);
        }
      }
    } finally {
      this.running = false;
    }
  }
}

/** Throws VICI_COMMAND_FAILED unless a command's response says `success = yes`. */
export function expectSuccess(command: string, response: ViciSection): ViciSection {
  if (response.success === 'yes') return response;
  const errmsg = typeof response.errmsg === 'string' ? response.errmsg : undefined;
  throw new ViciError('VICI_COMMAND_FAILED', `charon: ${command} failed${errmsg ? `: ${errmsg}` : ''}`, { command, ...(errmsg !== undefined ? { errmsg } : {}) });
}
