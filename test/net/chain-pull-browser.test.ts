// A chain pull between two Chromium pages over the browser's own WebRTC (loopback only):
// 4,000 entries of 16 KiB pulled with the defaults (64 answers in flight, streamed 16 to a
// request) arrive whole with no request timing out. With 256 KiB handed to a data channel at
// once, Chromium discarded packets on send and SCTP stalled the association until pull
// requests timed out (6 of 6 bench runs with 64 plain requests in flight); the browser
// high-water mark (BROWSER_HIGH_WATER_MARK) keeps bursts small enough to recover.
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PageRig, pageRig } from '../support/page-rig.ts';

type Cbench = {
  nodeId: string;
  linked(other: string): boolean;
  host(entries: number, payload: number): Promise<{ chainId: string; author: string }>;
  follow(chainId: string, author: string, entries: number): Promise<void>;
  progress(): { doneAt: number; length: number; errors: string[] };
};
type W = { cbench: Cbench };

const ENTRIES = 4_000;
let rig: PageRig;
let context: BrowserContext | undefined;

beforeAll(async () => {
  rig = await pageRig(new URL('../browser/chain-pull-page.ts', import.meta.url).pathname, 2);
}, 60_000);

afterAll(async () => {
  await context?.close();
  await rig?.close();
});

describe('chain pull between Chromium pages', () => {
  it('4,000 entries of 16 KiB, 64 answers in flight, arrive whole with no request timing out', async () => {
    let pages: Page[];
    ({ context, pages } = await rig.open(
      2,
      { cluster: 'pull', chains: JSON.stringify({}), rate: '4000' },
      'cbench',
    ));
    const [host, follower] = pages as [Page, Page];
    const hostId = await host.evaluate(() => (window as unknown as W).cbench.nodeId);
    await follower.waitForFunction((id) => (window as unknown as W).cbench.linked(id), hostId, {
      timeout: 30_000,
    });
    const { chainId, author } = await host.evaluate(
      ([n, size]) => (window as unknown as W).cbench.host(n, size),
      [ENTRIES, 16 * 1024] as const,
    );
    await follower.evaluate(([c, a, n]) => (window as unknown as W).cbench.follow(c, a, n), [
      chainId,
      author,
      ENTRIES,
    ] as const);
    // A stalled association shows as a request timeout (10 s) in the follower's errors.
    await follower.waitForFunction(
      () => {
        const p = (window as unknown as W).cbench.progress();
        return p.doneAt > 0 || p.errors.length > 0;
      },
      undefined,
      { timeout: 60_000, polling: 50 },
    );
    const done = await follower.evaluate(() => (window as unknown as W).cbench.progress());
    expect(done.errors).toEqual([]);
    expect(done.length).toBe(ENTRIES);
  }, 120_000);
});
