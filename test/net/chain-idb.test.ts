// The IndexedDB chain store in Chromium: the whole browser (every process of it) is killed
// with SIGKILL while the page appends; after each restart on the same profile the chain is
// valid, holds at least every append the page saw acknowledged, and keeps its earlier
// entries (the author continues it, never forks it).
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleBrowser } from '../../scripts/browser-bundle.ts';
import { waitFor } from '../support/net.ts';

const BINARY = '/usr/lib/chromium/chromium';
let dir: string;
let server: Server;
let origin: string;
const browsers = new Set<ChildProcess>();

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'weftmesh-chain-idb-'));
  await bundleBrowser(
    new URL('../browser/chain-harness.ts', import.meta.url).pathname,
    join(dir, 'harness.js'),
  );
  await writeFile(
    join(dir, 'index.html'),
    '<!doctype html><meta charset="utf-8"><script type="module" src="./harness.js"></script>',
  );
  server = createServer(async (req, res) => {
    const name = req.url === '/harness.js' ? 'harness.js' : 'index.html';
    res.writeHead(200, { 'content-type': name.endsWith('.js') ? 'text/javascript' : 'text/html' });
    res.end(await readFile(join(dir, name)));
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  origin = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
}, 60_000);

afterAll(async () => {
  for (const b of browsers) killGroup(b);
  await new Promise((ok) => server?.close(ok));
  await rm(dir, { recursive: true, force: true });
});

function killGroup(p: ChildProcess): void {
  try {
    process.kill(-p.pid!, 'SIGKILL');
  } catch {
    // ESRCH: already gone
  }
}

function groupAlive(p: ChildProcess): boolean {
  try {
    process.kill(-p.pid!, 0);
    return true;
  } catch {
    return false;
  }
}

/** Chromium in a process group of its own, with a DevTools endpoint to drive it by. */
async function startChromium(profile: string): Promise<{ proc: ChildProcess; endpoint: string }> {
  const proc = spawn(
    BINARY,
    [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--remote-debugging-address=127.0.0.1',
      '--remote-debugging-port=0',
      `--user-data-dir=${profile}`,
      'about:blank',
    ],
    { detached: true, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  browsers.add(proc);
  proc.once('exit', () => browsers.delete(proc));
  let err = '';
  const endpoint = await new Promise<string>((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`no DevTools endpoint: ${err}`)), 30_000);
    proc.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      const m = /DevTools listening on (ws:\/\/\S+)/.exec(err);
      if (m) {
        clearTimeout(timer);
        ok(m[1]!);
      }
    });
  });
  return { proc, endpoint };
}

type Opened = { length: number; hashes: string[]; intact: boolean };
type Api = { chainTest: { open(): Promise<Opened>; run(): Promise<void>; acked: number } };

describe('IndexedDbChainStorage in Chromium', () => {
  it('survives SIGKILL of the browser mid-append three times: no acknowledged entry lost, chain valid, never forked', async () => {
    const profile = await mkdtemp(join(tmpdir(), 'weftmesh-chain-profile-'));
    let acked = 0;
    let hashes: string[] = [];
    try {
      for (let round = 0; round < 4; round++) {
        const { proc, endpoint } = await startChromium(profile);
        const browser = await chromium.connectOverCDP(endpoint);
        const page = await browser.contexts()[0]!.newPage();
        await page.goto(`${origin}/index.html`);
        await page.waitForFunction(() => 'chainTest' in window);
        const opened = await page.evaluate(() => (window as unknown as Api).chainTest.open());
        expect(opened.intact).toBe(true);
        expect(opened.length).toBeGreaterThanOrEqual(acked);
        expect(opened.hashes.slice(0, hashes.length)).toEqual(hashes);
        hashes = opened.hashes;
        if (round === 3) break;
        void page.evaluate(() => (window as unknown as Api).chainTest.run()).catch(() => undefined);
        const target = opened.length + 200;
        await waitFor(
          async () => (await page.evaluate(() => (window as unknown as Api).chainTest.acked)) >= target,
          60_000,
          `${target} entries acknowledged`,
          20,
        );
        acked = await page.evaluate(() => (window as unknown as Api).chainTest.acked);
        killGroup(proc);
        // Every process of the group gone (a storage process still holding the database's
        // lock would make the next start open it as unreadable).
        await waitFor(() => !groupAlive(proc), 30_000, 'the killed browser’s processes to end', 20);
        await browser.close().catch(() => undefined);
      }
      expect(hashes.length).toBeGreaterThanOrEqual(600);
    } finally {
      await rm(profile, { recursive: true, force: true });
    }
  }, 240_000);
});
