// `npm start` end to end: it builds, then `weftmesh demo` serves the browser demo; real
// Chromium tabs join the demo's Node nodes over WebRTC and WebSocket links (loopback only).
// Everything is read from the page the way a user sees it: table rows, graph nodes, query
// outputs, the event log.
import { mkdir } from 'node:fs/promises';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_HEARTBEAT } from '../../lib/membership/config.ts';
import { contextFor, launchChromium } from '../support/chromium.ts';
import { waitFor } from '../support/net.ts';
import { type Child, exited, killAll, signal, startChild } from '../support/processes.ts';

const SHOTS = new URL('../../artifacts/demo', import.meta.url).pathname;
const NODE_NODES = 2;
const TABS = 4;

let demo: Child;
let url: string;
let browser: Browser;
let context: BrowserContext;
const pages: Page[] = [];

beforeAll(async () => {
  await mkdir(SHOTS, { recursive: true });
  const flags = ['--port', '0', '--nodes', String(NODE_NODES), '--cluster', 'e2e'];
  demo = startChild('npm', ['start', '--silent', '--', ...flags], {}, true);
  await waitFor(() => demo.lines.some((l) => l.includes('Ctrl-C stops everything')), 80_000, 'demo up');
  url = /(http:\/\/127\.0\.0\.1:\d+\/\?cluster=e2e)/.exec(demo.lines.join('\n'))![1]!;
  browser = await launchChromium();
  context = await contextFor(browser, new URL(url).origin);
}, 90_000);

afterAll(async () => {
  try {
    await browser?.close();
  } finally {
    await killAll();
  }
});

/** Waits until the demo's first node prints that it sees `id` go to `state`. */
const demoSees = (id: string, state: string) =>
  waitFor(
    () => demo.lines.some((l) => l.includes(id.slice(0, 8)) && l.endsWith(`→ ${state}`)),
    10_000,
    `the demo's node to see ${id.slice(0, 8)} ${state}`,
  );

/** A full-page screenshot from the top (the header is sticky), for people to look at. */
async function shot(page: Page, name: string): Promise<void> {
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: `${SHOTS}/${name}.png`, fullPage: true });
}

const idOf = (p: Page): Promise<string> =>
  p.evaluate(() => (window as unknown as { weftmesh: { node: { nodeId: string } } }).weftmesh.node.nodeId);

const shownIncarnation = (p: Page, id: string): Promise<number> =>
  p.evaluate(
    (nodeId) =>
      Number(
        document.querySelector(`#members-body tr[data-node-id="${nodeId}"] td:nth-child(4)`)?.textContent,
      ),
    id,
  );

/** Waits (polling the page) until the page shows `id` in `state`. */
const showsState = (p: Page, id: string, state: string, timeout: number) =>
  p.waitForFunction(
    ([nodeId, s]) =>
      document.querySelector<HTMLElement>(`#members-body tr[data-node-id="${nodeId}"]`)?.dataset.state === s,
    [id, state] as const,
    { timeout, polling: 50 },
  );

