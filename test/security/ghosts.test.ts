// Finding 3 end to end: alive claims for keys that no process serves (ghosts) do not stay
// Active for ever in a running cluster — whether they advertise an address nobody answers
// at, or no address at all.
import { describe, expect, it } from 'vitest';
import { NodeIdentity } from '../../lib/identity/mod.ts';
import { signClaim } from '../../lib/membership/claims.ts';
import { NodeState } from '../../lib/membership/node-state.ts';
import { encodeMessage } from '../../lib/wire/mod.ts';
import { cluster, converged, runUntil } from '../sim/helpers.ts';
import { hostileMember } from '../support/hostile.ts';

describe('finding 3: ghost members in a running cluster', () => {
  it('ghosts announced by a member are suspected, then Unreachable everywhere, then reaped; live members never are', async () => {
    const ghostTimeoutMs = 20_000;
    const c = await cluster({ nodes: 5, maxLinks: 8, minLinks: 8, heartbeat: { ghostTimeoutMs } });
    runUntil(c, () => converged(c), 30_000);
    const { peer } = hostileMember(c, 0);
    const wall = c.nodes[0]!.host.env.clock.wallNow();
    const ghosts = [
      { id: NodeIdentity.generate(), addrs: ['mem:nowhere'] },
      { id: NodeIdentity.generate(), addrs: [] },
      { id: NodeIdentity.generate(), addrs: ['carrier-pigeon:42'] },
    ];
    const claims = ghosts.map(
      (g) => signClaim(g.id, 'alive', { incarnation: Math.floor(wall / 1000), addrs: g.addrs }).wire,
    );
    for (const l of peer.links) l.send(encodeMessage({ type: 'gossip', g: claims }));
    c.runFor(2_000);
    for (const n of c.nodes)
      for (const g of ghosts) expect(n.node.member(g.id.nodeId)?.state).toBe(NodeState.Active);
    const suspected: string[] = [];
    for (const n of c.nodes) n.node.on('suspected', (e) => suspected.push(e.nodeId));
    const gone = () =>
      c.nodes.every((n) => ghosts.every((g) => n.node.member(g.id.nodeId)?.state !== NodeState.Active));
    // Checks start after ghostTimeout, one per ghostTimeout/6 per node; then the suspicion runs.
    const took = runUntil(c, gone, 4 * ghostTimeoutMs);
    expect(gone()).toBe(true);
    expect(took).toBeLessThanOrEqual(4 * ghostTimeoutMs);
    // Nobody refutes for a ghost: Unreachable, and later forgotten.
    runUntil(
      c,
      () => c.nodes.every((n) => ghosts.every((g) => n.node.member(g.id.nodeId) === undefined)),
      120_000,
    );
    for (const n of c.nodes) for (const g of ghosts) expect(n.node.member(g.id.nodeId)).toBeUndefined();
    // The real members (and the hostile one, which answers its links) were never accused.
    const real = new Set(c.nodes.map((n) => n.identity.nodeId));
    expect(suspected.filter((id) => real.has(id))).toEqual([]);
    expect(converged(c)).toBe(true);
  });
});
