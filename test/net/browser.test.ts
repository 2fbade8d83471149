// Chromium pages and Node nodes in one cluster over real WebRTC (loopback only).

import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NodeState } from '../../lib/membership/node-state.ts';
import { type RunningSignalingServer, startSignalingServer } from '../../signaling/node.ts';
import { buildHarness, contextFor, launchChromium } from '../support/chromium.ts';
import { waitFor } from '../support/net.ts';
import { type RtcNode, rtcNode } from '../support/webrtc-node.ts';

const DIR = new URL('../../artifacts/e2e', import.meta.url).pathname;
let server: RunningSignalingServer;
let browser: Browser;
const nodes: RtcNode[] = [];

beforeAll(async () => {
  await buildHarness(DIR);
  server = await startSignalingServer({ port: 0, staticDir: DIR });
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  for (const n of nodes) n.close();
  await browser?.close();
  await server?.close();
});

type View = Array<{ nodeId: string; state: string; runtime?: string }>;
const view = (p: Page): Promise<View> =>
  p.evaluate(() => (window as unknown as { weftmesh: { members(): View } }).weftmesh.members());
const idOf = (p: Page): Promise<string> =>
  p.evaluate(() => (window as unknown as { weftmesh: { nodeId: string } }).weftmesh.nodeId);

describe('browsers and Node nodes in one cluster', () => {
  it('four pages and two Node nodes converge; closing a page is detected by all others', async () => {
    const origin = `http://127.0.0.1:${server.port}`;
    const context = await contextFor(browser, origin);
    const pages: Page[] = [];
    for (let i = 0; i < 4; i++) {
      const page = await context.newPage();
      await page.goto(`${origin}/index.html?cluster=mixed&loopback=1`);
      await page.waitForFunction(() => 'weftmesh' in window);
      pages.push(page);
    }
    for (let i = 0; i < 2; i++) nodes.push(await rtcNode(server.url, 'mixed'));
    const ids = [...(await Promise.all(pages.map(idOf))), ...nodes.map((n) => n.node.nodeId)];
    /** How many of the six each page, then each Node node, sees Active. */
    let seen: number[] = [];
    const everyoneSeesEveryone = async () => {
      const views = await Promise.all(pages.map(view));
      seen = [
        ...views.map(
          (v) => ids.filter((id) => v.some((m) => m.nodeId === id && m.state === 'Active')).length,
        ),
        ...nodes.map((n) => ids.filter((id) => n.node.member(id)?.state === NodeState.Active).length),
      ];
      return seen.every((k) => k === ids.length);
    };
    await waitFor(everyoneSeesEveryone, 30_000, () => `all six Active everywhere (seen: ${seen})`, 100);
    // Chromium's Ed25519 answered the probes as the rule does (a mixed-order key included), so
    // pages verify natively rather than in JavaScript.
    const webCrypto = (p: Page) =>
      p.evaluate(() =>
        (window as unknown as { weftmesh: { webCrypto(): Promise<boolean> } }).weftmesh.webCrypto(),
      );
    expect(await webCrypto(pages[0]!)).toBe(true);
    const underNonPoint = await pages[0]!.evaluate(() =>
      (
        window as unknown as { weftmesh: { verifiesUnderNonPoint(): Promise<boolean> } }
      ).weftmesh.verifiesUnderNonPoint(),
    );
    expect(underNonPoint).toBe(false);
    const runtimes = (await view(pages[0]!)).map((m) => m.runtime).sort();
    expect(runtimes).toEqual(['browser', 'browser', 'browser', 'browser', 'node', 'node']);

    const closing = pages[2]!;
    const closedId = await idOf(closing);
    await closing.close({ runBeforeUnload: true });
    const rest = pages.filter((p) => p !== closing);
    const gone = (s?: string) => s === 'Left' || s === 'Unreachable';
    const everyoneSawItGo = async () => {
      const views = await Promise.all(rest.map(view));
      return (
        views.every((v) => gone(v.find((m) => m.nodeId === closedId)?.state)) &&
        nodes.every((n) => gone(n.node.member(closedId)?.state))
      );
    };
    await waitFor(everyoneSawItGo, 20_000, 'the others to see the closed page Left or Unreachable', 100);
    await context.close();
  }, 90_000);
});
