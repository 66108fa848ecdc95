// Classic pcap writer (libpcap 2.4 format, microsecond or nanosecond magic, little-endian by
// default), for Ethernet (1), raw IP (101) and any other link type the caller names. Used by
// tests, the demo and the CLI; the files are what tcpdump and tshark read.
import { closeSync, openSync, writeSync } from 'node:fs';
import { PCAP_MAGIC_NS, PCAP_MAGIC_US } from './reader.js';

export interface PcapWriterOptions {
  /** LINKTYPE_* (default 1, Ethernet). */
  linkType?: number;
  /** Default 262144. Records longer than this are cut (origLen keeps the real length). */
  snaplen?: number;
  /** Nanosecond timestamps (magic a1b23c4d). */
  nanos?: boolean;
  /** Byte order of the file (default little-endian, as most writers do). */
  bigEndian?: boolean;
}

export interface WriteFrame {
  data: Uint8Array;
  /** Seconds since the epoch (fractional allowed) or use tsSec/tsNsec. */
  timestamp?: number;
  tsSec?: number;
  tsNsec?: number;
  /** Length on the wire (default data.length). */
  origLen?: number;
}

/** Encodes pcap headers and records into bytes. */
export class PcapEncoder {
  readonly linkType: number;
  readonly snaplen: number;
  readonly nanos: boolean;
  readonly le: boolean;

  constructor(opts: PcapWriterOptions = {}) {
    this.linkType = opts.linkType ?? 1;
    this.snaplen = opts.snaplen ?? 262144;
    this.nanos = opts.nanos ?? false;
    this.le = !(opts.bigEndian ?? false);
    if (!Number.isInteger(this.linkType) || this.linkType < 0 || this.linkType > 0xffff) throw new RangeError(`bad link type ${this.linkType}`);
    if (!Number.isInteger(this.snaplen) || this.snaplen < 1) throw new RangeError(`bad snaplen ${this.snaplen}`);
  }

  fileHeader(): Uint8Array {
    const b = new Uint8Array(24);
    const v = new DataView(b.buffer);
    v.setUint32(0, this.nanos ? PCAP_MAGIC_NS : PCAP_MAGIC_US, this.le);
    v.setUint16(4, 2, this.le);
    v.setUint16(6, 4, this.le);
    v.setUint32(16, this.snaplen, this.le);
    v.setUint32(20, this.linkType, this.le);
    return b;
  }

  recordLength(f: WriteFrame): number {
    return 16 + Math.min(f.data.length, this.snaplen);
  }

  /** Writes one record at buf[offset]; returns the bytes written. */
  record(f: WriteFrame, buf?: Uint8Array, offset = 0): Uint8Array {
    const caplen = Math.min(f.data.length, this.snaplen);
    const b = buf ?? new Uint8Array(offset + 16 + caplen);
    const v = new DataView(b.buffer, b.byteOffset + offset, 16);
    let sec: number;
    let frac: number;
    if (f.tsSec !== undefined) {
      sec = f.tsSec;
      const ns = f.tsNsec ?? 0;
      frac = this.nanos ? ns : Math.floor(ns / 1000);
    } else {
      const t = f.timestamp ?? 0;
      sec = Math.floor(t);
      const unit = this.nanos ? 1e9 : 1e6;
      frac = Math.min(unit - 1, Math.round((t - sec) * unit));
    }
    v.setUint32(0, sec >>> 0, this.le);
    v.setUint32(4, frac >>> 0, this.le);
    v.setUint32(8, caplen, this.le);
    v.setUint32(12, Math.max(f.origLen ?? f.data.length, caplen), this.le);
    b.set(f.data.subarray(0, caplen), offset + 16);
    return b.subarray(offset, offset + 16 + caplen);
  }
}

/** A whole pcap file in memory. */
export function writePcap(frames: Iterable<WriteFrame>, opts: PcapWriterOptions = {}): Uint8Array {
  const enc = new PcapEncoder(opts);
  const list = [...frames];
  let total = 24;
  for (const f of list) total += enc.recordLength(f);
  const out = new Uint8Array(total);
  out.set(enc.fileHeader(), 0);
  let at = 24;
  for (const f of list) at += enc.record(f, out, at).length;
  return out;
}

/** Streams records to a file through a fixed buffer (bounded memory for any capture size). */
export class PcapFileWriter {
  readonly encoder: PcapEncoder;
  private fd: number | undefined;
  private readonly buf: Uint8Array;
  private used = 0;
  frames = 0;

  constructor(path: string, opts: PcapWriterOptions = {}, bufferSize = 1 << 20) {
    this.encoder = new PcapEncoder(opts);
    this.buf = new Uint8Array(Math.max(bufferSize, 16 + this.encoder.snaplen));
    this.fd = openSync(path, 'w');
    this.buf.set(this.encoder.fileHeader(), 0);
    this.used = 24;
  }

  write(f: WriteFrame): void {
    if (this.fd === undefined) throw new Error('pcap writer is closed');
    const n = this.encoder.recordLength(f);
    if (this.used + n > this.buf.length) this.flush();
    this.encoder.record(f, this.buf, this.used);
    this.used += n;
    this.frames++;
  }

  flush(): void {
    if (this.fd === undefined) return;
    let off = 0;
    while (off < this.used) off += writeSync(this.fd, this.buf, off, this.used - off);
    this.used = 0;
  }

  close(): void {
    if (this.fd === undefined) return;
    this.flush();
    closeSync(this.fd);
    this.fd = undefined;
  }
}
