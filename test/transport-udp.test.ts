import { afterEach, describe, expect, it } from 'vitest';
import { TedError } from '../src/errors.js';
import { parseAnyAddress } from '../src/selector/address.js';
import type { InboundDatagram } from '../src/transport/types.js';
import { UdpTransport } from '../src/transport/udp.js';

const open: UdpTransport[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((t) => t.close()));
});

async function openT(...args: Parameters<typeof UdpTransport.open>): Promise<UdpTransport> {
  const t = await UdpTransport.open(...args);
  open.push(t);
  return t;
}

function addr(text: string): bigint {
  return parseAnyAddress(text)!.value;
}

function nextDatagram(t: UdpTransport, timeoutMs = 2000): Promise<InboundDatagram & { bytes: number[] }> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no datagram')), timeoutMs);
    t.onDatagram((d) => {
      clearTimeout(timer);
      resolve({ ...d, bytes: [...d.payload] });
    });
  });
}

async function hasIPv6Loopback(): Promise<boolean> {
  try {
    const t = await UdpTransport.open({ bind: [{ address: '::1', port: 0 }] });
    await t.close();
    return true;
  } catch {
    return false;
  }
}

describe('UdpTransport on loopback', () => {
  it('delivers a datagram with addresses, ports and payload, and rewrites port 500 to remotePort', async () => {
    const b = await openT({ bind: [{ address: '127.0.0.1', port: 0 }] });
    const bPort = b.endpoints()[0]!.port;
    const a = await openT({ bind: [{ address: '127.0.0.1', port: 0 }], remotePort: bPort });
    const aPort = a.endpoints()[0]!.port;
    const got = nextDatagram(b);
    const payload = new Uint8Array([1, 2, 3, 4]);
    a.send({ family: 4, src: addr('127.0.0.1'), dst: addr('127.0.0.1'), sport: aPort, dport: 500, payload, spoofSource: false });
    payload.fill(9); // the transport copied it
    const d = await got;
    expect(d).toMatchObject({ family: 4, src: addr('127.0.0.1'), dst: addr('127.0.0.1'), sport: aPort, dport: bPort, dstKnown: true });
    expect(d.bytes).toEqual([1, 2, 3, 4]);
    await new Promise((r) => setTimeout(r, 20));
    expect(a.counters.sent).toBe(1);
    expect(b.counters.received).toBe(1);
    expect(a.capabilities.spoofSource).toBe(false);
  });

  it('sends from the socket bound to the datagram source address', async () => {
    const sink = await openT({ bind: [{ address: '127.0.0.1', port: 0 }] });
    const sinkPort = sink.endpoints()[0]!.port;
    const a = await openT({ bind: [{ address: '127.0.0.2', port: 0 }, { address: '127.0.0.3', port: 0 }], remotePort: sinkPort });
    for (const src of ['127.0.0.2', '127.0.0.3']) {
      const got = nextDatagram(sink);
      a.send({ family: 4, src: addr(src), dst: addr('127.0.0.1'), sport: 500, dport: 500, payload: new Uint8Array([7]), spoofSource: false });
      expect((await got).src).toBe(addr(src));
    }
  });

  it('a wildcard and a specific socket share a port: the specific one gets its own address, the wildcard the rest', async () => {
    const probe = await openT({ bind: [{ address: '127.0.0.1', port: 0 }] });
    const port = probe.endpoints()[0]!.port;
    await probe.close(); // free a port number we can reuse for both binds
    open.pop();
    const t = await openT({ bind: [{ address: '0.0.0.0', port }, { address: '127.0.0.9', port }] });
    const sender = await openT({ bind: [{ address: '127.0.0.1', port: 0 }], remotePort: port });
    let got = nextDatagram(t);
    sender.send({ family: 4, src: addr('127.0.0.1'), dst: addr('127.0.0.9'), sport: 1, dport: 500, payload: new Uint8Array([1]), spoofSource: false });
    expect(await got).toMatchObject({ dst: addr('127.0.0.9'), dstKnown: true, dport: port });
    got = nextDatagram(t);
    sender.send({ family: 4, src: addr('127.0.0.1'), dst: addr('127.0.0.77'), sport: 1, dport: 500, payload: new Uint8Array([2]), spoofSource: false });
    expect(await got).toMatchObject({ dst: 0n, dstKnown: false, dport: port });
  });

  it('the redirect hook maps destinations (documentation addresses onto loopback)', async () => {
    const b = await openT({ bind: [{ address: '127.0.0.1', port: 0 }] });
    const bPort = b.endpoints()[0]!.port;
    const a = await openT({ bind: [{ address: '127.0.0.1', port: 0 }], redirect: () => ({ address: '127.0.0.1', port: bPort }) });
    const got = nextDatagram(b);
    a.send({ family: 4, src: addr('192.0.2.10'), dst: addr('203.0.113.5'), sport: 4000, dport: 500, payload: new Uint8Array([5]), spoofSource: true });
    expect((await got).bytes).toEqual([5]);
  });

  it('counts, and does not throw, when no socket of the family is open or the OS refuses', async () => {
    const errors: string[] = [];
    const a = await openT({ bind: [{ address: '127.0.0.1', port: 0 }], onError: (e, ctx) => errors.push(`${ctx}: ${e.message}`) });
    expect(() => a.send({ family: 6, src: 1n, dst: 1n, sport: 500, dport: 500, payload: new Uint8Array(1), spoofSource: false })).not.toThrow();
    expect(a.counters.noSocket).toBe(1);
    // A datagram larger than UDP allows is refused by the OS (EMSGSIZE): counted, not thrown.
    a.send({ family: 4, src: addr('127.0.0.1'), dst: addr('127.0.0.1'), sport: 500, dport: 9, payload: new Uint8Array(70000), spoofSource: false });
    await new Promise((r) => setTimeout(r, 50));
    expect(a.counters.sendErrors).toBe(1);
    expect(errors.length).toBe(2);
  });

  it('a bind failure is a TRANSPORT_BIND error naming the endpoint, and nothing stays open', async () => {
    const err = await UdpTransport.open({ bind: [{ address: '127.0.0.1', port: 0 }, { address: '192.0.2.200', port: 0 }] }).catch((e) => e);
    expect(err).toBeInstanceOf(TedError);
    expect(err.code).toBe('TRANSPORT_BIND');
    expect(err.message).toContain('192.0.2.200');
    const bad = await UdpTransport.open({ bind: [{ address: 'not-an-ip' }] }).catch((e) => e);
    expect(bad.code).toBe('TRANSPORT_BAD_ADDRESS');
    const none = await UdpTransport.open({ bind: [] }).catch((e) => e);
    expect(none.code).toBe('TRANSPORT_NO_ENDPOINT');
  });

  it('close is idempotent and stops sending', async () => {
    const a = await UdpTransport.open({ bind: [{ address: '127.0.0.1', port: 0 }] });
    await a.close();
    await a.close();
    a.send({ family: 4, src: addr('127.0.0.1'), dst: addr('127.0.0.1'), sport: 500, dport: 9, payload: new Uint8Array(1), spoofSource: false });
    expect(a.counters.sent + a.counters.sendErrors).toBe(0);
  });

  it('IPv6 on ::1 (skipped when the host has no IPv6 loopback)', async (ctx) => {
    if (!(await hasIPv6Loopback())) {
      console.warn('skip: no IPv6 loopback on this host');
      ctx.skip();
    }
    const b = await openT({ bind: [{ address: '::1', port: 0 }] });
    const bPort = b.endpoints()[0]!.port;
    const a = await openT({ bind: [{ address: '::1', port: 0 }, { address: '127.0.0.1', port: 0 }], remotePort: bPort });
    const got = nextDatagram(b);
    a.send({ family: 6, src: 1n, dst: 1n, sport: 500, dport: 500, payload: new Uint8Array([6, 6]), spoofSource: false });
    expect(await got).toMatchObject({ family: 6, src: 1n, dst: 1n, dstKnown: true, bytes: [6, 6] });
  });
});

describe('UdpTransport port ownership', () => {
  it('refuses a port another transport holds, also when it would bind a wildcard and a specific socket', async () => {
    const probe = await UdpTransport.open({ bind: [{ address: '127.0.0.1', port: 0 }] });
    const port = probe.endpoints()[0]!.port;
    await probe.close();
    const first = await UdpTransport.open({ bind: [{ address: '0.0.0.0', port }, { address: '127.0.0.1', port }] });
    try {
      const single = await UdpTransport.open({ bind: [{ address: '127.0.0.1', port }] }).catch((e) => e);
      expect(single.code).toBe('TRANSPORT_BIND');
      const both = await UdpTransport.open({ bind: [{ address: '0.0.0.0', port }, { address: '127.0.0.1', port }] }).catch((e) => e);
      expect(both.code).toBe('TRANSPORT_BIND');
      expect(both.message).toContain('EADDRINUSE');
    } finally {
      await first.close();
    }
  });
});
