/**
 * What the browser benches and tests of several pages over WebRTC start with: a page bundle
 * served from origins of its own (one static server each, so no two pages share a
 * BroadcastChannel and every link is a data channel), a signaling server and Chromium.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { bundleBrowser } from '../../scripts/browser-bundle.ts';
import { startSignalingServer } from '../../signaling/node.ts';
import { staticServer } from './bc-pages.ts';
import { launchChromium } from './chromium.ts';

export interface PageRig {
  readonly browser: Browser;
  /** The signaling server's ws:// URL. */
  readonly signal: string;
  readonly origins: readonly string[];
  /**
   * Opens the page at `origins[i]` for each of the first `n` origins in a fresh context (media
   * permission granted, so candidates are real addresses), with `query`, and waits until each
   * has defined the global `ready`.
   */
  open(
    n: number,
    query: Record<string, string>,
    ready: string,
  ): Promise<{ context: BrowserContext; pages: Page[] }>;
  close(): Promise<void>;
}

/** Bundles `entry` as page.html + page.js, served from `origins` origins (with `headers` on every file). */
export async function pageRig(
  entry: string,
  origins: number,
  headers: Record<string, string> = {},
): Promise<PageRig> {
  const dir = await mkdtemp(join(tmpdir(), 'weftmesh-pages-'));
  await bundleBrowser(entry, join(dir, 'page.js'));
  await writeFile(
    join(dir, 'page.html'),
    '<!doctype html>\n<meta charset="utf-8">\n<script type="module" src="./page.js"></script>\n',
  );
  const files = await Promise.all(Array.from({ length: origins }, () => staticServer(dir, headers)));
  const signaling = await startSignalingServer({ port: 0 });
  const browser = await launchChromium();
  return {
    browser,
    signal: signaling.url,
    origins: files.map((f) => f.origin),
    async open(n, query, ready) {
      const context = await browser.newContext();
      const at = files.slice(0, n).map((f) => f.origin);
      for (const origin of at) await context.grantPermissions(['microphone', 'camera'], { origin });
      const search = new URLSearchParams({ signal: signaling.url, ...query });
      const pages = await Promise.all(
        at.map(async (origin) => {
          const p = await context.newPage();
          await p.goto(`${origin}/page.html?${search}`);
          await p.waitForFunction((name) => name in window, ready);
          return p;
        }),
      );
      return { context, pages };
    },
    async close() {
      await browser.close();
      await signaling.close();
      await Promise.all(files.map((f) => f.close()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}
