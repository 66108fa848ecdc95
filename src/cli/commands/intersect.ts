// `ted intersect [--json] "ENTRY A" "ENTRY B"` and `ted intersect --batch FILE.jsonl`: the
// intersection of two proxies written as Cisco entries (action optional) or JSON entry objects,
// or the first empty field.
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import { PolicyError, TedError, UsageError } from '../../errors.js';
import { inferAnyEntryFamily, parseAnyEntry } from '../../policy/entry.js';
import { intersect, type Intersection } from '../../selector/algebra.js';
import { formatSelector, selectorJson } from '../../selector/format.js';
import { lineJson } from '../json.js';
import { checkInputFile } from '../../files.js';

/**
 * Parses and intersects two entries, each Cisco text or a JSON entry object (`{"protocol": "ip",
 * "dport": 80}`). An entry that implies no family (`tcp any any`) takes the other's; two
 * different families give `empty: family`. Throws PolicyError.
 */
export function intersectEntries(a: string, b: string): Intersection {
  const fa = inferAnyEntryFamily(a);
  const fb = inferAnyEntryFamily(b);
  const sa = parseAnyEntry(a, { family: fa ?? fb ?? 4, file: 'entry A' }).selector;
  const sb = parseAnyEntry(b, { family: fb ?? fa ?? 4, file: 'entry B' }).selector;
  return intersect(sa, sb);
}

/** The JSON answer: `{"empty": false, protocol, source, destination, sport, dport, entry}` or `{"empty": true, field}`. */
export function intersectionJson(r: Intersection): Record<string, unknown> {
  if (r.empty) return { empty: true, field: r.field };
  return { empty: false, ...selectorJson(r.selector) };
}

export function intersectionText(r: Intersection): string {
  return r.empty ? `empty: ${r.field}` : formatSelector(r.selector);
}

/** One batch line in, one answer out (never throws on bad input). */
export function answerBatchLine(line: string): { answer: Record<string, unknown>; ok: boolean } {
  let doc: unknown;
  try {
    doc = JSON.parse(line);
  } catch (e) {
    return { answer: { id: null, error: { code: 'TED_INPUT_JSON', message: `not a JSON object: ${(e as Error).message}` } }, ok: false };
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc))
    return { answer: { id: null, error: { code: 'TED_INPUT_JSON', message: 'each line must be a JSON object {"id": ..., "a": "...", "b": "..."}' } }, ok: false };
  const o = doc as Record<string, unknown>;
  const id = o.id === undefined ? null : o.id;
  // An entry is Cisco text or a JSON entry object (given inline, it is read as its own text).
  const entryText = (v: unknown) => (typeof v === 'string' ? v : v !== null && typeof v === 'object' && !Array.isArray(v) ? JSON.stringify(v) : undefined);
  const a = entryText(o.a);
  const b = entryText(o.b);
  for (const [k, v] of [['a', a], ['b', b]] as const)
    if (v === undefined)
      return { answer: { id, error: { code: 'TED_INPUT_FIELD', message: `"${k}" must be a Cisco entry (a string) or a JSON entry object` } }, ok: false };
  try {
    return { answer: { id, ...intersectionJson(intersectEntries(a!, b!)) }, ok: true };
  } catch (e) {
    if (e instanceof PolicyError) return { answer: { id, error: { code: e.code, message: e.message } }, ok: false };
    throw e;
  }
}

const FLUSH_LINES = 2048;

/** Answers every line of a JSONL file (or '-' for stdin) in order; returns [lines, bad lines]. */
export async function runBatch(path: string, out: (chunk: string) => Promise<void>): Promise<{ lines: number; bad: number }> {
  const input = path === '-' ? process.stdin : createReadStream(path);
  // Open errors (ENOENT, EACCES) become the command's error rather than an unhandled event.
  if (path !== '-')
    await new Promise<void>((resolve, reject) => {
      input.once('error', reject);
      input.once('open', () => resolve());
    });
  const rl = createInterface({ input, crlfDelay: Infinity });
  let buf: string[] = [];
  let lines = 0;
  let bad = 0;
  for await (const line of rl) {
    lines++;
    let answer: Record<string, unknown>;
    if (line.trim() === '') {
      answer = { id: null, error: { code: 'TED_INPUT_EMPTY_LINE', message: 'empty line' } };
      bad++;
    } else {
      const r = answerBatchLine(line);
      answer = r.answer;
      if (!r.ok) bad++;
    }
    buf.push(lineJson(answer));
    if (buf.length >= FLUSH_LINES) {
      await out(buf.join('\n') + '\n');
      buf = [];
    }
  }
  if (buf.length > 0) await out(buf.join('\n') + '\n');
  return { lines, bad };
}

/** Writes to stdout, waiting when the pipe is full. */
function writeStdout(chunk: string): Promise<void> {
  return new Promise((resolve) => {
    if (process.stdout.write(chunk)) resolve();
    else process.stdout.once('drain', () => resolve());
  });
}

export interface IntersectOptions {
  json?: boolean;
  batch?: string;
}

export async function runIntersect(entries: string[], opts: IntersectOptions): Promise<void> {
  if (opts.batch !== undefined) {
    if (entries.length > 0) throw new UsageError('TED_USAGE', 'give either --batch FILE or two entries, not both');
    const { lines, bad } = await runBatch(opts.batch, writeStdout);
    if (bad > 0) throw new TedError('TED_INPUT_BATCH', `${bad} of ${lines} lines had errors (answered with an "error" object)`);
    return;
  }
  if (entries.length !== 2) throw new UsageError('TED_USAGE', `expected two entries, got ${entries.length}: ted intersect [--json] "ENTRY A" "ENTRY B"`);
  const r = intersectEntries(entries[0]!, entries[1]!);
  process.stdout.write((opts.json ? lineJson(intersectionJson(r)) : intersectionText(r)) + '\n');
}

export function registerIntersect(program: Command): void {
  program
    .command('intersect')
    .description('intersect two proxies given as Cisco entries (action optional) or JSON entry objects; prints the intersection or "empty: FIELD"')
    .argument('[entries...]', '"ENTRY A" "ENTRY B", e.g. "permit ip 10.11.0.0 0.0.255.255 any" or \'{"protocol": "ip", "dport": 80}\'')
    .option('--json', 'print the answer as JSON')
    .option('--batch <file>', 'answer every line {"id", "a", "b"} of a JSONL file (- for stdin), one JSON line each', (v: string) => (v === '-' ? v : checkInputFile(v, '--batch', { text: true })))
    .action((entries: string[], opts: IntersectOptions) => runIntersect(entries, opts));
}
