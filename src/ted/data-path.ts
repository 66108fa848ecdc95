// The data path: classify a batch, then per packet BYPASS (deny entry or no entry), FORWARD (the
// flow cache or the tunnel table names an established tunnel) or DROP (protected, no tunnel yet:
// the initiator is told). Runs per packet: no allocation on the hit path, events only when
// someone listens.
import { FLAG_HAS_PORTS, TupleBatch } from '../classify/batch.js';
import type { Classifier } from '../classify/types.js';
import { TedError } from '../errors.js';
import type { Entry, Tuple } from '../selector/types.js';
import type { GatewayContext } from './context.js';
import type { FlowCache } from './flow-cache.js';
import { NEG_HELD, NEG_PROBING, type NegativeCache } from './negative-cache.js';
import { PERMIT, type PolicyView } from './policy-view.js';
import { STAT_ID, STAT_LAST_USED, STAT_PACKETS, STAT_WORDS, type TunnelTable } from './tunnels.js';
import type { VerdictCode, Verdicts } from './types.js';
import { BYPASS, DROP, FORWARD } from './types.js';

/** Called for a protected packet no tunnel covers (none negotiating either): the initiator decides whether to probe. */
export type MissHandler = (entry: Entry, packet: Tuple) => void;

export class DataPath {
  private out: Verdicts;
  private processing = false;
  private oneBatch: TupleBatch | undefined;

  constructor(
    private readonly ctx: GatewayContext,
    private readonly view: PolicyView,
    readonly classifier: Classifier,
    private readonly cache: FlowCache,
    private readonly table: TunnelTable,
    /** The initiator's trigger; undefined on a gateway that does not initiate. */
    private readonly onMiss: MissHandler | undefined,
    /** The initiator's pending and held-down destinations per entry (a cache of them). */
    private readonly negative: NegativeCache | undefined,
  ) {
    this.out = verdictBuffers(256);
  }

  createBatch(capacity: number): TupleBatch {
    return this.classifier.createBatch(capacity);
  }

  process(batch: TupleBatch): Verdicts {
    if (this.processing) throw new TedError('TED_REENTRANT', 'process() was called from inside process() (from an event listener?); the verdict buffers are in use');
    this.processing = true;
    try {
      return this.processBatch(batch);
    } finally {
      this.processing = false;
    }
  }

  /** One packet through the same path (the rare path; allocates). */
  processOne(t: Tuple): { verdict: VerdictCode; tunnel: number; ordinal: number } {
    const b = (this.oneBatch ??= new TupleBatch(1));
    b.count = 1;
    b.set(0, t);
    const v = this.process(b);
    return { verdict: v.verdict[0] as VerdictCode, tunnel: v.tunnel[0]!, ordinal: v.ordinal[0]! };
  }

  private processBatch(batch: TupleBatch): Verdicts {
    const n = batch.count;
    if (this.out.verdict.length < n) this.out = verdictBuffers(batch.capacity);
    const out = this.out;
    out.count = n;
    // Ordinals go to our own array: a batch in WebAssembly memory may have stale views until the
    // classifier refreshes them inside classify() (memory grown by another classifier), so its
    // columns are read only after that call.
    const ord = out.ordinal;
    this.classifier.classify(batch, ord);
    const verdict = out.verdict;
    const tunnel = out.tunnel;
    const actions = this.view.actions;
    const cache = this.cache;
    const stats = this.table.stats;
    const counters = this.ctx.counters;
    const fam = batch.family;
    const src = batch.src;
    const dst = batch.dst;
    const sp = batch.sport;
    const dp = batch.dport;
    const proto = batch.proto;
    const flags = batch.flags;
    const now = this.ctx.now();
    let fwd = 0;
    let byp = 0;
    let hits = 0;
    for (let i = 0; i < n; i++) {
      const o = ord[i]!;
      const f = fam[i]!;
      if (f === 0) {
        verdict[i] = DROP;
        tunnel[i] = 0;
        counters.dropsUndecodable++;
        counters.dropped++;
        continue;
      }
      if (o === 0 || actions[o] !== PERMIT) {
        verdict[i] = BYPASS;
        tunnel[i] = 0;
        byp++;
        continue;
      }
      const ports = ((sp[i]! << 16) | dp[i]!) >>> 0;
      const pf = proto[i]! | (flags[i]! << 8);
      const slot = f === 4 ? cache.get4(src[i]!, dst[i]!, ports, pf) : cache.get6(batch.src6, batch.dst6, i * 4, ports, pf);
      if (slot >= 0) {
        verdict[i] = FORWARD;
        const k = slot * STAT_WORDS;
        tunnel[i] = stats[k + STAT_ID]!;
        stats[k + STAT_LAST_USED] = now;
        stats[k + STAT_PACKETS]!++;
        fwd++;
        hits++;
        continue;
      }
      counters.flowCacheMisses++;
      this.miss(batch, i, o, ports, pf, now);
      if (verdict[i] === FORWARD) fwd++;
    }
    counters.packets += n;
    counters.forwarded += fwd;
    counters.bypassed += byp;
    counters.flowCacheHits += hits;
    return out;
  }

