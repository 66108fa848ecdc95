// `ted pcap info FILE [--json]`: a small capinfos. Format, link types, frame count, time span,
// protocol mix and undecodable frames by reason. Reads the file streaming (bounded memory), so
// it works on captures larger than memory; problems inside records that keep the framing are
// counted and reading goes on.
import type { Command } from 'commander';
import { lineJson } from '../json.js';
import { createRequire } from 'node:module';
import type * as CliProgress from 'cli-progress';
import { statSync } from 'node:fs';
import { DecodeError } from '../../errors.js';
import { LINK_TYPE_NAMES, REASON_NAMES, walkFrame, WalkState } from '../../packet/decode.js';
import { CaptureFileReader } from '../../pcap/reader.js';
import { classifyCapture, type CaptureBatch } from '../../pcap/classify.js';
import type { DecodeEngine } from '../../packet/batch-decode.js';
import type { TupleBatch } from '../../classify/batch.js';
import { inputFile } from '../../files.js';
import { cut } from '../../terminal.js';

const PROTO_NAMES: Record<number, string> = { 1: 'icmp', 6: 'tcp', 17: 'udp', 47: 'gre', 50: 'esp', 51: 'ah', 58: 'icmpv6', 59: 'none', 132: 'sctp' };

export function linkTypeName(lt: number): string {
  return LINK_TYPE_NAMES[lt] ?? `linktype-${lt}`;
}

export function protoName(p: number): string {
  return PROTO_NAMES[p] ?? `proto-${p}`;
}

/** Bytes above which a capture gets a progress bar (when stderr is a terminal). */
export const PROGRESS_THRESHOLD = 16 * 1024 * 1024;

export interface Progress {
  update(done: number): void;
  stop(): void;
}

/** A progress bar on stderr for large inputs when stderr is a terminal; otherwise a no-op. */
export function startProgress(label: string, total: number): Progress {
  if (!process.stderr.isTTY || total < PROGRESS_THRESHOLD) return { update() {}, stop() {} };
  // Loaded only when a bar is shown (it is a noticeable part of every command's start-up).
  const cliProgress = createRequire(import.meta.url)('cli-progress') as typeof CliProgress;
  const bar = new cliProgress.SingleBar(
    { stream: process.stderr, format: `${label} [{bar}] {percentage}% | {value}/{total} MB | eta {eta}s`, hideCursor: true, clearOnComplete: true },
    cliProgress.Presets.shades_classic,
  );
  const mb = (n: number) => Math.round(n / 1e5) / 10;
  bar.start(mb(total), 0);
  let last = 0;
  return {
    update(done) {
      const now = Date.now();
      if (now - last < 100) return;
      last = now;
      bar.update(mb(done));
    },
    stop() {
      bar.stop();
    },
  };
}

export interface CaptureInfo {
  file: string;
  format: string;
  version: string;
  byteOrder: 'little-endian' | 'big-endian';
  timestampResolution?: string;
  sections?: number;
  interfaces: { id: number; linkType: number; name: string; snaplen: number }[];
  linkTypes: Record<string, number>;
  frames: number;
  bytesCaptured: number;
  bytesOnWire: number;
  cutBySnaplen: number;
  first?: string;
  last?: string;
  durationSeconds?: number;
  protocols: Record<string, number>;
  fragments: number;
  vlanTagged: number;
  decoded: number;
  undecodable: Record<string, number>;
  /** Records skipped for a problem that kept the framing intact, by code. */
  skippedRecords: Record<string, number>;
  /** The problem that ended reading early, if any (frames before it are counted). */
  error?: { code: string; offset: number; message: string };
}

const inc = (m: Record<string, number>, k: string, n = 1) => {
  m[k] = (m[k] ?? 0) + n;
};

function iso(sec: number, nsec: number): string {
  const d = new Date(sec * 1000);
  if (Number.isNaN(d.getTime())) return `${sec}.${String(nsec).padStart(9, '0')}`;
  return `${d.toISOString().slice(0, 19)}.${String(nsec).padStart(9, '0')}Z`;
}

// The error that ended reading a capture early, by the summary that reports the frames before it.
const errors = new WeakMap<object, DecodeError>();

/** The framing error that ended `ted classify --pcap` early (thrown after its summary), if any. */
export function captureFailure(summary: PcapTally): DecodeError | undefined {
  return errors.get(summary);
}

/** Records the framing error that ended a capture: in the tally (`error`) and for captureFailure. */
export function recordCaptureFailure(tally: PcapTally, e: DecodeError): void {
  tally.error = { code: e.code, offset: e.offset, message: e.message };
  errors.set(tally, e);
}

