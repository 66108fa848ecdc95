// The WebAssembly module is instantiated through @assemblyscript/loader: an abort inside it is a
// TED_WASM_ABORT carrying the runtime's message and source file, in both builds.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TedError } from '../src/errors.js';
import { instantiateWasm, loadWasm, WASM_BUILD_DIR } from '../src/wasm/load.js';
import { thrown } from './support/errors.js';

describe('loadWasm', () => {
  it.each([
    ['the build this engine runs', () => loadWasm()],
    ['the scalar build', () => instantiateWasm(join(WASM_BUILD_DIR, 'ted.wasm'), false)],
  ])('an abort in %s names its message and file', (_name, load) => {
    const wasm = load();
    const alloc = wasm.exports.alloc;
    // More than the allocator can ever give: the runtime aborts.
    const e = thrown(TedError, () => alloc(0xfffffff0));
    expect(e.code).toBe('TED_WASM_ABORT');
    expect(e.message).toMatch(/^WebAssembly abort: Allocation too large in ~lib\/rt\/tlsf\.ts:\d+:\d+$/);
    // The instance still works afterwards.
    const p = alloc(64);
    expect(p).toBeGreaterThan(0);
    wasm.exports.free(p);
  });

  it('a missing build is TED_WASM_MISSING', () => {
    expect(() => instantiateWasm(join(WASM_BUILD_DIR, 'nope.wasm'), false)).toThrow(expect.objectContaining({ code: 'TED_WASM_MISSING' }));
  });
});
