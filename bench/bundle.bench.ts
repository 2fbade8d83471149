/**
 * What weftmesh costs a browser app: esbuild bundles of the built package, imported by name
 * the way a consumer does (through package.json exports, browser conditions), minified and
 * tree-shaken, then gzipped. Prints each bundle's size with a per-package breakdown (minified
 * bytes from the metafile), the largest weftmesh modules, and the npm tarball's size.
 * Run `npm run build` first: this measures dist/, not the sources.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { build, type Metafile } from 'esbuild';
import { fmt, table } from './harness.ts';

const ROOT = new URL('..', import.meta.url).pathname;

/** Entry points, each keeping the named exports alive (a consumer would use them). */
const BUNDLES: Record<string, string> = {
  'core (MeshNode + NodeIdentity)': `export { MeshNode, NodeIdentity } from 'weftmesh';`,
  'core + replicated state + messaging': `export { MeshNode, NodeIdentity, replicatedState, messaging } from 'weftmesh';`,
  'core + WebRTC + signaling client': [
    `export { MeshNode, NodeIdentity } from 'weftmesh';`,
    `export { WebRtcTransport, joinThroughSignaling } from 'weftmesh/webrtc';`,
    `export { SignalingClient } from 'weftmesh/signaling';`,
  ].join('\n'),
  'all: core + state + messaging + WebRTC + signaling client': [
    `export { MeshNode, NodeIdentity, replicatedState, messaging } from 'weftmesh';`,
    `export { WebRtcTransport, joinThroughSignaling } from 'weftmesh/webrtc';`,
    `export { SignalingClient } from 'weftmesh/signaling';`,
  ].join('\n'),
};

export interface BundleSize {
  name: string;
  minified: number;
  gzip: number;
  /** Minified bytes per package ('weftmesh' for the package's own modules). */
  packages: Map<string, number>;
  /** Minified bytes per weftmesh module. */
  modules: Map<string, number>;
  /** Gzip bytes the bundle loses when a package is left out (marked external). */
  marginalGzip: Map<string, number>;
}

/** simple-peer ships inside the package (dist/vendor), imported as `#simple-peer`. */
const VENDORED: Record<string, string> = { 'vendor/simple-peer.browser.js': 'simple-peer (dist/vendor)' };
const VENDORED_SPECIFIER: Record<string, string> = { 'simple-peer (dist/vendor)': '#simple-peer' };

function packageOf(path: string): { pkg: string; module: string } {
  for (const [file, pkg] of Object.entries(VENDORED)) if (path.endsWith(file)) return { pkg, module: path };
  const i = path.lastIndexOf('node_modules/');
  if (i < 0) return { pkg: 'weftmesh', module: path.replace(/^.*?dist\//, '') };
  const rest = path.slice(i + 'node_modules/'.length).split('/');
  const pkg = rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  return { pkg, module: path };
}

function add(map: Map<string, number>, key: string, n: number): void {
  map.set(key, (map.get(key) ?? 0) + n);
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

/** Bundles `entry` minified; `without` names a package left out of it (marked external). */
function bundle(entry: string, appDir: string, without?: string) {
  const specifier = without && (VENDORED_SPECIFIER[without] ?? without);
  return build({
    entryPoints: [entry],
    absWorkingDir: appDir,
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    metafile: true,
    logLevel: 'silent',
    plugins: specifier
      ? [
          {
            name: 'leave-out',
            setup(b) {
              b.onResolve({ filter: new RegExp(`^${escapeRegExp(specifier)}(/|$)`) }, (a) => ({
                path: a.path,
                external: true,
              }));
            },
          },
        ]
      : [],
  });
}

/** Bundles `source` (an app importing weftmesh) from a directory where weftmesh is installed. */
export async function measureBundle(name: string, source: string, appDir: string): Promise<BundleSize> {
  const entry = join(appDir, `${name.replace(/\W+/g, '-')}.js`);
  await writeFile(entry, `${source}\n`);
  const result = await bundle(entry, appDir);
  const out = result.outputFiles[0]!;
  const meta: Metafile = result.metafile;
  const packages = new Map<string, number>();
  const modules = new Map<string, number>();
  for (const output of Object.values(meta.outputs)) {
    for (const [path, { bytesInOutput }] of Object.entries(output.inputs)) {
      const { pkg, module } = packageOf(path);
      add(packages, pkg, bytesInOutput);
      if (pkg === 'weftmesh') add(modules, module, bytesInOutput);
    }
  }
  const gzip = gzipSync(out.contents, { level: 9 }).length;
  const marginalGzip = new Map<string, number>();
  for (const pkg of packages.keys()) {
    if (pkg === 'weftmesh') continue;
    const rest = (await bundle(entry, appDir, pkg)).outputFiles[0]!.contents;
    marginalGzip.set(pkg, gzip - gzipSync(rest, { level: 9 }).length);
  }
  return { name, minified: out.contents.length, gzip, packages, modules, marginalGzip };
}

/** A directory whose node_modules/weftmesh is this package, as `npm install` would link it. */
export async function appWithWeftmesh(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'weftmesh-bundle-'));
  const nm = join(dir, 'node_modules');
  await writeFile(join(dir, 'package.json'), '{"type":"module","private":true}\n');
  await mkdir(nm);
  await symlink(ROOT, join(nm, 'weftmesh'), 'dir');
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

const kb = (n: number) => `${fmt(n / 1024, 1)} KB`;

function tarball(): { size: number; unpacked: number; files: number } {
  const json = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
    cwd: ROOT,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const [info] = JSON.parse(json) as Array<{ size: number; unpackedSize: number; entryCount: number }>;
  return { size: info!.size, unpacked: info!.unpackedSize, files: info!.entryCount };
}

export async function bundleBench(): Promise<void> {
  if (!existsSync(join(ROOT, 'dist/lib/mod.js'))) {
    console.error('bundle bench: dist/ is missing; run `npm run build` first');
    process.exitCode = 1;
    return;
  }
  const app = await appWithWeftmesh();
  try {
    const sizes: BundleSize[] = [];
    for (const [name, source] of Object.entries(BUNDLES))
      sizes.push(await measureBundle(name, source, app.dir));
    table(
      'Browser bundles (esbuild, minified, tree-shaken; gzip -9)',
      ['bundle', 'minified', 'gzip'],
      sizes.map((s) => [s.name, kb(s.minified), kb(s.gzip)]),
    );
    for (const s of sizes) {
      const rows = [...s.packages].sort((a, b) => b[1] - a[1]);
      const own = s.gzip - [...s.marginalGzip.values()].reduce((a, b) => a + b, 0);
      table(
        `${s.name}: per package (gzip: what leaving the package out saves; weftmesh: the rest)`,
        ['package', 'minified', 'share', 'gzip'],
        rows.map(([pkg, n]) => [
          pkg,
          kb(n),
          `${fmt((100 * n) / s.minified)} %`,
          kb(pkg === 'weftmesh' ? own : s.marginalGzip.get(pkg)!),
        ]),
      );
    }
    const full = sizes[sizes.length - 1]!;
    const top = [...full.modules].sort((a, b) => b[1] - a[1]).slice(0, 15);
    table(
      `${full.name}: largest weftmesh modules`,
      ['module', 'minified'],
      top.map(([m, n]) => [m, kb(n)]),
    );
  } finally {
    await app.cleanup();
  }
  const t = tarball();
  table('npm tarball (npm pack)', ['size', 'unpacked', 'files'], [[kb(t.size), kb(t.unpacked), t.files]]);
}