/** The interfaces line: the first 32 in full, then how many more (`--json` lists every one). */
function interfacesText(list: CaptureInfo['interfaces']): string {
  if (list.length === 0) return 'none';
  // Interface names come from the file: cut (the control characters are escaped on output).
  const shown = list.slice(0, 32).map((x) => `${x.id}: ${linkTypeName(x.linkType)} (${x.linkType})${x.name ? ` ${cut(x.name)}` : ''} snaplen ${x.snaplen}`);
  return shown.join('; ') + (list.length > 32 ? `; ... and ${list.length - 32} more` : '');
}

/** Reads a capture file and summarizes it. A framing error ends reading and is recorded in `error`. */
export async function captureInfo(path: string, onProgress?: (done: number, total: number) => void): Promise<CaptureInfo> {
  const skipped: Record<string, number> = {};
  const reader = new CaptureFileReader(path, { onError: (e) => inc(skipped, e.code), onProgress });
  const info: CaptureInfo = {
    file: path,
    format: '',
    version: '',
    byteOrder: 'little-endian',
    interfaces: [],
    linkTypes: {},
    frames: 0,
    bytesCaptured: 0,
    bytesOnWire: 0,
    cutBySnaplen: 0,
    protocols: {},
    fragments: 0,
    vlanTagged: 0,
    decoded: 0,
    undecodable: {},
    skippedRecords: skipped,
  };
  const s = new WalkState();
  let firstSec = Infinity;
  let firstNs = 0;
  let lastSec = -Infinity;
  let lastNs = 0;
  const ltCounts = new Map<number, number>();
  const protoCounts = new Map<number, number>();
  const reasonCounts = new Float64Array(REASON_NAMES.length + 1);
  // Interfaces are appended as the reader meets them (a file may hold tens of thousands).
  let ifSeen = 0;
  let ifSection = -1;
  const noteInterfaces = () => {
    const p = reader.parser;
    if (p.sections !== ifSection) {
      ifSection = p.sections;
      ifSeen = 0;
    }
    for (const list = p.interfaces; ifSeen < list.length; ifSeen++) {
      const i = list[ifSeen]!;
      info.interfaces.push({ id: i.id, linkType: i.linkType, name: i.name ?? '', snaplen: i.snaplen });
    }
  };
  try {
    for await (const f of reader) {
      info.frames++;
      info.bytesCaptured += f.caplen;
      info.bytesOnWire += f.origLen;
      if (f.caplen < f.origLen) info.cutBySnaplen++;
      ltCounts.set(f.linkType, (ltCounts.get(f.linkType) ?? 0) + 1);
      if (f.tsSec < firstSec || (f.tsSec === firstSec && f.tsNsec < firstNs)) [firstSec, firstNs] = [f.tsSec, f.tsNsec];
      if (f.tsSec > lastSec || (f.tsSec === lastSec && f.tsNsec > lastNs)) [lastSec, lastNs] = [f.tsSec, f.tsNsec];
      const r = walkFrame(f.linkType, f.data, 0, f.data.length, s);
      if (r === 0) {
        const key = s.family * 256 + s.protocol;
        protoCounts.set(key, (protoCounts.get(key) ?? 0) + 1);
        if (s.isFragment) info.fragments++;
        if (s.vlanCount > 0) info.vlanTagged++;
      }
      reasonCounts[Math.min(r, REASON_NAMES.length)]!++;
      if (reader.parser.interfaces.length !== ifSeen || reader.parser.sections !== ifSection) noteInterfaces();
    }
  } catch (e) {
    if (!(e instanceof DecodeError)) throw e;
    if (reader.parser.format === undefined) throw e; // not a capture at all
    info.error = { code: e.code, offset: e.offset, message: e.message };
    errors.set(info, e);
  }
  noteInterfaces();
  for (const [lt, n] of ltCounts) info.linkTypes[`${linkTypeName(lt)} (${lt})`] = n;
  for (const [key, n] of protoCounts) info.protocols[`ipv${key >> 8}/${protoName(key & 255)}`] = n;
  info.decoded = reasonCounts[0]!;
  reasonCounts.forEach((n, r) => {
    if (r > 0 && n > 0) info.undecodable[REASON_NAMES[r] ?? 'unknown'] = n;
  });
  const p = reader.parser;
  info.format = p.format ?? 'unknown';
  info.version = `${p.versionMajor}.${p.versionMinor}`;
  info.byteOrder = p.littleEndian ? 'little-endian' : 'big-endian';
  if (p.format === 'pcap') info.timestampResolution = p.nanos ? 'nanosecond' : 'microsecond';
  if (p.format === 'pcapng') info.sections = p.sections;
  if (p.format === 'pcap' && info.interfaces.length === 0) info.interfaces.push({ id: 0, linkType: p.pcapLinkType, name: '', snaplen: p.snaplen });
  if (info.frames > 0) {
    info.first = iso(firstSec, firstNs);
    info.last = iso(lastSec, lastNs);
    info.durationSeconds = lastSec - firstSec + (lastNs - firstNs) / 1e9;
  }
  return info;
}

