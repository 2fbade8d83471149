import { SimCluster } from '../lib/sim/mod.ts';
const n = Number(process.argv[2] ?? 10);
const t0 = performance.now();
const c = await SimCluster.create({ nodes: n, seed: 1, maxLinks: Number(process.argv[3] ?? 24), network: { linkAuth: 'trusted' } });
for (let s = 0; s < 30; s++) {
  c.runFor(1000);
  console.log(c.now, 'conv', c.observer.convergence().toFixed(3), 'links', c.nodes.slice(0,3).map(x=>x.node.links().length), 'members', c.nodes[n-1]!.node.members().length);
  if (c.observer.convergedAtMs !== undefined) break;
}
console.log('converged at', c.observer.convergedAtMs, 'wall', (performance.now()-t0).toFixed(0));
c.crash(3);
c.runFor(20000);
console.log(c.observer.detections.map(d => ({ fs: d.firstSuspectMs, all: d.allUnreachableMs })), 'fp', c.observer.suspectedLive, c.observer.unreachableLive.size);
const m = c.nodes[0]!.node.metrics();
console.log(m);
