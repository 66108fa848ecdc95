// `ted lab [--ipv6] [--pcap FILE] [--json] [--keep]`: FIG. 1 in network namespaces with a ted
// daemon and a charon in each gateway, from the first dropped packet to the connection carried
// in ESP (src/lab/story.ts). Needs root, iproute2, tcpdump and strongSwan; without them it says
// what is missing and how to install it, and exits 2.
import type { Command } from 'commander';
import { UsageError } from '../../errors.js';
import { outputFile } from '../../files.js';
import { charonMissing } from '../../lab/charon.js';
import { commandExists, namespacesUnavailable } from '../../lab/netns.js';
import type { LabStep } from '../../lab/story.js';
import { lineJson } from '../json.js';

interface LabFlags {
  json?: boolean;
  pcap?: string;
  keep?: boolean;
  ipv6?: boolean;
}

/** What stops the lab from running here (one line with the way to install it), or undefined. */
export async function labMissing(): Promise<string | undefined> {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return 'ted lab needs root (it creates network namespaces and starts charon): run it with sudo';
  const ns = await namespacesUnavailable();
  if (ns) return `${ns}${/iproute2/.test(ns) ? ': apt-get install iproute2' : ''}`;
  const tools = new Map<string, boolean>();
  for (const t of ['tcpdump', 'charon-systemd']) tools.set(t, await commandExists(t));
  if (!tools.get('tcpdump')) return 'tcpdump is not installed (ted reads the hosts\' packets with it): apt-get install tcpdump';
  return charonMissing((t) => tools.get(t) ?? false);
}

export function registerLab(program: Command): void {
  program
    .command('lab')
    .description('the whole story on this machine (root): network namespaces, ted and charon in each gateway, a TCP connection discovered, keyed by IKE and carried in ESP')
    .option('--ipv6', 'hosts talk IPv6 (IKE too); default IPv4')
    .option('--pcap <file>', 'write the capture of the link between the gateways', outputFile('--pcap'))
    .option('--json', 'one JSON object per step; the last is {"step": "done", "ok": true, "setupMs": ...}')
    .option('--keep', 'leave the namespaces, daemons and charons running (the next ted lab removes them)')
    .action(async (flags: LabFlags) => {
      const missing = await labMissing();
      if (missing) throw new UsageError('LAB_UNAVAILABLE', missing);
      // The lab's modules load only when it runs (every other command would pay for them).
      const { runLab } = await import('../../lab/story.js');
      const out = (s: LabStep) => process.stdout.write(flags.json ? lineJson(s) + '\n' : `${s.step === 'done' ? '' : `[${s.step}] `}${s.text}\n`);
      const abort = new AbortController();
      const onSignal = () => abort.abort();
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      try {
        const r = await runLab({ family: flags.ipv6 ? 6 : 4, ...(flags.pcap !== undefined ? { pcap: flags.pcap } : {}), keep: flags.keep ?? false, signal: abort.signal, onStep: out });
        if (r.kept) out({ step: 'kept', text: `kept: namespaces ${r.kept.namespaces.join(' ')}; files in ${r.kept.dir} (run \`ip netns exec NS ...\` to look around; the next ted lab removes them)`, namespaces: r.kept.namespaces, dir: r.kept.dir });
        out({
          step: 'done',
          text: `done: first dropped packet to first byte delivered ${r.setupMs} ms (TCP retransmits its SYN after 1 s); to the tunnel ESTABLISHED ${r.readyMs} ms; IKE ${r.ikeMs} ms`,
          ok: true,
          setupMs: r.setupMs,
          readyMs: r.readyMs,
          ikeMs: r.ikeMs,
        });
      } catch (err) {
        if (abort.signal.aborted) {
          process.stderr.write('ted lab: interrupted; everything it created was removed\n');
          process.exitCode = 130;
          return;
        }
        if (flags.json) process.stdout.write(lineJson({ step: 'done', ok: false, error: { code: (err as { code?: string }).code ?? 'LAB_FAILED', message: (err as Error).message } }) + '\n');
        throw err;
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    });
}
