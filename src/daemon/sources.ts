// Where the initiator's packets P come from, and what happens to them after the verdict.
// - FramePump: frames -> 5-tuple batch -> gateway.process -> verdicts (also the library API: an
//   embedding gateway pushes frames into it).
// - RawIpSource: raw IPv4 sockets, one per protocol, receiving what the kernel delivers locally
//   because the protected remote prefixes are routed as local (see `ted initiator --print-setup`).
// - CaptureSource: `tcpdump -w -` on the LAN interface, for IPv4 and IPv6 (an IPv6 raw socket
//   does not see the IPv6 header, hence not the destination), with the prefixes blackholed.
// - replayCapture: the frames of a pcap/pcapng file.
import { spawn, type ChildProcess } from 'node:child_process';
import type { TupleBatch } from '../classify/batch.js';
import { TedError } from '../errors.js';
import { LinkType, walkFrame, WalkState, writeWalk } from '../packet/decode.js';
import { IpReassembler, type ReassemblyLimits } from '../packet/reassembly.js';
import { CaptureParser, readCaptureFile } from '../pcap/reader.js';
import type { Family } from '../selector/types.js';
import { FORWARD, DROP, BYPASS, type Verdicts } from '../ted/types.js';
import { openRawSocket, type RawSocket } from '../transport/raw.js';
import { inPrefixes, type Prefix } from './config.js';

/** What the pump needs of a gateway (src/ted/gateway.ts). */
export interface PumpTarget {
  createBatch(capacity: number): TupleBatch;
  process(batch: TupleBatch): Verdicts;
}

export interface PumpCounters {
  frames: number;
  /** Frames whose destination is outside the intercepted prefixes (not ours to judge). */
  ignored: number;
  forward: number;
  bypass: number;
  drop: number;
  /** FORWARD packets re-sent through the raw socket (source.forward). */
  reinjected: number;
  reinjectErrors: number;
  /** Batches the gateway failed to judge (a bug; reported through onError). */
  processErrors: number;
  /** With reassembly: fragments taken, datagrams completed (each judged once, whole), datagrams abandoned. */
  fragments: number;
  reassembled: number;
  fragmentsAbandoned: number;
}

/** Called once per packet after its verdict, with the IP packet (from the L3 header). */
export type VerdictListener = (verdict: number, tunnel: number, ordinal: number, packet: Uint8Array, family: Family) => void;

export interface FramePumpOptions {
  readonly batchSize: number;
  /** Only packets to these destinations are judged (raw/capture); empty = all (replay, API). */
  readonly prefixes?: readonly Prefix[];
  readonly onVerdict?: VerdictListener;
  readonly onError?: (err: Error, context: string) => void;
  /**
   * Reassemble IP fragments before judging (capture and replay sources: a raw socket gets
   * datagrams the kernel already reassembled). A datagram is judged once, whole, when its last
   * fragment arrives, with its ports; bounds as src/packet/reassembly.ts (`true`: the defaults).
   */
  readonly reassemble?: boolean | Partial<ReassemblyLimits>;
}

function readAddr(d: Uint8Array, at: number, bytes: number): bigint {
  let v = 0n;
  for (let k = 0; k < bytes; k++) v = (v << 8n) | BigInt(d[at + k]!);
  return v;
}

/**
 * Frames in, verdicts out, in batches: a frame pushed is judged at the latest on the next turn of
 * the event loop (or as soon as the batch is full), so a burst shares one classify call.
 */
export class FramePump {
  readonly counters: PumpCounters = { frames: 0, ignored: 0, forward: 0, bypass: 0, drop: 0, reinjected: 0, reinjectErrors: 0, processErrors: 0, fragments: 0, reassembled: 0, fragmentsAbandoned: 0 };
  /** The IP reassembler, with `reassemble`. */
  readonly reassembler: IpReassembler | undefined;
  private readonly batch: TupleBatch;
  private readonly walk = new WalkState();
  private readonly held: { data: Uint8Array; l3: number; family: Family }[] = [];
  private scheduled = false;
  private closed = false;