describe('weftmesh demo in real browser tabs', () => {
  let ids: string[] = [];

  it('tabs and the Node nodes all show each other Active, in the table and in the graph', async () => {
    for (let i = 0; i < TABS; i++) {
      const page = await context.newPage();
      await page.goto(`${url}&loopback=1`);
      await page.waitForFunction(() => 'weftmesh' in window);
      pages.push(page);
    }
    ids = await Promise.all(pages.map(idOf));
    expect(new Set(ids).size).toBe(TABS);
    const total = TABS + NODE_NODES;
    for (const page of pages) {
      await page.waitForFunction(
        (n) =>
          document.querySelectorAll('#members-body tr[data-state="Active"]').length === n &&
          document.querySelectorAll('#graph g.node[data-state="Active"]').length === n,
        total,
        { timeout: 45_000, polling: 200 },
      );
    }
    const runtimes = await pages[0]!.$$eval('#members-body tr td:nth-child(2)', (tds) =>
      tds.map((td) => td.textContent).sort(),
    );
    expect(runtimes).toEqual([...Array(TABS).fill('browser'), ...Array(NODE_NODES).fill('node')]);
    // The demo's sample workloads are gossiped to the tabs.
    await pages[3]!.waitForFunction(
      () => document.querySelectorAll('#processes-body tr').length >= 7,
      undefined,
      { timeout: 15_000 },
    );
    expect(await pages[3]!.locator('#services-body tr[data-service="api"]').count()).toBe(1);
    // The graph draws this tab's links by kind: the other tabs over BroadcastChannel, the Node
    // nodes over the network.
    const kinds = await pages[0]!.$$eval('#graph line.edge.own', (ls) =>
      ls.map((l) => l.getAttribute('data-transport')),
    );
    expect(kinds).toContain('broadcast-channel');
    expect(kinds.filter((k) => k !== 'broadcast-channel' && k !== 'websocket' && k !== 'webrtc')).toEqual([]);
    await shot(pages[0]!, 'converged');
  }, 90_000);

  it('a service advertised in one tab is resolved in another', async () => {
    const [a, b] = [pages[0]!, pages[1]!];
    await a.bringToFront();
    await a.fill('#svc-name', 'e2e-cache');
    await a.fill('#svc-endpoint', 'http://127.0.0.1:7000/cache');
    await a.click('#svc-advertise');
    await b.waitForSelector(`#services-body tr[data-service="e2e-cache"][data-node-id="${ids[0]}"]`, {
      timeout: 10_000,
    });
    await b.bringToFront();
    await b.selectOption('#resolve-service', 'e2e-cache');
    await b.waitForFunction(
      (id) => document.querySelector<HTMLElement>('#resolve-result')?.dataset.nodeId === id,
      ids[0]!,
      { timeout: 5_000 },
    );
    expect(await b.textContent('#resolve-result')).toContain('http://127.0.0.1:7000/cache');
  }, 30_000);

  it('chains: a tab appends 500 entries, the other tabs catch up, and its fork is proven and shown in every tab', async () => {
    const author = pages[0]!;
    const rowOf = (p: Page, id: string) =>
      p.evaluate((chain) => {
        const row = document.querySelector<HTMLElement>(`#chains-body tr[data-chain="${chain}"]`);
        return row ? { status: row.dataset.status, length: Number(row.dataset.length) } : undefined;
      }, id);
    await author.bringToFront();
    await author.click('#chain-many');
    const chainId = (await (
      await author.waitForFunction(
        () =>
          document.querySelector<HTMLElement>('#chains-body tr[data-status="author"][data-length="500"]')
            ?.dataset.chain,
        undefined,
        { timeout: 10_000, polling: 100 },
      )
    ).jsonValue()) as string;
    // Every other tab follows the chain and pulls all 500, each checked against signed heads.
    for (const p of pages.slice(1))
      await p.waitForFunction(
        (chain) => {
          const row = document.querySelector<HTMLElement>(`#chains-body tr[data-chain="${chain}"]`);
          return row?.dataset.status === 'synced' && row.dataset.length === '500';
        },
        chainId,
        { timeout: 20_000, polling: 200 },
      );
    await shot(pages[1]!, 'chain-synced');
    // The author writes two histories: the replicas prove it, and every tab shows it forked.
    await author.bringToFront();
    await author.click('#chain-fork');
    for (const p of pages)
      await p.waitForFunction(
        (chain) =>
          document.querySelector<HTMLElement>(`#chains-body tr[data-chain="${chain}"]`)?.dataset.status ===
          'forked',
        chainId,
        { timeout: 30_000, polling: 200 },
      );
    for (const p of pages.slice(1)) {
      expect(await p.textContent('#log')).toContain(`chain ${chainId.slice(0, 8)} is FORKED`);
      // A replica keeps what it verified: the 500, and one of the two histories unless the
      // proof reached it first; nothing after the fork point.
      const row = await rowOf(p, chainId);
      expect(row?.status).toBe('forked');
      expect([500, 501]).toContain(row?.length);
    }
    // The forked chain takes no more entries from its author.
    expect(await author.isDisabled('#chain-append')).toBe(true);
    await shot(pages[1]!, 'chain-forked');
  }, 60_000);

  it('a frozen tab is suspected, and after unfreezing refutes with a higher incarnation', async () => {
    const [watcher, frozen, frozenId] = [pages[0]!, pages[1]!, ids[1]!];
    const before = await shownIncarnation(watcher, frozenId);
    // Clicks go to the foreground tab, as a user's would (background tabs get no frames).
    await frozen.bringToFront();
    await frozen.click('#freeze');
    expect(await frozen.textContent('#self-state')).toBe('Frozen');
    await showsState(watcher, frozenId, 'Suspect', 15_000);
    // Unfreeze at once: the suspicion timeout (5 s) is running.
    await frozen.bringToFront();
    await frozen.click('#freeze');
    await showsState(watcher, frozenId, 'Active', 15_000);
    // Refuted within the suspicion timeout: nobody declared it Unreachable meanwhile.
    expect(await watcher.textContent('#log')).not.toContain(`${frozenId.slice(0, 8)}: Suspect → Unreachable`);
    expect(await shownIncarnation(watcher, frozenId)).toBeGreaterThan(before);
    for (const p of pages) await showsState(p, frozenId, 'Active', 15_000);
  }, 60_000);

  it('a crashed tab is suspected, then declared Unreachable by every other node, within the bounds', async () => {
    const crashed = pages[2]!;
    const crashedId = ids[2]!;
    const rest = pages.filter((p) => p !== crashed);
    const { probeIntervalMs, pingTimeoutMs, suspectTimeoutMs } = DEFAULT_HEARTBEAT;
    // Each of the 5 others probes it once per round of its 5 members: some probe fails within
    // a round plus the direct and indirect ping timeouts. Then the suspicion timeout, plus
    // gossip rounds (and this test's polling) for everyone to hear.
    const suspectBound = (TABS + NODE_NODES - 1) * probeIntervalMs + 2 * pingTimeoutMs + 1_000;
    const unreachableBound = suspectBound + suspectTimeoutMs + 2_000;
    const cdp = await context.newCDPSession(crashed);
    const crashedAt = Date.now();
    // Page.crash never answers: the renderer is gone, without a goodbye.
    void cdp.send('Page.crash').catch(() => {});
    // The first tab to show it Suspect (any: the others may see it straight as Unreachable).
    const first = await Promise.any(
      rest.map((p) => showsState(p, crashedId, 'Suspect', 20_000).then(() => p)),
    );
    const suspectedAfter = Date.now() - crashedAt;
    await shot(first, 'suspect');
    for (const p of rest) await showsState(p, crashedId, 'Unreachable', 30_000);
    const unreachableAfter = Date.now() - crashedAt;
    expect(suspectedAfter).toBeLessThanOrEqual(suspectBound);
    expect(unreachableAfter).toBeLessThanOrEqual(unreachableBound);
    // Not before the suspicion timeout ran out.
    expect(unreachableAfter).toBeGreaterThanOrEqual(suspectTimeoutMs);
    // The other tabs live on (a renderer each) and the demo's first node saw it too.
    expect(await rest[0]!.textContent('#self-state')).toBe('Active');
    await demoSees(crashedId, 'Unreachable');
    await shot(rest[0]!, 'unreachable');
  }, 60_000);

  it('a closed tab leaves gracefully: Left everywhere, not Unreachable', async () => {
    const closing = pages[3]!;
    const closingId = ids[3]!;
    await closing.close({ runBeforeUnload: true });
    for (const p of [pages[0]!, pages[1]!]) await showsState(p, closingId, 'Left', 10_000);
    await demoSees(closingId, 'Left');
    await shot(pages[0]!, 'left');
  }, 30_000);

  it('a reloaded tab comes back with its identity; reset identity makes a new node', async () => {
    const [watcher, tab, id] = [pages[0]!, pages[1]!, ids[1]!];
    await tab.bringToFront();
    await tab.reload();
    await tab.waitForFunction(() => 'weftmesh' in window);
    expect(await idOf(tab)).toBe(id);
    await showsState(watcher, id, 'Active', 15_000);
    await tab.click('#reset-identity');
    await tab.waitForFunction((old) => {
      const w = window as unknown as { weftmesh?: { node: { nodeId: string } } };
      return w.weftmesh !== undefined && w.weftmesh.node.nodeId !== old;
    }, id);
    const fresh = await idOf(tab);
    expect(ids).not.toContain(fresh);
    await showsState(watcher, id, 'Left', 10_000);
    await showsState(watcher, fresh, 'Active', 15_000);
  }, 60_000);

  it('Ctrl-C stops npm start cleanly: its nodes leave, every process exits', async () => {
    const watcher = pages[0]!;
    const nodeIds = await watcher.$$eval('#members-body tr', (rows) =>
      rows
        .filter((r) => r.children[1]?.textContent === 'node')
        .map((r) => (r as HTMLElement).dataset.nodeId!),
    );
    expect(nodeIds).toHaveLength(NODE_NODES);
    // As a terminal's Ctrl-C: SIGINT to npm and everything it started.
    signal(demo.proc, 'SIGINT');
    await exited(demo);
    expect(demo.lines).toContain('stopping: nodes leave the cluster, then the server closes');
    for (const id of nodeIds) await showsState(watcher, id, 'Left', 10_000);
    // Nothing of the job is left running: its process group is empty.
    await waitFor(() => !groupAlive(demo.proc.pid!), 5_000, 'the demo process group to exit');
  }, 30_000);
});

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}
