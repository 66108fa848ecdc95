// The crypto ACL as the roles read it: entries and plain selectors by ordinal, and one action
// byte per ordinal for the data path (permit = protect, deny = bypass). An entry written with
// object groups covers several selectors; the roles use the one that holds the packet.
import { contains, entrySelectors } from '../selector/algebra.js';
import type { Entry, Policy, Selector, Tuple } from '../selector/types.js';

export const PERMIT = 1;
export const DENY = 2;

export class PolicyView {
  readonly entries: (Entry | undefined)[] = [];
  /** The entry's selector without its list fields (what goes on the wire and into tunnels). */
  readonly selectors: (Selector | undefined)[] = [];
  /** Every selector of an entry that covers several (object groups); undefined for one. */
  readonly members: (readonly Selector[] | undefined)[] = [];
  readonly actions: Uint8Array;

  constructor(readonly policy: Policy) {
    let max = 0;
    for (const e of policy.entries) if (e.ordinal > max) max = e.ordinal;
    this.actions = new Uint8Array(max + 1);
    for (const e of policy.entries) {
      this.entries[e.ordinal] = e;
      this.selectors[e.ordinal] = plain(e);
      if (e.selectors) this.members[e.ordinal] = entrySelectors(e).map(plain);
      this.actions[e.ordinal] = e.action === 'permit' ? PERMIT : DENY;
    }
  }

  /**
   * Which selector of entry `o` holds the packet: its index (0 for a single-selector entry, and
   * when none does, which the classifier's answer rules out).
   */
  memberIndex(o: number, t: Tuple): number {
    const list = this.members[o];
    if (!list) return 0;
    const k = list.findIndex((s) => contains(s, t));
    return k < 0 ? 0 : k;
  }

  /** The selector of entry `o` that holds the packet (the entry's own for a single-selector entry). */
  selectorFor(o: number, t: Tuple): Selector {
    const list = this.members[o];
    return list ? list[this.memberIndex(o, t)]! : this.selectors[o]!;
  }

  permits(ordinal: number): boolean {
    return this.actions[ordinal] === PERMIT;
  }
}

function plain(s: Selector): Selector {
  return { family: s.family, protocol: s.protocol, src: s.src, dst: s.dst, sport: s.sport, dport: s.dport };
}
