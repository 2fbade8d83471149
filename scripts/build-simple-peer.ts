/**
 * Builds dist/vendor/simple-peer.browser.js: simple-peer, unchanged, bundled as one ES module
 * for browsers. Its Node-compatibility dependencies (readable-stream, buffer, randombytes,
 * debug, queue-microtask) are replaced by the small browser modules in simple-peer-browser/,
 * so a consumer's bundler needs no polyfills, shims or `global` define, and the WebRTC layer
 * costs ~6 KB gzip instead of ~25 KB. package.json maps `#simple-peer` to this file under the
 * `browser` condition; Node and Deno load the simple-peer package itself.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { build } from 'esbuild';

const require = createRequire(import.meta.url);
const shim = (name: string) => new URL(`./simple-peer-browser/${name}.cjs`, import.meta.url).pathname;
const BROWSER_SIMPLE_PEER = new URL('../dist/vendor/simple-peer.browser.js', import.meta.url).pathname;

/** The bundled packages and their licences, for the file's header. */
function notice(): string {
  const lines = ['simple-peer', 'err-code', 'get-browser-rtc'].map((name) => {
    const pkg = JSON.parse(readFileSync(require.resolve(`${name}/package.json`), 'utf8')) as {
      version: string;
      license: string;
    };
    return ` *   ${name} ${pkg.version} (${pkg.license} licence)`;
  });
  return [
    '/**',
    ' * Built by weftmesh scripts/build-simple-peer.ts from:',
    ...lines,
    ' * with readable-stream, buffer, randombytes, debug and queue-microtask replaced by',
    ' * weftmesh scripts/simple-peer-browser/ (MIT licence).',
    ' */',
  ].join('\n');
}

export async function buildBrowserSimplePeer(): Promise<void> {
  await build({
    entryPoints: [require.resolve('simple-peer')],
    outfile: BROWSER_SIMPLE_PEER,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    alias: {
      'readable-stream': shim('stream'),
      buffer: shim('buffer'),
      randombytes: shim('randombytes'),
      debug: shim('debug'),
      'queue-microtask': shim('queue-microtask'),
    },
    banner: { js: notice() },
    legalComments: 'inline',
    logLevel: 'warning',
  });
}
