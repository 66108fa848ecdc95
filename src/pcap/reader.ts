// Capture file reader: classic pcap (microsecond, nanosecond and Kuznetzov magics, either byte
// order) and pcapng (any number of sections and interfaces, either byte order). One incremental
// parser serves both the in-memory reader and the streaming file reader, so the two cannot
// disagree; the streaming reader keeps at most one chunk plus the largest record in memory.
//
// Errors: a record whose framing is intact but whose content is wrong (a pcapng block naming an
// unknown interface, a packet longer than its block) is reported through `onError` and reading
// goes on with the next record; without `onError` it is thrown. Damage that loses the framing
// (a bad magic, a block length that is not a multiple of 4, a capture length beyond any sane
// snaplen, a file cut inside a record) always throws, after every earlier frame was delivered.
import { open } from 'node:fs/promises';
import { DecodeError } from '../errors.js';

export type CaptureFormat = 'pcap' | 'pcapng';

/** One captured frame. `data` is a view into the reader's buffer: copy it to keep it past the next frame if the source is a stream you mutate. */
export interface Frame {
  /** 1-based position in the capture (counts delivered frames). */
  readonly index: number;
  /** LINKTYPE_* value of the frame's interface (1 Ethernet, 101 raw IP, 113 Linux cooked...). */
  readonly linkType: number;
  /** Seconds since the epoch (floating point; use tsSec/tsNsec for exact values). */
  readonly timestamp: number;
  readonly tsSec: number;
  readonly tsNsec: number;
  /** Bytes captured (`data.length`). */
  readonly caplen: number;
  /** Length of the packet on the wire. */
  readonly origLen: number;
  readonly data: Uint8Array;
  /** pcapng interface id (0 for classic pcap). */
  readonly interfaceId: number;
  /** Byte offset of the record (its header) in the file. */
  readonly fileOffset: number;
}

export interface CaptureInterface {
  readonly id: number;
  readonly linkType: number;
  readonly snaplen: number;
  /** Timestamp units per second (1e6 by default in pcapng and for classic microsecond files). */
  readonly tsUnitsPerSec: number;
  /** if_tsoffset: seconds added to every timestamp. */
  readonly tsOffset: number;
  readonly name?: string;
}

export interface ReadOptions {
  /** Receives recoverable errors; reading goes on with the next record. Without it they are thrown. */
  onError?: (err: DecodeError) => void;
  /** Largest accepted record body (default 256 MiB for pcapng blocks; for pcap records the snaplen, at least 256 KiB and at most 64 MiB). */
  maxRecord?: number;
  /** Interfaces kept per pcapng section (default 65,536); further interface blocks are PCAP_TOO_MANY_INTERFACES. */
  maxInterfaces?: number;
}

/** Default cap on interfaces per pcapng section (each costs memory; real captures have a few). */
export const DEFAULT_MAX_INTERFACES = 65536;

export const PCAP_MAGIC_US = 0xa1b2c3d4;
export const PCAP_MAGIC_NS = 0xa1b23c4d;
export const PCAP_MAGIC_KUZNETZOV = 0xa1b2cd34;
const PCAPNG_SHB = 0x0a0d0d0a;
const PCAPNG_BOM = 0x1a2b3c4d;
const BLOCK_IDB = 1;
const BLOCK_OPB = 2; // obsolete packet block
const BLOCK_SPB = 3;
const BLOCK_EPB = 6;
const MAX_BLOCK = 256 * 1024 * 1024;
const DEFAULT_MAX_PCAP_RECORD = 262144;
const MAX_PCAP_SNAPLEN = 64 * 1024 * 1024;

/** Which capture format `bytes` starts with, if any. */
export function detectCaptureFormat(bytes: Uint8Array): CaptureFormat | undefined {
  if (bytes.length < 4) return undefined;
  const be = u32(bytes, 0, false);
  const le = u32(bytes, 0, true);
  if (be === PCAPNG_SHB) return 'pcapng';
  for (const m of [PCAP_MAGIC_US, PCAP_MAGIC_NS, PCAP_MAGIC_KUZNETZOV]) if (be === m || le === m) return 'pcap';
  return undefined;
}

