/**
 * Raft over real WebRTC on loopback (issue 16): 3 or 5 voters, each a MeshNode with
 * MeshConsensus in its own process (bench/consensus-webrtc-node.ts; @roamhq/wrtc data
 * channels, a real signaling server in this process). Figures: the peer RTT (a messaging
 * request/response from the leader to each follower), commit latency at the leader (one
 * proposal at a time: propose → applied) and from a follower (forwarded to the leader),
 * proposals per second through one leader with 64 in flight, and the time to a new leader —
 * and to the next commit — after the leader's process is killed (SIGKILL). Run alone:
 * `npm run bench consensus-webrtc` or `npx tsx bench/consensus-webrtc.bench.ts` (both
 * re-run inside a loopback-only network namespace when they can);
 * `CONSENSUS_WEBRTC_LATENCY_ONLY=1` runs the latency table alone (for repeated runs).
 *
 * Beside the peer RTT it measures the floor a commit has here: a ping sent to every
 * follower at once, until a quorum answered. A commit is that fan-out plus the Raft work,
 * and on a loaded 2-core machine the fan-out alone costs more than a lone ping (every
 * @roamhq/wrtc send() blocks the JavaScript thread on WebRTC's own threads: see
 * docs/CONSENSUS.md).
 */
import { loadavg } from 'node:os';
import { summarize } from '../lib/sim/stats-summary.ts';
import { startSignalingServer } from '../signaling/node.ts';
import { BenchChild } from './child-process.ts';
import type { Measured } from './consensus-measure.ts';
import { fmt, table } from './harness.ts';
import { reexecInLoopbackNamespace } from './netns.ts';

const CHILD = new URL('./consensus-webrtc-node.ts', import.meta.url).pathname;
/** ms per Raft tick: election timeouts of 500–1,000 ms, heartbeats every 50 ms. */
const TICK_MS = 50;
const FAILOVER_RUNS = 4;
const LATENCY_ONLY = process.env.CONSENSUS_WEBRTC_LATENCY_ONLY === '1';

/** A voter: a MeshNode with MeshConsensus in its own process. */
class Voter extends BenchChild {
  constructor() {
    super(CHILD, 'voter');
  }
}

async function cluster(url: string, n: number, name: string): Promise<Voter[]> {
  const voters = Array.from({ length: n }, () => new Voter());
  for (const v of voters) v.send({ cmd: 'start', signal: url, cluster: name });
  const ids = await Promise.all(
    voters.map(async (v) => (await v.next((e) => e.ev === 'ready')).nodeId as string),
  );
  for (const v of voters) v.send({ cmd: 'raft', voters: ids, tickMs: TICK_MS });
  await Promise.all(voters.map((v) => v.next((e) => e.ev === 'raft-started')));
  return voters;
}

/** The voter whose newest leader event is the newest of all (the current leader). */
async function leader(voters: Voter[], aboveTerm = 0): Promise<{ voter: Voter; term: number; at: number }> {
  const deadline = performance.now() + 30_000;
  for (;;) {
    let best: { voter: Voter; term: number; at: number } | undefined;
    for (const voter of voters)
      for (const e of voter.events)
        if (e.ev === 'leader' && (e.term as number) > aboveTerm && (!best || (e.term as number) > best.term))
          best = { voter, term: e.term as number, at: e.at as number };
    if (best) return best;
    if (performance.now() > deadline) throw new Error('no leader');
    await new Promise((r) => setTimeout(r, 5));
  }
}

const ms = (v: number | undefined) => (v === undefined ? 'n/a' : fmt(v, 1));

/** Nearest-rank percentile in ms with two decimals (summarize() rounds to 0.1: too coarse for sub-ms RTTs). */
function pct(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
}

export const LATENCY_COLUMNS = [
  'cluster',
  'peer RTT p50 ms',
  'fan-out to a quorum p50 ms',
  'leader p50 ms',
  'leader p99 ms',
  'p50 / RTT',
  'p50 / fan-out',
  'follower p50 ms',
  'follower p99 ms',
];

