// `ted decode` output: one JSON line or a few text lines per message record, written as strings
// straight from the record (no intermediate objects per field), and a buffered writer that
// hands stdout large chunks and waits for it to drain.
import { once } from 'node:events';
import type { DecodeError } from '../errors.js';
import { isLastFragment, type CiscoFragmentPayload } from '../ike/fragments.js';
import type { Payload, PartialMessage } from '../ike/message.js';
import { exchangeName, payloadName } from '../ike/names.js';
import type { EncryptedPayloadV2 } from '../ike/payloads-v2.js';
import { verifyProbe, verifyResponse } from '../ike/ted.js';
import { TED_EXCHANGE_PROBE, TED_EXCHANGE_RESPONSE } from '../ike/ted-types.js';
import type { MessageRecord } from '../pcap/ike-capture.js';
import { formatAddress } from '../selector/address.js';
import { formatSelectorLines, protocolName } from '../selector/format.js';
import type { Selector } from '../selector/types.js';
import { DecodeError as DecodeErrorClass } from '../errors.js';

const HEX: string[] = Array.from({ length: 256 }, (_, i) => (i | 0x100).toString(16).slice(1));

function hexOf(b: Uint8Array, from: number, to: number): string {
  let s = '';
  for (let i = from; i < to; i++) s += HEX[b[i]!]!;
  return s;
}

/** JSON with ", " and ": " separators (the documented line format), for the rare nested objects. */
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

type TedDetails = { kind: 'probe'; value: ReturnType<typeof verifyProbe> } | { kind: 'response'; value: ReturnType<typeof verifyResponse> } | { kind: 'error'; error: DecodeError };

/** The discovery details of a whole 240/241 message, verified; undefined for anything else. */
function tedDetails(m: PartialMessage): TedDetails | undefined {
  const h = m.header;
  if (!h || m.error || h.major !== 1 || (h.exchange !== TED_EXCHANGE_PROBE && h.exchange !== TED_EXCHANGE_RESPONSE)) return undefined;
  const whole = m as Parameters<typeof verifyProbe>[0];
  try {
    return h.exchange === TED_EXCHANGE_PROBE ? { kind: 'probe', value: verifyProbe(whole) } : { kind: 'response', value: verifyResponse(whole) };
  } catch (err) {
    if (err instanceof DecodeErrorClass) return { kind: 'error', error: err };
    throw err;
  }
}

/** The `ted` value of the JSON line: null, the probe/response details, or the verification error. */
export function tedJson(m: PartialMessage): Record<string, unknown> | null {
  const t = tedDetails(m);
  if (!t) return null;
  if (t.kind === 'error') return { error: { code: t.error.code, offset: t.error.offset } };
  if (t.kind === 'probe') {
    const p = t.value;
    const s = p.summary;
    return {
      kind: 'probe',
      capabilities: p.capabilities,
      id: formatAddress(p.id.family, p.id.address),
      summary: { tedVersion: s.tedVersion, family: s.family, protocol: s.protocol, src: formatAddress(s.family, s.src), dst: formatAddress(s.family, s.dst), sport: s.sport, dport: s.dport },
      proxy: p.proxy ? proxyJson(p.proxy) : undefined,
    };
  }
  const r = t.value;
  return { kind: 'response', capabilities: r.capabilities, id: formatAddress(r.id.family, r.id.address), proxy: proxyJson(r.proxy) };
}

const frameList = (f: readonly number[]): string => `[${f.join(', ')}]`;

function payloadJson(type: number, length: number, p: Payload | undefined): string {
  if (p?.kind === 'frag') {
    const f = p as CiscoFragmentPayload;
    return `{"type": ${type}, "length": ${length}, "fragment": {"id": ${f.fragmentId}, "number": ${f.number}, "last": ${isLastFragment(f)}}}`;
  }
  if (p?.kind === 'sk' && (p as EncryptedPayloadV2).fragment) {
    const f = (p as EncryptedPayloadV2).fragment!;
    return `{"type": ${type}, "length": ${length}, "fragment": {"number": ${f.number}, "total": ${f.total}}}`;
  }
  return `{"type": ${type}, "length": ${length}}`;
}

