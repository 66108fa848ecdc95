// The error codes the source raises, and docs/errors.md, the one table of them. Shared by
// scripts/errors-docs.mjs (rewrites the table's "raised in" column and adds rows for new codes)
// and test/errors-table.test.ts (fails while the table and the source disagree).
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

export const ROOT = join(import.meta.dirname, '..');
export const TABLE = join(ROOT, 'docs', 'errors.md');

/** Upper-case literals in src/ that look like codes but are not errors (names of other things). */
export const NOT_CODES = new Set([
  'IKE_SA_INIT', 'IKE_AUTH', 'CREATE_CHILD_SA', 'IKE_INTERMEDIATE', 'INFORMATIONAL', // IKEv2 exchange names
  'MAIN_MODE', 'QUICK_MODE', 'INFORMATIONAL_V1', // IKEv1 exchange names
  'CMD_REQUEST', 'CMD_RESPONSE', 'CMD_UNKNOWN', 'EVENT_REGISTER', 'EVENT_UNREGISTER', 'EVENT_CONFIRM', 'EVENT_UNKNOWN', // VICI packet types
  'REMOTE_PREFIX', 'REMOTE_PREFIX6', 'PROTECTED_PREFIX', 'PROTECTED_PREFIX6', 'LAN_IF', // set-up text placeholders
  'PKT_OK', // the decode status of a good frame
  'TED_INPUT_', // the prefix itself (exit status rule)
  'NO_COLOR', 'TED_DEBUG', 'TED_ENGINE', 'TED_WASM_SIMD', 'STRONGSWAN_CONF', // environment variables
  'ERR_STREAM_DESTROYED', 'MODULE_NOT_FOUND', // Node's own error codes, matched on
]);

const CODE = /'([A-Z][A-Z0-9]*_[A-Z0-9_]+)'/g;

function sources(dir) {
  const out = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...sources(p));
    else if (e.name.endsWith('.ts')) out.push(p);
  }
  return out;
}

/** code -> { files: sorted paths relative to src/, classes: error classes it is constructed with } */
export function scanSource() {
  const codes = new Map();
  for (const file of sources(join(ROOT, 'src'))) {
    const text = readFileSync(file, 'utf8');
    const rel = relative(join(ROOT, 'src'), file);
    for (const m of text.matchAll(CODE)) {
      const code = m[1];
      if (NOT_CODES.has(code)) continue;
      let c = codes.get(code);
      if (!c) codes.set(code, (c = { files: new Set(), classes: new Set() }));
      c.files.add(rel);
      const before = text.slice(Math.max(0, m.index - 40), m.index);
      const k = /new (\w*Error)\(\s*$/.exec(before);
      if (k) c.classes.add(k[1]);
    }
  }
  const out = new Map();
  for (const code of [...codes.keys()].sort()) {
    const c = codes.get(code);
    out.set(code, { files: [...c.files].sort(), classes: [...c.classes].sort() });
  }
  return out;
}

export const HEADER = '| code | meaning | exit | raised in |';
const SEPARATOR = '| --- | --- | --- | --- |';

/** The table rows of docs/errors.md: code -> { meaning, exit, where }. */
export function parseTable(text) {
  const rows = new Map();
  for (const line of text.split('\n')) {
    if (!line.startsWith('| `')) continue;
    // Cells split on ' | ' (meanings never contain it); the first is the code in backticks.
    const cells = line.replace(/^\|\s*/, '').replace(/\s*\|$/, '').split(/\s+\|\s+|\s+\|$/);
    const code = /^`([A-Z0-9_]+)`$/.exec(cells[0] ?? '')?.[1];
    if (code) rows.set(code, { meaning: (cells[1] ?? '').trim(), exit: (cells[2] ?? '').trim(), where: (cells[3] ?? '').trim() });
  }
  return rows;
}

export function whereText(files) {
  return files.map((f) => `\`${f}\``).join(', ');
}

/** The document with its table rebuilt: meanings and exits kept, "raised in" from the source, new codes added empty, dead ones dropped. */
export function renderTable(text, scanned) {
  const rows = parseTable(text);
  const start = text.indexOf(HEADER);
  if (start < 0) throw new Error(`docs/errors.md: no table header '${HEADER}'`);
  let end = text.indexOf('\n\n', start);
  if (end < 0) end = text.length;
  const lines = [HEADER, SEPARATOR];
  for (const [code, s] of scanned) {
    const r = rows.get(code) ?? { meaning: '', exit: '' };
    lines.push(`| \`${code}\` | ${r.meaning} | ${r.exit} | ${whereText(s.files)} |`);
  }
  return text.slice(0, start) + lines.join('\n') + text.slice(end);
}
