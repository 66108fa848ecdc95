// Loads the hot-path WebAssembly module once per process. The SIMD build is used when the engine
// validates a v128 instruction; otherwise, or with TED_WASM_SIMD=0, the scalar build.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { instantiateSync, type ASUtil } from '@assemblyscript/loader';
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
export const WASM_BUILD_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'build');

/**
 * Instantiates one build of the module through @assemblyscript/loader. Its string reader turns a
 * WebAssembly abort into the runtime's own message and source file (e.g. "Index out of range in
 * ~lib/staticarray.ts:113:41"), raised as TED_WASM_ABORT. The hot path calls the raw exports
 * (`exports`): the loader's demangled wrappers add a closure per call.
 */
export function instantiateWasm(file: string, simd: boolean): TedWasm {
  let bytes: Uint8Array<ArrayBuffer>;
  try {
    bytes = new Uint8Array(readFileSync(file));
  } catch (cause) {
    throw new TedError('TED_WASM_MISSING', `WebAssembly module ${file} is missing: run \`npm run build\``, { cause });
  }
  let loaded: { exports: ASUtil; instance: WebAssembly.Instance } | undefined;
  // An abort during instantiation (start function) comes before the loader can read strings.
  const text = (ptr: number): string => {
    try {
      return (ptr && loaded?.exports.__getString(ptr)) || '?';
    } catch {
      return '?';
    }
  };
  loaded = instantiateSync(new WebAssembly.Module(bytes), {
    env: {
      abort(msg: number, source: number, line: number, col: number) {
        throw new TedError('TED_WASM_ABORT', `WebAssembly abort: ${text(msg)} in ${text(source)}:${line}:${col}`);
      },
    },
  });
  return { exports: loaded.instance.exports as unknown as TedWasmExports, simd, file };
}

let cached: TedWasm | undefined;

export function loadWasm(): TedWasm {
  if (cached) return cached;
  const simd = simdSupported();
  cached = instantiateWasm(join(WASM_BUILD_DIR, simd ? 'ted-simd.wasm' : 'ted.wasm'), simd);
  return cached;
}
