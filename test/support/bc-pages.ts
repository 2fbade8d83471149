/**
 * Browser pages for the BroadcastChannel tests and bench: the harness (bc-harness.ts) and its
 * worker built into a directory, a static file server with no signaling at all, and readers
 * of a page's view.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize } from 'node:path';
import type { Page } from 'playwright-core';
import { bundleBrowser } from '../../scripts/browser-bundle.ts';
import type { NodeView } from '../browser/bc-view.ts';

export type { NodeView };

export async function buildBcPages(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  const src = (f: string) => new URL(`../browser/${f}`, import.meta.url).pathname;
  await bundleBrowser(src('bc-harness.ts'), `${dir}/bc-harness.js`);
  await bundleBrowser(src('bc-worker.ts'), `${dir}/bc-worker.js`);
  await writeFile(
    `${dir}/bc.html`,
    '<!doctype html>\n<meta charset="utf-8">\n<title>weftmesh bc node</title>\n<script type="module" src="./bc-harness.js"></script>\n',
  );
}

const TYPES: Record<string, string> = {
  '.html': 'text/html',
  '.js': 'text/javascript',
  '.map': 'application/json',
};

/**
 * Serves `dir` on 127.0.0.1 (a free port): files only, no WebSocket, no signaling. `headers`
 * go on every file (e.g. COOP and COEP, for a cross-origin isolated page whose clock is finer).
 */
export async function staticServer(
  dir: string,
  headers: Record<string, string> = {},
): Promise<{ origin: string; close(): Promise<void> }> {
  const server: Server = createServer(async (req, res) => {
    const path = normalize(new URL(req.url ?? '/', 'http://x').pathname).replace(/^(\.\.[/\\])+/, '');
    try {
      const body = await readFile(join(dir, path));
      res.writeHead(200, { ...headers, 'content-type': TYPES[extname(path)] ?? 'application/octet-stream' });
      res.end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((ok) => {
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
}

type Weftmesh = {
  weftmesh: { view(): NodeView; allActive: Promise<number>; worker(): NodeView | undefined };
};

export const viewOf = (p: Page): Promise<NodeView> =>
  p.evaluate(() => (window as unknown as Weftmesh).weftmesh.view());
/**
 * Waits (≤ limitMs) until every page saw its `expect` members Active, in one call per page
 * (polling would take the main thread of tabs still forming); their views, or undefined.
 */
export async function allActive(pages: Page[], limitMs: number): Promise<NodeView[] | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<false>((ok) => {
    timer = setTimeout(() => ok(false), limitMs);
  });
  const reached = Promise.all(
    pages.map((p) => p.evaluate(() => (window as unknown as Weftmesh).weftmesh.allActive)),
  ).then(() => true as const);
  const done = await Promise.race([reached, late]).finally(() => clearTimeout(timer));
  return done ? Promise.all(pages.map(viewOf)) : undefined;
}
export const workerViewOf = (p: Page): Promise<NodeView | undefined> =>
  p.evaluate(() => (window as unknown as Weftmesh).weftmesh.worker());

/** Opens a node page of `origin` and waits until its node exists. */
export async function openNode(
  context: { newPage(): Promise<Page> },
  origin: string,
  query: string,
): Promise<Page> {
  const page = await context.newPage();
  await page.goto(`${origin}/bc.html?${query}`);
  await page.waitForFunction(() => 'weftmesh' in window);
  return page;
}

/** How many of `ids` the view sees Active (itself included). */
export function activeIn(v: NodeView | undefined, ids: readonly string[]): number {
  if (!v) return 0;
  return ids.filter((id) => v.members.some((m) => m.nodeId === id && m.state === 'Active')).length;
}
