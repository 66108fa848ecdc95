#!/usr/bin/env node
// `ted`: a thin command line over the library. Each command lives in ./commands/ and only parses
// arguments, calls the library and formats results.
import { Command, CommanderError } from 'commander';
import { readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { exitCodeOf, reportError } from './errors.js';
import { escapeStdout, survivePipeClose } from './output.js';
import { terminalSafe } from '../terminal.js';
// Commands register themselves here, one import and one call each.
import { registerDecode } from './commands/decode.js';
import { registerPolicy } from './commands/policy.js';
import { registerIntersect } from './commands/intersect.js';
import { registerDemo } from './commands/demo.js';
import { registerPcap } from './commands/pcap.js';
import { registerClassify } from './commands/classify.js';
import { registerBench } from './commands/bench.js';
import { registerDaemon } from './commands/daemon.js';
import { registerStatus } from './commands/status.js';
import { registerLab } from './commands/lab.js';

export function buildProgram(): Command {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string; description: string };
  const program = new Command('ted')
    .description(pkg.description)
    .version(pkg.version, '-v, --version', 'print the version')
    .exitOverride()
    .showHelpAfterError(false)
    .configureOutput({ writeErr: (s) => process.stderr.write(terminalSafe(s)) });
  registerDecode(program);
  registerPolicy(program);
  registerIntersect(program);
  registerDemo(program);
  registerPcap(program);
  registerClassify(program);
  registerBench(program);
  registerDaemon(program);
  registerStatus(program);
  registerLab(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  survivePipeClose();
  const restoreStdout = escapeStdout();
  try {
    await buildProgram().parseAsync(argv, { from: 'user' });
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
