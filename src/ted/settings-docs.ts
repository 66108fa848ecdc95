// Renders the settings table (src/ted/settings.ts) into the schema and the documents that carry
// it. Used by scripts/settings-docs.mjs (writes) and test/settings.test.ts (checks).
import { TedError } from '../errors.js';
import { schemaSections, settingsTable } from './settings.js';

export const TABLE_BEGIN = '<!-- settings:begin -->';
export const TABLE_END = '<!-- settings:end -->';

/**
 * The schema text with its settings sections replaced (placed after `probe`), other keys
 * untouched. A section the schema also gives settings of other kinds (`log`: level and format
 * beside the numeric settings) stays where it is and keeps those.
 */
export function renderSchema(text: string): string {
  const schema = JSON.parse(text) as { properties: Record<string, unknown> };
  const sections = schemaSections();
  const mixed = new Set<string>();
  for (const [k, v] of Object.entries(schema.properties)) {
    const own = (v as { properties?: Record<string, unknown> }).properties ?? {};
    const generated = (sections[k] as { properties?: Record<string, unknown> } | undefined)?.properties;
    if (generated && Object.keys(own).some((name) => !(name in generated))) mixed.add(k);
  }
  const props: Record<string, unknown> = {};
  const place = () => {
    for (const [k, v] of Object.entries(sections)) if (!mixed.has(k)) props[k] = v;
  };
  for (const [k, v] of Object.entries(schema.properties)) {
    if (mixed.has(k)) {
      const node = v as { properties: Record<string, unknown> };
      const generated = sections[k] as { description: string; properties: Record<string, unknown> };
      const kept = Object.fromEntries(Object.entries(node.properties).filter(([name]) => !(name in generated.properties)));
      props[k] = { ...generated, properties: { ...kept, ...generated.properties } };
      continue;
    }
    if (k in sections) continue;
    props[k] = v;
    if (k === 'probe') place();
  }
  if (!('probe' in schema.properties)) place();
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
