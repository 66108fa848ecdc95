import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { formatIPv4, formatIPv6, parseIPv4, parseIPv6, prefixLength, prefixMask } from '../src/selector/address.js';

describe('IPv4 text', () => {
  it('parses and formats', () => {
    expect(parseIPv4('10.11.0.0')).toBe(0x0a0b0000n);
    expect(formatIPv4(0xc0000201n)).toBe('192.0.2.1');
  });
  it('rejects bad text', () => {
    for (const bad of ['', '1.2.3', '1.2.3.4.5', '256.0.0.1', '1.2.3.x', ' 1.2.3.4', '1..2.3']) expect(parseIPv4(bad)).toBeUndefined();
  });
  it('round-trips every value', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 0xffffffff }), (n) => parseIPv4(formatIPv4(BigInt(n))) === BigInt(n)));
  });
});

describe('IPv6 text', () => {
  it('parses compressed, full, mixed case and embedded IPv4', () => {
    expect(parseIPv6('2001:db8::1')).toBe((0x20010db8n << 96n) | 1n);
    expect(parseIPv6('2001:0DB8:0000:0000:0000:0000:0000:0001')).toBe((0x20010db8n << 96n) | 1n);
    expect(parseIPv6('::')).toBe(0n);
    expect(parseIPv6('::ffff:192.0.2.1')).toBe((0xffffn << 32n) | 0xc0000201n);
  });
  it('formats per RFC 5952', () => {
    expect(formatIPv6((0x20010db8n << 96n) | 1n)).toBe('2001:db8::1');
    expect(formatIPv6(0n)).toBe('::');
    // A single zero group is not compressed; the first of equal runs is.
    expect(formatIPv6(parseIPv6('2001:db8:0:1:1:1:1:1')!)).toBe('2001:db8:0:1:1:1:1:1');
    expect(formatIPv6(parseIPv6('2001:0:0:1:0:0:1:1')!)).toBe('2001::1:0:0:1:1');
  });
  it('rejects bad text', () => {
    for (const bad of ['', ':::', '1::2::3', '12345::', 'g::1', '1:2:3:4:5:6:7', '1:2:3:4:5:6:7:8:9', '::1.2.3']) expect(parseIPv6(bad)).toBeUndefined();
  });
  it('round-trips random values', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }), (v) => parseIPv6(formatIPv6(v)) === v),
      { numRuns: 2000 },
    );
  });
});

describe('prefix masks', () => {
  it('knows contiguous masks and only those', () => {
    expect(prefixMask(4, 16)).toBe(0xffff0000n);
    expect(prefixLength(4, 0xffff0000n)).toBe(16);
    expect(prefixLength(4, 0xff00ff00n)).toBeUndefined();
    expect(prefixLength(6, prefixMask(6, 64))).toBe(64);
    expect(prefixMask(4, 0)).toBe(0n);
  });
});
