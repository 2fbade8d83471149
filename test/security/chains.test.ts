// Hostile peers against the chain service: valid fork proofs for chains nobody here hosts, fork
// advertisements whose advertiser never answers, and a replica that answers a pull an entry at
// a time, just before each request would time out.
import { describe, expect, it } from 'vitest';
import { ChainLog } from '../../lib/chain/chain-log.ts';
import { decodeSyncRequest, encodeForkProof, encodeSyncResponse } from '../../lib/chain/codec.ts';
import { chainIdOf } from '../../lib/chain/entry.ts';
import type { ForkProof } from '../../lib/chain/fork.ts';
import { NodeIdentity } from '../../lib/identity/node-identity.ts';
import { strictVerifier } from '../../lib/identity/verifier.ts';
import {
  CHAIN_FORK_GET_TOPIC,
  CHAIN_FORK_TOPIC,
  CHAIN_SYNC_TOPIC,
  chains,
} from '../../lib/node/chain-service.ts';
import { SimCluster } from '../../lib/sim/mod.ts';
import { ServiceHealth } from '../../lib/state/values.ts';
import { toHex } from '../../lib/util/bytes.ts';
import { inconsistentHeads } from '../chain/helpers.ts';
import { converged, runUntil } from '../sim/helpers.ts';

const attacker = NodeIdentity.fromSecretKey(new Uint8Array(32).fill(66));
const author = NodeIdentity.fromSecretKey(new Uint8Array(32).fill(21));

/** A valid proof that `key` forked a chain of its own named `name`. */
const proofFor = (key: NodeIdentity, name: string) => inconsistentHeads(key, chainIdOf(key.publicKey, name));

/** Nodes in `hosts` run the chain service; the others only messaging (a hostile peer needs nothing more). */
async function mesh(n: number, maxProofs?: number, hosts = [0, 2]): Promise<SimCluster> {
  const c = await SimCluster.create({
    nodes: n,
    seed: 7,
    network: { linkAuth: 'trusted' },
    nodeOptions: (i) =>
      hosts.includes(i)
        ? {
            chains: chains({
              verifier: strictVerifier,
              pullIntervalMs: 500,
              ...(maxProofs === undefined ? {} : { maxProofs }),
            }),
          }
        : {},
  });
  runUntil(c, () => converged(c), 60_000);
  return c;
}

async function settleFor(c: SimCluster, ms: number, each?: () => void): Promise<void> {
  const end = c.now + ms;
  while (c.now < end) {
    c.runFor(100);
    each?.();
    await new Promise((r) => setImmediate(r));
  }
}

const ownForkAds = (c: SimCluster, i: number) => {
  const me = c.nodes[i]!.node.nodeId;
  return c.nodes[i]!.node.services.names()
    .filter((name) => name.startsWith('chain-fork.'))
    .filter((name) => c.nodes[i]!.node.services.resolveAll(name).some((ad) => ad.nodeId === me));
};

