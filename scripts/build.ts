/**
 * The build after `tsc`: removes outputs whose source is gone (so a tarball never ships stale
 * modules), bundles simple-peer for browsers (dist/vendor) and builds the demo.
 */
import { existsSync } from 'node:fs';
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { buildDemo } from './build-demo.ts';
import { buildBrowserSimplePeer } from './build-simple-peer.ts';

const ROOT = new URL('..', import.meta.url).pathname;

/** dist/<dir>/x.js, .d.ts and .js.map without <dir>/x.ts. */
async function pruneStale(dir: string): Promise<void> {
  for (const entry of await readdir(join(ROOT, 'dist', dir), { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const out = join(entry.parentPath, entry.name);
    const source = out.replace(join(ROOT, 'dist'), ROOT).replace(/(\.d\.ts|\.js\.map|\.js)$/, '.ts');
    if (source !== out && !existsSync(source)) await rm(out);
  }
}

for (const dir of ['lib', 'signaling', 'cli']) await pruneStale(dir);
await buildBrowserSimplePeer();
await buildDemo();
