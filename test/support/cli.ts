// Runs the `ted` CLI in-process through main(argv), capturing what it writes.
import { vi } from 'vitest';
import { main } from '../../src/cli/main.js';

export interface CliResult {
  code: number;
  out: string;
  err: string;
}

/** The built CLI, for the few end-to-end runs that spawn it (npm test builds it first). */
export const DIST_CLI = new URL('../../dist/cli/main.js', import.meta.url).pathname;

/**
 * main(argv) with stdout and stderr captured. process.exitCode is put back afterwards: a command
 * that sets it (ted demo on a failed story) must not leak its code into later runs.
 */
export async function runCli(argv: string[]): Promise<CliResult> {
  let out = '';
  let err = '';
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => ((out += String(s)), true));
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => ((err += String(s)), true));
  const before = process.exitCode;
  try {
    const code = await main(argv);
    return { code, out, err };
  } finally {
    o.mockRestore();
    e.mockRestore();
    process.exitCode = before;
  }
}
