/**
 * Raft between Chromium pages over the browser's own WebRTC on loopback (issue 16): 3 or 5
 * voters, each a page of its own origin in one headless Chromium (bench/consensus-browser-page.ts),
 * meeting through a real signaling server in this process. The same figures as
 * consensus-webrtc (bench/consensus-measure.ts): peer RTT, the fan-out floor, commit latency
 * at the leader and from a follower, proposals per second. Unlike @roamhq/wrtc in Node,
 * Chromium's RTCDataChannel.send() hands the message to WebRTC's threads without waiting for
 * them, so a leader's appends to its followers leave together. Run alone:
 * `npm run bench consensus-browser` (re-runs inside a loopback-only network namespace).
 */
import { loadavg } from 'node:os';
import type { Page } from 'playwright-core';
import { pageRig } from '../test/support/page-rig.ts';
import type { Measured, MeasureParams } from './consensus-measure.ts';
import { LATENCY_COLUMNS, latencyRow } from './consensus-webrtc.bench.ts';
import type { DataChannelTrace, TraceEvent } from './data-channel-trace.ts';
import { fmt, table } from './harness.ts';
import { reexecInLoopbackNamespace } from './netns.ts';

const PAGE = new URL('./consensus-browser-page.ts', import.meta.url).pathname;
/** ms per Raft tick, as consensus-webrtc: election timeouts of 500–1,000 ms. */
const TICK_MS = 50;
const RUNS = Number(process.env.CONSENSUS_BROWSER_RUNS ?? 2);

interface Rbench {
  nodeId: string;
  trace: DataChannelTrace;
  rounds(kind: Kind, count: number): Promise<Array<[number, number]>>;
  startRaft(voters: string[], tickMs: number): Promise<void>;
  status(): { role: string; term: number } | undefined;
  measure(c: MeasureParams): Promise<Measured>;
  forwarded(count: number): Promise<number[]>;
}
/** The page's global (evaluate() callbacks run in the page: they can name types, not functions of this file). */
type W = { rbench: Rbench };

type Kind = 'ping' | 'fan-out' | 'commit';
const ROUNDS = 400;

/** Median in µs. */
function medianUs(values: number[]): string {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? 'n/a' : fmt(sorted[sorted.length >> 1]! * 1000);
}

/**
 * Where a round's time goes, from the data channels' timestamps in every page: the leader
 * from the round's start to its first send, the followers from the message's arrival to
 * their reply's send, the leader from the reply that decided the round to its end, and the
 * rest between (WebRTC's threads, the browser process, the kernel, and waiting for a core).
 */
async function phases(pages: Page[], leader: Page, kind: Kind): Promise<Array<string | number>> {
  await Promise.all(pages.map((p) => p.evaluate(() => (window as unknown as W).rbench.trace.start())));
  const rounds = await leader.evaluate(([k, n]) => (window as unknown as W).rbench.rounds(k, n), [
    kind,
    ROUNDS,
  ] as const);
  const logs = await Promise.all(
    pages.map((p) => p.evaluate(() => (window as unknown as W).rbench.trace.stop())),
  );
  const own = logs[pages.indexOf(leader)]!;
  const others = logs.filter((_, i) => pages[i] !== leader);
  const within = (log: TraceEvent[], kind: TraceEvent[0], from: number, to: number) =>
    log.filter(([k, t]) => k === kind && t >= from && t <= to).map(([, t]) => t);
  const total: number[] = [];
  const before: number[] = [];
  const after: number[] = [];
  const follower: number[] = [];
  const between: number[] = [];
  for (const [start, end] of rounds) {
    const sent = within(own, 'send', start, end)[0];
    const decided = within(own, 'message', start, end).at(-1);
    if (sent === undefined || decided === undefined) continue;
    const turns: number[] = [];
    for (const log of others) {
      const arrived = within(log, 'message', sent, end)[0];
      const replied = arrived === undefined ? undefined : within(log, 'send', arrived, end)[0];
      if (arrived !== undefined && replied !== undefined) turns.push(replied - arrived);
    }
    if (turns.length === 0) continue;
    const turn = Math.min(...turns);
    total.push(end - start);
    before.push(sent - start);
    after.push(end - decided);
    follower.push(turn);
    between.push(end - start - (sent - start) - (end - decided) - turn);
  }
  return [
    kind,
    total.length,
    medianUs(total),
    medianUs(before),
    medianUs(follower),
    medianUs(after),
    medianUs(between),
  ];
}

