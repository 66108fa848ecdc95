// `ted decode` output: one JSON line or a few text lines per message record, written as strings
// straight from the record (no intermediate objects per field), and a buffered writer that
// hands stdout large chunks and waits for it to drain.
import type { DecodeError } from '../errors.js';
import { isLastFragment, type CiscoFragmentPayload } from '../ike/fragments.js';
import type { Payload, PartialMessage } from '../ike/message.js';
import { exchangeName, payloadName } from '../ike/names.js';
import type { EncryptedPayloadV2 } from '../ike/payloads-v2.js';
import { verifyProbe, verifyResponse } from '../ike/ted.js';
import { GENERIC_HEADER_LENGTH } from '../ike/constants.js';
import { TED_EXCHANGE_PROBE, TED_EXCHANGE_RESPONSE } from '../ike/ted-types.js';
import type { MessageRecord } from '../pcap/ike-capture.js';
import { formatAddress } from '../selector/address.js';
import { addressJson, formatSelector, formatSelectorLines, protocolName } from '../selector/format.js';
import type { Address, Family, Selector } from '../selector/types.js';
import { DecodeError as DecodeErrorClass } from '../errors.js';

const HEX: string[] = Array.from({ length: 256 }, (_, i) => (i | 0x100).toString(16).slice(1));

