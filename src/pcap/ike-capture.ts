// A capture's IKE messages, as complete as Wireshark shows them: frames in, one record per
// ISAKMP/IKE message out.
// - UDP 500, UDP 4500 after the non-ESP marker (RFC 3948), and an extra port (treated like 500).
// - IP fragments reassembled (src/packet/reassembly.ts): the message is reported at the frame
//   that completes its datagram and names its fragments; a datagram that is abandoned (overlap,
//   timeout, bounds, never completed) is reported with its PKT_FRAG_* code when its first
//   fragment shows an IKE port.
// - TCP (src/packet/tcp-stream.ts + src/ike/tcp-framing.ts): ISAKMP on TCP 500 (and the extra
//   port), RFC 8229 on TCP 4500; each message at the frame that completes it, naming its segments.
// - Damaged messages: the header and the payloads before the damage, with the error; bytes after
//   the message counted as trailing.
// - IKEv1 Cisco fragments (payload 132) reassembled when complete: the original message follows
//   the fragment's own record, at the same frame.
import { DecodeError } from '../errors.js';
import { IkeFragmentReassembler, type CiscoFragmentPayload, type IkeFragmentLimits } from '../ike/fragments.js';
import { decodeMessagePartial, type PartialMessage } from '../ike/message.js';
import { IkeTcpFramer, type IkeTcpMessage, type IkeTcpMode } from '../ike/tcp-framing.js';
import { hex } from '../ike/wire.js';
import { LinkType, payloadBounds, walkFrame, WalkState } from '../packet/decode.js';
import { IpReassembler, type Abandoned, type ReassemblyLimits } from '../packet/reassembly.js';
import { TcpReassembler, type TcpDirection, type TcpLimits, type TcpLossReason } from '../packet/tcp-stream.js';
import { formatAddressAt } from '../selector/address.js';
import type { Family } from '../selector/types.js';

const VIEWS = { views: true } as const;

export const IKE_PORT = 500;
export const NATT_PORT = 4500;

/** Where the ISAKMP message starts in a UDP payload, or -1 when the datagram is not ISAKMP. */
export function isakmpStart(sport: number, dport: number, payload: Uint8Array, extraPort?: number): number {
  return isakmpStartIn(sport, dport, payload, 0, payload.length, extraPort);
}

/** isakmpStart for the UDP payload d[start, end), relative to `start`. */
function isakmpStartIn(sport: number, dport: number, d: Uint8Array, start: number, end: number, extraPort: number | undefined): number {
  if (sport === NATT_PORT || dport === NATT_PORT) {
    // RFC 3948: 4 zero bytes (the non-ESP marker) precede IKE; anything else is ESP (or a
    // one-byte NAT keepalive).
    if (end - start >= 4 && d[start] === 0 && d[start + 1] === 0 && d[start + 2] === 0 && d[start + 3] === 0) return 4;
    return -1;
  }
  if (sport === IKE_PORT || dport === IKE_PORT) return 0;
  if (extraPort !== undefined && (sport === extraPort || dport === extraPort)) return 0;
  return -1;
}

/** One IKE message of a capture (or what is left of one). */
export interface MessageRecord {
  /** The frame that completed the message (1-based, capture order). */
  frame: number;
  family: Family;
  src: string;
  dst: string;
  sport: number;
  dport: number;
  transport: 'udp' | 'tcp';
  /** IP fragments the datagram was reassembled from (frames, offset order). */
  fragments?: readonly number[];
  /** TCP: frames whose bytes make up the message, in stream order. */
  segments?: readonly number[];
  /** IKEv1 fragments (payload 132) the message was reassembled from (frames, by number). */
  ikeFragments?: readonly number[];
  /** The message bytes decoded (from the ISAKMP header on). */
  bytes?: Uint8Array;
  /** Present when the header decoded (its `error` tells a damaged message). */
  message?: PartialMessage;
  /** Why the message is incomplete: message.error, or a header / transport failure (no `message`). */
  error?: DecodeError;
}

export interface IkeCaptureOptions {
  /** Also treat this port (UDP and TCP) like 500. */
  port?: number;
  reassembly?: Partial<ReassemblyLimits>;
  tcp?: Partial<TcpLimits>;
  ikeFragments?: Partial<IkeFragmentLimits>;
}

/** What the decoder needs of a frame (a src/pcap/reader.ts Frame fits). */
export interface FrameIn {
  readonly index: number;
  readonly linkType: number;
  readonly timestamp: number;
  readonly data: Uint8Array;
}

interface TcpContext {
  readonly framer: IkeTcpFramer;
  readonly family: Family;
  readonly src: string;
  readonly dst: string;
  lastFrame: number;
}

