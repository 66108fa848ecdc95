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

/** How the model's charon answers an initiation towards a peer. */
export type PeerBehaviour =
  | 'ok'
  | 'auth-fail'
  | 'ts-unacceptable'
  | 'timeout'
  | 'hang'
  /** Installs the CHILD_SA with each remote block halved (a peer that narrowed the proposal). */
  | 'narrow';

interface ModelChild {
  name: string;
  uniqueid: string;
  localTs: string[];
  remoteTs: string[];
}
interface ModelIke {
  name: string;
  uniqueid: string;
  peer: string;
  children: Map<string, ModelChild>;
}

/**
 * A small charon: connections, shared keys, IKE SAs (reused per peer, as charon reuses an IKE SA
 * whose configuration is equal), CHILD_SAs with the configured selectors, the events it raises.
 */
export class CharonModel {
  readonly conns = new Map<string, ViciSection>();
  readonly shared = new Map<string, ViciSection>();
  readonly keys: ViciSection[] = [];
  readonly ikes = new Map<string, ModelIke>();
  readonly behaviour = new Map<string, PeerBehaviour>();
  private next = 1;

  constructor(readonly charon: FakeCharon) {
    const h = charon.handlers;
    h.set('version', () => ({ daemon: 'charon-systemd', version: '5.9.8' }));
    h.set('load-shared', (m) => {
      this.shared.set(String(m.id ?? this.shared.size), m);
      return { success: 'yes' };
    });
    h.set('load-key', (m) => {
      this.keys.push(m);
      return { success: 'yes' };
    });
    h.set('load-conn', (m) => {
      for (const [k, v] of Object.entries(m)) this.conns.set(k, v as ViciSection);
      return { success: 'yes' };
    });
    h.set('unload-conn', (m) => {
      const ok = this.conns.delete(String(m.name));
      return ok ? { success: 'yes' } : { success: 'no', errmsg: `connection '${String(m.name)}' not found` };
    });
    h.set('get-conns', () => ({ conns: [...this.conns.keys()] }));
    h.set('initiate', (m, conn) => this.initiate(m, conn));
    h.set('terminate', (m, conn) => this.terminate(m, conn));
    h.set('list-sas', (m, conn) => {
      for (const ike of this.ikes.values()) {
        if (m['ike-id'] !== undefined && m['ike-id'] !== ike.uniqueid) continue;
        conn.emit('list-sa', this.ikeMessage(ike));
      }
      return {};
    });
  }

  private ikeMessage(ike: ModelIke, only?: ModelChild): ViciInput {
    const kids: ViciInput = {};
    for (const c of only ? [only] : ike.children.values())
      kids[`${c.name}-${c.uniqueid}`] = { name: c.name, uniqueid: c.uniqueid, state: 'INSTALLED', mode: 'TUNNEL', protocol: 'ESP', encap: 'yes', 'spi-in': 'c0ffee01', 'spi-out': 'c0ffee02', 'local-ts': c.localTs, 'remote-ts': c.remoteTs };
    return { [ike.name]: { uniqueid: ike.uniqueid, version: '2', state: 'ESTABLISHED', 'remote-host': ike.peer, 'child-sas': kids } };
  }