function u16(b: Uint8Array, o: number, le: boolean): number {
  return le ? b[o]! | (b[o + 1]! << 8) : (b[o]! << 8) | b[o + 1]!;
}

function u32(b: Uint8Array, o: number, le: boolean): number {
  return le
    ? (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0
    : ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}

/** Result of one parser step: bytes consumed (> 0), or NEED_MORE. */
const NEED_MORE = 0;

/**
 * The incremental parser. `step(buf, off, end, base, eof)` looks at buf[off, end), which holds
 * file bytes starting at file offset base + off; it consumes one header or record and returns
 * the number of bytes consumed, leaving a frame in `frame` when the record was a packet, or
 * returns NEED_MORE with `need` = bytes wanted from `off`.
 */
export class CaptureParser {
  format: CaptureFormat | undefined;
  /** Classic pcap: little-endian file; pcapng: the current section's byte order. */
  littleEndian = false;
  /** Classic pcap header fields. */
  versionMajor = 0;
  versionMinor = 0;
  snaplen = 0;
  /** Interfaces of the current pcapng section (classic pcap: one). */
  interfaces: CaptureInterface[] = [];
  /** Every link type seen, in order of first appearance. */
  readonly linkTypes: number[] = [];
  private readonly linkTypeSet = new Set<number>();
  sections = 0;
  frame: Frame | undefined;
  need = 0;
  private frames = 0;
  /** Classic pcap: record header length (16, or 24 for the Kuznetzov format). */
  recordHeader = 16;
  /** Classic pcap: nanosecond timestamps. */
  nanos = false;
  /** Classic pcap: the file's link type. */
  pcapLinkType = 0;
  private readonly opts: ReadOptions;

  constructor(opts: ReadOptions = {}) {
    this.opts = opts;
  }

  /** Classic pcap: the largest record body accepted before the framing is declared lost. */
  get maxCaplen(): number {
    // A lying snaplen must not make a lying record length look plausible: cap what it allows.
    return this.opts.maxRecord ?? Math.max(DEFAULT_MAX_PCAP_RECORD, Math.min(this.snaplen, MAX_PCAP_SNAPLEN));
  }

  /** pcapng: the largest block accepted before the framing is declared lost. */
  get maxBlock(): number {
    return this.opts.maxRecord !== undefined ? this.opts.maxRecord + 64 : MAX_BLOCK;
  }

  get frameCount(): number {
    return this.frames;
  }

  private recoverable(err: DecodeError): void {
    if (this.opts.onError) this.opts.onError(err);
    else throw err;
  }

  private noteLinkType(lt: number): void {
    if (this.linkTypeSet.has(lt)) return;
    this.linkTypeSet.add(lt);
    this.linkTypes.push(lt);
  }

  step(buf: Uint8Array, off: number, end: number, base: number, eof: boolean): number {
    this.frame = undefined;
    const avail = end - off;
    if (this.format === undefined) return this.fileHeader(buf, off, avail, base, eof);
    return this.format === 'pcap' ? this.pcapRecord(buf, off, avail, base, eof) : this.pcapngBlock(buf, off, avail, base, eof);
  }

  private short(needed: number, avail: number, base: number, off: number, eof: boolean, what: string, code = 'PCAP_TRUNCATED'): number {
    if (!eof) {
      this.need = needed;
      return NEED_MORE;
    }
    throw new DecodeError(code, `capture ends inside ${what}: ${needed} bytes needed, ${avail} present`, base + off + avail, { truncated: true });
  }

  private fileHeader(buf: Uint8Array, off: number, avail: number, base: number, eof: boolean): number {
    if (avail < 4) {
      if (eof && avail === 0) throw new DecodeError('PCAP_EMPTY', 'capture file is empty', base + off, { truncated: true });
      return this.short(4, avail, base, off, eof, 'the file magic');
    }
    const fmt = detectCaptureFormat(buf.subarray(off, off + 4));
    if (fmt === undefined) {
      throw new DecodeError('PCAP_BAD_MAGIC', `not a pcap or pcapng file (magic 0x${u32(buf, off, false).toString(16).padStart(8, '0')})`, base + off);
    }
    if (fmt === 'pcapng') {
      this.format = 'pcapng';
      return this.pcapngBlock(buf, off, avail, base, eof);
    }
    if (avail < 24) return this.short(24, avail, base, off, eof, 'the pcap file header');
    const le = u32(buf, off, true) === PCAP_MAGIC_US || u32(buf, off, true) === PCAP_MAGIC_NS || u32(buf, off, true) === PCAP_MAGIC_KUZNETZOV;
    const magic = u32(buf, off, le);
    this.littleEndian = le;
    this.nanos = magic === PCAP_MAGIC_NS;
    this.recordHeader = magic === PCAP_MAGIC_KUZNETZOV ? 24 : 16;
    this.versionMajor = u16(buf, off + 4, le);
    this.versionMinor = u16(buf, off + 6, le);
    if (this.versionMajor !== 2) {
      throw new DecodeError('PCAP_BAD_VERSION', `unsupported pcap version ${this.versionMajor}.${this.versionMinor}`, base + off + 4);
    }
    this.snaplen = u32(buf, off + 16, le);
    // The upper bits of the link type field carry FCS information (pcap-savefile(5)).
    this.pcapLinkType = u32(buf, off + 20, le) & 0x03ffffff;
    this.format = 'pcap';
    this.interfaces = [{ id: 0, linkType: this.pcapLinkType, snaplen: this.snaplen, tsUnitsPerSec: this.nanos ? 1e9 : 1e6, tsOffset: 0 }];
    this.noteLinkType(this.pcapLinkType);
    return 24;
  }

  private pcapRecord(buf: Uint8Array, off: number, avail: number, base: number, eof: boolean): number {
    const H = this.recordHeader;
    if (avail < H) {
      if (avail === 0) {
        this.need = 0;
        return NEED_MORE; // a clean end of file
      }
      return this.short(H, avail, base, off, eof, 'a record header');
    }
    const le = this.littleEndian;
    const caplen = u32(buf, off + 8, le);
    const origLen = u32(buf, off + 12, le);
    const limit = this.maxCaplen;
    if (caplen > limit) {
      // Nothing tells where the next record starts: the framing is lost.
      throw new DecodeError('PCAP_BAD_CAPLEN', `record capture length ${caplen} exceeds the limit ${limit} (snaplen ${this.snaplen})`, base + off + 8);
    }
    if (avail < H + caplen) return this.short(H + caplen, avail, base, off, eof, `a ${caplen}-byte record`);
    const sec = u32(buf, off, le);
    const sub = u32(buf, off + 4, le);
    // An out-of-range fraction (>= 1 s) is kept as written, as tshark shows it: the frame matters more.
    const tsNsec = this.nanos ? sub : sub * 1000;
    this.frames++;
    this.frame = {
      index: this.frames,
      linkType: this.pcapLinkType,
      timestamp: sec + tsNsec / 1e9,
      tsSec: sec,
      tsNsec,
      caplen,
      origLen,
      data: buf.subarray(off + H, off + H + caplen),
      interfaceId: 0,
      fileOffset: base + off,
    };
    return H + caplen;
  }

  private pcapngBlock(buf: Uint8Array, off: number, avail: number, base: number, eof: boolean): number {
    if (avail < 12) {
      if (avail === 0) {
        this.need = 0;
        return NEED_MORE;
      }
      return this.short(12, avail, base, off, eof, 'a pcapng block header');
    }
    let le = this.littleEndian;
    const typeBE = u32(buf, off, false);
    if (typeBE === PCAPNG_SHB) {
      const bomLE = u32(buf, off + 8, true);
      const bomBE = u32(buf, off + 8, false);
      if (bomLE === PCAPNG_BOM) le = true;
      else if (bomBE === PCAPNG_BOM) le = false;
      else throw new DecodeError('PCAP_BAD_BOM', `pcapng section header has no valid byte-order magic (0x${bomBE.toString(16)})`, base + off + 8);
    }
    const type = u32(buf, off, le);
    const len = u32(buf, off + 4, le);
    const maxBlock = this.maxBlock;
    if (len < 12 || len % 4 !== 0 || len > maxBlock) {
      throw new DecodeError('PCAP_BAD_BLOCK_LENGTH', `pcapng block type 0x${type.toString(16)} has invalid total length ${len}`, base + off + 4);
    }
    if (avail < len) return this.short(len, avail, base, off, eof, `a ${len}-byte pcapng block`);
    const trailer = u32(buf, off + len - 4, le);
    if (trailer !== len) {
      throw new DecodeError('PCAP_BLOCK_LENGTH_MISMATCH', `pcapng block total length ${len} disagrees with its trailing copy ${trailer}`, base + off + len - 4);
    }
    const at = base + off;
    switch (type) {
      case PCAPNG_SHB: {
        if (len < 28) throw new DecodeError('PCAP_BAD_BLOCK_LENGTH', `pcapng section header block length ${len} is below the minimum 28`, at + 4);
        const major = u16(buf, off + 12, le);
        if (major !== 1) throw new DecodeError('PCAP_BAD_VERSION', `unsupported pcapng version ${major}.${u16(buf, off + 14, le)}`, at + 12);
        this.littleEndian = le;
        this.versionMajor = major;
        this.versionMinor = u16(buf, off + 14, le);
        this.interfaces = [];
        this.sections++;
        break;
      }
      case BLOCK_IDB: {
        if (this.interfaces.length >= (this.opts.maxInterfaces ?? DEFAULT_MAX_INTERFACES)) {
          // Packets naming interfaces beyond the cap are then PCAP_NO_INTERFACE.
          this.recoverable(new DecodeError('PCAP_TOO_MANY_INTERFACES', `more than ${this.opts.maxInterfaces ?? DEFAULT_MAX_INTERFACES} interface description blocks in one section`, at));
          break;
        }
        if (len < 20) {
          this.recoverable(new DecodeError('PCAP_BAD_BLOCK_LENGTH', `interface description block length ${len} is below the minimum 20`, at + 4));
          // Keep interface numbering in step with the writer even when one IDB is bad.
          this.interfaces.push({ id: this.interfaces.length, linkType: -1, snaplen: 0, tsUnitsPerSec: 1e6, tsOffset: 0 });
          break;
        }
        const linkType = u16(buf, off + 8, le);
        const snaplen = u32(buf, off + 12, le);
        let tsUnitsPerSec = 1e6;
        let tsOffset = 0;
        let name: string | undefined;
        for (const opt of options(buf, off + 16, off + len - 4, le)) {
          if (opt.code === 9 && opt.len >= 1) {
            const r = buf[opt.at]!;
            tsUnitsPerSec = r & 0x80 ? 2 ** (r & 0x7f) : 10 ** r;
          } else if (opt.code === 14 && opt.len >= 8) {
            tsOffset = u32(buf, opt.at + (le ? 4 : 0), le) * 2 ** 32 + u32(buf, opt.at + (le ? 0 : 4), le);
          } else if (opt.code === 2) {
            name = new TextDecoder().decode(buf.subarray(opt.at, opt.at + opt.len));
          }
        }
        this.interfaces.push({ id: this.interfaces.length, linkType, snaplen, tsUnitsPerSec, tsOffset, name });
        this.noteLinkType(linkType);
        break;
      }
      case BLOCK_EPB:
      case BLOCK_OPB: {
        const min = 32;
        if (len < min) {
          this.recoverable(new DecodeError('PCAP_BAD_BLOCK_LENGTH', `packet block length ${len} is below the minimum ${min}`, at + 4));
          break;
        }
        const ifId = type === BLOCK_EPB ? u32(buf, off + 8, le) : u16(buf, off + 8, le);
        const hi = u32(buf, off + 12, le);
        const lo = u32(buf, off + 16, le);
        const caplen = u32(buf, off + 20, le);
        const origLen = u32(buf, off + 24, le);
        if (caplen > len - min) {
          this.recoverable(new DecodeError('PCAP_BAD_CAPLEN', `packet capture length ${caplen} exceeds its block (${len - min} bytes of data)`, at + 20));
          break;
        }
        const iface = this.interfaces[ifId];
        if (!iface || iface.linkType < 0) {
          this.recoverable(new DecodeError('PCAP_NO_INTERFACE', `packet names interface ${ifId}, but the section describes ${this.interfaces.length}`, at + 8));
          break;
        }
        this.emit(iface, hi, lo, caplen, origLen, buf.subarray(off + 28, off + 28 + caplen), at);
        break;
      }
      case BLOCK_SPB: {
        if (len < 16) {
          this.recoverable(new DecodeError('PCAP_BAD_BLOCK_LENGTH', `simple packet block length ${len} is below the minimum 16`, at + 4));
          break;
        }
        const iface = this.interfaces[0];
        if (!iface || iface.linkType < 0) {
          this.recoverable(new DecodeError('PCAP_NO_INTERFACE', 'simple packet block before any interface description', at));
          break;
        }
        const origLen = u32(buf, off + 8, le);
        // The captured length is implied: the original length, cut by the snaplen and the block.
        let caplen = Math.min(origLen, len - 16);
        if (iface.snaplen > 0) caplen = Math.min(caplen, iface.snaplen);
        this.emit(iface, -1, 0, caplen, origLen, buf.subarray(off + 12, off + 12 + caplen), at);
        break;
      }
      default:
        break; // statistics, name resolution, custom and unknown blocks carry no packets
    }
    return len;
  }

  private emit(iface: CaptureInterface, hi: number, lo: number, caplen: number, origLen: number, data: Uint8Array, at: number): void {
    let tsSec = 0;
    let tsNsec = 0;
    if (hi >= 0) {
      const units = iface.tsUnitsPerSec;
      if (hi < 0x200000) {
        const ticks = hi * 4294967296 + lo;
        tsSec = Math.floor(ticks / units);
        tsNsec = Math.floor(((ticks - tsSec * units) * 1e9) / units);
      } else {
        // Beyond 2^53 ticks (nanosecond clocks): exact in bigint.
        const ticks = (BigInt(hi) << 32n) | BigInt(lo);
        const u = BigInt(Math.round(units));
        const s = ticks / u;
        tsSec = Number(s);
        tsNsec = Number(((ticks - s * u) * 1000000000n) / u);
      }
      tsSec += iface.tsOffset;
    }
    this.frames++;
    this.frame = {
      index: this.frames,
      linkType: iface.linkType,
      timestamp: tsSec + tsNsec / 1e9,
      tsSec,
      tsNsec,
      caplen,
      origLen,
      data,
      interfaceId: iface.id,
      fileOffset: at,
    };
  }
}

function* options(buf: Uint8Array, from: number, to: number, le: boolean): Generator<{ code: number; len: number; at: number }> {
  let p = from;
  while (p + 4 <= to) {
    const code = u16(buf, p, le);
    const len = u16(buf, p + 2, le);
    if (code === 0) return;
    if (p + 4 + len > to) return; // a lying option length: ignore the rest of the options
    yield { code, len, at: p + 4 };
    p += 4 + ((len + 3) & ~3);
  }
}

/** A capture held in memory. Iterate it for frames; header facts fill in as reading proceeds. */
export class CaptureReader implements Iterable<Frame> {
  readonly parser: CaptureParser;
  private readonly bytes: Uint8Array;
  private readonly start: number;

  constructor(bytes: Uint8Array, opts: ReadOptions = {}) {
    this.bytes = bytes;
    this.parser = new CaptureParser(opts);
    // Read the file header now so that a bad magic fails at open, not at first iteration.
    const n = this.parser.step(bytes, 0, bytes.length, 0, true);
    this.start = n;
  }

  get format(): CaptureFormat {
    return this.parser.format!;
  }
  get interfaces(): readonly CaptureInterface[] {
    return this.parser.interfaces;
  }
  get linkTypes(): readonly number[] {
    return this.parser.linkTypes;
  }

  *[Symbol.iterator](): Generator<Frame> {
    const p = this.parser;
    const b = this.bytes;
    let off = this.start;
    while (off < b.length) {
      const n = p.step(b, off, b.length, 0, true);
      if (n === NEED_MORE) break;
      off += n;
      if (p.frame) yield p.frame;
    }
  }
}

/** Opens a capture held in memory (throws PCAP_BAD_MAGIC / PCAP_TRUNCATED / ... at once for a bad header). */
export function openCapture(bytes: Uint8Array, opts: ReadOptions = {}): CaptureReader {
  return new CaptureReader(bytes, opts);
}

/** Frames of a capture held in memory. */
export function readFrames(bytes: Uint8Array, opts: ReadOptions = {}): Generator<Frame> {
  return openCapture(bytes, opts)[Symbol.iterator]();
}

export interface FileReadOptions extends ReadOptions {
  /** Bytes read per system call (default 1 MiB). */
  chunkSize?: number;
  /** Called after each chunk with (bytesRead, fileSize). */
  onProgress?: (bytesRead: number, fileSize: number) => void;
}

/**
 * A capture file streamed from disk with bounded memory: one chunk plus the largest record.
 * Each refill allocates a fresh buffer, so a frame's `data` stays valid after later reads.
 */
export class CaptureFileReader implements AsyncIterable<Frame> {
  readonly parser: CaptureParser;
  readonly path: string;
  private readonly opts: FileReadOptions;
  fileSize = 0;
  bytesRead = 0;

  constructor(path: string, opts: FileReadOptions = {}) {
    this.path = path;
    this.opts = opts;
    this.parser = new CaptureParser(opts);
  }

  get format(): CaptureFormat | undefined {
    return this.parser.format;
  }
  get linkTypes(): readonly number[] {
    return this.parser.linkTypes;
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Frame> {
    for await (const frames of this.batches()) yield* frames;
  }

  /**
   * The frames in batches of up to BATCH_FRAMES from one chunk read (a promise per batch instead
   * of one per frame: for small packets that was most of the reading time; a bounded batch keeps
   * its frames young for the garbage collector). A damaged record that throws does so after the
   * batch of the frames before it.
   */
  async *batches(): AsyncGenerator<Frame[]> {
    const chunk = Math.max(1, this.opts.chunkSize ?? 1 << 20);
    const fh = await open(this.path, 'r');
    try {
      this.fileSize = (await fh.stat()).size;
      const p = this.parser;
      let buf = new Uint8Array(0);
      let off = 0;
      let end = 0;
      let base = 0; // file offset of buf[0]
      let eof = false;
      let want = 0;
      let frames: Frame[] = [];
      for (;;) {
        if (!eof && end - off < want) {
          if (frames.length > 0) {
            yield frames;
            frames = [];
          }
          // Refill: keep the unconsumed tail and read at least a chunk, or the whole record wanted.
          const keep = end - off;
          const size = Math.max(chunk, want);
          const next = new Uint8Array(size);
          next.set(buf.subarray(off, end), 0);
          base += off;
          buf = next;
          off = 0;
          end = keep;
          while (end < size) {
            const { bytesRead } = await fh.read(buf, end, size - end, base + end);
            if (bytesRead === 0) {
              eof = true;
              break;
            }
            end += bytesRead;
            this.bytesRead += bytesRead;
          }
          this.opts.onProgress?.(this.bytesRead, this.fileSize);
          continue;
        }
        let n: number;
        try {
          n = p.step(buf, off, end, base, eof);
        } catch (err) {
          if (frames.length > 0) yield frames;
          throw err;
        }
        if (n === NEED_MORE) {
          if (eof) break; // a clean end (a cut record throws inside step)
          want = Math.max(p.need, end - off + 1);
          continue;
        }
        off += n;
        want = 0;
        if (p.frame) {
          frames.push(p.frame);
          if (frames.length === BATCH_FRAMES) {
            yield frames;
            frames = [];
          }
        }
      }
      if (frames.length > 0) yield frames;
      if (p.format === undefined) throw new DecodeError('PCAP_EMPTY', 'capture file is empty', 0, { truncated: true });
    } finally {
      await fh.close();
    }
  }
}

/** Streams the frames of a capture file (bounded memory). */
export function readCaptureFile(path: string, opts: FileReadOptions = {}): AsyncGenerator<Frame> {
  return new CaptureFileReader(path, opts)[Symbol.asyncIterator]();
}

/** Frames per batch of CaptureFileReader.batches(). */
export const BATCH_FRAMES = 256;

/** Streams the frames of a capture file in batches of up to BATCH_FRAMES, each from one chunk read (bounded memory). */
export function readCaptureFileBatches(path: string, opts: FileReadOptions = {}): AsyncGenerator<Frame[]> {
  return new CaptureFileReader(path, opts).batches();
}
