/**
 * Bundles a browser entry point with esbuild, as a consumer's bundler would: no shims or
 * defines (package.json maps simple-peer to its self-contained browser build).
 */
import { build } from 'esbuild';

export async function bundleBrowser(entry: string, outfile: string): Promise<void> {
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    sourcemap: true,
    logLevel: 'warning',
  });
}
