// Chromium tabs and workers linked over BroadcastChannel (loopback namespace): a cluster of tabs
// with no server at all; a mixed cluster (tabs of two browser profiles and a Node node) with
// BroadcastChannel inside a profile and WebRTC otherwise; crash, freeze and close detection;
// worker nodes; a background tab with throttled timers kept Active.

import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NodeState } from '../../lib/membership/node-state.ts';
import { type RunningSignalingServer, startSignalingServer } from '../../signaling/node.ts';
import {
  activeIn,
  buildBcPages,
  type NodeView,
  openNode,
  staticServer,
  viewOf,
  workerViewOf,
} from '../support/bc-pages.ts';
import { contextFor, launchChromium } from '../support/chromium.ts';
import { waitFor } from '../support/net.ts';
import { type RtcNode, rtcNode } from '../support/webrtc-node.ts';

const DIR = new URL('../../artifacts/e2e-bc', import.meta.url).pathname;
let files: { origin: string; close(): Promise<void> };
let browser: Browser;
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  await buildBcPages(DIR);
  files = await staticServer(DIR);
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  for (const c of contexts) await c.close().catch(() => {});
  await browser?.close();
  await files?.close();
});

async function profile(origin: string): Promise<BrowserContext> {
  const c = await contextFor(browser, origin);
  contexts.push(c);
  return c;
}

const idOf = (p: Page) =>
  p.evaluate(() => (window as unknown as { weftmesh: { nodeId: string } }).weftmesh.nodeId);

/** Waits until every view sees every id Active; returns the last views. */
async function converge(read: () => Promise<Array<NodeView | undefined>>, ids: string[], ms = 30_000) {
  let seen: number[] = [];
  let views: Array<NodeView | undefined> = [];
  await waitFor(
    async () => {
      views = await read();
      seen = views.map((v) => activeIn(v, ids));
      return seen.every((k) => k === ids.length);
    },
    ms,
    () => `all ${ids.length} Active everywhere (seen: ${seen})`,
    100,
  );
  return views as NodeView[];
}

