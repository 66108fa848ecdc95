// `ted status`: a running daemon's tunnels, pending probes, hold-downs and counters, read through
// its control socket.
import type { Command } from 'commander';
import { queryControl } from '../../daemon/control.js';
import { loadConfig } from '../../daemon/config.js';
import type { SelectorJson } from '../../selector/format.js';
import { lineJson } from '../json.js';

export const DEFAULT_CONTROL_SOCKET = '/run/ted/ted.sock';

interface StatusFlags {
  socket?: string;
  config?: string;
  json?: boolean;
}

interface StatusView {
  daemon: { role: string; pid: number; version: string; uptimeMs: number; ike: { address: string; port: number }; policy: { acl: string; entries: number }; probeSource: string; source: { kind: string; prefixes: string[] } };
  tunnels: { id: number; state: string; peer: string; proxy: SelectorJson; entry: number; packets: number; ageMs: number; idleMs: number; expiresInMs: number }[];
  pending: { icookie: string; entry: number; destination: string; tries: number; nextInMs: number }[];
  holdDowns: { destination: string; remainingMs: number; reason: string }[];
  counters: Record<string, number>;
  packets: Record<string, number>;
  transport: Record<string, number | boolean>;
}

const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

export function formatStatus(s: StatusView): string {
  const d = s.daemon;
  const out: string[] = [];
  out.push(`ted ${d.role} (pid ${d.pid}, ${d.version}) up ${secs(d.uptimeMs)}; IKE ${d.ike.address}:${d.ike.port}; ACL ${d.policy.acl} (${d.policy.entries} entries); probes from ${d.probeSource}; packets from ${d.source.kind}${d.source.prefixes.length ? ` (${d.source.prefixes.join(', ')})` : ''}`);
  out.push('', `tunnels (${s.tunnels.length}):`);
  for (const t of s.tunnels)
    out.push(
      `  #${t.id} ${t.state.padEnd(11)} peer ${t.peer}  entry ${t.entry}  packets ${t.packets}  age ${secs(t.ageMs)}  idle ${secs(t.idleMs)}  expires in ${secs(t.expiresInMs)}`,
      `      ${t.proxy.entry}`,
    );
  out.push('', `pending probes (${s.pending.length}):`);
  for (const p of s.pending) out.push(`  cookie ${p.icookie} -> ${p.destination}  entry ${p.entry}  tries ${p.tries}  next in ${secs(p.nextInMs)}`);
  out.push('', `hold-downs (${s.holdDowns.length}):`);
  for (const h of s.holdDowns) out.push(`  ${h.destination}  ${secs(h.remainingMs)} left  (${h.reason})`);
  const nonZero = Object.entries(s.counters).filter(([, v]) => v !== 0);
  out.push('', `counters (non-zero):`);
  for (const [k, v] of nonZero) out.push(`  ${k.padEnd(28)} ${v}`);
  out.push('', `packets: ${Object.entries(s.packets).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  out.push(`transport: ${Object.entries(s.transport).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  return out.join('\n') + '\n';
}

export function registerStatus(program: Command): void {
  program
    .command('status')
    .description("show a running daemon's tunnels, pending probes, hold-downs and counters")
    .option('-s, --socket <path>', `control socket (default: the configuration's control.socket, else ${DEFAULT_CONTROL_SOCKET})`)
    .option('-c, --config <file>', 'take the control socket from this daemon configuration')
    .option('--json', 'print the status as one JSON object')
    .action(async (flags: StatusFlags) => {
      const path = flags.socket ?? (flags.config ? loadConfig(flags.config, { skipFileChecks: true }).control.socket : DEFAULT_CONTROL_SOCKET);
      const status = (await queryControl(path, { cmd: 'status' })) as StatusView;
      process.stdout.write(flags.json ? lineJson(status) + '\n' : formatStatus(status));
    });
}
