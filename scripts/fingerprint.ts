/**
 * A behaviour fingerprint for refactoring: `npx tsx scripts/fingerprint.ts [from] [to]`
 * prints three simulation reports (crash + loss + writes, partition + writes, sparse links)
 * and, for sweep seeds from..to (default 1..12), a digest of every log line with the
 * invariants' figures. A change meant to keep behaviour must leave the output byte-identical
 * (`diff` it against the output before the change).
 */
import { createHash } from 'node:crypto';
import { runScenario, type ScenarioOptions } from '../lib/sim/scenario.ts';
import { runSweep } from '../lib/sim/sweep.ts';
import { sweepScenario } from '../lib/sim/sweep-scenario.ts';
import { opensslVerifier, signWithOpenssl } from '../test/sim/openssl-crypto.ts';

const out: Record<string, unknown> = {};
const sims: ScenarioOptions[] = [
  { nodes: 30, durationMs: 60_000, seed: 1, crash: 2, loss: 0.05, writes: 40 },
  { nodes: 20, durationMs: 60_000, seed: 7, partition: true, writes: 30 },
  { nodes: 40, durationMs: 40_000, seed: 3, crash: 3, maxLinks: 6 },
];
for (const s of sims) {
  const { wallMs: _wall, ...report } = await runScenario(s);
  out[JSON.stringify(s)] = report;
}
for (let seed = Number(process.argv[2] ?? 1); seed <= Number(process.argv[3] ?? 12); seed++) {
  const h = createHash('sha256');
  const res = await runSweep(sweepScenario(seed), {
    verifier: opensslVerifier,
    prepareIdentity: signWithOpenssl,
    log: (l: string) => h.update(`${l}\n`),
  });
  out[`sweep ${seed}`] = { log: h.digest('hex').slice(0, 16), stats: res.stats, violations: res.violations };
}
console.log(JSON.stringify(out, null, 1));
