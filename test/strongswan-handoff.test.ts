// The strongSwan handoff against a model of charon behind a real VICI socket: what it loads and
// initiates for a tunnel, how it fails (counted by reason, nothing left behind), how SA events
// and charon going away take tunnels down through the gateway's sink, the responder's
// connection, and the whole thing under a real gateway (discovery -> IKE -> ESTABLISHED -> down
// -> hold-down).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseCisco } from '../src/policy/index.js';
import { address, portSet } from '../src/selector/algebra.js';
import type { Selector } from '../src/selector/types.js';
import { FULL_PORTS } from '../src/selector/types.js';
import { parseCharonTs, classifyFailure } from '../src/strongswan/connection.js';
import { HandoffFailure, StrongswanHandoff, type StrongswanEvent, type StrongswanHandoffOptions } from '../src/strongswan/handoff.js';
import { parseNetDb } from '../src/strongswan/netdb.js';
import type { HandoffSink, TeardownReason, TunnelInfo } from '../src/ted/types.js';
import { DROP, FORWARD } from '../src/ted/types.js';
import { ViciSession } from '../src/vici/session.js';
import { CharonModel, FakeCharon, sleep, until } from './support/fake-charon.js';
import { Sim, ip, pkt } from './ted-helpers.js';

let charon: FakeCharon;
let model: CharonModel;
const closers: (() => unknown)[] = [];

beforeEach(async () => {
  charon = new FakeCharon();
  model = new CharonModel(charon);
  await charon.start();
});

afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
  await charon.close();
});

const W = address(0xc0000200n, 0xffffff00n); // 192.0.2.0/24
const Y = address(0xcb007100n, 0xffffff00n); // 203.0.113.0/24
const proxyTcp: Selector = { family: 4, protocol: 6, src: W, dst: Y, sport: FULL_PORTS, dport: portSet([{ lo: 8000, hi: 8099 }]) };

function tunnel(id: number, proxy: Selector = proxyTcp, peer = '198.51.100.2'): TunnelInfo {
  return { id, state: 'negotiated', peer: { family: 4, address: ip(peer) }, proxy, entry: 1, icookie: 1n, rcookie: 2n, tedVersion: 3, negotiatedAt: 0, lastUsed: 0, expiresAt: 1e9, packets: 0 };
}

class Sink implements HandoffSink {
  readonly down: { id: number; reason?: TeardownReason }[] = [];
  constructor(private readonly h?: StrongswanHandoff, private readonly tunnels = new Map<number, TunnelInfo>()) {}
  track(t: TunnelInfo) {
    this.tunnels.set(t.id, t);
  }
  tunnelDown(id: number, reason?: TeardownReason): boolean {
    this.down.push({ id, ...(reason ? { reason } : {}) });
    const t = this.tunnels.get(id);
    if (!t) return false;
    this.tunnels.delete(id);
    this.h?.tearDown(t, reason ?? 'ike-down'); // as the gateway does
    return true;
  }
}

async function handoff(extra: Partial<StrongswanHandoffOptions> = {}) {
  const vici = new ViciSession({ socket: charon.path, reconnect: { minMs: 20, maxMs: 50 } });
  const events: StrongswanEvent[] = [];
  const h = new StrongswanHandoff({
    vici,
    localAddress: '198.51.100.1',
    credentials: { kind: 'psk', secrets: [{ peers: ['198.51.100.0/24'], secret: 'lab-secret' }] },
    proposals: ['aes128-sha256-modp2048'],
    espProposals: ['aes128-sha256'],
    onEvent: (e) => events.push(e),
    charonGraceMs: 100,
    ...extra,
  });
  closers.push(() => h.close(), () => vici.close());
  const sink = new Sink(h);
  h.attach(sink);
  await h.start();
  return { h, vici, events, sink };
}

async function failure(p: Promise<unknown>): Promise<HandoffFailure> {
  try {
    await p;
  } catch (e) {
    if (e instanceof HandoffFailure) return e;
    throw e;
  }
  throw new Error('expected a HandoffFailure');
}

