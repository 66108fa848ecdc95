// VICI message elements (strongSwan src/libcharon/plugins/vici/README.md, "Message format"): a
// tree of sections holding key/values, lists of values and sub-sections, written as a flat
// sequence of typed elements. Decoding checks structure only and fails with a DecodeError whose
// code is VICI_* and whose offset points into the message bytes.
//
//   SECTION_START (1)  name                  KEY_VALUE (3)  name  value
//   SECTION_END   (2)                        LIST_START (4) name
//   LIST_ITEM     (5)  value                 LIST_END   (6)
//
//   name:  +--------+----------------+        value: +-----------------+-------------+
//          | len u8 | len ASCII bytes |              | len u16 (BE)    | len bytes   |
//          +--------+----------------+               +-----------------+-------------+
import { DecodeError, TedError } from '../errors.js';

export const SECTION_START = 1;
export const SECTION_END = 2;
export const KEY_VALUE = 3;
export const LIST_START = 4;
export const LIST_ITEM = 5;
export const LIST_END = 6;

/** Sections deeper than this are refused: charon's deepest messages nest about 5 levels. */
export const MAX_DEPTH = 32;

export type ViciValue = string | Uint8Array;

/** A decoded message or section. Keys are unique (the README requires it; a repeat is an error). */
export interface ViciSection {
  [key: string]: ViciValue | ViciValue[] | ViciSection;
}

/** What `encodeMessage` takes: numbers are written in decimal, booleans as yes/no, undefined keys are left out. */
export type ViciScalar = string | number | boolean | Uint8Array;
export interface ViciInput {
  [key: string]: ViciScalar | readonly ViciScalar[] | ViciInput | undefined;
}

export interface DecodeOptions {
  /** 'string' (default): values as UTF-8 text; 'bytes': values as Uint8Array (exact, for binary blobs). */
  readonly values?: 'string' | 'bytes';
}

const utf8 = new TextEncoder();
const text = new TextDecoder('utf-8');

function isSection(v: unknown): v is ViciInput {
  return typeof v === 'object' && v !== null && !(v instanceof Uint8Array) && !Array.isArray(v);
}

function scalarBytes(v: ViciScalar, key: string): Uint8Array {
  let b: Uint8Array;
  if (v instanceof Uint8Array) b = v;
  else if (typeof v === 'string') b = utf8.encode(v);
  else if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new TedError('VICI_BAD_VALUE', `${key}: not a finite number: ${v}`);
    b = utf8.encode(String(v));
  } else if (typeof v === 'boolean') b = utf8.encode(v ? 'yes' : 'no');
  else throw new TedError('VICI_BAD_VALUE', `${key}: a value must be a string, number, boolean or bytes, got ${typeof v}`);
  if (b.length > 0xffff) throw new TedError('VICI_VALUE_TOO_LONG', `${key}: value of ${b.length} bytes; a VICI value holds at most 65535`);
  return b;
}

function nameBytes(name: string): Uint8Array {
  // Names are ASCII by the README; written one byte per character (latin1), as the decoder reads them.
  if (name.length > 255) throw new TedError('VICI_BAD_NAME', `name of ${name.length} characters; a VICI name holds at most 255`);
  const b = new Uint8Array(name.length);
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c > 0xff) throw new TedError('VICI_BAD_NAME', `name '${name}' has a character that is not one byte (ASCII expected)`);
    b[i] = c;
  }
  return b;
}

/** The elements of one message, flattened, with their bytes resolved once (sizes, then one write). */
type Element =
  | { readonly type: typeof SECTION_START | typeof LIST_START; readonly name: Uint8Array }
  | { readonly type: typeof KEY_VALUE; readonly name: Uint8Array; readonly value: Uint8Array }
  | { readonly type: typeof LIST_ITEM; readonly value: Uint8Array }
  | { readonly type: typeof SECTION_END | typeof LIST_END };

function flatten(msg: ViciInput, out: Element[], depth: number, path: string): void {
  if (depth > MAX_DEPTH) throw new TedError('VICI_TOO_DEEP', `${path}: sections nest deeper than ${MAX_DEPTH}`);
  for (const key of Object.keys(msg)) {
    const v = msg[key];
    if (v === undefined) continue;
    const where = path ? `${path}.${key}` : key;
    const name = nameBytes(key);
    if (Array.isArray(v)) {
      out.push({ type: LIST_START, name });
      for (const item of v as readonly ViciScalar[]) out.push({ type: LIST_ITEM, value: scalarBytes(item, where) });
      out.push({ type: LIST_END });
    } else if (isSection(v)) {
      out.push({ type: SECTION_START, name });
      flatten(v, out, depth + 1, where);
      out.push({ type: SECTION_END });
    } else out.push({ type: KEY_VALUE, name, value: scalarBytes(v as ViciScalar, where) });
  }
}

function elementLength(e: Element): number {
  switch (e.type) {
    case SECTION_START:
    case LIST_START:
      return 2 + e.name.length;
    case KEY_VALUE:
      return 4 + e.name.length + e.value.length;
    case LIST_ITEM:
      return 3 + e.value.length;
    default:
      return 1;
  }
}

/** A message ready to write: its exact length, and `write` into any buffer at any offset. */
export interface PreparedMessage {
  readonly length: number;
  write(buf: Uint8Array, offset: number): number;
}

