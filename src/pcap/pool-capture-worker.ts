// The worker side of src/pcap/pool-capture.ts, loaded by classifier pool workers (the pool's
// `handlers` option). Each worker opens the capture itself and reads its chunks straight into
// its decoder's window (WebAssembly memory for wasm): no capture byte goes through the calling
// thread.
//
// A chunk is the records whose header starts in a range of file bytes [from, to). Where the
// first of them starts is only certain once the chunk before was walked, so a worker does not
// wait for that: it takes the first offset near `from` where a chain of plausible record headers
// begins (a guess that real captures almost never get wrong), decodes and classifies from there
// through the one-thread reader's record loop (classifyPcapRange), and replies with the start it
// took and the end it reached (the next chunk's start). The calling thread checks each chunk's
// start against the previous chunk's end, in capture order, and has a chunk whose guess was
// wrong run again from the right start: results are always those of the one-thread reader. Per
// frame the worker writes the result and decode reason into the job's slot in shared memory;
// when the framing broke inside the chunk the reply also carries the reader's { error, code,
// offset, truncated } (file offset), after the frames before the damage.
import type { TupleBatch } from '../classify/batch.js';
import { refreshBatches } from '../classify/index.js';
import type { Classifier } from '../classify/types.js';
import { DecodeError } from '../errors.js';
import { encodeEthernet, encodeUdpPacket } from '../packet/encode.js';
import { classifyPcapRange, memorySource, syncFileSource, type SyncSource } from './classify.js';
import { FrameTally } from './frame-tally.js';
import { CaptureParser } from './reader.js';
import { writePcap } from './writer.js';

export const kind = 'capture';

/**
 * Chunks in flight per worker (slots; src/pcap/pool-capture.ts): one running and two waiting, so
 * a worker does not wait for the calling thread, nor for a slower worker whose earlier chunk
 * holds up the delivery (in capture order).
 */
export const CAPTURE_DEPTH = 3;

/** One capture being classified, as this worker sees it. */
interface Capture {
  src: SyncSource;
  parser: CaptureParser;
  /** The file header's bytes. */
  head: Uint8Array;
  size: number;
  /** Per slot: its results and reasons, and its array in `tally` (1..). */
  slots: Map<number, { results: Int32Array; reasons: Uint8Array; counts: number }>;
  countResults: boolean;
  /** Write each frame's result and reason into the slot. */
  perFrame: boolean;
  /**
   * Frames per decode reason (per chunk) and per result: array k of a slot holds its chunk's
   * results until the calling thread accepted the chunk, then goes into array 0, the capture's.
   */
  tally: FrameTally;
}

interface OpenMessage {
  capture: number;
  file: string;
  size: number;
  slots: { slot: number; results: SharedArrayBuffer; reasons: SharedArrayBuffer }[];
  /** Count the frames per result (the `totals` reply). */
  countResults: boolean;
  /** Write each frame's result and decode reason into the slot (else the slots have no room). */
  perFrame: boolean;
}

interface RunMessage {
  capture: number;
  slot: number;
  from: number;
  to: number;
  /** Where the chunk's first record starts, when known (the first chunk, or a chunk run again). */
  start?: number;
  /**
   * The slot's chunk is run again (its start was guessed wrong): what the slot counted is
   * dropped. Otherwise the slot's previous chunk was accepted, and its counts join the capture's.
   */
  rerun?: boolean;
}

/**
 * The end of a capture: its frames per result, counting the chunks of the slots listed (those
 * whose last chunk the calling thread accepted) and none of the others' last chunks.
 */
interface TotalsMessage {
  capture: number;
  accepted: number[];
}

/** A chunk's reply. */
export interface ChunkReply {
  /** Where the chunk's records were taken to start (-1: no plausible record start near its beginning). */
  start: number;
  /** Where the record after the chunk's last one starts (the next chunk's start). */
  end: number;
  frames: number;
  /** Frames per decode reason (index = reason, up to the largest that occurred). */
  reasonCounts: number[];
  error?: string;
  code?: string;
  offset?: number;
  truncated?: boolean;
}

/** Record headers in a row that make an offset a plausible record start. */
const CHAIN = 16;
/** Fewer will do when the bytes read end first (a chain of long records). */
const SHORT_CHAIN = 4;

/**
 * Is view[at] a plausible record start: does a chain of CHAIN classic pcap record headers start
 * there (or a shorter one that ends exactly at the end of the file), each with a capture length
 * within the limit and the original length, a non-zero original length, a sub-second field
 * below one second and a time within a day of the first, as libpcap writes them? Returns 1 yes,
 * 0 no, or -(records seen) - 1 when the bytes (`end`; `size`: the file's end) ran out first. A
 * guess only: the calling thread checks every chunk's start against the chunk before.
 */
