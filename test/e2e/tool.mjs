#!/usr/bin/env node
// Traffic helper the end-to-end test runs inside namespaces (`ip netns exec NS node tool.mjs ...`):
// the hosts' packets, host B's listener, and the forger's datagrams. Prints JSON lines.
//   udp-send, tcp-connect, udp-listen, tcp-listen: the lab agent's (src/lab/agent.ts)
//   forge FAMILY SRC DST SPORT DPORT HEX a UDP datagram with any source (raw socket, root)
//   forge-flood FAMILY SRC DST SPORT DPORT HEX N
//                                        N copies, each with a fresh random initiator cookie

const [cmd, ...a] = process.argv.slice(2);
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');

// The hosts' commands are the lab agent's (src/lab/agent.ts, what `ted lab` runs).
const { runAgent } = await import(new URL('../../dist/lab/agent.js', import.meta.url).href);
if (runAgent([cmd, ...a], out)) {
  // running: listeners until killed, clients until done
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
