// Capture reading for applications that need whole payloads: frames in capture order, with IP
// fragments reassembled (src/packet/reassembly.ts). A frame that is not a fragment passes through
// unchanged; fragments are held, and the frame that completes a datagram is replaced by the
// datagram as a raw IP packet (LINKTYPE_RAW) naming its fragments' frames.
import { LinkType, walkFrame, WalkState } from '../packet/decode.js';
import { IpReassembler, type Abandoned, type ReassemblyLimits } from '../packet/reassembly.js';

export interface WholeFrame {
  readonly index: number;
  readonly linkType: number;
  readonly timestamp: number;
  readonly data: Uint8Array;
  /** Set when `data` is a reassembled datagram: the frames of its fragments, in offset order. */
  readonly fragments?: readonly number[];
}

export interface DefragmentOptions {
  limits?: Partial<ReassemblyLimits>;
  /** Told about every datagram given up (overlap, timeout, bounds, incomplete at the end). */
  onAbandon?: (a: Abandoned) => void;
}

/** Frames (from readFrames / readCaptureFile) with IP fragments reassembled. */
export async function* defragmentFrames(frames: AsyncIterable<WholeFrame> | Iterable<WholeFrame>, opts: DefragmentOptions = {}): AsyncGenerator<WholeFrame> {
  const ip = new IpReassembler(opts.limits, opts.onAbandon);
  const s = new WalkState();
  for await (const f of frames) {
    walkFrame(f.linkType, f.data, 0, f.data.length, s);
    if (!s.isFragment || s.fragStart === 0) {
      yield f;
      continue;
    }
    const done = ip.add(f.data, s, f.timestamp, f.index);
    if (done) yield { index: f.index, linkType: LinkType.RAW, timestamp: f.timestamp, data: done.packet, fragments: done.frames };
  }
  ip.flush();
}
