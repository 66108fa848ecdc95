// Batch header walks with one signature for both engines: `ts` (this file, over walkFrame) and
// `wasm` (assembly/decode.ts, over capture bytes in linear memory). Both write rows 0..n-1 of a
// TupleBatch and one reason byte per frame, and must agree byte for byte.
import { TedError } from '../errors.js';
import { TupleBatch } from '../classify/batch.js';
import { loadWasm, type TedWasmExports } from '../wasm/load.js';
import { walkFrame, WalkState, writeWalk } from './decode.js';

export type DecodeEngine = 'wasm' | 'ts';

const state = new WalkState();

/**
 * Decodes `count` frames described by `descs` (3 numbers each: byte offset in `buf`, length,
 * link type) into batch rows 0..count-1 and `reasons`.
 */
export function decodeFramesTS(buf: Uint8Array, descs: Uint32Array, count: number, batch: TupleBatch, reasons: Uint8Array): void {
  for (let i = 0; i < count; i++) {
    const off = descs[3 * i]!;
    walkFrame(descs[3 * i + 2]!, buf, off, off + descs[3 * i + 1]!, state);
    reasons[i] = writeWalk(buf, state, batch, i);
  }
}

/**
 * Walks classic pcap records in buf[start, end) and decodes up to batch.capacity frames. Stops
 * before a record that is not wholly present, and before one starting at or past buf[limit].
 * out[0] = bytes consumed, out[1] = status (0 ok, 1 a capture length above maxCaplen at
 * start + out[0] + 8). Returns the frames decoded.
 */
export function decodePcapTS(
  buf: Uint8Array,
  start: number,
  end: number,
  littleEndian: boolean,
  recordHeader: number,
  linkType: number,
  maxCaplen: number,
  batch: TupleBatch,
  reasons: Uint8Array,
  caplens: Uint32Array,
  out: Uint32Array,
  limit = end,
): number {
  let off = start;
  let n = 0;
  let status = 0;
  const cap = batch.capacity;
  while (n < cap) {
    if (off >= limit || end - off < recordHeader) break;
    const o = off + 8;
    const caplen = littleEndian
      ? (buf[o]! | (buf[o + 1]! << 8) | (buf[o + 2]! << 16) | (buf[o + 3]! << 24)) >>> 0
      : ((buf[o]! << 24) | (buf[o + 1]! << 16) | (buf[o + 2]! << 8) | buf[o + 3]!) >>> 0;
    if (caplen > maxCaplen) {
      status = 1;
      break;
    }
    if (end - off - recordHeader < caplen) break;
    const p = off + recordHeader;
    walkFrame(linkType, buf, p, p + caplen, state);
    reasons[n] = writeWalk(buf, state, batch, n);
    caplens[n] = caplen;
    off = p + caplen;
    n++;
  }
  out[0] = off - start;
  out[1] = status;
  return n;
}

/**
 * The pcapng fast path (twin of assembly decode_pcapng): walks enhanced, simple and obsolete
 * packet blocks of one section in buf[start, end) and decodes up to batch.capacity frames. Stops
 * with status 2 at any other block or one it would reject (the TypeScript parser takes it), with
 * status 0 before a block not wholly present. `lts`/`snaps`: link type and snaplen per interface
 * (0xffffffff marks an unusable interface). out[0] = bytes consumed, out[1] = status.
 */
