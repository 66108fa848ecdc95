// Deterministic simulations of Tunnel Endpoint Discovery (design FIG. 1 / FIG. 2) over the
// in-memory network with a manual clock and the real ISAKMP codec on the wire.
import { describe, expect, it } from 'vitest';
import { BYPASS, DROP, FORWARD, type HandoffSink } from '../src/ted/types.js';
import { decodeProbe, readProbe, readResponse } from '../src/ike/ted.js';
import { ikeWire } from '../src/ted/ike-wire.js';
import { responderCookie } from '../src/ted/cookies.js';
import { formatAddress } from '../src/selector/address.js';
import { contains, isSubset, mirror } from '../src/selector/algebra.js';
import type { OutboundDatagram } from '../src/transport/types.js';
import { Sim, ip, pkt } from './ted-helpers.js';

// FIG. 1: W = 10.1.0.0/16 behind the initiator (IKE 192.0.2.1), Y = 10.2.0.0/16 behind the
// responder (IKE 198.51.100.1).
const A_ACL = `
ip access-list extended A
 deny udp any any eq isakmp
 permit tcp 10.1.0.0 0.0.255.255 10.0.0.0 0.255.255.255
 permit icmp 10.1.0.0 0.0.255.255 10.2.0.0 0.0.255.255
`;
const B_ACL = `
ip access-list extended B
 deny udp any any eq isakmp
 permit tcp 10.2.0.0 0.0.255.255 eq www 10.1.0.0 0.0.127.255
 permit ip 10.2.0.0 0.0.255.255 10.1.0.0 0.0.255.255
`;

function fig1(extraA: object = {}, extraB: object = {}) {
  const sim = new Sim();
  const a = sim.gateway({ acl: A_ACL, ike: '192.0.2.1', protects: ['10.1.0.0/16'], ...extraA });
  const b = sim.gateway({ acl: B_ACL, ike: '198.51.100.1', protects: ['10.2.0.0/16'], ...extraB });
  const wire: OutboundDatagram[] = [];
  sim.net.tap((r) => wire.push(r.datagram as OutboundDatagram));
  return { sim, a, b, wire };
}

