// `ted decode FILE [--json] [--port N]`: print every ISAKMP message in a capture (UDP 500, UDP
// 4500 after the non-ESP marker, TCP 500, RFC 8229 on TCP 4500, or --port), IP fragments and
// TCP streams reassembled, with the discovery details of TED probes/responses. A message that
// does not decode prints what did decode and its error code and offset, and decoding goes on.
import type { Command } from 'commander';
import { DecodeError, UsageError } from '../../errors.js';
import { IkeCaptureDecoder, type IkeCaptureOptions, type MessageRecord } from '../../pcap/ike-capture.js';
import { readCaptureFileBatches } from '../../pcap/reader.js';
import { BufferedWriter, textLines, writeJsonLine } from '../decode-output.js';
import { inputFile } from '../../files.js';
import { terminalSafe } from '../../terminal.js';

export { isakmpStart, type MessageRecord } from '../../pcap/ike-capture.js';
export { jsonLine, tedJson, tedJsonText, textLines } from '../decode-output.js';

export interface DecodeOptions extends IkeCaptureOptions {
  json?: boolean;
}

/**
 * Decodes every ISAKMP message of a capture; `emit` receives one record per message (it returns
 * `false` to stop early). `warn` gets damage the capture reader recovered from. Resolves with the
 * decoder (its counters tell what reassembly abandoned).
 */
export async function decodeCapture(
  path: string,
  opts: DecodeOptions,
  emit: (r: MessageRecord) => void | boolean | Promise<void | boolean>,
  warn: (e: DecodeError) => void = () => {},
): Promise<IkeCaptureDecoder> {
  let stop = false;
  let waits: Promise<void | boolean>[] | undefined;
  // Records go out as they come; only what emit asks to wait for (a full output) is awaited,
  // after the frame that produced it.
  const dec = new IkeCaptureDecoder(opts, (r) => {
    if (stop) return;
    const x = emit(r);
    if (x === false) stop = true;
    else if (x instanceof Promise) (waits ??= []).push(x);
  });
  const settle = async (): Promise<void> => {
    for (const w of waits!) if ((await w) === false) stop = true;
    waits = undefined;
  };
  for await (const frames of readCaptureFileBatches(path, { onError: warn })) {
    for (const frame of frames) {
      dec.push(frame);
      if (waits) await settle();
      if (stop) return dec;
    }
  }
  dec.finish();
  if (waits) await settle();
  return dec;
}

/** One stderr line naming what reassembly abandoned, or undefined when nothing was. */
export function reassemblySummary(d: IkeCaptureDecoder): string | undefined {
  const parts: string[] = [];
  const list = (what: string, c: Record<string, number>, keys: string[]): void => {
    const hit = keys.filter((k) => c[k]! > 0).map((k) => `${k} ${c[k]}`);
    if (hit.length > 0) parts.push(`${what}: ${hit.join(', ')}`);
  };
  list('IP datagrams abandoned', d.ip.counters as unknown as Record<string, number>, ['overlap', 'timeout', 'incomplete', 'too-many-fragments', 'too-large', 'memory', 'bad-fragment']);
  list('TCP streams lost', d.tcp.counters as unknown as Record<string, number>, ['gap', 'idle', 'memory', 'end']);
  list('IKE fragments abandoned', d.ike.counters as unknown as Record<string, number>, ['bad', 'timeout', 'memory', 'incomplete']);
  return parts.length > 0 ? `reassembly: ${parts.join('; ')}` : undefined;
}

export function registerDecode(program: Command): void {
  program
    .command('decode')
    .description('print the ISAKMP/IKE messages of a pcap or pcapng capture (UDP 500, UDP 4500 with the non-ESP marker, TCP 500, RFC 8229 on TCP 4500, or --port), IP fragments and TCP streams reassembled')
    .argument('<file>', 'capture file (pcap or pcapng)', inputFile('capture'))
    .option('--json', 'one JSON object per message')
    .option('--port <n>', 'also treat this UDP/TCP port as ISAKMP', (v: string) => {
      const n = Number(v);
      if (!/^\d+$/.test(v) || n < 1 || n > 65535) throw new UsageError('TED_INPUT_BAD_PORT', `--port ${v}: expected a port number 1-65535`);
      return n;
    })
    .action(async (file: string, opts: DecodeOptions) => {
      // A reader that goes away (`| head`) ends the run quietly; a slow one is waited for.
      const out = new BufferedWriter(process.stdout);
      const warn = (e: DecodeError): void => {
        process.stderr.write(`ted: warning: ${e.code}: ${e.message}\n`);
      };
      try {
        const dec = await decodeCapture(
          file,
          opts,
          (r) => {
            if (opts.json) writeJsonLine(r, out.bytes);
            // Text goes through terminalSafe as every command's stdout does (src/cli/output.ts
            // escapes strings; these are bytes): nothing from a packet may drive the terminal.
            else out.write(terminalSafe(textLines(r)));
            return out.full ? out.drain() : true;
          },
          warn,
        );
        await out.drain(true);
        const summary = reassemblySummary(dec);
        if (summary && !out.closed) process.stderr.write(`ted: warning: ${summary}\n`);
      } finally {
        // Whatever was printed before a failure (PCAP_TRUNCATED ...) reaches the reader first.
        await out.drain(true).catch(() => undefined);
        out.close();
      }
      if (out.failure) throw out.failure;
    });
}
