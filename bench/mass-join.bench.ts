/**
 * Mass join (issue 13): n nodes join through one seed at t = 0 in the deterministic simulator
 * (handshake links, default configuration); the figure is the simulated time until every node
 * sees every other Active, over three seeds. memberlist 0.2.2 with its LAN defaults took
 * 5.1–5.9 s for 200 nodes on these machines (issue 13).
 */
import { runScenario } from '../lib/sim/scenario.ts';
import { fmt, table } from './harness.ts';

const MEMBERLIST_MS: Record<number, string> = { 200: '5,100–5,900' };
const SEEDS = [1, 2, 3];

export async function massJoinBench(): Promise<void> {
  const rows: Array<Array<string | number>> = [];
  for (const n of [100, 200]) {
    const times: string[] = [];
    for (const seed of SEEDS) {
      const r = await runScenario({ nodes: n, durationMs: 20_000, seed });
      times.push(r.convergedAtMs === null ? 'not in 20 s' : fmt(r.convergedAtMs));
    }
    rows.push([n, ...times, MEMBERLIST_MS[n] ?? 'n/a']);
  }
  table(
    'Mass join through one seed (simulator, all join at t = 0): ms until every node sees every other Active',
    ['nodes', ...SEEDS.map((s) => `seed ${s}`), 'memberlist 0.2.2 ms'],
    rows,
  );
}
