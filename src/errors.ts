// Every error the project throws on purpose, in one place. Each carries a stable `code` that
// callers and tests match on; messages are for people and may change.
import { cut, TOKEN_MAX } from './terminal.js';

export interface TedErrorOptions {
  cause?: unknown;
}

/** Base class: anything thrown by ipsec-ted on purpose is a TedError with a stable code. */
export class TedError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: TedErrorOptions) {
    super(message, options);
    this.name = 'TedError';
    this.code = code;
  }
}

/** Bad command-line usage or arguments (CLI exit code 2). */
export class UsageError extends TedError {
  constructor(code: string, message: string, options?: TedErrorOptions) {
    super(code, message, options);
    this.name = 'UsageError';
  }
}

/** One problem at one place in a policy file. */
export interface PolicyProblem {
  code: string;
  message: string;
  file: string;
  line: number; // 1-based
  column: number; // 1-based
  token?: string;
  expected?: string;
}

/**
 * A policy that could not be read. `problems` lists every error found (up to a limit); nothing
 * from a file with problems is applied. `code`/`line`/... repeat the first problem.
 */
export class PolicyError extends TedError {
  readonly problems: PolicyProblem[];
  readonly file: string;
  readonly line: number;
  readonly column: number;
  readonly token?: string;
  readonly expected?: string;
  constructor(found: PolicyProblem[], options?: TedErrorOptions) {
    // A token is echoed back: a binary file or a megabyte-long line must not be, whole.
    const problems = found.map((p) => (p.token !== undefined && p.token.length > TOKEN_MAX ? { ...p, token: cut(p.token) } : p));
    const first = problems[0];
    if (!first) throw new TypeError('PolicyError needs at least one problem');
    const more = problems.length > 1 ? ` (and ${problems.length - 1} more)` : '';
    super(first.code, `${formatProblem(first)}${more}`, options);
    this.name = 'PolicyError';
    this.problems = problems;
    this.file = first.file;
    this.line = first.line;
    this.column = first.column;
    this.token = first.token;
    this.expected = first.expected;
  }
}

export function formatProblem(p: PolicyProblem): string {
  const where = `${p.file}:${p.line}:${p.column}`;
  const tok = p.token !== undefined ? ` at '${cut(p.token)}'` : '';
  const exp = p.expected !== undefined ? `; expected ${p.expected}` : '';
  return `${where}: ${p.code}: ${p.message}${tok}${exp}`;
}

/**
 * Wire data that could not be decoded (captures, packet headers, ISAKMP). `offset` is the byte
 * offset in the buffer given to the decoder where the problem was found; `truncated` tells
 * "ran out of bytes" apart from "bytes present but invalid".
 */
export class DecodeError extends TedError {
  readonly offset: number;
  readonly truncated: boolean;
  readonly payloadIndex?: number;
  constructor(
    code: string,
    message: string,
    offset: number,
    details: { truncated?: boolean; payloadIndex?: number } & TedErrorOptions = {},
  ) {
    super(code, `${message} (offset ${offset})`, { cause: details.cause });
    this.name = 'DecodeError';
    this.offset = offset;
    this.truncated = details.truncated ?? false;
    this.payloadIndex = details.payloadIndex;
  }
}

/** A configuration that refuses to start: `key` names the offending setting. */
export class ConfigError extends TedError {
  readonly key: string;
  constructor(code: string, key: string, message: string, options?: TedErrorOptions) {
    super(code, `${key}: ${message}`, options);
    this.name = 'ConfigError';
    this.key = key;
  }
}

/**
 * A path that does not name what it should (a directory, a FIFO or device, a missing or
 * unreadable file, a binary file where text is expected): `TED_INPUT_*`, exit status 2.
 */
export class PathError extends TedError {
  readonly path: string;
  readonly reason: string;
  constructor(code: string, what: string, path: string, reason: string, options?: TedErrorOptions) {
    super(code, `${what} ${path}: ${reason}`, options);
    this.name = 'PathError';
    this.path = path;
    this.reason = reason;
  }
}

/**
 * A VICI exchange with strongSwan's charon that did not succeed: not connected, connection lost,
 * timed out, unknown command or event, or the command answered `success = no` (`errmsg` holds
 * charon's reason). Bytes that do not decode are a DecodeError with a VICI_* code instead.
 */
export class ViciError extends TedError {
  readonly command?: string;
  readonly errmsg?: string;
  constructor(code: string, message: string, details: { command?: string; errmsg?: string } & TedErrorOptions = {}) {
    super(code, message, { cause: details.cause });
    this.name = 'ViciError';
    this.command = details.command;
    this.errmsg = details.errmsg;
  }
}