  /**
   * A protected packet the flow cache does not know: the tunnel index for its entry (one bucket
   * per distinct destination mask), then the initiator's negative results, then the initiator.
   */
  private miss(batch: TupleBatch, i: number, o: number, ports: number, pf: number, now: number): void {
    const out = this.out;
    const table = this.table;
    const f = batch.family[i]!;
    let tuple: Tuple | undefined;
    let t;
    if (f === 4) t = table.lookup4(o, batch.src[i]!, batch.dst[i]!, batch.sport[i]!, batch.dport[i]!, batch.proto[i]!, (batch.flags[i]! & FLAG_HAS_PORTS) !== 0);
    else t = table.lookup(o, (tuple = batch.get(i)!));
    if (t) {
      if (f === 4) this.cache.set4(batch.src[i]!, batch.dst[i]!, ports, pf, t.slot);
      else this.cache.set6(batch.src6, batch.dst6, i * 4, ports, pf, t.slot);
      out.verdict[i] = FORWARD;
      out.tunnel[i] = t.id;
      const k = t.slot * STAT_WORDS;
      table.stats[k + STAT_LAST_USED] = now;
      table.stats[k + STAT_PACKETS]!++;
      return;
    }
    const { ctx } = this;
    const c = ctx.counters;
    out.verdict[i] = DROP;
    out.tunnel[i] = 0;
    c.dropped++;
    if (table.negotiating) {
      c.dropsWhileNegotiating++;
      if (ctx.observed) ctx.emit({ type: 'drop', tuple: (tuple ??= batch.get(i)!), entry: o, reason: 'negotiating' });
      return;
    }
    if (!this.onMiss) {
      c.dropsNotInitiator++;
      if (ctx.observed) ctx.emit({ type: 'drop', tuple: (tuple ??= batch.get(i)!), entry: o, reason: 'not-initiator' });
      return;
    }
    const neg = this.negative ? (f === 4 ? this.negative.get4(o, batch.dst[i]!, now) : this.negative.get6(o, batch.dst6, i * 4, now)) : 0;
    if (neg === NEG_PROBING) {
      c.dropsWhileProbing++;
      if (ctx.observed) ctx.emit({ type: 'drop', tuple: (tuple ??= batch.get(i)!), entry: o, reason: 'probing' });
      return;
    }
    if (neg === NEG_HELD) {
      c.dropsHeldDown++;
      if (ctx.observed) ctx.emit({ type: 'drop', tuple: (tuple ??= batch.get(i)!), entry: o, reason: 'held-down' });
      return;
    }
    this.onMiss(this.view.entries[o]!, (tuple ??= batch.get(i)!));
  }
}

function verdictBuffers(capacity: number): Verdicts {
  return { count: 0, verdict: new Uint8Array(capacity), tunnel: new Int32Array(capacity), ordinal: new Int32Array(capacity) };
}
