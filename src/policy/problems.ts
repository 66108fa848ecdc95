// Collects every problem found in a policy file (up to a limit) so that the user sees them all at
// once; a file with any problem is rejected whole (nothing from it is applied).
import { PolicyError, type PolicyProblem } from '../errors.js';

/** How many problems one PolicyError lists at most; more are summarised in a final problem. */
export const MAX_PROBLEMS = 100;

export class Problems {
  readonly list: PolicyProblem[] = [];
  private dropped = 0;
  constructor(readonly file: string, readonly limit = MAX_PROBLEMS) {}

  add(code: string, message: string, line: number, column: number, token?: string, expected?: string): void {
    if (this.list.length >= this.limit) {
      this.dropped++;
      return;
    }
    const p: PolicyProblem = { code, message, file: this.file, line, column };
    if (token !== undefined) p.token = token;
    if (expected !== undefined) p.expected = expected;
    this.list.push(p);
  }

  get count(): number {
    return this.list.length + this.dropped;
  }

  /** Takes over every problem of `other` (its own overflow included). */
  absorb(other: Problems): void {
    for (const p of other.list) this.add(p.code, p.message, p.line, p.column, p.token, p.expected);
    this.dropped += other.dropped;
  }

  /** Throws one PolicyError carrying every problem, if there were any. */
  throwIfAny(): void {
    if (this.list.length === 0) return;
    // In file order, whatever order the checks ran in (sequence checks run after the lines).
    const problems = [...this.list].sort((a, b) => a.line - b.line || a.column - b.column);
    if (this.dropped > 0) {
      const last = problems[problems.length - 1]!;
      problems.push({
        code: 'POLICY_TOO_MANY_ERRORS',
        message: `${this.dropped} more problem(s) not listed (limit ${this.limit})`,
        file: this.file,
        line: last.line,
        column: last.column,
      });
    }
    throw new PolicyError(problems);
  }
}

/** A whitespace-separated token with its 1-based column. */
export interface Token {
  readonly text: string;
  readonly column: number;
}

/** Splits a line into tokens; `pattern` must be global and match one token each time. */
export function tokenize(line: string, pattern: RegExp = /\S+/g): Token[] {
  const out: Token[] = [];
  pattern.lastIndex = 0;
  for (let m = pattern.exec(line); m !== null; m = pattern.exec(line)) out.push({ text: m[0], column: m.index + 1 });
  return out;
}

/** Splits text into lines, accepting \n and \r\n. */
export function splitLines(text: string): string[] {
  const lines = text.split(/\r?\n/);
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines;
}

/** A decimal integer in [min, max], or undefined. */
export function parseDecimal(text: string, min: number, max: number): number | undefined {
  if (!/^\d{1,10}$/.test(text)) return undefined;
  const n = Number(text);
  return n >= min && n <= max ? n : undefined;
}
