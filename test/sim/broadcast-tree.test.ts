// The epidemic broadcast tree in a simulated mesh: many senders share one tree, copies fall
// to about one per delivery once it settles, and it repairs itself when links go.
import { describe, expect, it } from 'vitest';
import { SimCluster } from '../../lib/sim/mod.ts';
import { utf8 } from '../../lib/util/bytes.ts';
import { broadcastCounts, converged, runUntil, settle } from './helpers.ts';

/** Rounds `from`..`to`-1 in which each of `senders` broadcasts once, a second apart. */
async function rounds(c: SimCluster, senders: number[], from: number, to: number): Promise<void> {
  for (let r = from; r < to; r++) {
    for (const s of senders) c.nodes[s]!.node.broadcast('load', utf8(`${s}/${r}`));
    await settle(c, 1_000);
  }
  await settle(c, 2_000);
}

/** Counts deliveries per receiving node and message. */
function recorder(c: SimCluster): Map<string, number> {
  const got = new Map<string, number>();
  for (const x of c.nodes)
    x.node.subscribe('load', (m) => {
      const key = `${x.index}:${new TextDecoder().decode(m.data)}`;
      got.set(key, (got.get(key) ?? 0) + 1);
    });
  return got;
}

describe('epidemic broadcast tree in simulation', () => {
  it('join news travels the tree: 60 nodes joining at once get each member’s claim about once, and gossip carries none of it', async () => {
    const c = await SimCluster.create({ nodes: 60, seed: 13, maxLinks: 8, network: { linkAuth: 'trusted' } });
    runUntil(c, () => converged(c), 60_000);
    expect(converged(c)).toBe(true);
    let delivered = 0;
    let duplicates = 0;
    let gossip = 0;
    for (const x of c.nodes) {
      const m = x.node.metrics();
      delivered += m.broadcast.kinds.claims.delivered;
      duplicates += m.broadcast.kinds.claims.duplicates;
      gossip += m.gossipMessages;
    }
    // Every node took every other member's claim once (its own first claim aside).
    expect(delivered).toBeGreaterThanOrEqual(60 * 59);
    // Flooded by gossip (λ·log₂ n sends of each claim) this was about 8 copies per delivery.
    expect(duplicates / delivered).toBeLessThan(1.5);
    // Gossip ticks carry only the joiners' own re-announcements, not the news of others.
    expect(gossip).toBeLessThan(delivered / 10);
  }, 120_000);

  it('the tree forms under one sender’s traffic (copies fall to none, one eager link per tree edge), then serves 20 concurrent senders with ≤ 1.2 copies per delivery, each broadcast exactly once everywhere', async () => {
    const c = await SimCluster.create({ nodes: 30, seed: 11, maxLinks: 8, network: { linkAuth: 'trusted' } });
    runUntil(c, () => converged(c), 60_000);
    await settle(c, 3_000);
    const got = recorder(c);
    // Every link starts eager; the join news (every member's claim, once each) pruned some
    // cycles away (fewer the sooner the cluster converged: it can converge before link upkeep
    // has linked its members), and the first application rounds prune what copies remain.
    const prunes = () => c.nodes.reduce((n, x) => n + x.node.metrics().broadcast.prunesSent, 0);
    const afterJoin = prunes();
    await rounds(c, [0], 0, 6);
    expect(prunes()).toBeGreaterThan(afterJoin);
    const warm = broadcastCounts(c, 'app');
    // A spanning tree: as many eager link ends as two per node but one.
    const eager = c.nodes.reduce((n, x) => n + x.node.metrics().broadcast.eagerLinks, 0);
    expect(eager).toBe(2 * (c.nodes.length - 1));
    const senders = Array.from({ length: 20 }, (_, k) => k);
    await rounds(c, senders, 6, 10);
    const all = broadcastCounts(c, 'app');
    const steady = (all.duplicates - warm.duplicates) / (all.delivered - warm.delivered);
    expect(steady).toBeLessThanOrEqual(1.2);
    for (const s of senders)
      for (let r = 6; r < 10; r++)
        for (const x of c.nodes) if (x.index !== s) expect(got.get(`${x.index}:${s}/${r}`)).toBe(1);
  }, 240_000);

  it('nodes crashed under a settled tree: the next broadcast still reaches every live node exactly once', async () => {
    const c = await SimCluster.create({ nodes: 24, seed: 12, maxLinks: 6, network: { linkAuth: 'trusted' } });
    runUntil(c, () => converged(c), 60_000);
    await settle(c, 3_000);
    const got = recorder(c);
    await rounds(c, [0, 5, 10], 0, 3);
    // Crash three nodes: their eager links vanish from the tree at once.
    for (const i of [3, 11, 17]) c.crash(i);
    await settle(c, 500);
    c.nodes[0]!.node.broadcast('load', utf8('after'));
    await settle(c, 5_000);
    const live = c.nodes.filter((x) => ![0, 3, 11, 17].includes(x.index));
    for (const x of live) expect(got.get(`${x.index}:after`)).toBe(1);
  }, 240_000);

  it('a tree split while idle heals under 20 concurrent senders: each broadcast once everywhere, ≤ 1.2 copies per delivery, the tree whole again', async () => {
    // A tree formed under one sender, then idle: link upkeep swaps a tree edge for a new link
    // and cuts the tree in two (seed 31: ten nodes cut off 3 s in). 20 senders then find
    // both parts missing each other's broadcasts at once, and grafting them mends the cut.
    const c = await SimCluster.create({
      nodes: 100,
      seed: 31,
      maxLinks: 24,
      network: { latency: { meanMs: 10, jitterMs: 5 }, linkAuth: 'trusted' },
    });
    runUntil(c, () => c.observer.convergedAtMs !== undefined, 60_000, 500);
    c.runFor(3_000);
    const got = recorder(c);
    const phase = async (senders: number[], from: number, to: number) => {
      for (let r = from; r < to; r++) {
        for (const s of senders) c.nodes[s]!.node.broadcast('load', utf8(`${s}/${r}`));
        await settle(c, 1_000);
      }
      await settle(c, 3_000);
    };
    await phase([0], 0, 6);
    await phase([0], 6, 12);
    const grafts = () => c.nodes.reduce((n, x) => n + x.node.metrics().broadcast.graftsSent, 0);
    const before = { ...broadcastCounts(c, 'app'), grafts: grafts() };
    const senders = Array.from({ length: 20 }, (_, k) => k * 5);
    await phase(senders, 12, 15);
    const after = broadcastCounts(c, 'app');
    // The cut was there: its repair took grafts.
    expect(grafts() - before.grafts).toBeGreaterThan(20);
    for (const s of senders)
      for (let r = 12; r < 15; r++)
        for (const x of c.nodes) if (x.index !== s) expect(got.get(`${x.index}:${s}/${r}`)).toBe(1);
    // When copies answering a graft pruned the link just grafted, this run made 3.0 copies per
    // delivery (the bench 3.5, every link lazy at the end, every broadcast a graft).
    const copies = (after.duplicates - before.duplicates) / (after.delivered - before.delivered);
    expect(copies).toBeLessThanOrEqual(1.2);
    const eager = c.nodes.reduce((n, x) => n + x.node.metrics().broadcast.eagerLinks, 0);
    expect(eager).toBeGreaterThanOrEqual(2 * (c.nodes.length - 1));
  }, 240_000);
});