const sorted = (m: Record<string, number>) =>
  Object.entries(m)
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .map(([k, v]) => `${k} ${v}`)
    .join(', ') || 'none';

const stoppedAt = (e: { code: string; offset: number; message: string }) => `stopped at: ${e.code} at byte ${e.offset}: ${e.message}`;

export function formatCaptureInfo(i: CaptureInfo): string {
  const lines: [string, string][] = [
    ['file', i.file],
    ['format', `${i.format} ${i.version} (${i.byteOrder}${i.timestampResolution ? `, ${i.timestampResolution} timestamps` : ''}${i.sections !== undefined ? `, ${i.sections} section${i.sections === 1 ? '' : 's'}` : ''})`],
    ['interfaces', interfacesText(i.interfaces)],
    ['link types', sorted(i.linkTypes)],
    ['frames', String(i.frames)],
    ['bytes', `${i.bytesCaptured} captured, ${i.bytesOnWire} on the wire${i.cutBySnaplen ? ` (${i.cutBySnaplen} frames cut by the snaplen)` : ''}`],
    ['first', i.first ?? '-'],
    ['last', i.last ?? '-'],
    ['duration', i.durationSeconds !== undefined ? `${i.durationSeconds.toFixed(6)} s` : '-'],
    ['protocols', sorted(i.protocols)],
    ['fragments', String(i.fragments)],
    ['vlan tagged', String(i.vlanTagged)],
    ['decoded', `${i.decoded} of ${i.frames}`],
    ['undecodable', sorted(i.undecodable)],
  ];
  if (Object.keys(i.skippedRecords).length > 0) lines.push(['skipped records', sorted(i.skippedRecords)]);
  if (i.error) lines.push(['stopped at', stoppedAt(i.error).slice('stopped at: '.length)]);
  return lines.map(([k, v]) => `${(k + ':').padEnd(13)} ${v}`).join('\n') + '\n';
}

/** Tallies of a capture fed to `ted classify` through pcapSource. */
export interface PcapTally {
  file: string;
  frames: number;
  decoded: number;
  byLinkType: Record<string, number>;
  byOutcome: Record<string, number>;
  /** Wall time of decoding plus classification. */
  elapsedMs: number;
  /** The problem that ended reading early, if any (the counts cover the frames before it). */
  error?: { code: string; offset: number; message: string };
}

/**
 * A `ted classify` input source (the TupleSource shape of src/cli/commands/classify.ts): fills
 * the classifier's batch from a capture file, batch by batch, streaming with bounded memory.
 * The header walk runs in WebAssembly for the wasm engine (straight into the classifier's batch
 * in linear memory) and in TypeScript otherwise. `tally` fills in as frames go by.
 */
export function pcapSource(file: string, engine: DecodeEngine, tally: PcapTally): (batch: TupleBatch) => AsyncIterable<void> {
  return async function* (batch: TupleBatch) {
    for await (const { counts, b } of talliedCapture(tally, (hooks) => classifyCapture(file, { engine, batch, ...hooks }))) {
      counts.add(b);
      tally.frames += b.count;
      yield;
    }
  };
}

/** What talliedCapture gives the reader it runs: the reader's hooks. */
export interface CaptureHooks {
  onHeader: () => void;
  onProgress: (done: number) => void;
}

/**
 * Runs a capture reader for `ted classify` with the progress bar, the elapsed time and the frame
 * counts of `tally` (each item comes with the counts to add it to; `onEnd` may add more at the
 * end, whichever way it comes). Broken framing after the
 * file header ends the input: the summary covers the frames before it, as in `ted pcap info`;
 * other errors are thrown.
 */
