/**
 * A frozen node (MeshNode.freeze) pauses its Raft: a frozen leader steps down at once —
 * it answers nothing as leader and keeps no lease while the others elect a new one — and
 * after unfreeze() it follows the new leader.
 */
import { describe, expect, it } from 'vitest';
import { consensus } from '../../lib/consensus/service.ts';
import { NodeIdentity } from '../../lib/identity/node-identity.ts';
import { SimCluster } from '../../lib/sim/mod.ts';
import { converged, runUntil, settle } from '../sim/helpers.ts';

const identities = [1, 2, 3].map((i) => NodeIdentity.fromSecretKey(new Uint8Array(32).fill(60 + i)));
const voters = identities.map((x) => x.nodeId);

describe('consensus on a frozen node', () => {
  it('a frozen leader steps down at once and refuses proposals and reads; the others elect a leader; thawed, it follows', async () => {
    const c = await SimCluster.create({
      nodes: 3,
      seed: 33,
      identities,
      network: { linkAuth: 'trusted' },
      nodeOptions: () => ({ consensus: consensus({ voters, tickMs: 50 }) }),
    });
    runUntil(c, () => converged(c), 30_000);
    await settle(c, 3_000);
    const nodes = c.nodes.map((x) => x.node);
    const frozen = nodes.find((n) => n.consensus.status().role === 'Leader')!;
    expect(frozen).toBeDefined();
    const before = frozen.consensus.status();
    const pendingRead = frozen.consensus.read('k');
    pendingRead.catch(() => {});

    frozen.freeze();
    const refused = await frozen.consensus
      .propose({ op: 'put', key: 'k', value: 'while frozen' })
      .catch((e) => e);
    expect(refused).toMatchObject({ code: 'not-leader' });
    expect(await frozen.consensus.read('k').catch((e) => e)).toMatchObject({ code: 'not-leader' });
    expect(frozen.consensus.status()).toMatchObject({ role: 'Follower', term: before.term, leader: '' });
    // The read it had started as leader is not answered from a leadership it gave up.
    expect(await pendingRead.catch((e) => e)).toMatchObject({ code: 'not-leader' });

    await settle(c, 3_000);
    const others = nodes.filter((n) => n !== frozen);
    const next = others.find((n) => n.consensus.status().role === 'Leader');
    expect(next).toBeDefined();
    expect(next!.consensus.status().term).toBeGreaterThan(before.term);
    // Paused: no ticks, no campaign, nothing heard while frozen.
    expect(frozen.consensus.status()).toMatchObject({ role: 'Follower', term: before.term });
    const put = next!.consensus.propose({ op: 'put', key: 'k', value: 'v1' });
    await settle(c, 1_000);
    expect(await put).toEqual({ ok: true, previous: null });

    frozen.unfreeze();
    await settle(c, 3_000);
    expect(frozen.consensus.status()).toMatchObject({ role: 'Follower', leader: next!.nodeId });
    expect(frozen.consensus.kv.get('k')).toBe('v1');
    const viaThawed = frozen.consensus.propose({ op: 'put', key: 'k', value: 'v2' });
    await settle(c, 1_000);
    expect(await viaThawed).toEqual({ ok: true, previous: 'v1' });
  });
});
