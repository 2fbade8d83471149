// The IndexedDB consensus store in Chromium: the whole browser (every process of it) is
// killed with SIGKILL while the page writes a Raft log (entries, hard state, compactions, a
// strict transaction per flush); after each restart on the same profile the store holds at
// least every flush the page saw acknowledged, its log follows its snapshot without a gap,
// and its hard state, entries and snapshot are those the page wrote.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
        const { page, kill, stderr } = await rig.start(profile);
        await page.waitForFunction(() => 'raftTest' in window);
        const o = await page.evaluate(() => (window as unknown as Api).raftTest.open());
        const last = o.entries.at(-1)?.index ?? o.snapshot.index;
        // What the browser logged tells a storage it found corrupt (and reset) from a lost write.
        const context = `start ${round + 1}, browser stderr:\n${stderr()}`;
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
          expect(last).toBeGreaterThanOrEqual(400);
          expect(o.snapshot.index).toBeGreaterThan(0);
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
        await kill();
      }
    } finally {
      await rm(profile, { recursive: true, force: true });
    }
  }, 240_000);
});
