// A small JSON reader that keeps the line and column of every value, so that a policy error can
// point at the exact place in the file (JSON.parse only reports a character offset, and only for
// syntax errors).

export type JsonNode =
  | { kind: 'object'; line: number; column: number; text: string; members: { key: string; keyLine: number; keyColumn: number; value: JsonNode }[] }
  | { kind: 'array'; line: number; column: number; text: string; items: JsonNode[] }
  | { kind: 'string'; line: number; column: number; text: string; value: string }
  | { kind: 'number'; line: number; column: number; text: string; value: number }
  | { kind: 'boolean'; line: number; column: number; text: string; value: boolean }
  | { kind: 'null'; line: number; column: number; text: string };

export class JsonSyntaxError extends Error {
  constructor(
    message: string,
    readonly line: number,
    readonly column: number,
    readonly token: string,
    readonly expected: string,
  ) {
    super(message);
  }
}

const MAX_DEPTH = 64;
// Sticky: they match at lastIndex only, so reading never copies the rest of the text.
const STRING = /"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/y;
const LITERAL = /(?:-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null)/y;

export function parseJsonWithPositions(src: string): JsonNode {
  let pos = 0;
  let line = 1;
  let lineStart = 0;
  const col = () => pos - lineStart + 1;
  const tokenAt = () => (pos >= src.length ? '<end of file>' : (/^[^\s,:\]}]{1,20}|^./.exec(src.slice(pos))?.[0] ?? ''));
  const fail = (message: string, expected: string): never => {
    throw new JsonSyntaxError(message, line, col(), tokenAt(), expected);
  };
  const ws = () => {
    while (pos < src.length) {
      const ch = src.charCodeAt(pos);
      if (ch === 10) {
        pos++;
        line++;
        lineStart = pos;
      } else if (ch === 32 || ch === 9 || ch === 13) pos++;
      else break;
    }
  };
  const str = (): string => {
    STRING.lastIndex = pos;
    const m = STRING.exec(src);
    if (!m) fail('bad string', 'a JSON string');
    pos += m![0].length;
    return JSON.parse(m![0]) as string;
  };
  const value = (depth: number): JsonNode => {
    if (depth > MAX_DEPTH) fail('nesting too deep', `at most ${MAX_DEPTH} levels`);
    ws();
    const l = line;
    const c = col();
    const start = pos;
    const ch = src[pos];
    if (ch === '{') {
      pos++;
      const members: { key: string; keyLine: number; keyColumn: number; value: JsonNode }[] = [];
      ws();
      if (src[pos] === '}') {
        pos++;
        return { kind: 'object', line: l, column: c, text: '{', members };
      }
      for (;;) {
        ws();
        const kl = line;
        const kc = col();
        if (src[pos] !== '"') fail('expected a property name', 'a double-quoted property name');
        const key = str();
        ws();
        if (src[pos] !== ':') fail("expected ':'", "':'");
        pos++;
        members.push({ key, keyLine: kl, keyColumn: kc, value: value(depth + 1) });
        ws();
        if (src[pos] === ',') {
          pos++;
          continue;
        }
        if (src[pos] === '}') {
          pos++;
          return { kind: 'object', line: l, column: c, text: '{', members };
        }
        fail("expected ',' or '}'", "',' or '}'");
      }
    }
    if (ch === '[') {
      pos++;
      const items: JsonNode[] = [];
      ws();
      if (src[pos] === ']') {
        pos++;
        return { kind: 'array', line: l, column: c, text: '[', items };
      }
      for (;;) {
        items.push(value(depth + 1));
        ws();
        if (src[pos] === ',') {
          pos++;
          continue;
        }
        if (src[pos] === ']') {
          pos++;
          return { kind: 'array', line: l, column: c, text: '[', items };
        }
        fail("expected ',' or ']'", "',' or ']'");
      }
    }
    if (ch === '"') {
      const v = str();
      return { kind: 'string', line: l, column: c, text: src.slice(start, pos), value: v };
    }
    LITERAL.lastIndex = pos;
    const m = LITERAL.exec(src);
    if (!m) return fail('unexpected token', 'a JSON value');
    pos += m[0].length;
    const t = m[0];
    if (t === 'true' || t === 'false') return { kind: 'boolean', line: l, column: c, text: t, value: t === 'true' };
    if (t === 'null') return { kind: 'null', line: l, column: c, text: t };
    return { kind: 'number', line: l, column: c, text: t, value: Number(t) };
  };
  if (src.charCodeAt(0) === 0xfeff) pos = lineStart = 1; // byte order mark
  const root = value(0);
  ws();
  if (pos < src.length) fail('unexpected text after the JSON value', 'end of file');
  return root;
}
