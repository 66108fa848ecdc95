// The VICI session against a fake charon on a real Unix socket: one exchange in flight, streamed
// commands, subscriptions that survive a charon restart, timeouts, unknown commands and events,
// garbage on the wire, and the typed errors of each.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ViciError } from '../src/errors.js';
import { EVENT } from '../src/vici/packet.js';
import { encodeFrame } from '../src/vici/packet.js';
import { ViciSession, expectSuccess, viciSocketPath } from '../src/vici/session.js';
import { FakeCharon, sleep, until } from './support/fake-charon.js';

let charon: FakeCharon;
const sessions: ViciSession[] = [];

function session(extra: Partial<ConstructorParameters<typeof ViciSession>[0]> = {}): ViciSession {
  const s = new ViciSession({ socket: `unix://${charon.path}`, reconnect: { minMs: 20, maxMs: 100 }, ...extra });
  sessions.push(s);
  return s;
}

async function rejection(p: Promise<unknown>): Promise<ViciError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof ViciError) return e;
    throw e;
  }
  throw new Error('expected a ViciError');
}

beforeEach(async () => {
  charon = new FakeCharon();
  charon.handlers.set('version', () => ({ daemon: 'charon', version: '5.9.8' }));
  await charon.start();
});

afterEach(async () => {
  for (const s of sessions.splice(0)) s.close();
  await charon.close();
});