/** A row of LATENCY_COLUMNS from what the leader measured and a follower's forwarded proposals. */
export function latencyRow(label: string, m: Measured, forwarded: number[]): Array<string | number> {
  const rtt = pct(m.rtt, 0.5);
  const fan = pct(m.fanOut, 0.5);
  const commit = pct(m.commit, 0.5);
  const fwd = summarize(forwarded);
  return [
    label,
    fmt(rtt, 2),
    fmt(fan, 2),
    fmt(commit, 2),
    fmt(pct(m.commit, 0.99), 2),
    fmt(commit / rtt, 2),
    fmt(commit / fan, 2),
    ms(fwd?.p50),
    ms(fwd?.p99),
  ];
}

export async function consensusWebRtcBench(): Promise<void> {
  const server = await startSignalingServer({ port: 0 });
  const all: Voter[] = [];
  try {
    const before = loadavg()[0]!.toFixed(2);
    const rows: Array<Array<string | number>> = [];
    const rates: Array<Array<string | number>> = [];
    for (const n of [3, 5]) {
      const voters = await cluster(server.url, n, `raft-${n}`);
      all.push(...voters);
      const l = await leader(voters);
      await new Promise((r) => setTimeout(r, 500));
      l.voter.send({
        cmd: 'measure',
        pings: 300,
        proposals: 300,
        inflight: 64,
        seconds: LATENCY_ONLY ? 0.1 : 3,
      });
      const m = await l.voter.next((e) => e.ev === 'measured', 120_000);
      const follower = voters.find((v) => v !== l.voter)!;
      follower.send({ cmd: 'forwarded', proposals: 200 });
      const f = await follower.next((e) => e.ev === 'forwarded', 120_000);
      rows.push(latencyRow(`${n} voters`, m as unknown as Measured, f.times as number[]));
      rates.push([`${n} voters`, fmt(m.perSec as number)]);
      for (const v of voters) v.kill();
    }
    table(
      `Raft commit latency over WebRTC on loopback (a process per voter; 300 proposals one at a time at the leader, 300 pings alone and 300 to all followers at once, in alternating blocks of 10; 200 proposals from a follower; load average ${before} before, ${loadavg()[0]!.toFixed(2)} after)`,
      LATENCY_COLUMNS,
      rows,
    );
    if (LATENCY_ONLY) return;
    table(
      'Proposals per second through one leader over WebRTC (64 in flight, 3 s)',
      ['cluster', 'proposals/s'],
      rates,
    );

    const fail: Array<Array<string | number>> = [];
    for (const n of [3, 5]) {
      const elected: number[] = [];
      const committed: number[] = [];
      for (let run = 0; run < FAILOVER_RUNS; run++) {
        const voters = await cluster(server.url, n, `raft-fail-${n}-${run}`);
        all.push(...voters);
        const old = await leader(voters);
        for (const v of voters) v.send({ cmd: 'watch' });
        await new Promise((r) => setTimeout(r, 1_000));
        const killedAt = performance.timeOrigin + performance.now();
        old.voter.kill();
        const rest = voters.filter((v) => v !== old.voter);
        const next = await leader(rest, old.term);
        elected.push(next.at - killedAt);
        next.voter.send({ cmd: 'propose-one' });
        const p = await next.voter.next((e) => e.ev === 'proposed');
        committed.push((p.at as number) - killedAt);
        for (const v of voters) v.kill();
      }
      const e = summarize(elected);
      const c = summarize(committed);
      fail.push([`${n} voters`, ms(e?.p50), ms(e?.max), ms(c?.p50), ms(c?.max)]);
    }
    table(
      `Leader process killed (SIGKILL) over WebRTC (${FAILOVER_RUNS} runs each; tick ${TICK_MS} ms: election timeout ${TICK_MS * 10}–${TICK_MS * 20} ms, pre-vote)`,
      ['cluster', 'new leader p50 ms', 'max ms', 'next commit p50 ms', 'max ms'],
      fail,
    );
  } finally {
    for (const v of all) v.kill();
    await server.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}` && !reexecInLoopbackNamespace()) {
  await consensusWebRtcBench();
  process.exit(0);
}