describe('FIG. 1 discovery', () => {
  it('drops P, probes from P source to P destination, intersects, establishes, then forwards', () => {
    const { sim, a, b, wire } = fig1();
    const P = pkt('tcp 10.1.0.5:40000 > 10.2.0.9:80');
    expect(a.gw.processOne(P)).toEqual({ verdict: DROP, tunnel: 0, ordinal: 2 });
    // The probe on the wire: IP source = P's source, destination = P's destination, UDP 40000 -> 500.
    expect(wire).toHaveLength(1);
    const probeDg = wire[0]!;
    expect(probeDg).toMatchObject({ family: 4, src: P.src, dst: P.dst, sport: 40000, dport: 500, spoofSource: true });
    const probe = readProbe(probeDg.payload);
    expect(probe.id).toEqual({ family: 4, address: ip('192.0.2.1') });
    expect(probe.summary).toMatchObject({ tedVersion: 3, family: 4, protocol: 6, src: P.src, dst: P.dst, sport: 40000, dport: 80 });
    expect(a.gw.counters.cipsNumTEDProbesSent).toBe(1);

    sim.settle();
    // The response on the wire: from the responder's own address to the initiator's ID on 500.
    expect(wire).toHaveLength(2);
    const respDg = wire[1]!;
    expect(respDg).toMatchObject({ src: ip('198.51.100.1'), dst: ip('192.0.2.1'), sport: 500, dport: 500, spoofSource: false });
    const resp = readResponse(respDg.payload, 0, respDg.payload.length, { icookie: probe.icookie });
    expect(resp.rcookie).not.toBe(0n);
    // Responder's entry 2 (the first covering the mirrored P: sport 80 = www)
    expect(formatAddress(4, resp.proxy.src.value)).toBe('10.2.0.0');
    expect(resp.proxy.sport).toEqual([{ lo: 80, hi: 80 }]);
    expect(b.gw.counters).toMatchObject({ cipsNumTEDProbesReceived: 1, responsesSent: 1 });

    const [t] = a.gw.tunnels();
    expect(t).toMatchObject({ state: 'established', entry: 2, peer: { family: 4, address: ip('198.51.100.1') }, icookie: probe.icookie, rcookie: resp.rcookie });
    // Intersection: tcp, source W ∩ Z = 10.1.0.0/17, destination 10.0.0.0/8 ∩ Y = 10.2.0.0/16, dport 80.
    expect(t!.proxy.protocol).toBe(6);
    expect(formatAddress(4, t!.proxy.src.value)).toBe('10.1.0.0');
    expect(t!.proxy.src.care).toBe(0xffff8000n);
    expect(t!.proxy.dst.care).toBe(0xffff0000n);
    expect(t!.proxy.dport).toEqual([{ lo: 80, hi: 80 }]);
    expect(contains(t!.proxy, P)).toBe(true);
    // The negotiated proxy is inside both policies' entries.
    expect(b.gw.checkProposal(t!.proxy)).toMatchObject({ accepted: true, entry: 2 });

    expect(a.gw.processOne(P)).toEqual({ verdict: FORWARD, tunnel: t!.id, ordinal: 2 });
    expect(a.gw.processOne(P).verdict).toBe(FORWARD);
    expect(a.gw.counters.flowCacheHits).toBe(1);
    const kinds = a.events.map((e) => e.type + ('state' in e ? `:${e.state}` : ''));
    expect(kinds).toEqual(['drop', 'probe-sent', 'response-received', 'intersection', 'verify', 'tunnel:negotiated', 'tunnel:established']);
  });

  it('bypasses deny entries and unmatched traffic without probing', () => {
    const { a, wire } = fig1();
    expect(a.gw.processOne(pkt('udp 10.1.0.5:500 > 10.2.0.9:500')).verdict).toBe(BYPASS);
    expect(a.gw.processOne(pkt('tcp 192.168.0.1:1 > 10.2.0.9:80')).verdict).toBe(BYPASS);
    expect(wire).toHaveLength(0);
    expect(a.gw.counters.bypassed).toBe(2);
  });

  it('negotiates a protocol-specific tunnel for ICMP (no ports)', () => {
    const { sim, a } = fig1();
    const P = pkt('icmp 10.1.2.3 > 10.2.0.1');
    expect(a.gw.processOne(P).verdict).toBe(DROP);
    sim.settle();
    const [t] = a.gw.tunnels();
    // A's entry 3 (icmp) ∩ mirror(B's entry 3: ip) = icmp between W and Y.
    expect(t).toMatchObject({ entry: 3, state: 'established' });
    expect(t!.proxy.protocol).toBe(1);
    expect(a.gw.processOne(P).verdict).toBe(FORWARD);
    // TCP between the same hosts is another entry and another tunnel.
    expect(a.gw.processOne(pkt('tcp 10.1.2.3:1000 > 10.2.0.1:22')).verdict).toBe(DROP);
  });

  it('negotiates port-specific tunnels; a flow outside the ports discovers its own', () => {
    const { sim, a } = fig1();
    a.gw.processOne(pkt('tcp 10.1.0.5:40000 > 10.2.0.9:80'));
    sim.settle();
    const web = a.gw.tunnels()[0]!;
    expect(web.proxy.dport).toEqual([{ lo: 80, hi: 80 }]);
    // Port 22 to the same host is not covered by the port-80 tunnel: dropped, probed again, and the
    // responder's entry 3 (ip, W only) gives a second, wider tunnel.
    const ssh = pkt('tcp 10.1.0.5:40001 > 10.2.0.9:22');
    expect(a.gw.processOne(ssh).verdict).toBe(DROP);
    sim.settle();
    expect(a.gw.tunnels()).toHaveLength(2);
    const wide = a.gw.tunnels()[1]!;
    expect(wide.proxy.dport).toEqual([{ lo: 0, hi: 65535 }]);
    expect(a.gw.processOne(ssh)).toMatchObject({ verdict: FORWARD, tunnel: wide.id });
  });

  it('honours a restriction on the initiator destination proxy', () => {
    const acl = `ip access-list extended A\n permit ip 10.1.0.0 0.0.255.255 10.2.128.0 0.0.127.255\n`;
    const { sim, a } = fig1({ acl });
    a.gw.processOne(pkt('udp 10.1.0.5:5000 > 10.2.200.1:53'));
    sim.settle();
    const [t] = a.gw.tunnels();
    expect(t!.proxy.dst).toEqual({ value: ip('10.2.128.0'), care: 0xffff8000n });
    expect(t!.proxy.src).toEqual({ value: ip('10.1.0.0'), care: 0xffff0000n });
  });

  it('honours a restriction on the responder source proxy (where merged half proxies fail)', () => {
    const bAcl = `ip access-list extended B\n permit ip 10.2.0.0 0.0.255.255 10.1.0.0 0.0.0.255\n`;
    const v3 = fig1({}, { acl: bAcl });
    v3.a.gw.processOne(pkt('tcp 10.1.0.5:40000 > 10.2.0.9:443'));
    v3.sim.settle();
    const [t3] = v3.a.gw.tunnels();
    expect(t3!.proxy.src).toEqual({ value: ip('10.1.0.0'), care: 0xffffff00n });
    expect(v3.b.gw.checkProposal(t3!.proxy)).toMatchObject({ accepted: true });

    // TED v2: the merged proxy (our half W, their half Y, any protocol) is wider than the
    // responder allows, so quick mode on the responder refuses it and the tunnel fails.
    const v2 = fig1({ tedVersion: 2 }, { acl: bAcl });
    const responder = v2.b.gw;
    const sim2 = new Sim();
    void sim2;
    const refused: string[] = [];
    const aV2 = v2.sim.gateway({
      acl: A_ACL,
      ike: '192.0.2.7',
      tedVersion: 2,
      handoff: {
        bringUp: (t) => {
          const c = responder.checkProposal(t.proxy);
          if (!c.accepted) refused.push(c.reason);
          return c.accepted;
        },
      },
    });
    aV2.gw.processOne(pkt('tcp 10.1.0.5:40000 > 10.2.0.9:443'));
    v2.sim.settle();
    expect(refused).toEqual(['not-subset']);
    expect(aV2.gw.tunnels()).toHaveLength(0);
    expect(aV2.gw.counters).toMatchObject({ tunnelsNegotiated: 1, handoffFailures: 1, cipsNumTEDFailures: 1, tunnelsEstablished: 0 });
    const merged = aV2.events.find((e) => e.type === 'intersection');
    expect(merged && merged.type === 'intersection' && merged.result?.src).toEqual({ value: ip('10.1.0.0'), care: 0xffff0000n });
  });

  it('v2 merge ignores protocol and ports, which the responder refuses; v3 keeps them', () => {
    // Responder only allows its web servers: tcp from port 80.
    const bAcl = `ip access-list extended B\n permit tcp 10.2.0.0 0.0.255.255 eq www 10.1.0.0 0.0.255.255\n`;
    for (const version of [2, 3] as const) {
      const sim = new Sim();
      const b = sim.gateway({ acl: bAcl, ike: '198.51.100.1', protects: ['10.2.0.0/16'] });
      const a = sim.gateway({ acl: A_ACL, ike: '192.0.2.1', tedVersion: version, handoff: { bringUp: (t) => b.gw.checkProposal(t.proxy).accepted } });
      a.gw.processOne(pkt('tcp 10.1.0.5:40000 > 10.2.0.9:80'));
      sim.settle();
      expect(a.gw.tunnels().length, `v${version}`).toBe(version === 3 ? 1 : 0);
    }
  });
});

