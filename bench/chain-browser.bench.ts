/**
 * Chain pull between two Chromium pages over the browser's own WebRTC on loopback (issue 15):
 * a page of its own origin hosts a chain, another follows it (test/browser/chain-pull-page.ts),
 * meeting through a real signaling server in this process; the runs of chain-webrtc (256-byte
 * entries and 16 KiB ones, default window and pace, raised ones). Figures: entries/s and payload
 * MB/s from the first entry pulled to the last, catch-up from follow(), the main-thread busy
 * time of each page during the pull (CDP TaskDuration), the whole machine's CPU (/proc/stat:
 * with every Chromium process and thread, which side bounds it), and the packets Chromium
 * discarded on send (RTCIceCandidatePairStats.packetsDiscardedOnSend at the host). For scale,
 * on the pair of the last run: messaging alone (streamed answers of constant bytes over the
 * same weftmesh link) and the link alone (a plain data channel between the same two pages
 * streaming one way). Unlike @roamhq/wrtc in Node, Chromium's send() does not block the page.
 * Run alone: `npm run bench chain-browser` (re-runs inside a loopback-only network namespace);
 * CHAIN_BROWSER_RUNS=3,4 picks runs by index, CHAIN_BROWSER_HWM sets the high-water marks,
 * CHAIN_BROWSER_PROFILE=PREFIX writes each page's CPU profile of the pull (PREFIX-host.cpuprofile).
 */
import { writeFile } from 'node:fs/promises';
import { availableParallelism, loadavg } from 'node:os';
import type { BrowserContext, CDPSession, Page } from 'playwright-core';
import { type PageRig, pageRig } from '../test/support/page-rig.ts';
import { BLOCK, type Run, SMALL, STREAMED_RUNS } from './chain-webrtc.bench.ts';
import { fmt, machineCpu, table } from './harness.ts';
import { reexecInLoopbackNamespace } from './netns.ts';

const PAGE = new URL('../test/browser/chain-pull-page.ts', import.meta.url).pathname;
const sleep = (ms: number) => new Promise((ok) => setTimeout(ok, ms));

interface Cbench {
  nodeId: string;
  linked(other: string): boolean;
  host(entries: number, payload: number): Promise<{ chainId: string; author: string }>;
  follow(chainId: string, author: string, entries: number): Promise<void>;
  discarded(): Promise<number>;
  progress(): { firstAt: number; doneAt: number; length: number; errors: string[] };
  respondParts(size: number): void;
  askParts(other: string, size: number, n: number): Promise<number>;
  rawOffer(): Promise<string>;
  rawAnswer(offer: string): Promise<string>;
  rawFinish(answer: string): Promise<void>;
  rawStream(size: number, count: number): Promise<void>;
  rawReceive(count: number): Promise<{ ms: number; bytes: number }>;
}
/** The page's global (evaluate() callbacks run in the page: they can name types, not functions of this file). */
type W = { cbench: Cbench };

interface Pair {
  context: BrowserContext;
  host: Page;
  follower: Page;
  cdp: [CDPSession, CDPSession];
}

async function pair(rig: PageRig, run: Run, i: number): Promise<Pair> {
  const { context, pages } = await rig.open(
    2,
    {
      cluster: `chain-${i}`,
      chains: JSON.stringify(run.chains),
      ...(run.perOriginRate ? { rate: String(run.perOriginRate) } : {}),
      ...(process.env.CHAIN_BROWSER_HWM ? { hwm: process.env.CHAIN_BROWSER_HWM } : {}),
    },
    'cbench',
  );
  const [host, follower] = pages;
  const hostId = await host!.evaluate(() => (window as unknown as W).cbench.nodeId);
  await follower!.waitForFunction((id) => (window as unknown as W).cbench.linked(id), hostId, {
    timeout: 30_000,
  });
  const cdp = await Promise.all(
    [host!, follower!].map(async (p) => {
      const s = await context.newCDPSession(p);
      await s.send('Performance.enable');
      return s;
    }),
  );
  return { context, host: host!, follower: follower!, cdp: cdp as [CDPSession, CDPSession] };
}

