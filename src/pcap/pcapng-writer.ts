// A small pcapng writer: sections with interfaces of any link type and enhanced, simple or
// obsolete packet blocks, in either byte order. Exists so that tests (and users) can build
// multi-interface captures without external tools.

export interface PcapngInterface {
  linkType: number;
  snaplen?: number;
  /** if_tsresol byte (default 6: microseconds; 9: nanoseconds; 0x80|n: 2^-n). */
  tsresol?: number;
  name?: string;
}

export interface PcapngPacket {
  /** enhanced (default), simple (interface 0, no timestamp) or obsolete packet block. */
  kind?: 'epb' | 'spb' | 'opb';
  interfaceId?: number;
  data: Uint8Array;
  origLen?: number;
  /** Timestamp in the interface's units. */
  ticks?: bigint;
}

export interface PcapngSection {
  interfaces: readonly PcapngInterface[];
  /** Packets, and raw blocks ({ type, body }) placed among them (e.g. unknown block types). */
  blocks: readonly (PcapngPacket | { type: number; body: Uint8Array })[];
}

export interface PcapngOptions {
  bigEndian?: boolean;
}

class Out {
  parts: Uint8Array[] = [];
  constructor(readonly le: boolean) {}
  block(type: number, body: Uint8Array): void {
    const padded = (body.length + 3) & ~3;
    const len = 12 + padded;
    const b = new Uint8Array(len);
    const v = new DataView(b.buffer);
    v.setUint32(0, type, this.le);
    v.setUint32(4, len, this.le);
    b.set(body, 8);
    v.setUint32(len - 4, len, this.le);
    this.parts.push(b);
  }
}

function opt(le: boolean, code: number, value: Uint8Array): Uint8Array {
  const b = new Uint8Array(4 + ((value.length + 3) & ~3));
  const v = new DataView(b.buffer);
  v.setUint16(0, code, le);
  v.setUint16(2, value.length, le);
  b.set(value, 4);
  return b;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function writePcapng(sections: readonly PcapngSection[], opts: PcapngOptions = {}): Uint8Array {
  const le = !(opts.bigEndian ?? false);
  const out = new Out(le);
  for (const s of sections) {
    const shb = new Uint8Array(16);
    const sv = new DataView(shb.buffer);
    sv.setUint32(0, 0x1a2b3c4d, le);
    sv.setUint16(4, 1, le);
    sv.setUint16(6, 0, le);
    sv.setInt32(8, -1, le); // section length unknown
    sv.setInt32(12, -1, le);
    out.block(0x0a0d0d0a, shb);
    for (const i of s.interfaces) {
      const opts: Uint8Array[] = [];
      if (i.name !== undefined) opts.push(opt(le, 2, new TextEncoder().encode(i.name)));
      if (i.tsresol !== undefined) opts.push(opt(le, 9, new Uint8Array([i.tsresol])));
      if (opts.length > 0) opts.push(new Uint8Array(4)); // opt_endofopt
      const head = new Uint8Array(8);
      const hv = new DataView(head.buffer);
      hv.setUint16(0, i.linkType, le);
      hv.setUint32(4, i.snaplen ?? 262144, le);
      out.block(1, concat([head, ...opts]));
    }
    for (const blk of s.blocks) {
      if ('type' in blk) {
        out.block(blk.type, blk.body);
        continue;
      }
      const kind = blk.kind ?? 'epb';
      const origLen = blk.origLen ?? blk.data.length;
      if (kind === 'spb') {
        const head = new Uint8Array(4);
        new DataView(head.buffer).setUint32(0, origLen, le);
        out.block(3, concat([head, blk.data]));
        continue;
      }
      const head = new Uint8Array(20);
      const hv = new DataView(head.buffer);
      const ticks = blk.ticks ?? 0n;
      if (kind === 'epb') hv.setUint32(0, blk.interfaceId ?? 0, le);
      else hv.setUint16(0, blk.interfaceId ?? 0, le);
      hv.setUint32(4, Number(ticks >> 32n), le);
      hv.setUint32(8, Number(ticks & 0xffffffffn), le);
      hv.setUint32(12, blk.data.length, le);
      hv.setUint32(16, origLen, le);
      out.block(kind === 'epb' ? 6 : 2, concat([head, blk.data]));
    }
  }
  return concat(out.parts);
}
