import { SimCluster } from '../lib/sim/mod.ts';
const n = Number(process.argv[2] ?? 300);
const c = await SimCluster.create({ nodes: n, seed: 1, maxLinks: 24, network: { linkAuth: 'trusted' } });
const seed = c.nodes[0]!.node;
let ex = 0, up = 0, down = 0;
(seed as any).on('link-up', () => up++);
(seed as any).on('link-down', () => down++);
for (let s = 0; s < 60; s++) {
  c.runFor(250);
  const joining = c.nodes.filter(x => x.node.state === 'Joining').length;
  const lm = (seed as any);
  console.log(c.now, 'joining', joining, 'seed metrics pushPulls', seed.metrics().pushPulls, 'msgsIn', seed.metrics().messagesIn, 'conns', c.net.connections);
}