/** One message record as its JSON line (no newline), keys in the documented order. */
export function jsonLine(r: MessageRecord): string {
  let s = `{"frame": ${r.frame}, "src": "${r.src}", "dst": "${r.dst}", "sport": ${r.sport}, "dport": ${r.dport}`;
  if (r.transport === 'tcp') s += ', "transport": "tcp"';
  if (r.fragments) s += `, "fragments": ${frameList(r.fragments)}`;
  if (r.segments) s += `, "segments": ${frameList(r.segments)}`;
  if (r.ikeFragments) s += `, "ikeFragments": ${frameList(r.ikeFragments)}`;
  const m = r.message;
  if (!m || !m.header) return `${s}, "error": {"code": "${r.error!.code}", "offset": ${r.error!.offset}}}`;
  const h = m.header;
  const b = r.bytes!;
  s += `, "icookie": "${hexOf(b, 0, 8)}", "rcookie": "${hexOf(b, 8, 16)}", "version": "${h.major}.${h.minor}", "exchange": ${h.exchange}, "flags": ${h.flags}, "msgid": ${h.msgid}, "length": ${h.length}`;
  let encrypted = m.encrypted !== undefined;
  let pl = '';
  const spans = m.spans;
  for (let i = 0; i < spans.length; i++) {
    const p = m.payloads[i];
    if (p?.kind === 'sk') encrypted = true;
    pl += (i === 0 ? '' : ', ') + payloadJson(spans[i]!.type, spans[i]!.length, p);
  }
  s += `, "encrypted": ${encrypted}, "payloads": [${pl}]`;
  if (m.trailing) s += `, "trailing": ${m.trailing}`;
  const ted = h.major === 1 && (h.exchange === TED_EXCHANGE_PROBE || h.exchange === TED_EXCHANGE_RESPONSE) ? tedJson(m) : null;
  s += `, "ted": ${ted ? spacedJson(ted) : 'null'}`;
  if (m.error) s += `, "error": {"code": "${m.error.code}", "offset": ${m.error.offset}}`;
  return `${s}}`;
}

const hostPort = (a: string, p: number): string => (a.includes(':') ? `[${a}]:${p}` : `${a}:${p}`);

function errorText(e: DecodeError): string {
  const pi = e.payloadIndex !== undefined ? ` (payload #${e.payloadIndex})` : '';
  // The message already ends with "(offset N)"; say it once.
  return `${e.code} at offset ${e.offset}${pi}: ${e.message.replace(/ \(offset \d+\)$/, '')}`;
}

function selectorText(s: Selector): string {
  const lines = formatSelectorLines(s);
  return lines.length === 1 ? lines[0]! : lines.join(' | ');
}

