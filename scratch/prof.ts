import { SimCluster } from '../lib/sim/mod.ts';
const n = Number(process.argv[2] ?? 1000);
const c = await SimCluster.create({ nodes: n, seed: 1, maxLinks: 24, network: { linkAuth: 'trusted' } });
const t0 = performance.now();
c.runFor(Number(process.argv[3] ?? 10000));
console.log('wall', performance.now() - t0, 'events?', c.net.totalTraffic());
