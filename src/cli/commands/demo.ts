// `ted demo [--json] [--pcap FILE] [--initiator-policy FILE] [--responder-policy FILE]`: the whole
// discovery between two gateways on loopback sockets, told step by step (src/demo/demo.ts).
import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { SelectorJson } from '../../selector/format.js';
import { UsageError } from '../../errors.js';
import { runDemo, type DemoFrame, type DemoStep } from '../../demo/demo.js';
import { encodeEthernet, encodeUdpPacket } from '../../packet/encode.js';
import { writePcap } from '../../pcap/writer.js';
import type { PolicyFormat } from '../../policy/index.js';
import { loadPolicyForCli } from './policy.js';
import { lineJson } from '../json.js';
import { outputFile } from '../../files.js';

interface DemoCliOptions {
  json?: boolean;
  pcap?: string;
  initiatorPolicy?: string;
  responderPolicy?: string;
  initiatorAcl?: string;
  responderAcl?: string;
  initiatorCryptoMap?: string[];
  responderCryptoMap?: string[];
  format?: PolicyFormat;
  unprivileged?: boolean;
  timeout?: string;
}

/** The probe and response as Ethernet/IPv4/UDP frames (UDP 500, as a real network carries them). */
export function demoPcap(frames: readonly DemoFrame[]): Uint8Array {
  return writePcap(
    frames.map((f) => ({
      data: encodeEthernet({}, encodeUdpPacket({ family: f.family, src: f.src, dst: f.dst, sport: f.sport, dport: f.dport, payload: f.payload })),
      timestamp: f.time / 1000,
    })),
  );
}

/** One human line (or a few) per step; every step kind has one (the switch is exhaustive). */
/** A selector of a step (its JSON shape) as the Cisco entry people read. */
const entry = (v: unknown): string => (v as SelectorJson).entry;

