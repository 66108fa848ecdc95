// `ted` imports only the module of the command it runs (src/cli/main.ts): the table of command
// names must agree with what the modules register, and loading one command must give the same
// command (options, help) as loading all of them.
import { describe, expect, it } from 'vitest';
import type { Command } from 'commander';
import { buildProgram, COMMAND_NAMES } from '../src/cli/main.js';
import { runCli } from './support/cli.js';

const names = (p: Command): string[] => p.commands.map((c) => c.name());

describe('ted loads the command it runs', () => {
  it('the full program registers exactly the table, in help order', async () => {
    expect(names(await buildProgram())).toEqual(COMMAND_NAMES);
    expect(names(await buildProgram(['--help']))).toEqual(COMMAND_NAMES);
    expect(names(await buildProgram(['no-such-command']))).toEqual(COMMAND_NAMES);
  });

  it.each(COMMAND_NAMES)('`ted %s ...` registers its own command, the same as in the full program', async (name) => {
    const one = await buildProgram([name, '--json', 'x']);
    expect(names(one)).toContain(name);
    expect(names(one)).not.toEqual(COMMAND_NAMES);
    const full = (await buildProgram()).commands.find((c) => c.name() === name)!;
    const lazy = one.commands.find((c) => c.name() === name)!;
    expect(lazy.helpInformation()).toBe(full.helpInformation());
  });

  it('`ted -v` needs no command; `ted -v --help` still lists them all', async () => {
    expect(names(await buildProgram(['-v']))).toEqual([]);
    expect(names(await buildProgram(['-v', '--help']))).toEqual(COMMAND_NAMES);
  });

  it('help, a misspelt command and a subcommand group behave as with every command loaded', async () => {
    const help = await runCli(['--help']);
    expect(help.code).toBe(0);
    for (const n of COMMAND_NAMES) expect(help.out).toMatch(new RegExp(`^  ${n}\\b`, 'm'));
    const typo = await runCli(['decod', 'x']);
    expect(typo.code).toBe(2);
    expect(typo.err).toMatch(/unknown command 'decod'[\s\S]*Did you mean decode\?/);
    const sub = await runCli(['help', 'pcap']);
    expect(sub.code).toBe(0);
    expect(sub.out).toMatch(/^  info\b/m);
  });
});
