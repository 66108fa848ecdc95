// Compiles assembly/ into build/: a SIMD release, a non-SIMD release (chosen at run time when the
// engine lacks SIMD) and a debug build. Skips the work when every output is newer than every input.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const targets = { release: 'build/ted-simd.wasm', 'release-nosimd': 'build/ted.wasm', debug: 'build/ted-debug.wasm' };

function newestInput() {
  let newest = statSync(join(root, 'asconfig.json')).mtimeMs;
  const walk = (dir) => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      const s = statSync(p);
      if (s.isDirectory()) walk(p);
      else if (s.mtimeMs > newest) newest = s.mtimeMs;
    }
  };
  walk(join(root, 'assembly'));
  return newest;
}

const inputs = newestInput();
const asc = join(root, 'node_modules', 'assemblyscript', 'bin', 'asc.js');
for (const [target, out] of Object.entries(targets)) {
  const outPath = join(root, out);
  if (existsSync(outPath) && statSync(outPath).mtimeMs > inputs && !process.env.TED_REBUILD) continue;
  process.stdout.write(`asc --target ${target} -> ${out}\n`);
  execFileSync(process.execPath, [asc, 'assembly/index.ts', '--target', target], { cwd: root, stdio: 'inherit' });
}