describe('the chain service against hostile peers', () => {
  it('valid proofs for chains a node does not host fill at most maxProofs and none of its own gossip entries', async () => {
    const c = await mesh(3, 16);
    for (let i = 0; i < 50; i++)
      c.nodes[1]!.node.broadcast(CHAIN_FORK_TOPIC, encodeForkProof(proofFor(attacker, `junk-${i}`)));
    await settleFor(c, 5_000);
    const victim = c.nodes[0]!.node.chains;
    expect(victim.forkProofs()).toHaveLength(16);
    expect(victim.forkProofs().every((p) => p.author.every((b, j) => b === attacker.publicKey[j]))).toBe(
      true,
    );
    // Nothing advertised for them (each would be an entry of the node's own in every replica),
    // and no hosted chain is reported forked.
    expect(ownForkAds(c, 0)).toEqual([]);
    expect(victim.forked()).toEqual([]);
  });

  it('an impostor’s proof of a chain hosted later is refused then, and goes first under pressure', async () => {
    const c = await mesh(3, 2);
    const log = await ChainLog.open({
      identity: author,
      name: 'feed',
      create: true,
      verifier: strictVerifier,
    });
    await log.append('x');
    const host = c.nodes[0]!.node.chains;
    const send = (proof: ForkProof) => c.nodes[1]!.node.broadcast(CHAIN_FORK_TOPIC, encodeForkProof(proof));
    // Before the chain is hosted here its impostor's proof is as good as any other's.
    send(inconsistentHeads(attacker, log.chainId, 1));
    await settleFor(c, 1_000);
    expect(host.forkProofs().map((p) => p.chainId)).toEqual([log.chainId]);
    host.host(log);
    // Hosted now: it proves nothing about the chain, and a second one is refused outright.
    expect(host.forked()).toEqual([]);
    expect(log.forkProof).toBeUndefined();
    send(inconsistentHeads(attacker, log.chainId, 3));
    await settleFor(c, 1_000);
    expect(host.forkProofs()).toHaveLength(1);
    // Two unrelated proofs with room for two: the impostor's goes first, then the oldest.
    for (const name of ['a', 'b', 'c']) send(proofFor(attacker, name));
    await settleFor(c, 1_000);
    expect(host.forkProofs().map((p) => p.chainId)).toEqual([
      chainIdOf(attacker.publicKey, 'b'),
      chainIdOf(attacker.publicKey, 'c'),
    ]);
  });

  it('fork advertisements: one fetch at once per advertiser, one ask for a proof a minute, none for a proof held or an impostor’s of a hosted chain', async () => {
    const c = await mesh(3, undefined, [0]);
    const [hostile, honest] = [c.nodes[1]!.node, c.nodes[2]!.node];
    const hosted = await ChainLog.open({
      identity: author,
      name: 'kept',
      create: true,
      verifier: strictVerifier,
    });
    c.nodes[0]!.node.chains.host(hosted);
    const advertise = (node: typeof hostile, ids: string[]) => {
      for (const id of ids)
        node.advertiseService(`chain-fork.${id}`, {
          endpoint: '',
          health: ServiceHealth.Healthy,
          metadata: { a: toHex(attacker.publicKey) },
        });
    };
    // The hostile node advertises 40 proofs it never gives, and one under its key for a hosted chain.
    const silent = Array.from({ length: 40 }, (_, i) => chainIdOf(attacker.publicKey, `ad-${i}`));
    const asked: string[] = [];
    let open = 0;
    let mostOpen = 0;
    hostile.respond(CHAIN_FORK_GET_TOPIC, (data) => {
      asked.push(toHex(data.subarray(0, 32)));
      mostOpen = Math.max(mostOpen, ++open);
      // Answers nothing useful, and only as the asker's request would time out (10 s).
      return new Promise<Uint8Array>((_, reject) =>
        hostile.env.scheduler.setTimer(9_500, () => {
          open--;
          reject(new Error('late'));
        }),
      );
    });
    advertise(hostile, [...silent, hosted.chainId]);
    // Another node advertises two it does give.
    const real = ['real-0', 'real-1'].map((name) => proofFor(attacker, name));
    const askedHonest: string[] = [];
    honest.respond(CHAIN_FORK_GET_TOPIC, (data) => {
      const id = toHex(data.subarray(0, 32));
      askedHonest.push(id);
      return encodeForkProof(real.find((p) => p.chainId === id)!);
    });
    advertise(
      honest,
      real.map((p) => p.chainId),
    );
    await settleFor(c, 125_000);
    // The silent advertiser held one request slot at a time: ~one ask per 10 s (its timeout),
    // a name at most once a minute.
    expect(mostOpen).toBe(1);
    expect(asked.length).toBeGreaterThan(5);
    expect(asked.length).toBeLessThanOrEqual(14);
    for (const id of silent) expect(asked.filter((a) => a === id).length).toBeLessThanOrEqual(1);
    // The other advertiser's proofs are held, each asked for once.
    for (const p of real)
      expect(c.nodes[0]!.node.chains.forkProof(p.chainId, attacker.publicKey)).toBeDefined();
    expect(askedHonest.sort()).toEqual(real.map((p) => p.chainId).sort());
    // A proof under another key than a hosted chain's author's proves nothing here: not asked.
    expect(asked).not.toContain(hosted.chainId);
  });

  it('a silent advertiser of one proof is asked for it once a minute, not at every tick', async () => {
    const c = await mesh(3, undefined, [0]);
    const hostile = c.nodes[1]!.node;
    let asked = 0;
    hostile.respond(CHAIN_FORK_GET_TOPIC, () => {
      asked++;
      return new Promise<Uint8Array>((_, reject) =>
        hostile.env.scheduler.setTimer(9_500, () => reject(new Error('late'))),
      );
    });
    hostile.advertiseService(`chain-fork.${chainIdOf(attacker.publicKey, 'one')}`, {
      endpoint: '',
      health: ServiceHealth.Healthy,
      metadata: { a: toHex(attacker.publicKey) },
    });
    await settleFor(c, 59_000);
    expect(asked).toBe(1);
    await settleFor(c, 62_000);
    expect(asked).toBe(3);
  });

  it('silent fork advertisers: at most 4 fetches in flight however many advertise', async () => {
    const c = await mesh(7, undefined, [0]);
    let open = 0;
    let mostOpen = 0;
    for (let i = 1; i < 7; i++) {
      const node = c.nodes[i]!.node;
      node.respond(CHAIN_FORK_GET_TOPIC, () => {
        mostOpen = Math.max(mostOpen, ++open);
        return new Promise<Uint8Array>((_, reject) =>
          node.env.scheduler.setTimer(9_500, () => {
            open--;
            reject(new Error('late'));
          }),
        );
      });
      for (let k = 0; k < 3; k++)
        node.advertiseService(`chain-fork.${chainIdOf(attacker.publicKey, `n${i}-${k}`)}`, {
          endpoint: '',
          health: ServiceHealth.Healthy,
          metadata: { a: toHex(attacker.publicKey) },
        });
    }
    await settleFor(c, 30_000);
    expect(mostOpen).toBe(4);
  });

  it('a replica that answers an entry at a time, slowly, is passed over: the follower catches up from an honest host', async () => {
    const c = await mesh(3);
    const log = await ChainLog.open({
      identity: author,
      name: 'slow',
      create: true,
      verifier: strictVerifier,
    });
    await log.appendBatch(Array.from({ length: 3_000 }, (_, i) => ({ i })));
    const hostile = c.nodes[1]!.node;
    let hostileAnswers = 0;
    // A full copy, served an entry per answer, 9 s after each request (its timeout is 10 s).
    hostile.respond(CHAIN_SYNC_TOPIC, (data) => {
      const req = decodeSyncRequest(data);
      const answer = encodeSyncResponse(log.serveSync({ ...req, maxEntries: 1 }));
      return new Promise<Uint8Array>((resolve) =>
        hostile.env.scheduler.setTimer(9_000, () => {
          hostileAnswers++;
          resolve(answer);
        }),
      );
    });
    hostile.advertiseService(`chain.${log.chainId}`, {
      endpoint: '',
      health: ServiceHealth.Healthy,
      metadata: { n: '3000', h: toHex(log.get(2_999)!.hash) },
    });
    await settleFor(c, 2_000);
    const follower = await c.nodes[0]!.node.chains.follow(log.chainId, author.publicKey);
    // Only the hostile replica advertises the chain for now: the pull is its.
    await settleFor(c, 12_000);
    expect(follower.length).toBeGreaterThan(0);
    expect(follower.length).toBeLessThan(10);
    // An honest host appears. Within a slice and its drain (≤ 20 s) the slow peer is passed over.
    c.nodes[2]!.node.chains.host(log);
    let caughtUpAt: number | undefined;
    const start = c.now;
    await settleFor(c, 40_000, () => {
      if (caughtUpAt === undefined && follower.length === 3_000) caughtUpAt = c.now - start;
    });
    expect(follower.length).toBe(3_000);
    expect(caughtUpAt).toBeLessThan(30_000);
    expect(await follower.verifyIntegrity()).toBe(true);
    // About one window: a peer that does not stream gets pullWindow (64) plain requests in flight.
    expect(hostileAnswers).toBeLessThan(100);
    // An unforked chain is advertised with its head, and no fork with it.
    expect(ownForkAds(c, 2)).toEqual([]);
    expect(c.nodes[0]!.node.services.names().filter((n) => n.startsWith('chain-fork.'))).toEqual([]);
  });
});
