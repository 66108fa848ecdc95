// Human names for numbers, for printing only (the CLI and error messages).
const EXCHANGE_V1: Record<number, string> = {
  1: 'Base',
  2: 'Identity Protection (Main Mode)',
  3: 'Authentication Only',
  4: 'Aggressive',
  5: 'Informational',
  6: 'Transaction (Config Mode)',
  32: 'Quick Mode',
  33: 'New Group Mode',
  240: 'TED Probe',
  241: 'TED Response',
};

const EXCHANGE_V2: Record<number, string> = {
  34: 'IKE_SA_INIT',
  35: 'IKE_AUTH',
  36: 'CREATE_CHILD_SA',
  37: 'INFORMATIONAL',
  43: 'IKE_INTERMEDIATE',
};

const PAYLOAD_V1: Record<number, string> = {
  1: 'SA',
  2: 'Proposal',
  3: 'Transform',
  4: 'KE',
  5: 'ID',
  6: 'CERT',
  7: 'CR',
  8: 'HASH',
  9: 'SIG',
  10: 'NONCE',
  11: 'NOTIFY',
  12: 'DELETE',
  13: 'Vendor ID',
  20: 'NAT-D',
  21: 'NAT-OA',
  128: 'TED Proxy',
  129: 'TED Summary',
  130: 'NAT-D (draft)',
  131: 'NAT-OA (draft)',
  132: 'Fragment',
  133: 'TED Response',
  134: 'TED Padding',
};

const PAYLOAD_V2: Record<number, string> = {
  33: 'SA',
  34: 'KE',
  35: 'IDi',
  36: 'IDr',
  37: 'CERT',
  38: 'CERTREQ',
  39: 'AUTH',
  40: 'Nonce',
  41: 'Notify',
  42: 'Delete',
  43: 'Vendor ID',
  44: 'TSi',
  45: 'TSr',
  46: 'SK',
  47: 'CP',
  48: 'EAP',
  53: 'SKF',
};

export function exchangeName(major: number, exchange: number): string {
  return (major === 2 ? EXCHANGE_V2 : EXCHANGE_V1)[exchange] ?? `exchange ${exchange}`;
}

export function payloadName(major: number, type: number): string {
  return (major === 2 ? PAYLOAD_V2 : PAYLOAD_V1)[type] ?? `payload ${type}`;
}
