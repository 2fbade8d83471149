import { SimCluster } from '../lib/sim/mod.ts';
const c = await SimCluster.create({ nodes: 300, seed: 1, maxLinks: 24, network: { linkAuth: 'trusted' } });
const net: any = c.net;
const origDial = net.dial.bind(net);
net.dial = (from: any, addr: string, opts: any) => { if (from.host.address === 'h3') console.log(c.now.toFixed(0), 'dial', addr); origDial(from, addr, opts); };
const j = c.nodes[3]!;
const origDialed = (j.node as any);
const tr: any = (j.node as any);
j.node.on('link-up', (e) => console.log(c.now.toFixed(0), 'link-up', e.nodeId.slice(0,6)));
j.node.on('link-down', (e) => console.log(c.now.toFixed(0), 'link-down', e.nodeId.slice(0,6), e.reason));
for (let s = 0; s < 50; s++) { c.runFor(100); }
console.log('state', j.node.state);