function hexOf(b: Uint8Array, from: number, to: number): string {
  let s = '';
  for (let i = from; i < to; i++) s += HEX[b[i]!]!;
  return s;
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

/**
 * The `ted` value of the JSON line: null, the probe/response details, or the verification error.
 * With the message's bytes, the proxy's JSON comes from `proxies` when its payload was seen lately.
 */
function writeTed(o: ByteSink, m: PartialMessage, bytes?: Uint8Array): void {
  const t = tedDetails(m);
  if (!t) return o.bytes(K_NULL);
  if (t.kind === 'error') {
    o.strAfter(K_TED_ERROR, t.error.code);
    o.numAfter(K_OFFSET, t.error.offset);
    return o.bytes(K_CLOSE2);
  }
  const v = t.value;
  o.bytes(t.kind === 'probe' ? K_PROBE : K_RESPONSE);
  o.num(v.capabilities);
  o.bytes(K_ID);
  writeAddress(o, v.id.family, v.id.address);
  if (t.kind === 'probe') {
    const s = t.value.summary;
    o.numAfter(K_SUMMARY, s.tedVersion);
    o.numAfter(K_FAMILY, s.family);
    o.numAfter(K_PROTOCOL, s.protocol);
    o.bytes(K_SRC);
    writeAddress(o, s.family, s.src);
    o.bytes(K_DST);
    writeAddress(o, s.family, s.dst);
    o.numAfter(K_SPORT, s.sport);
    o.numAfter(K_DPORT, s.dport);
    o.bytes(K_CLOSE);
  } else o.bytes(K_QUOTE);
  const proxy = t.kind === 'probe' ? t.value.proxy : t.value.proxy;
  if (proxy) {
    o.bytes(K_PROXY);
    // Verification took the one payload of this kind: its body is all the selector is made of.
    const i = bytes ? m.payloads.findIndex((p) => p.kind === (t.kind === 'probe' ? 'ted-proxy' : 'ted-response')) : -1;
    if (i < 0) writeSelector(o, proxy);
    else {
      // `bytes` starts at the ISAKMP header (m.offset in the decoded buffer).
      const from = m.spans[i]!.offset - m.offset + GENERIC_HEADER_LENGTH;
      const to = from - GENERIC_HEADER_LENGTH + m.spans[i]!.length;
      if (!proxies.write(o, bytes!, from, to)) {
        const start = o.n;
        writeSelector(o, proxy);
        proxies.add(bytes!, from, to, o, start);
      }
    }
  }
  o.bytes(K_CLOSE);
}

/**
 * The JSON of the TED proxies seen last, keyed by their payload body: a gateway's probes and
 * responses carry the few entries of its crypto ACLs again and again, and formatting a selector
 * (its Cisco entry text above all) cost more than all the rest of a line. Each of the 8 slots
 * keeps its buffers: a capture whose proxies never repeat allocates nothing here either.
 */
class ProxyTexts {
  private readonly keys: Uint8Array[] = [];
  private readonly keyLengths: number[] = [];
  private readonly texts: Uint8Array[] = [];
  private readonly textLengths: number[] = [];
  private next = 0;

  /** Writes the JSON of the proxy whose payload body is b[from, to) when it is known; false when not. */
  write(o: ByteSink, b: Uint8Array, from: number, to: number): boolean {
    const n = to - from;
    for (let k = 0; k < this.keys.length; k++) {
      if (this.keyLengths[k] !== n) continue;
      const key = this.keys[k]!;
      let i = 0;
      while (i < n && key[i] === b[from + i]) i++;
      if (i === n) {
        o.range(this.texts[k]!, 0, this.textLengths[k]!);
        return true;
      }
    }
    return false;
  }

  /** Remembers the JSON written into `o` from position `start` as that of the payload body b[from, to). */
  add(b: Uint8Array, from: number, to: number, o: ByteSink, start: number): void {
    const slot = this.next;
    this.next = (slot + 1) % 8;
    this.keys[slot] = fill(this.keys[slot], b, from, to);
    this.keyLengths[slot] = to - from;
    this.texts[slot] = o.copyInto(start, this.texts[slot]);
    this.textLengths[slot] = o.n - start;
  }
}

/** src[from, to) copied to the start of `into`, or of a new array when it is absent or too small. */
function fill(into: Uint8Array | undefined, src: Uint8Array, from: number, to: number): Uint8Array {
  const out = into && into.length >= to - from ? into : new Uint8Array(Math.max(256, 2 * (to - from)));
  putRange(out, 0, src, from, to);
  return out;
}

const proxies = new ProxyTexts();

/** An address as formatAddress writes it; IPv4 straight from its number, with no string. */
function writeAddress(o: ByteSink, family: Family, v: bigint): void {
  if (family === 4) o.ipv4(Number(v) >>> 0);
  else o.str(formatAddress(family, v));
}

/**
 * A selector in the one shape every command's JSON uses (src/selector/format.ts selectorJson,
 * which a test holds this to), written straight into the sink.
 */
function writeSelector(o: ByteSink, s: Selector): void {
  o.numAfter(K_SEL_PROTOCOL, s.protocol);
  o.bytes(K_SEL_SOURCE);
  writeAddressJson(o, s.family, s.src);
  o.bytes(K_SEL_DESTINATION);
  writeAddressJson(o, s.family, s.dst);
  o.bytes(K_SEL_SPORT);
  writePorts(o, s.sport);
  o.bytes(K_SEL_DPORT);
  writePorts(o, s.dport);
  o.bytes(K_SEL_ENTRY);
  // Several entries (a port set no single entry expresses) are joined by newlines: escaped.
  o.jsonString(formatSelector(s));
  o.bytes(K_CLOSE);
}

/** addressJson(family, a) written out: IPv4 value and wildcard from their numbers. */
function writeAddressJson(o: ByteSink, family: Family, a: Address): void {
  if (family === 4) {
    o.bytes(K_VALUE);
    o.ipv4(Number(a.value) >>> 0);
    o.bytes(K_WILDCARD);
    o.ipv4(~Number(a.care) >>> 0);
  } else {
    const j = addressJson(family, a);
    if ('prefix' in j) {
      o.strAfter(K_PREFIX, j.prefix);
    } else {
      o.strAfter(K_VALUE, j.value);
      o.strAfter(K_WILDCARD, j.wildcard);
    }
  }
  o.bytes(K_QUOTE_CLOSE);
}

function writePorts(o: ByteSink, set: Selector['sport']): void {
  const one = set.length === 1;
  if (!one) o.bytes(K_OPEN_LIST);
  for (let i = 0; i < set.length; i++) {
    if (i > 0) o.bytes(K_COMMA);
    o.numAfter(K_OPEN_LIST, set[i]!.lo);
    o.numAfter(K_COMMA, set[i]!.hi);
    o.bytes(K_CLOSE_LIST);
  }
  if (!one) o.bytes(K_CLOSE_LIST);
}

/** The `ted` value of the JSON line as text. */
export function tedJsonText(m: PartialMessage): string {
  const o = new ByteSink(1024);
  writeTed(o, m);
  return latin1.decode(o.take());
}

/** The `ted` value as an object (the parsed tedJsonText). */
export function tedJson(m: PartialMessage): Record<string, unknown> | null {
  return JSON.parse(tedJsonText(m)) as Record<string, unknown> | null;
}

// Writers over (buffer, position): each returns the position after what it wrote; the caller
// made room. A line is written with its position in a local variable (no field loads and stores
// per piece), through ByteSink.reserve().

/** Pre-encoded ASCII (the constant parts of a line). */
function putBytes(b: Uint8Array, n: number, a: Uint8Array): number {
  return putRange(b, n, a, 0, a.length);
}

/** Bytes a[from, to) (a short copy by hand beats set()'s call overhead). */
function putRange(b: Uint8Array, n: number, a: Uint8Array, from: number, to: number): number {
  for (let i = from; i < to; i++) b[n++] = a[i]!;
  return n;
}

/** ASCII text (every byte of our JSON is ASCII). */
function putAscii(b: Uint8Array, n: number, s: string): number {
  for (let i = 0; i < s.length; i++) b[n++] = s.charCodeAt(i);
  return n;
}

/** A non-negative integer below 2^53 (at most 16 bytes). */
function putNum(b: Uint8Array, n: number, v: number): number {
  if (v < 10) {
    b[n] = 48 + v;
    return n + 1;
  }
  if (v > 0x7fffffff) return putWideNum(b, n, v);
  // Int32 arithmetic and two digits per division (most numbers here are lengths, ports, frames).
  const digits = v < 100 ? 2 : v < 1000 ? 3 : v < 10000 ? 4 : v < 100000 ? 5 : v < 1000000 ? 6 : v < 10000000 ? 7 : v < 100000000 ? 8 : v < 1000000000 ? 9 : 10;
  const end = n + digits;
  let at = end;
  let x = v | 0;
  while (x >= 100) {
    const q = (x / 100) | 0;
    const r = (x - q * 100) << 1;
    b[--at] = DIGIT_PAIRS[r + 1]!;
    b[--at] = DIGIT_PAIRS[r]!;
    x = q;
  }
  if (x >= 10) {
    b[--at] = DIGIT_PAIRS[(x << 1) + 1]!;
    b[--at] = DIGIT_PAIRS[x << 1]!;
  } else b[--at] = 48 + x;
  return end;
}

/** putNum beyond int32 (message IDs, 53-bit values). */
function putWideNum(b: Uint8Array, n: number, v: number): number {
  let digits = 1;
  for (let x = v; x >= 10; digits++) x = Math.floor(x / 10);
  const end = n + digits;
  let at = end;
  for (let x = v; digits-- > 0; ) {
    const q = Math.floor(x / 10);
    b[--at] = 48 + (x - q * 10);
    x = q;
  }
  return end;
}

/** Lower-case hex of src[from, to). */
function putHex(b: Uint8Array, n: number, src: Uint8Array, from: number, to: number): number {
  for (let i = from; i < to; i++) {
    const v = src[i]!;
    const hi = v >> 4;
    const lo = v & 15;
    b[n++] = hi < 10 ? 48 + hi : 87 + hi;
    b[n++] = lo < 10 ? 48 + lo : 87 + lo;
  }
  return n;
}

/** "00" to "99", two ASCII bytes each. */
const DIGIT_PAIRS = Uint8Array.from({ length: 200 }, (_, i) => 48 + (i & 1 ? (i >> 1) % 10 : Math.floor((i >> 1) / 10)));

const utf8Encoder = new TextEncoder();

/**
 * ASCII output assembled as bytes in large buffers: JSON lines are written field by field into
 * it, with no string per field or per line. `take()` hands over the filled part (a fresh buffer
 * is started, since a stream may still hold the old one).
 */
export class ByteSink {
  private buf: Uint8Array;
  n = 0;
  constructor(private readonly size = 1 << 20) {
    this.buf = new Uint8Array(size);
  }

  /** Room for `k` more bytes (a line longer than the buffer grows it). */
  private room(k: number): void {
    if (this.n + k <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.n + k));
    next.set(this.buf.subarray(0, this.n));
    this.buf = next;
  }

  /** The buffer, with room for `k` bytes from position `n`: write with the put functions, then set `n`. */
  reserve(k: number): Uint8Array {
    if (this.n + k > this.buf.length) this.room(k);
    return this.buf;
  }

  /** ASCII text (every byte of our JSON is ASCII). */
  str(s: string): void {
    this.n = putAscii(this.reserve(s.length), this.n, s);
  }

  /** Pre-encoded ASCII. */
  bytes(a: Uint8Array): void {
    this.n = putBytes(this.reserve(a.length), this.n, a);
  }

  /** A non-negative integer below 2^53. */
  num(v: number): void {
    this.n = putNum(this.reserve(16), this.n, v);
  }

  /** An IPv4 address (a 32-bit unsigned number) in dotted decimal. */
  ipv4(v: number): void {
    this.num(v >>> 24);
    this.b1(46);
    this.num((v >>> 16) & 255);
    this.b1(46);
    this.num((v >>> 8) & 255);
    this.b1(46);
    this.num(v & 255);
  }

  private b1(c: number): void {
    if (this.n >= this.buf.length) this.room(1);
    this.buf[this.n++] = c;
  }

  /** A string as JSON.stringify writes it (ASCII without escapes is copied; anything else goes through JSON.stringify). */
  jsonString(s: string): void {
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c < 0x20 || c > 0x7e || c === 34 || c === 92) return this.utf8(JSON.stringify(s));
    }
    this.b1(34);
    this.str(s);
    this.b1(34);
  }

  /** Bytes a[from, to). */
  range(a: Uint8Array, from: number, to: number): void {
    this.n = putRange(this.reserve(to - from), this.n, a, from, to);
  }

  /** What was written from position `from` on, copied to the start of `into` (or of a new array when it is absent or too small). */
  copyInto(from: number, into: Uint8Array | undefined): Uint8Array {
    return fill(into, this.buf, from, this.n);
  }

  /** Any text, UTF-8 encoded. */
  utf8(s: string): void {
    this.room(s.length * 3);
    this.n += utf8Encoder.encodeInto(s, this.buf.subarray(this.n)).written;
  }

  /** A key (pre-encoded) and a number. */
  numAfter(key: Uint8Array, v: number): void {
    this.bytes(key);
    this.num(v);
  }

  /** A key (pre-encoded) and ASCII text. */
  strAfter(key: Uint8Array, s: string): void {
    this.bytes(key);
    this.str(s);
  }

  list(f: readonly number[]): void {
    this.str('[');
    for (let i = 0; i < f.length; i++) {
      if (i > 0) this.str(', ');
      this.num(f[i]!);
    }
    this.str(']');
  }

  /** The bytes written so far; the sink starts over in a recycled buffer, or a new one. */
  take(): Uint8Array {
    const out = this.buf.subarray(0, this.n);
    this.buf = this.spare.pop() ?? new Uint8Array(this.size);
    this.n = 0;
    return out;
  }

  /**
   * Gives back a buffer from take() once its reader is done with it (fewer large allocations, less
   * GC). Up to 32 are kept: a file's stream writes at once but calls back only on the next tick,
   * after everything one read of the capture produced (some 25 buffers).
   */
  recycle(b: Uint8Array): void {
    if (b.buffer.byteLength === this.size && this.spare.length < 32) this.spare.push(new Uint8Array(b.buffer));
  }

  private readonly spare: Uint8Array[] = [];
}

