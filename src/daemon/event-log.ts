// The gateway's events in the daemon's log. Anything one packet or one datagram can cause (a
// drop, a probe sent or refused, a probe answered or ignored, a response dropped...) is written
// at debug only, and counted: every interval one line per kind of event says how many happened
// and why ("1200 probes refused in the last 10 s: rate-limited 1150, no-entry 50"). Tunnels
// (bounded by the tunnel table, and each one needs an answer to one of our probes) keep their
// own info line. So a flood costs a few lines per interval, whatever its rate.
import type { Logger } from 'pino';
import type { TedIdentity } from '../ike/ted-types.js';
import { formatAddress } from '../selector/address.js';
import { formatSelector } from '../selector/format.js';
import type { Family } from '../selector/types.js';
import type { GatewayEvent } from '../ted/types.js';
import { jsonSafe } from './log.js';

/** Default interval of the summary lines. */
export const DEFAULT_SUMMARY_MS = 10_000;

function addr(family: Family, v: bigint): string {
  return formatAddress(family, v);
}

export function cookie(v: bigint): string {
  return v.toString(16).padStart(16, '0');
}

export function identity(id: TedIdentity): string {
  return addr(id.family, id.address);
}

type Counted = Exclude<GatewayEvent['type'], 'tunnel'>;

/** What each summary line calls its events, and its level. */
const SUMMARY: Record<Counted, { what: string; level: 'info' | 'warn' }> = {
  drop: { what: 'packets dropped', level: 'info' },
  'probe-sent': { what: 'probes sent', level: 'info' },
  'probe-refused': { what: 'probes not sent', level: 'warn' },
  'probe-gave-up': { what: 'probes gave up', level: 'warn' },
  'hold-down': { what: 'destinations held down', level: 'warn' },
  'probe-received': { what: 'probes received', level: 'info' },
  'probe-ignored': { what: 'probes refused', level: 'warn' },
  'response-sent': { what: 'responses sent', level: 'info' },
  'response-received': { what: 'responses received', level: 'info' },
  'response-dropped': { what: 'responses dropped', level: 'warn' },
  intersection: { what: 'intersections', level: 'info' },
  verify: { what: 'packets checked against an intersection', level: 'info' },
};

/** The reason an event is counted under in its summary line. */
function reasonOf(e: GatewayEvent): string {
  switch (e.type) {
    case 'drop':
    case 'probe-refused':
    case 'probe-ignored':
    case 'response-dropped':
    case 'hold-down':
      return e.reason;
    case 'probe-sent':
      return e.attempt === 1 ? 'first' : 'retransmission';
    case 'intersection':
      return e.result ? 'non-empty' : `empty-${e.emptyField}`;
    case 'verify':
      return e.inside ? 'inside' : 'outside';
    default:
      return e.type;
  }
}

