// The one JSON style of every `--json` output: one document per line, with ", " and ": "
// separators (as the documentation shows the lines), keys in insertion order, undefined dropped.
export function lineJson(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null';
  let out: string;
  if (Array.isArray(v)) {
    out = '[';
    for (let i = 0; i < v.length; i++) out += (i > 0 ? ', ' : '') + lineJson(v[i]);
    return out + ']';
  }
  out = '{';
  let first = true;
  for (const k in v) {
    const x = (v as Record<string, unknown>)[k];
    if (x === undefined) continue;
    out += (first ? '' : ', ') + JSON.stringify(k) + ': ' + lineJson(x);
    first = false;
  }
  return out + '}';
}