// The constant parts of the JSON lines, encoded once.
const ascii = (t: string): Uint8Array => Uint8Array.from(t, (c) => c.charCodeAt(0));
const K_TYPE = ascii('{"type": ');
const K_LENGTH = ascii(', "length": ');
const K_FRAGMENT_ID = ascii(', "fragment": {"id": ');
const K_NUMBER = ascii(', "number": ');
const K_LAST = ascii(', "last": ');
const K_CLOSE = ascii('}');
const K_FRAGMENT_NUMBER = ascii(', "fragment": {"number": ');
const K_TOTAL = ascii(', "total": ');
const K_ERROR_CODE = ascii(', "error": {"code": "');
const K_OFFSET = ascii('", "offset": ');
const K_FRAME = ascii('{"frame": ');
const K_SRC = ascii(', "src": "');
const K_DST = ascii('", "dst": "');
const K_SPORT = ascii('", "sport": ');
const K_DPORT = ascii(', "dport": ');
const K_TCP = ascii(', "transport": "tcp"');
const K_FRAGMENTS = ascii(', "fragments": ');
const K_SEGMENTS = ascii(', "segments": ');
const K_IKE_FRAGMENTS = ascii(', "ikeFragments": ');
const K_END_LINE = ascii('}\n');
const K_ICOOKIE = ascii(', "icookie": "');
const K_RCOOKIE = ascii('", "rcookie": "');
const K_VERSION = ascii('", "version": "');
const K_DOT = ascii('.');
const K_EXCHANGE = ascii('", "exchange": ');
const K_FLAGS = ascii(', "flags": ');
const K_MSGID = ascii(', "msgid": ');
const K_ENCRYPTED = ascii(', "encrypted": ');
const K_PAYLOADS = ascii(', "payloads": [');
const K_COMMA = ascii(', ');
const K_CLOSE_LIST = ascii(']');
const K_TRAILING = ascii(', "trailing": ');
const K_TED = ascii(', "ted": ');
const K_NULL = ascii('null');
const K_TED_ERROR = ascii('{"error": {"code": "');
const K_CLOSE2 = ascii('}}');
const K_PROBE = ascii('{"kind": "probe", "capabilities": ');
const K_RESPONSE = ascii('{"kind": "response", "capabilities": ');
const K_ID = ascii(', "id": "');
const K_SUMMARY = ascii('", "summary": {"tedVersion": ');
const K_FAMILY = ascii(', "family": ');
const K_PROTOCOL = ascii(', "protocol": ');
const K_QUOTE = ascii('"');
const K_PROXY = ascii(', "proxy": ');
const K_SEL_PROTOCOL = ascii('{"protocol": ');
const K_SEL_SOURCE = ascii(', "source": ');
const K_SEL_DESTINATION = ascii(', "destination": ');
const K_SEL_SPORT = ascii(', "sport": ');
const K_SEL_DPORT = ascii(', "dport": ');
const K_SEL_ENTRY = ascii(', "entry": ');
const K_PREFIX = ascii('{"prefix": "');
const K_VALUE = ascii('{"value": "');
const K_WILDCARD = ascii('", "wildcard": "');
const K_QUOTE_CLOSE = ascii('"}');
const K_OPEN_LIST = ascii('[');
const K_TRUE = ascii('true');
const K_FALSE = ascii('false');

