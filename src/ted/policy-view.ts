// The crypto ACL as the roles read it: entries and plain selectors by ordinal, and one action
// byte per ordinal for the data path (permit = protect, deny = bypass).
import type { Entry, Policy, Selector } from '../selector/types.js';

export const PERMIT = 1;
export const DENY = 2;

export class PolicyView {
  readonly entries: (Entry | undefined)[] = [];
  /** The entry's selector without its list fields (what goes on the wire and into tunnels). */
  readonly selectors: (Selector | undefined)[] = [];
  readonly actions: Uint8Array;

  constructor(readonly policy: Policy) {
    let max = 0;
    for (const e of policy.entries) if (e.ordinal > max) max = e.ordinal;
    this.actions = new Uint8Array(max + 1);
    for (const e of policy.entries) {
      this.entries[e.ordinal] = e;
      this.selectors[e.ordinal] = { family: e.family, protocol: e.protocol, src: e.src, dst: e.dst, sport: e.sport, dport: e.dport };
      this.actions[e.ordinal] = e.action === 'permit' ? PERMIT : DENY;
    }
  }

  permits(ordinal: number): boolean {
    return this.actions[ordinal] === PERMIT;
  }
}
