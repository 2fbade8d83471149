/**
 * The seed sweep's cases, shared by the test files that run it (two files, so that vitest
 * runs the halves side by side). Each seed draws its own cluster and faults
 * (lib/sim/sweep-scenario.ts) and is judged by lib/sim/sweep-invariants.ts. A failing seed
 * is reproduced with `npx tsx scripts/soak.ts --seed <seed> --verbose`.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { runSweep, type SweepResult } from '../../lib/sim/sweep.ts';
import { type SweepScenario, sweepScenario } from '../../lib/sim/sweep-scenario.ts';
import { opensslVerifier, signWithOpenssl } from './openssl-crypto.ts';

export function sweep(seed: number): Promise<SweepResult> {
  return runSweep(sweepScenario(seed), { verifier: opensslVerifier, prepareIdentity: signWithOpenssl });
}

/**
 * Regression cases: scenarios that failed once, saved as they were drawn (so later changes
 * to the generator do not move them), each with what it caught. `status: fixed` ones must
 * keep every invariant; `open` ones are bugs reported and not fixed yet, asserted to fail
 * as they do (a fix shows up here: then mark the case fixed). `dormant` ones are open bugs
 * whose saved scenario stopped showing them when a change elsewhere moved the run (other
 * traffic, other timings) without fixing them: they must keep every invariant like fixed
 * ones, and the bug stays listed as open (docs and `dormant` say what moved the run).
 */
export interface SweepCase {
  file: string;
  status: 'fixed' | 'open' | 'dormant';
  caught: string;
  fixedIn?: string;
  /** For dormant cases: the change after which the scenario no longer shows the bug. */
  dormant?: string;
  /** For open cases: what every violation says. */
  violation?: string;
  scenario: SweepScenario;
}

const CASES_DIR = fileURLToPath(new URL('./sweep-cases/', import.meta.url));

export const CASES: SweepCase[] = readdirSync(CASES_DIR)
  .filter((f) => f.endsWith('.json'))
  .sort()
  .map((f) => ({ file: f, ...JSON.parse(readFileSync(CASES_DIR + f, 'utf8')) }));

export function runCase(c: SweepCase): Promise<SweepResult> {
  return runSweep(c.scenario, { verifier: opensslVerifier, prepareIdentity: signWithOpenssl });
}

/** Seeds whose scenario, as the generator draws it now, is an open or dormant case: run there instead. */
const OPEN_SEEDS = new Set(
  CASES.filter(
    (c) =>
      c.status !== 'fixed' && JSON.stringify(c.scenario) === JSON.stringify(sweepScenario(c.scenario.seed)),
  ).map((c) => c.scenario.seed),
);

/** Registers one test per seed in [from, to] (open cases aside). */
export function sweepSeeds(from: number, to: number): void {
  const seeds = Array.from({ length: to - from + 1 }, (_, k) => from + k).filter((s) => !OPEN_SEEDS.has(s));
  it.each(seeds)('seed %i keeps every invariant', async (seed) => {
    expect((await sweep(seed)).violations).toEqual([]);
  });
}
