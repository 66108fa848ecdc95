// The daemon's log never blocks it: a writer that never drains fills a bounded queue, further
// lines are dropped and counted, and a "dropped" line follows once the writer moves again; a
// real pipe whose reader stalls leaves the event loop running.
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger, flushLogger, logStream, type LogSink } from '../src/daemon/log.js';
import { EventLog } from '../src/daemon/event-log.js';

const dir = mkdtempSync(join(tmpdir(), 'ted-log-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A sink that takes chunks but finishes none until release() is called. */
function stuckSink() {
  const chunks: string[] = [];
  const pending: (() => void)[] = [];
  let stuck = true;
  const sink: LogSink = {
    write(chunk, done) {
      chunks.push(chunk);
      if (stuck) pending.push(() => done());
      else done();
    },
  };
  return {
    sink,
    chunks,
    release() {
      stuck = false;
      for (const p of pending.splice(0)) p();
    },
  };
}

describe('bounded asynchronous log', () => {
  it('a writer that never drains: the queue stays bounded, lines are dropped and counted, a notice follows when it moves', async () => {
    const s = stuckSink();
    const logger = createLogger({ level: 'info', sink: s.sink, bufferBytes: 64 * 1024, pretty: 'never' });
    const stream = logStream(logger)!;
    const t0 = performance.now();
    for (let i = 0; i < 100_000; i++) logger.info({ event: 'x', i }, 'a line of about a hundred bytes once pino has added its fields');
    const ms = performance.now() - t0;
    expect(s.chunks).toHaveLength(1); // one write in flight, never finished
    expect(stream.queuedBytes).toBeLessThanOrEqual(64 * 1024);
    expect(stream.dropped).toBeGreaterThan(90_000);
    expect(ms).toBeLessThan(20_000); // returned: nothing waited for the writer
    expect(await flushLogger(logger, 50)).toBe(false);
    s.release();
    expect(await flushLogger(logger, 2000)).toBe(true);
    const text = s.chunks.join('');
    const notices = text.split('\n').filter((l) => l.includes('"log-dropped"')).map((l) => JSON.parse(l));
    expect(notices).toHaveLength(1);
    expect(notices[0].dropped).toBe(stream.dropped);
    // Everything not dropped was written, in order.
    const kept = text.split('\n').filter((l) => l.includes('"event":"x"')).map((l) => JSON.parse(l).i as number);
    expect(kept.length + stream.dropped).toBe(100_000);
    for (let k = 1; k < kept.length; k++) expect(kept[k]).toBeGreaterThan(kept[k - 1]!);
  });

  it('a sink that fails for good (EPIPE) counts the rest as dropped and does not throw', async () => {
    const logger = createLogger({ level: 'info', sink: { write: (_c, done) => done(Object.assign(new Error('EPIPE'), { code: 'EPIPE' })) }, pretty: 'never' });
    for (let i = 0; i < 1000; i++) logger.info('x');
    const stream = logStream(logger)!;
    expect(stream.error?.message).toBe('EPIPE');
    expect(stream.dropped).toBeGreaterThan(990);
    expect(await flushLogger(logger, 50)).toBe(false);
  });

  it('a real pipe whose reader never reads: the event loop keeps running while megabytes are logged', async (ctx) => {
    const fifo = join(dir, 'fifo');
    try {
      execFileSync('mkfifo', [fifo]);
    } catch {
      console.log('skipped: mkfifo is not available');
      ctx.skip();
      return;
    }
    // The reader opens the FIFO and sleeps without reading: writes fill the pipe (64 KB) and block.
    const reader = spawn('sh', ['-c', `exec 3<"${fifo}"; sleep 30`], { stdio: 'ignore' });
    const fd = openSync(fifo, 'w'); // blocking descriptor, like an inherited stderr
    try {
      const logger = createLogger({ level: 'info', fd, bufferBytes: 256 * 1024, pretty: 'never' });
      let ticks = 0;
      const tick = setInterval(() => ticks++, 5);
      const line = 'x'.repeat(200);
      const t0 = Date.now();
      while (Date.now() - t0 < 300) {
        for (let i = 0; i < 1000; i++) logger.info({ event: 'flood' }, line);
        await new Promise((r) => setImmediate(r));
      }
      await new Promise((r) => setTimeout(r, 100));
      clearInterval(tick);
      const stream = logStream(logger)!;
      expect(ticks).toBeGreaterThan(20); // timers ran: the loop was never blocked
      expect(stream.dropped).toBeGreaterThan(0);
      expect(stream.queuedBytes).toBeLessThanOrEqual(256 * 1024);
      expect(await flushLogger(logger, 100)).toBe(false);
    } finally {
      reader.kill('SIGKILL'); // the blocked write then fails with EPIPE and the pool thread is freed
      await new Promise((r) => reader.once('exit', r));
      closeSync(fd);
    }
  });
});

describe('event summaries', () => {
  it('a responder flood at info level: no line per probe, one summary per kind', () => {
    const s = stuckSink();
    s.release();
    const logger = createLogger({ level: 'info', sink: s.sink, pretty: 'never' });
    const events = new EventLog(logger, { intervalMs: 0 });
    const from = { family: 4 as const, address: 0xc0000201n };
    const summary = { tedVersion: 3, family: 4 as const, protocol: 6, src: 1n, dst: 2n, sport: 1, dport: 2 };
    for (let i = 0; i < 10_000; i++) {
      events.handle({ type: 'probe-received', icookie: BigInt(i + 1), from, summary });
      if (i % 4 === 0) events.handle({ type: 'probe-ignored', reason: 'rate-limited', icookie: BigInt(i + 1) });
      else events.handle({ type: 'response-sent', icookie: BigInt(i + 1), rcookie: 1n, entry: 1, proxy: { family: 4, protocol: 0, src: { value: 0n, care: 0n }, dst: { value: 0n, care: 0n }, sport: [{ lo: 0, hi: 65535 }], dport: [{ lo: 0, hi: 65535 }] }, to: from, src: 1n, sport: 500, dport: 500, bytes: new Uint8Array(0) });
    }
    expect(s.chunks.join('')).toBe('');
    events.close();
    const lines = s.chunks.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l));
    expect(lines.map((l) => [l.of, l.count])).toEqual([
      ['probe-received', 10_000],
      ['probe-ignored', 2500],
      ['response-sent', 7500],
    ]);
    expect(lines[1].level).toBe('warn');
  });
});
