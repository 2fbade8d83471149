/**
 * The randomized Raft sweep: 1,000 seeds of a simulated key/value cluster (3 or 5 voters,
 * 3–5 clients; every third seed also adds and removes voters, with a spare node to add) with
 * message loss, duplication, reordering and delay, partitions, and crashes with restarts
 * from storage (lib/consensus/check/sim.ts). Each seed checks the five properties of
 * Figure 3 on every ready record, the client history for linearizability, liveness (after
 * the network heals, a proposal commits within 10 election timeouts) and that the replicas
 * converge. A failing seed is printed; once fixed, it joins sweep-regressions.json. More
 * seeds: `npm run soak:consensus -- --seeds 20000`.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { type ConsensusSimOptions, runConsensusSim, sweepOptions } from '../../lib/consensus/check/sim.ts';

const SEEDS = 1000;
const BATCH = 100;

/** A run that once failed: its options (a seed and what differs from the defaults) and what it found. */
interface Regression {
  options: ConsensusSimOptions;
  found: string;
}

const regressions: Regression[] = JSON.parse(
  readFileSync(new URL('./sweep-regressions.json', import.meta.url), 'utf8'),
);

function failuresOf(runs: ConsensusSimOptions[]): string[] {
  const out: string[] = [];
  for (const options of runs) {
    const report = runConsensusSim(options);
    if (report.failures.length > 0) out.push(`${JSON.stringify(options)}: ${report.failures.join('; ')}`);
  }
  return out;
}

describe('Raft sweep: safety, linearizability and liveness under faults', () => {
  for (let from = 1; from <= SEEDS; from += BATCH) {
    it(`seeds ${from}–${from + BATCH - 1}`, () => {
      const failures = failuresOf(Array.from({ length: BATCH }, (_, i) => sweepOptions(from + i)));
      if (failures.length > 0) console.log(failures.join('\n'));
      expect(failures).toEqual([]);
    });
  }

  it('regression seeds (each found a bug once)', () => {
    expect(regressions.length).toBeGreaterThan(0);
    expect(failuresOf(regressions.map((r) => r.options))).toEqual([]);
  });

  it('without faults, a run elects one leader and commits steadily; a seed reproduces its run', () => {
    const quiet = { loss: 0, duplicate: 0, reorder: 0, crash: false, partition: false };
    const report = runConsensusSim({ seed: 1, voters: 3, clients: 3, faults: quiet });
    expect(report.failures).toEqual([]);
    expect(report.leaderElections).toBe(1);
    expect(report.commits).toBeGreaterThan(50);
    // Only the first election (one to two election timeouts of 100 ms) is without a leader.
    expect(report.unavailableMs).toBeLessThanOrEqual(200);
    expect(report.history.every((h) => h.return !== null)).toBe(true);
    expect(runConsensusSim(sweepOptions(7))).toEqual(runConsensusSim(sweepOptions(7)));
  });
});
