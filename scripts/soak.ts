/**
 * The seed sweep, longer: `npm run soak -- --seeds 10000` runs that many seeds (from
 * --from, default 1) and ends with one line, `soak: N seeds, F failed`; each failing seed
 * prints what broke and the command that reproduces it. `--seed S --verbose` replays one
 * seed with its scenario and every log line; `--scenario file.json` runs a saved scenario
 * (a regression case of test/sim/sweep-cases/).
 */
import { readFileSync } from 'node:fs';
import { runSweep } from '../lib/sim/sweep.ts';
import { type SweepScenario, sweepScenario } from '../lib/sim/sweep-scenario.ts';
import { opensslVerifier, signWithOpenssl } from '../test/sim/openssl-crypto.ts';

/** A scenario saved as JSON: a regression case ({ scenario, … }) or the scenario itself. */
function loadScenario(path: string): SweepScenario {
  const data = JSON.parse(readFileSync(path, 'utf8'));
  return data.scenario ?? data;
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? undefined : process.argv[i + 1];
}

const verbose = process.argv.includes('--verbose');
const file = arg('scenario');
const saved = file === undefined ? undefined : loadScenario(file);
const one = saved ? String(saved.seed) : arg('seed');
const from = one === undefined ? Number(arg('from') ?? 1) : Number(one);
const count = one === undefined ? Number(arg('seeds') ?? 1000) : 1;
if (!Number.isSafeInteger(from) || !Number.isSafeInteger(count) || count < 1) {
  console.error(
    'usage: soak [--seeds N] [--from S] | --seed S [--verbose] | --scenario file.json [--verbose]',
  );
  process.exit(2);
}

let failed = 0;
let detections = 0;
let slowest = 0;
const started = performance.now();
for (let seed = from; seed < from + count; seed++) {
  const scenario = saved ?? sweepScenario(seed);
  if (verbose) console.log(JSON.stringify(scenario, null, 1));
  const result = await runSweep(scenario, {
    verifier: opensslVerifier,
    prepareIdentity: signWithOpenssl,
    ...(verbose ? { log: (line: string) => console.log(line) } : {}),
  });
  if (verbose) console.log(JSON.stringify({ ...result, violations: undefined }));
  detections += result.stats.detectionsChecked;
  slowest = Math.max(slowest, result.stats.slowestDetectionMs);
  if (result.violations.length > 0) {
    failed++;
    const again = file ? `--scenario ${file}` : `--seed ${seed}`;
    console.log(
      `seed ${seed} FAILED (${result.violations.length}): reproduce with npx tsx scripts/soak.ts ${again} --verbose`,
    );
    for (const v of result.violations.slice(0, 5)) console.log(`  ${v}`);
  } else if (!verbose && (seed - from + 1) % 100 === 0) {
    console.error(
      `… ${seed - from + 1} seeds, ${failed} failed, ${Math.round((performance.now() - started) / 1000)} s`,
    );
  }
}
const seconds = Math.round((performance.now() - started) / 1000);
console.error(
  `${seconds} s; crash detections judged against the bound: ${detections}, slowest ${Math.round(slowest)} ms`,
);
console.log(`soak: ${count} seeds, ${failed} failed`);
process.exitCode = failed > 0 ? 1 : 0;
