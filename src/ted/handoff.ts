// The default handoff: records each tunnel and reports it established at once. Stands in for IKE
// where none is attached (tests, the demo's in-process check, embedding applications that bring
// SAs up themselves).
import { formatAddress } from '../selector/address.js';
import { formatSelector } from '../selector/format.js';
import type { Handoff, TeardownReason, TunnelInfo } from './types.js';

export class RecordingHandoff implements Handoff {
  readonly up: TunnelInfo[] = [];
  readonly down: { tunnel: TunnelInfo; reason: TeardownReason }[] = [];
  constructor(private readonly log?: (line: string) => void) {}
  bringUp(t: TunnelInfo): boolean {
    this.up.push(t);
    this.log?.(`handoff: tunnel ${t.id} (entry ${t.entry}) to peer ${formatAddress(t.peer.family, t.peer.address)}, proxy ${formatSelector(t.proxy)}: established`);
    return true;
  }
  tearDown(t: TunnelInfo, reason: TeardownReason): void {
    this.down.push({ tunnel: t, reason });
    this.log?.(`handoff: tunnel ${t.id} to peer ${formatAddress(t.peer.family, t.peer.address)} down (${reason})`);
  }
}
