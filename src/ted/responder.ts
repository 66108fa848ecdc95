// The responder (FIG. 2, the far end): a probe is validated (message ID, cookies, family, the
// datagram's destination = the summary's), its mirrored summary classified against our ACL, and
// a permitted one answered with the whole entry's proxy. Stateless: the responder cookie is a
// keyed hash of the probe, nothing is stored per probe.
//
// Anyone can send a probe with any ID, and the answer goes to that ID: the responder is a
// reflector by design. It answers only IDs that are a unicast host elsewhere (not unspecified,
// loopback, link-local, multicast, broadcast, class E, IPv4-mapped, nor our own address), only
// when the answer is no larger on the wire than the probe (no amplification: our initiators pad
// their probes to the largest answer), and only within three budgets taken together: per
// initiator address, per initiator prefix (/24, /56) and for the whole gateway.
import { FLAG_HAS_PORTS, type TupleBatch } from '../classify/batch.js';
import type { Classifier } from '../classify/types.js';
import type { TedResponse, TedSummary } from '../ike/ted-types.js';
import { SUMMARY_PORT_PROTOCOLS as PORT_PROTOCOLS } from '../ike/ted-types.js';
import { datagramOverhead } from '../ike/ted.js';
import type { TedIdentity } from '../ike/ted-types.js';
import { addressScope } from '../selector/address.js';
import { entrySelectors, intersect, isSubset, mirror } from '../selector/algebra.js';
import type { Policy, Selector, Tuple } from '../selector/types.js';
import type { InboundDatagram } from '../transport/types.js';
import type { GatewayContext } from './context.js';
import { ResponderCookies } from './cookies.js';
import type { CounterName } from './counters.js';
import type { PolicyView } from './policy-view.js';
import { ANSWER_GLOBAL_LIMITED, ANSWER_INITIATOR_LIMITED, ANSWER_OK, ANSWER_PREFIX_LIMITED, AnswerBudget } from './rate-limit.js';
import type { RateLimit } from './settings.js';
import type { DecodedTed } from './wire.js';

/** The outcome of checking a proposed proxy against this gateway's ACL (IKE quick mode on the responder). */
export interface ProposalCheck {
  readonly accepted: boolean;
  /** The permit entry that contains the proposal, or the first that overlaps it (0 = none). */
  readonly entry: number;
  readonly reason: 'accepted' | 'no-entry' | 'not-subset';
}

export class Responder {
  private readonly budget: AnswerBudget;
  /** A responder on a loopback address answers loopback IDs (a one-host lab: nothing leaves the host). */
  private readonly loopbackOk: boolean;
  private readonly templates: (Uint8Array | undefined)[][] = [];
  /** Responses are encoded here (the transport copies what it keeps). */
  private readonly scratch = new Uint8Array(2048);
  private probeBatch: TupleBatch | undefined;
  private readonly oneResult = new Int32Array(1);

  constructor(
    private readonly ctx: GatewayContext,
    private readonly view: PolicyView,
    private readonly classifier: Classifier,
    private readonly cookies: ResponderCookies,
    rateLimit: RateLimit,
  ) {
    this.budget = new AnswerBudget({
      perInitiator: { perSecond: rateLimit.responsesPerSecond, burst: rateLimit.burst },
      perPrefix: { perSecond: rateLimit.prefixResponsesPerSecond, burst: rateLimit.prefixBurst },
      global: { perSecond: rateLimit.globalResponsesPerSecond, burst: rateLimit.globalBurst },
      prefix4: rateLimit.prefixLength4,
      prefix6: rateLimit.prefixLength6,
      slots: rateLimit.maxInitiators,
    });
    this.loopbackOk = addressScope(ctx.localAddress.family, ctx.localAddress.address) === 'loopback';
  }

  /** Buckets of the answer budgets in use (bounded by rateLimit.maxInitiators per table). */
  get rateEntries(): number {
    return Math.max(this.budget.initiators.used, this.budget.prefixes.used);
  }

  /** Why an answer to `id` would not reach one host elsewhere (undefined: it would). */
  private refusedId(id: TedIdentity): string | undefined {
    const scope = addressScope(id.family, id.address);
    if (scope !== 'unicast' && !(scope === 'loopback' && this.loopbackOk)) return scope;
    if (id.address === this.ctx.localAddress.address) return 'own';
    return undefined;
  }

  private ignore(counter: CounterName, reason: string, icookie: bigint): void {
    this.ctx.counters[counter]++;
    if (this.ctx.observed) this.ctx.emit({ type: 'probe-ignored', reason, icookie });
  }

