import { SimCluster } from '../lib/sim/mod.ts';
const n = Number(process.argv[2] ?? 10);
const c = await SimCluster.create({ nodes: n, seed: 1, maxLinks: Number(process.argv[3] ?? 24), network: { linkAuth: 'trusted' }, joinWindowMs: Number(process.argv[4] ?? 0) });
for (let s = 0; s < 40; s++) {
  c.runFor(1000);
  const joining = c.nodes.filter(x => x.node.state === 'Joining').length;
  const known = c.nodes.map(x => x.node.members().length).sort((a,b)=>a-b);
  const links = c.nodes.map(x => x.node.links().length).sort((a,b)=>a-b);
  const q = c.nodes.map(x => x.node.metrics().claimsApplied);
  console.log(c.now, 'conv', c.observer.convergence().toFixed(3), 'joining', joining, 'known min/med', known[0], known[n>>1], 'links min/med/max', links[0], links[n>>1], links[n-1]);
  if (c.observer.convergedAtMs !== undefined) break;
}
console.log('converged at', c.observer.convergedAtMs);
