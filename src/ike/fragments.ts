// IKE-level fragmentation, as the two versions carry it:
//
// IKEv1, Cisco fragmentation (payload 132, announced by the Vendor ID MD5("FRAGMENTATION")):
// the whole original message, header included, is cut into pieces, each sent in a message of
// its own (same cookies) whose only payload is
//  0                   1                   2                   3
//  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// ! Next Payload  !   RESERVED    !         Payload Length        !
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// !          Fragment ID          !  Fragment Num !     Flags     !
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// ~                        Fragment Data                          ~
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// Numbers count from 1; Flags bit 0 marks the last fragment. The pieces are sent in the clear
// (the original message may itself be encrypted), so they can be put back together here.
//
// IKEv2 (RFC 7383): the Encrypted Fragment payload (SKF, 53) carries Fragment Number and Total
// Fragments in front of the IV; the content is encrypted, so it is shown, never reassembled
// (src/ike/message.ts decodes it as an `sk` payload with `fragment`).
import { PayloadV1 } from './constants.js';
import { bodyCodec, type PayloadCodec } from './payload.js';
import { copyBytes, fits, u16, w16 } from './wire.js';
import { BoundedTable } from '../packet/reassembly.js';

export interface CiscoFragmentPayload {
  readonly kind: 'frag';
  readonly type: number;
  readonly fragmentId: number;
  /** From 1. */
  readonly number: number;
  /** Bit 0 (1) marks the last fragment; the other bits are kept as received. */
  readonly flags: number;
  readonly data: Uint8Array;
}

export const ciscoFragmentV1: PayloadCodec<CiscoFragmentPayload> = bodyCodec<CiscoFragmentPayload>({
  length: (p) => 4 + p.data.length,
  encode(p, buf, o) {
    w16(buf, o, p.fragmentId);
    buf[o + 2] = p.number;
    buf[o + 3] = p.flags;
    buf.set(p.data, o + 4);
  },
  decode(buf, start, end, _flags, ctx, type) {
    fits(start, 4, end, 'fragment payload', ctx);
    return { kind: 'frag', type: type ?? PayloadV1.CISCO_FRAGMENT, fragmentId: u16(buf, start), number: buf[start + 2]!, flags: buf[start + 3]!, data: copyBytes(buf, start + 4, end) };
  },
});

export const isLastFragment = (p: CiscoFragmentPayload): boolean => (p.flags & 1) !== 0;

export interface IkeFragmentLimits {
  /** Fragments per message. */
  readonly maxFragments: number;
  /** Messages being reassembled at once. */
  readonly maxMessages: number;
  /** Bytes held in total. */
  readonly maxTotalBytes: number;
  /** Seconds of capture time from a message's first fragment. */
  readonly timeoutSec: number;
}

export const IKE_FRAGMENT_LIMITS: IkeFragmentLimits = Object.freeze({ maxFragments: 32, maxMessages: 1024, maxTotalBytes: 4 * 1024 * 1024, timeoutSec: 30 });

export interface IkeFragmentCounters {
  fragments: number;
  messages: number;
  duplicates: number;
  /** Messages abandoned: numbering that cannot add up (a number past the last, two lasts, too many). */
  bad: number;
  timeout: number;
  memory: number;
  incomplete: number;
}

interface Pending {
  created: number;
  bytes: number;
  last: number;
  readonly parts: Map<number, { data: Uint8Array; frame: number }>;
}

/** What a completed set of fragments gives back: the original message bytes and its fragments' frames (by number). */
export interface IkeReassembled {
  readonly message: Uint8Array;
  readonly frames: readonly number[];
}

/**
 * Puts IKEv1 (Cisco) fragments back together, keyed by the caller (the flow and the cookies)
 * plus the fragment ID. Bounded like the IP reassembler: fragments per message, messages held,
 * bytes held, capture-time timeout; an inconsistent set is abandoned and counted.
 */
export class IkeFragmentReassembler {
  readonly limits: IkeFragmentLimits;
  readonly counters: IkeFragmentCounters = { fragments: 0, messages: 0, duplicates: 0, bad: 0, timeout: 0, memory: 0, incomplete: 0 };
  private readonly table: BoundedTable<string, Pending>;

  constructor(limits: Partial<IkeFragmentLimits> = {}) {
    this.limits = { ...IKE_FRAGMENT_LIMITS, ...limits };
    this.table = new BoundedTable(this.limits.maxMessages, this.limits.maxTotalBytes, this.limits.timeoutSec, (_k, _e, why) => {
      this.counters[why]++;
    });
  }

  /** Adds one fragment of the flow `flow` at capture time `time`; returns the message when complete. */
  add(flow: string, p: CiscoFragmentPayload, time: number, frame: number): IkeReassembled | undefined {
    this.counters.fragments++;
    this.table.expire(time);
    const key = `${flow}|${p.fragmentId}`;
    let e = this.table.map.get(key);
    if (e === undefined) {
      this.table.makeRoom(p.data.length, true);
      e = { created: time, bytes: 0, last: 0, parts: new Map() };
      this.table.add(key, e);
    }
    const last = isLastFragment(p);
    const bad = p.number === 0 || p.number > this.limits.maxFragments || (last && e.last !== 0 && e.last !== p.number) || (e.last !== 0 && p.number > e.last) || (last && [...e.parts.keys()].some((n) => n > p.number));
    if (bad) {
      this.counters.bad++;
      this.table.remove(key, e);
      return undefined;
    }
    if (e.parts.has(p.number)) {
      this.counters.duplicates++;
      return undefined;
    }
    this.table.makeRoom(p.data.length, false);
    if (this.table.map.get(key) !== e) return undefined;
    e.parts.set(p.number, { data: p.data, frame });
    this.table.charge(e, p.data.length);
    if (last) e.last = p.number;
    if (e.last === 0 || e.parts.size !== e.last) return undefined;
    this.table.remove(key, e);
    let n = 0;
    for (const x of e.parts.values()) n += x.data.length;
    const message = new Uint8Array(n);
    const frames: number[] = [];
    let o = 0;
    for (let k = 1; k <= e.last; k++) {
      const x = e.parts.get(k)!;
      message.set(x.data, o);
      o += x.data.length;
      frames.push(x.frame);
    }
    this.counters.messages++;
    return { message, frames };
  }

  /** Counts every message still incomplete as such and forgets it (the end of a capture). */
  flush(): void {
    for (const [k, e] of this.table.map) {
      this.table.remove(k, e);
      this.counters.incomplete++;
    }
  }
}
