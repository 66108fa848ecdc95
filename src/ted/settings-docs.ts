// Renders the settings table (src/ted/settings.ts) into the schema and the documents that carry
// it. Used by scripts/settings-docs.mjs (writes) and test/settings.test.ts (checks).
import { TedError } from '../errors.js';
import { schemaSections, settingsTable } from './settings.js';

export const TABLE_BEGIN = '<!-- settings:begin -->';
export const TABLE_END = '<!-- settings:end -->';

/** The schema text with its settings sections replaced (placed after `probe`), other keys untouched. */
export function renderSchema(text: string): string {
  const schema = JSON.parse(text) as { properties: Record<string, unknown> };
  const sections = schemaSections();
  const props: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(schema.properties)) {
    if (k in sections) continue;
    props[k] = v;
    if (k === 'probe') Object.assign(props, sections);
  }
  if (!('probe' in schema.properties)) Object.assign(props, sections);
  schema.properties = props;
  return JSON.stringify(schema, null, 2) + '\n';
}

/** The document with the text between the settings markers replaced by the table. */
export function renderTable(text: string, name: string): string {
  const a = text.indexOf(TABLE_BEGIN);
  const b = text.indexOf(TABLE_END);
  if (a < 0 || b < a) throw new TedError('TED_DOCS_MARKERS', `${name}: no ${TABLE_BEGIN} ... ${TABLE_END} block`);
  return `${text.slice(0, a + TABLE_BEGIN.length)}\n${settingsTable()}\n${text.slice(b)}`;
}
