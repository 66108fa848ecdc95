// Shared by the classify tests: the non-SIMD WebAssembly build loaded explicitly (the process-wide
// loader picks the SIMD one), and random policy/tuple generators.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TedWasm, TedWasmExports } from '../src/wasm/load.js';

let noSimd: TedWasm | undefined;

export function loadNoSimd(): TedWasm {
  if (noSimd) return noSimd;
  const file = join(__dirname, '..', 'build', 'ted.wasm');
  const instance = new WebAssembly.Instance(new WebAssembly.Module(readFileSync(file)), {
    env: {
      abort(_m: number, _f: number, line: number, col: number) {
        throw new Error(`WebAssembly abort at ${line}:${col}`);
      },
    },
  });
  noSimd = { exports: instance.exports as unknown as TedWasmExports, simd: false, file };
  return noSimd;
}