export function stepText(s: DemoStep, n: number): string {
  const tag = `${String(n).padStart(2)}. `;
  const c = s as Record<string, unknown>;
  const who = c.case === 'v2' ? (c.gateway === 'responder' ? '[v2 case] ' : '[v2 initiator] ') : '';
  const step = s.step;
  switch (step) {
    case 'setup':
      return `${tag}initiator gateway ${(c.initiator as { ike: string }).ike} (ACL ${(c.initiator as { acl: string }).acl}), responder gateway ${(c.responder as { ike: string }).ike} (ACL ${(c.responder as { acl: string }).acl})\n    mode: ${c.note}`;
    case 'packet':
      return `${tag}${who}packet P ${c.packet} matches initiator entry ${c.entry} (${c.acl}): ${c.verdict}${c.tunnel ? ` through tunnel ${c.tunnel}` : ''}${c.reason ? `, ${c.reason}` : ''}`;
    case 'probe': {
      const ip = c.ip as { src: string; dst: string; sport: number; dport: number };
      return `${tag}${who}probe (exchange 240) #${c.attempt}, cookie ${c.icookie}, ${ip.src}:${ip.sport} > ${ip.dst}:${ip.dport}${c.spoofed ? '' : ' (sent from the initiator\'s own address)'}, summary: ${c.summary}, ${c.bytes} bytes`;
    }
    case 'response':
      return `${tag}${who}responder: mirrored summary matches its entry ${c.entry} (${c.acl}); response (exchange 241) to ${c.to}, responder cookie ${c.rcookie}, proxy: ${entry(c.proxy)}`;
    case 'responder-silent':
      return `${tag}${who}responder stays silent: ${c.reason}`;
    case 'response-dropped':
      return `${tag}${who}initiator drops a response: ${c.reason}`;
    case 'intersection':
      return `${tag}${who}intersection (v3) of our entry (${entry(c.ours)}) and the mirrored response (${entry(c.theirs)}):\n      ${c.result ? entry(c.result) : `empty ${c.empty}`}`;
    case 'merge':
      return `${tag}${who}merged half proxies (v2) of our entry (${entry(c.ours)}) and the mirrored response (${entry(c.theirs)}):\n      ${c.result ? entry(c.result) : `empty ${c.empty}`}`;
    case 'verify':
      return `${tag}${who}block 218: ${c.packet} ${c.inside ? 'lies inside' : 'lies OUTSIDE'} the result`;
    case 'quick-mode':
      return `${tag}${who}quick mode on the responder: proxy ${c.accepted ? `accepted by its entry ${c.entry}` : `refused (${c.reason})`}`;
    case 'tunnel':
      return `${tag}${who}tunnel ${c.id} ${String(c.state).toUpperCase()}: peer ${c.peer}, proxy ${entry(c.proxy)}${c.reason ? ` (${c.reason})` : ''}`;
    case 'gave-up':
      return `${tag}${who}no answer after ${c.tries} probes: gave up, destination held down`;
    case 'compare':
      return c.found
        ? `${tag}TED v2 versus v3 on ${c.packet} (initiator entry ${c.initiatorEntry}, responder entry ${c.responderEntry}):`
        : `${tag}TED v2 versus v3: ${c.note}`;
    case 'verdict':
      return `${tag}v3 (intersection): ${c.v3}; v2 (merged half proxies): ${c.v2}`;
    case 'timeout':
      return `${tag}${who}no result within ${c.waitedMs} ms`;
    case 'done':
      return `${tag}${c.ok ? 'done' : 'FAILED'} in ${c.elapsedMs} ms`;
    default: {
      // A new step kind fails to compile here until it has its line.
      const unknown: never = step;
      return `${tag}${String(unknown)}`;
    }
  }
}

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('discover a tunnel between two gateways on loopback, step by step (then TED v2 versus v3)')
    .option('--json', 'one JSON line per step')
    .option('--pcap <file>', 'write the probe and response as Ethernet/IPv4/UDP frames', outputFile('--pcap'))
    .option('--initiator-policy <file>', "the initiator's crypto ACL (default: the bundled FIG. 1 pair)")
    .option('--responder-policy <file>', "the responder's crypto ACL")
    .option('--initiator-acl <name>', 'which ACL of the initiator policy file')
    .option('--responder-acl <name>', 'which ACL of the responder policy file')
    .option('--initiator-crypto-map <name...>', "NAME [SEQ]: the crypto map entry of the initiator's running-config whose ACL to use")
    .option('--responder-crypto-map <name...>', "NAME [SEQ]: the crypto map entry of the responder's running-config whose ACL to use")
    .option('--format <format>', 'policy format: cisco, classbench or json (default: detected)')
    .option('--unprivileged', 'use unprivileged ports even as root')
    .option('--timeout <ms>', 'wait at most this long for each discovery', '3000')
    .action(async (o: DemoCliOptions) => {
      const timeoutMs = Number(o.timeout);
      if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new UsageError('TED_USAGE_TIMEOUT', `--timeout must be a positive number of milliseconds, got '${o.timeout}'`);
      const initiatorPolicy = o.initiatorPolicy ? loadPolicyForCli(o.initiatorPolicy, { format: o.format, acl: o.initiatorAcl, cryptoMap: o.initiatorCryptoMap }) : undefined;
      const responderPolicy = o.responderPolicy ? loadPolicyForCli(o.responderPolicy, { format: o.format, acl: o.responderAcl, cryptoMap: o.responderCryptoMap }) : undefined;
      const say = (line: string) => void process.stdout.write(line + '\n');
      let n = 0;
      const result = await runDemo({
        initiatorPolicy,
        responderPolicy,
        mode: o.unprivileged ? 'unprivileged' : 'auto',
        timeoutMs,
        onStep: (s) => say(o.json ? lineJson(s) : stepText(s, ++n)),
      });
      if (o.pcap) {
        writeFileSync(o.pcap, demoPcap(result.frames));
        if (!o.json) say(`    wrote ${result.frames.length} frames (probes and responses) to ${o.pcap}`);
      }
      if (!result.ok) process.exitCode = 1;
    });
}
