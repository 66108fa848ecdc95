import { afterEach, describe, expect, it } from 'vitest';
import { parseAnyAddress } from '../src/selector/address.js';
import { RawTransport, rawSocketsAvailable } from '../src/transport/raw.js';
import type { InboundDatagram } from '../src/transport/types.js';
import { UdpTransport } from '../src/transport/udp.js';

const canRaw = rawSocketsAvailable();
if (!canRaw) console.warn('skip transport-raw: raw sockets need root or CAP_NET_RAW');

const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((t) => t.close()));
});

const addr = (t: string) => parseAnyAddress(t)!.value;

function next(t: UdpTransport): Promise<InboundDatagram & { bytes: number[] }> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no datagram')), 2000);
    t.onDatagram((d) => {
      clearTimeout(timer);
      resolve({ ...d, bytes: [...d.payload] });
    });
  });
}

describe.skipIf(!canRaw)('RawTransport (root): the probe leaves with a foreign source address', () => {
  it('IPv4: a receiver on loopback sees the spoofed source address and port, checksums accepted', async () => {
    const sink = await UdpTransport.open({ bind: [{ address: '127.0.0.1', port: 0 }] });
    open.push(sink);
    const port = sink.endpoints()[0]!.port;
    const t = await RawTransport.open({ bind: [{ address: '127.0.0.1', port: 0 }] });
    open.push(t);
    expect(t.capabilities.spoofSource).toBe(true);
    const got = next(sink);
    // A foreign source (a documentation address) to loopback: the kernel delivers it only if the
    // IP and UDP checksums we computed are right.
    t.send({ family: 4, src: addr('127.0.0.55'), dst: addr('127.0.0.1'), sport: 40001, dport: port, payload: new Uint8Array([0xde, 0xad, 0xbe, 0xef, 1]), spoofSource: true });
    const d = await got;
    expect(d).toMatchObject({ src: addr('127.0.0.55'), sport: 40001, dport: port, bytes: [0xde, 0xad, 0xbe, 0xef, 1] });
    await new Promise((r) => setTimeout(r, 20));
    expect(t.counters.rawSent).toBe(1);
  });

  it('IPv6: a spoofed source on ::1 arrives intact', async () => {
    let sink: UdpTransport;
    try {
      sink = await UdpTransport.open({ bind: [{ address: '::1', port: 0 }] });
    } catch {
      console.warn('skip: no IPv6 loopback');
      return;
    }
    open.push(sink);
    const port = sink.endpoints()[0]!.port;
    const t = await RawTransport.open({ bind: [{ address: '::1', port: 0 }] });
    open.push(t);
    const got = next(sink);
    // ::1 as source: loopback only accepts loopback sources for IPv6; the UDP checksum must be right.
    t.send({ family: 6, src: 1n, dst: 1n, sport: 40002, dport: port, payload: new Uint8Array([6, 6, 6]), spoofSource: true });
    expect(await got).toMatchObject({ family: 6, src: 1n, sport: 40002, bytes: [6, 6, 6] });
  });

  it('datagrams from our own address go through the UDP socket (source port = the bound port)', async () => {
    const sink = await UdpTransport.open({ bind: [{ address: '127.0.0.1', port: 0 }] });
    open.push(sink);
    const port = sink.endpoints()[0]!.port;
    const t = await RawTransport.open({ bind: [{ address: '127.0.0.1', port: 0 }], remotePort: port });
    open.push(t);
    const got = next(sink);
    t.send({ family: 4, src: addr('127.0.0.1'), dst: addr('127.0.0.1'), sport: 500, dport: 500, payload: new Uint8Array([3]), spoofSource: false });
    expect((await got).sport).toBe(t.udp.endpoints()[0]!.port);
    expect(t.counters.rawSent).toBe(0);
  });
});

describe('recomputeL4Checksum (no privilege needed)', () => {
  it('restores the checksum of UDP, TCP, ICMP and ICMPv6 packets whose checksum field was partial or zeroed', async () => {
    const { recomputeL4Checksum } = await import('../src/transport/raw.js');
    const { encodeUdpPacket, encodeIPv4, encodeIPv6, encodeL4 } = await import('../src/packet/encode.js');
    const v4a = addr('192.0.2.10');
    const v4b = addr('203.0.113.20');
    const v6a = 0x20010db8000a0000000000000000010n;
    const v6b = 0x20010db8000b0000000000000000020n;
    const l4 = (protocol: number, family: 4 | 6, src: bigint, dst: bigint) => encodeL4({ protocol, sport: 40000, dport: 8000, payload: new Uint8Array([9, 9, 9]) }, family, src, dst);
    const packets: [4 | 6, Uint8Array, number][] = [
      [4, encodeUdpPacket({ family: 4, src: v4a, dst: v4b, sport: 40000, dport: 7000, payload: new Uint8Array([1, 2, 3]) }), 20 + 6],
      [6, encodeUdpPacket({ family: 6, src: v6a, dst: v6b, sport: 1, dport: 2, payload: new Uint8Array(9).fill(7) }), 40 + 6],
      [4, encodeIPv4({ src: v4a, dst: v4b, protocol: 6, payload: l4(6, 4, v4a, v4b) }), 20 + 16],
      [6, encodeIPv6({ src: v6a, dst: v6b, protocol: 6, payload: l4(6, 6, v6a, v6b) }), 40 + 16],
      [4, encodeIPv4({ src: v4a, dst: v4b, protocol: 1, payload: l4(1, 4, v4a, v4b) }), 20 + 2],
      [6, encodeIPv6({ src: v6a, dst: v6b, protocol: 58, payload: l4(58, 6, v6a, v6b) }), 40 + 2],
    ];
    for (const [family, original, at] of packets) {
      const damaged = original.slice();
      damaged[at] = 0x12; // what a partial (offloaded) checksum looks like: anything but the sum
      damaged[at + 1] = 0x34;
      recomputeL4Checksum(family, damaged);
      expect([...damaged]).toEqual([...original]);
    }
  });
});
