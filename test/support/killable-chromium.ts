/**
 * Crash tests of browser storage: a harness page bundled and served on loopback, and
 * Chromium started in a process group of its own on a given profile, so that a test can
 * SIGKILL the whole browser mid-write (every process: a storage process still holding the
 * database's lock would make the next start find it unreadable) and start it again on the
 * same profile.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Page } from 'playwright-core';
import { bundleBrowser } from '../../scripts/browser-bundle.ts';
import { waitFor } from './net.ts';

const BINARY = '/usr/lib/chromium/chromium';

export interface KillableBrowser {
  /** The harness page, loaded. */
  page: Page;
  /** SIGKILLs every process of the browser and waits until all are gone. */
  kill(): Promise<void>;
  /** The end of what the browser wrote to stderr (its storage errors, for a failing assertion). */
  stderr(): string;
}

export interface CrashRig {
  /** Starts Chromium on `profile` (a directory kept between starts) with the harness page open. */
  start(profile: string): Promise<KillableBrowser>;
  /** Kills every browser still running, stops the server, removes the bundle. */
  close(): Promise<void>;
}

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
async function startChromium(
  profile: string,
  browsers: Set<ChildProcess>,
): Promise<{ proc: ChildProcess; endpoint: string; stderr: () => string }> {
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
      err = (err + d.toString()).slice(-8_192);
      const m = /DevTools listening on (ws:\/\/\S+)/.exec(err);
      if (m) {
        clearTimeout(timer);
        ok(m[1]!);
      }
    });
  });
  return { proc, endpoint, stderr: () => err.slice(-2_048) };
}

/** Bundles `harness` (a page script path) and serves it on 127.0.0.1. */
export async function crashRig(harness: string): Promise<CrashRig> {
  const dir = await mkdtemp(join(tmpdir(), 'weftmesh-crash-rig-'));
  await bundleBrowser(harness, join(dir, 'harness.js'));
  await writeFile(
    join(dir, 'index.html'),
    '<!doctype html><meta charset="utf-8"><script type="module" src="./harness.js"></script>',
  );
  const server = createServer(async (req, res) => {
    const name = req.url === '/harness.js' ? 'harness.js' : 'index.html';
    res.writeHead(200, { 'content-type': name.endsWith('.js') ? 'text/javascript' : 'text/html' });
    res.end(await readFile(join(dir, name)));
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const origin = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  const browsers = new Set<ChildProcess>();
  return {
    async start(profile) {
      const { proc, endpoint, stderr } = await startChromium(profile, browsers);
      const browser = await chromium.connectOverCDP(endpoint);
      const page = await browser.contexts()[0]!.newPage();
      await page.goto(`${origin}/index.html`);
      return {
        page,
        stderr,
        async kill() {
          killGroup(proc);
          await waitFor(() => !groupAlive(proc), 30_000, 'the killed browser’s processes to end', 20);
          await browser.close().catch(() => undefined);
        },
      };
    },
    async close() {
      for (const b of browsers) killGroup(b);
      await new Promise((ok) => server.close(ok));
      await rm(dir, { recursive: true, force: true });
    },
  };
}
