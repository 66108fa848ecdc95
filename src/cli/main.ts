#!/usr/bin/env node
// `ted`: a thin command line over the library. Each command lives in ./commands/ and only parses
// arguments, calls the library and formats results.
import { Command, CommanderError } from 'commander';
import { readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { exitCodeOf, reportError } from './errors.js';
import { escapeStdout, survivePipeClose } from './output.js';
import { terminalSafe } from '../terminal.js';

type Register = (program: Command) => void;

// Every command and the module that registers it, in `ted --help` order. Only the module of the
// command being run is imported (each pulls in its part of the library: importing all of them
// cost more than half of a short command's process start); help and unknown commands load all.
const daemon = async (): Promise<Register> => (await import('./commands/daemon.js')).registerDaemon;
const COMMANDS: Record<string, () => Promise<Register>> = {
  decode: async () => (await import('./commands/decode.js')).registerDecode,
  policy: async () => (await import('./commands/policy.js')).registerPolicy,
  intersect: async () => (await import('./commands/intersect.js')).registerIntersect,
  demo: async () => (await import('./commands/demo.js')).registerDemo,
  pcap: async () => (await import('./commands/pcap.js')).registerPcap,
  classify: async () => (await import('./commands/classify.js')).registerClassify,
  bench: async () => (await import('./commands/bench.js')).registerBench,
  initiator: daemon,
  responder: daemon,
  daemon,
  status: async () => (await import('./commands/status.js')).registerStatus,
  lab: async () => (await import('./commands/lab.js')).registerLab,
};

/** The command names `ted` knows, in help order. */
export const COMMAND_NAMES: readonly string[] = Object.keys(COMMANDS);

/**
 * The program with the command that `argv` runs registered, or every command when `argv` names
 * none of them (`ted --help`, `ted help`, a misspelt command: help and suggestions list all);
 * none for `ted -v`. Without `argv`, every command.
 */
export async function buildProgram(argv?: readonly string[]): Promise<Command> {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string; description: string };
  const program = new Command('ted')
    .description(pkg.description)
    .version(pkg.version, '-v, --version', 'print the version')
    .exitOverride()
    .showHelpAfterError(false)
    .configureOutput({ writeErr: (s) => process.stderr.write(terminalSafe(s)) });
  // The first word that is not an option names the command (the program has no option taking a value).
  const name = argv?.find((a) => !a.startsWith('-'));
  const versionOnly = argv !== undefined && name === undefined && argv.some((a) => a === '-v' || a === '--version') && !argv.some((a) => a === '-h' || a === '--help');
  const loaders = versionOnly ? [] : name !== undefined && Object.hasOwn(COMMANDS, name) ? [COMMANDS[name]!] : Object.values(COMMANDS);
  const registered = new Set<Register>();
  for (const register of await Promise.all(loaders.map((load) => load()))) {
    if (registered.has(register)) continue; // one module, several commands
    registered.add(register);
    register(program);
  }
  return program;
}

export async function main(argv: string[]): Promise<number> {
  survivePipeClose();
  const restoreStdout = escapeStdout();
  try {
    await (await buildProgram(argv)).parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version are "errors" to commander; they exit 0.
      if (err.exitCode === 0) return 0;
      return 2;
    }
    reportError(err);
    return exitCodeOf(err);
  } finally {
    restoreStdout();
  }
}

// Run when executed (directly or through the npm bin link), not when imported by tests.
function invokedDirectly(): boolean {
  const script = process.argv[1];
  if (!script) return false;
  try {
    return realpathSync(script) === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
}
if (invokedDirectly()) {
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
