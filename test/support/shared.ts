// The team's shared test data (../shared beside the checkout): where it is, and one way to skip
// with a printed reason when it is absent.
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export const SHARED = join(import.meta.dirname, '..', '..', '..', 'shared');
export const CAPTURES = join(SHARED, 'captures');
export const CLASSBENCH = join(SHARED, 'data', 'classbench');

/** Whether `path` exists; when not, prints why the tests that need it are skipped. */
export function present(path: string, skipping: string): boolean {
  if (existsSync(path)) return true;
  console.warn(`${skipping}: ${path} is absent`);
  return false;
}
