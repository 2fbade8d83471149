// The join fast path (issue 13): a member that a newcomer dials sends it the whole membership
// as the link comes up (PushPull.welcome) instead of answering its digest a round trip later,
// and the newcomer hands that member its own claim at once, which the tree spreads.
import { describe, expect, it } from 'vitest';
import { NodeState } from '../../lib/membership/node-state.ts';
import { SimCluster } from '../../lib/sim/cluster.ts';

const LATENCY = 100;

describe('the join welcome', () => {
  it('the last of 8 newcomers is Active as its first link comes up, and every member sees it Active two hops later', async () => {
    const c = await SimCluster.create({
      nodes: 8,
      seed: 1,
      joinWindowMs: 1_000,
      network: { latency: { meanMs: LATENCY, jitterMs: 0 } },
    });
    const last = c.nodes.at(-1)!;
    const id = last.node.nodeId;
    let linkedAt: number | undefined;
    let activeAt: number | undefined;
    const seenAt = new Map<number, number>();
    last.node.on('link-up', () => {
      linkedAt ??= c.now;
    });
    last.node.on('member-state', (e) => {
      if (e.nodeId === id && e.state === NodeState.Active) activeAt ??= c.now;
    });
    for (const o of c.nodes.slice(0, -1))
      o.node.on('member-state', (e) => {
        if (e.nodeId === id && e.state === NodeState.Active && !seenAt.has(o.index))
          seenAt.set(o.index, c.now);
      });
    c.runFor(4_000);
    expect(linkedAt).toBeDefined();
    // The welcome follows the handshake's last frame: no round trip of its own (by the
    // answer to its digest, the newcomer was Active two hops after its link came up).
    expect(activeAt! - linkedAt!).toBeLessThan(LATENCY);
    expect(seenAt.size).toBe(7);
    for (const at of seenAt.values()) expect(at - linkedAt!).toBeLessThanOrEqual(2 * LATENCY);
    const welcomes = c.nodes.reduce((n, o) => n + o.node.metrics().welcomes, 0);
    expect(welcomes).toBeGreaterThanOrEqual(7);
  });
});