  private async initiate(m: ViciSection, conn: FakeConnection): Promise<ViciInput> {
    const childName = String(m.child);
    const connName = String(m.ike);
    const cfg = this.conns.get(connName);
    const child = (cfg?.children as ViciSection | undefined)?.[childName] as ViciSection | undefined;
    if (!cfg || !child) return { success: 'no', errmsg: `CHILD_SA config '${childName}' not found` };
    const peer = (cfg.remote_addrs as string[])[0]!;
    const log = (msg: string, ikeId?: string) => conn.emit('control-log', { group: 'IKE', level: '1', ...(ikeId ? { 'ikesa-name': connName, 'ikesa-uniqueid': ikeId } : {}), msg });
    const behaviour = this.behaviour.get(peer) ?? 'ok';
    let ike = [...this.ikes.values()].find((i) => i.peer === peer);
    const id = ike?.uniqueid ?? String(this.next++);
    if (!ike) {
      log(`initiating IKE_SA ${connName}[${id}] to ${peer}`, id);
      log('generating IKE_SA_INIT request 0 [ SA KE No N(NATD_S_IP) N(NATD_D_IP) ]', id);
    }
    if (behaviour === 'hang') return new Promise(() => undefined);
    if (behaviour === 'timeout') {
      log('giving up after 2 retransmits', id);
      log('establishing IKE_SA failed, peer not responding', id);
      return { success: 'no', errmsg: `establishing CHILD_SA '${childName}' failed` };
    }
    if (behaviour === 'auth-fail') {
      log('generating IKE_AUTH request 1 [ IDi AUTH SA TSi TSr ]', id);
      log('parsed IKE_AUTH response 1 [ N(AUTH_FAILED) ]', id);
      log('received AUTHENTICATION_FAILED notify error', id);
      return { success: 'no', errmsg: `establishing CHILD_SA '${childName}' failed` };
    }
    if (!ike) {
      ike = { name: connName, uniqueid: id, peer, children: new Map() };
      this.ikes.set(id, ike);
      this.charon.broadcast('ike-updown', { up: 'yes', [connName]: { uniqueid: id, 'remote-host': peer } });
    }
    if (behaviour === 'ts-unacceptable') {
      log('received TS_UNACCEPTABLE notify, no CHILD_SA built', id);
      log('failed to establish CHILD_SA, keeping IKE_SA', id);
      return { success: 'no', errmsg: `establishing CHILD_SA '${childName}' failed` };
    }
    const remote = child.remote_ts as string[];
    const c: ModelChild = { name: childName, uniqueid: String(this.next++), localTs: [...(child.local_ts as string[])], remoteTs: behaviour === 'narrow' ? remote.map((ts) => ts.replace(/\/(\d+)/, (_m, len: string) => `/${Number(len) + 1}`)) : [...remote] };
    ike.children.set(c.uniqueid, c);
    log(`CHILD_SA ${childName}{${c.uniqueid}} established with SPIs c0ffee01_i c0ffee02_o and TS ${c.localTs.join(' ')} === ${c.remoteTs.join(' ')}`, id);
    this.charon.broadcast('child-updown', { up: 'yes', ...this.ikeMessage(ike, c) });
    return { success: 'yes' };
  }

  /** Takes a CHILD_SA down as charon does on DPD or a DELETE from the peer. */
  childDown(name: string): void {
    for (const ike of this.ikes.values())
      for (const [k, c] of ike.children)
        if (c.name === name) {
          ike.children.delete(k);
          this.charon.broadcast('child-updown', this.ikeMessage(ike, c));
        }
  }

  ikeDown(uniqueid: string): void {
    const ike = this.ikes.get(uniqueid);
    if (!ike) return;
    for (const c of [...ike.children.values()]) this.childDown(c.name);
    this.ikes.delete(uniqueid);
    this.charon.broadcast('ike-updown', { [ike.name]: { uniqueid, 'remote-host': ike.peer } });
  }

  private terminate(m: ViciSection, conn: FakeConnection): ViciInput {
    if (m['ike-id'] !== undefined) {
      if (!this.ikes.has(String(m['ike-id']))) return { success: 'no', errmsg: 'no matching SAs to terminate found' };
      conn.emit('control-log', { group: 'IKE', level: '1', msg: `deleting IKE_SA` });
      this.ikeDown(String(m['ike-id']));
      return { success: 'yes' };
    }
    const name = String(m.child);
    const found = [...this.ikes.values()].some((i) => [...i.children.values()].some((c) => c.name === name));
    if (!found) return { success: 'no', errmsg: 'no matching SAs to terminate found' };
    this.childDown(name);
    return { success: 'yes' };
  }

  /** Forgets every SA (charon restarted). */
  reset(): void {
    this.ikes.clear();
    this.conns.clear();
    this.shared.clear();
  }
}
