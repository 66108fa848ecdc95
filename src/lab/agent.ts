#!/usr/bin/env node
// The hosts' side of the lab, run inside a namespace (`ip netns exec NS node agent.js CMD ...`):
// a TCP or UDP listener on host B and a client on host A. Prints one JSON line per thing that
// happens, with `t` = Date.now() (the lab compares it with the daemons' log times).
//   tcp-listen ADDR PORT                  every connection accepted, every chunk (echoed back)
//   tcp-connect DST PORT TIMEOUT_MS [TEXT] one connection: connected/timeout/error, then the echo
//   udp-listen ADDR PORT                  every datagram
//   udp-send DST PORT TEXT [SPORT]        one datagram
//   udp-stream DST PORT SPORT EVERY_MS N  N datagrams "0", "1", ... every EVERY_MS from one port
import dgram from 'node:dgram';
import net from 'node:net';
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export type Out = (o: Record<string, unknown>) => void;

const family = (addr: string) => (addr.includes(':') ? 'udp6' : 'udp4');

export function tcpListen(addr: string, port: number, out: Out): net.Server {
  const srv = net.createServer((c) => {
    out({ accepted: c.remoteAddress, sport: c.remotePort, t: Date.now() });
    c.on('data', (b) => {
      out({ data: b.toString('utf8'), bytes: b.length, from: c.remoteAddress, t: Date.now() });
      c.write(b);
    });
    c.on('error', () => c.destroy());
    c.on('end', () => c.end());
  });
  srv.listen(port, addr, () => out({ listening: true }));
  return srv;
}

export function tcpConnect(dst: string, port: number, timeoutMs: number, text: string | undefined, out: Out, done: () => void = () => undefined): void {
  const started = Date.now();
  const c = net.connect({ host: dst, port });
  let finished = false;
  const finish = (o: Record<string, unknown>) => {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    out(o);
    c.destroy();
    done();
  };
  const timer = setTimeout(() => finish({ result: 'timeout', ms: Date.now() - started }), timeoutMs);
  c.on('connect', () => {
    out({ result: 'connected', sport: c.localPort, t: Date.now(), ms: Date.now() - started });
    if (text === undefined) return finish({ closed: true });
    c.write(text);
  });
  let echoed = '';
  c.on('data', (b) => {
    echoed += b.toString('utf8');
    if (text !== undefined && echoed.length >= text.length) finish({ echo: echoed, t: Date.now(), ms: Date.now() - started });
  });
  c.on('error', (e: NodeJS.ErrnoException) => finish({ result: 'error', code: e.code, ms: Date.now() - started }));
}

export function udpListen(addr: string, port: number, out: Out): dgram.Socket {
  const s = dgram.createSocket(family(addr));
  s.on('message', (m, r) => out({ from: r.address, sport: r.port, text: m.toString(), t: Date.now() }));
  s.bind(port, addr, () => out({ listening: true }));
  return s;
}

export function udpSend(dst: string, port: number, text: string, sport: number, out: Out): void {
  const s = dgram.createSocket(family(dst));
  s.bind(sport, () => {
    s.send(Buffer.from(text), port, dst, (err) => {
      out({ sent: !err, error: (err as NodeJS.ErrnoException | null)?.code, sport: s.address().port, t: Date.now() });
      s.close();
    });
  });
}

/** `count` datagrams carrying their sequence number, `everyMs` apart, from one source port. */
export function udpStream(dst: string, port: number, sport: number, everyMs: number, count: number, out: Out): void {
  const s = dgram.createSocket(family(dst));
  s.bind(sport, () => {
    let i = 0;
    const tick = () => {
      if (i >= count) {
        out({ sent: count, t: Date.now() });
        s.close();
        return;
      }
      s.send(Buffer.from(String(i++)), port, dst);
      setTimeout(tick, everyMs);
    };
    tick();
  });
}

/** Runs one command line; false when the command is unknown. */
export function runAgent(argv: readonly string[], out: Out): boolean {
  const [cmd, ...a] = argv;
  switch (cmd) {
    case 'tcp-listen':
      tcpListen(a[0]!, Number(a[1]), out);
      return true;
    case 'tcp-connect':
      tcpConnect(a[0]!, Number(a[1]), Number(a[2]), a[3], out);
      return true;
    case 'udp-listen':
      udpListen(a[0]!, Number(a[1]), out);
      return true;
    case 'udp-send':
      udpSend(a[0]!, Number(a[1]), a[2]!, Number(a[3] ?? 0), out);
      return true;
    case 'udp-stream':
      udpStream(a[0]!, Number(a[1]), Number(a[2]), Number(a[3]), Number(a[4]), out);
      return true;
    default:
      return false;
  }
}

function invokedDirectly(): boolean {
  try {
    return process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
}

if (invokedDirectly()) {
  const ok = runAgent(process.argv.slice(2), (o) => process.stdout.write(JSON.stringify(o) + '\n'));
  if (!ok) {
    process.stderr.write(`agent: unknown command ${process.argv[2] ?? ''} (tcp-listen, tcp-connect, udp-listen, udp-send, udp-stream)\n`);
    process.exitCode = 2;
  }
}
