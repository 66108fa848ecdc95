// Everything a user types ends in one clear line: a table of argv -> exit status and stderr
// pattern, each row run for real (in-process through main(), or the built CLI as a child process
// where the exit status, a closed pipe, a terminal or another user matters). Every failing row
// also checks that stderr is one line, with no stack, no "internal error" and no raw control
// character.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import dgram from 'node:dgram';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorLines, exitCodeOf } from '../src/cli/errors.js';
import { stepText } from '../src/cli/commands/demo.js';
import { claimPort500, type DemoStep, type DemoStepKind } from '../src/demo/demo.js';
import { encodeEthernet, encodeUdpPacket } from '../src/packet/encode.js';
import { writePcapng } from '../src/pcap/pcapng-writer.js';
import { writePcap } from '../src/pcap/writer.js';
import { DIST_CLI, runCli, type CliResult } from './support/cli.js';
import { parseEntry } from '../src/policy/cisco.js';
import { selectorJson } from '../src/selector/format.js';

const ROOT = new URL('..', import.meta.url).pathname;
const EXAMPLES = join(ROOT, 'examples');
const GOOD_ACL = join(EXAMPLES, 'demo', 'initiator.acl');
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const isRoot = process.getuid?.() === 0;
const distOk = existsSync(DIST_CLI);
if (!distOk) console.warn('cli-errors.test: dist/ is absent (npm run build); the child-process rows are skipped');

const dir = mkdtempSync(join(tmpdir(), 'ted-cli-errors-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const at = (name: string) => join(dir, name);

// ---------------------------------------------------------------- fixtures
const F = {
  fifo: at('fifo'),
  binary: at('binary.acl'),
  utf16: at('utf16.acl'),
  trace: at('trace.txt'),
  cut: at('cut.pcap'),
  escAcl: at('esc.acl'),
  longAcl: at('long.acl'),
  escJson: at('esc.json'),
  escPcapng: at('esc.pcapng'),
  manyProblems: at('problems.acl'),
  regular: at('regular-file'),
  /** A daemon configuration that would run, but for what `extra` or `policy` breaks. */
  config: (name: string, extra: string, policy = GOOD_ACL) => {
    const p = at(name);
    writeFileSync(p, `ike:\n  address: 127.0.0.3\n  port: 25501\npolicy:\n  file: ${policy}\n${extra}`);
    return p;
  },
};

beforeAll(() => {
  execFileSync('mkfifo', [F.fifo]);
  // An ELF header: NUL bytes among printable ones, as a binary given by mistake.
  writeFileSync(F.binary, Buffer.concat([Buffer.from('\x7fELF\x02\x01\x01\x00\x00\x00'), Buffer.alloc(64, 0x41), Buffer.from([0x1b, 0x5b, 0x32, 0x4a])]));
  writeFileSync(F.utf16, Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('access-list 101 permit ip any any\n', 'utf16le')]));
  writeFileSync(F.trace, '167772161 167772162 40000 80 6\n');
  const udp = (sport: number) => encodeEthernet({}, encodeUdpPacket({ family: 4, src: 0x0a0b0005n, dst: 0x0a160050n, sport, dport: 80, payload: new Uint8Array(40) }));
  const pcap = writePcap([1, 2, 3].map((i) => ({ data: udp(40000 + i), tsSec: i, tsNsec: 0 })), { linkType: 1 });
  writeFileSync(F.cut, pcap.subarray(0, pcap.length - 10)); // the third record is cut
  writeFileSync(F.escAcl, 'access-list 101 permit \x1b[2J\x1b]0;owned\x07 any any\n');
  writeFileSync(F.longAcl, `access-list 101 permit ${'x'.repeat(10_000)} any any\n`);
  writeFileSync(F.escJson, JSON.stringify({ name: 'VPN\u001b[31m\u202eRED', entries: [{ action: 'permit', protocol: 'tcp' }] }));
  writeFileSync(F.escPcapng, writePcapng([{ interfaces: [{ linkType: 1, name: `eth0\u001b[31m${'y'.repeat(200)}` }], blocks: [{ data: udp(1) }] }]));
  writeFileSync(F.manyProblems, Array.from({ length: 100 }, (_, i) => `access-list 101 permit bogus${i} any any`).join('\n') + '\n');
  writeFileSync(F.regular, 'not a socket\n');
  mkdirSync(at('not-a-dir-parent'));
  writeFileSync(at('not-a-dir-parent/file'), '');
});

