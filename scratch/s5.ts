import { SimCluster } from '../lib/sim/mod.ts';
const n = Number(process.argv[2] ?? 300);
const c = await SimCluster.create({ nodes: n, seed: 1, maxLinks: 24, network: { linkAuth: 'trusted' } });
c.runFor(Number(process.argv[3] ?? 20000));
const counts: Record<string, number> = {};
for (const x of c.nodes) for (const m of x.node.members()) counts[m.state] = (counts[m.state] ?? 0) + 1;
console.log(counts, 'converged', c.observer.convergedAtMs, 'fp', c.observer.suspectedLive, c.observer.unreachableLive.size);
const tot = c.nodes.reduce((a, x) => { const m = x.node.metrics(); a.s += m.suspicions; a.r += m.refutations; return a; }, { s: 0, r: 0 });
console.log(tot);