export function decodePcapngTS(
  buf: Uint8Array,
  start: number,
  end: number,
  littleEndian: boolean,
  lts: Uint32Array,
  snaps: Uint32Array,
  nIf: number,
  maxBlock: number,
  batch: TupleBatch,
  reasons: Uint8Array,
  caplens: Uint32Array,
  rowLts: Uint32Array,
  out: Uint32Array,
): number {
  const le = littleEndian;
  const r32 = (o: number) =>
    le ? (buf[o]! | (buf[o + 1]! << 8) | (buf[o + 2]! << 16) | (buf[o + 3]! << 24)) >>> 0 : ((buf[o]! << 24) | (buf[o + 1]! << 16) | (buf[o + 2]! << 8) | buf[o + 3]!) >>> 0;
  let off = start;
  let n = 0;
  let status = 0;
  const cap = batch.capacity;
  while (n < cap) {
    if (end - off < 12) break;
    const type = r32(off);
    const blen = r32(off + 4);
    if ((type !== 6 && type !== 3 && type !== 2) || blen < 12 || blen % 4 !== 0 || blen > maxBlock) {
      status = 2;
      break;
    }
    if (end - off < blen) break;
    if (r32(off + blen - 4) !== blen) {
      status = 2;
      break;
    }
    let data: number;
    let caplen: number;
    let lt: number;
    if (type === 3) {
      if (blen < 16 || nIf === 0) {
        status = 2;
        break;
      }
      lt = lts[0]!;
      caplen = Math.min(r32(off + 8), blen - 16);
      const snap = snaps[0]!;
      if (snap > 0 && caplen > snap) caplen = snap;
      data = off + 12;
    } else {
      if (blen < 32) {
        status = 2;
        break;
      }
      const ifId = type === 6 ? r32(off + 8) : le ? buf[off + 8]! | (buf[off + 9]! << 8) : (buf[off + 8]! << 8) | buf[off + 9]!;
      caplen = r32(off + 20);
      if (ifId >= nIf || caplen > blen - 32) {
        status = 2;
        break;
      }
      lt = lts[ifId]!;
      data = off + 28;
    }
    if (lt === 0xffffffff) {
      status = 2;
      break;
    }
    walkFrame(lt, buf, data, data + caplen, state);
    reasons[n] = writeWalk(buf, state, batch, n);
    caplens[n] = caplen;
    rowLts[n] = lt;
    off += blen;
    n++;
  }
  out[0] = off - start;
  out[1] = status;
  return n;
}

interface DecodeExports extends TedWasmExports {
  decode_pcapng(
    buf: number, len: number, le: number, lts: number, snaps: number, nIf: number, maxBlock: number,
    batch: number, capacity: number, reasons: number, caplens: number, rowLts: number, out: number,
  ): number;
  decode_frames(buf: number, descs: number, count: number, batch: number, capacity: number, reasons: number): void;
  decode_pcap(buf: number, len: number, le: number, recHdr: number, lt: number, maxCaplen: number, batch: number, capacity: number, reasons: number, caplens: number, out: number, limit: number): number;
}

/** A region of WebAssembly memory with views that follow memory growth. */
export class WasmRegion {
  readonly ptr: number;
  readonly size: number;
  private readonly ex: TedWasmExports;
  private view: Uint8Array;
  constructor(ex: TedWasmExports, size: number) {
    this.ex = ex;
    this.size = size;
    this.ptr = ex.alloc(size);
    if (this.ptr === 0 || this.ptr % 16 !== 0) throw new TedError('TED_WASM_ALLOC', `WebAssembly alloc(${size}) failed`);
    this.view = new Uint8Array(ex.memory.buffer, this.ptr, size);
  }
  get bytes(): Uint8Array {
    if (this.view.buffer !== this.ex.memory.buffer) this.view = new Uint8Array(this.ex.memory.buffer, this.ptr, this.size);
    return this.view;
  }
  private freed = false;
  /** Returns the region to the allocator (once; later calls do nothing). */
  free(): void {
    if (this.freed) return;
    this.freed = true;
    this.ex.free(this.ptr);
  }
}

/**
 * One engine's batch decoder: owns (for wasm) the batch, reason and scratch regions in linear
 * memory. `batch` and `reasons` are re-viewed after memory growth by `sync()`.
 */
export class BatchDecoder {
  readonly engine: DecodeEngine;
  readonly capacity: number;
  readonly batch: TupleBatch;
  private reasonsView: Uint8Array;
  private readonly ex?: DecodeExports;
  private readonly regions: WasmRegion[] = [];
  private readonly outRegion?: WasmRegion;
  private descRegion?: WasmRegion;
  private readonly tsOut = new Uint32Array(2);

