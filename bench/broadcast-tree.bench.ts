/**
 * The epidemic broadcast tree in simulation: copies per delivery and delivery latency of
 * application broadcasts as the tree forms (one sender), once it has formed (20 senders at
 * once), and when 20 senders fire together on a fresh mesh (the burst case).
 */
import { SimCluster } from '../lib/sim/mod.ts';
import { summarize } from '../lib/sim/stats-summary.ts';
import { utf8 } from '../lib/util/bytes.ts';
import { table } from './harness.ts';

const NODES = 100;

async function cluster(seed: number): Promise<SimCluster> {
  const c = await SimCluster.create({
    nodes: NODES,
    seed,
    maxLinks: 24,
    network: { latency: { meanMs: 10, jitterMs: 5 }, linkAuth: 'trusted' },
  });
  while (c.observer.convergedAtMs === undefined && c.now < 120_000) c.runFor(500);
  c.runFor(3_000);
  return c;
}

/** Runs rounds of broadcasts (each sender once per second) and measures them. */
async function phase(
  c: SimCluster,
  name: string,
  senders: number[],
  rounds: number,
): Promise<Array<string | number>> {
  const sentAt = new Map<string, number>();
  const latencies: number[] = [];
  let deliveries = 0;
  const offs = c.nodes.map((x) =>
    x.node.subscribe('bench', (m) => {
      const at = sentAt.get(new TextDecoder().decode(m.data));
      if (at !== undefined) latencies.push(c.now - at);
      deliveries++;
    }),
  );
  const before = totals(c);
  for (let r = 0; r < rounds; r++) {
    for (const s of senders) {
      const key = `${name}/${s}/${r}`;
      sentAt.set(key, c.now);
      c.nodes[s]!.node.broadcast('bench', utf8(key));
    }
    for (let t = 0; t < 1_000; t += 50) {
      c.runFor(50);
      await new Promise((r) => setImmediate(r));
    }
  }
  for (let t = 0; t < 3_000; t += 50) {
    c.runFor(50);
    await new Promise((r) => setImmediate(r));
  }
  for (const off of offs) off();
  const after = totals(c);
  const expected = senders.length * rounds * (NODES - 1);
  const lat = summarize(latencies)!;
  return [
    name,
    `${deliveries}/${expected}`,
    ((after.duplicates - before.duplicates) / Math.max(1, after.delivered - before.delivered)).toFixed(2),
    lat.p50,
    lat.p99,
    (after.eager / NODES).toFixed(1),
    after.grafts - before.grafts,
    after.announcements - before.announcements,
  ];
}

function totals(c: SimCluster) {
  const t = { delivered: 0, duplicates: 0, eager: 0, grafts: 0, announcements: 0 };
  for (const x of c.nodes) {
    const b = x.node.metrics().broadcast;
    t.delivered += b.kinds.app.delivered;
    t.duplicates += b.kinds.app.duplicates;
    t.eager += b.kinds.app.eagerLinks;
    t.grafts += b.graftsSent;
    t.announcements += b.announcementsSent;
  }
  return t;
}

export async function broadcastTreeBench(): Promise<void> {
  const wall = performance.now();
  const settled = await cluster(31);
  const twenty = Array.from({ length: 20 }, (_, k) => k * 5);
  const rows = [
    await phase(settled, 'one sender, tree forming (rounds 1-6)', [0], 6),
    await phase(settled, 'one sender, tree formed (rounds 7-12)', [0], 6),
    await phase(settled, '20 senders at once, tree formed', twenty, 5),
  ];
  const fresh = await cluster(32);
  rows.push(await phase(fresh, '20 senders at once on a fresh mesh', twenty, 5));
  table(
    `Broadcast tree: ${NODES} simulated nodes, ≤24 links, latency 10±5 ms (${Math.round((performance.now() - wall) / 1000)} s wall)`,
    [
      'phase',
      'delivered',
      'copies/delivery',
      'p50 ms',
      'p99 ms',
      'eager links/node',
      'ids grafted',
      'ids announced',
    ],
    rows,
  );
}