/** One message record as text lines (a newline after each). */
export function textLines(r: MessageRecord): string {
  const where = `frame ${r.frame}  ${hostPort(r.src, r.sport)} -> ${hostPort(r.dst, r.dport)}${r.transport === 'tcp' ? ' (tcp)' : ''}`;
  const origin: string[] = [];
  if (r.fragments) origin.push(`  reassembled from IP fragments in frames ${r.fragments.join(', ')}`);
  if (r.segments && r.segments.length > 1) origin.push(`  reassembled from TCP segments in frames ${r.segments.join(', ')}`);
  if (r.ikeFragments) origin.push(`  reassembled from IKE fragments in frames ${r.ikeFragments.join(', ')}`);
  const m = r.message;
  if (!m || !m.header) return [`${where}  error ${errorText(r.error!)}`, ...origin].join('\n') + '\n';
  const h = m.header;
  const b = r.bytes!;
  const out = [
    `${where}  IKEv${h.major} ${exchangeName(h.major, h.exchange)} (${h.exchange})`,
    ...origin,
    `  icookie ${hexOf(b, 0, 8)}  rcookie ${hexOf(b, 8, 16)}  version ${h.major}.${h.minor}  flags 0x${h.flags.toString(16).padStart(2, '0')}  msgid 0x${h.msgid.toString(16).padStart(8, '0')}  length ${h.length}`,
  ];
  if (m.encrypted) out.push(`  encrypted: ${m.encrypted.length} bytes after the header`);
  m.spans.forEach((s, i) => {
    const p = m.payloads[i]!;
    const crit = 'critical' in p && p.critical ? ' critical' : '';
    let extra = '';
    if (p.kind === 'frag') extra = `  fragment id ${p.fragmentId} number ${p.number}${isLastFragment(p) ? ' (last)' : ''}`;
    else if (p.kind === 'sk' && p.fragment) extra = `  fragment ${p.fragment.number} of ${p.fragment.total}`;
    out.push(`  #${i} ${payloadName(h.major, s.type)} (${s.type}) length ${s.length}${crit}${extra}`);
  });
  if (m.trailing) out.push(`  warning: ${m.trailing} trailing bytes after the ${h.length}-byte message`);
  if (m.error) out.push(`  error ${errorText(m.error)}`);
  const t = tedDetails(m);
  if (t?.kind === 'error') out.push(`  ted: invalid: ${t.error.code} at offset ${t.error.offset}`);
  else if (t?.kind === 'probe') {
    const p = t.value;
    const s = p.summary;
    const ports = s.sport || s.dport ? ` ports ${s.sport} -> ${s.dport}` : '';
    out.push(`  ted probe: capabilities 0x${p.capabilities.toString(16)}, id ${formatAddress(p.id.family, p.id.address)}, TED v${s.tedVersion}`);
    out.push(`  packet: ${protocolName(s.family, s.protocol)} ${formatAddress(s.family, s.src)} -> ${formatAddress(s.family, s.dst)}${ports}`);
    if (p.proxy) out.push(`  proxy: ${selectorText(p.proxy)}`);
  } else if (t?.kind === 'response') {
    const r2 = t.value;
    out.push(`  ted response: capabilities 0x${r2.capabilities.toString(16)}, id ${formatAddress(r2.id.family, r2.id.address)}`);
    out.push(`  proxy: ${selectorText(r2.proxy)}`);
  }
  return out.join('\n') + '\n';
}

/**
 * Collects output into large chunks for a writable stream. `write` only appends; `drain()`
 * hands over what is buffered once it is large (or always with `force`) and waits while the
 * stream is full. A stream that closed (EPIPE: `| head`) makes `closed` true.
 */
export class BufferedWriter {
  closed = false;
  failure: Error | undefined;
  private parts: string[] = [];
  private size = 0;
  private readonly onError = (e: NodeJS.ErrnoException): void => {
    this.closed = true;
    if (e.code !== 'EPIPE') this.failure = e;
  };

  constructor(
    private readonly out: NodeJS.WritableStream,
    private readonly chunk = 1 << 16,
  ) {
    out.on('error', this.onError);
  }

  write(s: string): void {
    this.parts.push(s);
    this.size += s.length;
  }

  /** True when enough is buffered that drain() will write. */
  get full(): boolean {
    return this.size >= this.chunk;
  }

  async drain(force = false): Promise<boolean> {
    if (this.closed) return false;
    if (this.size === 0 || (!force && this.size < this.chunk)) return true;
    const text = this.parts.join('');
    this.parts = [];
    this.size = 0;
    // once() rejects when 'error' fires while waiting: that is the EPIPE handled above.
    if (!this.out.write(text)) await Promise.race([once(this.out, 'drain'), once(this.out, 'close')]).catch(() => undefined);
    return !this.closed;
  }

  close(): void {
    this.out.off('error', this.onError);
  }
}