/** The page that leads the newest term, once one does (≤ 30 s). */
async function leaderOf(pages: Page[]): Promise<Page> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const views = await Promise.all(
      pages.map((p) => p.evaluate(() => (window as unknown as W).rbench.status())),
    );
    const top = Math.max(...views.map((v) => v?.term ?? 0));
    const i = views.findIndex((v) => v?.role === 'Leader' && v.term === top);
    if (i >= 0) return pages[i]!;
    await new Promise((ok) => setTimeout(ok, 20));
  }
  throw new Error('no leader within 30 s');
}

export async function consensusBrowserBench(): Promise<void> {
  // Cross-origin isolated pages: their clock has 5 µs steps instead of 100 µs.
  const rig = await pageRig(PAGE, 5, {
    'cross-origin-opener-policy': 'same-origin',
    'cross-origin-embedder-policy': 'require-corp',
  });
  try {
    const before = loadavg()[0]!.toFixed(2);
    const rows: Array<Array<string | number>> = [];
    const rates: Array<Array<string | number>> = [];
    const traced: Array<Array<string | number>> = [];
    for (let run = 1; run <= RUNS; run++)
      for (const n of [3, 5]) {
        const { context, pages } = await rig.open(n, { cluster: `raft-${run}-${n}` }, 'rbench');
        const ids = await Promise.all(
          pages.map((p) => p.evaluate(() => (window as unknown as W).rbench.nodeId)),
        );
        await Promise.all(
          pages.map((p) =>
            p.evaluate(([v, t]) => (window as unknown as W).rbench.startRaft(v, t), [ids, TICK_MS] as const),
          ),
        );
        const leader = await leaderOf(pages);
        await new Promise((ok) => setTimeout(ok, 500));
        const m = await leader.evaluate((c) => (window as unknown as W).rbench.measure(c), {
          pings: 300,
          proposals: 300,
          inflight: 64,
          seconds: 3,
        } satisfies MeasureParams);
        const follower = pages.find((p) => p !== leader)!;
        const forwarded = await follower.evaluate(() => (window as unknown as W).rbench.forwarded(200));
        rows.push(latencyRow(`${n} voters, run ${run}`, m, forwarded));
        if (run === RUNS)
          for (const kind of ['ping', 'fan-out', 'commit'] as const)
            traced.push([`${n} voters`, ...(await phases(pages, leader, kind))]);
        rates.push([`${n} voters, run ${run}`, fmt(m.perSec)]);
        await context.close();
      }
    table(
      `Raft commit latency between Chromium pages over WebRTC on loopback (a page of its own origin per voter, one browser; 300 proposals one at a time at the leader, 300 pings alone and 300 to all followers at once, in alternating blocks of 10; 200 proposals from a follower; load average ${before} before, ${loadavg()[0]!.toFixed(2)} after)`,
      LATENCY_COLUMNS,
      rows,
    );
    table(
      'Proposals per second through one leader page (64 in flight, 3 s)',
      ['cluster', 'proposals/s'],
      rates,
    );
    table(
      `Where a round goes (last run; ${ROUNDS} rounds each, 2 ms apart; medians in µs from RTCDataChannel send and message times in every page): leader = its JavaScript before the first send and after the reply that decided the round; follower = the fastest follower's, message in to reply out; between = the rest (WebRTC's threads, the browser process, the kernel, waiting for a core)`,
      ['cluster', 'round', 'rounds', 'total', 'leader before', 'follower', 'leader after', 'between'],
      traced,
    );
  } finally {
    await rig.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}` && !reexecInLoopbackNamespace()) {
  await consensusBrowserBench();
  process.exit(0);
}