  onProbe(d: InboundDatagram, m: DecodedTed): void {
    const { ctx } = this;
    const c = ctx.counters;
    c.cipsNumTEDProbesReceived++;
    if (m.messageId !== 0) return this.ignore('probeBadMessageId', 'message-id', m.icookie);
    if (m.icookie === 0n || m.rcookie !== 0n) return this.ignore('probeBadCookies', 'cookies', m.icookie);
    const probe = m.probe!;
    const s = probe.summary;
    if (s.family !== this.view.policy.family || probe.id.family !== ctx.localAddress.family) return this.ignore('probeFamilyMismatch', 'family', m.icookie);
    if (d.dstKnown && (d.family !== s.family || d.dst !== s.dst)) return this.ignore('probeDestinationMismatch', 'destination-not-summary', m.icookie);
    const badId = this.refusedId(probe.id);
    if (badId) return this.ignore(badId === 'own' ? 'probeIdOwn' : 'probeIdNotUnicast', `id-${badId}`, m.icookie);
    if (ctx.observed) ctx.emit({ type: 'probe-received', icookie: probe.icookie, from: probe.id, summary: s });
    const o = this.classifyMirrored(s);
    if (o === 0) return this.ignore('probeNoEntry', 'no-entry', m.icookie);
    if (!this.view.permits(o)) return this.ignore('probeDenied', 'denied', m.icookie);
    // The response differs between probes only in its two cookies (the ISAKMP header's first 16
    // bytes): copy the entry's encoded template and write them in.
    // An entry written with object groups answers with its selector that holds the packet.
    const k = this.view.members[o] ? this.view.memberIndex(o, mirroredTuple(s)) : 0;
    const tpl = this.template(o, k);
    if (tpl.length + datagramOverhead(probe.id.family) > d.payload.length + datagramOverhead(d.family)) return this.ignore('probeTooSmall', 'smaller-than-answer', m.icookie);
    const verdict = probe.id.family === 4 ? this.budget.take4(Number(probe.id.address) >>> 0, ctx.now()) : this.budget.take(6, probe.id.address, ctx.now());
    if (verdict !== ANSWER_OK) {
      if (verdict === ANSWER_INITIATOR_LIMITED) return this.ignore('probeRateLimited', 'rate-limited', m.icookie);
      if (verdict === ANSWER_PREFIX_LIMITED) return this.ignore('probePrefixLimited', 'prefix-rate-limited', m.icookie);
      if (verdict === ANSWER_GLOBAL_LIMITED) return this.ignore('probeGlobalLimited', 'global-rate-limited', m.icookie);
    }
    const bytes = tpl.length <= this.scratch.length ? this.scratch.subarray(0, tpl.length) : new Uint8Array(tpl.length);
    bytes.set(tpl);
    const wire = d.payload;
    for (let i = 0; i < 8; i++) bytes[i] = wire[i]!; // the probe's initiator cookie
    this.cookies.writeFromWire(wire, 0, probe.id, bytes, 8);
    ctx.send({ family: probe.id.family, src: ctx.localAddress.address, dst: probe.id.address, sport: ctx.localPort, dport: ctx.peerPort, payload: bytes, spoofSource: false });
    c.responsesSent++;
    if (ctx.observed) {
      const rcookie = new DataView(bytes.buffer, bytes.byteOffset + 8, 8).getBigUint64(0);
      ctx.emit({ type: 'response-sent', icookie: probe.icookie, rcookie, entry: o, proxy: this.proxy(o, k), to: probe.id, src: ctx.localAddress.address, sport: ctx.localPort, dport: ctx.peerPort, bytes });
    }
  }

  /** First-match ordinal of the mirrored summary (our ACL describes traffic from our side to theirs). */
  private classifyMirrored(s: TedSummary): number {
    const b = (this.probeBatch ??= this.classifier.createBatch(1));
    if (b.src.length === 0) {
      // Another classifier grew the WebAssembly memory: our views are detached. An empty
      // classify() makes the classifier re-view its batch before we write into it.
      b.count = 0;
      this.classifier.classify(b, this.oneResult);
    }
    if (s.family === 4) {
      const hasPorts = PORT_PROTOCOLS.has(s.protocol) && (s.sport !== 0 || s.dport !== 0);
      b.family[0] = 4;
      b.proto[0] = s.protocol;
      b.flags[0] = hasPorts ? FLAG_HAS_PORTS : 0;
      b.src[0] = Number(s.dst);
      b.dst[0] = Number(s.src);
      b.sport[0] = s.dport;
      b.dport[0] = s.sport;
    } else b.set(0, mirroredTuple(s));
    b.count = 1;
    this.classifier.classify(b, b.results);
    return b.results[0]!;
  }

  private proxy(o: number, k: number): Selector {
    return this.view.members[o]?.[k] ?? this.view.selectors[o]!;
  }

  /** The encoded response for selector `k` of entry `o` with placeholder cookies (made once each). */
  private template(o: number, k: number): Uint8Array {
    const perEntry = (this.templates[o] ??= []);
    let t = perEntry[k];
    if (!t) {
      const r: TedResponse = { icookie: 1n, rcookie: 1n, capabilities: this.ctx.capabilities, id: this.ctx.localAddress, proxy: this.proxy(o, k) };
      t = this.ctx.wire.encodeResponse(r);
      perEntry[k] = t;
    }
    return t;
  }
}

/**
 * Would this gateway accept a tunnel with `proxy` (given in the initiator's orientation)? The
 * check IKE makes on a responder: some permit entry must contain all of the mirrored proxy (deny
 * entries carve holes the data path enforces per packet; they do not veto a proposal, as the TED
 * response itself carries the whole permit entry).
 */
export function checkProposal(policy: Policy, proxy: Selector): ProposalCheck {
  const ours = mirror(proxy);
  let overlap = 0;
  for (const e of policy.entries) {
    if (e.action !== 'permit') continue;
    // An entry written with object groups: one of its selectors must hold the whole proposal.
    const members = entrySelectors(e);
    if (members.some((s) => isSubset(ours, s))) return { accepted: true, entry: e.ordinal, reason: 'accepted' };
    if (!overlap && members.some((s) => !intersect(s, ours).empty)) overlap = e.ordinal;
  }
  return overlap ? { accepted: false, entry: overlap, reason: 'not-subset' } : { accepted: false, entry: 0, reason: 'no-entry' };
}

/** The packet a summary describes, seen from our side (the responder's ACL runs from us to them). */
function mirroredTuple(s: TedSummary): Tuple {
  const hasPorts = PORT_PROTOCOLS.has(s.protocol) && (s.sport !== 0 || s.dport !== 0);
  return { family: s.family, protocol: s.protocol, src: s.dst, dst: s.src, sport: s.dport, dport: s.sport, hasPorts };
}
