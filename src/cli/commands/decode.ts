// `ted decode FILE [--json] [--port N]`: print every ISAKMP message in a capture (UDP 500, UDP
// 4500 after the non-ESP marker, or --port), with the discovery details of TED probes/responses.
// A message that does not decode prints its error code and offset and decoding goes on.
import type { Command } from 'commander';
import { once } from 'node:events';
import { DecodeError, UsageError } from '../../errors.js';
import { decodeFrame } from '../../packet/decode.js';
import { readCaptureFile } from '../../pcap/reader.js';
import { formatAddress } from '../../selector/address.js';
import type { Family, Selector } from '../../selector/types.js';
import { decodeMessage, type DecodedMessage } from '../../ike/message.js';
import { exchangeName, payloadName } from '../../ike/names.js';
import { verifyProbe, verifyResponse } from '../../ike/ted.js';
import { TED_EXCHANGE_PROBE, TED_EXCHANGE_RESPONSE } from '../../ike/ted-types.js';
import { inputFile } from '../../files.js';

export interface DecodeOptions {
  json?: boolean;
  port?: number;
}

export { isakmpStart } from '../../ike/udp.js';
import { isakmpStart } from '../../ike/udp.js';

const hex64 = (v: bigint): string => v.toString(16).padStart(16, '0');

/** JSON with ", " and ": " separators (the documented line format). */
export function spacedJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(spacedJson).join(', ')}]`;
  if (v !== null && typeof v === 'object') {
    return `{${Object.entries(v as Record<string, unknown>)
      .filter(([, x]) => x !== undefined)
      .map(([k, x]) => `${JSON.stringify(k)}: ${spacedJson(x)}`)
      .join(', ')}}`;
  }
  return JSON.stringify(v);
}

function proxyJson(s: Selector): Record<string, unknown> {
  return {
    family: s.family,
    protocol: s.protocol,
    src: formatAddress(s.family, s.src.value),
    srcMask: formatAddress(s.family, s.src.care),
    dst: formatAddress(s.family, s.dst.value),
    dstMask: formatAddress(s.family, s.dst.care),
    sport: s.sport.map((r) => [r.lo, r.hi]),
    dport: s.dport.map((r) => [r.lo, r.hi]),
  };
}

/** The discovery details of a 240/241 message, or its verification error. */
export function tedJson(m: DecodedMessage): Record<string, unknown> | null {
  const ex = m.header.exchange;
  if (m.header.major !== 1 || (ex !== TED_EXCHANGE_PROBE && ex !== TED_EXCHANGE_RESPONSE)) return null;
  try {
    if (ex === TED_EXCHANGE_PROBE) {
      const p = verifyProbe(m);
      const s = p.summary;
      return {
        kind: 'probe',
        capabilities: p.capabilities,
        id: formatAddress(p.id.family, p.id.address),
        summary: {
          tedVersion: s.tedVersion,
          family: s.family,
          protocol: s.protocol,
          src: formatAddress(s.family, s.src),
          dst: formatAddress(s.family, s.dst),
          sport: s.sport,
          dport: s.dport,
        },
        proxy: p.proxy ? proxyJson(p.proxy) : undefined,
      };
    }
    const r = verifyResponse(m);
    return { kind: 'response', capabilities: r.capabilities, id: formatAddress(r.id.family, r.id.address), proxy: proxyJson(r.proxy) };
  } catch (err) {
    if (err instanceof DecodeError) return { error: { code: err.code, offset: err.offset } };
    throw err;
  }
}

export interface MessageRecord {
  frame: number;
  src: string;
  dst: string;
  sport: number;
  dport: number;
  message?: DecodedMessage;
  error?: DecodeError;
}

/** The JSON object of one message, keys in the documented order. */
export function messageJson(r: MessageRecord): Record<string, unknown> {
  const base = { frame: r.frame, src: r.src, dst: r.dst, sport: r.sport, dport: r.dport };
  if (r.error || !r.message) return { ...base, error: { code: r.error!.code, offset: r.error!.offset } };
  const m = r.message;
  const h = m.header;
  return {
    ...base,
    icookie: hex64(h.icookie),
    rcookie: hex64(h.rcookie),
    version: `${h.major}.${h.minor}`,
    exchange: h.exchange,
    flags: h.flags,
    msgid: h.msgid,
    length: h.length,
    encrypted: m.encrypted !== undefined || m.payloads.some((p) => p.kind === 'sk'),
    payloads: m.spans.map((s) => ({ type: s.type, length: s.length })),
    ted: tedJson(m),
  };
}

const hostPort = (a: string, p: number): string => (a.includes(':') ? `[${a}]:${p}` : `${a}:${p}`);

function textLines(r: MessageRecord): string[] {
  const where = `frame ${r.frame}  ${hostPort(r.src, r.sport)} -> ${hostPort(r.dst, r.dport)}`;
  if (r.error || !r.message) {
    const e = r.error!;
    const pi = e.payloadIndex !== undefined ? ` (payload #${e.payloadIndex})` : '';
    // The message already ends with "(offset N)"; say it once.
    return [`${where}  error ${e.code} at offset ${e.offset}${pi}: ${e.message.replace(/ \(offset \d+\)$/, '')}`];
  }
  const m = r.message;
  const h = m.header;
  const out = [
    `${where}  IKEv${h.major} ${exchangeName(h.major, h.exchange)} (${h.exchange})`,
    `  icookie ${hex64(h.icookie)}  rcookie ${hex64(h.rcookie)}  version ${h.major}.${h.minor}  flags 0x${h.flags.toString(16).padStart(2, '0')}  msgid 0x${h.msgid.toString(16).padStart(8, '0')}  length ${h.length}`,
  ];
  if (m.encrypted) out.push(`  encrypted: ${m.encrypted.length} bytes after the header`);
  m.spans.forEach((s, i) => {
    const p = m.payloads[i]!;
    const crit = 'critical' in p && p.critical ? ' critical' : '';
    out.push(`  #${i} ${payloadName(h.major, s.type)} (${s.type}) length ${s.length}${crit}`);
  });
  const ted = tedJson(m);
  if (ted) {
    if ('error' in ted) {
      const e = ted.error as { code: string; offset: number };
      out.push(`  ted: invalid: ${e.code} at offset ${e.offset}`);
    } else out.push(`  ted ${spacedJson(ted)}`);
  }
  return out;
}