describe('initiator timers and bounds', () => {
  it('retransmits with exponential backoff, gives up, holds the destination down, then probes again', () => {
    const sim = new Sim();
    const a = sim.gateway({ acl: A_ACL, ike: '192.0.2.1', timers: { holdDownMs: 30_000 } });
    const sent: number[] = [];
    sim.net.tap(() => sent.push(sim.clock.now()));
    const P = pkt('tcp 10.1.0.5:40000 > 10.2.0.9:80');
    a.gw.processOne(P);
    sim.settle(6_999);
    expect(sent).toEqual([0, 1000, 3000]);
    expect(a.gw.pending()).toHaveLength(1);
    sim.settle(1);
    expect(a.gw.pending()).toHaveLength(0);
    expect(a.gw.counters).toMatchObject({ cipsNumTEDProbesSent: 3, probeRetransmits: 2, probesGivenUp: 1, cipsNumTEDFailures: 1 });
    expect(a.gw.holdDowns()).toEqual([{ family: 4, destination: P.dst, until: 37_000, reason: 'no-response' }]);
    // Held down: dropped without a probe (also for another entry to the same host).
    expect(a.gw.processOne(P).verdict).toBe(DROP);
    expect(a.gw.processOne(pkt('icmp 10.1.0.5 > 10.2.0.9')).verdict).toBe(DROP);
    expect(sent).toHaveLength(3);
    expect(a.gw.counters.dropsHeldDown).toBe(2);
    sim.settle(30_000);
    expect(a.gw.holdDowns()).toHaveLength(0);
    a.gw.processOne(P);
    expect(sent).toHaveLength(4);
  });

  it('recovers from a lost probe and from a lost response by retransmission', () => {
    for (const lose of ['probe', 'response'] as const) {
      const { sim, a, b } = fig1();
      let lost = 0;
      sim.net.loss = (d) => {
        const isProbe = d.dport === 500 && d.dst === ip('10.2.0.9');
        if (lost === 0 && (lose === 'probe' ? isProbe : !isProbe)) {
          lost++;
          return true;
        }
        return false;
      };
      a.gw.processOne(pkt('tcp 10.1.0.5:40000 > 10.2.0.9:80'));
      sim.settle(999);
      expect(a.gw.tunnels(), lose).toHaveLength(0);
      sim.settle(1);
      expect(a.gw.tunnels()[0]?.state, lose).toBe('established');
      expect(a.gw.counters).toMatchObject({ cipsNumTEDProbesSent: 2, probeRetransmits: 1, cipsNumTEDFailures: 0 });
      expect(b.gw.counters.responsesSent).toBe(lose === 'probe' ? 1 : 2);
    }
  });

  it('honours configured backoff', () => {
    const sim = new Sim();
    const a = sim.gateway({ acl: A_ACL, ike: '192.0.2.1', timers: { probeTimeoutMs: 250, probeTries: 5, backoffFactor: 3 } });
    const sent: number[] = [];
    sim.net.tap(() => sent.push(sim.clock.now()));
    a.gw.processOne(pkt('tcp 10.1.0.5:40000 > 10.2.0.9:80'));
    sim.settle(100_000);
    expect(sent).toEqual([0, 250, 1000, 3250, 10000]);
    expect(a.gw.counters.probesGivenUp).toBe(1);
  });

  it('a thousand packets during discovery send one probe', () => {
    const { sim, a, wire } = fig1();
    const batch = a.gw.createBatch(1000);
    for (let i = 0; i < 1000; i++) batch.push(pkt(`tcp 10.1.0.${(i % 200) + 1}:${1024 + i} > 10.2.0.9:80`));
    const v = a.gw.process(batch);
    expect([...v.verdict.subarray(0, 1000)].every((x) => x === DROP)).toBe(true);
    expect(wire).toHaveLength(1);
    expect(a.gw.counters).toMatchObject({ cipsNumTEDProbesSent: 1, dropsWhileProbing: 999, dropped: 1000 });
    sim.settle();
    // The tunnel covers them all (W ∩ Z = 10.1.0.0/17): every packet of the batch now forwards.
    const v2 = a.gw.process(batch);
    expect([...v2.verdict.subarray(0, 1000)].every((x) => x === FORWARD)).toBe(true);
  });

  it('initiator cookies are unique among pending probes', () => {
    const sim = new Sim();
    // A random source that always repeats the first cookie twice before moving on.
    let n = 0;
    const a = sim.gateway({
      acl: A_ACL,
      ike: '192.0.2.1',
      random: (buf) => {
        for (let i = 0; i < buf.length; i += 8) {
          const v = Math.floor(n++ / 3) + 1;
          buf.fill(0, i, i + 8);
          buf[i + 7] = v & 0xff;
          buf[i + 6] = v >> 8;
        }
      },
    });
    for (let h = 1; h <= 50; h++) a.gw.processOne(pkt(`tcp 10.1.0.5:40000 > 10.3.0.${h}:80`));
    const cookies = a.gw.pending().map((p) => p.icookie);
    expect(cookies).toHaveLength(50);
    expect(new Set(cookies).size).toBe(50);
  });

  it('refuses and counts when the pending table, hold-downs or the tunnel table are full', () => {
    const sim = new Sim();
    const a = sim.gateway({ acl: A_ACL, ike: '192.0.2.1', limits: { maxPendingProbes: 3, maxHoldDowns: 2 } });
    for (let h = 1; h <= 5; h++) a.gw.processOne(pkt(`tcp 10.1.0.5:40000 > 10.3.0.${h}:80`));
    expect(a.gw.pending()).toHaveLength(3);
    expect(a.gw.counters.refusedPending).toBe(2);
    sim.settle(10_000);
    expect(a.gw.holdDowns()).toHaveLength(2);
    expect(a.gw.counters.refusedHoldDowns).toBe(1);

    const { sim: s2, a: a2 } = fig1({ limits: { maxTunnels: 1 } });
    a2.gw.processOne(pkt('tcp 10.1.0.5:40000 > 10.2.0.9:80'));
    a2.gw.processOne(pkt('icmp 10.1.0.5 > 10.2.0.10'));
    s2.settle();
    expect(a2.gw.tunnels()).toHaveLength(1);
    expect(a2.gw.counters).toMatchObject({ refusedTunnels: 1, tunnelsEstablished: 1 });
  });
});

