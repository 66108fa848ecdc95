// The sample TED probe several suites encode: golden bytes (ike-ted) and the decode CLI's output
// (decode-cli) are both written against exactly this value.
import type { TedProbe } from '../../src/ike/ted-types.js';

export const SAMPLE_PROBE: TedProbe = {
  icookie: 0xfafaeb49382a763cn,
  capabilities: 7,
  id: { family: 4, address: 0xc0000201n },
  proxy: { family: 4, protocol: 6, src: { value: 0x0a0b0000n, care: 0xffff0000n }, dst: { value: 0n, care: 0n }, sport: [{ lo: 0, hi: 65535 }], dport: [{ lo: 0, hi: 79 }, { lo: 81, hi: 65535 }] },
  summary: { tedVersion: 3, family: 4, protocol: 6, src: 0x0a0b0001n, dst: 0x0a000001n, sport: 1234, dport: 80 },
};
