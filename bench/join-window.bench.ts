/**
 * Joins spread over a window (issue 13's large-cluster target: 10,000 nodes joining over
 * 30 s converge within 60 simulated seconds, in under 10 minutes of wall time on a 2-core
 * machine), as `weftmesh sim --nodes N --join-window S` runs them: wall and CPU time, the
 * simulated time until every node sees every other Active, frames and bytes per node per
 * second from convergence on, peak RSS, stranded nodes and newcomers that waited for the
 * quota. The default is small (1,000 nodes over 10 s); `npm run bench join-window-10000` runs
 * the target (long, and ~10+ GB of memory) with the newcomer quota raised to 30,000 a minute:
 * 333 joins a second is far beyond the default 20 (heartbeat.newMembersPerMinute).
 */
import { runScenario } from '../lib/sim/scenario.ts';
import { fmt, table } from './harness.ts';

interface Case {
  nodes: number;
  windowS: number;
  durationS: number;
  /** heartbeat.newMembersPerMinute and …PerLinkPerMinute (default: the defaults). */
  newcomersPerMinute?: number;
}

export async function joinWindowBench(cases: Case[]): Promise<void> {
  const rows: Array<Array<string | number>> = [];
  for (const c of cases) {
    let peak = 0;
    const cpu = process.cpuUsage();
    const r = await runScenario({
      nodes: c.nodes,
      durationMs: c.durationS * 1000,
      joinWindowMs: c.windowS * 1000,
      seed: 1,
      ...(c.newcomersPerMinute === undefined
        ? {}
        : {
            heartbeat: {
              newMembersPerMinute: c.newcomersPerMinute,
              newMembersPerLinkPerMinute: c.newcomersPerMinute,
            },
          }),
      progress: () => {
        peak = Math.max(peak, process.memoryUsage().rss);
      },
    });
    const used = process.cpuUsage(cpu);
    rows.push([
      c.nodes,
      c.windowS,
      c.durationS,
      fmt(r.wallMs / 1000, 1),
      fmt((used.user + used.system) / 1e6, 1),
      r.convergedAtMs === null ? 'not within the run' : fmt(r.convergedAtMs),
      fmt(r.traffic.msgsPerNodePerSec, 1),
      fmt(r.traffic.bytesPerNodePerSec),
      fmt(peak / 2 ** 20),
      r.config.newcomerQuota.perNode,
      `${r.joins.stranded} / ${r.joins.newcomersWaited}`,
    ]);
  }
  table(
    'Joins spread over a window (simulator, trusted links above 200 nodes, seed 1)',
    [
      'nodes',
      'window s',
      'simulated s',
      'wall s',
      'CPU s',
      'converged ms',
      'msgs/s/node',
      'B/s/node',
      'peak RSS MiB',
      'quota/min',
      'stranded / waited',
    ],
    rows,
  );
}
