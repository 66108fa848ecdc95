// Our decoded IKE messages against tshark's: tshark's JSON per frame, and every field both read,
// compared (shared by the Wireshark interoperability and reassembly suites).
import { expect } from 'vitest';
import type { PartialMessage } from '../../src/ike/message.js';
import { hex } from '../../src/ike/wire.js';
import { formatAddress } from '../../src/selector/address.js';
import { tshark as runTshark } from './tshark.js';

export type Json = Record<string, unknown>;
export interface TsharkFrame {
  layers: Json;
  isakmp?: Json;
  /** Any expert info or malformed mark anywhere in the frame. */
  flagged: boolean;
}

/** tshark's view of every frame of `file` (`extra` adds options, e.g. decode-as). */
export function tshark(file: string, extra: string[] = []): TsharkFrame[] {
  const out = runTshark(['-r', file, '-o', 'tcp.desegment_tcp_streams:FALSE', ...extra, '-T', 'json', '--no-duplicate-keys']);
  return (JSON.parse(out) as { _source: { layers: Json } }[]).map((f) => {
    const layers = f._source.layers;
    const text = JSON.stringify(layers);
    return { layers, isakmp: layers.isakmp as Json | undefined, flagged: text.includes('"_ws.expert') || text.includes('_ws.malformed') };
  });
}

export const arr = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
export const colonHex = (s: unknown): string => String(s).replace(/:/g, '');

/** Every field tshark and we both read, compared. */
export function compare(t: Json, m: PartialMessage): void {
  const h = m.header!;
  expect(colonHex(t['isakmp.ispi'])).toBe(h.icookie.toString(16).padStart(16, '0'));
  expect(colonHex(t['isakmp.rspi'])).toBe(h.rcookie.toString(16).padStart(16, '0'));
  expect(Number(t['isakmp.version'])).toBe((h.major << 4) | h.minor);
  expect(Number(t['isakmp.exchangetype'])).toBe(h.exchange);
  expect(Number(t['isakmp.flags'])).toBe(h.flags);
  expect(Number(t['isakmp.messageid'])).toBe(h.msgid);
  expect(Number(t['isakmp.length'])).toBe(h.length);
  expect(Number(t['isakmp.nextpayload'])).toBe(h.nextPayload);
  const types = arr(t['isakmp.typepayload'] as string | string[]).map(Number);
  const trees = arr(t['isakmp.typepayload_tree'] as Json | Json[]);
  expect(types).toEqual(m.spans.map((s) => s.type));
  trees.forEach((tree, i) => {
    const p = m.payloads[i]!;
    expect(Number(tree['isakmp.payloadlength'])).toBe(m.spans[i]!.length);
    if ('isakmp.criticalpayload' in tree) expect(tree['isakmp.criticalpayload'] === '1').toBe(Boolean('critical' in p && p.critical));
    if (p.kind === 'vendor' || p.kind === 'vendor2') expect(colonHex(tree['isakmp.vid_bytes'])).toBe(hex(p.data));
    if (p.kind === 'id') {
      expect(Number(tree['isakmp.id.type'])).toBe(p.id.idType);
      if (h.major === 1) {
        expect(Number(tree['isakmp.id.protoid'])).toBe(p.protocol);
        expect(Number(tree['isakmp.id.port'])).toBe(p.port);
      }
      const data = tree['isakmp.id.data'] as Json | undefined;
      if (p.id.idType === 1) expect(data?.['isakmp.id.data.ipv4_addr']).toBe(formatAddress(4, (p.id as { address: bigint }).address));
      if (p.id.idType === 5) expect(data?.['isakmp.id.data.ipv6_addr']).toBe(formatAddress(6, (p.id as { address: bigint }).address));
    }
    if (p.kind === 'nonce' || p.kind === 'nonce2') expect(colonHex(tree['isakmp.nonce'])).toBe(hex(p.data));
  });
}

