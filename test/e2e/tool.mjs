#!/usr/bin/env node
// Traffic helper the end-to-end test runs inside namespaces (`ip netns exec NS node tool.mjs ...`):
// the hosts' packets, host B's listener, and the forger's datagrams. Prints JSON lines.
//   udp-send DST PORT TEXT [SPORT]       one UDP datagram (IPv4 or IPv6 by DST)
//   tcp-connect DST PORT TIMEOUT_MS      one connection attempt; prints how it ended
//   udp-listen ADDR PORT                 prints every datagram received, until killed
//   tcp-listen ADDR PORT                 prints every connection accepted, until killed
//   forge FAMILY SRC DST SPORT DPORT HEX a UDP datagram with any source (raw socket, root)
//   forge-flood FAMILY SRC DST SPORT DPORT HEX N
//                                        N copies, each with a fresh random initiator cookie
import dgram from 'node:dgram';
import net from 'node:net';

const [cmd, ...a] = process.argv.slice(2);
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const fam = (addr) => (addr.includes(':') ? 'udp6' : 'udp4');

if (cmd === 'udp-send') {
  const [dst, port, text, sport] = a;
  const s = dgram.createSocket(fam(dst));
  s.bind(Number(sport ?? 0), () => {
    s.send(Buffer.from(text), Number(port), dst, (err) => {
      out({ sent: !err, error: err?.code, sport: s.address().port });
      s.close();
    });
  });
} else if (cmd === 'tcp-connect') {
  const [dst, port, timeout] = a;
  const c = net.connect({ host: dst, port: Number(port) });
  const t = setTimeout(() => {
    out({ result: 'timeout' });
    c.destroy();
  }, Number(timeout));
  c.on('connect', () => {
    clearTimeout(t);
    out({ result: 'connected', sport: c.localPort });
    c.end();
  });
  c.on('error', (e) => {
    clearTimeout(t);
    out({ result: 'error', code: e.code });
  });
} else if (cmd === 'udp-listen') {
  const [addr, port] = a;
  const s = dgram.createSocket(fam(addr));
  s.on('message', (m, r) => out({ from: r.address, sport: r.port, text: m.toString() }));
  s.bind(Number(port), addr, () => out({ listening: true }));
} else if (cmd === 'tcp-listen') {
  const [addr, port] = a;
  const srv = net.createServer((c) => {
    out({ accepted: c.remoteAddress, sport: c.remotePort });
    c.end();
  });
  srv.listen(Number(port), addr, () => out({ listening: true }));
} else if (cmd === 'forge') {
  const [family, src, dst, sport, dport, hex] = a;
  const { RawUdpSender } = await import(new URL('../../dist/transport/raw.js', import.meta.url).href);
  const { parseAnyAddress } = await import(new URL('../../dist/selector/address.js', import.meta.url).href);
  const sender = new RawUdpSender((e) => out({ error: e.message }));
  sender.send({ family: Number(family), src: parseAnyAddress(src).value, dst: parseAnyAddress(dst).value, sport: Number(sport), dport: Number(dport), payload: Buffer.from(hex, 'hex') });
  setTimeout(() => {
    out({ forged: sender.counters.sent, errors: sender.counters.sendErrors });
    sender.close();
  }, 50);
} else if (cmd === 'forge-flood') {
  const [family, src, dst, sport, dport, hex, count] = a;
  const { RawUdpSender } = await import(new URL('../../dist/transport/raw.js', import.meta.url).href);
  const { parseAnyAddress } = await import(new URL('../../dist/selector/address.js', import.meta.url).href);
  const { randomFillSync } = await import('node:crypto');
  const sender = new RawUdpSender((e) => out({ error: e.message }));
  const template = Buffer.from(hex, 'hex');
  const n = Number(count);
  for (let i = 0; i < n; i++) {
    const b = Buffer.from(template);
    randomFillSync(b, 0, 8); // the initiator cookie
    sender.send({ family: Number(family), src: parseAnyAddress(src).value, dst: parseAnyAddress(dst).value, sport: Number(sport), dport: Number(dport), payload: b });
    if (i % 100 === 99) await new Promise((r) => setTimeout(r, 5)); // let the queue drain
  }
  await new Promise((r) => setTimeout(r, 200));
  out({ forged: sender.counters.sent, errors: sender.counters.sendErrors });
  sender.close();
} else {
  process.stderr.write(`unknown command ${cmd}\n`);
  process.exit(2);
}
