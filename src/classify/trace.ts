// ClassBench trace files: `src dst sport dport proto [flags] [id]` per line, numbers in decimal or
// hexadecimal (`0x0a000001`, as DPDK's tools accept them); `#` lines are comments. With 6 or more
// columns the last one is the expected 1-based ordinal of the first match (ClassBench's own
// check); -1 when the line has no such column. A last column outside 0..2^31-1 (DPDK writes
// 4294967295 for "no match") is an error only when `expected` is read.
import { TedError } from '../errors.js';
import type { Tuple } from '../selector/types.js';
import { TupleBatch } from './batch.js';

export interface Trace {
  /** Packed tuples (IPv4; a trace always has ports). */
  readonly batch: TupleBatch;
  /**
   * Expected ordinal per packet, or -1 when the trace does not say. Reading it throws TedError
   * TED_INPUT_TRACE when a line's last column is not an ordinal.
   */
  readonly expected: Int32Array;
}

const NUMBER = /^(?:\d{1,20}|0[xX][0-9a-fA-F]{1,16})$/;

function field(text: string, file: string, line: number, name: string, max: number): number {
  if (!NUMBER.test(text)) throw new TedError('TED_INPUT_TRACE', `${file}:${line}: ${name} "${text}" is not a number (decimal or 0x hexadecimal)`);
  const v = Number(text);
  if (v > max) throw new TedError('TED_INPUT_TRACE', `${file}:${line}: ${name} ${text} is out of range (max ${max})`);
  return v;
}

/** Parses a ClassBench trace into one batch. Throws TedError TED_INPUT_TRACE on a bad line. */
export function parseTrace(text: string, file = 'trace'): Trace {
  const lines = text.split('\n');
  const tuples: Tuple[] = [];
  const expected: number[] = [];
  let badExpected: TedError | undefined;
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
    let id = -1;
    if (f.length >= 6) {
      try {
        id = field(f[f.length - 1]!, file, i + 1, 'rule id', 0x7fffffff);
      } catch (e) {
        badExpected ??= e as TedError;
      }
    }
    expected.push(id);
  }
  const batch = new TupleBatch(Math.max(1, tuples.length));
  for (const t of tuples) batch.push(t);
  const ids = Int32Array.from(expected);
  return {
    batch,
    get expected(): Int32Array {
      if (badExpected) throw badExpected;
      return ids;
    },
  };
}
