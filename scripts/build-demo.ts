/** Builds the browser demo into dist/browser-demo (app.js + the static files), where `weftmesh demo` serves it. */
import { copyFile, mkdir } from 'node:fs/promises';
import { bundleBrowser } from './browser-bundle.ts';

const src = new URL('../browser-demo/', import.meta.url).pathname;
const out = new URL('../dist/browser-demo/', import.meta.url).pathname;

export async function buildDemo(): Promise<void> {
  await mkdir(out, { recursive: true });
  await bundleBrowser(`${src}main.ts`, `${out}app.js`);
  for (const f of ['index.html', 'style.css']) await copyFile(`${src}${f}`, `${out}${f}`);
}