describe('BroadcastChannel in Chromium', () => {
  it('tabs of one origin form a cluster with no signaling server and no peer connection', async () => {
    const context = await profile(files.origin);
    const pages: Page[] = [];
    for (let i = 0; i < 4; i++) pages.push(await openNode(context, files.origin, 'mode=zero&cluster=zero'));
    const ids = await Promise.all(pages.map(idOf));
    const views = await converge(() => Promise.all(pages.map(viewOf)), ids);
    for (const v of views) {
      expect(Object.values(v.links).length).toBeGreaterThan(0);
      expect(new Set(v.linkUps.map(([, kind]) => kind))).toEqual(new Set(['broadcast-channel']));
      expect(v.peerConnections).toBe(0);
    }
    await context.close();
  }, 90_000);

  it('a dedicated and a shared worker join the tabs as nodes', async () => {
    const context = await profile(files.origin);
    const a = await openNode(context, files.origin, 'mode=zero&cluster=workers&worker=dedicated');
    const b = await openNode(context, files.origin, 'mode=zero&cluster=workers&worker=shared');
    let ids: string[] = [];
    await waitFor(
      async () => {
        const w = await Promise.all([workerViewOf(a), workerViewOf(b)]);
        if (!w[0] || !w[1]) return false;
        ids = [await idOf(a), await idOf(b), w[0].nodeId, w[1].nodeId];
        return true;
      },
      20_000,
      'both workers to report',
      100,
    );
    const views = await converge(
      () => Promise.all([viewOf(a), viewOf(b), workerViewOf(a), workerViewOf(b)]),
      ids,
    );
    for (const v of views) expect(new Set(Object.values(v.links))).toEqual(new Set(['broadcast-channel']));
    await context.close();
  }, 90_000);

  it('crashed (Page.crash), hung and closed tabs are detected by the others', async () => {
    const context = await profile(files.origin);
    const pages: Page[] = [];
    for (let i = 0; i < 5; i++) pages.push(await openNode(context, files.origin, 'mode=zero&cluster=crash'));
    const ids = await Promise.all(pages.map(idOf));
    await converge(() => Promise.all(pages.map(viewOf)), ids);
    const [crashed, frozen, closed, ...rest] = pages;
    const [crashedId, frozenId, closedId] = ids;
    const crash = await context.newCDPSession(crashed!);
    void crash.send('Page.crash').catch(() => {});
    // Hung: an endless loop holds the tab's only thread (it never answers again).
    void frozen!.evaluate('for (;;) {}').catch(() => {});
    await closed!.close({ runBeforeUnload: true });
    const stateIn = (v: NodeView, id: string) => v.members.find((m) => m.nodeId === id)?.state;
    let last: string[] = [];
    await waitFor(
      async () => {
        const views = await Promise.all(rest.map(viewOf));
        last = views.map(
          (v) => `${stateIn(v, crashedId!)}/${stateIn(v, frozenId!)}/${stateIn(v, closedId!)}`,
        );
        return views.every(
          (v) =>
            stateIn(v, crashedId!) === NodeState.Unreachable &&
            stateIn(v, frozenId!) === NodeState.Unreachable &&
            ['Left', 'Unreachable'].includes(stateIn(v, closedId!) ?? ''),
        );
      },
      40_000,
      () => `crashed/hung/closed seen Unreachable/Unreachable/Left (seen: ${last})`,
      200,
    );
    await context.close();
  }, 120_000);

  it('a background tab whose timers fire only at 1 s wake-ups is never declared Unreachable (Lifeguard)', async () => {
    const context = await profile(files.origin);
    const pages: Page[] = [];
    for (let i = 0; i < 3; i++) pages.push(await openNode(context, files.origin, 'mode=zero&cluster=bg'));
    pages.push(await openNode(context, files.origin, 'mode=zero&cluster=bg&throttle=1000'));
    const ids = await Promise.all(pages.map(idOf));
    await converge(() => Promise.all(pages.map(viewOf)), ids);
    const background = ids[3]!;
    const seen = new Set<string>();
    const until = Date.now() + 20_000;
    while (Date.now() < until) {
      for (const v of await Promise.all(pages.slice(0, 3).map(viewOf)))
        seen.add(v.members.find((m) => m.nodeId === background)?.state ?? 'missing');
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(seen.has(NodeState.Unreachable)).toBe(false);
    expect(seen.has('missing')).toBe(false);
    await context.close();
  }, 150_000);
});

describe('a mixed cluster', () => {
  let server: RunningSignalingServer;
  const nodes: RtcNode[] = [];
  afterAll(async () => {
    for (const n of nodes) n.close();
    await server?.close();
  });

  it('links tabs of one profile over BroadcastChannel, everything else over WebRTC, never both for a pair', async () => {
    server = await startSignalingServer({ port: 0, staticDir: DIR });
    const origin = `http://127.0.0.1:${server.port}`;
    const one = await profile(origin);
    const two = await profile(origin);
    const query = 'mode=mixed&cluster=mixed';
    const profileOne = [
      await openNode(one, origin, query),
      await openNode(one, origin, query),
      await openNode(one, origin, query),
    ];
    const profileTwo = [await openNode(two, origin, query), await openNode(two, origin, query)];
    nodes.push(await rtcNode(server.url, 'mixed'));
    const pages = [...profileOne, ...profileTwo];
    const tabIds = await Promise.all(pages.map(idOf));
    const ids = [...tabIds, nodes[0]!.node.nodeId];
    await converge(
      async () => {
        const views: Array<NodeView | undefined> = await Promise.all(pages.map(viewOf));
        const n = nodes[0]!.node;
        views.push({
          nodeId: n.nodeId,
          state: n.state,
          members: n.members().map((m) => ({ nodeId: m.nodeId, state: m.state })),
          links: {},
          linkUps: [],
          framesIn: 0,
          framesOut: 0,
          peerConnections: 0,
          channelIn: 0,
          channelOut: 0,
          startedAt: 0,
          allActiveAt: 0,
          firstLinkAt: 0,
          joinedAt: 0,
          unreachableAt: {},
        });
        return views;
      },
      ids,
      45_000,
    );
    const sameProfile = (a: string, b: string) =>
      [profileOne, profileTwo].some((group) => {
        const groupIds = group.map((p) => tabIds[pages.indexOf(p)]);
        return groupIds.includes(a) && groupIds.includes(b);
      });
    const kinds = new Set<string>();
    for (const p of pages) {
      const v = await viewOf(p);
      for (const [peer, kind] of v.linkUps) {
        kinds.add(kind);
        expect(`${kind} to a ${sameProfile(v.nodeId, peer) ? 'tab of its profile' : 'node elsewhere'}`).toBe(
          sameProfile(v.nodeId, peer)
            ? 'broadcast-channel to a tab of its profile'
            : 'webrtc to a node elsewhere',
        );
      }
    }
    expect(kinds).toEqual(new Set(['broadcast-channel', 'webrtc']));
  }, 120_000);
});