  /** `batch`: a batch to decode into (e.g. a classifier's createBatch); for wasm it must live in the module's memory. */
  constructor(engine: DecodeEngine, capacity: number, batch?: TupleBatch) {
    this.engine = engine;
    this.capacity = capacity;
    if (engine === 'wasm') {
      const ex = loadWasm().exports as DecodeExports;
      if (typeof ex.decode_pcap !== 'function') throw new TedError('TED_WASM_MISSING', 'the WebAssembly module has no decode_pcap export: rebuild with `npm run build:wasm`');
      this.ex = ex;
      if (batch && batch.buffer === ex.memory.buffer && batch.capacity >= capacity) this.batch = batch;
      else {
        const r = this.region(new TupleBatch(capacity).layout.bytes);
        this.batch = new TupleBatch(capacity, ex.memory.buffer, r.ptr);
      }
      const rr = this.region(capacity);
      this.reasonsView = rr.bytes;
      this.reasonsRegion = rr;
      this.caplensRegion = this.region(4 * capacity);
      this.caplensView = new Uint32Array(ex.memory.buffer, this.caplensRegion.ptr, capacity);
      this.rowLtsRegion = this.region(4 * capacity);
      this.rowLtsView = new Uint32Array(ex.memory.buffer, this.rowLtsRegion.ptr, capacity);
      this.outRegion = this.region(16);
    } else {
      this.batch = batch && batch.capacity >= capacity ? batch : new TupleBatch(capacity);
      this.reasonsView = new Uint8Array(capacity);
      this.caplensView = new Uint32Array(capacity);
      this.rowLtsView = new Uint32Array(capacity);
    }
  }
  private rowLtsRegion?: WasmRegion;
  private rowLtsView: Uint32Array;
  private ifRegion?: WasmRegion;
  // The interface table as the decoder last saw it: only interfaces added since are written
  // (a section may announce thousands, one block at a time; copying all each call was quadratic).
  private ifList: readonly unknown[] | undefined;
  private ifCount = 0;
  private ifCap = 0;
  private ifLts = new Uint32Array(1);
  private ifSnaps = new Uint32Array(1);

  /** Brings the interface table (link type, snaplen per interface) up to date with `ifaces`. */
  private syncInterfaces(ifaces: readonly { linkType: number; snaplen: number }[]): void {
    const nIf = ifaces.length;
    if (ifaces !== this.ifList || nIf < this.ifCount) {
      this.ifList = ifaces;
      this.ifCount = 0;
    }
    if (nIf > this.ifCap || this.ifCap === 0) {
      this.ifCap = Math.max(8, 2 * nIf);
      this.ifCount = 0;
      if (this.ex) {
        this.ifRegion?.free();
        this.ifRegion = new WasmRegion(this.ex, 8 * this.ifCap);
        this.sync();
      } else {
        this.ifLts = new Uint32Array(this.ifCap);
        this.ifSnaps = new Uint32Array(this.ifCap);
      }
    }
    if (this.ifCount === nIf) return;
    const lts = this.ex ? new Uint32Array(this.ex.memory.buffer, this.ifRegion!.ptr, this.ifCap) : this.ifLts;
    const snaps = this.ex ? new Uint32Array(this.ex.memory.buffer, this.ifRegion!.ptr + 4 * this.ifCap, this.ifCap) : this.ifSnaps;
    for (let k = this.ifCount; k < nIf; k++) {
      const i = ifaces[k]!;
      lts[k] = i.linkType < 0 ? 0xffffffff : i.linkType;
      snaps[k] = i.snaplen;
    }
    this.ifCount = nIf;
  }
  private reasonsRegion?: WasmRegion;
  private caplensRegion?: WasmRegion;
  private caplensView: Uint32Array;

  private region(size: number): WasmRegion {
    const r = new WasmRegion(this.ex!, size);
    this.regions.push(r);
    return r;
  }

  /** Re-creates views after WebAssembly memory grew (cheap when it did not). */
  sync(): void {
    if (!this.ex) return;
    const buf = this.ex.memory.buffer;
    if (this.batch.buffer !== buf) this.batch.refresh(buf);
    this.reasonsView = this.reasonsRegion!.bytes;
    if (this.caplensView.buffer !== buf) this.caplensView = new Uint32Array(buf, this.caplensRegion!.ptr, this.capacity);
    if (this.rowLtsView.buffer !== buf) this.rowLtsView = new Uint32Array(buf, this.rowLtsRegion!.ptr, this.capacity);
  }

  /** Link type per row, written by decodePcapng. */
  get rowLinkTypes(): Uint32Array {
    this.sync();
    return this.rowLtsView;
  }

  /**
   * The pcapng fast path over packet blocks (see decodePcapngTS). `ifaces`: the current
   * section's interfaces (linkType < 0 = unusable). Returns [frames, consumed, status].
   */
  decodePcapng(
    buf: Uint8Array,
    region: WasmRegion | undefined,
    start: number,
    end: number,
    le: boolean,
    ifaces: readonly { linkType: number; snaplen: number }[],
    maxBlock: number,
  ): [number, number, number] {
    const nIf = ifaces.length;
    this.syncInterfaces(ifaces);
    if (this.ex) {
      const ex = this.ex;
      const at = this.ifRegion!.ptr;
      const n = ex.decode_pcapng(
        region!.ptr + start, end - start, le ? 1 : 0, at, at + 4 * this.ifCap, nIf, Math.min(maxBlock, 0xffffffff),
        this.batch.base, this.batch.capacity, this.reasonsRegion!.ptr, this.caplensRegion!.ptr, this.rowLtsRegion!.ptr, this.outRegion!.ptr,
      );
      const out = new Uint32Array(ex.memory.buffer, this.outRegion!.ptr, 2);
      this.sync();
      return [n, out[0]!, out[1]!];
    }
    const lts = this.ifLts;
    const snaps = this.ifSnaps;
    const n = decodePcapngTS(buf, start, end, le, lts, snaps, nIf, maxBlock, this.batch, this.reasonsView, this.caplensView, this.rowLtsView, this.tsOut);
    return [n, this.tsOut[0]!, this.tsOut[1]!];
  }

