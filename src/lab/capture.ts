// The link between the gateways, captured with tcpdump inside gateway A's namespace and read back
// with our own capture reader: what crossed it, by kind (TED probes and responses, IKE exchanges,
// ESP, and any cleartext of the hosts' flows, which must be none).
import type { ChildProcess } from 'node:child_process';
import { TedError } from '../errors.js';
import { isakmpStart, NATT_PORT } from '../pcap/ike-capture.js';
import { decodeFrame } from '../packet/decode.js';
import { readCaptureFile } from '../pcap/reader.js';
import type { Family } from '../selector/types.js';
import type { Lab, NodeName } from './netns.js';

/** The capture tool: tcpdump (what `ted lab` needs anyway) or tshark (the tests' second opinion). */
/** ESP in UDP on port 4500: no non-ESP marker, not a one-byte keepalive, at least SPI and sequence number. */
function isUdpEsp(sport: number, dport: number, payload: Uint8Array): boolean {
  if (sport !== NATT_PORT && dport !== NATT_PORT) return false;
  return payload.length >= 8 && !(payload[0] === 0 && payload[1] === 0 && payload[2] === 0 && payload[3] === 0);
}

export type CaptureTool = 'tcpdump' | 'tshark';

export class LinkCapture {
  private child: ChildProcess | undefined;
  constructor(
    private readonly lab: Lab,
    private readonly node: NodeName,
    private readonly iface: string,
    readonly file: string,
    private readonly options: { readonly tool?: CaptureTool; readonly filter?: string } = {},
  ) {}

  /** Starts the capture and resolves once it listens. */
  async start(): Promise<void> {
    const tool = this.options.tool ?? 'tcpdump';
    const filter = this.options.filter ?? 'not arp';
    const cmd = tool === 'tcpdump' ? ['tcpdump', '-i', this.iface, '-n', '-U', '-s', '0', '-w', this.file, filter] : ['tshark', '-q', '-n', '-i', this.iface, '-f', filter, '-w', this.file];
    const ready = tool === 'tcpdump' ? 'listening on' : 'Capturing on';
    const child = this.lab.spawn(this.node, cmd);
    this.child = child;
    await new Promise<void>((resolve, reject) => {
      let err = '';
      const timer = setTimeout(() => reject(new TedError('LAB_CAPTURE', `${tool} did not start: ${err.trim()}`)), 15_000);
      child.stderr!.on('data', (b: Buffer) => {
        err += b.toString();
        if (err.includes(ready)) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new TedError('LAB_CAPTURE', `${tool} exited (${code}): ${err.trim()}`));
      });
    });
  }

  /** Stops the capture (SIGINT: it writes what it holds) and waits for it. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise((r) => setTimeout(r, 300)); // the last packets reach the file
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        child.kill('SIGKILL');
        resolve();
      }, 5000);
      child.once('exit', () => {
        clearTimeout(t);
        resolve();
      });
      child.kill('SIGINT');
    });
  }
}

/** A flow of the hosts: frames of it in clear on the link betray a missing SA. */
export interface FlowSpec {
  readonly name: string;
  readonly family: Family;
  readonly a: bigint;
  readonly b: bigint;
  readonly protocol: number;
  /** The port on host B's side. */
  readonly port: number;
}

export interface LinkSummary {
  frames: number;
  tedProbes: number;
  tedResponses: number;
  /** IKE messages by exchange name (IKE_SA_INIT, IKE_AUTH, CREATE_CHILD_SA, INFORMATIONAL, ...). */
  ike: Record<string, number>;
  esp: number;
  /** Frames of each watched flow seen in clear, by flow name. */
  cleartext: Record<string, number>;
}

const EXCHANGES: Record<number, string> = { 2: 'MAIN_MODE', 4: 'AGGRESSIVE', 5: 'INFORMATIONAL_V1', 32: 'QUICK_MODE', 34: 'IKE_SA_INIT', 35: 'IKE_AUTH', 36: 'CREATE_CHILD_SA', 37: 'INFORMATIONAL' };

/** Reads the capture and counts what crossed the link. */
export async function summarizeLink(file: string, flows: readonly FlowSpec[]): Promise<LinkSummary> {
  const s: LinkSummary = { frames: 0, tedProbes: 0, tedResponses: 0, ike: {}, esp: 0, cleartext: Object.fromEntries(flows.map((f) => [f.name, 0])) };
  for await (const frame of readCaptureFile(file)) {
    s.frames++;
    const p = decodeFrame(frame.linkType, frame.data);
    if (!p.ok) continue;
    if (p.protocol === 50) s.esp++;
    for (const f of flows) {
      if (p.family !== f.family || p.protocol !== f.protocol || !p.hasPorts) continue;
      if ((p.src === f.a && p.dst === f.b && p.dport === f.port) || (p.src === f.b && p.dst === f.a && p.sport === f.port)) s.cleartext[f.name]!++;
    }
    if (p.protocol !== 17 || !p.hasPorts) continue;
    const payload = frame.data.subarray(p.payloadOffset, p.payloadOffset + p.payloadLength);
    if (isUdpEsp(p.sport, p.dport, payload)) {
      s.esp++;
      continue;
    }
    const at = isakmpStart(p.sport, p.dport, payload);
    if (at < 0 || payload.length < at + 28) continue;
    const exchange = payload[at + 18]!;
    if (exchange === 240) s.tedProbes++;
    else if (exchange === 241) s.tedResponses++;
    else {
      const name = EXCHANGES[exchange] ?? `exchange-${exchange}`;
      s.ike[name] = (s.ike[name] ?? 0) + 1;
    }
  }
  return s;
}
