// The shipped JSON Schema and the JSON policy reader must agree: every policy the reader accepts
// validates, and every structural mistake the schema can see is refused by both.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import Ajv2020Module from 'ajv/dist/2020.js';
import fc from 'fast-check';
import { parseJsonPolicy } from '../src/policy/json.js';
import { jsonEntryText } from '../src/selector/format.js';
import { familyArb, selectorArb } from './algebra-arbitraries.js';

const schema = JSON.parse(readFileSync(new URL('../schema/policy.schema.json', import.meta.url), 'utf8'));
// ajv is CommonJS: under NodeNext its class is the default export's `default`.
const Ajv2020 = (Ajv2020Module as unknown as { default: typeof Ajv2020Module }).default ?? Ajv2020Module;
const ajv = new (Ajv2020 as unknown as new (o: object) => { compile(s: object): ((d: unknown) => boolean) & { errors?: unknown } })({ strict: true, allErrors: true });
const validate = ajv.compile(schema);
const accepts = (text: string) => {
  try {
    parseJsonPolicy(text);
    return true;
  } catch {
    return false;
  }
};

const good = [
  readFileSync(new URL('../examples/initiator.json', import.meta.url), 'utf8'),
  '{"entries": []}',
  '{"name": "V6", "family": 6, "entries": [{"protocol": "icmp", "source": {"prefix": "2001:db8::/32"}, "destination": {"host": "::1"}}]}',
  '{"entries": [{"sequence": 2, "action": "deny", "protocol": 255, "sport": [[1, 2], [4, 4]], "dport": 0}, {"sequence": 1, "remark": "r"}]}',
  '{"entries": ["permit tcp any any eq 22", {"source": {"value": "10.0.0.0", "wildcard": "0.255.0.255"}}]}',
];
const structurallyBad = [
  '[]',
  '{}',
  '{"entries": {}}',
  '{"entries": [], "extra": 1}',
  '{"family": 5, "entries": []}',
  '{"name": "a b", "entries": []}',
  '{"entries": [42]}',
  '{"entries": [{"actoin": "deny"}]}',
  '{"entries": [{"action": "drop"}]}',
  '{"entries": [{"sequence": 0}]}',
  '{"entries": [{"sequence": 1.5}]}',
  '{"entries": [{"protocol": 256}]}',
  '{"entries": [{"protocol": "tpc"}]}',
  '{"entries": [{"source": 10}]}',
  '{"entries": [{"source": {"mask": "x"}}]}',
  '{"entries": [{"source": {"prefix": 8}}]}',
  '{"entries": [{"dport": 65536}]}',
  '{"entries": [{"dport": [1, 2, 3]}]}',
  '{"entries": [{"dport": "www"}]}',
  '{"entries": [{"remark": 1}]}',
];

describe('schema/policy.schema.json', () => {
  it('compiles in strict mode', () => {
    expect(typeof validate).toBe('function');
  });
  for (const doc of good)
    it(`accepts what the reader accepts: ${doc.slice(0, 60)}`, () => {
      expect(accepts(doc)).toBe(true);
      expect(validate(JSON.parse(doc)), JSON.stringify(validate.errors)).toBe(true);
    });
  for (const doc of structurallyBad)
    it(`refuses, like the reader, ${doc}`, () => {
      expect(accepts(doc)).toBe(false);
      expect(validate(JSON.parse(doc))).toBe(false);
    });
});

describe('the JSON lines the formatter prints', () => {
  it('are entries of the schema that a JSON policy of their family reads back', () => {
    fc.assert(
      fc.property(familyArb.chain((f) => selectorArb(f)), (s) => {
        const line = jsonEntryText(s, 'deny');
        const doc = `{"family": ${s.family}, "entries": [${line}]}`;
        expect(validate(JSON.parse(doc)), JSON.stringify(validate.errors)).toBe(true);
        const e = parseJsonPolicy(doc).entries[0]!;
        expect({ ...e, ordinal: undefined, action: undefined, line: undefined }).toEqual({ ...s, ordinal: undefined, action: undefined, line: undefined });
      }),
      { numRuns: 1000 },
    );
  });
});
