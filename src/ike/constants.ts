// Numbers from RFC 2408 (ISAKMP), RFC 2407 (IPsec DOI), RFC 3947 (NAT-T) and RFC 7296 (IKEv2),
// plus this project's private TED payload numbers (docs/wire-format.md).

/** IKEv1 payload types (RFC 2408 3.1, RFC 3947). */
export const PayloadV1 = Object.freeze({
  NONE: 0,
  SA: 1,
  PROPOSAL: 2,
  TRANSFORM: 3,
  KE: 4,
  ID: 5,
  CERT: 6,
  CR: 7,
  HASH: 8,
  SIG: 9,
  NONCE: 10,
  NOTIFY: 11,
  DELETE: 12,
  VENDOR_ID: 13,
  NAT_D: 20,
  NAT_OA: 21,
  /** Pre-RFC NAT-T drafts. */
  NAT_D_DRAFT: 130,
  NAT_OA_DRAFT: 131,
  /** Cisco IKE fragmentation (src/ike/fragments.ts); not a TED number (TED uses 128, 129, 133). */
  CISCO_FRAGMENT: 132,
  /** Private: TED proxy address (probe, optional). */
  TED_PROXY: 128,
  /** Private: TED packet summary (probe). */
  TED_SUMMARY: 129,
  /** Private: TED response (the responder's full proxy). */
  TED_RESPONSE: 133,
  /** Private: TED padding (probe, optional): zero bytes that make the probe as large as any response. */
  TED_PADDING: 134,
});

/** IKEv2 payload types (RFC 7296 3.2). */
export const PayloadV2 = Object.freeze({
  NONE: 0,
  SA: 33,
  KE: 34,
  IDI: 35,
  IDR: 36,
  CERT: 37,
  CERTREQ: 38,
  AUTH: 39,
  NONCE: 40,
  NOTIFY: 41,
  DELETE: 42,
  VENDOR_ID: 43,
  TSI: 44,
  TSR: 45,
  SK: 46,
  CP: 47,
  EAP: 48,
  SKF: 53,
});

/** ISAKMP header flags. IKEv1: E, C, A. IKEv2: I, V, R. */
export const Flags = Object.freeze({
  ENCRYPTION: 0x01,
  COMMIT: 0x02,
  AUTH_ONLY: 0x04,
  INITIATOR: 0x08,
  VERSION: 0x10,
  RESPONSE: 0x20,
});

/** RFC 2407 4.6.2.1 identification types. */
export const IdType = Object.freeze({
  IPV4_ADDR: 1,
  FQDN: 2,
  USER_FQDN: 3,
  IPV4_ADDR_SUBNET: 4,
  IPV6_ADDR: 5,
  IPV6_ADDR_SUBNET: 6,
  IPV4_ADDR_RANGE: 7,
  IPV6_ADDR_RANGE: 8,
  DER_ASN1_DN: 9,
  DER_ASN1_GN: 10,
  KEY_ID: 11,
});

/** RFC 7296 3.13.1 traffic selector types. */
export const TsType = Object.freeze({
  IPV4_ADDR_RANGE: 7,
  IPV6_ADDR_RANGE: 8,
});

export const ISAKMP_HEADER_LENGTH = 28;
export const GENERIC_HEADER_LENGTH = 4;
export const DOI_IPSEC = 1;