  constructor(
    private readonly target: PumpTarget,
    private readonly options: FramePumpOptions,
  ) {
    this.batch = target.createBatch(options.batchSize);
    const r = options.reassemble;
    if (r) this.reassembler = new IpReassembler(r === true ? {} : r, () => this.counters.fragmentsAbandoned++);
  }

  /**
   * Judges one frame (copied: the caller may reuse `data`) captured at `time` (seconds; for
   * reassembly timeouts, default now). Returns false when it was ignored; a fragment held for
   * reassembly counts as taken.
   */
  push(linkType: number, data: Uint8Array, time = Date.now() / 1000): boolean {
    if (this.closed) return false;
    this.counters.frames++;
    const s = this.walk;
    let reason = walkFrame(linkType, data, 0, data.length, s);
    const prefixes = this.options.prefixes;
    if (prefixes && prefixes.length > 0) {
      if (reason !== 0) {
        this.counters.ignored++;
        return false;
      }
      const fam = s.family as Family;
      if (!inPrefixes(prefixes, fam, readAddr(data, s.dstAt, fam === 4 ? 4 : 16))) {
        this.counters.ignored++;
        return false;
      }
    }
    if (this.reassembler && s.isFragment && s.fragStart > 0) {
      this.counters.fragments++;
      const done = this.reassembler.add(data, s, time, this.counters.frames);
      if (!done) return true;
      this.counters.reassembled++;
      data = done.packet;
      reason = walkFrame(LinkType.RAW, data, 0, data.length, s);
    }
    const copy = data.slice();
    const i = this.batch.count;
    writeWalk(copy, s, this.batch, i);
    this.batch.count = i + 1;
    this.held.push({ data: copy, l3: reason === 0 ? s.l3 : 0, family: (s.family || 4) as Family });
    if (this.batch.count >= this.batch.capacity) this.flush();
    else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
    return true;
  }

  /** Judges what is waiting now. */
  flush(): void {
    this.scheduled = false;
    const n = this.batch.count;
    if (n === 0) return;
    let v: Verdicts;
    try {
      v = this.target.process(this.batch);
    } catch (err) {
      // A failing batch is counted and reported, and its packets are lost (as drops would be);
      // the pump keeps serving the next ones.
      this.counters.processErrors++;
      this.counters.drop += n;
      this.batch.count = 0;
      this.held.length = 0;
      this.options.onError?.(err instanceof Error ? err : new Error(String(err)), 'gateway.process');
      return;
    }
    const c = this.counters;
    for (let i = 0; i < n; i++) {
      const verdict = v.verdict[i]!;
      if (verdict === FORWARD) c.forward++;
      else if (verdict === BYPASS) c.bypass++;
      else if (verdict === DROP) c.drop++;
      const h = this.held[i]!;
      this.options.onVerdict?.(verdict, v.tunnel[i]!, v.ordinal[i]!, h.data.subarray(h.l3), h.family);
    }
    this.batch.count = 0;
    this.held.length = 0;
  }

  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
  }
}

/** A source of frames for the pump. */
export interface PacketSource {
  readonly kind: string;
  /** Resolves when the source is receiving. */
  start(pump: FramePump): Promise<void>;
  close(): Promise<void>;
}

/** Raw IPv4 sockets, one per protocol; each received buffer is an IPv4 packet. */
export class RawIpSource implements PacketSource {
  readonly kind = 'raw';
  private readonly sockets: RawSocket[] = [];
  constructor(
    private readonly protocols: readonly number[],
    private readonly onError?: (err: Error, context: string) => void,
  ) {}

