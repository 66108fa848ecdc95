// Where IKE sits in a UDP datagram: port 500 carries ISAKMP directly; port 4500 (RFC 3948)
// carries IKE after a four-byte non-ESP marker of zeros, ESP otherwise (or a one-byte NAT
// keepalive).

export const IKE_UDP_PORT = 500;
export const NATT_UDP_PORT = 4500;

/** Where the ISAKMP message starts in a UDP payload, or -1 when the datagram is not ISAKMP. */
export function isakmpStart(sport: number, dport: number, payload: Uint8Array, extraPort?: number): number {
  if (sport === NATT_UDP_PORT || dport === NATT_UDP_PORT) {
    if (payload.length >= 4 && payload[0] === 0 && payload[1] === 0 && payload[2] === 0 && payload[3] === 0) return 4;
    return -1;
  }
  if (sport === IKE_UDP_PORT || dport === IKE_UDP_PORT) return 0;
  if (extraPort !== undefined && (sport === extraPort || dport === extraPort)) return 0;
  return -1;
}

/** ESP in UDP on port 4500: not a non-ESP marker, not a keepalive, at least an SPI and a sequence number. */
export function isUdpEsp(sport: number, dport: number, payload: Uint8Array): boolean {
  if (sport !== NATT_UDP_PORT && dport !== NATT_UDP_PORT) return false;
  if (payload.length < 8) return false;
  return !(payload[0] === 0 && payload[1] === 0 && payload[2] === 0 && payload[3] === 0);
}