/** The debug line of one event (every event, at debug). */
function detail(e: GatewayEvent): [Record<string, unknown>, string] {
  switch (e.type) {
    case 'drop':
      return [{ event: 'drop', entry: e.entry, reason: e.reason, protocol: e.tuple.protocol, src: addr(e.tuple.family, e.tuple.src), dst: addr(e.tuple.family, e.tuple.dst), sport: e.tuple.sport, dport: e.tuple.dport }, `DROP (${e.reason})`];
    case 'probe-sent':
      return [
        { event: 'probe-sent', icookie: cookie(e.icookie), entry: e.entry, attempt: e.attempt, src: addr(e.summary.family, e.src), dst: addr(e.summary.family, e.dst), sport: e.sport, dport: e.dport, spoofed: e.spoofed },
        `probe ${cookie(e.icookie)} attempt ${e.attempt} ${addr(e.summary.family, e.src)} -> ${addr(e.summary.family, e.dst)}`,
      ];
    case 'probe-refused':
      return [{ event: 'probe-refused', entry: e.entry, reason: e.reason }, `probe refused (${e.reason})`];
    case 'probe-gave-up':
      return [{ event: 'probe-gave-up', icookie: cookie(e.icookie), entry: e.entry, tries: e.tries }, `probe ${cookie(e.icookie)} gave up after ${e.tries} tries`];
    case 'probe-received':
      return [{ event: 'probe-received', icookie: cookie(e.icookie), from: identity(e.from) }, `probe ${cookie(e.icookie)} from ${identity(e.from)}`];
    case 'probe-ignored':
      return [{ event: 'probe-ignored', reason: e.reason, icookie: e.icookie === undefined ? undefined : cookie(e.icookie) }, `probe ignored (${e.reason})`];
    case 'response-sent':
      return [
        { event: 'response-sent', icookie: cookie(e.icookie), rcookie: cookie(e.rcookie), entry: e.entry, to: identity(e.to), proxy: formatSelector(e.proxy) },
        `response to ${identity(e.to)} with entry ${e.entry}`,
      ];
    case 'response-received':
      return [{ event: 'response-received', icookie: cookie(e.icookie), peer: identity(e.peer), proxy: formatSelector(e.proxy) }, `response from ${identity(e.peer)}`];
    case 'response-dropped':
      return [{ event: 'response-dropped', reason: e.reason, icookie: e.icookie === undefined ? undefined : cookie(e.icookie) }, `response dropped (${e.reason})`];
    case 'intersection':
      return [
        { event: 'intersection', icookie: cookie(e.icookie), entry: e.entry, tedVersion: e.tedVersion, result: e.result ? formatSelector(e.result) : undefined, emptyField: e.emptyField },
        e.result ? 'intersection' : `empty intersection (${e.emptyField})`,
      ];
    case 'verify':
      return [{ event: 'verify', icookie: cookie(e.icookie), inside: e.inside }, e.inside ? 'P lies inside the intersection' : 'P lies outside the intersection'];
    case 'hold-down':
      return [{ event: 'hold-down', destination: addr(e.family, e.destination), reason: e.reason, until: e.until }, `hold-down ${addr(e.family, e.destination)} (${e.reason})`];
    default:
      return [{ event: 'other', detail: jsonSafe(e) as object }, 'event'];
  }
}

export interface EventLogOptions {
  /** Interval of the summary lines in ms (default 10 s); 0 = no timer (call summarize()). */
  readonly intervalMs?: number;
}

/** Logs a gateway's events: debug lines, counted into periodic summaries; tunnels at info. */
export class EventLog {
  private counts = new Map<Counted, Map<string, number>>();
  private timer: NodeJS.Timeout | undefined;
  private last = Date.now();
  readonly intervalMs: number;

  constructor(
    private readonly log: Logger,
    opts: EventLogOptions = {},
  ) {
    this.intervalMs = opts.intervalMs ?? DEFAULT_SUMMARY_MS;
    if (this.intervalMs > 0) {
      this.timer = setInterval(() => this.summarize(), this.intervalMs);
      this.timer.unref();
    }
  }

  /** The gateway's onEvent. */
  handle(e: GatewayEvent): void {
    if (e.type === 'tunnel') {
      this.log.info({ event: 'tunnel', state: e.state, id: e.tunnel.id, peer: identity(e.tunnel.peer), proxy: formatSelector(e.tunnel.proxy), reason: e.reason }, `tunnel ${e.tunnel.id} ${e.state}`);
      return;
    }
    if (this.log.isLevelEnabled('debug')) {
      const [fields, msg] = detail(e);
      this.log.debug(fields, msg);
    }
    let byReason = this.counts.get(e.type);
    if (!byReason) this.counts.set(e.type, (byReason = new Map()));
    const r = reasonOf(e);
    // Reasons are a short fixed list, but bound the map anyway.
    if (byReason.size < 64 || byReason.has(r)) byReason.set(r, (byReason.get(r) ?? 0) + 1);
    else byReason.set('other', (byReason.get('other') ?? 0) + 1);
  }

  /** Writes one line per kind of event counted since the last summary, and starts counting again. */
  summarize(): void {
    const now = Date.now();
    const seconds = Math.max(1, Math.round((now - this.last) / 1000));
    this.last = now;
    for (const [type, byReason] of this.counts) {
      let count = 0;
      for (const n of byReason.values()) count += n;
      if (count === 0) continue;
      const { what, level } = SUMMARY[type];
      const reasons = [...byReason].sort((a, b) => b[1] - a[1]);
      const why = reasons.length === 1 && reasons[0]![0] === type ? '' : `: ${reasons.map(([r, n]) => `${r} ${n}`).join(', ')}`;
      this.log[level]({ event: 'summary', of: type, count, byReason: Object.fromEntries(reasons), seconds }, `${count} ${what} in the last ${seconds} s${why}`);
    }
    this.counts = new Map();
  }

  /** Final summary; stops the timer. */
  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.summarize();
  }
}