describe('bringing a tunnel up', () => {
  it('loads the PSK for the peer and connection ted-<id> with the exact selectors, initiates, and confirms the CHILD_SA', async () => {
    const { h, events } = await handoff();
    expect(await h.bringUp(tunnel(7))).toBe(true);
    expect(model.shared.get('ted-psk-198.51.100.2')).toEqual({ id: 'ted-psk-198.51.100.2', type: 'IKE', data: 'lab-secret', owners: ['198.51.100.1', '198.51.100.2'] });
    const conn = model.conns.get('ted-7')!;
    expect(conn).toMatchObject({
      version: '2',
      local_addrs: ['198.51.100.1'],
      remote_addrs: ['198.51.100.2'],
      local_port: '4500',
      remote_port: '4500',
      proposals: ['aes128-sha256-modp2048'],
      encap: 'yes',
      local: { auth: 'psk', id: '198.51.100.1' },
      remote: { auth: 'psk', id: '198.51.100.2' },
      children: { 'ted-7': { local_ts: ['192.0.2.0/24[6]'], remote_ts: ['203.0.113.0/24[6/8000-8099]'], mode: 'tunnel', esp_proposals: ['aes128-sha256'], start_action: 'none' } },
    });
    expect(charon.commands('initiate')).toEqual([{ child: 'ted-7', ike: 'ted-7', timeout: '10000', 'init-limits': 'no', loglevel: '1' }]);
    expect(h.status(tunnel(7))).toMatchObject({ connection: 'ted-7', phase: 'up', childSas: [{ name: 'ted-7', state: 'INSTALLED', localTs: ['192.0.2.0/24[6]'] }] });
    expect(events.map((e) => e.type)).toEqual(expect.arrayContaining(['initiating', 'ike-log', 'established']));
    expect(h.counters).toMatchObject({ initiated: 1, established: 1, childSas: 1 });
  });

  it('reuses the IKE SA to the same peer for a second tunnel, and tears down only its own CHILD_SA', async () => {
    const { h } = await handoff();
    await h.bringUp(tunnel(1));
    await h.bringUp(tunnel(2, { ...proxyTcp, protocol: 17, dport: FULL_PORTS }));
    expect(model.ikes.size).toBe(1);
    h.tearDown(tunnel(1), 'api');
    await until('tunnel 1 gone', () => !model.conns.has('ted-1'));
    const ike = [...model.ikes.values()][0]!;
    expect([...ike.children.values()].map((c) => c.name)).toEqual(['ted-2']);
    h.tearDown(tunnel(2), 'idle');
    await until('the IKE SA to go with its last child', () => model.ikes.size === 0 && !model.conns.has('ted-2'));
    expect(h.counters.tornDown).toBe(2);
  });

  it.each([
    ['auth-fail', 'authentication'],
    ['ts-unacceptable', 'ts-unacceptable'],
    ['timeout', 'timeout'],
    ['narrow', 'narrowed'],
  ] as const)('peer behaving %s: fails with reason %s, counted, nothing left in charon', async (behaviour, reason) => {
    model.behaviour.set('198.51.100.2', behaviour);
    const { h, events } = await handoff();
    const f = await failure(h.bringUp(tunnel(3)));
    expect(f.code).toBe('STRONGSWAN_HANDOFF_FAILED');
    expect(f.reason).toBe(reason);
    expect(h.counters.failures[reason]).toBe(1);
    expect(events.filter((e) => e.type === 'failed')).toHaveLength(1); // logged once
    expect(model.conns.has('ted-3')).toBe(false);
    expect([...model.ikes.values()].flatMap((i) => [...i.children.values()])).toEqual([]);
    expect(h.status(tunnel(3))).toBeUndefined();
  });

  it('an initiation that hangs times out on its own connection without stalling the next tunnel', async () => {
    model.behaviour.set('198.51.100.66', 'hang');
    const { h } = await handoff({ initiateTimeoutMs: 300 });
    const stuck = failure(h.bringUp(tunnel(1, proxyTcp, '198.51.100.66')));
    await sleep(20);
    const t0 = Date.now();
    expect(await h.bringUp(tunnel(2))).toBe(true);
    expect(Date.now() - t0).toBeLessThan(250);
    expect((await stuck).reason).toBe('timeout');
  });

  it('refuses without contacting charon: no key for the peer, a proxy with no selector form, no local address for kernel-libipsec', async () => {
    const { h } = await handoff({ kernel: 'libipsec', localAddresses: () => [{ family: 4, value: ip('192.0.2.1') }] });
    expect((await failure(h.bringUp(tunnel(1, proxyTcp, '203.0.113.99')))).reason).toBe('no-credentials');
    const portsAnyProto: Selector = { ...proxyTcp, protocol: 0 };
    const e2 = await failure(h.bringUp(tunnel(2, portsAnyProto)));
    expect([e2.reason, (e2.cause as { code: string }).code]).toEqual(['selectors', 'STRONGSWAN_TS_PORTS_WITHOUT_PROTOCOL']);
    const upperHalf: Selector = { ...proxyTcp, src: address(0xc0000280n, 0xffffff80n) }; // 192.0.2.128/25: no 192.0.2.1
    expect((await failure(h.bringUp(tunnel(3, upperHalf)))).reason).toBe('no-local-address');
    expect(charon.commands('load-conn')).toEqual([]);
    expect(h.counters.failures).toMatchObject({ 'no-credentials': 1, selectors: 1, 'no-local-address': 1 });
  });

  it('splits a proxy of 256 blocks over two CHILD_SAs (at most 255 selectors per TS payload)', async () => {
    const { h } = await handoff();
    const wide: Selector = { ...proxyTcp, dst: address(0xcb000000n, 0xffff00ffn) }; // 203.0.x.0: 256 hosts
    expect(await h.bringUp(tunnel(4, wide))).toBe(true);
    const children = model.conns.get('ted-4')!.children as Record<string, { remote_ts: string[] }>;
    expect(Object.keys(children)).toEqual(['ted-4-1', 'ted-4-2']);
    expect(children['ted-4-1']!.remote_ts).toHaveLength(255);
    expect(children['ted-4-2']!.remote_ts).toEqual(['203.0.255.0/32[6/8000-8099]']);
    expect(h.counters.split).toBe(1);
    expect((h.status(tunnel(4))!.childSas as unknown[]).length).toBe(2);
  });

  it('IKEv1: one CHILD_SA per port instead of a range quick mode would cut to its first port', async () => {
    const { h } = await handoff({ ikeVersion: 1 });
    expect(await h.bringUp(tunnel(5, { ...proxyTcp, dport: portSet([{ lo: 8000, hi: 8002 }]) }))).toBe(true);
    const conn = model.conns.get('ted-5')!;
    expect(conn.version).toBe('1');
    expect(Object.values(conn.children as Record<string, { remote_ts: string[] }>).map((c) => c.remote_ts)).toEqual([['203.0.113.0/24[6/8000]'], ['203.0.113.0/24[6/8001]'], ['203.0.113.0/24[6/8002]']]);
    expect((await failure(h.bringUp(tunnel(6)))).reason).toBe('selectors'); // 100 ports > 16 CHILD_SAs
  });
});

