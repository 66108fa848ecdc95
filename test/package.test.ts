// What a consumer installs: no compiler at run time, the native addon optional, metadata and a
// README whose links work on the npm page. (.ci/pack-install installs the packed tarball for real.)
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const read = (p: string) => readFileSync(new URL(`../${p}`, import.meta.url), 'utf8');
const pkg = JSON.parse(read('package.json')) as Record<string, Record<string, string> & string>;

describe('package.json', () => {
  it('keeps the AssemblyScript compiler out of a consumer install and raw-socket optional, pinned exactly', () => {
    expect(pkg.dependencies).not.toHaveProperty('assemblyscript');
    expect(pkg.devDependencies).toHaveProperty('assemblyscript');
    expect(pkg.dependencies).not.toHaveProperty('raw-socket');
    expect(pkg.optionalDependencies).toHaveProperty('raw-socket');
    for (const deps of [pkg.dependencies, pkg.optionalDependencies, pkg.devDependencies]) for (const v of Object.values(deps)) expect(v).toMatch(/^\d+\.\d+\.\d+$/);
    // The loader is a dependency because the module is instantiated through it.
    expect(pkg.dependencies).toHaveProperty('@assemblyscript/loader');
    expect(read('src/wasm/load.ts')).toMatch(/from '@assemblyscript\/loader'/);
  });

  it('ships the release builds and says where the project lives', () => {
    expect(pkg.files).toEqual(expect.arrayContaining(['dist', 'build/ted.wasm', 'build/ted-simd.wasm']));
    expect(pkg.repository).toMatchObject({ type: 'git', url: expect.stringMatching(/^git\+https:\/\/github\.com\/.+\.git$/) });
    expect(pkg.bugs).toMatchObject({ url: expect.stringMatching(/^https:\/\/github\.com\/.+\/issues$/) });
    expect(pkg.homepage).toMatch(/^https:\/\/github\.com\//);
  });

  it('README links and images are absolute (the npm page has no repository files to resolve them against)', () => {
    const targets = [...read('README.md').matchAll(/!?\[[^\]]*\]\(([^)\s]+)\)/g)].map((m) => m[1]!);
    expect(targets.length).toBeGreaterThan(3);
    expect(targets.filter((t) => !/^https:\/\//.test(t) && !t.startsWith('#'))).toEqual([]);
  });

  it('packed tarballs are not committed', () => {
    expect(read('.gitignore').split('\n')).toContain('*.tgz');
  });
});
