// Loads the hot-path WebAssembly module once per process. The SIMD build is used when the engine
// validates a v128 instruction; otherwise, or with TED_WASM_SIMD=0, the scalar build.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TedError } from '../errors.js';

/** Exports every part of assembly/ adds to; each module reads the ones it owns. */
export interface TedWasmExports {
  memory: WebAssembly.Memory;
  alloc(size: number): number;
  free(ptr: number): void;
  [name: string]: unknown;
}

export interface TedWasm {
  exports: TedWasmExports;
  simd: boolean;
  file: string;
}

// (module (func (result v128) v128.const i32x4 0 0 0 0))
const SIMD_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 22, 1, 20, 0, 253, 12, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 11,
]);

export function simdSupported(): boolean {
  if (process.env.TED_WASM_SIMD === '0') return false;
  try {
    return WebAssembly.validate(SIMD_PROBE);
  } catch {
    return false;
  }
}

// src/wasm/load.ts and dist/wasm/load.js both sit two levels below the package root.
const buildDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'build');

let cached: TedWasm | undefined;

export function loadWasm(): TedWasm {
  if (cached) return cached;
  const simd = simdSupported();
  const file = join(buildDir, simd ? 'ted-simd.wasm' : 'ted.wasm');
  let bytes: Uint8Array<ArrayBuffer>;
  try {
    bytes = new Uint8Array(readFileSync(file));
  } catch (cause) {
    throw new TedError('TED_WASM_MISSING', `WebAssembly module ${file} is missing: run \`npm run build\``, { cause });
  }
  const module = new WebAssembly.Module(bytes);
  const instance = new WebAssembly.Instance(module, {
    env: {
      abort(_msg: number, _file: number, line: number, col: number) {
        throw new TedError('TED_WASM_ABORT', `WebAssembly abort at ${line}:${col}`);
      },
    },
  });
  cached = { exports: instance.exports as unknown as TedWasmExports, simd, file };
  return cached;
}