describe('tunnels going down', () => {
  it('a CHILD_SA down reports the tunnel down through the sink; the teardown then unloads it', async () => {
    const { h, sink, events } = await handoff();
    sink.track(tunnel(1));
    await h.bringUp(tunnel(1));
    model.childDown('ted-1');
    await until('the sink to hear', () => sink.down.length === 1);
    expect(sink.down[0]).toEqual({ id: 1, reason: 'ike-down' });
    await until('the connection to be unloaded', () => !model.conns.has('ted-1'));
    expect(events.find((e) => e.type === 'down')).toMatchObject({ tunnel: 1, cause: 'child-down' });
    expect(h.counters.down).toBe(1);
  });

  it('the IKE SA down takes down every tunnel on it', async () => {
    const { h, sink } = await handoff();
    sink.track(tunnel(1));
    sink.track(tunnel(2));
    await h.bringUp(tunnel(1));
    await h.bringUp(tunnel(2, { ...proxyTcp, protocol: 17, dport: FULL_PORTS }));
    model.ikes.forEach((i) => (i.children = new Map())); // DPD: the IKE SA dies, no per-child events
    model.ikeDown([...model.ikes.keys()][0]!);
    await until('both down', () => sink.down.length === 2);
    expect(sink.down.map((d) => d.id).sort()).toEqual([1, 2]);
  });

  it('charon going away takes tunnels down after the grace period; when it is back, stale connections go', async () => {
    const { h, sink, vici } = await handoff();
    sink.track(tunnel(1));
    await h.bringUp(tunnel(1));
    // A killed daemon's leftovers in charon, to be removed on the next start.
    model.conns.set('ted-99', {});
    await charon.stop();
    model.reset();
    await until('tunnel 1 declared down', () => sink.down.length === 1, 2000);
    model.conns.set('ted-98', {});
    model.conns.set('other-conn', {});
    await charon.start();
    await until('reconnected and cleaned', () => vici.connected && !model.conns.has('ted-98'));
    expect(model.conns.has('other-conn')).toBe(true);
    expect(h.describe()).toMatchObject({ kind: 'strongswan', charon: 'connected' });
  });

  it('fails fast while charon is not there (charon-unavailable)', async () => {
    const { h } = await handoff();
    await charon.stop();
    await sleep(30);
    expect((await failure(h.bringUp(tunnel(1)))).reason).toBe('charon-unavailable');
  });
});

