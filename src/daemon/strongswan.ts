// The daemon's strongSwan handoff: a VICI session with charon, the handoff built from the
// `handoff` section, its credentials read from their files, the responder's connection loaded,
// and one log line per thing that happens (IKE details at debug; a failure once, with its reason).
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { ConfigError } from '../errors.js';
import type { Policy } from '../selector/types.js';
import type { StrongswanCredentials } from '../strongswan/credentials.js';
import { createStrongswanHandoff, type StrongswanEvent, type StrongswanHandoff } from '../strongswan/handoff.js';
import { ViciSession } from '../vici/session.js';
import type { StrongswanConfig } from './config.js';

function readFile(path: string, key: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new ConfigError('CONFIG_FILE', key, `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err });
  }
}

/** The credentials with their files read (a missing or unreadable file names its key). */
export function readCredentials(c: StrongswanConfig['credentials']): StrongswanCredentials {
  if (c.kind === 'psk')
    return {
      kind: 'psk',
      secrets: c.secrets.map((s, i) => ({
        peers: s.peers,
        secret: s.secret ?? readFile(s.secretFile!, `handoff.credentials.secrets[${i}].secretFile`).toString('utf8').replace(/\r?\n$/, ''),
      })),
    };
  return {
    kind: 'certificates',
    certificate: readFile(c.certificate, 'handoff.credentials.certificate'),
    privateKey: readFile(c.privateKey, 'handoff.credentials.privateKey'),
    privateKeyType: c.privateKeyType,
    caCertificates: c.caCertificates.map((f, i) => readFile(f, `handoff.credentials.caCertificates[${i}]`)),
    ...(c.localId !== undefined ? { localId: c.localId } : {}),
    remoteId: c.remoteId,
  };
}

export function logStrongswan(log: Logger, e: StrongswanEvent): void {
  switch (e.type) {
    case 'initiating':
      log.info({ event: 'ike-initiating', tunnel: e.tunnel, connection: e.connection, peer: e.peer, childSas: e.children, selectors: e.selectors }, `IKE: initiating ${e.connection} to ${e.peer}`);
      return;
    case 'ike-log':
      log.debug({ event: 'ike-log', tunnel: e.tunnel, group: e.group, level: e.level }, e.message);
      return;
    case 'established':
      log.info(
        { event: 'ike-established', tunnel: e.tunnel, connection: e.connection, ikeSa: e.ikeId, childSas: e.children, ms: Math.round(e.ms) },
        `IKE: ${e.connection} up, ${e.children.map((c) => `${c.name} ${c.localTs.join(' ')} === ${c.remoteTs.join(' ')}`).join('; ')}`,
      );
      return;
    case 'failed':
      log.warn({ event: 'ike-failed', tunnel: e.tunnel, connection: e.connection, peer: e.peer, reason: e.reason, ms: Math.round(e.ms) }, `IKE: ${e.connection} to ${e.peer} failed (${e.reason}): ${e.message}`);
      return;
    case 'down':
      log.warn({ event: 'ike-down', tunnel: e.tunnel, connection: e.connection, cause: e.cause }, `IKE: ${e.connection} down (${e.cause})`);
      return;
    case 'torn-down':
      log.info({ event: 'ike-teardown', tunnel: e.tunnel, connection: e.connection, reason: e.reason }, `IKE: ${e.connection} terminated (${e.reason})`);
      return;
    case 'charon':
      if (e.state === 'up') log.info({ event: 'charon-up' }, 'charon: connected over VICI');
      else log.warn({ event: 'charon-down', err: e.message }, `charon: not reachable (${e.message ?? 'connection lost'}); reconnecting`);
      return;
    case 'responder-loaded':
      log.info({ event: 'responder-connection', connection: e.connection, childSas: e.children, skipped: e.skipped }, `IKE: responder connection ${e.connection} loaded with ${e.children} entries`);
      for (const s of e.skipped) log.warn({ event: 'responder-entry-skipped', entry: s.entry, reason: s.reason }, `IKE: ACL entry ${s.entry} has no IKE form and is not offered: ${s.reason}`);
      for (const w of e.warnings) log.warn({ event: 'responder-entry-warning', entry: w.entry, reason: w.reason }, `IKE: ACL entry ${w.entry}: ${w.reason}`);
      return;
    case 'responder-sa':
      log.info({ event: 'responder-sa', up: e.up, child: e.child, peer: e.peer, localTs: e.localTs, remoteTs: e.remoteTs }, `IKE: ${e.child} with ${e.peer} ${e.up ? 'up' : 'down'}`);
      return;
    case 'error':
      log.warn({ event: 'ike-error', context: e.context, err: e.message }, `IKE: ${e.context}: ${e.message}`);
  }
}

export interface StrongswanAttachment {
  readonly handoff: StrongswanHandoff;
  close(): Promise<void>;
}

/**
 * Builds the handoff and starts it (charon may be away: it is set up when it comes). A responder
 * gets its connection loaded; a failure to load it is logged and retried when charon reconnects.
 */
export async function startStrongswan(c: StrongswanConfig, ikeAddress: string, policy: Policy, role: 'initiator' | 'responder' | 'both', log: Logger): Promise<StrongswanAttachment> {
  const credentials = readCredentials(c.credentials);
  const vici = new ViciSession({ socket: c.vici });
  const handoff = createStrongswanHandoff({
    vici,
    localAddress: ikeAddress,
    credentials,
    ikeVersion: c.ikeVersion,
    proposals: c.proposals,
    espProposals: c.espProposals,
    localPort: c.localPort,
    remotePort: c.remotePort,
    encap: c.encap,
    dpdDelayS: c.dpdDelayS,
    connectionPrefix: c.connectionPrefix,
    initiateTimeoutMs: c.initiateTimeoutMs,
    maxChildSas: c.maxChildSas,
    kernel: c.kernel,
    cleanStale: role !== 'responder',
    onEvent: (e) => logStrongswan(log, e),
  });
  await handoff.start();
  if (role !== 'initiator')
    await handoff.loadResponder(policy).catch((err: Error) => log.error({ event: 'responder-connection-failed', err: err.message }, `IKE: loading the responder connection failed: ${err.message}`));
  return {
    handoff,
    async close() {
      await handoff.close();
      vici.close();
    },
  };
}