// ---------------------------------------------------------------- running rows
function expectOneClearLine(r: CliResult, code: number, pattern: RegExp): void {
  expect(r.code, `stderr: ${r.err}\nstdout: ${r.out.slice(0, 500)}`).toBe(code);
  expect(r.err).toMatch(pattern);
  expect(r.err).not.toMatch(/internal error|\n\s+at /);
  // eslint-disable-next-line no-control-regex
  expect(r.err).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e]/);
  expect(r.err.endsWith('\n') && r.err.indexOf('\n') === r.err.length - 1, `one line: ${JSON.stringify(r.err)}`).toBe(true);
}

/** The built CLI as a child process (exit status as the shell sees it). */
function child(argv: string[], options: { env?: NodeJS.ProcessEnv; timeout?: number } = {}): CliResult {
  const r = spawnSync(process.execPath, [DIST_CLI, ...argv], { encoding: 'utf8', env: { ...process.env, ...options.env }, timeout: options.timeout ?? 60_000 });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

interface Row {
  readonly name: string;
  readonly argv: () => string[];
  readonly code: number;
  readonly err: RegExp;
  /** When stdout must be empty: the check came before any work. */
  readonly noOutput?: boolean;
}

const ROWS: Row[] = [
  // Files where a file is expected: policy, trace, capture, --out, --pcap.
  { name: 'a directory as a policy', argv: () => ['policy', 'check', dir], code: 2, err: /^ted: TED_INPUT_IS_DIRECTORY: policy \/tmp\/\S+: a directory, not a file$/m },
  { name: 'a FIFO as a policy (no hang)', argv: () => ['policy', 'check', F.fifo], code: 2, err: /TED_INPUT_NOT_FILE: policy \S+fifo: a FIFO \(named pipe\), not a regular file/ },
  { name: '/dev/zero as a policy (no endless read)', argv: () => ['policy', 'check', '/dev/zero'], code: 2, err: /TED_INPUT_NOT_FILE: policy \/dev\/zero: a character device/ },
  { name: 'a missing policy', argv: () => ['policy', 'check', at('nope.acl')], code: 2, err: /TED_INPUT_NOT_FOUND: policy \S+nope\.acl: no such file/ },
  { name: 'a directory as a classify policy', argv: () => ['classify', '--policy', dir, '--trace', F.trace], code: 2, err: /TED_INPUT_IS_DIRECTORY: policy / },
  { name: 'a directory as a trace', argv: () => ['classify', '--policy', GOOD_ACL, '--trace', dir], code: 2, err: /TED_INPUT_IS_DIRECTORY: trace / },
  { name: '/dev/zero as a trace', argv: () => ['classify', '--policy', GOOD_ACL, '--trace', '/dev/zero'], code: 2, err: /TED_INPUT_NOT_FILE: trace \/dev\/zero/ },
  { name: 'a binary trace', argv: () => ['bench', 'classify', '--policy', GOOD_ACL, '--trace', F.binary], code: 2, err: /TED_INPUT_BINARY: trace \S+: binary file/ },
  { name: 'a FIFO as a capture (classify)', argv: () => ['classify', '--policy', GOOD_ACL, '--pcap', F.fifo], code: 2, err: /TED_INPUT_NOT_FILE: capture \S+fifo: a FIFO/ },
  { name: 'a directory as a capture (pcap info)', argv: () => ['pcap', 'info', dir], code: 2, err: /TED_INPUT_IS_DIRECTORY: capture / },
  { name: '/dev/zero as a capture (decode)', argv: () => ['decode', '/dev/zero'], code: 2, err: /TED_INPUT_NOT_FILE: capture \/dev\/zero: a character device/ },
  { name: 'a directory as --out', argv: () => ['classify', '--policy', GOOD_ACL, '--trace', F.trace, '--out', dir], code: 2, err: /TED_INPUT_IS_DIRECTORY: --out /, noOutput: true },
  { name: '--out in a missing directory', argv: () => ['classify', '--policy', GOOD_ACL, '--trace', F.trace, '--out', '/nonexistent/r.txt'], code: 2, err: /TED_INPUT_NOT_FOUND: --out \/nonexistent\/r\.txt: directory \/nonexistent does not exist/, noOutput: true },
  { name: '--out under a regular file', argv: () => ['classify', '--policy', GOOD_ACL, '--trace', F.trace, '--out', join(F.regular, 'r.txt')], code: 2, err: /TED_INPUT_NOT_FOUND: --out \S+: a part of the path is not a directory/ },
  { name: 'ted demo --pcap in a missing directory fails before the demo', argv: () => ['demo', '--pcap', '/nonexistent/x.pcap'], code: 2, err: /TED_INPUT_NOT_FOUND: --pcap \/nonexistent\/x\.pcap: directory \/nonexistent does not exist/, noOutput: true },
  { name: 'ted demo --pcap a directory', argv: () => ['demo', '--pcap', dir], code: 2, err: /TED_INPUT_IS_DIRECTORY: --pcap /, noOutput: true },
  { name: 'ted demo with a FIFO as a policy', argv: () => ['demo', '--initiator-policy', F.fifo], code: 2, err: /TED_INPUT_NOT_FILE: policy \S+fifo/, noOutput: true },
  { name: 'a directory as --batch', argv: () => ['intersect', '--batch', dir], code: 2, err: /TED_INPUT_IS_DIRECTORY: --batch / },
  // The daemon's configuration and the files it names.
  { name: 'a directory as the daemon configuration', argv: () => ['daemon', '--config', dir], code: 2, err: /CONFIG_FILE: \(file\): \/tmp\/\S+: a directory, not a file/ },
  { name: 'a FIFO as the daemon configuration (no hang)', argv: () => ['initiator', '--config', F.fifo], code: 2, err: /CONFIG_FILE: \(file\): \S+fifo: a FIFO/ },
  { name: 'a binary daemon configuration', argv: () => ['status', '--config', F.binary], code: 2, err: /CONFIG_FILE: \(file\): \S+: binary file/ },
  { name: 'policy.file is a directory', argv: () => ['daemon', '--config', F.config('pdir.yaml', '', dir)], code: 2, err: /CONFIG_POLICY_FILE: policy\.file: \/tmp\/\S+: a directory, not a file/ },
  { name: 'policy.file is a binary file', argv: () => ['responder', '--config', F.config('pbin.yaml', '', F.binary)], code: 2, err: /CONFIG_POLICY_FILE: policy\.file: \S+binary\.acl: binary file/ },
  { name: '--replay a directory', argv: () => ['daemon', '--config', F.config('replay.yaml', 'control:\n  socket: ""\n'), '--replay', dir], code: 2, err: /CONFIG_SOURCE_FILE: --replay: \/tmp\/\S+: a directory, not a file/ },
  { name: 'the control-socket directory is a regular file', argv: () => ['daemon', '--config', F.config('cdir.yaml', `control:\n  socket: ${join(F.regular, 'ted.sock')}\n`)], code: 2, err: /CONFIG_CONTROL_SOCKET: control\.socket: cannot use the directory of \S+: \S+regular-file is a regular file, not a directory/ },
  { name: 'a regular file where the control socket goes', argv: () => ['daemon', '--config', F.config('cfile.yaml', `control:\n  socket: ${F.regular}\n`)], code: 2, err: /CONFIG_CONTROL_SOCKET: control\.socket: \S+regular-file exists and is a regular file, not a socket/ },
  { name: 'ted status --socket a regular file', argv: () => ['status', '--socket', F.regular], code: 1, err: /CONTROL_UNREACHABLE: cannot reach the daemon at \S+regular-file: a regular file, not a socket/ },
  { name: 'ted status --socket with an empty path', argv: () => ['status', '--socket', ''], code: 2, err: /CLI_NO_SOCKET: --socket needs a path/ },
  { name: 'ted status of a daemon without a control socket', argv: () => ['status', '--config', F.config('nosock.yaml', 'control:\n  socket: ""\n')], code: 2, err: /CLI_NO_SOCKET: \S+nosock\.yaml: control\.socket is "" \(disabled\)/ },
  // Binary files and untrusted tokens.
  { name: 'a binary file as a policy: "binary file" once, not its bytes', argv: () => ['policy', 'check', F.binary], code: 2, err: /^ted: TED_INPUT_BINARY: policy \S+binary\.acl: binary file \(a NUL byte at offset 7\), not text\n$/ },
  { name: 'a UTF-16 policy', argv: () => ['policy', 'check', F.utf16], code: 2, err: /TED_INPUT_BINARY: policy \S+utf16\.acl: UTF-16 text: save it as UTF-8/ },
  { name: 'a policy token is cut to 64 characters', argv: () => ['policy', 'check', F.longAcl], code: 2, err: new RegExp(`at 'x{64}\\.\\.\\.'`) },
  { name: 'control characters in a policy token are escaped', argv: () => ['policy', 'check', F.escAcl], code: 2, err: /at '\\u001b\[2J\\u001b\]0;owned\\u0007'/ },
  // The roles: `ted daemon` runs as its file says; the message names commands that exist.
  { name: 'CONFIG_ROLE names real commands', argv: () => ['initiator', '--config', F.config('role.yaml', 'role: responder\ncontrol:\n  socket: ""\n')], code: 2, err: /CONFIG_ROLE: role: the file says responder but the command is `ted initiator`; run `ted responder` or `ted daemon`, or set role to both/ },
  // Usage.
  { name: 'an unknown option', argv: () => ['policy', 'check', '--frobnicate', GOOD_ACL], code: 2, err: /^error: unknown option '--frobnicate'$/m },
];

describe('ted: one clear line per error (argv table)', () => {
  it.each(ROWS.map((r) => [r.name, r] as const))('%s', async (_name, row) => {
    const r = await runCli(row.argv());
    expectOneClearLine(r, row.code, row.err);
    if (row.noOutput) expect(r.out).toBe('');
  });

  it.skipIf(!distOk)('an unreadable file (another user): TED_INPUT_UNREADABLE', (ctx) => {
    const f = at('secret.acl');
    writeFileSync(f, readFileSync(GOOD_ACL));
    chmodSync(f, 0o000);
    chmodSync(dir, 0o755);
    let r: CliResult;
    if (isRoot) {
      // Root reads anything: run as nobody (the file stays 000, the directory is traversable).
      const p = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, DIST_CLI, 'policy', 'check', f], { encoding: 'utf8' });
      if (p.error) {
        console.warn(`cli-errors.test: setpriv unavailable (${p.error.message}); the unreadable-file row is skipped`);
        return ctx.skip();
      }
      r = { code: p.status ?? -1, out: p.stdout, err: p.stderr };
    } else r = child(['policy', 'check', f]);
    expectOneClearLine(r, 2, /TED_INPUT_UNREADABLE: policy \S+secret\.acl: permission denied/);
  });

  it('-v and --version print the version', async () => {
    for (const flag of ['-v', '--version']) expect(await runCli([flag])).toEqual({ code: 0, out: `${VERSION}\n`, err: '' });
  });

  it('ted daemon --help says what CONFIG_ROLE expects: it runs as the file says (no `ted both`)', async () => {
    const help = await runCli(['daemon', '--help']);
    expect(help.code).toBe(0);
    expect(help.out.replace(/\s+/g, ' ')).toMatch(/run a gateway with the role its configuration says: initiator, responder, or both \(the default\)/);
    const setup = await runCli(['daemon', '--print-setup', '--config', F.config('as-file.yaml', 'role: initiator\n')]);
    expect(setup.code, setup.err).toBe(0);
    expect(setup.out).toMatch(/^# ted initiator/m);
    expect(setup.out).not.toMatch(/^# ted responder/m);
  });

  it('another OS error (a full disk) is one line in the system\'s words, exit 1', () => {
    const full = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28, syscall: 'write' });
    expect(errorLines(full, {})).toEqual(['ENOSPC: no space left on device, write']);
    expect(exitCodeOf(full)).toBe(1);
    const gone = Object.assign(new Error("ENOENT: no such file or directory, open '/x'"), { code: 'ENOENT', syscall: 'open', path: '/x' });
    expect(errorLines(gone, {})).toEqual(['TED_INPUT_NOT_FOUND: /x: no such file']);
    expect(exitCodeOf(gone)).toBe(2);
  });

  it('an internal error is one line; TED_DEBUG=1 adds where', () => {
    const bug = new RangeError('Maximum call stack size exceeded');
    expect(errorLines(bug, {})).toEqual(['internal error: RangeError: Maximum call stack size exceeded (TED_DEBUG=1 shows where)']);
    const debug = errorLines(bug, { TED_DEBUG: '1' });
    expect(debug[0]).toBe('internal error: RangeError: Maximum call stack size exceeded');
    expect(debug.length).toBeGreaterThan(1);
  });
});