describe('the responder side', () => {
  it('loads one connection with one child per permit entry, the keys, and again after charon restarts', async () => {
    const { h } = await handoff({ kernel: 'libipsec', localAddresses: () => [{ family: 4, value: ip('203.0.113.1') }] });
    const events: StrongswanEvent[] = [];
    const policy = parseCisco(
      [
        'access-list 102 deny udp any any eq 500',
        'access-list 102 permit tcp 203.0.113.0 0.0.0.255 192.0.2.0 0.0.0.127 range 8000 8099',
        'access-list 102 permit udp 203.0.113.128 0.0.0.127 192.0.2.0 0.0.0.255',
      ].join('\n'),
    );
    const h2 = h as unknown as { o: { onEvent: (e: StrongswanEvent) => void } };
    const prev = h2.o.onEvent;
    h2.o.onEvent = (e) => {
      events.push(e);
      prev(e);
    };
    await h.loadResponder(policy);
    const conn = model.conns.get('ted-responder')!;
    expect(conn.remote_addrs).toBeUndefined();
    expect(conn.remote).toEqual({ auth: 'psk' });
    expect(conn.children).toMatchObject({
      'ted-e2': { local_ts: ['203.0.113.0/24[6]'], remote_ts: ['192.0.2.0/25[6/8000-8099]'] },
      'ted-e3': { local_ts: ['203.0.113.128/25[17]'], remote_ts: ['192.0.2.0/24[17]'] },
    });
    // A prefix PSK serves any peer: its only owner is our identity.
    expect([...model.shared.values()][0]).toMatchObject({ owners: ['198.51.100.1'], data: 'lab-secret' });
    const loaded = events.find((e) => e.type === 'responder-loaded');
    expect(loaded).toMatchObject({ children: 2, skipped: [] });
    expect((loaded as { warnings: { entry: number }[] }).warnings.map((w) => w.entry)).toEqual([3]); // 203.0.113.128/25 holds no address of ours
    await charon.stop();
    model.reset();
    await charon.start();
    await until('the responder connection again', () => model.conns.has('ted-responder'), 3000);
  });
});

/** Gateway A (initiator, handing off to the model charon) and a responder gateway at `peer` in front of Y. */
async function simPair(responderAcl: string, peer = '198.51.100.2') {
  const sim = new Sim();
  const vici = new ViciSession({ socket: charon.path });
  const h = new StrongswanHandoff({ vici, localAddress: '198.51.100.1', credentials: { kind: 'psk', secrets: [{ peers: ['198.51.100.0/24'], secret: 's' }] } });
  closers.push(() => h.close(), () => vici.close());
  await h.start();
  const a = sim.gateway({ acl: 'access-list 101 permit tcp 192.0.2.0 0.0.0.255 203.0.113.0 0.0.0.255', ike: '198.51.100.1', handoff: h, role: 'initiator' });
  const b = sim.gateway({ acl: responderAcl, ike: peer, protects: ['203.0.113.0/24'], role: 'responder' });
  return { sim, h, a, b };
}

describe('an on-path party', () => {
  it('that answers probes with its own address ends in IKE, not in a tunnel', async () => {
    // X intercepts the probes for Y and answers with its own address and a proxy of its choosing;
    // it has no key, so IKE with it cannot succeed (here: it does not even answer IKE).
    model.behaviour.set('198.51.100.66', 'timeout');
    const { sim, h, a, b } = await simPair('access-list 199 permit ip any any', '198.51.100.66');
    a.gw.processOne(pkt('tcp 192.0.2.10:40000 > 203.0.113.20:22'));
    sim.settle(10);
    await until('the handoff failure', () => a.gw.counters.handoffFailures === 1);
    expect(model.conns.size).toBe(0);
    expect(charon.commands('initiate').map((m) => m.child)).toEqual(['ted-1']);
    expect(a.gw.tunnels()).toEqual([]);
    expect(a.gw.counters.tunnelsEstablished).toBe(0);
    expect(h.counters.failures.timeout).toBe(1);
  });
});