  /** Captured length per row, written by decodePcap (decodeFrames leaves it alone). */
  get caplens(): Uint32Array {
    this.sync();
    return this.caplensView;
  }

  get reasons(): Uint8Array {
    this.sync();
    return this.reasonsView;
  }

  /** A staging region in WebAssembly memory for capture bytes (wasm engine only). */
  staging(size: number): WasmRegion {
    if (!this.ex) throw new TedError('TED_INTERNAL', 'staging regions exist only for the wasm engine');
    return this.region(size);
  }

  /**
   * Decodes classic pcap records (those starting before buf[limit]). For wasm, `buf` must be
   * `region.bytes` of a staging region (pass the region); for ts any array. Returns [frames,
   * consumed, status].
   */
  decodePcap(buf: Uint8Array, region: WasmRegion | undefined, start: number, end: number, le: boolean, recordHeader: number, linkType: number, maxCaplen: number, limit = end): [number, number, number] {
    if (this.ex) {
      const ex = this.ex;
      const n = ex.decode_pcap(region!.ptr + start, end - start, le ? 1 : 0, recordHeader, linkType, Math.min(maxCaplen, 0xffffffff), this.batch.base, this.batch.capacity, this.reasonsRegion!.ptr, this.caplensRegion!.ptr, this.outRegion!.ptr, Math.min(Math.max(0, limit - start), 0xffffffff));
      const out = new Uint32Array(ex.memory.buffer, this.outRegion!.ptr, 2);
      this.sync();
      return [n, out[0]!, out[1]!];
    }
    const n = decodePcapTS(buf, start, end, le, recordHeader, linkType, maxCaplen, this.batch, this.reasonsView, this.caplensView, this.tsOut, limit);
    return [n, this.tsOut[0]!, this.tsOut[1]!];
  }

  /**
   * Decodes separate frames (pcapng, or any list). For wasm the frame bytes are copied into a
   * staging region; count must not exceed capacity.
   */
  decodeFrames(frames: readonly { linkType: number; data: Uint8Array }[]): void {
    const count = frames.length;
    if (count > this.capacity) throw new RangeError(`${count} frames exceed the batch capacity ${this.capacity}`);
    if (!this.ex) {
      for (let i = 0; i < count; i++) {
        const f = frames[i]!;
        walkFrame(f.linkType, f.data, 0, f.data.length, state);
        this.reasonsView[i] = writeWalk(f.data, state, this.batch, i);
      }
      return;
    }
    let total = 0;
    for (const f of frames) total += f.data.length;
    if (!this.descRegion || this.descRegion.size < 12 * this.capacity + total) {
      this.descRegion?.free();
      this.descRegion = new WasmRegion(this.ex, 12 * this.capacity + Math.max(total, 65536));
    }
    const region = this.descRegion;
    const bytes = region.bytes;
    const descs = new Uint32Array(bytes.buffer, region.ptr, 3 * this.capacity);
    let at = 12 * this.capacity;
    for (let i = 0; i < count; i++) {
      const f = frames[i]!;
      bytes.set(f.data, at);
      descs[3 * i] = at;
      descs[3 * i + 1] = f.data.length;
      descs[3 * i + 2] = f.linkType;
      at += f.data.length;
    }
    this.ex.decode_frames(region.ptr, region.ptr, count, this.batch.base, this.batch.capacity, this.reasonsRegion!.ptr);
    this.sync();
  }

  /** Frees the WebAssembly regions (the decoder is unusable afterwards). */
  dispose(): void {
    for (const r of this.regions) r.free();
    this.descRegion?.free();
    this.ifRegion?.free();
    this.regions.length = 0;
  }
}

/** The wasm export for differential tests: decode_frames over raw pointers. */
export function wasmDecodeExports(): DecodeExports {
  return loadWasm().exports as DecodeExports;
}
