// Documented code is tested code (issue 11): every TypeScript/JavaScript block of README.md
// and docs/*.md is type-checked, strictly, against the built package as a consumer imports
// it (the packed tarball installed into a fresh project: `weftmesh`, `weftmesh/webrtc`, …
// through the package's exports map, to dist/). The
// README's web, Node and Deno examples also run as written: test/net/docs-snippets.test.ts.
// Needs the build (`npm test` runs it first). See test/support/snippets.ts for the markers.

import { existsSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { dirname, join, normalize } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, installConsumer, type Packed, packWeftmesh, ROOT, sh } from '../support/packed.ts';
import { documents, type Snippet, snippets } from '../support/snippets.ts';

const DENO = join(BIN, 'deno');
/** A fragment continues an example above: what that example defined. */
const FRAGMENT_CONTEXT = "\nimport type { MeshNode } from 'weftmesh';\ndeclare const node: MeshNode;\n";

const STRICT = {
  strict: true,
  exactOptionalPropertyTypes: true,
  noUncheckedIndexedAccess: true,
  noImplicitOverride: true,
  // The package's own declarations are checked with skipLibCheck: false in
  // package-exports.test.ts; here the documents are under test.
  skipLibCheck: true,
  allowJs: true,
  checkJs: true,
  target: 'ES2022',
  noEmit: true,
};

const all = snippets();
let packed: Packed;
let dir: string;

beforeAll(async () => {
  // A consumer project with the packed package installed, as a user has it.
  packed = await packWeftmesh();
  const files = Object.fromEntries(
    all.map((s) => [s.name, s.kind === 'fragment' ? s.code + FRAGMENT_CONTEXT : s.code]),
  );
  dir = await installConsumer(packed, 'snippets', files, ['@types/node']);
}, 180_000);

afterAll(async () => {
  await packed?.cleanup();
});

/** Compiler/checker output with file positions turned into document positions. */
function located(output: string): string {
  return output.replace(
    /([\w.]+_L(\d+)\.[jt]s)(?:\((\d+),(\d+)\)|:(\d+):(\d+))/g,
    (_m, name, at, l1, c1, l2, c2) => {
      const s = all.find((x) => x.name === name);
      const line = Number(l1 ?? l2);
      const col = c1 ?? c2;
      return s ? `${s.doc}:${Number(at) + line - 1}:${col}` : name;
    },
  );
}

async function tsc(name: string, files: Snippet[], options: Record<string, unknown>): Promise<string> {
  if (files.length === 0) return '';
  const config = join(dir, `tsconfig.${name}.json`);
  await writeFile(
    config,
    JSON.stringify({ compilerOptions: { ...STRICT, ...options }, files: files.map((s) => s.name) }),
  );
  try {
    await sh(dir, join(BIN, 'tsc'), ['-p', config, '--pretty', 'false']);
    return '';
  } catch (e) {
    return located((e as Error).message);
  }
}

describe('code blocks of the README and docs/', () => {
  it('the README has its web, Node and Deno examples, marked as such', () => {
    const readme = all.filter((s) => s.doc === 'README.md');
    for (const kind of ['web', 'node', 'deno'] as const)
      expect(readme.filter((s) => s.kind === kind).length, kind).toBe(1);
    // Exceptions stay rare: fragments are the only blocks not checked as whole programs.
    expect(all.filter((s) => s.kind === 'fragment').length).toBeLessThanOrEqual(2);
  });

  it('browser blocks type-check with DOM types only (no @types/node)', async () => {
    const web = all.filter((s) => s.kind === 'web');
    const errors = await tsc('web', web, {
      module: 'esnext',
      moduleResolution: 'bundler',
      lib: ['ES2022', 'DOM', 'DOM.Iterable'],
      types: [],
    });
    expect(errors).toBe('');
  }, 120_000);

  it('Node blocks, whole modules and fragments type-check (Node16 resolution, Node and DOM types)', async () => {
    const rest = all.filter((s) => s.kind === 'node' || s.kind === 'module' || s.kind === 'fragment');
    const errors = await tsc('node', rest, {
      module: 'nodenext',
      moduleResolution: 'nodenext',
      lib: ['ES2022', 'DOM', 'DOM.Iterable'],
      types: ['node'],
    });
    expect(errors).toBe('');
  }, 120_000);

  it('Deno blocks pass deno check', async () => {
    const deno = all.filter((s) => s.kind === 'deno');
    let errors = '';
    try {
      await sh(dir, DENO, ['check', '--quiet', ...deno.map((s) => s.name)], { NO_COLOR: '1' });
    } catch (e) {
      errors = located((e as Error).message);
    }
    expect(errors).toBe('');
  }, 120_000);

  it('the documents the README links to ship in the package', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const linked = [...readme.matchAll(/\]\(([^)#\s:]+\.md)(?:#[^)]*)?\)/g)].map((m) => normalize(m[1]!));
    expect(linked).toContain('docs/ARCHITECTURE.md');
    expect(linked.filter((f) => !packed.files.includes(f))).toEqual([]);
  });

  it('relative links in the README and docs/ point to files in the repository', () => {
    const broken: string[] = [];
    for (const doc of documents()) {
      const text = readFileSync(join(ROOT, doc), 'utf8');
      for (const m of text.matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)) {
        const target = m[1]!;
        if (/^[a-z]+:/.test(target)) continue; // https:, mailto:
        const path = normalize(join(dirname(doc), target));
        if (path.startsWith('..') || !existsSync(join(ROOT, path))) broken.push(`${doc}: ${target}`);
      }
    }
    expect(broken).toEqual([]);
  });
});
