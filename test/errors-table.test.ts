// docs/errors.md is the one list of error codes: it names every code the source raises, no dead
// ones, where each is raised, and an exit status the CLI really gives for it.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain ES module shared with scripts/errors-docs.mjs
import { TABLE, parseTable, renderTable, scanSource } from '../scripts/error-codes.mjs';
import { exitCodeOf } from '../src/cli/errors.js';
import { ConfigError, DecodeError, PathError, TedError, UsageError, ViciError } from '../src/errors.js';

type Scan = Map<string, { files: string[]; classes: string[] }>;
type Row = { meaning: string; exit: string; where: string };

const text = readFileSync(TABLE, 'utf8');
const scanned = scanSource() as Scan;
const rows = parseTable(text) as Map<string, Row>;

/** An instance of the class a code is raised with, to ask the CLI which exit status it gets. */
const make: Record<string, (code: string) => Error> = {
  TedError: (c) => new TedError(c, 'm'),
  UsageError: (c) => new UsageError(c, 'm'),
  ConfigError: (c) => new ConfigError(c, 'k', 'm'),
  DecodeError: (c) => new DecodeError(c, 'm', 0),
  PathError: (c) => new PathError(c, 'input', '/x', 'm'),
  ViciError: (c) => new ViciError(c, 'm'),
};

// Codes raised through helpers (problem lists, decoder fail/invalid functions) rather than a
// visible `new XError(...)`: the family decides the class, and with it the exit status.
const FAMILY_EXIT: [RegExp, string][] = [
  [/^(POLICY|CONFIG|CLI|TED_INPUT)_/, '2'],
  [/^(IKE|PCAP)_/, '2'],
];

describe('docs/errors.md', () => {
  it('lists exactly the codes the source raises, with where they are raised', () => {
    const missing = [...scanned.keys()].filter((c) => !rows.has(c));
    const dead = [...rows.keys()].filter((c) => !scanned.has(c));
    expect(missing, 'codes raised but not in docs/errors.md: run node scripts/errors-docs.mjs and describe them').toEqual([]);
    expect(dead, 'codes in docs/errors.md that nothing raises').toEqual([]);
    expect(renderTable(text, scanned), 'docs/errors.md is stale: run node scripts/errors-docs.mjs').toBe(text);
  });

  it('every row has a meaning and an exit status the CLI gives', () => {
    for (const [code, r] of rows) {
      expect(r.meaning.length, `${code}: meaning`).toBeGreaterThan(10);
      expect(['1', '2', '—'], `${code}: exit`).toContain(r.exit);
      const classes = scanned.get(code)?.classes ?? [];
      if (r.exit === '—') continue;
      if (classes.length > 0) {
        for (const k of classes) {
          expect(make[k], `${code}: raised as ${k}, which this test does not know`).toBeDefined();
          expect(String(exitCodeOf(make[k]!(code))), `${code} raised as ${k}`).toBe(r.exit);
        }
      } else {
        const family = FAMILY_EXIT.find(([re]) => re.test(code));
        expect(family, `${code}: raised through a helper; add its family to FAMILY_EXIT`).toBeDefined();
        expect(r.exit, code).toBe(family![1]);
      }
    }
  });
});
