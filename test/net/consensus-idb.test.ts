// The IndexedDB consensus store in Chromium: the whole browser (every process of it) is
// killed with SIGKILL while the page writes a Raft log (entries, hard state, compactions, a
// strict transaction per flush); after each restart on the same profile the store holds at
// least every flush the page saw acknowledged, its log follows its snapshot without a gap,
// and its hard state, entries and snapshot are those the page wrote.
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
  dir = await mkdtemp(join(tmpdir(), 'weftmesh-raft-idb-'));
  await bundleBrowser(
    new URL('../consensus/idb-harness.ts', import.meta.url).pathname,
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

type Opened = {
  hard: { term: number; vote: string; commit: number };
  snapshot: { index: number; term: number; voters: string[]; data: string };
  entries: Array<{ index: number; term: number; text: string }>;
};
type Api = {
  raftTest: { open(): Promise<Opened>; run(): Promise<void>; acked: { index: number; term: number } };
};

/** The term the page gives entry `i` (entries go in pairs, odd index first). */
const termOf = (i: number) => Math.floor((i % 2 === 1 ? i : i - 1) / 40) + 1;

describe('IndexedDbConsensusStorage in Chromium', () => {
  it('survives SIGKILL of the browser mid-flush twice: every acknowledged flush kept, log and snapshot consistent', async () => {
    const profile = await mkdtemp(join(tmpdir(), 'weftmesh-raft-profile-'));
    let acked = { index: 0, term: 0 };
    try {
      for (let round = 0; round < 3; round++) {
        const { proc, endpoint } = await startChromium(profile);
        const browser = await chromium.connectOverCDP(endpoint);
        const page = await browser.contexts()[0]!.newPage();
        await page.goto(`${origin}/index.html`);
        await page.waitForFunction(() => 'raftTest' in window);
        const o = await page.evaluate(() => (window as unknown as Api).raftTest.open());
        const last = o.entries.at(-1)?.index ?? o.snapshot.index;
        expect(last).toBeGreaterThanOrEqual(acked.index);
        expect(o.hard.commit).toBeGreaterThanOrEqual(acked.index);
        expect(o.hard.term).toBeGreaterThanOrEqual(acked.term);
        expect(o.snapshot.voters).toEqual(['a', 'b', 'c']);
        expect(o.snapshot.data).toBe(o.snapshot.index === 0 ? '' : `image at ${o.snapshot.index}`);
        o.entries.forEach((e, k) => {
          expect(e.index).toBe(o.snapshot.index + 1 + k);
          expect(e).toEqual({ index: e.index, term: termOf(e.index), text: `entry ${e.index}` });
        });
        if (round === 2) {
          expect(last).toBeGreaterThanOrEqual(400);
          expect(o.snapshot.index).toBeGreaterThan(0);
          killGroup(proc);
          await waitFor(() => !groupAlive(proc), 30_000, 'the browser’s processes to end', 20);
          await browser.close().catch(() => undefined);
          break;
        }
        void page.evaluate(() => (window as unknown as Api).raftTest.run()).catch(() => undefined);
        const target = last + 200;
        await waitFor(
          async () => (await page.evaluate(() => (window as unknown as Api).raftTest.acked.index)) >= target,
          60_000,
          `${target} entries acknowledged`,
          20,
        );
        acked = await page.evaluate(() => (window as unknown as Api).raftTest.acked);
        killGroup(proc);
        await waitFor(() => !groupAlive(proc), 30_000, 'the killed browser’s processes to end', 20);
        await browser.close().catch(() => undefined);
      }
    } finally {
      await rm(profile, { recursive: true, force: true });
    }
  }, 240_000);
});