describe('robustness', () => {
  it('a transport that throws loses the datagram (counted), the batch still gets its verdicts', () => {
    const { sim, a } = fig1();
    a.transport.send = () => {
      throw new Error('EPERM');
    };
    const batch = a.gw.createBatch(4);
    batch.push(pkt('tcp 10.1.0.5:40000 > 10.2.0.9:80'));
    batch.push(pkt('udp 10.1.0.5:500 > 10.2.0.9:500'));
    const v = a.gw.process(batch);
    expect([v.verdict[0], v.verdict[1]]).toEqual([DROP, BYPASS]);
    expect(a.gw.counters.transportErrors).toBe(1);
    sim.settle(10_000); // retransmissions also fail, then give-up
    expect(a.gw.counters).toMatchObject({ transportErrors: 3, probesGivenUp: 1 });
  });

  it('refuses re-entrant process() from an event listener', () => {
    const sim = new Sim();
    let err: unknown;
    const g = sim.gateway({
      acl: A_ACL,
      ike: '192.0.2.1',
      onEvent: (e) => {
        if (e.type === 'drop') {
          try {
            g.gw.processOne(pkt('tcp 10.1.0.5:40000 > 10.2.0.9:80'));
          } catch (x) {
            err = x;
          }
        }
      },
    });
    expect(g.gw.processOne(pkt('tcp 10.1.0.5:40000 > 10.2.0.9:80')).verdict).toBe(DROP);
    expect((err as { code?: string }).code).toBe('TED_REENTRANT');
  });
});

