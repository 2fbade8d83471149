// Many nodes joining at once through one seed (issue 13: converge no slower than memberlist's
// 5.1-5.9 s at 200 nodes). The seed is full after its first links, so most joiners get a
// transient link for their join exchange and are then left with none; the news that went
// along links meanwhile passed them by. Each catches up through exchanges over its first
// links, whichever end dialled, instead of at its follow-up exchange 3-6 s later.
import { describe, expect, it } from 'vitest';
import { SimCluster } from '../../lib/sim/mod.ts';

/** Simulated ms until every node sees every other Active (the observer's convergence). */
function convergence(c: SimCluster, maxMs: number): number | undefined {
  while (c.observer.convergedAtMs === undefined && c.now < maxMs) c.runFor(100);
  return c.observer.convergedAtMs;
}

describe('mass join', () => {
  it('200 nodes joining at once through one seed all see each other Active within 4 s of simulated time', async () => {
    const c = await SimCluster.create({
      nodes: 200,
      seed: 1,
      maxLinks: 24,
      network: { linkAuth: 'trusted' },
    });
    const at = convergence(c, 10_000);
    expect(at).toBeDefined();
    expect(at!).toBeLessThan(4_000);
  }, 120_000);

  it('stragglers that link to each other first still catch up: 40 nodes with 8 links each converge within 3 s', async () => {
    // Here the first neighbour of a node that had no link is often another such node, which
    // knows no more: one exchange with it is not enough (4.1 s; before the catch-up 5.8 s).
    const c = await SimCluster.create({ nodes: 40, seed: 3, maxLinks: 8, network: { linkAuth: 'trusted' } });
    const at = convergence(c, 10_000);
    expect(at).toBeDefined();
    expect(at!).toBeLessThan(3_000);
  });

  it('a join faster than the newcomer quota: newcomers wait for it and go in at its rate, and the broadcast tree keeps its shape', async () => {
    // 150 nodes over 1.5 s against a quota of 60 a minute. Refused, the claims came back through
    // grafts and exchanges, each copy a duplicate pruning a tree edge: 4.6 copies per delivery
    // and 36 messages a node a second over 30 s (2.4 and 20 now; 0.5 and 3.2 where the quota
    // is not reached). The seed's joiners beyond its direct budget (60) wait too, and get in
    // through the members they dial next.
    const c = await SimCluster.create({
      nodes: 150,
      seed: 1,
      joinWindowMs: 1_500,
      heartbeat: { newMembersPerMinute: 60, newMembersPerLinkPerMinute: 60 },
      network: { linkAuth: 'trusted' },
    });
    const sum = (f: (m: ReturnType<SimCluster['nodes'][number]['node']['metrics']>) => number) =>
      c.nodes.reduce((a, n) => a + f(n.node.metrics()), 0);
    c.runFor(4_000);
    // Every joiner is in (Active on its side) within 2.5 s of the last one starting.
    expect(c.nodes.every((n) => n.node.state === 'Active')).toBe(true);
    c.runFor(26_000);
    expect(sum((m) => m.membersRefused)).toBe(0);
    expect(sum((m) => m.membersWaited)).toBeGreaterThan(2_000);
    const claims = {
      delivered: sum((m) => m.broadcast.kinds.claims.delivered),
      copies: sum((m) => m.broadcast.kinds.claims.duplicates),
    };
    expect(claims.copies / claims.delivered).toBeLessThan(3.2);
    const messages = sum((m) => m.messagesIn) / 150 / 30;
    expect(messages).toBeLessThan(27);
    // Each node took in the burst (60) and about one a second since (relayed newcomers; joiners have a budget of their own).
    for (const n of c.nodes) expect(n.node.members().length).toBeGreaterThanOrEqual(60 + 25);
    // All go in: at one a second, 90 s after the burst, later where a claim waited past 60 s
    // and came back with an exchange (151 s).
    const at = convergence(c, 200_000);
    expect(at).toBeDefined();
  }, 120_000);

  it('a full seed serves each joiner one transient link: 300 nodes over 1 s through one seed of 8 links are all in 3 s after the last start', async () => {
    // Joined, a node dials members for links of its own, the seed among them, which may not
    // hold it reachable yet (its claim waits for the quota): a second transient link served no
    // exchange and held a slot for 5 s. Soon every slot was so held, and the joiners behind
    // were turned away: 80 of 300 still Joining here before a served peer got no second one.
    const c = await SimCluster.create({
      nodes: 300,
      seed: 1,
      maxLinks: 8,
      joinWindowMs: 1_000,
      heartbeat: { newMembersPerMinute: 60, newMembersPerLinkPerMinute: 15 },
      network: { linkAuth: 'trusted' },
    });
    c.runFor(4_000);
    expect(c.nodes.filter((n) => n.node.state !== 'Active')).toHaveLength(0);
  }, 60_000);
});
