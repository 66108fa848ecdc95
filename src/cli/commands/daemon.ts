// `ted initiator`, `ted responder` and `ted daemon` (the role its configuration says, both by
// default): run a TED gateway on this host's real sockets until SIGINT/SIGTERM. `--print-setup`
// prints the Linux set-up instead.
import type { Command } from 'commander';
import { UsageError } from '../../errors.js';
import { loadConfig, policyLoadOptions, type DaemonConfig, type LogLevel, type Role } from '../../daemon/config.js';
import { Daemon } from '../../daemon/daemon.js';
import { createLogger, flushLogger } from '../../daemon/log.js';
import { setupFor } from '../../daemon/setup.js';
import { loadPolicy } from '../../policy/index.js';

interface DaemonFlags {
  config?: string;
  replay?: string;
  printSetup?: boolean;
  logLevel?: LogLevel;
  control?: string;
}

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** `role`: the command's (`ted initiator`, `ted responder`); undefined for `ted daemon`, which runs as the file says. */
async function runDaemon(role: Role | undefined, flags: DaemonFlags): Promise<void> {
  if (flags.logLevel !== undefined && !LEVELS.includes(flags.logLevel))
    throw new UsageError('CLI_BAD_LOG_LEVEL', `--log-level must be one of ${LEVELS.join(', ')}`);
  if (flags.printSetup) {
    const setupRole = role === 'responder' ? 'responder' : 'initiator';
    if (!flags.config) {
      process.stdout.write(setupFor(setupRole, undefined));
      if (role === undefined) process.stdout.write('\n' + setupFor('responder', undefined));
      return;
    }
    const config = loadConfig(flags.config, { overrides: role ? { role } : {}, skipFileChecks: true });
    const policy = config.role !== 'initiator' && !config.protects ? safePolicy(config.policy) : undefined;
    const roles = config.role === 'both' ? (['initiator', 'responder'] as const) : ([config.role] as const);
    process.stdout.write(roles.map((r) => setupFor(r, config, policy)).join('\n'));
    return;
  }
  if (!flags.config) throw new UsageError('CLI_NO_CONFIG', `ted ${role ?? 'daemon'} needs --config FILE (see examples/daemon/ and schema/daemon-config.schema.json)`);
  const config = loadConfig(flags.config, {
    overrides: {
      ...(role ? { role } : {}),
      ...(flags.replay !== undefined ? { replay: flags.replay } : {}),
      ...(flags.logLevel !== undefined ? { logLevel: flags.logLevel } : {}),
      ...(flags.control !== undefined ? { controlSocket: flags.control } : {}),
    },
  });
  const logger = createLogger({ level: config.log.level, pretty: config.log.pretty, bufferBytes: config.log.bufferBytes, base: { role: config.role } });
  const daemon = await Daemon.start(config, { logger });
  const onSignal = (signal: NodeJS.Signals) => void daemon.stop(signal);
  // A bug must not leave a half-working gateway: log it as the last line, stop cleanly, and exit 1.
  let fatal: unknown;
  const onFatal = (err: unknown) => {
    fatal ??= err;
    logger.fatal({ event: 'fatal', err: err instanceof Error ? { message: err.message, stack: err.stack } : String(err) }, 'fatal error; stopping');
    void daemon.stop('fatal error');
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  process.on('uncaughtException', onFatal);
  process.on('unhandledRejection', onFatal);
  try {
    await daemon.stopped();
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('uncaughtException', onFatal);
    process.off('unhandledRejection', onFatal);
    // A write stuck on a stalled stderr (a pipe nobody reads) must not keep the process alive.
    if (!(await flushLogger(logger, 2000))) setTimeout(() => process.exit(), 100).unref();
  }
  if (fatal !== undefined) throw fatal;
}

function safePolicy(p: DaemonConfig['policy']) {
  try {
    return loadPolicy(p.file, policyLoadOptions(p));
  } catch {
    return undefined; // the set-up text then shows a placeholder
  }
}

function register(program: Command, name: string, role: Role | undefined, what: string): void {
  program
    .command(name)
    .description(what)
    .option('-c, --config <file>', 'configuration file (YAML or JSON; schema/daemon-config.schema.json)')
    .option('--replay <file>', 'take the packets from a pcap/pcapng file instead of the configured source')
    .option('--print-setup', 'print the Linux set-up (policy routing) for this role and exit')
    .option('--log-level <level>', `override log.level (${LEVELS.join(', ')})`)
    .option('--control <path>', 'override control.socket')
    .action((flags: DaemonFlags) => runDaemon(role, flags));
}

export function registerDaemon(program: Command): void {
  register(program, 'initiator', 'initiator', 'run the TED initiator: probe for unknown destinations of protected traffic, record tunnels');
  register(program, 'responder', 'responder', 'run the TED responder: answer probes for the hosts this gateway protects');
  register(program, 'daemon', undefined, 'run a gateway with the role its configuration says: initiator, responder, or both (the default)');
}