describe('ViciSession', () => {
  it('sends a request and returns the response message', async () => {
    const s = session();
    await s.connect();
    expect(await s.request('version')).toEqual({ daemon: 'charon', version: '5.9.8' });
    expect(charon.requests).toEqual([{ command: 'version', message: {} }]);
  });

  it('keeps one exchange in flight: concurrent requests queue and get their own answers', async () => {
    charon.handlers.set('echo', async (m) => {
      await sleep(Number(m.delay));
      return { got: m.n as string };
    });
    const s = session();
    await s.connect();
    const answers = await Promise.all([1, 2, 3, 4].map((n) => s.request('echo', { n, delay: 40 - n * 10 })));
    expect(answers.map((a) => a.got)).toEqual(['1', '2', '3', '4']);
    expect(charon.maxInFlight).toBe(1);
  });

  it('streams: registers the event, collects it until the response, unregisters', async () => {
    charon.handlers.set('list-sas', (_m, conn) => {
      conn.emit('list-sa', { 'ted-1': { uniqueid: '1' } });
      conn.emit('list-sa', { 'ted-2': { uniqueid: '2' } });
      return {};
    });
    const s = session();
    await s.connect();
    const got: unknown[] = [];
    const r = await s.stream('list-sas', {}, 'list-sa', (m) => got.push(m));
    expect(r).toEqual({});
    expect(got).toEqual([{ 'ted-1': { uniqueid: '1' } }, { 'ted-2': { uniqueid: '2' } }]);
    expect(charon.registrations).toEqual([
      { type: 'register', event: 'list-sa' },
      { type: 'unregister', event: 'list-sa' },
    ]);
  });

  it('delivers subscribed events, also during a request, and keeps them across a charon restart', async () => {
    const s = session();
    const ups: number[] = [];
    const downs: string[] = [];
    s.onUp(() => ups.push(Date.now()));
    s.onDown((e) => downs.push(e.code));
    await s.connect();
    const seen: string[] = [];
    await s.subscribe('child-updown', (m) => seen.push(String(m.up)));
    charon.handlers.set('initiate', (_m, conn) => {
      conn.emit('child-updown', { up: 'yes' });
      return { success: 'yes' };
    });
    expectSuccess('initiate', await s.request('initiate', { child: 'x' }));
    expect(seen).toEqual(['yes']);

    await charon.stop();
    await until('the session to notice', () => !s.connected);
    expect(downs[0]).toBe('VICI_CLOSED');
    expect((await rejection(s.request('version'))).code).toBe('VICI_NOT_CONNECTED');
    await charon.start();
    await until('the session to reconnect', () => s.connected && ups.length === 2, 3000);
    // Registered again on the new connection:
    expect(charon.registrations.filter((r) => r.event === 'child-updown' && r.type === 'register')).toHaveLength(2);
    charon.broadcast('child-updown', { up: 'no' });
    await until('the event after the restart', () => seen.length === 2);
    expect(seen).toEqual(['yes', 'no']);
  });

  it('times a request out (VICI_TIMEOUT), drops that connection, and works again after reconnecting', async () => {
    charon.handlers.set('hang', () => new Promise<undefined>(() => undefined));
    const s = session({ requestTimeoutMs: 100 });
    await s.connect();
    const e = await rejection(s.request('hang'));
    expect(e.code).toBe('VICI_TIMEOUT');
    expect(s.counters.timeouts).toBe(1);
    await until('reconnect', () => s.connected);
    expect(await s.request('version')).toMatchObject({ version: '5.9.8' });
  });

  it('types unknown commands and events, and failed commands', async () => {
    const s = session();
    await s.connect();
    const e1 = await rejection(s.request('no-such-command'));
    expect([e1.code, e1.command]).toEqual(['VICI_UNKNOWN_COMMAND', 'no-such-command']);
    expect((await rejection(s.subscribe('no-such-event', () => undefined))).code).toBe('VICI_UNKNOWN_EVENT');
    charon.handlers.set('load-conn', () => ({ success: 'no', errmsg: 'bad proposal' }));
    const r = await s.request('load-conn', { x: {} });
    let err: unknown;
    try {
      expectSuccess('load-conn', r);
    } catch (x) {
      err = x;
    }
    expect(err).toBeInstanceOf(ViciError);
    expect(err).toMatchObject({ code: 'VICI_COMMAND_FAILED', errmsg: 'bad proposal' });
    // The session is still fine afterwards.
    expect(await s.request('version')).toMatchObject({ daemon: 'charon' });
  });

  it('drops the connection on garbage (VICI_PROTOCOL) and on a frame above 512 KiB, then recovers', async () => {
    const s = session();
    const downs: string[] = [];
    s.onDown((e) => downs.push(e.code));
    await s.connect();
    charon.handlers.set('garbage', (_m, conn) => {
      conn.raw(Uint8Array.from([0, 0, 0, 2, 9, 9])); // packet type 9
      return undefined;
    });
    expect((await rejection(s.request('garbage'))).code).toBe('VICI_PROTOCOL');
    await until('reconnect', () => s.connected);
    charon.handlers.set('huge', (_m, conn) => {
      conn.raw(Uint8Array.from([0x7f, 0xff, 0xff, 0xff]));
      return undefined;
    });
    expect((await rejection(s.request('huge'))).code).toBe('VICI_PROTOCOL');
    await until('reconnect', () => s.connected);
    // An unsolicited response is a protocol error too.
    charon.connections.values().next().value!.raw(encodeFrame({ type: 1, message: {} }));
    await until('the unsolicited response to drop the connection', () => downs.length === 3);
    expect(s.counters.protocolErrors).toBe(3);
    await until('reconnect', () => s.connected);
    expect(await s.request('version')).toMatchObject({ daemon: 'charon' });
  });

  it('ignores events nobody asked for, and a throwing handler does not break the session', async () => {
    const s = session();
    await s.connect();
    await s.subscribe('ike-updown', () => {
      throw new Error('handler bug');
    });
    charon.broadcast('ike-updown', { up: 'yes' });
    for (const c of charon.connections) c.raw(encodeFrame({ type: EVENT, name: 'log', message: {} }));
    await sleep(30);
    expect(s.counters.events).toBe(2);
    expect(await s.request('version')).toMatchObject({ daemon: 'charon' });
  });

  it('fails to connect with VICI_CONNECT, and bounds its queue', async () => {
    const missing = new ViciSession({ socket: '/nonexistent/charon.vici', reconnect: false });
    sessions.push(missing);
    expect((await rejection(missing.connect())).code).toBe('VICI_CONNECT');
    charon.handlers.set('slow', async () => {
      await sleep(50);
      return {};
    });
    const s = session({ maxQueued: 2 });
    await s.connect();
    const ps = [s.request('slow'), s.request('slow'), s.request('slow')];
    expect((await rejection(s.request('slow'))).code).toBe('VICI_QUEUE_FULL');
    await Promise.all(ps);
    s.close();
    expect((await rejection(s.request('version'))).code).toBe('VICI_CLOSED');
  });

  it('reads unix:// URIs and refuses other schemes', () => {
    expect(viciSocketPath('unix:///var/run/charon.vici')).toBe('/var/run/charon.vici');
    expect(viciSocketPath('/run/charon.vici')).toBe('/run/charon.vici');
    expect(() => viciSocketPath('tcp://127.0.0.1:4502')).toThrow(/only unix/);
  });
});