/** A payload of the list: type, length, and the fragment numbers of a fragment. */
function putPayload(b: Uint8Array, n: number, type: number, length: number, p: Payload | undefined): number {
  n = putNum(b, putBytes(b, n, K_TYPE), type);
  n = putNum(b, putBytes(b, n, K_LENGTH), length);
  if (p?.kind === 'frag') {
    const f = p as CiscoFragmentPayload;
    n = putNum(b, putBytes(b, n, K_FRAGMENT_ID), f.fragmentId);
    n = putNum(b, putBytes(b, n, K_NUMBER), f.number);
    n = putBytes(b, putBytes(b, n, K_LAST), isLastFragment(f) ? K_TRUE : K_FALSE);
    n = putBytes(b, n, K_CLOSE);
  } else if (p?.kind === 'sk' && (p as EncryptedPayloadV2).fragment) {
    const f = (p as EncryptedPayloadV2).fragment!;
    n = putNum(b, putBytes(b, n, K_FRAGMENT_NUMBER), f.number);
    n = putNum(b, putBytes(b, n, K_TOTAL), f.total);
    n = putBytes(b, n, K_CLOSE);
  }
  return putBytes(b, n, K_CLOSE);
}

/** Bytes a payload of the list takes at most (keys and 16 digits per number). */
const PAYLOAD_MAX = 160;

