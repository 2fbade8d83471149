// The IndexedDB chain store in Chromium: the whole browser (every process of it) is killed
// with SIGKILL while the page appends; after each restart on the same profile the chain is
// valid, holds at least every append the page saw acknowledged, and keeps its earlier
// entries (the author continues it, never forks it).
//
// Except when Chromium itself finds its LevelDB files corrupt on reopen: it then deletes the
// origin's whole database and logs "IndexedDB recovering from a corrupted (and deleted)
// database" (2 of 15 runs here). No page can keep that data; what the chain must then do is
// refuse to append (needs-resync) rather than start a second chain under the same id.
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CrashRig, crashRig } from '../support/killable-chromium.ts';
import { waitFor } from '../support/net.ts';

let rig: CrashRig;
beforeAll(async () => {
  rig = await crashRig(new URL('../browser/chain-harness.ts', import.meta.url).pathname);
}, 60_000);
afterAll(() => rig?.close());

type Opened = { length: number; hashes: string[]; intact: boolean; needsResync: boolean; lost: boolean };
type Api = {
  chainTest: {
    open(create?: boolean): Promise<Opened>;
    run(): Promise<void>;
    reset(): Promise<void>;
    faultOnFirstAppend(): Promise<{ error: string; length: number; reopened: number; lost: boolean }>;
    concurrentFirstAppends(): Promise<{
      lost: boolean;
      lengths: number[];
      marksAtAck: unknown[];
      mark: unknown;
    }>;
    acked: number;
  };
};

/** What Chromium logs when it deleted an IndexedDB database it found corrupt. */
const DELETED_CORRUPT = 'IndexedDB recovering from a corrupted (and deleted) database';

describe('IndexedDbChainStorage in Chromium', () => {
  it('survives SIGKILL of the browser mid-append three times: no acknowledged entry lost, chain valid, never forked; a database Chromium deleted as corrupt leaves the author refusing to append', async () => {
    const profile = await mkdtemp(join(tmpdir(), 'weftmesh-chain-profile-'));
    let acked = 0;
    let hashes: string[] = [];
    /** Entries found again after a kill, and restarts on which Chromium had deleted the database. */
    let kept = 0;
    let wiped = 0;
    try {
      for (let round = 0; round < 4; round++) {
        const { page, kill, stderr } = await rig.start(profile);
        await page.waitForFunction(() => 'chainTest' in window);
        let opened = await page.evaluate(() => (window as unknown as Api).chainTest.open());
        // What the browser logged tells a storage it found corrupt (and reset) from a lost write.
        const context = `start ${round + 1}, browser stderr:\n${stderr()}`;
        expect(opened.intact, context).toBe(true);
        if (round === 0 || stderr().includes(DELETED_CORRUPT)) {
          // A new chain, or Chromium deleted the database: the author must not append on its own.
          expect(opened.length, context).toBe(0);
          expect(opened.needsResync, context).toBe(true);
          expect(opened.lost, context).toBe(round > 0);
          if (round > 0) {
            wiped++;
            await page.evaluate(() => (window as unknown as Api).chainTest.reset());
          }
          opened = await page.evaluate(() => (window as unknown as Api).chainTest.open(true));
          acked = 0;
          hashes = [];
        } else {
          expect(opened.needsResync, context).toBe(false);
          expect(opened.length, context).toBeGreaterThanOrEqual(acked);
          expect(opened.hashes.slice(0, hashes.length)).toEqual(hashes);
          kept += opened.length;
        }
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
        await kill();
      }
      // Three restarts after a kill: at least one found its appends (wiped twice in 15 runs here, never thrice).
      expect(wiped).toBeLessThan(3);
      expect(kept).toBeGreaterThanOrEqual(200);
    } finally {
      await rm(profile, { recursive: true, force: true });
    }
  }, 240_000);

  it("a new store's first append that fails (its id's write refused) stores nothing: the next append is taken at the same sequence; first appends of two chains at once are acknowledged only once the store's mark is written", async () => {
    const profile = await mkdtemp(join(tmpdir(), 'weftmesh-chain-profile-'));
    try {
      const { page, kill } = await rig.start(profile);
      await page.waitForFunction(() => 'chainTest' in window);
      const r = await page.evaluate(() => (window as unknown as Api).chainTest.faultOnFirstAppend());
      expect(r.error).toMatch(/injected fault/);
      expect(r).toMatchObject({ length: 1, reopened: 1, lost: false });
      // Two chains' first appends at once: each acknowledged only once the store's mark is
      // written (an append acknowledged before would be lost unnoticed with the database);
      // reopened, the store is not lost and holds both.
      for (let i = 0; i < 5; i++) {
        const c = await page.evaluate(() => (window as unknown as Api).chainTest.concurrentFirstAppends());
        expect(c.mark).toMatch(/^[0-9a-f]{32}$/);
        expect(c).toEqual({ lost: false, lengths: [1, 1], marksAtAck: [c.mark, c.mark], mark: c.mark });
      }
      await kill();
    } finally {
      await rm(profile, { recursive: true, force: true });
    }
  }, 60_000);

  it('a database Chromium finds corrupt after a kill is deleted by Chromium: the store says it is lost, and the author refuses to append (needs-resync) even with create, until reset', async () => {
    const profile = await mkdtemp(join(tmpdir(), 'weftmesh-chain-profile-'));
    try {
      const first = await rig.start(profile);
      await first.page.waitForFunction(() => 'chainTest' in window);
      await first.page.evaluate(() => (window as unknown as Api).chainTest.open(true));
      void first.page.evaluate(() => (window as unknown as Api).chainTest.run()).catch(() => undefined);
      await waitFor(
        async () => (await first.page.evaluate(() => (window as unknown as Api).chainTest.acked)) >= 100,
        60_000,
        '100 entries acknowledged',
        20,
      );
      await first.kill();
      // Damage the live manifest (the file LevelDB's CURRENT names), as a torn write would.
      const dir = join(profile, 'Default', 'IndexedDB');
      const db = join(dir, (await readdir(dir)).find((f) => f.endsWith('.indexeddb.leveldb'))!);
      const manifest = (await readFile(join(db, 'CURRENT'), 'utf8')).trim();
      await writeFile(join(db, manifest), new Uint8Array(64).fill(0x5a));
      const second = await rig.start(profile);
      await second.page.waitForFunction(() => 'chainTest' in window);
      const opened = await second.page.evaluate(() => (window as unknown as Api).chainTest.open());
      const context = `browser stderr:\n${second.stderr()}`;
      expect(second.stderr(), context).toContain(DELETED_CORRUPT);
      expect(opened, context).toMatchObject({ length: 0, needsResync: true, lost: true });
      // `create` does not make a second chain on a lost store; after reset() (no replica has it) it does.
      const creating = () => second.page.evaluate(() => (window as unknown as Api).chainTest.open(true));
      expect(await creating()).toMatchObject({ length: 0, needsResync: true, lost: true });
      await second.page.evaluate(() => (window as unknown as Api).chainTest.reset());
      expect(await creating()).toMatchObject({ length: 0, needsResync: false, lost: false });
      await second.kill();
    } finally {
      await rm(profile, { recursive: true, force: true });
    }
  }, 120_000);
});
