/**
 * Tabs of one Chromium profile (issue 14): 8 tabs over BroadcastChannel with no server against
 * the same 8 tabs over WebRTC through the signaling server (all see all Active, measured in the
 * pages from the last tab's start); an 8th tab opening beside 7 formed ones; a crashed tab (CDP Page.crash) until every other tab has it
 * Unreachable; 32 tabs: formation, JS heap per tab, idle CPU (main-thread task time) and
 * messages per second per tab (node messages, and BroadcastChannel messages the tab receives on
 * the cluster channel and its pair channels).
 *
 * BC_RUNS (default 20) sets the number of 8-tab runs per transport; BC_TABS (default 32) the
 * large cluster.
 */
import type { Browser, BrowserContext, CDPSession, Page } from 'playwright-core';
import { DEFAULT_HEARTBEAT } from '../lib/membership/config.ts';
import { startSignalingServer } from '../signaling/node.ts';
import {
  allActive,
  buildBcPages,
  type NodeView,
  openNode,
  staticServer,
  viewOf,
} from '../test/support/bc-pages.ts';
import { contextFor, launchChromium } from '../test/support/chromium.ts';
import { fmt, table } from './harness.ts';

const DIR = new URL('../artifacts/bench-bc', import.meta.url).pathname;
const RUNS = Number(process.env.BC_RUNS ?? 20);
const BIG = Number(process.env.BC_TABS ?? 32);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

interface Formed {
  /** ms from the last tab's start until the last tab saw all Active (undefined: not within the limit). */
  ms: number | undefined;
  pages: Page[];
  context: BrowserContext;
}

/** Opens `n` tabs of one fresh profile at once and waits (≤ limitMs) until each saw all `n` Active. */
export async function form(
  browser: Browser,
  origin: string,
  query: string,
  n: number,
  limitMs = 60_000,
): Promise<Formed> {
  const context = await contextFor(browser, origin);
  const pages = await Promise.all(
    Array.from({ length: n }, () => openNode(context, origin, `${query}&expect=${n}`)),
  );
  const views = await allActive(pages, limitMs);
  const lastStart = views && Math.max(...views.map((v) => v.startedAt));
  return { ms: views && Math.max(...views.map((v) => v.allActiveAt)) - lastStart!, pages, context };
}

/**
 * `n - 1` tabs form first; then one more tab opens: ms from its start until every tab sees all
 * `n` Active (undefined: not within 30 s). The reading of "within 300 ms of the last tab
 * loading" where the others are up, as against form(), where all start at once and share the
 * two cores while each loads, builds its key and signs its handshakes.
 */
async function lastTabJoins(
  browser: Browser,
  origin: string,
  cluster: string,
  n: number,
): Promise<number | undefined> {
  const context = await contextFor(browser, origin);
  try {
    const query = `mode=zero&cluster=${cluster}&expect=${n}`;
    const first = await Promise.all(Array.from({ length: n - 1 }, () => openNode(context, origin, query)));
    const active = (v: NodeView) => v.members.filter((m) => m.state === 'Active').length;
    const formedBy = Date.now() + 30_000;
    while (Date.now() < formedBy && !(await Promise.all(first.map(viewOf))).every((v) => active(v) >= n - 1))
      await sleep(50);
    await sleep(1_000);
    const pages = [...first, await openNode(context, origin, query)];
    const views = await allActive(pages, 30_000);
    if (views) return Math.max(...views.map((v) => v.allActiveAt)) - views[n - 1]!.startedAt;
    return undefined;
  } finally {
    await context.close();
  }
}

/** Crashes the first tab; ms until every other tab has it Unreachable (undefined: not within 60 s). */
async function crashDetection(f: Formed): Promise<number | undefined> {
  const [victim, ...rest] = f.pages;
  const id = (await viewOf(victim!)).nodeId;
  const session = await f.context.newCDPSession(victim!);
  const at = Date.now();
  void session.send('Page.crash').catch(() => {});
  const end = at + 60_000;
  while (Date.now() < end) {
    const views = await Promise.all(rest.map(viewOf));
    if (views.every((v) => v.unreachableAt[id] !== undefined))
      return Math.max(...views.map((v) => v.unreachableAt[id]!)) - at;
    await sleep(200);
  }
  return undefined;
}

export function summary(label: string, xs: Array<number | undefined>): Array<string | number> {
  const ok = xs.filter((x): x is number => x !== undefined);
  if (ok.length === 0) return [label, `0 / ${xs.length}`, '—', '—', '—'];
  return [label, `${ok.length} / ${xs.length}`, pct(ok, 50), pct(ok, 99), Math.max(...ok)];
}

