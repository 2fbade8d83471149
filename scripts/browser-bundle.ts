/**
 * Bundles a browser entry point with esbuild. simple-peer (through readable-stream) expects
 * Node's Buffer, process and events: the inject file provides the browser packages.
 */
import { build } from 'esbuild';

const inject = new URL('./browser-shims.js', import.meta.url).pathname;

export async function bundleBrowser(entry: string, outfile: string): Promise<void> {
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    sourcemap: true,
    define: { global: 'globalThis' },
    inject: [inject],
    logLevel: 'warning',
  });
}
