// Rewrites docs/errors.md from the source: a row for every code src/ raises (new ones with an empty
// meaning to fill in), "raised in" recomputed, dead codes dropped. test/errors-table.test.ts
// fails until the table matches and every row has a meaning and an exit status.
import { readFileSync, writeFileSync } from 'node:fs';
import { TABLE, renderTable, scanSource } from './error-codes.mjs';

writeFileSync(TABLE, renderTable(readFileSync(TABLE, 'utf8'), scanSource()));
console.log('docs/errors.md written');
