// The policy examples in README.md's "The policy language" section must parse as documented.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseCiscoAcls } from '../src/policy/ios-select.js';
import { parseJsonPolicy } from '../src/policy/json.js';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const start = readme.indexOf('\n## The policy language\n') + 1;
const section = readme.slice(start, readme.indexOf('\n## ', start));
const blocks = [...section.matchAll(/```(\w*)\n([\s\S]*?)```/g)].map((m) => ({ lang: m[1], text: m[2]! }));

describe('README policy examples', () => {
  it('has a Cisco and a JSON example', () => {
    expect(start).toBeGreaterThan(0);
    expect(blocks.map((b) => b.lang)).toEqual(['', 'json']);
  });

  it('the Cisco example parses into the lists it describes', () => {
    const acls = parseCiscoAcls(blocks[0]!.text, 'README.md');
    expect(acls.map((a) => [a.name, a.family, a.entries.length])).toEqual([
      ['101', 4, 1],
      ['VPN', 4, 2],
      ['VPN6', 6, 1],
    ]);
  });

  it('the JSON example parses', () => {
    const p = parseJsonPolicy(blocks[1]!.text, { file: 'README.json' });
    expect(p).toMatchObject({ name: 'VPN', family: 4 });
    expect(p.entries.map((e) => e.action)).toEqual(['deny', 'permit', 'permit']);
  });
});
