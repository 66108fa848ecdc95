// Discovery with entries written with object groups (one ordinal, several selectors): the
// responder answers with the selector of its entry that holds the probe's (mirrored) packet, the
// initiator intersects the selector of its entry that holds P, and IKE's proposal check accepts a
// proxy inside any one selector of a permit entry.
import { describe, expect, it } from 'vitest';
import { checkProposal } from '../src/ted/responder.js';
import { formatSelector } from '../src/selector/format.js';
import { parseCisco } from '../src/policy/index.js';
import { DROP, FORWARD } from '../src/ted/types.js';
import { Sim, pkt } from './ted-helpers.js';

// Gateway A protects 10.1.0.0/16; its one permit entry reaches two far sites through one group.
const A = `
object-group network FAR
 10.2.0.0 255.255.0.0
 10.3.0.0 255.255.0.0
ip access-list extended A
 10 deny udp any any eq isakmp
 20 permit tcp 10.1.0.0 0.0.255.255 object-group FAR
`;
// Gateway B (sites 10.2/16 and 10.3/16) answers from one entry whose service group holds web and ssh.
const B = `
object-group network MINE
 10.2.0.0 255.255.0.0
 10.3.0.0 255.255.0.0
object-group service SVC
 tcp source eq www
 tcp source eq 22
ip access-list extended B
 10 deny udp any any eq isakmp
 20 permit object-group SVC object-group MINE 10.1.0.0 0.0.255.255
`;

describe('discovery with object-group entries', () => {
  it('the responder answers with the selector that holds the packet; the initiator intersects the one that holds P', () => {
    const sim = new Sim();
    const a = sim.gateway({ acl: A, ike: '192.0.2.1', protects: ['10.1.0.0/16'] });
    const b = sim.gateway({ acl: B, ike: '198.51.100.1', protects: ['10.2.0.0/16', '10.3.0.0/16'] });
    // P matches A's entry 2 through its second selector (10.3/16) and B's entry 2 (mirrored)
    // through its selector (tcp source 22, 10.3/16): the fourth of B's four.
    const P = pkt('tcp 10.1.0.5:40000 > 10.3.0.9:22');
    expect(a.gw.processOne(P)).toMatchObject({ verdict: DROP, ordinal: 2 });
    sim.settle();
    const sent = b.events.find((e) => e.type === 'response-sent');
    expect(sent && sent.type === 'response-sent' && formatSelector(sent.proxy)).toBe('permit tcp 10.3.0.0 0.0.255.255 eq 22 10.1.0.0 0.0.255.255');
    const x = a.events.find((e) => e.type === 'intersection');
    expect(x && x.type === 'intersection' && formatSelector(x.ours)).toBe('permit tcp 10.1.0.0 0.0.255.255 10.3.0.0 0.0.255.255');
    const [t] = a.gw.tunnels();
    expect(formatSelector(t!.proxy)).toBe('permit tcp 10.1.0.0 0.0.255.255 10.3.0.0 0.0.255.255 eq 22');
    expect(a.gw.processOne(P)).toMatchObject({ verdict: FORWARD, tunnel: t!.id });

    // The same entry toward the other site and service: a second tunnel from the other selectors.
    const Q = pkt('tcp 10.1.0.7:40001 > 10.2.0.1:80');
    expect(a.gw.processOne(Q).verdict).toBe(DROP);
    sim.settle();
    expect(a.gw.tunnels().map((x) => formatSelector(x.proxy))).toEqual([
      'permit tcp 10.1.0.0 0.0.255.255 10.3.0.0 0.0.255.255 eq 22',
      'permit tcp 10.1.0.0 0.0.255.255 10.2.0.0 0.0.255.255 eq 80',
    ]);
    expect(a.gw.processOne(Q).verdict).toBe(FORWARD);
    // One response template per selector: each answer carried its own selector.
    expect(b.events.filter((e) => e.type === 'response-sent').map((e) => e.type === 'response-sent' && formatSelector(e.proxy))).toEqual([
      'permit tcp 10.3.0.0 0.0.255.255 eq 22 10.1.0.0 0.0.255.255',
      'permit tcp 10.2.0.0 0.0.255.255 eq 80 10.1.0.0 0.0.255.255',
    ]);
  });

  it("IKE's check: a proposal inside one selector of a permit entry is accepted, one spanning two is not", () => {
    const policy = parseCisco(B);
    const inOne = parseCisco('access-list 101 permit tcp 10.1.0.0 0.0.0.255 10.2.0.0 0.0.255.255 eq 80').entries[0]!;
    expect(checkProposal(policy, inOne)).toEqual({ accepted: true, entry: 2, reason: 'accepted' });
    const spanning = parseCisco('access-list 101 permit tcp 10.1.0.0 0.0.0.255 10.2.0.0 0.1.255.255 eq 80').entries[0]!;
    expect(checkProposal(policy, spanning)).toEqual({ accepted: false, entry: 2, reason: 'not-subset' });
  });
});