describe('default handoff', () => {
  it('records and logs each tunnel, establishes it at once', () => {
    const lines: string[] = [];
    const { sim, a } = fig1({ log: (l: string) => lines.push(l) });
    a.gw.processOne(pkt('tcp 10.1.0.5:40000 > 10.2.0.9:80'));
    sim.settle();
    a.gw.tearDown(a.gw.tunnels()[0]!.id);
    expect(lines).toEqual([
      'handoff: tunnel 1 (entry 2) to peer 198.51.100.1, proxy permit tcp 10.1.0.0 0.0.127.255 10.2.0.0 0.0.255.255 eq 80: established',
      'handoff: tunnel 1 to peer 198.51.100.1 down (api)',
    ]);
  });
});

describe('tunnel lifetime', () => {
  it('idle tunnels time out, used ones stay until their lifetime; teardown through the API', () => {
    const { sim, a } = fig1({ timers: { tunnelIdleMs: 10_000, tunnelLifetimeMs: 25_000 } });
    const P = pkt('tcp 10.1.0.5:40000 > 10.2.0.9:80');
    a.gw.processOne(P);
    sim.settle();
    const id = a.gw.tunnels()[0]!.id;
    for (let i = 0; i < 4; i++) {
      sim.settle(5_000);
      expect(a.gw.processOne(P)).toMatchObject({ verdict: FORWARD, tunnel: id });
    }
    sim.settle(5_001); // t = 25001: lifetime over
    expect(a.gw.tunnels()).toHaveLength(0);
    expect(a.gw.counters.tunnelsExpired).toBe(1);
    expect(a.gw.processOne(P).verdict).toBe(DROP);
    sim.settle();
    const id2 = a.gw.tunnels()[0]!.id;
    expect(id2).not.toBe(id);
    sim.settle(10_000);
    expect(a.gw.tunnels()).toHaveLength(0);
    expect(a.gw.counters.tunnelsIdle).toBe(1);

    a.gw.processOne(P);
    sim.settle();
    const id3 = a.gw.tunnels()[0]!.id;
    expect(a.gw.processOne(P).verdict).toBe(FORWARD);
    expect(a.gw.tearDown(id3)).toBe(true);
    expect(a.gw.tearDown(id3)).toBe(false);
    // The flow cache forgot the tunnel.
    expect(a.gw.processOne(P).verdict).toBe(DROP);
    expect(a.gw.counters.tunnelsTornDown).toBe(1);
  });

  it('drops while the handoff is still bringing the SAs up, forwards once established', async () => {
    let release!: (ok: boolean) => void;
    const { sim, a } = fig1({ handoff: { bringUp: () => new Promise<boolean>((r) => (release = r)) } });
    const P = pkt('tcp 10.1.0.5:40000 > 10.2.0.9:80');
    a.gw.processOne(P);
    sim.settle();
    expect(a.gw.tunnels()[0]!.state).toBe('negotiated');
    expect(a.gw.processOne(P).verdict).toBe(DROP);
    expect(a.gw.counters.dropsWhileNegotiating).toBe(1);
    release(true);
    await Promise.resolve();
    expect(a.gw.tunnels()[0]!.state).toBe('established');
    expect(a.gw.processOne(P).verdict).toBe(FORWARD);
  });

  it('a handoff that reports the SAs gone (IKE down) removes the tunnel; rediscovery after the hold-down', () => {
    let sink: HandoffSink | undefined;
    const down: string[] = [];
    const { sim, a } = fig1({
      timers: { holdDownMs: 5_000 },
      handoff: { bringUp: () => true, tearDown: (_t: unknown, reason: string) => down.push(reason), attach: (s: HandoffSink) => (sink = s) },
    });
    expect(sink).toBeDefined();
    const P = pkt('tcp 10.1.0.5:40000 > 10.2.0.9:80');
    a.gw.processOne(P);
    sim.settle();
    const id = a.gw.tunnels()[0]!.id;
    expect(a.gw.processOne(P).verdict).toBe(FORWARD);
    expect(sink!.tunnelDown(id)).toBe(true);
    expect(sink!.tunnelDown(id)).toBe(false);
    expect(down).toEqual(['ike-down']);
    expect(a.gw.counters).toMatchObject({ tunnelsHandoffDown: 1, holdDownsStarted: 1 });
    // The cached flow is gone and the destination is held down: no probe until it ends.
    expect(a.gw.processOne(P).verdict).toBe(DROP);
    expect(a.gw.counters.dropsHeldDown).toBe(1);
    expect(a.gw.pending()).toHaveLength(0);
    sim.settle(5_000);
    expect(a.gw.processOne(P).verdict).toBe(DROP);
    sim.settle();
    expect(a.gw.tunnels()).toHaveLength(1);
    expect(a.gw.tunnels()[0]!.id).not.toBe(id);
    expect(a.gw.processOne(P).verdict).toBe(FORWARD);
  });
});

