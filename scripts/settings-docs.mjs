// Writes what src/ted/settings.ts defines into the files that show it: the settings sections of
// schema/daemon-config.schema.json and the settings table in README.md and docs/deployment.md
// (between `<!-- settings:begin -->` and `<!-- settings:end -->`). `npm run settings:docs` builds
// and runs it; test/settings.test.ts fails while any of them differs.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderSchema, renderTable } from '../dist/ted/settings-docs.js';

const root = join(import.meta.dirname, '..');
const schemaFile = join(root, 'schema', 'daemon-config.schema.json');
writeFileSync(schemaFile, renderSchema(readFileSync(schemaFile, 'utf8')));
for (const doc of ['README.md', join('docs', 'deployment.md')]) {
  const file = join(root, doc);
  writeFileSync(file, renderTable(readFileSync(file, 'utf8'), doc));
}
console.log('settings: schema, README.md and docs/deployment.md written');