export function prepareMessage(msg: ViciInput): PreparedMessage {
  const elements: Element[] = [];
  flatten(msg, elements, 0, '');
  let length = 0;
  for (const e of elements) length += elementLength(e);
  return {
    length,
    write(buf, offset) {
      if (offset < 0 || offset + length > buf.length) throw new TedError('VICI_NO_SPACE', `message of ${length} bytes does not fit at offset ${offset} of ${buf.length}`);
      let o = offset;
      for (const e of elements) {
        buf[o++] = e.type;
        if ('name' in e) {
          buf[o++] = e.name.length;
          buf.set(e.name, o);
          o += e.name.length;
        }
        if ('value' in e) {
          buf[o++] = e.value.length >>> 8;
          buf[o++] = e.value.length & 0xff;
          buf.set(e.value, o);
          o += e.value.length;
        }
      }
      return o - offset;
    },
  };
}

export function messageEncodingLength(msg: ViciInput): number {
  return prepareMessage(msg).length;
}

/** Encodes into `buf` at `offset` (default: a new buffer of the exact size); returns the bytes written via the result's length. */
export function encodeMessage(msg: ViciInput): Uint8Array;
export function encodeMessage(msg: ViciInput, buf: Uint8Array, offset: number): number;
export function encodeMessage(msg: ViciInput, buf?: Uint8Array, offset = 0): Uint8Array | number {
  const p = prepareMessage(msg);
  if (!buf) {
    const out = new Uint8Array(p.length);
    p.write(out, 0);
    return out;
  }
  return p.write(buf, offset);
}

function fail(code: string, message: string, offset: number, truncated = false): never {
  throw new DecodeError(code, message, offset, { truncated });
}

/**
 * Decodes the message in `buf[offset, end)`. Offsets in errors are relative to `buf`. Every
 * element is checked: names and values within bounds, sections balanced, list items only inside
 * a list, keys unique per section.
 */
export function decodeMessage(buf: Uint8Array, offset = 0, end = buf.length, options: DecodeOptions = {}): ViciSection {
  const asBytes = options.values === 'bytes';
  const root: ViciSection = Object.create(null) as ViciSection;
  const stack: ViciSection[] = [root];
  let list: ViciValue[] | undefined;
  let listAt = 0;
  let o = offset;

  // Names are read byte for byte (latin1): ASCII by the README, and lossless whatever arrives.
  const readName = (): string => {
    if (o >= end) fail('VICI_TRUNCATED', 'element name length missing', o, true);
    const n = buf[o]!;
    if (o + 1 + n > end) fail('VICI_TRUNCATED', `element name of ${n} bytes runs past the end (${end - o - 1} left)`, o, true);
    let s = '';
    for (let i = 0; i < n; i++) s += String.fromCharCode(buf[o + 1 + i]!);
    o += 1 + n;
    return s;
  };
  const readValue = (): ViciValue => {
    if (o + 2 > end) fail('VICI_TRUNCATED', 'value length missing', o, true);
    const n = (buf[o]! << 8) | buf[o + 1]!;
    if (o + 2 + n > end) fail('VICI_TRUNCATED', `value of ${n} bytes runs past the end (${end - o - 2} left)`, o, true);
    const bytes = buf.subarray(o + 2, o + 2 + n);
    o += 2 + n;
    return asBytes ? bytes.slice() : text.decode(bytes);
  };
  const put = (section: ViciSection, key: string, v: ViciSection[string], at: number) => {
    if (Object.prototype.hasOwnProperty.call(section, key)) fail('VICI_DUPLICATE_KEY', `key '${key}' appears twice in one section`, at);
    section[key] = v;
  };

  while (o < end) {
    const at = o;
    const type = buf[o++]!;
    const section = stack[stack.length - 1]!;
    if (list && type !== LIST_ITEM && type !== LIST_END) fail('VICI_BAD_LIST', `element type ${type} inside a list (only items and the list end may appear)`, at);
    switch (type) {
      case SECTION_START: {
        const name = readName();
        if (stack.length > MAX_DEPTH) fail('VICI_TOO_DEEP', `sections nest deeper than ${MAX_DEPTH}`, at);
        const child: ViciSection = Object.create(null) as ViciSection;
        put(section, name, child, at);
        stack.push(child);
        break;
      }
      case SECTION_END:
        if (stack.length === 1) fail('VICI_UNBALANCED', 'section end without a section start', at);
        stack.pop();
        break;
      case KEY_VALUE: {
        const name = readName();
        put(section, name, readValue(), at);
        break;
      }
      case LIST_START: {
        const name = readName();
        list = [];
        listAt = at;
        put(section, name, list, at);
        break;
      }
      case LIST_ITEM:
        if (!list) fail('VICI_BAD_LIST', 'list item outside a list', at);
        list.push(readValue());
        break;
      case LIST_END:
        if (!list) fail('VICI_BAD_LIST', 'list end without a list start', at);
        list = undefined;
        break;
      default:
        fail('VICI_BAD_ELEMENT', `unknown element type ${type}`, at);
    }
  }
  if (list) fail('VICI_UNBALANCED', 'list not closed at the end of the message', listAt, true);
  if (stack.length > 1) fail('VICI_UNBALANCED', `${stack.length - 1} section(s) not closed at the end of the message`, end, true);
  return root;
}