function writeError(o: ByteSink, e: DecodeError): void {
  o.strAfter(K_ERROR_CODE, e.code);
  o.numAfter(K_OFFSET, e.offset);
  o.bytes(K_CLOSE);
}

/** One message record as its JSON line plus newline, written into `o`, keys in the documented order. */
export function writeJsonLine(r: MessageRecord, o: ByteSink): void {
  // Everything up to the payload list has a bound; the lists and the TED details reserve their own.
  let b = o.reserve(512 + r.src.length + r.dst.length);
  let n = o.n;
  n = putNum(b, putBytes(b, n, K_FRAME), r.frame);
  n = putAscii(b, putBytes(b, n, K_SRC), r.src);
  n = putAscii(b, putBytes(b, n, K_DST), r.dst);
  n = putNum(b, putBytes(b, n, K_SPORT), r.sport);
  n = putNum(b, putBytes(b, n, K_DPORT), r.dport);
  if (r.transport === 'tcp') n = putBytes(b, n, K_TCP);
  o.n = n;
  if (r.fragments) {
    o.bytes(K_FRAGMENTS);
    o.list(r.fragments);
  }
  if (r.segments) {
    o.bytes(K_SEGMENTS);
    o.list(r.segments);
  }
  if (r.ikeFragments) {
    o.bytes(K_IKE_FRAGMENTS);
    o.list(r.ikeFragments);
  }
  const m = r.message;
  if (!m || !m.header) {
    writeError(o, r.error!);
    o.bytes(K_END_LINE);
    return;
  }
  const h = m.header;
  const bytes = r.bytes!;
  const spans = m.spans;
  b = o.reserve(512 + PAYLOAD_MAX * spans.length);
  n = o.n;
  n = putHex(b, putBytes(b, n, K_ICOOKIE), bytes, 0, 8);
  n = putHex(b, putBytes(b, n, K_RCOOKIE), bytes, 8, 16);
  n = putNum(b, putBytes(b, n, K_VERSION), h.major);
  n = putNum(b, putBytes(b, n, K_DOT), h.minor);
  n = putNum(b, putBytes(b, n, K_EXCHANGE), h.exchange);
  n = putNum(b, putBytes(b, n, K_FLAGS), h.flags);
  n = putNum(b, putBytes(b, n, K_MSGID), h.msgid);
  n = putNum(b, putBytes(b, n, K_LENGTH), h.length);
  let encrypted = m.encrypted !== undefined;
  for (let i = 0; i < spans.length; i++) if (m.payloads[i]?.kind === 'sk') encrypted = true;
  n = putBytes(b, putBytes(b, n, K_ENCRYPTED), encrypted ? K_TRUE : K_FALSE);
  n = putBytes(b, n, K_PAYLOADS);
  for (let i = 0; i < spans.length; i++) {
    if (i > 0) n = putBytes(b, n, K_COMMA);
    n = putPayload(b, n, spans[i]!.type, spans[i]!.length, m.payloads[i]);
  }
  n = putBytes(b, n, K_CLOSE_LIST);
  if (m.trailing) n = putNum(b, putBytes(b, n, K_TRAILING), m.trailing);
  n = putBytes(b, n, K_TED);
  o.n = n;
  if (h.major === 1 && (h.exchange === TED_EXCHANGE_PROBE || h.exchange === TED_EXCHANGE_RESPONSE)) writeTed(o, m, bytes);
  else o.bytes(K_NULL);
  if (m.error) writeError(o, m.error);
  o.bytes(K_END_LINE);
}