  async start(pump: FramePump): Promise<void> {
    try {
      for (const proto of this.protocols) {
        const s = openRawSocket(4, proto, 65536);
        s.on('message', (buf) => pump.push(LinkType.IPV4, buf));
        s.on('error', (err) => this.onError?.(err, `raw receive socket (protocol ${proto})`));
        this.sockets.push(s);
      }
    } catch (err) {
      await this.close();
      throw err;
    }
  }

  async close(): Promise<void> {
    for (const s of this.sockets.splice(0)) s.close();
  }
}

/**
 * Live capture through tcpdump (pcap on stdout, unbuffered), parsed incrementally. Only frames
 * arriving on the interface (-Q in) and addressed to the intercepted prefixes are captured.
 */
export class CaptureSource implements PacketSource {
  readonly kind = 'capture';
  private child: ChildProcess | undefined;
  constructor(
    private readonly iface: string,
    private readonly prefixes: readonly Prefix[],
    private readonly onError?: (err: Error, context: string) => void,
    private readonly tcpdump = 'tcpdump',
  ) {}

  /** The BPF filter: packets to the intercepted prefixes. */
  filter(): string {
    return this.prefixes.map((p) => `(${p.family === 4 ? 'ip' : 'ip6'} and dst net ${p.text.includes('/') ? p.text : `${p.text}/${p.length}`})`).join(' or ');
  }

  async start(pump: FramePump): Promise<void> {
    const args = ['-i', this.iface, '-Q', 'in', '-U', '-n', '-s', '65535', '--immediate-mode', '-w', '-', this.filter()];
    const child = spawn(this.tcpdump, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    const parser = new CaptureParser({ onError: (e) => this.onError?.(e, 'capture') });
    let buf = new Uint8Array(0);
    let base = 0;
    child.stdout!.on('data', (chunk: Buffer) => {
      const next = new Uint8Array(buf.length + chunk.length);
      next.set(buf, 0);
      next.set(chunk, buf.length);
      let off = 0;
      try {
        for (;;) {
          const n = parser.step(next, off, next.length, base, false);
          if (n === 0) break;
          off += n;
          if (parser.frame) pump.push(parser.frame.linkType, parser.frame.data, parser.frame.timestamp);
        }
      } catch (err) {
        this.onError?.(err as Error, 'capture stream');
        child.kill();
        return;
      }
      base += off;
      buf = next.subarray(off);
    });
    await new Promise<void>((resolve, reject) => {
      let stderr = '';
      const timer = setTimeout(() => reject(new TedError('SOURCE_CAPTURE', `tcpdump on ${this.iface} did not start: ${stderr.trim()}`)), 10_000);
      child.stderr!.on('data', (b: Buffer) => {
        stderr += b.toString();
        if (/listening on/.test(stderr)) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('error', (err) => {
        clearTimeout(timer);
        reject(new TedError('SOURCE_CAPTURE', `cannot run ${this.tcpdump}: ${(err as NodeJS.ErrnoException).code ?? err.message} (install tcpdump)`, { cause: err }));
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new TedError('SOURCE_CAPTURE', `tcpdump on ${this.iface} exited (${code}): ${stderr.trim()}`));
      });
    });
    child.removeAllListeners('exit');
    child.once('exit', (code, signal) => {
      if (this.child) this.onError?.(new Error(`tcpdump exited (${code ?? signal})`), 'capture');
    });
  }

  async close(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (child && child.exitCode === null) {
      await new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
        setTimeout(resolve, 2000).unref();
      });
    }
  }
}

/** Frames of a capture file, pushed as fast as the pump takes them; resolves with the count. */
export async function replayCapture(file: string, pump: FramePump, onError?: (err: Error, context: string) => void): Promise<number> {
  let n = 0;
  for await (const f of readCaptureFile(file, { onError: (e) => onError?.(e, `replay ${file}`) })) {
    pump.push(f.linkType, f.data, f.timestamp);
    n++;
    // Let timers and sockets run between batches of a large file.
    if (n % 4096 === 0) await new Promise((r) => setImmediate(r));
  }
  pump.flush();
  return n;
}
