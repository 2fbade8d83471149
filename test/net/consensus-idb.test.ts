// The IndexedDB consensus store in Chromium: the whole browser (every process of it) is
// killed with SIGKILL while the page writes a Raft log (entries, hard state, compactions, a
// strict transaction per flush); after each restart on the same profile the store holds at
// least every flush the page saw acknowledged, its log follows its snapshot without a gap,
// and its hard state, entries and snapshot are those the page wrote. When Chromium itself
// deletes the database, finding its files corrupt (it logs so; see chain-idb.test.ts), the
// store must refuse to open as new (`storage-lost`): the voter may have voted.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CrashRig, crashRig } from '../support/killable-chromium.ts';
import { waitFor } from '../support/net.ts';

let rig: CrashRig;
beforeAll(async () => {
  rig = await crashRig(new URL('../consensus/idb-harness.ts', import.meta.url).pathname);
}, 60_000);
afterAll(() => rig?.close());

type Opened = {
  hard: { term: number; vote: string; commit: number };
  snapshot: { index: number; term: number; voters: string[]; data: string };
  entries: Array<{ index: number; term: number; text: string }>;
};
type Api = {
  raftTest: {
    open(voters?: string[]): Promise<Opened | { refused: string }>;
    termAndClose(term: number): Promise<void>;
    run(): Promise<void>;
    acked: { index: number; term: number };
    dropDatabase(): Promise<void>;
    reset(): Promise<void>;
  };
};

/** What Chromium logs when it deleted an IndexedDB database it found corrupt. */
const DELETED_CORRUPT = 'IndexedDB recovering from a corrupted (and deleted) database';
const open = (p: Page) => p.evaluate(() => (window as unknown as Api).raftTest.open());

/** The term the page gives entry `i` (entries go in pairs, odd index first). */
const termOf = (i: number) => Math.floor((i % 2 === 1 ? i : i - 1) / 40) + 1;

describe('IndexedDbConsensusStorage in Chromium', () => {
  it('survives SIGKILL of the browser mid-flush twice: every acknowledged flush kept, log and snapshot consistent', async () => {
    const profile = await mkdtemp(join(tmpdir(), 'weftmesh-raft-profile-'));
    let acked = { index: 0, term: 0 };
    /** Runs since the store was made (Chromium may delete it, see above). */
    let runs = 0;
    try {
      for (let round = 0; round < 3; round++) {
        const { page, kill, stderr } = await rig.start(profile);
        await page.waitForFunction(() => 'raftTest' in window);
        let opened = await open(page);
        // What the browser logged tells a storage it found corrupt (and reset) from a lost write.
        const context = `start ${round + 1}, browser stderr:\n${stderr()}`;
        if (stderr().includes(DELETED_CORRUPT)) {
          expect(opened, context).toEqual({ refused: 'storage-lost' });
          await page.evaluate(() => (window as unknown as Api).raftTest.reset());
          opened = await open(page);
          acked = { index: 0, term: 0 };
          runs = 0;
        }
        if ('refused' in opened) throw new Error(`refused: ${opened.refused}; ${context}`);
        const o = opened;
        const last = o.entries.at(-1)?.index ?? o.snapshot.index;
        expect(last, context).toBeGreaterThanOrEqual(acked.index);
        expect(o.hard.commit, context).toBeGreaterThanOrEqual(acked.index);
        expect(o.hard.term, context).toBeGreaterThanOrEqual(acked.term);
        expect(o.snapshot.voters).toEqual(['a', 'b', 'c']);
        expect(o.snapshot.data).toBe(o.snapshot.index === 0 ? '' : `image at ${o.snapshot.index}`);
        o.entries.forEach((e, k) => {
          expect(e.index).toBe(o.snapshot.index + 1 + k);
          expect(e).toEqual({ index: e.index, term: termOf(e.index), text: `entry ${e.index}` });
        });
        if (round === 2) {
          expect(last).toBeGreaterThanOrEqual(200 * runs);
          if (runs > 0) expect(o.snapshot.index).toBeGreaterThan(0);
          await kill();
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
        runs++;
        await kill();
      }
    } finally {
      await rm(profile, { recursive: true, force: true });
    }
  }, 240_000);

  it('a store whose database is gone while its mark stays is refused (storage-lost) until reset: a voter never comes back as new', async () => {
    const profile = await mkdtemp(join(tmpdir(), 'weftmesh-raft-profile-'));
    try {
      const { page, kill } = await rig.start(profile);
      await page.waitForFunction(() => 'raftTest' in window);
      const made = await open(page);
      expect('refused' in made).toBe(false);
      await page.evaluate(() => (window as unknown as Api).raftTest.dropDatabase());
      expect(await open(page)).toEqual({ refused: 'storage-lost' });
      await kill();
      // Still refused after a restart (the mark is outside IndexedDB), and new after reset().
      const again = await rig.start(profile);
      await again.page.waitForFunction(() => 'raftTest' in window);
      expect(await open(again.page)).toEqual({ refused: 'storage-lost' });
      await again.page.evaluate(() => (window as unknown as Api).raftTest.reset());
      const fresh = await open(again.page);
      expect(fresh).toMatchObject({ hard: { term: 0, commit: 0 }, snapshot: { voters: ['a', 'b', 'c'] } });
      await again.kill();
    } finally {
      await rm(profile, { recursive: true, force: true });
    }
  }, 120_000);
  it('a store opened first without voters (a node the leader adds) opens again with voters given: they are ignored, as the file store does', async () => {
    const profile = await mkdtemp(join(tmpdir(), 'weftmesh-raft-profile-'));
    try {
      const { page, kill } = await rig.start(profile);
      await page.waitForFunction(() => 'raftTest' in window);
      expect(await page.evaluate(() => (window as unknown as Api).raftTest.open([]))).toMatchObject({
        snapshot: { voters: [] },
      });
      await page.evaluate(() => (window as unknown as Api).raftTest.termAndClose(3));
      const again = await page.evaluate(() => (window as unknown as Api).raftTest.open(['a', 'b', 'c']));
      expect(again).toMatchObject({ hard: { term: 3 }, snapshot: { voters: [] } });
      await kill();
    } finally {
      await rm(profile, { recursive: true, force: true });
    }
  }, 120_000);
});