async function metricsOf(sessions: CDPSession[]): Promise<Array<Record<string, number>>> {
  return Promise.all(
    sessions.map(async (s) => {
      const { metrics } = (await s.send('Performance.getMetrics')) as {
        metrics: Array<{ name: string; value: number }>;
      };
      return Object.fromEntries(metrics.map((m) => [m.name, m.value]));
    }),
  );
}

export async function broadcastChannelBench(): Promise<void> {
  await buildBcPages(DIR);
  const files = await staticServer(DIR);
  const signaling = await startSignalingServer({ port: 0, staticDir: DIR });
  const rtcOrigin = `http://127.0.0.1:${signaling.port}`;
  const browser = await launchChromium();
  try {
    const bc: Array<number | undefined> = [];
    const last: Array<number | undefined> = [];
    const rtc: Array<number | undefined> = [];
    const crash: Array<number | undefined> = [];
    for (let r = 0; r < RUNS; r++) {
      last.push(await lastTabJoins(browser, files.origin, `l${r}`, 8));
      const f = await form(browser, files.origin, `mode=zero&cluster=b${r}`, 8);
      bc.push(f.ms);
      if (r < 5 && f.ms !== undefined) crash.push(await crashDetection(f));
      await f.context.close();
      const g = await form(browser, rtcOrigin, `mode=rtc&cluster=r${r}`, 8);
      rtc.push(g.ms);
      await g.context.close();
    }
    table(
      `8 tabs of one Chromium profile started at once: all see all Active, ms after the last tab started (${RUNS} runs)`,
      ['links', 'formed', 'p50', 'p99', 'max'],
      [summary('BroadcastChannel, no server', bc), summary('WebRTC via the signaling server', rtc)],
    );
    table(
      `The 8th tab of one Chromium profile opens beside 7 formed ones (BroadcastChannel, no server): all 8 see all Active, ms after its start (${RUNS} runs)`,
      ['links', 'formed', 'p50', 'p99', 'max'],
      [summary('BroadcastChannel, no server', last)],
    );
    const h = DEFAULT_HEARTBEAT;
    table(
      `A crashed tab (CDP Page.crash) among 8: ms until every other tab has it Unreachable (probe ${h.probeIntervalMs} ms, suspect timeout ${h.suspectTimeoutMs} ms)`,
      ['figure', 'detected', 'p50', 'p99', 'max'],
      [summary('crash → Unreachable everywhere', crash)],
    );

    const big = await form(browser, files.origin, 'mode=zero&cluster=big', BIG, 120_000);
    const sessions = await Promise.all(big.pages.map((p) => big.context.newCDPSession(p)));
    for (const s of sessions) await s.send('Performance.enable');
    await sleep(10_000); // settle: joins, first gossip rounds
    const idleMs = 20_000;
    const before = await metricsOf(sessions);
    const viewsBefore = await Promise.all(big.pages.map(viewOf));
    await sleep(idleMs);
    const after = await metricsOf(sessions);
    const viewsAfter = await Promise.all(big.pages.map(viewOf));
    const perTab = (f: (i: number) => number) => {
      const xs = big.pages.map((_, i) => f(i));
      return [fmt(pct(xs, 50), 2), fmt(Math.max(...xs), 2)];
    };
    const s = idleMs / 1000;
    table(
      `${BIG} tabs over BroadcastChannel, no server (one profile, idle ${s} s after forming)`,
      ['figure', 'p50 per tab', 'max'],
      [
        ['formation, ms after the last tab started', big.ms ?? 'not formed', ''],
        ['JS heap used, MB', ...perTab((i) => after[i]!.JSHeapUsedSize! / 2 ** 20)],
        [
          'idle CPU, % of a core (main-thread task time)',
          ...perTab((i) => ((after[i]!.TaskDuration! - before[i]!.TaskDuration!) / s) * 100),
        ],
        [
          'node messages sent / s',
          ...perTab((i) => (viewsAfter[i]!.framesOut - viewsBefore[i]!.framesOut) / s),
        ],
        [
          'node messages received / s',
          ...perTab((i) => (viewsAfter[i]!.framesIn - viewsBefore[i]!.framesIn) / s),
        ],
        [
          'BroadcastChannel messages received / s (cluster + pair channels)',
          ...perTab((i) => (viewsAfter[i]!.channelIn - viewsBefore[i]!.channelIn) / s),
        ],
        ['links per tab', ...perTab((i) => Object.keys(viewsAfter[i]!.links).length)],
      ],
    );
    await big.context.close();
  } finally {
    await browser.close();
    await signaling.close();
    await files.close();
  }
}