/** Feed frames with push(), in capture order; call finish() at the end. Records go to `emit`. */
export class IkeCaptureDecoder {
  readonly ip: IpReassembler;
  readonly tcp: TcpReassembler<TcpContext>;
  readonly ike: IkeFragmentReassembler;
  /** Frames that carried IKE over UDP or TCP (a reassembled datagram counts once). */
  messages = 0;
  private readonly s = new WalkState();
  private frame = 0;
  private time = 0;
  private readonly addresses = new AddressTexts();
  /** The packet being pushed (the reassembled one for a completing fragment). */
  private currentData: Uint8Array | undefined;

  constructor(
    private readonly opts: IkeCaptureOptions,
    private readonly emit: (r: MessageRecord) => void,
  ) {
    this.ip = new IpReassembler(opts.reassembly, (a) => this.abandoned(a));
    this.tcp = new TcpReassembler<TcpContext>(
      {
        data: (dir, bytes, frame) => this.tcpData(dir, bytes, frame),
        lost: (dir, reason, held) => this.tcpLost(dir, reason, held),
      },
      opts.tcp,
    );
    this.ike = new IkeFragmentReassembler(opts.ikeFragments);
  }

  push(f: FrameIn): void {
    const s = this.s;
    let data = f.data;
    this.frame = f.index;
    this.time = f.timestamp;
    walkFrame(f.linkType, data, 0, data.length, s);
    let fragments: readonly number[] | undefined;
    if (s.isFragment && s.fragStart > 0) {
      const r = this.ip.add(data, s, f.timestamp, f.index);
      if (!r) return;
      data = r.packet;
      fragments = r.frames;
      walkFrame(LinkType.RAW, data, 0, data.length, s);
    }
    if (s.reason !== 0 || !s.hasPorts) return;
    this.currentData = data;
    if (s.protocol === 17) this.udp(data, fragments);
    else if (s.protocol === 6 && this.tcpMode(s.sport, s.dport) !== undefined) this.tcp.push(data, s, f.timestamp, f.index);
  }

  /** The end of the capture: what is still incomplete is reported. */
  finish(): void {
    this.ip.flush();
    this.tcp.flush();
    this.ike.flush();
  }

  private tcpMode(sport: number, dport: number): IkeTcpMode | undefined {
    const p = this.opts.port;
    if (sport === IKE_PORT || dport === IKE_PORT || (p !== undefined && (sport === p || dport === p))) return 'isakmp';
    if (sport === NATT_PORT || dport === NATT_PORT) return 'rfc8229';
    return undefined;
  }

  private udp(data: Uint8Array, fragments: readonly number[] | undefined): void {
    const s = this.s;
    payloadBounds(data, s);
    const start = isakmpStartIn(s.sport, s.dport, data, s.payloadStart, s.payloadEnd, this.opts.port);
    if (start < 0) return;
    const family = s.family as Family;
    const rec: MessageRecord = {
      frame: this.frame,
      family,
      src: this.addresses.text(data, s.srcAt, family),
      dst: this.addresses.text(data, s.dstAt, family),
      sport: s.sport,
      dport: s.dport,
      transport: 'udp',
    };
    if (fragments) rec.fragments = fragments;
    this.message(rec, data.subarray(s.payloadStart + start, s.payloadEnd));
  }

  /** Decodes `ike` into `rec` and emits it (then the reassembled original of a Cisco fragment). */
  private message(rec: MessageRecord, ike: Uint8Array): void {
    this.messages++;
    // Offsets in errors count from the first byte of the ISAKMP header.
    // Views, not copies: the record holds the frame's bytes anyway, and the reader never reuses them.
    const m = decodeMessagePartial(ike, 0, ike.length, VIEWS);
    rec.bytes = ike;
    if (m.header) rec.message = m;
    if (m.error) rec.error = m.error;
    this.emit(rec);
    const h = m.header;
    if (!h || h.major !== 1) return;
    for (let i = 0; i < m.payloads.length; i++) {
      const p = m.payloads[i]!;
      if (p.kind !== 'frag') continue;
      const flow = `${rec.transport}|${rec.src}|${rec.dst}|${rec.sport}|${rec.dport}|${hex(ike.subarray(0, 16))}`;
      const done = this.ike.add(flow, p as CiscoFragmentPayload, this.time, rec.frame);
      if (done) {
        const whole: MessageRecord = { frame: rec.frame, family: rec.family, src: rec.src, dst: rec.dst, sport: rec.sport, dport: rec.dport, transport: rec.transport, ikeFragments: done.frames };
        const m2 = decodeMessagePartial(done.message, 0, done.message.length, VIEWS);
        whole.bytes = done.message;
        if (m2.header) whole.message = m2;
        if (m2.error) whole.error = m2.error;
        this.emit(whole);
      }
    }
  }

