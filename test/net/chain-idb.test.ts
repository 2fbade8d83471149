// The IndexedDB chain store in Chromium: the whole browser (every process of it) is killed
// with SIGKILL while the page appends; after each restart on the same profile the chain is
// valid, holds at least every append the page saw acknowledged, and keeps its earlier
// entries (the author continues it, never forks it).
import { mkdtemp, rm } from 'node:fs/promises';
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

type Opened = { length: number; hashes: string[]; intact: boolean };
type Api = { chainTest: { open(): Promise<Opened>; run(): Promise<void>; acked: number } };

describe('IndexedDbChainStorage in Chromium', () => {
  it('survives SIGKILL of the browser mid-append three times: no acknowledged entry lost, chain valid, never forked', async () => {
    const profile = await mkdtemp(join(tmpdir(), 'weftmesh-chain-profile-'));
    let acked = 0;
    let hashes: string[] = [];
    try {
      for (let round = 0; round < 4; round++) {
        const { page, kill, stderr } = await rig.start(profile);
        await page.waitForFunction(() => 'chainTest' in window);
        const opened = await page.evaluate(() => (window as unknown as Api).chainTest.open());
        // What the browser logged tells a storage it found corrupt (and reset) from a lost write.
        const context = `start ${round + 1}, browser stderr:\n${stderr()}`;
        expect(opened.intact, context).toBe(true);
        expect(opened.length, context).toBeGreaterThanOrEqual(acked);
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
        await kill();
      }
      expect(hashes.length).toBeGreaterThanOrEqual(600);
    } finally {
      await rm(profile, { recursive: true, force: true });
    }
  }, 240_000);
});
