import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseEntry } from '../src/policy/cisco.js';
import { parseAnyEntry } from '../src/policy/entry.js';
import { parseCisco } from '../src/policy/ios-select.js';
import { address, contains } from '../src/selector/algebra.js';
import { ciscoExpressible, formatAddressField, formatEntry, formatEntryLines, formatPortCondition, formatSelector, formatSelectorLines, selectorJson } from '../src/selector/format.js';
import type { Selector } from '../src/selector/types.js';
import { FULL_PORTS } from '../src/selector/types.js';
import { familyArb, selectorArb, tupleNear } from './algebra-arbitraries.js';

const fields = (s: Selector) => ({ family: s.family, protocol: s.protocol, src: s.src, dst: s.dst, sport: s.sport, dport: s.dport });

describe('canonical Cisco formatting', () => {
  it('prints host, any, A W, X/len and every port operator', () => {
    expect(formatAddressField(4, { value: 0n, care: 0n })).toBe('any');
    expect(formatAddressField(4, { value: 0x0a000001n, care: 0xffffffffn })).toBe('host 10.0.0.1');
    expect(formatAddressField(4, address(0x0a0b0000n, 0xffff0000n))).toBe('10.11.0.0 0.0.255.255');
    expect(formatAddressField(4, address(0x0a000100n, 0xff00ff00n))).toBe('10.0.1.0 0.255.0.255');
    expect(formatAddressField(6, address(0x20010db8n << 96n, ((1n << 32n) - 1n) << 96n))).toBe('2001:db8::/32');
    expect(formatAddressField(6, { value: 1n, care: (1n << 128n) - 1n })).toBe('host ::1');
    expect(formatPortCondition(FULL_PORTS)).toBe('');
    expect(formatPortCondition([{ lo: 80, hi: 80 }])).toBe('eq 80');
    expect(formatPortCondition([{ lo: 0, hi: 1023 }])).toBe('lt 1024');
    expect(formatPortCondition([{ lo: 1024, hi: 65535 }])).toBe('gt 1023');
    expect(formatPortCondition([{ lo: 10, hi: 20 }])).toBe('range 10 20');
    expect(formatPortCondition([{ lo: 0, hi: 21 }, { lo: 23, hi: 65535 }])).toBe('neq 22');
    expect(formatPortCondition([{ lo: 0, hi: 0 }, { lo: 65535, hi: 65535 }])).toBe('eq 0 65535');
    expect(formatPortCondition([{ lo: 1, hi: 21 }, { lo: 23, hi: 65535 }])).toBe('neq 0 22');
    expect(formatPortCondition([{ lo: 1, hi: 21 }, { lo: 24, hi: 65535 }])).toBe('neq 0 22 23');
    expect(formatPortCondition([{ lo: 1, hi: 21 }, { lo: 40, hi: 65535 }])).toBeUndefined();
    expect(formatPortCondition([{ lo: 80, hi: 81 }, { lo: 443, hi: 443 }])).toBe('eq 80 81 443');
    const eleven = Array.from({ length: 11 }, (_, i) => ({ lo: i * 2, hi: i * 2 }));
    expect(formatPortCondition(eleven.slice(0, 10))).toBe('eq 0 2 4 6 8 10 12 14 16 18');
    expect(formatPortCondition(eleven)).toBeUndefined();
  });

  it('prints the worked example and protocols by keyword', () => {
    const s = parseEntry('permit ip 10.11.0.0/16 any').selector;
    expect(formatSelector(s)).toBe('permit ip 10.11.0.0 0.0.255.255 any');
    expect(formatSelector(parseEntry('udp host 10.0.0.1 eq isakmp any eq non500-isakmp').selector, 'deny')).toBe('deny udp host 10.0.0.1 eq 500 any eq 4500');
    expect(formatSelector(parseEntry('permit icmp any any', { family: 6 }).selector)).toBe('permit icmp any any');
    expect(formatSelector(parseEntry('permit 1 any any', { family: 6 }).selector)).toBe('permit 1 any any');
    expect(formatSelector(parseEntry('permit 58 any any').selector)).toBe('permit 58 any any');
  });

  it('JSON form: IPv4 value/wildcard, IPv6 prefix, [lo, hi] ports', () => {
    const j = selectorJson(parseEntry('permit tcp 10.11.0.0 0.0.255.255 any range 1 2').selector);
    expect(j).toEqual({
      protocol: 6,
      source: { value: '10.11.0.0', wildcard: '0.0.255.255' },
      destination: { value: '0.0.0.0', wildcard: '255.255.255.255' },
      sport: [0, 65535],
      dport: [1, 2],
      entry: 'permit tcp 10.11.0.0 0.0.255.255 any range 1 2',
    });
    expect(selectorJson(parseEntry('permit ipv6 2001:db8::/32 any').selector).source).toEqual({ prefix: '2001:db8::/32' });
    expect(selectorJson(parseEntry('permit tcp any any neq 5').selector).dport).toEqual([
      [0, 4],
      [6, 65535],
    ]);
  });

  it('parse(format(x)) == x for every selector Cisco syntax can express', () => {
    fc.assert(
      fc.property(familyArb.chain((f) => selectorArb(f, { cisco: true })), (s) => {
        const text = formatSelector(s);
        expect(text.includes('\n')).toBe(false);
        const back = parseEntry(text, { family: s.family });
        expect(fields(back.selector)).toEqual(fields(s));
        // And the text is canonical: formatting again gives the same text.
        expect(formatSelector(back.selector)).toBe(text);
      }),
      { numRuns: 3000 },
    );
  });

  it('a port set no single operator expresses becomes several lines whose union is exactly the selector', () => {
    const s: Selector = { ...parseEntry('permit tcp any any').selector, sport: [{ lo: 1, hi: 50 }, { lo: 90, hi: 90 }], dport: [{ lo: 0, hi: 0 }, { lo: 7, hi: 80 }, { lo: 65535, hi: 65535 }] };
    const lines = formatSelectorLines(s);
    expect(lines).toEqual([
      'permit tcp any range 1 50 any eq 0 65535',
      'permit tcp any range 1 50 any range 7 80',
      'permit tcp any eq 90 any eq 0 65535',
      'permit tcp any eq 90 any range 7 80',
    ]);
    const parts = lines.map((l) => parseEntry(l).selector);
    fc.assert(
      fc.property(tupleNear(s), (t) => {
        expect(parts.some((p) => contains(p, t))).toBe(contains(s, t));
      }),
      { numRuns: 500 },
    );
  });
});

