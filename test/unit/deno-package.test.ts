// Deno (issue 11, item 4): deno.json describes the same package as package.json — name,
// version, the same entry points mapped to the TypeScript sources of what package.json maps
// to dist/ — and that source passes JSR's publish checks (`deno publish --dry-run`), so it
// can be published there as it is. Installing from the tarball and running under Deno is
// tested in test/net/docs-snippets.test.ts.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BIN, ROOT, sh } from '../support/packed.ts';

const read = (f: string) => JSON.parse(readFileSync(join(ROOT, f), 'utf8'));
const pkg = read('package.json') as {
  version: string;
  license: string;
  exports: Record<string, string | { default: string }>;
};
const deno = read('deno.json') as {
  name: string;
  version: string;
  license: string;
  exports: Record<string, string>;
};

describe('deno.json', () => {
  it('names the package and keeps the version and license of package.json', () => {
    expect(deno.name).toBe('@weftmesh/weftmesh');
    expect(deno.version).toBe(pkg.version);
    expect(deno.license).toBe(pkg.license);
  });

  it('exports the entry points of package.json, each mapped to the source of its dist file', () => {
    const npm = Object.entries(pkg.exports).filter(([k]) => k !== './package.json');
    const expected = Object.fromEntries(
      npm.map(([k, v]) => [
        k,
        (typeof v === 'string' ? v : v.default).replace(/^\.\/dist\//, './').replace(/\.js$/, '.ts'),
      ]),
    );
    expect(deno.exports).toEqual(expected);
  });

  it('passes the JSR publish checks (deno publish --dry-run)', async () => {
    // --allow-slow-types: some exported constants have inferred types (JSR accepts that;
    // explicit types would only speed up consumers' type checking).
    const { stdout, stderr } = await sh(
      ROOT,
      join(BIN, 'deno'),
      ['publish', '--dry-run', '--allow-dirty', '--allow-slow-types'],
      { NO_COLOR: '1' },
    );
    expect(`${stdout}${stderr}`).toContain('Dry run complete');
    expect(`${stdout}${stderr}`).not.toMatch(/^warning/m);
  }, 120_000);
});
