// Checks that a path names what a command expects, before any long work starts: an input must be
// a readable regular file (a directory, a FIFO that would block, /dev/zero that never ends are
// refused), text inputs must not be binary, an output must be creatable. Each problem is a
// PathError (TED_INPUT_*, exit 2) naming the path and the reason; the daemon's configuration turns
// the same problems into ConfigErrors naming the setting.
import { accessSync, closeSync, constants, openSync, readSync, statSync, Stats } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { PathError } from './errors.js';

/** What is wrong with a path: the error code and a reason for people. */
export interface PathProblem {
  readonly code:
    | 'TED_INPUT_NOT_FOUND'
    | 'TED_INPUT_IS_DIRECTORY'
    | 'TED_INPUT_NOT_FILE'
    | 'TED_INPUT_NOT_DIRECTORY'
    | 'TED_INPUT_UNREADABLE'
    | 'TED_INPUT_UNWRITABLE'
    | 'TED_INPUT_BINARY';
  readonly reason: string;
}

/** Bytes read from the start of a text input to tell it from a binary file. */
const SNIFF_BYTES = 64 * 1024;

/** What a file is, for messages: 'a directory', 'a FIFO (named pipe)', 'a regular file', ... */
export function describeKind(s: Stats): string {
  if (s.isDirectory()) return 'a directory';
  if (s.isFIFO()) return 'a FIFO (named pipe)';
  if (s.isCharacterDevice()) return 'a character device';
  if (s.isBlockDevice()) return 'a block device';
  if (s.isSocket()) return 'a socket';
  if (s.isFile()) return 'a regular file';
  return 'not a regular file';
}

function osReason(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  switch (code) {
    case 'ENOENT':
      return 'no such file';
    case 'ENOTDIR':
      return 'a part of the path is not a directory';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'ELOOP':
      return 'too many symbolic links';
    case 'ENAMETOOLONG':
      return 'name too long';
    case 'EROFS':
      return 'read-only file system';
    default:
      return code ?? String((err as Error).message ?? err);
  }
}

function statOf(path: string): Stats | NodeJS.ErrnoException {
  try {
    return statSync(path);
  } catch (err) {
    return err as NodeJS.ErrnoException;
  }
}

/** Why `path` cannot be read as an input file, or undefined when it can. */
export function inputProblem(path: string, options: { text?: boolean } = {}): PathProblem | undefined {
  const s = statOf(path);
  if (!(s instanceof Stats)) {
    const code = s.code;
    return { code: code === 'ENOENT' || code === 'ENOTDIR' || code === 'ELOOP' || code === 'ENAMETOOLONG' ? 'TED_INPUT_NOT_FOUND' : 'TED_INPUT_UNREADABLE', reason: osReason(s) };
  }
  if (s.isDirectory()) return { code: 'TED_INPUT_IS_DIRECTORY', reason: 'a directory, not a file' };
  if (!s.isFile()) return { code: 'TED_INPUT_NOT_FILE', reason: `${describeKind(s)}, not a regular file` };
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    return { code: 'TED_INPUT_UNREADABLE', reason: osReason(err) };
  }
  try {
    if (!options.text) return undefined;
    const head = Buffer.alloc(Math.min(SNIFF_BYTES, s.size));
    const n = readSync(fd, head, 0, head.length, 0);
    const nul = head.subarray(0, n).indexOf(0);
    if (nul >= 0) {
      // Windows editors save "Unicode" as UTF-16: NUL bytes, but the fix is a re-save, not a new file.
      const utf16 = n >= 2 && ((head[0] === 0xff && head[1] === 0xfe) || (head[0] === 0xfe && head[1] === 0xff));
      return { code: 'TED_INPUT_BINARY', reason: utf16 ? 'UTF-16 text: save it as UTF-8' : `binary file (a NUL byte at offset ${nul}), not text` };
    }
    return undefined;
  } catch (err) {
    return { code: 'TED_INPUT_UNREADABLE', reason: osReason(err) };
  } finally {
    closeSync(fd);
  }
}

