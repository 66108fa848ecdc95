// The policy examples in README.md's "The policy language" section must parse as documented.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseCiscoAcls } from '../src/policy/ios-select.js';
import { readPolicy } from '../src/policy/index.js';
import { parseJsonPolicy } from '../src/policy/json.js';
import { entrySelectors } from '../src/selector/algebra.js';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const start = readme.indexOf('\n## The policy language\n') + 1;
const section = readme.slice(start, readme.indexOf('\n## ', start));
const blocks = [...section.matchAll(/```(\w*)\n([\s\S]*?)```/g)].map((m) => ({ lang: m[1], text: m[2]! }));

describe('README policy examples', () => {
  it('has a Cisco, a running-config and a JSON example', () => {
    expect(start).toBeGreaterThan(0);
    expect(blocks.map((b) => b.lang)).toEqual(['', '', 'json']);
  });

  it('the running-config example reads as it says: the discover entry names TED-ACL, object groups expanded', () => {
    const r = readPolicy(blocks[1]!.text, { format: 'cisco', file: 'README.cfg' });
    expect(r.policy.name).toBe('TED-ACL');
    expect(r.choice).toMatchObject({ by: 'discover', dynamicMap: { map: 'TED-DYN', acl: 'TED-ACL' } });
    expect(r.policy.entries.map((e) => entrySelectors(e).length)).toEqual([1, 15]);
    expect(r.config!.lists.map((l) => l.name)).toEqual(['TED-ACL', '120']);
    expect(r.config!.interfaces.get('VPN')).toEqual(['GigabitEthernet0/0']);
    expect(r.warnings).toEqual([]);
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
    const p = parseJsonPolicy(blocks[2]!.text, { file: 'README.json' });
    expect(p).toMatchObject({ name: 'VPN', family: 4 });
    expect(p.entries.map((e) => e.action)).toEqual(['deny', 'permit', 'permit']);
  });
});
