// The FIG. 1 network with real IPsec: the namespaces (./netns.ts), one charon per gateway
// (./charon.ts), the Linux set-up the daemons print for themselves, and a ted initiator in gateway
// A and a ted responder in gateway B handing their tunnels to their charon. `ted lab` tells its
// story on this; the end-to-end tests run their scenarios on it.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { validateConfig } from '../daemon/config.js';
import { setupFor } from '../daemon/setup.js';
import { parseCisco } from '../policy/index.js';
import type { Family } from '../selector/types.js';
import { LabCharon } from './charon.js';
import { ADDR, Lab } from './netns.js';
import { LabTed } from './ted.js';

/**
 * The crypto ACLs: A protects all traffic W -> Y; B accepts TCP to its hosts' ports 8000-8099
 * and UDP to 7000-7099 (a second tunnel to the same subnet), nothing else.
 */
export const LAB_POLICIES: Record<Family, { a: string; b: string }> = {
  4: {
    a: 'access-list 101 permit ip 192.0.2.0 0.0.0.255 203.0.113.0 0.0.0.255\n',
    b: 'access-list 102 permit tcp 203.0.113.0 0.0.0.255 range 8000 8099 192.0.2.0 0.0.0.255\naccess-list 102 permit udp 203.0.113.0 0.0.0.255 range 7000 7099 192.0.2.0 0.0.0.255\n',
  },
  6: {
    a: 'ipv6 access-list LAB-A6\n permit ipv6 2001:db8:a::/64 2001:db8:b::/64\n',
    b: 'ipv6 access-list LAB-B6\n permit tcp 2001:db8:b::/64 range 8000 8099 2001:db8:a::/64\n permit udp 2001:db8:b::/64 range 7000 7099 2001:db8:a::/64\n',
  },
};

/** A TCP port inside the first tunnel's proxy, one outside every proxy B accepts, and a UDP port of B's second entry. */
export const LAB_PORTS = { inside: 8080, outside: 9000, udp: 7000 } as const;

export const LAB_PROPOSALS = { ike: ['aes128-sha256-modp2048'], esp: ['aes128-sha256'] };

const v = (f: Family) => (f === 4 ? 'v4' : 'v6');

export interface DaemonOptions {
  /** Pre-shared keys of gateway A and B (different: IKE authentication fails). */
  readonly pskA?: string;
  readonly pskB?: string;
  /** Overrides of the daemons' timers (milliseconds). */
  readonly timers?: Record<string, number>;
  /** Dead peer detection interval of the tunnels (seconds). */
  readonly dpdDelayS?: number;
  /** Let the processes outlive this one (`ted lab --keep`). */
  readonly detached?: boolean;
  /** Other ACLs than LAB_POLICIES (Cisco text). */
  readonly policies?: { readonly a: string; readonly b: string };
  /** Settings merged into both daemons' `handoff` sections (ikeVersion, ...), then into A's and B's own (credentials). */
  readonly handoff?: Record<string, unknown>;
  readonly handoffA?: Record<string, unknown>;
  readonly handoffB?: Record<string, unknown>;
}

export interface LabDaemons {
  readonly family: Family;
  readonly a: LabTed;
  readonly b: LabTed;
}

export class StrongswanLab {
  readonly lab: Lab;
  readonly charonA: LabCharon;
  readonly charonB: LabCharon;

  private constructor(
    readonly dir: string,
    lab: Lab,
  ) {
    this.lab = lab;
    this.charonA = new LabCharon(lab, 'gwA', dir, 'libipsec');
    this.charonB = new LabCharon(lab, 'gwB', dir, 'libipsec');
  }

  /**
   * Namespaces, the set-up of both gateways for both families (as `--print-setup` prints it),
   * and the two charons. On failure it still removes what it made before rethrowing.
   */
  static async build(dir: string, options: { detached?: boolean } = {}): Promise<StrongswanLab> {
    const lab = new Lab();
    const s = new StrongswanLab(dir, lab);
    try {
      await lab.create();
      for (const family of [4, 6] as const) {
        const { a, b } = s.configs(family, {});
        await lab.applySetup('gwA', setupFor('initiator', validateConfig(a, { skipFileChecks: true })));
        await lab.applySetup('gwB', setupFor('responder', validateConfig(b, { skipFileChecks: true }), parseCisco(LAB_POLICIES[family].b)));
      }
      await s.charonA.start(options);
      await s.charonB.start(options);
      return s;
    } catch (err) {
      await s.destroy();
      throw err;
    }
  }

  /** The two daemons' configurations (what the lab writes and starts). */
  configs(family: Family, o: DaemonOptions): { a: Record<string, unknown>; b: Record<string, unknown> } {
    const k = v(family);
    const files = (name: string, text: string) => {
      const p = join(this.dir, name);
      writeFileSync(p, text, { mode: 0o600 });
      return p;
    };
    const pskA = files(`psk-a${family}`, `${o.pskA ?? 'ted-lab-shared-secret'}\n`);
    const pskB = files(`psk-b${family}`, `${o.pskB ?? o.pskA ?? 'ted-lab-shared-secret'}\n`);
    const link = family === 4 ? '198.51.100.0/24' : '2001:db8:ff::/64';
    const handoff = (charon: LabCharon, secretFile: string, own: Record<string, unknown> | undefined) => ({
      kind: 'strongswan',
      vici: `unix://${charon.vici}`,
      kernel: 'libipsec',
      proposals: LAB_PROPOSALS.ike,
      espProposals: LAB_PROPOSALS.esp,
      dpdDelayS: o.dpdDelayS ?? 2,
      initiateTimeoutMs: 8000,
      credentials: { kind: 'psk', secrets: [{ peers: [link], secretFile }] },
      ...o.handoff,
      ...own,
    });
    const policies = o.policies ?? LAB_POLICIES[family];
    return {
      a: {
        role: 'initiator',
        ike: { address: ADDR.gwAWan[k] },
        policy: { file: files(`a${family}.acl`, policies.a) },
        timers: { probeTimeoutMs: 300, probeTries: 2, holdDownMs: 3000, ...o.timers },
        source: { kind: 'capture', prefixes: [ADDR.netY[k]], interface: 'lan0' },
        handoff: handoff(this.charonA, pskA, o.handoffA),
      },
      b: {
        role: 'responder',
        ike: { address: ADDR.gwBWan[k] },
        policy: { file: files(`b${family}.acl`, policies.b) },
        handoff: handoff(this.charonB, pskB, o.handoffB),
      },
    };
  }

  /** Starts ted responder in gateway B, then ted initiator in gateway A, for one family. */
  async daemons(family: Family, o: DaemonOptions = {}): Promise<LabDaemons> {
    const { a, b } = this.configs(family, o);
    const tb = new LabTed(this.lab, 'gwB', `ted-b${family}`, 'responder', b, this.dir);
    const ta = new LabTed(this.lab, 'gwA', `ted-a${family}`, 'initiator', a, this.dir);
    await tb.start({ detached: o.detached ?? false });
    await ta.start({ detached: o.detached ?? false });
    return { family, a: ta, b: tb };
  }

  /** Stops everything (charon gets time to exit cleanly) and deletes the namespaces. */
  async destroy(): Promise<void> {
    await this.lab.destroy(3000);
  }
}
