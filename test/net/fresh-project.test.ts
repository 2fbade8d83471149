// Zero-config in bundlers (issue 11, item 2): a fresh Vite app and a fresh esbuild app install
// the packed tarball, import weftmesh, weftmesh/webrtc and weftmesh/signaling, and build with
// no configuration, shims or extra packages; two Chromium pages of each become Active members
// of one cluster over WebRTC (loopback only), with nothing on the console.

import { copyFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contextFor, launchChromium } from '../support/chromium.ts';
import { waitFor } from '../support/net.ts';
import { BIN, installConsumer, type Packed, packWeftmesh, sh } from '../support/packed.ts';

/** The app, as a user would write it (no top-level await: any build target takes it). */
const MAIN = `
import { MeshNode, NodeIdentity } from 'weftmesh';
import { joinThroughSignaling, WebRtcTransport } from 'weftmesh/webrtc';
import { SignalingClient } from 'weftmesh/signaling';

const cluster = new URLSearchParams(location.search).get('cluster') ?? 'fresh';
const identity = NodeIdentity.generate();
const signaling = new SignalingClient({ url: \`ws://\${location.host}\`, identity, room: cluster });
// Tests keep WebRTC on loopback (RUNTIME-NOTES); an app would pass its STUN/TURN servers.
const transport = new WebRtcTransport({ signaling, candidateFilter: (c) => / (127\\.0\\.0\\.1|::1) /.test(c) });
const node = new MeshNode({ identity, cluster, transport });
window.weftmesh = {
  nodeId: node.nodeId,
  members: () => node.members().map((m) => ({ nodeId: m.nodeId, state: m.state })),
};
node.start().then(() => {
  joinThroughSignaling(node, signaling);
  signaling.start();
});
`;
const HTML = (src: string) =>
  // (no favicon request: its 404 would be the one console error)
  `<!doctype html>\n<meta charset="utf-8">\n<link rel="icon" href="data:,">\n<title>fresh app</title>\n<script type="module" src="${src}"></script>\n`;

type Server = { port: number; close(): Promise<void> };
type View = Array<{ nodeId: string; state: string }>;

let packed: Packed;
let browser: Browser;
const servers: Server[] = [];

beforeAll(async () => {
  packed = await packWeftmesh();
  browser = await launchChromium();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  for (const s of servers) await s.close();
  await packed?.cleanup();
});

/** Serves `dir` with the signaling server of the installed package itself. */
async function serve(app: string, dir: string): Promise<Server> {
  const mod = (await import(join(app, 'node_modules/weftmesh/dist/signaling/node.js'))) as {
    startSignalingServer(o: { port: number; host?: string; staticDir: string }): Promise<Server>;
  };
  const server = await mod.startSignalingServer({ port: 0, host: '127.0.0.1', staticDir: dir });
  servers.push(server);
  return server;
}

/** Opens two pages of the app and waits (bounded) until each sees both nodes Active, or one logs a problem. */
async function twoPagesActive(port: number, cluster: string): Promise<{ ok: boolean; console: string[] }> {
  const origin = `http://127.0.0.1:${port}`;
  const context = await contextFor(browser, origin);
  const messages: string[] = [];
  const pages: Page[] = [];
  try {
    for (let i = 0; i < 2; i++) {
      const page = await context.newPage();
      page.on('pageerror', (e) => messages.push(`pageerror: ${e.message}`));
      page.on('console', (m) => {
        if (m.type() === 'error' || m.type() === 'warning') messages.push(`${m.type()}: ${m.text()}`);
      });
      await page.goto(`${origin}/index.html?cluster=${cluster}`);
      pages.push(page);
    }
    const bothActive = async () => {
      const views = await Promise.all(
        pages.map((p) =>
          p.evaluate(() => {
            const w = window as unknown as { weftmesh?: { members(): View } };
            return w.weftmesh?.members() ?? [];
          }),
        ),
      );
      return views.every((v) => v.length === 2 && v.every((m) => m.state === 'Active'));
    };
    let ok = false;
    const done = async () => {
      ok = await bothActive();
      return ok || messages.length > 0; // a console message: the caller's assertion shows it
    };
    await waitFor(done, 30_000, 'both pages Active', 100);
    return { ok, console: messages };
  } finally {
    await context.close();
  }
}

describe('a fresh app installing the packed package', () => {
  it('Vite: builds with no configuration, and two pages become Active members', async () => {
    const app = await installConsumer(packed, 'vite-app', {
      'index.html': HTML('/main.js'),
      'main.js': MAIN,
    });
    const { stdout, stderr } = await sh(app, join(BIN, 'vite'), ['build', '--logLevel', 'warn']);
    expect(`${stdout}${stderr}`).toBe('');
    const server = await serve(app, join(app, 'dist'));
    expect(await twoPagesActive(server.port, 'vite')).toEqual({ ok: true, console: [] });
  }, 120_000);

  it('esbuild: bundles with no flags but --bundle, and two pages become Active members', async () => {
    const app = await installConsumer(packed, 'esbuild-app', {
      'index.html': HTML('./main.js'),
      'main.js': MAIN,
    });
    const out = join(app, 'out');
    await mkdir(out);
    const { stderr } = await sh(app, join(BIN, 'esbuild'), [
      'main.js',
      '--bundle',
      `--outfile=${out}/main.js`,
    ]);
    expect(stderr).not.toMatch(/warning|error/i);
    await copyFile(join(app, 'index.html'), join(out, 'index.html'));
    const server = await serve(app, out);
    expect(await twoPagesActive(server.port, 'esbuild')).toEqual({ ok: true, console: [] });
  }, 120_000);
});
