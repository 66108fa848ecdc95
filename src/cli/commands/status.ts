// `ted status`: a running daemon's tunnels, pending probes, hold-downs and counters, read through
// its control socket.
import type { Command } from 'commander';
import { queryControl } from '../../daemon/control.js';
import { loadConfig } from '../../daemon/config.js';
import type { SelectorJson } from '../../selector/format.js';
import { lineJson } from '../json.js';
import { UsageError } from '../../errors.js';

export const DEFAULT_CONTROL_SOCKET = '/run/ted/ted.sock';

interface StatusFlags {
  socket?: string;
  config?: string;
  json?: boolean;
}

interface StatusView {
  daemon: { role: string; pid: number; version: string; uptimeMs: number; ike: { address: string; port: number }; policy: { acl: string; entries: number }; probeSource: string; source: { kind: string; prefixes: string[] } };
  tunnels: { id: number; state: string; peer: string; proxy: SelectorJson; entry: number; packets: number; ageMs: number; idleMs: number; expiresInMs: number; ike?: TunnelIke }[];
  handoff?: HandoffView;
  pending: { icookie: string; entry: number; destination: string; tries: number; nextInMs: number }[];
  holdDowns: { destination: string; remainingMs: number; reason: string }[];
  counters: Record<string, number>;
  packets: Record<string, number>;
  transport: Record<string, number | boolean>;
}

/** A tunnel's SAs as the strongSwan handoff reports them. */
interface TunnelIke {
  connection: string;
  phase: string;
  ikeSa: string[];
  childSas: { name: string; state: string; localTs: string[]; remoteTs: string[]; spiIn?: string; spiOut?: string; encap?: boolean }[];
}

interface HandoffView {
  kind: string;
  vici?: string;
  charon?: string;
  ikeVersion?: number;
  kernel?: string;
  counters?: { initiated: number; established: number; down: number; failures: Record<string, number> };
  responder?: { connection: string; sas: { child: string; peer: string; localTs: string[]; remoteTs: string[] }[] };
}

function handoffLines(h: HandoffView | undefined): string[] {
  if (!h || h.kind === 'none') return ['handoff: none (tunnels are recorded, no SA is made)'];
  const c = h.counters;
  const failures = c ? Object.entries(c.failures).map(([k, v]) => `${k} ${v}`).join(', ') : '';
  const out = [`handoff: strongSwan over ${h.vici} (${h.charon}); IKEv${h.ikeVersion}, ${h.kernel}${c ? `; initiated ${c.initiated}, established ${c.established}, down ${c.down}${failures ? `; failed: ${failures}` : ''}` : ''}`];
  if (h.responder) {
    out.push(`  responder connection ${h.responder.connection}: ${h.responder.sas.length} CHILD_SA(s)`);
    for (const sa of h.responder.sas) out.push(`    ${sa.child} with ${sa.peer}: ${sa.localTs.join(' ')} === ${sa.remoteTs.join(' ')}`);
  }
  return out;
}

function ikeLines(ike: TunnelIke | undefined): string[] {
  if (!ike) return [];
  const out = [`      IKE ${ike.connection} ${ike.phase}${ike.ikeSa.length ? ` (IKE SA #${ike.ikeSa.join(', #')})` : ''}`];
  for (const c of ike.childSas) out.push(`      CHILD_SA ${c.name} ${c.state}${c.encap ? ' UDP-encap' : ''} spi ${c.spiIn ?? '?'}/${c.spiOut ?? '?'}: ${c.localTs.join(' ')} === ${c.remoteTs.join(' ')}`);
  return out;
}

const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

export function formatStatus(s: StatusView): string {
  const d = s.daemon;
  const out: string[] = [];
  out.push(`ted ${d.role} (pid ${d.pid}, ${d.version}) up ${secs(d.uptimeMs)}; IKE ${d.ike.address}:${d.ike.port}; ACL ${d.policy.acl} (${d.policy.entries} entries); probes from ${d.probeSource}; packets from ${d.source.kind}${d.source.prefixes.length ? ` (${d.source.prefixes.join(', ')})` : ''}`);
  out.push(...handoffLines(s.handoff));
  out.push('', `tunnels (${s.tunnels.length}):`);
  for (const t of s.tunnels)
    out.push(
      `  #${t.id} ${t.state.padEnd(11)} peer ${t.peer}  entry ${t.entry}  packets ${t.packets}  age ${secs(t.ageMs)}  idle ${secs(t.idleMs)}  expires in ${secs(t.expiresInMs)}`,
      `      ${t.proxy.entry}`,
      ...ikeLines(t.ike),
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
      if (path === '') throw new UsageError('CLI_NO_SOCKET', flags.socket !== undefined ? '--socket needs a path' : `${flags.config}: control.socket is "" (disabled): that daemon has no control socket`);
      const status = (await queryControl(path, { cmd: 'status' })) as StatusView;
      process.stdout.write(flags.json ? lineJson(status) + '\n' : formatStatus(status));
    });
}