describe('charon text', () => {
  const db = parseNetDb('tcp 6 TCP\nudp 17 UDP\nicmp 1 ICMP\n', 'http 80/tcp www\ndomain 53/udp\n');
  it.each([
    ['192.0.2.0/24[tcp/http]', { family: 4, protocol: 6, from: 0xc0000200n, to: 0xc00002ffn, portLo: 80, portHi: 80 }],
    ['203.0.113.0/24[tcp/8000-8099]', { family: 4, protocol: 6, from: 0xcb007100n, to: 0xcb0071ffn, portLo: 8000, portHi: 8099 }],
    ['10.0.0.1..10.0.0.9[17]', { family: 4, protocol: 17, from: 0x0a000001n, to: 0x0a000009n, portLo: 0, portHi: 65535 }],
    ['2001:db8:b::/64[udp/domain]', { family: 6, protocol: 17, portLo: 53, portHi: 53 }],
    ['0.0.0.0/0', { family: 4, protocol: 0, from: 0n, to: 0xffffffffn }],
  ])('reads %s', (text, want) => expect(parseCharonTs(text, db)).toMatchObject(want));
  it.each(['192.0.2.0/24[icmp/8]', 'dynamic', '192.0.2.0/33', '192.0.2.0/24[nosuchproto]', '192.0.2.0/24[tcp/nosuchport]'])('cannot read %s exactly', (text) =>
    expect(parseCharonTs(text, db)).toBeUndefined(),
  );
  it('names the first symptom of a failure', () => {
    expect(classifyFailure(['sending packet', 'received AUTHENTICATION_FAILED notify error', 'establishing IKE_SA failed'])).toBe('authentication');
    expect(classifyFailure(['received NO_PROPOSAL_CHOSEN notify error'])).toBe('no-proposal');
    expect(classifyFailure(['received INVALID_SYNTAX notify error'])).toBe('invalid-syntax');
    expect(classifyFailure(['KNL error installing route with policy x', 'unable to install IPsec policies (SPD) in kernel'])).toBe('install');
    expect(classifyFailure(['something else'])).toBe('ike-failed');
  });
});

describe('under a gateway', () => {
  it('discovery -> IKE -> ESTABLISHED -> FORWARD; CHILD_SA down -> tunnel down, DROP, hold-down', async () => {
    const { sim, h, a, b } = await simPair('access-list 102 permit tcp 203.0.113.0 0.0.0.255 range 8000 8099 192.0.2.0 0.0.0.255', '198.51.100.2');
    const p = pkt('tcp 192.0.2.10:40000 > 203.0.113.20:8080');
    expect(a.gw.processOne(p).verdict).toBe(DROP);
    sim.settle(10);
    await until('ESTABLISHED', () => a.gw.tunnels()[0]?.state === 'established').catch((e) => {
      throw new Error(`${(e as Error).message}: ${JSON.stringify(a.events.map((x) => x.type))} ${JSON.stringify(b.events.map((x) => x.type))} ${JSON.stringify(Object.entries(b.gw.counters).filter(([, v]) => v))}`);
    });
    expect(model.conns.get('ted-1')).toMatchObject({ children: { 'ted-1': { local_ts: ['192.0.2.0/24[6]'], remote_ts: ['203.0.113.0/24[6/8000-8099]'] } } });
    expect(a.gw.processOne(p).verdict).toBe(FORWARD);
    model.childDown('ted-1');
    await until('the tunnel to leave the table', () => a.gw.tunnels().length === 0);
    expect(a.gw.counters.tunnelsHandoffDown).toBe(1);
    expect(a.gw.holdDowns().map((x) => x.reason)).toEqual(['ike-down']);
    expect(a.gw.processOne(p).verdict).toBe(DROP);
    await until('connection unloaded', () => !model.conns.has('ted-1'));
  });

  it('an IKE failure is a handoff failure: the tunnel never becomes ESTABLISHED, the destination is held down', async () => {
    model.behaviour.set('198.51.100.2', 'auth-fail');
    const { sim, h, a, b } = await simPair('access-list 102 permit tcp 203.0.113.0 0.0.0.255 192.0.2.0 0.0.0.255', '198.51.100.2');
    a.gw.processOne(pkt('tcp 192.0.2.10:40000 > 203.0.113.20:22'));
    sim.settle(10);
    await until('the handoff failure', () => a.gw.counters.handoffFailures === 1);
    expect(a.gw.tunnels()).toEqual([]);
    expect(a.gw.counters.tunnelsEstablished).toBe(0);
    expect(a.gw.holdDowns().map((x) => x.reason)).toEqual(['handoff-failed']);
    expect(h.counters.failures.authentication).toBe(1);
  });
});