export function plausibleChain(view: DataView, at: number, end: number, size: number, le: boolean, H: number, maxCaplen: number, subsecond: number): number {
  let n = 0;
  const sec = end - at >= H ? view.getUint32(at, le) : 0;
  while (n < CHAIN) {
    if (at === size) return n > 0 ? 1 : 0;
    if (end - at < H) return -n - 1;
    const caplen = view.getUint32(at + 8, le);
    const origLen = view.getUint32(at + 12, le);
    if (caplen > maxCaplen || caplen > origLen || origLen === 0 || view.getUint32(at + 4, le) >= subsecond || Math.abs(view.getUint32(at, le) - sec) > 86400) return 0;
    at += H + caplen;
    n++;
  }
  return 1;
}

/** Bytes looked at for a chunk's first record start (more when a chain of long records runs past them). */
const GUESS_BYTES = 16 << 10;

/**
 * Where the first plausible record start at or after `from` lies (before `to`), or -1 when none
 * shows within the bytes looked at.
 */
function guessStart(c: Capture, from: number, to: number): number {
  const { recordHeader: H, littleEndian: le, maxCaplen } = c.parser;
  const subsecond = c.parser.nanos ? 1e9 : 1e6;
  for (const look of [GUESS_BYTES, 16 * GUESS_BYTES]) {
    const bytes = new Uint8Array(Math.min(c.size - from, look + 32 * H));
    const got = c.src.readSync(bytes, 0, bytes.length, from);
    const view = new DataView(bytes.buffer, 0, got);
    // Offsets as small integers: V8's loops over a DataView are much slower with doubles.
    const last = Math.min(c.size - from, 0x7fffffff) | 0;
    let inconclusive = false;
    for (let p = 0, n = Math.min(to - from, look) | 0; p < n; p++) {
      const q = plausibleChain(view, p, got, last, le, H, maxCaplen, subsecond);
      if (q === 1 || q <= -SHORT_CHAIN - 1) return from + p;
      if (q < 0) inconclusive = true;
    }
    if (!inconclusive && to - from <= look) break;
  }
  return -1;
}

/**
 * Decodes and classifies a small synthetic capture a few hundred times when the worker starts:
 * V8 runs code in a baseline tier first and optimises what ran enough, and each worker has its
 * own WebAssembly instance, so it tiers up here rather than on the first chunks.
 */
function warmUp(classifier: Classifier, batch: TupleBatch, tally: FrameTally): void {
  const frames = [];
  for (let i = 0; i < 1024; i++) {
    const x = Math.imul(i + 1, 0x9e3779b1) >>> 0;
    const y = Math.imul(x, 0x85ebca6b) >>> 0;
    const family = i % 8 === 7 ? 6 : 4;
    const addr = (v: number) => (family === 4 ? BigInt(v) : (0x20010db8n << 96n) | BigInt(v));
    frames.push({ data: encodeEthernet({}, encodeUdpPacket({ family, src: addr(x), dst: addr(y), sport: x & 0xffff, dport: y & 0xffff, payload: new Uint8Array(i & 15) })) });
  }
  const capture = writePcap(frames, { linkType: 1 });
  const view = new DataView(capture.buffer);
  const head = capture.subarray(0, 24);
  // In memory, behind the same kind of source a chunk reads its file through.
  const src = memorySource(capture);
  const engine = classifier.engine === 'wasm' ? 'wasm' : 'ts';
  for (let k = 0; k < 200; k++) {
    plausibleChain(view, 24, capture.length, capture.length, true, 16, 65535, 1e6);
    // As a capture's chunks go: counted into a slot's array, then accepted, or dropped.
    classifyPcapRange(src, head, 24, capture.length, { classifier, batch, engine }, (b) => tally.add(b.results!, b.reasons, b.count, 1 + (k % 2)));
    tally.takeReasons();
    tally.fold(1, 0);
    tally.clear(2);
    tally.takeResults(0);
  }
}

