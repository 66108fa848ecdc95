// ClassBench trace files: `src dst sport dport proto [flags] [id]` per line, addresses as decimal
// 32-bit integers. With 6 or more columns the last one is the expected 1-based ordinal of the first
// match (ClassBench's own check); -1 when the line has no such column.
import { TedError } from '../errors.js';
import type { Tuple } from '../selector/types.js';
import { TupleBatch } from './batch.js';

export interface Trace {
  /** Packed tuples (IPv4; a trace always has ports). */
  batch: TupleBatch;
  /** Expected ordinal per packet, or -1 when the trace does not say. */
  expected: Int32Array;
}

function field(text: string, file: string, line: number, name: string, max: number): number {
  if (!/^\d+$/.test(text)) throw new TedError('TED_INPUT_TRACE', `${file}:${line}: ${name} "${text}" is not a decimal number`);
  const v = Number(text);
  if (v > max) throw new TedError('TED_INPUT_TRACE', `${file}:${line}: ${name} ${v} is out of range (max ${max})`);
  return v;
}

/** Parses a ClassBench trace into one batch. Throws TedError TED_INPUT_TRACE on a bad line. */
export function parseTrace(text: string, file = 'trace'): Trace {
  const lines = text.split('\n');
  const tuples: Tuple[] = [];
  const expected: number[] = [];
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!.trim();
    if (raw === '' || raw.startsWith('#')) continue;
    const f = raw.split(/\s+/);
    if (f.length < 5) throw new TedError('TED_INPUT_TRACE', `${file}:${i + 1}: expected "src dst sport dport proto [flags] [id]", got ${f.length} fields`);
    const src = field(f[0]!, file, i + 1, 'source address', 0xffffffff);
    const dst = field(f[1]!, file, i + 1, 'destination address', 0xffffffff);
    const sport = field(f[2]!, file, i + 1, 'source port', 65535);
    const dport = field(f[3]!, file, i + 1, 'destination port', 65535);
    const protocol = field(f[4]!, file, i + 1, 'protocol', 255);
    tuples.push({ family: 4, protocol, src: BigInt(src), dst: BigInt(dst), sport, dport, hasPorts: true });
    expected.push(f.length >= 6 ? field(f[f.length - 1]!, file, i + 1, 'rule id', 0x7fffffff) : -1);
  }
  const batch = new TupleBatch(Math.max(1, tuples.length));
  for (const t of tuples) batch.push(t);
  return { batch, expected: Int32Array.from(expected) };
}