const lineSink = new ByteSink(4096);
const latin1 = new TextDecoder('latin1');

/** One message record as its JSON line (no newline). */
export function jsonLine(r: MessageRecord): string {
  writeJsonLine(r, lineSink);
  const b = lineSink.take();
  return latin1.decode(b.subarray(0, b.length - 1));
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
  if (r.fragments) origin.push(`  IP fragments: frames ${r.fragments.join(', ')}`);
  if (r.segments && r.segments.length > 1) origin.push(`  TCP segments: frames ${r.segments.join(', ')}`);
  if (r.ikeFragments) origin.push(`  reassembled from IKE fragments: frames ${r.ikeFragments.join(', ')}`);
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
 * Output for a writable stream in large chunks: JSON lines go straight into `bytes` (a ByteSink),
 * text through `write`. `drain()` hands over what is buffered once it is large (or always with
 * `force`) and waits while the stream is full. A stream that closed (EPIPE: `| head`) makes
 * `closed` true.
 */
export class BufferedWriter {
  closed = false;
  failure: Error | undefined;
  readonly bytes: ByteSink;
  private readonly onError = (e: NodeJS.ErrnoException): void => {
    this.closed = true;
    if (e.code !== 'EPIPE') this.failure = e;
  };

  constructor(
    private readonly out: NodeJS.WritableStream,
    private readonly chunk = 1 << 16,
  ) {
    this.bytes = new ByteSink(Math.max(chunk * 2, 1 << 17));
    out.on('error', this.onError);
  }

  /** Text, UTF-8 encoded. */
  write(s: string): void {
    this.bytes.utf8(s);
  }

  /** True when enough is buffered that drain() will write. */
  get full(): boolean {
    return this.bytes.n >= this.chunk;
  }

  async drain(force = false): Promise<boolean> {
    if (this.closed) return false;
    if (this.bytes.n === 0 || (!force && this.bytes.n < this.chunk)) return true;
    const taken = this.bytes.take();
    // A Buffer view (no copy): streams and anything that stringifies a chunk read it as text.
    // The buffer is reused once the stream says it was written.
    const chunk = Buffer.from(taken.buffer, taken.byteOffset, taken.length);
    if (!this.out.write(chunk, () => this.bytes.recycle(taken))) {
      // Wait for room, or for the end of the stream (an error is recorded by onError).
      const out = this.out;
      await new Promise<void>((resolve) => {
        const done = (): void => {
          out.off('drain', done);
          out.off('close', done);
          out.off('error', done);
          resolve();
        };
        out.on('drain', done);
        out.on('close', done);
        out.on('error', done);
      });
    }
    return !this.closed;
  }

  close(): void {
    this.out.off('error', this.onError);
  }
}