describe('everything formatted parses back (every policy language)', () => {
  it('any selector, Cisco-expressible or not (ports with protocol any, IPv6 non-prefix masks): its lines parse back to exactly its packets', () => {
    fc.assert(
      fc.property(
        familyArb.chain((f) => selectorArb(f)),
        fc.constantFrom<'permit' | 'deny'>('permit', 'deny'),
        (s, action) => {
          const lines = formatSelectorLines(s, action);
          const parts = lines.map((l) => parseAnyEntry(l, { family: s.family }));
          for (const p of parts) expect(p.action).toBe(action);
          if (lines.length === 1) expect(fields(parts[0]!.selector)).toEqual(fields(s));
          else
            fc.assert(
              fc.property(tupleNear(s), (t) => {
                expect(parts.some((p) => contains(p.selector, t))).toBe(contains(s, t));
              }),
              { numRuns: 30 },
            );
          // Without the family given: an any/any selector still says which (ip / ipv6).
          if (lines.length === 1 && !ciscoExpressible(s)) expect(parseAnyEntry(lines[0]!).selector.family).toBe(s.family);
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('JSON entry lines for what Cisco text cannot say', () => {
    const s: Selector = { ...parseEntry('permit ip 10.0.0.0 0.0.0.255 any').selector, dport: [{ lo: 80, hi: 80 }] };
    expect(formatSelector(s)).toBe('{"action": "permit", "protocol": "ip", "source": "10.0.0.0 0.0.0.255", "destination": "any", "dport": 80}');
    const v6: Selector = { ...parseEntry('permit ipv6 any any').selector, src: address(1n, ((1n << 128n) - 1n) ^ (1n << 64n)), sport: [{ lo: 1, hi: 2 }, { lo: 9, hi: 9 }] };
    expect(formatSelector(v6, 'deny')).toBe('{"action": "deny", "protocol": "ipv6", "source": {"value": "::1", "wildcard": "0:0:0:1::"}, "destination": "::/0", "sport": [[1, 2], [9, 9]]}');
  });

  it('an entry with several selectors prints one line per selector, each parsing back to its selector', () => {
    const p = parseCisco('object-group network N\n host 10.0.0.1\n 10.2.0.0 /16\nip access-list extended X\n deny tcp object-group N any eq 22 80');
    const e = p.entries[0]!;
    expect(formatEntry(e)).toBe('deny tcp host 10.0.0.1 any eq 22 80\ndeny tcp 10.2.0.0 0.0.255.255 any eq 22 80');
    expect(formatEntryLines(e).map((l) => fields(parseAnyEntry(l).selector))).toEqual(e.selectors!.map(fields));
  });
});
