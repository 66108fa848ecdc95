// The credentials IKE authenticates the discovered peer with: pre-shared keys per peer (address,
// prefix or any) or certificates (ours, our key, and the CAs whose certificates we accept). TED's
// probe and response are unauthenticated; this is where an on-path party that answered a probe
// with its own address is stopped: without the key or a certificate it cannot finish IKE_AUTH.
import { TedError } from '../errors.js';
import { formatAddress, parseAnyAddress, prefixMask } from '../selector/address.js';
import type { Family } from '../selector/types.js';
import type { ViciInput } from '../vici/message.js';
import { expectSuccess, type ViciSession } from '../vici/session.js';
import type { AuthSections } from './connection.js';

export interface PskEntry {
  /** Peer addresses, prefixes (`198.51.100.0/24`) or `any`; the most specific match wins. */
  readonly peers: readonly string[];
  readonly secret: string;
}

export type StrongswanCredentials =
  | { readonly kind: 'psk'; readonly secrets: readonly PskEntry[] }
  | {
      readonly kind: 'certificates';
      /** Our certificate and private key (PEM text or DER bytes). */
      readonly certificate: string | Uint8Array;
      readonly privateKey: string | Uint8Array;
      /** RSA keys load with charon's gmp plugin; ECDSA needs its openssl plugin. Default any. */
      readonly privateKeyType?: 'rsa' | 'ecdsa' | 'any';
      /** CA certificates a peer's certificate must chain to. */
      readonly caCertificates: readonly (string | Uint8Array)[];
      /** Our IKE identity (default: our IKE address; the certificate must name it). */
      readonly localId?: string;
      /** The identity a peer must prove: `address` (its TED address, as an IP in its certificate; default) or `any` (any identity the CAs certified). */
      readonly remoteId?: 'address' | 'any';
    };

interface PeerMatch {
  readonly family: Family | 0;
  readonly value: bigint;
  readonly length: number;
}

/** Parses a PSK peer: an address, a prefix, or `any`. */
export function parsePeer(text: string, where: string): PeerMatch {
  if (text === 'any' || text === '%any') return { family: 0, value: 0n, length: 0 };
  const slash = text.indexOf('/');
  const a = parseAnyAddress(slash < 0 ? text : text.slice(0, slash));
  const width = a?.family === 6 ? 128 : 32;
  const length = slash < 0 ? width : Number(text.slice(slash + 1));
  if (!a || !Number.isInteger(length) || length < 0 || length > width)
    throw new TedError('STRONGSWAN_BAD_PEER', `${where}: '${text}' is not an address, a prefix or 'any'`);
  return { family: a.family, value: a.value & prefixMask(a.family, length), length };
}

function matches(m: PeerMatch, family: Family, address: bigint): boolean {
  if (m.family === 0) return true;
  return m.family === family && (address & prefixMask(family, m.length)) === m.value;
}

/** Checks every entry once (so a typo fails at start, not at the first discovery). */
export function checkCredentials(c: StrongswanCredentials): void {
  if (c.kind === 'psk') {
    if (c.secrets.length === 0) throw new TedError('STRONGSWAN_NO_CREDENTIALS', 'credentials.secrets: no pre-shared key configured');
    c.secrets.forEach((s, i) => {
      if (s.secret.length === 0) throw new TedError('STRONGSWAN_BAD_SECRET', `credentials.secrets[${i}].secret: empty`);
      if (s.peers.length === 0) throw new TedError('STRONGSWAN_BAD_PEER', `credentials.secrets[${i}].peers: no peer`);
      s.peers.forEach((p, j) => parsePeer(p, `credentials.secrets[${i}].peers[${j}]`));
    });
  } else if (c.caCertificates.length === 0) throw new TedError('STRONGSWAN_NO_CREDENTIALS', 'credentials.caCertificates: no CA to check peers against');
}

/** The pre-shared key for a peer: the entry with the longest matching prefix (`any` last), or undefined. */
export function pskFor(c: StrongswanCredentials, family: Family, address: bigint): PskEntry | undefined {
  if (c.kind !== 'psk') return undefined;
  let best: PskEntry | undefined;
  let bestLen = -1;
  for (const s of c.secrets)
    for (const p of s.peers) {
      const m = parsePeer(p, 'peer');
      const len = m.family === 0 ? -0.5 : m.length;
      if (matches(m, family, address) && len > bestLen) {
        best = s;
        bestLen = len;
      }
    }
  return best;
}

/** The connection's local/remote authentication rounds. `peer` undefined: a responder accepting any peer. */
export function authSections(c: StrongswanCredentials, localAddress: string, peer: string | undefined): AuthSections {
  if (c.kind === 'psk')
    return { local: { auth: 'psk', id: localAddress }, remote: { auth: 'psk', ...(peer !== undefined ? { id: peer } : {}) } };
  const remoteId = c.remoteId === 'any' || peer === undefined ? undefined : peer;
  return {
    local: { auth: 'pubkey', certs: [c.certificate], id: c.localId ?? localAddress },
    remote: { auth: 'pubkey', cacerts: [...c.caCertificates], ...(remoteId !== undefined ? { id: remoteId } : {}) },
  };
}

/** Loads the PSK for one peer (initiator, before it initiates); false when none is configured. */
export async function loadPeerSecret(vici: ViciSession, c: StrongswanCredentials, localAddress: string, family: Family, address: bigint, id: string): Promise<boolean> {
  if (c.kind !== 'psk') return true;
  const s = pskFor(c, family, address);
  if (!s) return false;
  expectSuccess('load-shared', await vici.request('load-shared', { id, type: 'IKE', data: s.secret, owners: [localAddress, formatAddress(family, address)] }));
  return true;
}

/**
 * What a responder loads at start (and again after charon restarts): every PSK (an exact peer
 * address as its owner; a prefix or `any` with our identity only, so charon uses it for any peer
 * without an exact key), or our key (the certificates travel inside the connection).
 */
export async function loadStaticCredentials(vici: ViciSession, c: StrongswanCredentials, localAddress: string, idPrefix: string): Promise<number> {
  if (c.kind === 'certificates') {
    const key: ViciInput = { type: c.privateKeyType ?? 'any', data: c.privateKey };
    expectSuccess('load-key', await vici.request('load-key', key));
    return 1;
  }
  let n = 0;
  for (const [i, s] of c.secrets.entries()) {
    const exact = s.peers.filter((p) => {
      const m = parsePeer(p, 'peer');
      return m.family !== 0 && m.length === (m.family === 4 ? 32 : 128);
    });
    const wide = exact.length < s.peers.length;
    const owners = wide ? [localAddress] : [localAddress, ...exact];
    expectSuccess('load-shared', await vici.request('load-shared', { id: `${idPrefix}-psk-${i}`, type: 'IKE', data: s.secret, owners }));
    n++;
  }
  return n;
}
