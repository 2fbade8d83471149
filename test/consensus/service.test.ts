/**
 * The consensus service on MeshNode (`consensus: consensus({ voters })`): built at start()
 * over the node's messaging, reached as `node.consensus`, closed with the node; refused
 * without messaging, and `no-consensus` on a node built without it.
 */
import { describe, expect, it } from 'vitest';
import { consensus } from '../../lib/consensus/service.ts';
import { NodeIdentity } from '../../lib/identity/node-identity.ts';
import { ConfigError } from '../../lib/membership/config.ts';
import { MeshNodeError } from '../../lib/node/errors.ts';
import { MeshNode } from '../../lib/node/mesh-node.ts';
import { messaging } from '../../lib/node/messaging-service.ts';
import { SimCluster, SimNetwork } from '../../lib/sim/mod.ts';
import { converged, runUntil, settle } from '../sim/helpers.ts';

/** Fixed identities, so that every node can be built knowing the voters. */
const identities = [1, 2, 3].map((i) => NodeIdentity.fromSecretKey(new Uint8Array(32).fill(i)));
const voters = identities.map((x) => x.nodeId);

function refusal(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  return undefined;
}

describe('consensus() as a MeshNode service', () => {
  it('a node built with consensus({ voters }) proposes and reads through node.consensus; close() stops it', async () => {
    const c = await SimCluster.create({
      nodes: 3,
      seed: 16,
      identities,
      network: { linkAuth: 'trusted' },
      nodeOptions: () => ({ consensus: consensus({ voters, tickMs: 50 }) }),
    });
    runUntil(c, () => converged(c), 30_000);
    await settle(c, 3_000);
    const nodes = c.nodes.map((x) => x.node);
    const leader = nodes.findIndex((n) => n.consensus.status().role === 'Leader');
    expect(leader).toBeGreaterThanOrEqual(0);
    expect(nodes.filter((n) => n.consensus.status().role === 'Leader')).toHaveLength(1);
    const follower = nodes.find((_, i) => i !== leader)!;
    const put = follower.consensus.propose({ op: 'put', key: 'config', value: 'v1' });
    await settle(c, 1_000);
    expect(await put).toEqual({ ok: true, previous: null });
    const read = follower.consensus.read('config');
    await settle(c, 1_000);
    expect(await read).toBe('v1');
    expect(nodes.map((n) => n.consensus.kv.get('config'))).toEqual(['v1', 'v1', 'v1']);

    // Closing the leader's node stops its Raft: the others elect a new leader in a later
    // term, while the closed one neither ticks (check-quorum would depose it) nor hears of it.
    const closed = nodes[leader]!;
    const before = closed.consensus.status();
    closed.close();
    await settle(c, 3_000);
    const rest = nodes.filter((_, i) => i !== leader);
    expect(rest.filter((n) => n.consensus.status().role === 'Leader')).toHaveLength(1);
    expect(rest[0]!.consensus.status().term).toBeGreaterThan(before.term);
    expect(closed.consensus.status()).toEqual(before);
  });

  it('a state larger than a mesh message reaches a voter paused meanwhile (snapshot and appends in pieces); a command over 32 KiB is refused', async () => {
    const c = await SimCluster.create({
      nodes: 3,
      seed: 16,
      identities,
      network: { linkAuth: 'trusted' },
      nodeOptions: () => ({ consensus: consensus({ voters, tickMs: 50, compactEvery: 20 }) }),
    });
    runUntil(c, () => converged(c), 30_000);
    await settle(c, 3_000);
    const nodes = c.nodes.map((x) => x.node);
    const leader = nodes.findIndex((n) => n.consensus.status().role === 'Leader');
    const lagging = [0, 1, 2].find((i) => i !== leader)!;
    // Frozen (its Raft paused) while the state grows: it then needs a snapshot, ~60 KB.
    nodes[lagging]!.freeze();
    // 60 keys of 1 KB (~60 KB of state, compacted every 20 entries), then one 30 KB value.
    const value = 'v'.repeat(1_000);
    for (let k = 0; k < 60; k++) {
      const put = nodes[leader]!.consensus.propose({ op: 'put', key: `k${k}`, value });
      await settle(c, 200);
      expect(await put).toMatchObject({ ok: true });
    }
    const big = nodes[leader]!.consensus.propose({ op: 'put', key: 'big', value: 'b'.repeat(30_000) });
    await settle(c, 500);
    expect(await big).toMatchObject({ ok: true });
    nodes[lagging]!.unfreeze();
    await settle(c, 15_000);
    const kv = nodes[lagging]!.consensus.kv;
    expect(kv.get('k59')).toBe(value);
    expect(kv.get('big')).toBe('b'.repeat(30_000));
    // A command that cannot travel in one message is refused at once, wherever it is proposed.
    for (const n of nodes) {
      const e = await n.consensus
        .propose({ op: 'put', key: 'huge', value: 'h'.repeat(40_000) })
        .catch((x) => x);
      expect(e).toMatchObject({ name: 'ConsensusError', code: 'invalid-argument' });
    }
  });

  it('node.consensus is no-consensus on a node built without it, not-started before start()', async () => {
    const c = await SimCluster.create({ nodes: 1, seed: 16, network: { linkAuth: 'trusted' } });
    const without = refusal(() => c.nodes[0]!.node.consensus);
    expect(without).toBeInstanceOf(MeshNodeError);
    expect((without as MeshNodeError).code).toBe('no-consensus');

    const host = c.net.addHost({});
    const node = new MeshNode({
      identity: identities[0]!,
      cluster: 'sim',
      transport: host.transport(),
      env: host.env,
      messaging: messaging(),
      consensus: consensus({ voters: [identities[0]!.nodeId] }),
    });
    expect((refusal(() => node.consensus) as MeshNodeError).code).toBe('not-started');
    await node.start();
    expect(node.consensus.status().voters).toEqual([identities[0]!.nodeId]);
    node.close();
  });

  it('consensus without messaging, and settings out of range, are ConfigErrors naming the field', () => {
    const host = new SimNetwork({ seed: 1 }).addHost({});
    const build = () =>
      new MeshNode({
        identity: identities[0]!,
        cluster: 'sim',
        transport: host.transport(),
        env: host.env,
        consensus: consensus({ voters }),
      });
    const noMessaging = refusal(build);
    expect(noMessaging).toBeInstanceOf(ConfigError);
    expect((noMessaging as ConfigError).option).toBe('consensus');

    const bad: [Parameters<typeof consensus>[0], string][] = [
      [{ voters: ['a', 'a'] }, 'consensus.voters'],
      [{ voters: ['a', ''] }, 'consensus.voters'],
      [{ voters: 'a' as unknown as string[] }, 'consensus.voters'],
      [{ voters, tickMs: 0 }, 'consensus.tickMs'],
      [{ voters, timeoutMs: -1 }, 'consensus.timeoutMs'],
      [{ voters, compactEvery: 0.5 }, 'consensus.compactEvery'],
      [{ voters, raft: { heartbeatTicks: 5, electionTicks: 3 } }, 'consensus.raft.heartbeatTicks'],
    ];
    for (const [options, field] of bad) {
      const e = refusal(() => consensus(options));
      expect(e, field).toBeInstanceOf(ConfigError);
      expect((e as ConfigError).option).toBe(field);
    }
  });
});
