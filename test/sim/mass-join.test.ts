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
});