describe('untrusted text on stdout', () => {
  it('an ACL name with escape and bidi characters is escaped in ted policy check', async () => {
    const r = await runCli(['policy', 'check', F.escJson]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/^VPN\\u001b\[31m\\u202eRED: IPv4, 1 entry$/m);
    // eslint-disable-next-line no-control-regex
    expect(r.out).not.toMatch(/[\u001b\u202e]/);
    // --json stays valid JSON and means the same name.
    const j = await runCli(['policy', 'check', '--json', F.escJson]);
    expect(JSON.parse(j.out).acl).toBe('VPN\u001b[31m\u202eRED');
  });

  it('a pcapng interface name is cut and escaped in ted pcap info', async () => {
    const r = await runCli(['pcap', 'info', F.escPcapng]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/^interfaces: +0: ethernet \(1\) eth0\\u001b\[31my{55}\.\.\. snaplen/m);
    // eslint-disable-next-line no-control-regex
    expect(r.out).not.toMatch(/\u001b/);
  });
});

describe('a truncated capture', () => {
  it('ted classify --pcap prints the summary of the frames before the damage, then the error ted pcap info and ted decode give', async () => {
    const c = await runCli(['classify', '--policy', GOOD_ACL, '--pcap', F.cut]);
    expectOneClearLine(c, 2, /^ted: PCAP_TRUNCATED: capture ends inside a \d+-byte record: \d+ bytes needed, \d+ present \(offset \d+\)$/m);
    expect(c.out).toMatch(/^packets 2, /m);
    expect(c.out).toMatch(/^capture \S+cut\.pcap: 2 frames, 2 decoded/m);
    expect(c.out).toMatch(/^stopped at: PCAP_TRUNCATED at byte \d+: capture ends inside/m);
    const info = await runCli(['pcap', 'info', F.cut]);
    const decode = await runCli(['decode', F.cut]);
    expect(info.code).toBe(2);
    expect(decode.code).toBe(2);
    expect(info.err).toBe(c.err);
    expect(decode.err).toBe(c.err);
    for (const engine of ['ts', 'wasm']) {
      const j = await runCli(['classify', '--engine', engine, '--json', '--policy', GOOD_ACL, '--pcap', F.cut]);
      expect(j.code).toBe(2);
      expect(JSON.parse(j.out)).toMatchObject({ packets: 2, capture: { frames: 2, error: { code: 'PCAP_TRUNCATED' } } });
    }
  });
});

describe('ted policy check lists any number of entries', () => {
  it.skipIf(!distOk)('a 1,000,000-entry list (a RangeError from spreading into Math.max before)', () => {
    const f = at('million.classbench');
    const lines: string[] = [];
    for (let i = 0; i < 1_000_000; i++) lines.push(`@10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}/32 0.0.0.0/0 0 : 65535 80 : 80 0x06/0xFF`);
    writeFileSync(f, lines.join('\n') + '\n');
    lines.length = 0;
    const r = spawnSync(process.execPath, [DIST_CLI, 'policy', 'check', f], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024, timeout: 110_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.slice(0, 200)).toMatch(/^million\.classbench: IPv4, 1000000 entries\n/);
    expect(r.stdout.trimEnd().split('\n').at(-1)).toMatch(/^ +1000000 +- +permit tcp host 10\.15\.66\.63 any eq 80$/);
    rmSync(f);
  }, 120_000);
});

describe('a closed stdout or stderr does not change the exit status', () => {
  /** Runs the built CLI with both pipes closed by the reader before it writes anything. */
  function closedPipes(argv: string[]): Promise<number | null> {
    return new Promise((resolve, reject) => {
      const c = spawn(process.execPath, [DIST_CLI, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
      c.stdout.destroy();
      c.stderr.destroy();
      c.on('error', reject);
      c.on('close', (code) => resolve(code));
    });
  }

  it.skipIf(!distOk).each([
    ['a bad policy (100 problem lines)', () => ['policy', 'check', F.manyProblems], 2],
    ['a good policy', () => ['policy', 'check', GOOD_ACL], 0],
    ['a missing capture', () => ['pcap', 'info', at('nope.pcap')], 2],
    ['ted demo', () => ['demo', '--unprivileged'], 0],
    ['--help', () => ['--help'], 0],
  ] as const)('%s', async (_name, argv, code) => {
    expect(await closedPipes(argv())).toBe(code);
  });

  it.skipIf(!distOk)('`ted policy check BAD 2>&1 | head -1` exits 2 (bash PIPESTATUS)', () => {
    const script = `"${process.execPath}" "${DIST_CLI}" policy check "${F.manyProblems}" 2>&1 | head -1; exit "\${PIPESTATUS[0]}"`;
    const r = spawnSync('bash', ['-c', script], { encoding: 'utf8' });
    expect(r.stdout).toMatch(/^ted: \S+problems\.acl:1:\d+: POLICY_/);
    expect(r.stdout.split('\n')).toHaveLength(2);
    expect(r.status).toBe(2);
  });
});

describe('colours', () => {
  const cfg = () => F.config('pretty.yaml', `role: responder\nlog:\n  level: info\n  pretty: always\ncontrol:\n  socket: ""\n`);

  /** Starts a daemon, waits for its first log line, stops it; returns what reached the terminal/pipe. */
  function firstLogLine(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<string> {
    return new Promise((resolve, reject) => {
      const c = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
      let text = '';
      const timer = setTimeout(() => c.kill('SIGKILL'), 20_000);
      const onData = (d: Buffer) => {
        text += d.toString('utf8');
        if (/started/.test(text)) c.kill('SIGTERM');
      };
      c.stdout.on('data', onData);
      c.stderr.on('data', onData);
      c.on('error', reject);
      c.on('close', () => {
        clearTimeout(timer);
        resolve(text);
      });
    });
  }

  it.skipIf(!distOk)('readable log lines carry no ANSI codes when stderr is not a terminal', async () => {
    const out = await firstLogLine(process.execPath, [DIST_CLI, 'daemon', '--config', cfg()], { NO_COLOR: '' });
    expect(out).toMatch(/INFO.*started/);
    // eslint-disable-next-line no-control-regex
    expect(out).not.toMatch(/\u001b/);
  });

  const haveScript = spawnSync('script', ['--version']).status === 0;
  if (!haveScript) console.warn('cli-errors.test: `script` (util-linux) is absent; the terminal colour rows are skipped');
  it.skipIf(!distOk || !haveScript)('on a terminal: coloured, unless NO_COLOR is set', async () => {
    const cmd = `"${process.execPath}" "${DIST_CLI}" daemon --config "${cfg()}"`;
    const tty = await firstLogLine('script', ['-qec', cmd, '/dev/null'], { NO_COLOR: '' });
    // eslint-disable-next-line no-control-regex
    expect(tty).toMatch(/\u001b\[\d+mINFO/);
    const noColour = await firstLogLine('script', ['-qec', cmd, '/dev/null'], { NO_COLOR: '1' });
    expect(noColour).toMatch(/INFO.*started/);
    // eslint-disable-next-line no-control-regex
    expect(noColour).not.toMatch(/\u001b\[\d+m/);
  });
});

describe('the control socket', () => {
  it('is created owner-only from the start, and only a socket is replaced', async () => {
    const { startControlServer } = await import('../src/daemon/control.js');
    const path = at('ctl/ted.sock');
    // Observe the mode at the moment listen() returns, before any chmod could run.
    const listen = net.Server.prototype.listen;
    let modeAtBind: number | undefined;
    net.Server.prototype.listen = function (this: net.Server, ...args: unknown[]) {
      const r = (listen as (...a: unknown[]) => net.Server).apply(this, args);
      if (args[0] === path) modeAtBind = lstatSync(path).mode & 0o777;
      return r;
    } as typeof listen;
    const umask = process.umask(0);
    try {
      const s = await startControlServer(path, () => 'ok');
      await s.close();
    } finally {
      process.umask(umask);
      net.Server.prototype.listen = listen;
    }
    expect(modeAtBind?.toString(8)).toBe('600');
    writeFileSync(path, 'precious');
    await expect(startControlServer(path, () => 'ok')).rejects.toMatchObject({ code: 'CONFIG_CONTROL_SOCKET', message: expect.stringContaining(`${path} exists and is a regular file, not a socket`) });
    expect(readFileSync(path, 'utf8')).toBe('precious');
  });
});

describe('ted demo', () => {
  // Every kind of step has a line of text (the Record makes a new kind fail to compile here).
  const sel = (text: string) => selectorJson(parseEntry(text, { family: 4 }).selector);
  const SAMPLES: Record<DemoStepKind, DemoStep> = {
    setup: { step: 'setup', note: 'n', initiator: { ike: '127.0.1.1', acl: 'A' }, responder: { ike: '127.0.2.1', acl: 'B' } },
    packet: { step: 'packet', case: 'v3', packet: 'tcp 1.1.1.1:1 > 2.2.2.2:2', entry: 1, acl: 'permit ip any any', verdict: 'DROP' },
    probe: { step: 'probe', case: 'v3', icookie: 'ab', attempt: 1, ip: { src: 'a', dst: 'b', sport: 1, dport: 500 }, spoofed: true, summary: 's', bytes: 80 },
    'responder-silent': { step: 'responder-silent', case: 'v3', gateway: 'responder', reason: 'no-match' },
    response: { step: 'response', case: 'v3', entry: 2, acl: 'x', to: 'a', rcookie: 'cd', proxy: sel('permit tcp 10.2.0.0 0.0.255.255 eq 80 10.1.0.0 0.0.255.255') },
    'response-dropped': { step: 'response-dropped', case: 'v3', gateway: 'initiator', reason: 'unknown-cookie' },
    intersection: { step: 'intersection', case: 'v3', ours: sel('permit ip any any'), theirs: sel('permit tcp any any'), result: sel('permit tcp any any') },
    merge: { step: 'merge', case: 'v2', ours: sel('permit ip any any'), theirs: sel('permit udp any any eq 53'), empty: 'dport' },
    verify: { step: 'verify', case: 'v3', packet: 'p', inside: true },
    'quick-mode': { step: 'quick-mode', case: 'v2', accepted: false, reason: 'not-subset' },
    tunnel: { step: 'tunnel', case: 'v3', id: 1, state: 'established', peer: 'a', proxy: sel('permit ip 10.1.0.0 0.0.255.255 10.2.0.0 0.0.255.255') },
    'gave-up': { step: 'gave-up', case: 'v3', tries: 3 },
    compare: { step: 'compare', found: false, note: 'n' },
    verdict: { step: 'verdict', v3: 'established', v2: 'refused by the responder' },
    timeout: { step: 'timeout', case: 'v3', waitedMs: 3000 },
    done: { step: 'done', ok: true, elapsedMs: 40 },
  };

  it.each(Object.entries(SAMPLES))('step %s has a text line (no raw JSON, nothing undefined)', (_kind, step) => {
    const text = stepText(step, 1);
    expect(text).not.toMatch(/[{}]|undefined|\[object/);
    expect(text).toMatch(/^ 1\. \S/);
  });

  it('the text story holds no raw JSON', async () => {
    const r = await runCli(['demo', '--unprivileged']);
    expect(r.code, r.err).toBe(0);
    expect(r.out).not.toMatch(/[{}]/);
  });

  it.skipIf(!isRoot)('as root while another ted demo holds UDP 500: says so, runs on other ports, takes none of its datagrams', async (ctx) => {
    let other: { release(): void };
    try {
      other = await claimPort500(); // what the first `ted demo` holds while it runs
    } catch (err) {
      console.warn(`cli-errors.test: UDP 500 is busy here (${(err as Error).message}); the demo lock row is skipped`);
      return ctx.skip();
    }
    try {
      await expect(claimPort500()).rejects.toMatchObject({ code: 'TED_DEMO_PORT_IN_USE' });
      const r = await runCli(['demo', '--json']);
      expect(r.code, r.err).toBe(0);
      const steps = r.out.trim().split('\n').map((l) => JSON.parse(l) as DemoStep);
      expect(steps[0]).toMatchObject({ step: 'setup', mode: 'unprivileged' });
      expect(String(steps[0]!.note)).toMatch(/^root, but UDP 500 is in use by another `ted demo` in this network namespace: unprivileged UDP ports/);
      expect(steps.at(-1)).toMatchObject({ step: 'done', ok: true });
    } finally {
      other.release();
    }
  });

  it.skipIf(!isRoot)('as root beside another program on UDP 500 (SO_REUSEADDR, as IKE daemons bind): says so instead of sharing the port', async (ctx) => {
    const squatter = dgram.createSocket({ type: 'udp4', reuseAddr: true });
    const bound = await new Promise<boolean>((resolve) => {
      squatter.once('error', () => resolve(false));
      squatter.bind({ address: '0.0.0.0', port: 500 }, () => resolve(true));
    });
    if (!bound) {
      console.warn('cli-errors.test: UDP 500 is busy here; the other-program row is skipped');
      return ctx.skip();
    }
    let received = 0;
    squatter.on('message', () => received++);
    try {
      const r = await runCli(['demo']);
      expect(r.code, r.err).toBe(0);
      expect(r.out).toMatch(/mode: root, but UDP 500 is in use by another (program \(an IKE daemon\?\)|`ted demo`)/);
      expect(r.out).toMatch(/done in \d+ ms/);
      expect(received).toBe(0);
    } finally {
      squatter.close();
    }
  });
});

describe('installed without the optional raw-socket addon', () => {
  // A copy of the package whose node_modules has every dependency but raw-socket, as an install
  // on a machine without a C/C++ toolchain leaves it.
  const pkg = join(dir, 'no-raw');
  beforeAll(() => {
    if (!distOk) return;
    mkdirSync(join(pkg, 'node_modules'), { recursive: true });
    cpSync(join(ROOT, 'dist'), join(pkg, 'dist'), { recursive: true });
    for (const name of ['build', 'examples', 'schema', 'package.json']) symlinkSync(join(ROOT, name), join(pkg, name));
    for (const name of readdirSync(join(ROOT, 'node_modules'))) if (name !== 'raw-socket' && !name.startsWith('.')) symlinkSync(join(ROOT, 'node_modules', name), join(pkg, 'node_modules', name));
  });
  const cli = () => join(pkg, 'dist', 'cli', 'main.js');

  it.skipIf(!distOk)('the raw transport says TRANSPORT_RAW_MISSING and how to get the addon', () => {
    const code = `import(${JSON.stringify(join(pkg, 'dist', 'index.js'))}).then((m) => m.createRawTransport({ bind: [{ address: '127.0.0.1', port: 0 }] })).catch((e) => { console.log(e.code + ': ' + e.message); })`;
    const out = execFileSync(process.execPath, ['-e', code], { encoding: 'utf8' });
    expect(out).toMatch(/^TRANSPORT_RAW_MISSING: raw sockets are unavailable: the optional raw-socket addon is not installed \(it builds with node-gyp: install python3, make and a C\+\+ compiler.*then `npm install raw-socket`\)/);
  });

  it.skipIf(!distOk)('everything else works: ted demo (as root: the fallback says why), classify, policy check', () => {
    const demo = spawnSync(process.execPath, [cli(), 'demo'], { encoding: 'utf8', timeout: 60_000 });
    expect(demo.status, demo.stderr).toBe(0);
    if (isRoot) expect(demo.stdout).toMatch(/mode: root, but (raw sockets are unavailable: the optional raw-socket addon is not installed|UDP 500 is in use)/);
    expect(demo.stdout).toMatch(/tunnel 1 ESTABLISHED/);
    const check = spawnSync(process.execPath, [cli(), 'policy', 'check', GOOD_ACL], { encoding: 'utf8' });
    expect(check.status, check.stderr).toBe(0);
    const cls = spawnSync(process.execPath, [cli(), 'classify', '--policy', GOOD_ACL, '--trace', F.trace], { encoding: 'utf8' });
    expect(cls.status, cls.stderr).toBe(0);
    expect(statSync(join(pkg, 'node_modules')).isDirectory()).toBe(true);
    expect(existsSync(join(pkg, 'node_modules', 'raw-socket'))).toBe(false);
  });
});