/** Main-thread busy seconds of a page so far. */
async function busy(s: CDPSession): Promise<number> {
  const { metrics } = await s.send('Performance.getMetrics');
  return metrics.find((m) => m.name === 'TaskDuration')!.value;
}

async function pull(p: Pair, run: Run): Promise<Array<string | number>> {
  const { chainId, author } = await p.host.evaluate(
    ([n, size]) => (window as unknown as W).cbench.host(n, size),
    [run.entries, run.payload] as const,
  );
  const discardedBefore = await p.host.evaluate(() => (window as unknown as W).cbench.discarded());
  const started = await p.follower.evaluate(() => performance.now());
  await p.follower.evaluate(([c, a, n]) => (window as unknown as W).cbench.follow(c, a, n), [
    chainId,
    author,
    run.entries,
  ] as const);
  const progress = () => p.follower.evaluate(() => (window as unknown as W).cbench.progress());
  const deadline = Date.now() + Number(process.env.CHAIN_BROWSER_LIMIT_MS ?? 300_000);
  let at = await progress();
  while (at.firstAt === 0 && Date.now() < deadline) {
    await sleep(5);
    at = await progress();
  }
  const profile = process.env.CHAIN_BROWSER_PROFILE;
  if (profile)
    await Promise.all(
      p.cdp.map(async (s) => {
        await s.send('Profiler.enable');
        await s.send('Profiler.start');
      }),
    );
  const before = await Promise.all(p.cdp.map(busy));
  const machine = machineCpu();
  while (at.doneAt === 0 && Date.now() < deadline) {
    await sleep(5);
    at = await progress();
  }
  if (at.doneAt === 0)
    throw new Error(
      `${run.label}: ${at.length} of ${run.entries} pulled in 5 minutes (${at.errors.join('; ') || 'no pull errors'})`,
    );
  const after = await Promise.all(p.cdp.map(busy));
  const machineBusy = machine.busy();
  if (profile)
    for (const [i, side] of ['host', 'follower'].entries()) {
      const { profile: cpu } = await p.cdp[i]!.send('Profiler.stop');
      await writeFile(`${profile}-${side}.cpuprofile`, JSON.stringify(cpu));
    }
  const discarded =
    (await p.host.evaluate(() => (window as unknown as W).cbench.discarded())) - discardedBefore;
  const wallMs = at.doneAt - at.firstAt;
  const rate = (run.entries * 1000) / wallMs;
  const pct = (i: number) => fmt((100_000 * (after[i]! - before[i]!)) / wallMs);
  return [
    run.label,
    fmt(run.entries),
    fmt(rate),
    fmt((rate * run.payload) / 1e6, 1),
    fmt(at.doneAt - started),
    `${pct(1)} / ${pct(0)}`,
    fmt(machineBusy),
    fmt(discarded),
    at.errors.length ? at.errors.join('; ') : 0,
  ];
}

/** Messaging alone over the pair's link: streamed answers of constant bytes, 4 requests of 16 parts in flight. */
async function messagingAlone(p: Pair): Promise<Array<Array<string | number>>> {
  const hostId = await p.host.evaluate(() => (window as unknown as W).cbench.nodeId);
  const rows: Array<Array<string | number>> = [];
  for (const [size, n] of [
    [BLOCK, 4_000],
    [40 * 1024, 2_000],
  ] as const) {
    await p.host.evaluate((s) => (window as unknown as W).cbench.respondParts(s), size);
    const machine = machineCpu();
    const ms = await p.follower.evaluate(([id, s, k]) => (window as unknown as W).cbench.askParts(id, s, k), [
      hostId,
      size,
      n,
    ] as const);
    rows.push([`${fmt(size)} B`, fmt((n * 1000) / ms), fmt((n * size) / ms / 1e3, 1), fmt(machine.busy())]);
  }
  return rows;
}