  private tcpData(dir: TcpDirection<TcpContext>, bytes: Uint8Array, frame: number): void {
    let ctx = dir.user;
    if (!ctx) {
      const s = this.s;
      const family = s.family as Family;
      // data() runs inside push() for the segment's own direction: the walk state is that segment's.
      ctx = { framer: new IkeTcpFramer(this.tcpMode(dir.sport, dir.dport)!), family, src: formatAddressAt(this.currentData!, s.srcAt, family), dst: formatAddressAt(this.currentData!, s.dstAt, family), lastFrame: frame };
      dir.user = ctx;
    }
    ctx.lastFrame = this.frame;
    const err = ctx.framer.push(bytes, frame, (m) => this.tcpMessage(dir, ctx!, m));
    if (err) this.emit({ ...this.tcpRecord(dir, ctx), error: err });
  }

  private tcpRecord(dir: TcpDirection<TcpContext>, ctx: TcpContext): MessageRecord {
    return { frame: ctx.lastFrame, family: ctx.family, src: ctx.src, dst: ctx.dst, sport: dir.sport, dport: dir.dport, transport: 'tcp' };
  }

  private tcpMessage(dir: TcpDirection<TcpContext>, ctx: TcpContext, m: IkeTcpMessage): void {
    const rec = this.tcpRecord(dir, ctx);
    rec.frame = this.frame;
    rec.segments = m.frames;
    this.message(rec, m.bytes);
  }

  private tcpLost(dir: TcpDirection<TcpContext>, reason: TcpLossReason, held: number): void {
    const ctx = dir.user;
    if (!ctx || ctx.framer.error) return;
    if (held > 0) {
      this.emit({ ...this.tcpRecord(dir, ctx), error: new DecodeError('IKE_TCP_GAP', `stream bytes missing (${reason}); ${held} bytes after the gap dropped`, dir.delivered, { truncated: true }) });
    } else if (ctx.framer.pending > 0) {
      this.emit({ ...this.tcpRecord(dir, ctx), error: new DecodeError('IKE_TCP_INCOMPLETE', `the stream ended ${ctx.framer.pending} bytes into a message`, dir.delivered - ctx.framer.pending, { truncated: true }) });
    }
  }

  private abandoned(a: Abandoned): void {
    // Only a datagram whose first fragment shows an IKE port is an IKE message lost.
    const first = a.first;
    if (!first || first.length < 4 || (a.protocol !== 17 && a.protocol !== 6)) return;
    const sport = (first[0]! << 8) | first[1]!;
    const dport = (first[2]! << 8) | first[3]!;
    const ike = a.protocol === 17 ? sport === IKE_PORT || dport === IKE_PORT || sport === NATT_PORT || dport === NATT_PORT || sport === this.opts.port || dport === this.opts.port : this.tcpMode(sport, dport) !== undefined;
    if (!ike) return;
    const at = a.family === 4 ? 12 : 8;
    const n = a.family === 4 ? 4 : 16;
    this.emit({
      frame: Math.max(...a.frames),
      family: a.family,
      src: formatAddressAt(a.header, at, a.family),
      dst: formatAddressAt(a.header, at + n, a.family),
      sport,
      dport,
      transport: a.protocol === 17 ? 'udp' : 'tcp',
      fragments: a.frames,
      error: new DecodeError(a.code, `IP datagram abandoned: ${a.reason}`, a.offset, { truncated: a.reason === 'incomplete' || a.reason === 'timeout' }),
    });
  }
}

/**
 * Address text for the addresses seen last: a capture's messages mostly go back and forth between
 * a few hosts, and formatting (IPv6 above all) cost more than comparing a few bytes.
 */
class AddressTexts {
  private readonly keys: Uint8Array[] = [];
  private readonly texts: string[] = [];
  private next = 0;

  text(d: Uint8Array, at: number, family: Family): string {
    const n = family === 4 ? 4 : 16;
    for (let k = 0; k < this.keys.length; k++) {
      const key = this.keys[k]!;
      if (key.length !== n) continue;
      let same = true;
      for (let i = 0; i < n; i++) {
        if (key[i] !== d[at + i]) {
          same = false;
          break;
        }
      }
      if (same) return this.texts[k]!;
    }
    const text = formatAddressAt(d, at, family);
    const slot = this.next;
    this.next = (slot + 1) % 8;
    this.keys[slot] = d.slice(at, at + n);
    this.texts[slot] = text;
    return text;
  }
}