export async function* talliedCapture<T>(tally: PcapTally, read: (hooks: CaptureHooks) => AsyncIterable<T>, onEnd?: (counts: FrameCounts) => void): AsyncGenerator<{ counts: FrameCounts; b: T }> {
  const bar = startProgress('classifying', statSync(tally.file).size);
  const counts = new FrameCounts();
  const t0 = performance.now();
  let header = false;
  try {
    for await (const b of read({ onHeader: () => void (header = true), onProgress: (done) => bar.update(done) })) yield { counts, b };
  } catch (e) {
    if (!(e instanceof DecodeError) || !header) throw e;
    recordCaptureFailure(tally, e);
  } finally {
    bar.stop();
    tally.elapsedMs = performance.now() - t0;
    onEnd?.(counts); // what the reader counted elsewhere, before the counts are reported
    counts.report(tally);
  }
}

export function newPcapTally(file: string): PcapTally {
  return { file, frames: 0, decoded: 0, byLinkType: {}, byOutcome: {}, elapsedMs: 0 };
}

/** Extra summary lines of `ted classify --pcap`: frames by link type and by decode outcome. */
export function formatPcapTally(t: PcapTally): string {
  const mpps = t.elapsedMs > 0 ? t.frames / t.elapsedMs / 1e3 : 0;
  return [
    `capture ${t.file}: ${t.frames} frames, ${t.decoded} decoded, ${t.elapsedMs.toFixed(2)} ms decode+classify (${mpps.toFixed(2)} Mpps)`,
    `link types: ${sorted(t.byLinkType)}`,
    `decode: ${sorted(t.byOutcome)}`,
    ...(t.error ? [stoppedAt(t.error)] : []),
  ].join('\n') + '\n';
}

/** Frames of classified capture batches counted by decode outcome and by link type. */
export class FrameCounts {
  private readonly reasons = new Float64Array(REASON_NAMES.length + 1);
  private readonly linkTypes = new Map<number, number>();

  add(b: Pick<CaptureBatch, 'count' | 'reasons' | 'linkTypes'>): void {
    for (let i = 0; i < b.count; i++) this.reasons[Math.min(b.reasons[i]!, REASON_NAMES.length)]!++;
    this.addLinkTypes(b.linkTypes, b.count);
  }

  /** Adds frames already counted by decode reason (index = reason). */
  addReasons(reasonCounts: ArrayLike<number>): void {
    for (let r = 0; r < reasonCounts.length; r++) if (reasonCounts[r]) this.reasons[Math.min(r, REASON_NAMES.length)]! += reasonCounts[r]!;
  }

  /** Counts frames [0, count) by link type (runs: link types change rarely). */
  addLinkTypes(linkTypes: Uint32Array, count: number): void {
    let i = 0;
    while (i < count) {
      const lt = linkTypes[i]!;
      let j = i + 1;
      while (j < count && linkTypes[j] === lt) j++;
      this.linkTypes.set(lt, (this.linkTypes.get(lt) ?? 0) + (j - i));
      i = j;
    }
  }

  /** Adds frames already counted by decode reason (index = reason), all of one link type. */
  addCounted(reasonCounts: ArrayLike<number>, linkType: number, count: number): void {
    this.addReasons(reasonCounts);
    this.linkTypes.set(linkType, (this.linkTypes.get(linkType) ?? 0) + count);
  }

  /** Writes the counts, named, into a run or tally. */
  report(into: { decoded: number; byOutcome: Record<string, number>; byLinkType: Record<string, number> }): void {
    into.decoded = this.reasons[0]!;
    this.reasons.forEach((n, r) => {
      if (n > 0) into.byOutcome[REASON_NAMES[r] ?? 'unknown'] = n;
    });
    for (const [lt, n] of this.linkTypes) into.byLinkType[`${linkTypeName(lt)} (${lt})`] = n;
  }
}

export function registerPcap(program: Command): void {
  const pcap = program.command('pcap').description('capture file tools');
  pcap
    .command('info')
    .description('summarize a pcap/pcapng capture: format, link types, frames, time span, protocol mix, undecodable frames by reason')
    .argument('<file>', 'capture file (pcap or pcapng)', inputFile('capture'))
    .option('--json', 'one JSON object instead of text')
    .action(async (file: string, opts: { json?: boolean }) => {
      const total = statSync(file).size;
      const bar = startProgress('reading', total);
      let info: CaptureInfo;
      try {
        info = await captureInfo(file, (done) => bar.update(done));
      } finally {
        bar.stop();
      }
      process.stdout.write(opts.json ? lineJson(info) + '\n' : formatCaptureInfo(info));
      // A capture whose framing broke is bad input (exit 2): the summary covers the frames before it.
      const err = errors.get(info);
      if (err) throw err;
    });
}