describe('hostile input', () => {
  function pendingProbe() {
    const f = fig1();
    f.sim.net.loss = () => true; // the responder never hears anything
    f.a.gw.processOne(pkt('tcp 10.1.0.5:40000 > 10.2.0.9:80'));
    f.sim.net.loss = undefined;
    const probe = readProbe(f.wire[0]!.payload);
    const genuine = ikeWire.encodeResponse({
      icookie: probe.icookie,
      rcookie: 0x1122334455667788n,
      capabilities: 0,
      id: { family: 4, address: ip('198.51.100.1') },
      proxy: mirror({ ...f.a.gw.policy.entries[1]! }),
    });
    const send = (payload: Uint8Array, src = ip('198.51.100.1')) => {
      f.sim.net.inject({ family: 4, src, dst: ip('192.0.2.1'), sport: 500, dport: 500, payload });
      f.sim.net.flush();
    };
    return { ...f, probe, genuine, send };
  }

  it('ignores and counts forged or malformed responses, then accepts the genuine one', () => {
    const { a, genuine, send } = pendingProbe();
    const c = a.gw.counters;
    const edit = (at: number, bytes: number[]) => {
      const b = genuine.slice();
      b.set(bytes, at);
      return b;
    };
    send(edit(0, [9, 9, 9, 9, 9, 9, 9, 9])); // unknown initiator cookie
    send(edit(18, [34])); // quick mode exchange with our cookie
    send(edit(20, [0, 0, 0, 1])); // message ID 1
    send(edit(8, [0, 0, 0, 0, 0, 0, 0, 0])); // zero responder cookie
    send(genuine.subarray(0, 40)); // truncated
    send(genuine.subarray(0, 10)); // too short for a header
    send(edit(28, [0xff, 0xff])); // garbage in the first payload header
    send(genuine, ip('203.0.113.66')); // right bytes, wrong source
    expect(c).toMatchObject({
      responseUnknownCookie: 1,
      responseWrongExchange: 1,
      responseBadMessageId: 1,
      responseZeroRcookie: 1,
      responseTruncated: 1,
      responseSourceMismatch: 1,
      tunnelsNegotiated: 0,
    });
    expect(c.responseMalformed + c.responseTruncated + c.datagramsIgnored).toBeGreaterThanOrEqual(3);
    expect(a.gw.pending()).toHaveLength(1);
    send(genuine);
    expect(a.gw.tunnels()).toHaveLength(1);
    // A replay after success matches no pending probe.
    send(genuine);
    expect(c.responseUnknownCookie).toBe(2);
    expect(a.gw.tunnels()).toHaveLength(1);
  });

  it('block 218: a responder whose proxy does not cover P is refused and the destination held down', () => {
    const { a, probe, send } = pendingProbe();
    // A lying responder: its "proxy" protects 10.2.5.0/24 only, P goes to 10.2.0.9.
    const lie = ikeWire.encodeResponse({
      icookie: probe.icookie,
      rcookie: 5n,
      capabilities: 0,
      id: { family: 4, address: ip('198.51.100.1') },
      proxy: { family: 4, protocol: 0, src: { value: ip('10.2.5.0'), care: 0xffffff00n }, dst: { value: 0n, care: 0n }, sport: [{ lo: 0, hi: 65535 }], dport: [{ lo: 0, hi: 65535 }] },
    });
    send(lie);
    expect(a.gw.counters).toMatchObject({ packetOutsideIntersection: 1, cipsNumTEDFailures: 1 });
    expect(a.gw.tunnels()).toHaveLength(0);
    expect(a.gw.holdDowns()[0]!.reason).toBe('packet-outside');
  });

  it('an empty intersection is counted by field', () => {
    const { a, probe, send } = pendingProbe();
    const udpOnly = ikeWire.encodeResponse({
      icookie: probe.icookie,
      rcookie: 5n,
      capabilities: 0,
      id: { family: 4, address: ip('198.51.100.1') },
      proxy: { family: 4, protocol: 17, src: { value: 0n, care: 0n }, dst: { value: 0n, care: 0n }, sport: [{ lo: 0, hi: 65535 }], dport: [{ lo: 0, hi: 65535 }] },
    });
    send(udpOnly);
    expect(a.gw.counters.intersectEmptyProtocol).toBe(1);
    expect(a.gw.holdDowns()[0]!.reason).toBe('empty-protocol');
  });

  it('responder: silent with a counted reason for denied, unmatched, malformed and misaddressed probes', () => {
    const { sim, b, wire } = fig1();
    const probe = (summary: object, extra: { msgid?: number; dst?: bigint } = {}) => {
      const bytes = ikeWire.encodeProbe({
        icookie: 77n,
        capabilities: 0,
        id: { family: 4, address: ip('192.0.2.1') },
        summary: { tedVersion: 3, family: 4, protocol: 6, src: ip('10.1.0.5'), dst: ip('10.2.0.9'), sport: 40000, dport: 80, ...summary },
      });
      if (extra.msgid) bytes[23] = extra.msgid;
      sim.net.inject({ family: 4, src: ip('10.1.0.5'), dst: extra.dst ?? ip('10.2.0.9'), sport: 40000, dport: 500, payload: bytes });
      sim.net.flush();
    };
    probe({ protocol: 17, sport: 500, dport: 500 }); // mirrored: udp dport 500 -> deny entry 1
    probe({ src: ip('192.168.1.1') }); // no entry covers traffic back to 192.168.1.1
    probe({}, { msgid: 3 });
    probe({ dst: ip('10.2.0.10') }); // summary says .10, the datagram went to .9
    const trunc = ikeWire.encodeProbe({ icookie: 1n, capabilities: 0, id: { family: 4, address: 1n }, summary: { tedVersion: 3, family: 4, protocol: 6, src: 1n, dst: 2n, sport: 1, dport: 2 } });
    sim.net.inject({ family: 4, src: 1n, dst: ip('10.2.0.9'), sport: 1, dport: 500, payload: trunc.subarray(0, trunc.length - 3) });
    sim.net.flush();
    expect(b.gw.counters).toMatchObject({ probeDenied: 1, probeNoEntry: 1, probeBadMessageId: 1, probeDestinationMismatch: 1, probeTruncated: 1, cipsNumTEDProbesReceived: 5, responsesSent: 0 });
    expect(wire.filter((d) => !d.spoofSource && d.src === ip('198.51.100.1'))).toHaveLength(0);
    probe({});
    expect(b.gw.counters.responsesSent).toBe(1);
  });

  it('responder cookies are stateless: the same probe gets the same cookie, another initiator another', () => {
    const secret = new Uint8Array(32).fill(3);
    const { sim, b } = fig1({}, { secret });
    const got: bigint[] = [];
    const raw: Uint8Array[] = [];
    sim.net.tap((r) => {
      if (!r.injected && (r.datagram as OutboundDatagram).spoofSource === false) {
        got.push(readResponse(r.datagram.payload).rcookie);
        raw.push(r.datagram.payload);
      }
    });
    for (const id of ['192.0.2.1', '192.0.2.1', '192.0.2.2']) {
      const bytes = ikeWire.encodeProbe({ icookie: 42n, capabilities: 0, id: { family: 4, address: ip(id) }, summary: { tedVersion: 3, family: 4, protocol: 6, src: ip('10.1.0.5'), dst: ip('10.2.0.9'), sport: 1, dport: 22 } });
      sim.net.inject({ family: 4, src: ip('10.1.0.5'), dst: ip('10.2.0.9'), sport: 1, dport: 500, payload: bytes });
    }
    sim.net.flush();
    expect(got).toHaveLength(3);
    expect(got[0]).toBe(got[1]);
    // Each answer is byte for byte the encoding of what it says (cookies written into a template).
    for (const bytes of raw) expect([...ikeWire.encodeResponse(readResponse(bytes))]).toEqual([...bytes]);
    expect(responderCookie(secret, 42n, { family: 4, address: ip('192.0.2.2') })).toBe(got[2]);
    expect(got[2]).not.toBe(got[0]);
    expect(b.gw.sizes().pending).toBe(0);
  });

  it('rate-limits answers per initiator', () => {
    const { sim, b } = fig1({}, { rateLimit: { responsesPerSecond: 2, burst: 3 } });
    const fire = (id: string, n: number) => {
      for (let i = 0; i < n; i++) {
        const bytes = ikeWire.encodeProbe({ icookie: BigInt(i + 1), capabilities: 0, id: { family: 4, address: ip(id) }, summary: { tedVersion: 3, family: 4, protocol: 6, src: ip('10.1.0.5'), dst: ip('10.2.0.9'), sport: 1, dport: 22 } });
        sim.net.inject({ family: 4, src: ip('10.1.0.5'), dst: ip('10.2.0.9'), sport: 1, dport: 500, payload: bytes });
      }
      sim.net.flush();
    };
    fire('192.0.2.1', 10);
    expect(b.gw.counters).toMatchObject({ responsesSent: 3, probeRateLimited: 7 });
    fire('192.0.2.2', 1); // another initiator has its own bucket
    expect(b.gw.counters.responsesSent).toBe(4);
    sim.settle(1000); // two more tokens
    fire('192.0.2.1', 5);
    expect(b.gw.counters.responsesSent).toBe(6);
  });
});

describe('decode of what the engine puts on the wire', () => {
  it('probes carry exchange 240, message ID 0 and a zero responder cookie', () => {
    const { a, wire } = fig1();
    a.gw.processOne(pkt('tcp 10.1.0.5:40000 > 10.2.0.9:80'));
    const m = decodeProbe(wire[0]!.payload);
    expect(m.header).toMatchObject({ exchange: 240, msgid: 0, rcookie: 0n, flags: 0 });
    expect(isSubset(a.gw.policy.entries[1]!, a.gw.policy.entries[1]!)).toBe(true);
  });
});