function familyOf(f: number): Family {
  return f === 6 ? 6 : 4;
}

/**
 * Decodes every ISAKMP message of a capture; `emit` receives one record per message (it may
 * return a promise, awaited for backpressure, or `false` to stop early).
 */
export async function decodeCapture(
  path: string,
  opts: DecodeOptions,
  emit: (r: MessageRecord) => void | boolean | Promise<void | boolean>,
  warn: (e: DecodeError) => void = () => {},
): Promise<number> {
  let n = 0;
  for await (const frame of readCaptureFile(path, { onError: warn })) {
    const pkt = decodeFrame(frame.linkType, frame.data);
    if (!pkt.ok || pkt.protocol !== 17 || !pkt.hasPorts) continue;
    const payload = frame.data.subarray(pkt.payloadOffset, pkt.payloadOffset + pkt.payloadLength);
    const start = isakmpStart(pkt.sport, pkt.dport, payload, opts.port);
    if (start < 0) continue;
    const family = familyOf(pkt.family);
    const rec: MessageRecord = {
      frame: frame.index,
      src: formatAddress(family, pkt.src),
      dst: formatAddress(family, pkt.dst),
      sport: pkt.sport,
      dport: pkt.dport,
    };
    // Offsets in errors count from the first byte of the ISAKMP header.
    const ike = payload.subarray(start);
    try {
      rec.message = decodeMessage(ike, 0, ike.length);
    } catch (err) {
      if (!(err instanceof DecodeError)) throw err;
      rec.error = err;
    }
    n++;
    if ((await emit(rec)) === false) break;
  }
  return n;
}

export function registerDecode(program: Command): void {
  program
    .command('decode')
    .description('print the ISAKMP/IKE messages of a pcap or pcapng capture (UDP 500, UDP 4500 with the non-ESP marker, or --port)')
    .argument('<file>', 'capture file (pcap or pcapng)', inputFile('capture'))
    .option('--json', 'one JSON object per message')
    .option('--port <n>', 'also treat this UDP port as ISAKMP', (v: string) => {
      const n = Number(v);
      if (!/^\d+$/.test(v) || n < 1 || n > 65535) throw new UsageError('TED_INPUT_BAD_PORT', `--port ${v}: expected a port number 1-65535`);
      return n;
    })
    .action(async (file: string, opts: DecodeOptions) => {
      // A reader that goes away (`| head`) ends the run quietly; a slow one is waited for.
      let closed = false;
      let failure: Error | undefined;
      const onError = (e: NodeJS.ErrnoException): void => {
        closed = true;
        if (e.code !== 'EPIPE') failure = e;
      };
      process.stdout.on('error', onError);
      const write = async (s: string): Promise<boolean> => {
        if (closed) return false;
        // once() rejects when 'error' fires while waiting: that is the EPIPE handled above.
        if (!process.stdout.write(s)) await Promise.race([once(process.stdout, 'drain'), once(process.stdout, 'close')]).catch(() => undefined);
        return !closed;
      };
      const warn = (e: DecodeError): void => {
        process.stderr.write(`ted: warning: ${e.code}: ${e.message}\n`);
      };
      try {
        await decodeCapture(file, opts, (r) => write(opts.json ? `${spacedJson(messageJson(r))}\n` : `${textLines(r).join('\n')}\n`), warn);
      } finally {
        process.stdout.off('error', onError);
      }
      if (failure) throw failure;
    });
}

