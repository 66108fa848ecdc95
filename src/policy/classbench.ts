// ClassBench filter sets: `@src/len dst/len slo : shi dlo : dhi 0xPP/0xMM [0xFLAGS/0xMASK]`, one
// rule per line, tabs or spaces; as DPDK's tools also write them, `#` lines are comments and the
// protocol may be decimal (`6/0xFF`, `0/0`). Every rule is a permit entry; its ordinal is its
// position among the rules (= its line number when the file has no blank or comment lines, as real
// ClassBench files have none).
import { address, portSet } from '../selector/algebra.js';
import { parseIPv4, prefixMask } from '../selector/address.js';
import type { Address, Entry, Policy } from '../selector/types.js';
import { FULL_PORTS } from '../selector/types.js';
import { Problems, parseDecimal, splitLines, tokenize, type Token } from './problems.js';

// ':' is a token of its own so that `0:65535`, `0 : 65535` and `0 :65535` all read the same.
const TOKEN = /[^\s:]+|:/g;

/** The file's base name, used as the policy name of sets that have none. */
export function baseName(file: string): string {
  const slash = Math.max(file.lastIndexOf('/'), file.lastIndexOf('\\'));
  return file.slice(slash + 1);
}

/** Parses a ClassBench filter set. Throws PolicyError listing every bad line. */
export function parseClassBench(text: string, file = '<input>'): Policy {
  const problems = new Problems(file);
  const entries: Entry[] = [];
  const lines = splitLines(text);
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const line = lines[i]!;
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue; // tolerated, not counted
    const before = problems.count;
    const entry = parseRule(line, lineNo, entries.length + 1, problems);
    if (entry && problems.count === before) entries.push(entry);
  }
  if (entries.length === 0 && problems.count === 0)
    problems.add('POLICY_EMPTY', 'no ClassBench rules in the file', 1, 1, undefined, "lines like '@10.0.0.0/8 0.0.0.0/0 0 : 65535 0 : 65535 0x00/0x00'");
  problems.throwIfAny();
  return { name: baseName(file), family: 4, entries };
}

function parseRule(line: string, lineNo: number, ordinal: number, problems: Problems): Entry | undefined {
  const toks = tokenize(line, TOKEN);
  let k = 0;
  const endCol = line.length + 1;
  const next = (): Token | undefined => toks[k++];
  const fail = (code: string, message: string, tok: Token | undefined, expected: string): undefined => {
    problems.add(code, message, lineNo, tok?.column ?? endCol, tok?.text ?? '<end of line>', expected);
    return undefined;
  };

  const srcTok = next();
  if (!srcTok || !srcTok.text.startsWith('@'))
    return fail('POLICY_CLASSBENCH_SYNTAX', 'a ClassBench rule starts with @', srcTok, "'@' followed by the source prefix");
  const src = prefix({ text: srcTok.text.slice(1), column: srcTok.column + 1 }, 'source', lineNo, problems);
  if (!src) return undefined;
  const dstTok = next();
  const dst = dstTok ? prefix(dstTok, 'destination', lineNo, problems) : fail('POLICY_CLASSBENCH_SYNTAX', 'missing destination prefix', dstTok, 'A.B.C.D/len');
  if (!dst) return undefined;

  const range = (what: string): { lo: number; hi: number } | undefined => {
    const loTok = next();
    const lo = loTok ? parseDecimal(loTok.text, 0, 65535) : undefined;
    if (lo === undefined) return fail('POLICY_BAD_PORT', `bad ${what} low port`, loTok, 'a port number 0-65535');
    const colon = next();
    if (colon?.text !== ':') return fail('POLICY_CLASSBENCH_SYNTAX', `missing ':' in the ${what} range`, colon, "':'");
    const hiTok = next();
    const hi = hiTok ? parseDecimal(hiTok.text, 0, 65535) : undefined;
    if (hi === undefined) return fail('POLICY_BAD_PORT', `bad ${what} high port`, hiTok, 'a port number 0-65535');
    if (lo > hi) return fail('POLICY_BAD_PORT_RANGE', `${what} range is empty (${lo} > ${hi})`, loTok, 'low <= high');
    return { lo, hi };
  };
  const sport = range('source port');
  if (!sport) return undefined;
  const dport = range('destination port');
  if (!dport) return undefined;

  const protoTok = next();
  const pm = protoTok ? /^(0x[0-9a-fA-F]{1,2}|\d{1,3})\/(0x[0-9a-fA-F]{1,2}|\d{1,3})$/.exec(protoTok.text) : null;
  const value = pm ? Number(pm[1]) : NaN;
  const mask = pm ? Number(pm[2]) : NaN;
  if (!pm || value > 255 || mask > 255) return fail('POLICY_CLASSBENCH_SYNTAX', 'bad protocol field', protoTok, '0xPP/0xMM or decimal PP/MM (mask 0x00 = any, 0xFF = exact)');
  let protocol: number;
  if (mask === 0) protocol = 0;
  else if (mask === 0xff) protocol = value;
  else return fail('POLICY_CLASSBENCH_PROTOCOL_MASK', `protocol mask ${pm[2]} is neither 0x00 (any) nor 0xFF (exact)`, protoTok, '0x00 or 0xFF');
  if (mask === 0xff && value === 0)
    return fail('POLICY_BAD_PROTOCOL', 'protocol 0 with an exact mask would mean "any" here', protoTok, 'a protocol 1-255, or mask 0x00 for any');

  const flagsTok = next();
  if (flagsTok) {
    const fm = /^0x([0-9a-fA-F]{1,4})\/0x([0-9a-fA-F]{1,4})$/.exec(flagsTok.text);
    if (!fm) return fail('POLICY_CLASSBENCH_SYNTAX', 'bad flags field', flagsTok, '0xFLAGS/0xMASK');
    // Selectors have no TCP-flags field: a flag condition cannot be represented, so refuse it
    // rather than silently widening the rule.
    if (parseInt(fm[2]!, 16) !== 0)
      return fail('POLICY_CLASSBENCH_FLAGS', 'TCP flag conditions are not supported', flagsTok, 'flags mask 0x0000');
  }
  const extra = next();
  if (extra) return fail('POLICY_CLASSBENCH_SYNTAX', 'unexpected text after the rule', extra, 'end of line');

  const ports = (r: { lo: number; hi: number }) => (r.lo === 0 && r.hi === 65535 ? FULL_PORTS : portSet([r]));
  return { family: 4, protocol, src, dst, sport: ports(sport), dport: ports(dport), ordinal, action: 'permit', line: lineNo };
}

function prefix(tok: Token, what: string, lineNo: number, problems: Problems): Address | undefined {
  const m = /^([^/]+)\/(\d{1,2})$/.exec(tok.text);
  const value = m ? parseIPv4(m[1]!) : undefined;
  const len = m ? parseDecimal(m[2]!, 0, 32) : undefined;
  if (value === undefined || len === undefined) {
    problems.add('POLICY_BAD_ADDRESS', `bad ${what} prefix`, lineNo, tok.column, tok.text, 'A.B.C.D/len with len 0-32');
    return undefined;
  }
  return address(value, prefixMask(4, len));
}