/**
 * Why `path` cannot be written as an output file, or undefined when it can. A new file needs an
 * existing, writable directory; an existing one must be a regular file (or /dev/null).
 */
export function outputProblem(path: string): PathProblem | undefined {
  const s = statOf(path);
  if (s instanceof Stats) {
    if (s.isDirectory()) return { code: 'TED_INPUT_IS_DIRECTORY', reason: 'a directory, not a file' };
    if (!s.isFile() && resolve(path) !== '/dev/null') return { code: 'TED_INPUT_NOT_FILE', reason: `${describeKind(s)}, not a regular file` };
    try {
      accessSync(path, constants.W_OK);
    } catch (err) {
      return { code: 'TED_INPUT_UNWRITABLE', reason: osReason(err) };
    }
    return undefined;
  }
  if (s.code !== 'ENOENT') return { code: s.code === 'ENOTDIR' ? 'TED_INPUT_NOT_FOUND' : 'TED_INPUT_UNWRITABLE', reason: osReason(s) };
  const dir = dirname(resolve(path));
  const d = statOf(dir);
  if (!(d instanceof Stats)) return { code: 'TED_INPUT_NOT_FOUND', reason: `directory ${dir} ${d.code === 'ENOENT' ? 'does not exist' : `cannot be used: ${osReason(d)}`}` };
  if (!d.isDirectory()) return { code: 'TED_INPUT_NOT_FOUND', reason: `${dir} is ${describeKind(d)}, not a directory` };
  try {
    accessSync(dir, constants.W_OK);
  } catch (err) {
    return { code: 'TED_INPUT_UNWRITABLE', reason: `cannot create a file in ${dir}: ${osReason(err)}` };
  }
  return undefined;
}

/**
 * Why `path` cannot be (or become, with `mkdir -p`) a directory we create files in, or undefined.
 * The first ancestor that exists must be a writable directory.
 */
export function directoryProblem(path: string): PathProblem | undefined {
  let at = resolve(path);
  for (;;) {
    const s = statOf(at);
    if (s instanceof Stats) {
      if (!s.isDirectory()) return { code: 'TED_INPUT_NOT_DIRECTORY', reason: `${at} is ${describeKind(s)}, not a directory` };
      try {
        accessSync(at, constants.W_OK | constants.X_OK);
      } catch (err) {
        return { code: 'TED_INPUT_UNWRITABLE', reason: `cannot create files in ${at}: ${osReason(err)}` };
      }
      return undefined;
    }
    if (s.code !== 'ENOENT') return { code: 'TED_INPUT_NOT_DIRECTORY', reason: `${at}: ${osReason(s)}` };
    const up = dirname(at);
    if (up === at) return { code: 'TED_INPUT_NOT_FOUND', reason: `${at} does not exist` };
    at = up;
  }
}

function raise(what: string, path: string, p: PathProblem | undefined): string {
  if (p) throw new PathError(p.code, what, path, p.reason);
  return path;
}

/** Returns `path` when it is a readable regular file (`text`: and not binary); else throws PathError. */
export function checkInputFile(path: string, what: string, options: { text?: boolean } = {}): string {
  return raise(what, path, inputProblem(path, options));
}

/** Returns `path` when an output file can be written there; else throws PathError. */
export function checkOutputFile(path: string, what: string): string {
  return raise(what, path, outputProblem(path));
}

/** A command-line argument parser (commander's shape) that checks an input file at parse time. */
export function inputFile(what: string, options: { text?: boolean } = {}): (value: string) => string {
  return (value) => checkInputFile(value, what, options);
}

/** A command-line argument parser that checks an output file at parse time. */
export function outputFile(what: string): (value: string) => string {
  return (value) => checkOutputFile(value, what);
}
