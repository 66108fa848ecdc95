// One entry on its own, in either form a policy file may hold it: Cisco entry text
// (`permit tcp any host 10.0.0.1 eq 22`, action optional) or the JSON entry object of the policy
// schema (`{"protocol": "ip", "dport": 80}`, which can say what Cisco text cannot). What
// formatSelector/formatEntry print always parses back through here.
import type { Family } from '../selector/types.js';
import { inferEntryFamily, parseEntry, type ParsedEntryLine } from './cisco.js';
import { jsonEntryFamily, parseJsonEntry } from './json.js';

const isJson = (text: string) => text.trimStart().startsWith('{');

/** Parses one entry, Cisco text or a JSON object. Throws PolicyError. */
export function parseAnyEntry(text: string, opts: { family?: Family; file?: string } = {}): ParsedEntryLine {
  return isJson(text) ? parseJsonEntry(text, opts) : parseEntry(text, opts);
}

/** The family an entry implies, or undefined (`tcp any any`, `{"dport": 80}`). */
export function inferAnyEntryFamily(text: string): Family | undefined {
  return isJson(text) ? jsonEntryFamily(text) : inferEntryFamily(text);
}
