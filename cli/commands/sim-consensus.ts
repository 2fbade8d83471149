/**
 * `weftmesh sim --consensus`: a simulated Raft key/value cluster (lib/consensus/check/sim.ts)
 * with voters, clients issuing random reads, writes and cas on a few keys, and faults; its
 * report adds `consensus` figures, and `--history FILE` writes the client-visible history.
 */
import { writeFile } from 'node:fs/promises';
import { type ConsensusSimReport, runConsensusSim } from '../../lib/consensus/check/sim.ts';
import { type FlagValues, intFlag, numberFlag } from '../command.ts';

export const consensusUsage = `
  --consensus        simulate a Raft key/value cluster instead (weftmesh/consensus), with:
    --voters N       voters (1..9, default 3)
    --clients N      concurrent clients issuing random read/write/cas on 3 keys (0..64, default 3)
    --duration S     simulated seconds of faults (default 10); then the network heals
    --loss P         message loss probability 0..1 (default 0)
    --partition      split the voters at random times during the faulty phase
    --crash K        K > 0: crash voters and restart them from their storage at random times
    --history FILE   write the client history, one JSON object per operation
  The report adds consensus.{leaderElections, commits, commitLatencyMs {p50, p99},
  unavailableMs, safetyViolations}: five Raft properties checked on every step, the history
  checked for linearizability, liveness after healing.`;

/** The JSON report of a consensus run. */
export function consensusReport(r: ConsensusSimReport, voters: number, clients: number, wallMs: number) {
  return {
    seed: r.seed,
    voters,
    clients,
    wallMs: Math.round(wallMs),
    operations: r.operations,
    consensus: {
      leaderElections: r.leaderElections,
      commits: r.commits,
      commitLatencyMs: r.commitLatencyMs,
      unavailableMs: r.unavailableMs,
      safetyViolations: r.safetyViolations,
    },
    recoveryMs: r.recoveryMs,
    failures: r.failures,
  };
}

export async function simConsensus(values: FlagValues): Promise<number> {
  const voters = intFlag(values.voters, 'voters', 3, 1, 9);
  const clients = intFlag(values.clients, 'clients', 3, 0, 64);
  const history = typeof values.history === 'string' ? values.history : undefined;
  const started = performance.now();
  const r = runConsensusSim({
    seed: intFlag(values.seed, 'seed', 1, 0, Number.MAX_SAFE_INTEGER),
    voters,
    clients,
    durationMs: intFlag(values.duration, 'duration', 10, 1, 3600) * 1000,
    faults: {
      loss: numberFlag(values.loss, 'loss', 0, 0, 1),
      duplicate: 0,
      reorder: 0,
      partition: values.partition === true,
      crash: intFlag(values.crash, 'crash', 0, 0, 1_000) > 0,
    },
  });
  const report = consensusReport(r, voters, clients, performance.now() - started);
  if (history !== undefined)
    await writeFile(history, r.history.map((h) => `${JSON.stringify(h)}\n`).join(''));
  if (values.json) process.stdout.write(`${JSON.stringify(report)}\n`);
  else {
    const c = report.consensus;
    process.stdout.write(
      [
        `weftmesh sim --consensus: ${voters} voters, ${clients} clients, seed ${r.seed}, ${r.operations} operations`,
        `  leader elections:    ${c.leaderElections}`,
        `  commits:             ${c.commits}, latency p50 ${c.commitLatencyMs.p50.toFixed(1)} ms, p99 ${c.commitLatencyMs.p99.toFixed(1)} ms`,
        `  without a leader:    ${c.unavailableMs} ms`,
        `  after healing:       ${r.recoveryMs === null ? 'no commit' : `first commit after ${r.recoveryMs.toFixed(0)} ms`}`,
        `  safety violations:   ${c.safetyViolations}${r.failures.map((f) => `\n    ${f}`).join('')}`,
        ...(history !== undefined ? [`  history written to ${history}`] : []),
      ].join('\n') + '\n',
    );
  }
  return r.failures.length > 0 ? 1 : 0;
}
