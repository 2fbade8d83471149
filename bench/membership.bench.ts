/**
 * Failure detection, accuracy and load of SWIM + Lifeguard, measured in the deterministic
 * simulator with the default configuration. memberlist 0.2.2 (LAN defaults) figures were
 * measured on these machines (RUNTIME-NOTES): dead at every node after 8.0 s (n=20),
 * 10.2 s (100), 11.9 s (200).
 */
import { runScenario, type ScenarioReport } from '../lib/sim/scenario.ts';
import { fmt, table } from './harness.ts';

const MEMBERLIST_ALL_DEAD_MS: Record<number, number> = { 20: 8_000, 100: 10_200, 200: 11_900 };

function progress(label: string) {
  let last = performance.now();
  return (t: number) => {
    if (performance.now() - last < 10_000) return;
    last = performance.now();
    process.stderr.write(`  ${label}: ${(t / 1000).toFixed(0)} simulated s\n`);
  };
}

/** Progress reports plus the process's peak RSS, sampled at each report. */
function progressWithPeak(label: string) {
  const report = progress(label);
  let peak = 0;
  return {
    progress: (t: number) => {
      peak = Math.max(peak, process.memoryUsage().rss);
      report(t);
    },
    peakMiB: () => peak / 2 ** 20,
  };
}

const ms = (x: number | undefined) => (x === undefined ? 'n/a' : fmt(x));

export async function detectionBench(): Promise<void> {
  const rows: Array<Array<string | number>> = [];
  // `reset`: the crashed nodes' connections close at their neighbours at once (a killed
  // process over TCP) instead of falling silent (WebRTC, power loss).
  const cases: Array<{ n: number; maxLinks: number; crash: number; reset?: boolean }> = [
    { n: 20, maxLinks: 24, crash: 3 },
    { n: 100, maxLinks: 24, crash: 5 },
    { n: 200, maxLinks: 24, crash: 5 },
    { n: 200, maxLinks: 199, crash: 5 },
    { n: 200, maxLinks: 24, crash: 5, reset: true },
  ];
  for (const c of cases) {
    const r = await runScenario({
      nodes: c.n,
      durationMs: 60_000,
      seed: 11,
      crash: c.crash,
      maxLinks: c.maxLinks,
      crashResets: c.reset === true,
      linkAuth: 'trusted',
      progress: progress(`detection n=${c.n}`),
    });
    const all = r.detection.allUnreachableMs;
    const ref = MEMBERLIST_ALL_DEAD_MS[c.n];
    rows.push([
      `${c.n}${c.maxLinks >= c.n - 1 ? ' (full mesh)' : ` (≤${c.maxLinks} links)`}${c.reset ? ', links reset' : ''}`,
      r.detection.crashed,
      ms(r.detection.firstSuspectMs?.mean),
      ms(all?.mean),
      ms(all?.p99),
      ms(all?.max),
      ref === undefined ? '' : fmt(ref),
      ref === undefined || !all ? '' : (all.mean / ref).toFixed(2),
      r.falsePositives.suspected,
      r.falsePositives.unreachable,
    ]);
  }
  table(
    'Failure detection (default config: probe 1 s, ping timeout 0.5 s, suspect 5 s; no loss; latency 10±5 ms)',
    [
      'nodes',
      'crashed',
      'first suspect mean ms',
      'all unreachable mean',
      'p99',
      'max',
      'memberlist ms',
      'ratio',
      'FP susp',
      'FP unr',
    ],
    rows,
  );
}

export async function accuracyBench(): Promise<void> {
  const rows: Array<Array<string | number>> = [];
  for (const lifeguard of [true, false]) {
    const r: ScenarioReport = await runScenario({
      nodes: 200,
      durationMs: 600_000,
      seed: 12,
      loss: 0.05,
      linkAuth: 'trusted',
      heartbeat: { lifeguard },
      progress: progress(`accuracy lifeguard=${lifeguard}`),
    });
    rows.push([
      lifeguard ? 'on' : 'off',
      r.falsePositives.suspected,
      r.falsePositives.unreachable,
      fmt(r.wallMs / 1000, 1),
    ]);
  }
  table(
    'Accuracy: 200 nodes, 5% datagram loss, 10 simulated minutes',
    ['lifeguard', 'suspicions of live nodes', 'live nodes declared unreachable', 'wall s'],
    rows,
  );
}

/**
 * Steady-state load as n grows. Clusters that join for real ("joins") are the honest case
 * but cost O(n²) claim deliveries to simulate (every join claim crosses every link): 5,000
 * nodes would take hours. Preconverged clusters start with every node knowing every other
 * (SimClusterOptions.preconverged) and measure the same protocol once the joins are over;
 * both are run at the sizes where both are affordable, so they can be compared.
 */
export async function loadBench(
  joined: number[] = [100, 1_000],
  preconverged: number[] = [100, 1_000, 5_000],
): Promise<void> {
  const rows: Array<Array<string | number>> = [];
  const runs = [
    ...joined.map((n) => ({ n, preconverged: false })),
    ...preconverged.map((n) => ({ n, preconverged: true })),
  ];
  for (const run of runs) {
    const { n } = run;
    const watch = progressWithPeak(`load n=${n}${run.preconverged ? ' preconverged' : ''}`);
    // After convergence the join burst keeps crossing links for a time that grows with n
    // (each node relays n join claims): steady state is the last minute of a run long
    // enough for it to drain; "from convergence" includes the burst.
    const r = await runScenario({
      nodes: n,
      durationMs: 180_000,
      seed: 13,
      linkAuth: 'trusted',
      tailWindowMs: 60_000,
      preconverged: run.preconverged,
      progress: watch.progress,
    });
    rows.push([
      n,
      run.preconverged ? 'preconverged' : 'joins',
      r.convergedAtMs ?? 'never',
      r.steadyTraffic!.msgsPerNodePerSec,
      r.steadyTraffic!.bytesPerNodePerSec,
      r.traffic.msgsPerNodePerSec,
      r.traffic.bytesPerNodePerSec,
      fmt(r.wallMs / 1000, 1),
      fmt(watch.peakMiB()),
    ]);
  }
  table(
    'Load per node: steady state (last 60 s of 180 s) and from convergence on (with the join burst, if any)',
    [
      'nodes',
      'start',
      'converged ms',
      'steady msgs/s',
      'steady B/s',
      'since conv. msgs/s',
      'since conv. B/s',
      'wall s',
      'process peak RSS MiB (so far)',
    ],
    rows,
  );
}

export async function scaleBench(): Promise<void> {
  const rows: Array<Array<string | number>> = [];
  for (const [n, s] of [
    [1_000, 60],
    [10_000, 30],
  ] as const) {
    const watch = progressWithPeak(`scale n=${n}`);
    const r = await runScenario({
      nodes: n,
      durationMs: s * 1000,
      seed: 14,
      linkAuth: 'trusted',
      progress: watch.progress,
    });
    rows.push([n, s, fmt(r.wallMs / 1000, 1), fmt(watch.peakMiB()), r.convergedAtMs ?? 'not within the run']);
  }
  table(
    'Scale (one process, 2 cores)',
    ['nodes', 'simulated s', 'wall s', 'peak RSS MiB', 'converged ms'],
    rows,
  );
}
