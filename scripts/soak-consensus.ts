/**
 * The Raft sweep, longer: `npm run soak:consensus -- --seeds 20000` runs that many seeds of
 * the consensus simulation (from --from, default 1) and ends with one line,
 * `soak:consensus: N seeds, F failed`; each failing seed prints what broke. `--seed S
 * --history FILE` replays one seed and writes its client history (one JSON object per line).
 * A seed that failed once goes into test/consensus/sweep-regressions.json.
 */
import { writeFileSync } from 'node:fs';
import { runConsensusSim, sweepOptions } from '../lib/consensus/check/sim.ts';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? undefined : process.argv[i + 1];
}

const one = arg('seed');
const from = Number(one ?? arg('from') ?? 1);
const count = one === undefined ? Number(arg('seeds') ?? 5000) : 1;
const historyFile = arg('history');
if (!Number.isSafeInteger(from) || !Number.isSafeInteger(count) || count < 1) {
  console.error('usage: soak:consensus [--seeds N] [--from S] | --seed S [--history FILE]');
  process.exit(2);
}

let failed = 0;
const started = performance.now();
for (let seed = from; seed < from + count; seed++) {
  const report = runConsensusSim(sweepOptions(seed));
  if (historyFile) writeFileSync(historyFile, report.history.map((h) => JSON.stringify(h)).join('\n') + '\n');
  if (one !== undefined) console.log(JSON.stringify({ ...report, history: report.history.length }));
  if (report.failures.length > 0) {
    failed++;
    console.log(`seed ${seed} failed: ${report.failures.join('; ')}`);
    console.log(`  reproduce: npm run soak:consensus -- --seed ${seed}`);
  }
}
const secs = ((performance.now() - started) / 1000).toFixed(1);
console.log(`soak:consensus: ${count} seeds, ${failed} failed (${secs} s)`);
process.exit(failed > 0 ? 1 : 0);