/** The link alone: a plain data channel from the host's page to the follower's, streaming one way. */
async function rawLink(p: Pair): Promise<Array<Array<string | number>>> {
  const offer = await p.host.evaluate(() => (window as unknown as W).cbench.rawOffer());
  const answer = await p.follower.evaluate((o) => (window as unknown as W).cbench.rawAnswer(o), offer);
  await p.host.evaluate((a) => (window as unknown as W).cbench.rawFinish(a), answer);
  const rows: Array<Array<string | number>> = [];
  for (const [size, count] of [
    [SMALL, 40_000],
    [BLOCK, 4_000],
    [40 * 1024, 2_000],
    [64 * 1024, 1_000],
  ] as const) {
    const discardedBefore = await p.host.evaluate(() => (window as unknown as W).cbench.discarded());
    const machine = machineCpu();
    const received = p.follower.evaluate(([n]) => (window as unknown as W).cbench.rawReceive(n), [
      count,
    ] as const);
    await p.host.evaluate(([s, n]) => (window as unknown as W).cbench.rawStream(s, n), [
      size,
      count,
    ] as const);
    const r = await received;
    const machineBusy = machine.busy();
    const discarded =
      (await p.host.evaluate(() => (window as unknown as W).cbench.discarded())) - discardedBefore;
    rows.push([
      `${fmt(size)} B`,
      fmt((count * 1000) / r.ms),
      fmt(r.bytes / r.ms / 1e3, 1),
      fmt(machineBusy),
      fmt(discarded),
    ]);
  }
  return rows;
}

export async function chainBrowserBench(): Promise<void> {
  const rig = await pageRig(PAGE, 2);
  const plain = { pullParts: 1 };
  const wide = { chains: { ...plain, pullRate: 2_000, pullWindow: 64 }, perOriginRate: 4_000 };
  const only = process.env.CHAIN_BROWSER_RUNS?.split(',').map(Number);
  const runs: Run[] = [
    { label: 'plain requests, 64 in flight, pace 2,000/s', entries: 100_000, payload: SMALL, ...wide },
    { label: '16 KiB entries, plain, 64 in flight, pace 2,000/s', entries: 4_000, payload: BLOCK, ...wide },
    ...STREAMED_RUNS,
  ];
  try {
    const load = loadavg()[0]!.toFixed(2);
    const rows: Array<Array<string | number>> = [];
    let link: Array<Array<string | number>> = [];
    let alone: Array<Array<string | number>> = [];
    for (const [i, run] of runs.entries()) {
      if (only && !only.includes(i)) continue;
      const p = await pair(rig, run, i);
      try {
        rows.push(await pull(p, run));
        if (i === runs.length - 1) {
          alone = await messagingAlone(p);
          link = await rawLink(p);
        }
      } finally {
        await p.context.close();
      }
    }
    table(
      `Chain pull between two Chromium pages over WebRTC on loopback (a page of its own origin each, one browser; verification on; load average ${load} before, ${loadavg()[0]!.toFixed(2)} after)`,
      [
        'run',
        'entries',
        'entries/s',
        'payload MB/s',
        'catch-up from follow() (ms)',
        'main thread busy % follower / host',
        `machine CPU % (${availableParallelism()} cores)`,
        'packets discarded on send (host)',
        'pull errors (distinct)',
      ],
      rows,
    );
    table(
      'For scale: messaging alone over the same link (streamed answers of constant bytes, 4 requests of 16 parts in flight)',
      ['part size', 'parts/s', 'MB/s', `machine CPU % (${availableParallelism()} cores)`],
      alone,
    );
    table(
      'For scale: the link alone, a plain data channel between the same two pages streaming one way (≤ 256 KiB buffered)',
      [
        'message size',
        'messages/s',
        'MB/s',
        `machine CPU % (${availableParallelism()} cores)`,
        'packets discarded on send',
      ],
      link,
    );
  } finally {
    await rig.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}` && !reexecInLoopbackNamespace()) {
  await chainBrowserBench();
  process.exit(0);
}
