/**
 * MeshConsensus on simulated MeshNodes: Raft messages over the nodes' messaging; proposals
 * and reads from any node reach the leader; a crashed leader is replaced.
 */
import { describe, expect, it } from 'vitest';
import { MeshConsensus } from '../../lib/consensus/mesh.ts';
import { MemoryConsensusStorage } from '../../lib/consensus/storage.ts';
import { SimCluster } from '../../lib/sim/mod.ts';
import { converged, runUntil, settle } from '../sim/helpers.ts';

async function raftCluster(n: number) {
  const c = await SimCluster.create({ nodes: n, seed: 16, network: { linkAuth: 'trusted' } });
  runUntil(c, () => converged(c), 30_000);
  const voters = c.nodes.map((x) => x.identity.nodeId);
  const rafts = c.nodes.map(
    (x) => new MeshConsensus({ messenger: x.node, env: x.host.env, voters, tickMs: 50 }),
  );
  for (const r of rafts) r.start();
  await settle(c, 3_000);
  return { c, rafts };
}

describe('MeshConsensus over simulated MeshNodes', () => {
  it('elects one leader; a proposal from a follower commits everywhere and reads back linearizably', async () => {
    const { c, rafts } = await raftCluster(3);
    const leaders = rafts.filter((r) => r.status().role === 'Leader');
    expect(leaders).toHaveLength(1);
    const follower = rafts.find((r) => r.status().role !== 'Leader')!;
    const put = follower.propose({ op: 'put', key: 'config', value: 'v1' });
    const cas = follower.propose({ op: 'cas', key: 'config', expected: 'nope', value: 'v2' });
    await settle(c, 1_000);
    expect(await put).toEqual({ ok: true, previous: null });
    expect(await cas).toEqual({ ok: false, previous: 'v1' });
    const read = follower.read('config');
    await settle(c, 1_000);
    expect(await read).toBe('v1');
    expect(rafts.map((r) => r.kv.get('config'))).toEqual(['v1', 'v1', 'v1']);
    expect(rafts.every((r) => r.status().commitIndex === leaders[0]!.status().commitIndex)).toBe(true);
  });

  it('a crashed leader is replaced and proposals commit again', async () => {
    const { c, rafts } = await raftCluster(3);
    const old = rafts.findIndex((r) => r.status().role === 'Leader');
    c.crash(old);
    rafts[old]!.close();
    await settle(c, 3_000);
    const alive = rafts.filter((_, i) => i !== old);
    expect(alive.filter((r) => r.status().role === 'Leader')).toHaveLength(1);
    const put = alive[0]!.propose({ op: 'put', key: 'k', value: 'after' });
    await settle(c, 1_000);
    expect(await put).toMatchObject({ ok: true });
    expect(alive.map((r) => r.kv.get('k'))).toEqual(['after', 'after']);
  });

  it('Raft messages claiming another sender, and undecodable ones, are dropped and counted', async () => {
    const { c, rafts } = await raftCluster(3);
    const [a, b] = [c.nodes[0]!, c.nodes[1]!];
    await a.node.send(b.identity.nodeId, 'weftmesh/raft', new Uint8Array([0xff, 0x00]));
    const forged = {
      type: 'heartbeat',
      from: c.nodes[2]!.identity.nodeId,
      to: b.identity.nodeId,
      term: 99,
      commit: 0,
      ctx: 0,
    };
    const { encodeCbor } = await import('../../lib/wire/cbor.ts');
    await a.node.send(b.identity.nodeId, 'weftmesh/raft', encodeCbor(forged));
    await settle(c, 500);
    expect(rafts[1]!.dropped).toBe(2);
    expect(rafts[1]!.status().term).toBeLessThan(99);
  });

  it('a member outside the voter set forging a high term and a config entry naming itself changes nothing', async () => {
    const c = await SimCluster.create({ nodes: 4, seed: 16, network: { linkAuth: 'trusted' } });
    runUntil(c, () => converged(c), 30_000);
    const voters = c.nodes.slice(0, 3).map((x) => x.identity.nodeId);
    const rafts = c.nodes
      .slice(0, 3)
      .map((x) => new MeshConsensus({ messenger: x.node, env: x.host.env, voters, tickMs: 50 }));
    for (const r of rafts) r.start();
    await settle(c, 3_000);
    const put = rafts[0]!.propose({ op: 'put', key: 'k', value: 'v1' });
    await settle(c, 1_000);
    await put;
    const liar = c.nodes[3]!;
    const before = rafts.map((r) => r.status());
    const { encodeCbor } = await import('../../lib/wire/cbor.ts');
    for (const [i, r] of rafts.entries()) {
      const s = r.status();
      const to = voters[i]!;
      const forged = [
        {
          type: 'vote',
          from: liar.identity.nodeId,
          to,
          term: 99,
          lastIndex: 1_000,
          lastTerm: 98,
          pre: false,
          transfer: false,
        },
        {
          type: 'append',
          from: liar.identity.nodeId,
          to,
          term: 99,
          prevIndex: s.commitIndex,
          prevTerm: s.term,
          entries: [
            { index: s.commitIndex + 1, term: 99, kind: 'config', voters: [...voters, liar.identity.nodeId] },
          ],
          commit: s.commitIndex + 1,
        },
      ];
      for (const m of forged) await liar.node.send(to, 'weftmesh/raft', encodeCbor(m));
    }
    await settle(c, 2_000);
    expect(rafts.map((r) => r.outsiders)).toEqual([2, 2, 2]);
    for (const [i, r] of rafts.entries()) {
      expect(r.status().term).toBe(before[i]!.term);
      expect(r.status().voters).toEqual(voters);
    }
    const after = rafts[1]!.propose({ op: 'put', key: 'k', value: 'v2' });
    await settle(c, 1_000);
    expect(await after).toEqual({ ok: true, previous: 'v1' });
  });

  it('a lagging voter takes a leader its configuration does not name once its voters name it, and catches up', async () => {
    const c = await SimCluster.create({ nodes: 4, seed: 16, network: { linkAuth: 'trusted' } });
    runUntil(c, () => converged(c), 30_000);
    const [a, b, lagging, d] = c.nodes.map((x) => x.identity.nodeId) as [string, string, string, string];
    // A, B and D hold the entry that added D; C missed it (it was away), so D is an outsider to it.
    const storages = c.nodes.map((_, i) => {
      const s = new MemoryConsensusStorage([a, b, lagging]);
      if (i !== 2) {
        s.append([{ index: 1, term: 1, kind: 'config', voters: [a, b, lagging, d] }]);
        s.setHardState({ term: 1, vote: '', commit: 1 });
      }
      return s;
    });
    const rafts = c.nodes.map(
      (x, i) => new MeshConsensus({ messenger: x.node, env: x.host.env, storage: storages[i]!, tickMs: 50 }),
    );
    // C comes back only once D leads: the first leader it hears from is one it does not know.
    const present = rafts.filter((_, i) => i !== 2);
    for (const r of present) r.start();
    const leaderIs = (id: string) =>
      present.some((r) => r.status().role === 'Leader' && r.status().leader === id);
    for (let t = 0; t < 10_000 && !present.some((r) => r.status().role === 'Leader'); t += 100)
      await settle(c, 100);
    const first = present.find((r) => r.status().role === 'Leader')!;
    const follower = present.find((r) => r.status().role === 'Follower')!;
    expect(() => follower.transferLeadership(d)).toThrow(expect.objectContaining({ code: 'not-leader' }));
    if (first !== rafts[3]) first.transferLeadership(d);
    for (let t = 0; t < 5_000 && !leaderIs(d); t += 100) await settle(c, 100);
    expect(leaderIs(d)).toBe(true);
    rafts[2]!.start();
    const put = rafts[3]!.propose({ op: 'put', key: 'k', value: 'from D' });
    await settle(c, 3_000);
    expect(await put).toEqual({ ok: true, previous: null });
    const behind = rafts[2]!;
    expect(behind.outsiders).toBeGreaterThan(0); // D's first messages were dropped…
    expect(behind.status().voters).toEqual([a, b, lagging, d]); // …until A and B named it: C caught up
    expect(behind.kv.get('k')).toBe('from D');
    expect(behind.status().leader).toBe(d);
  });
});