export async function createHandler({ classifier }: { classifier: Classifier }): Promise<(m: Record<string, unknown>) => unknown> {
  const captures = new Map<number, Capture>();
  const engine = classifier.engine === 'wasm' ? 'wasm' : 'ts';
  // Frames are decoded and classified 4096 at a time: batch and structure stay in cache.
  const batch = classifier.createBatch(4096);
  // Tallies of closed captures, kept for the next ones: no allocation per capture, and the
  // code V8 optimised for them stays valid (it deoptimises when the objects it saw are gone).
  const spare: FrameTally[] = [];
  const tallyOf = (arrays: number): FrameTally => {
    const i = spare.findIndex((t) => t.arrays === arrays);
    if (i >= 0) return spare.splice(i, 1)[0]!;
    const t = FrameTally.forEngine(engine, classifier.rules, arrays);
    if (classifier.engine === 'wasm') refreshBatches(); // its regions may have grown the memory
    return t;
  };
  const release = (t: FrameTally) => {
    t.reset();
    spare.push(t);
    if (spare.length > 4) spare.shift()!.dispose();
  };
  const warm = tallyOf(1 + CAPTURE_DEPTH);
  // Batches of 64 in the warm-up: the record loop runs many steps per capture, as a chunk's does
  // (V8 optimises a function once it has run enough; 200 one-batch passes are not enough).
  const small = classifier.createBatch(64);
  warmUp(classifier, small, warm);
  release(warm);

  async function open(m: OpenMessage): Promise<void> {
    const src = syncFileSource(m.file, m.size);
    try {
      const parser = new CaptureParser();
      const head = new Uint8Array(24);
      const got = src.readSync(head, 0, 24, 0);
      parser.step(head, 0, got, 0, true);
      if (parser.format !== 'pcap') throw new RangeError(`${m.file} is no longer a classic pcap capture`);
      const slots = new Map(m.slots.map((s, k) => [s.slot, { results: new Int32Array(s.results), reasons: new Uint8Array(s.reasons), counts: k + 1 }]));
      const tally = tallyOf(slots.size + 1);
      captures.set(m.capture, { src, parser, head: head.subarray(0, got), size: m.size, slots, countResults: m.countResults, perFrame: m.perFrame, tally });
    } catch (e) {
      await src.close();
      throw e;
    }
  }

  async function close(id: number): Promise<void> {
    const c = captures.get(id);
    if (!c) return;
    captures.delete(id);
    release(c.tally);
    await c.src.close();
  }

  function totals(m: TotalsMessage): Uint32Array {
    const c = captures.get(m.capture);
    if (!c) throw new RangeError(`no capture ${m.capture} in this worker`);
    const accepted = new Set(m.accepted);
    for (const [slot, s] of c.slots) {
      if (accepted.has(slot)) c.tally.fold(s.counts, 0);
      else c.tally.clear(s.counts);
    }
    return c.tally.takeResults(0);
  }

  function run(m: RunMessage): ChunkReply {
    const c = captures.get(m.capture);
    const slot = c?.slots.get(m.slot);
    if (!c || !slot) throw new RangeError(`no capture ${m.capture} slot ${m.slot} in this worker`);
    const { tally } = c;
    if (m.rerun) tally.clear(slot.counts);
    else tally.fold(slot.counts, 0);
    tally.takeReasons(); // a chunk abandoned half way (an error other than the capture's) left counts
    const start = m.start ?? guessStart(c, m.from, m.to);
    if (start < 0) return { start, end: -1, frames: 0, reasonCounts: [0] };
    let end = start; // past the last record decoded
    let frames = 0;
    try {
      // The one-thread reader's loop over this chunk's records, reading from the file where it decodes.
      classifyPcapRange(c.src, c.head, start, m.to, { classifier, batch, engine }, (b, at) => {
        // The classifier may have grown the module's memory: re-view before reading.
        if (classifier.engine === 'wasm') refreshBatches();
        if (c.perFrame) {
          slot.results.set(b.results!.subarray(0, b.count), frames);
          slot.reasons.set(b.reasons.subarray(0, b.count), frames);
        }
        tally.add(c.countResults ? b.results! : null, b.reasons, b.count, slot.counts);
        frames += b.count;
        end = at;
      });
      return { start, end, frames, reasonCounts: tally.takeReasons() };
    } catch (e) {
      if (!(e instanceof DecodeError)) throw e;
      // The message as given to the error (DecodeError appends the offset; the caller's does again).
      const suffix = ` (offset ${e.offset})`;
      const message = e.message.endsWith(suffix) ? e.message.slice(0, -suffix.length) : e.message;
      return { start, end, frames, reasonCounts: tally.takeReasons(), error: message, code: e.code, offset: e.offset, truncated: e.truncated };
    }
  }

  return async (m) => {
    if (m.op === 'open') return open(m as unknown as OpenMessage);
    if (m.op === 'close') return close(m.capture as number);
    if (m.op === 'totals') return totals(m as unknown as TotalsMessage);
    return run(m as unknown as RunMessage);
  };
}
