// Chains hosted by MeshNodes over the simulated network (issue 15): followers catch up with
// the author's chain through heads advertised in the gossip state; an author that forks its
// chain while the mesh is partitioned is found out after the heal, and every node ends up
// holding a valid fork proof — including nodes that do not host the chain.
import { describe, expect, it } from 'vitest';
import { ChainLog } from '../../lib/chain/chain-log.ts';
import { encodeForkProof } from '../../lib/chain/codec.ts';
import { MAX_PAYLOAD_BYTES } from '../../lib/chain/entry.ts';
import { verifyForkProof } from '../../lib/chain/fork.ts';
import { MemoryChainStorage } from '../../lib/chain/storage.ts';
import { NodeIdentity } from '../../lib/identity/node-identity.ts';
import { strictVerifier } from '../../lib/identity/verifier.ts';
import { CHAIN_FORK_TOPIC, chains, SERVED_PAYLOAD_BYTES } from '../../lib/node/chain-service.ts';
import { messaging } from '../../lib/node/messaging-service.ts';
import { runScenario, SimCluster } from '../../lib/sim/mod.ts';
import { encodeCbor } from '../../lib/wire/cbor.ts';
import { inconsistentHeads } from '../chain/helpers.ts';
import { converged, runUntil } from './helpers.ts';

/** Runs in small steps, letting promise continuations (pulls) run between them, until `done`. */
async function settleUntil(c: SimCluster, done: () => boolean, maxMs: number, step = 100): Promise<number> {
  const start = c.now;
  while (!done() && c.now - start < maxMs) {
    c.runFor(step);
    await new Promise((r) => setImmediate(r));
  }
  return c.now - start;
}

const author = NodeIdentity.fromSecretKey(new Uint8Array(32).fill(21));

async function mesh(
  n: number,
  storageOf: (i: number) => MemoryChainStorage | undefined = () => undefined,
): Promise<SimCluster> {
  const c = await SimCluster.create({
    nodes: n,
    seed: 15,
    network: { linkAuth: 'trusted' },
    nodeOptions: (i) => {
      const storage = storageOf(i);
      return {
        chains: chains({ verifier: strictVerifier, pullIntervalMs: 500, ...(storage ? { storage } : {}) }),
      };
    },
  });
  runUntil(c, () => converged(c), 60_000);
  return c;
}

describe('chains on MeshNodes (simulated network)', () => {
  it('followers that join late catch up exactly with the author’s chain (one keeps it in the storage it was given)', async () => {
    const kept = new MemoryChainStorage();
    const c = await mesh(6, (i) => (i === 1 ? kept : undefined));
    const storage = new MemoryChainStorage();
    const log = await ChainLog.open({
      identity: author,
      name: 'feed',
      storage,
      create: true,
      verifier: strictVerifier,
      clock: c.nodes[0]!.node.env.clock,
    });
    await log.appendBatch(Array.from({ length: 300 }, (_, i) => ({ i })));
    c.nodes[0]!.node.chains.host(log);
    const followers = await Promise.all(
      c.nodes.slice(1).map((n) => n.node.chains.follow(log.chainId, author.publicKey)),
    );
    await settleUntil(c, () => followers.every((f) => f.length === 300), 30_000);
    for (const f of followers) {
      expect(f.length).toBe(300);
      expect(f.head()).toEqual(log.head());
      expect(await f.verifyIntegrity()).toBe(true);
    }
    await log.appendBatch(['more', 'entries']);
    await settleUntil(c, () => followers.every((f) => f.length === 302), 10_000);
    expect(followers.map((f) => f.length)).toEqual(followers.map(() => 302));
    expect((await kept.load(log.chainId))?.entries.length).toBe(302);
  });

  it('an author that forks in a partitioned mesh is proven forked to every node after the heal; an impostor’s proof is ignored by the chain’s hosts', async () => {
    const c = await mesh(8);
    const storage = new MemoryChainStorage();
    const clock = c.nodes[0]!.node.env.clock;
    const log = await ChainLog.open({
      identity: author,
      name: 'feed',
      storage,
      create: true,
      verifier: strictVerifier,
      clock,
    });
    await log.appendBatch(Array.from({ length: 50 }, (_, i) => i));
    c.nodes[0]!.node.chains.host(log);
    // Nodes 1..5 follow; 6 and 7 host nothing of it.
    const followers = await Promise.all(
      c.nodes.slice(1, 6).map((n) => n.node.chains.follow(log.chainId, author.publicKey)),
    );
    await settleUntil(c, () => followers.every((f) => f.length === 50), 30_000);

    c.partition([
      [0, 1, 2, 6],
      [3, 4, 5, 7],
    ]);
    // The author's key also runs on node 3's side, from a copy of its storage: a second history.
    const copy = new MemoryChainStorage();
    const stored = (await storage.load(log.chainId))!;
    await copy.append(log.chainId, stored.entries, stored.head);
    const fork = await ChainLog.open({
      identity: author,
      name: 'feed',
      storage: copy,
      verifier: strictVerifier,
      clock,
    });
    c.nodes[3]!.node.chains.host(fork);
    await log.appendBatch(['left', 'side']);
    await fork.appendBatch(['right', 'side', 'too']);
    await settleUntil(c, () => followers[0]!.length === 52 && followers[3]!.length === 53, 20_000);
    expect(c.nodes.every((n) => n.node.chains.forked().length === 0)).toBe(true);
    // An impostor's proof: two inconsistent heads for this chain id, validly signed — by
    // another key. Nodes hosting the chain know its author and ignore it.
    const impostor = NodeIdentity.fromSecretKey(new Uint8Array(32).fill(99));
    c.nodes[1]!.node.broadcast(CHAIN_FORK_TOPIC, encodeForkProof(inconsistentHeads(impostor, log.chainId)));
    await settleUntil(c, () => false, 3_000);
    for (const i of [0, 1, 2]) expect(c.nodes[i]!.node.chains.get(log.chainId)!.forkProof).toBeUndefined();
    for (const i of [0, 1, 2]) expect(c.nodes[i]!.node.chains.forked()).toEqual([]);

    // Node 6 hosts nothing of the chain: it keeps the impostor's proof under the impostor's key
    // (it cannot tell whose chain this is), which names no author it would be asked about.
    expect(c.nodes[6]!.node.chains.forkProofs().map((p) => p.author)).toEqual([impostor.publicKey]);
    expect(c.nodes[6]!.node.chains.forkProof(log.chainId)).toBeUndefined();
    expect(c.nodes[6]!.node.chains.forkProof(log.chainId, author.publicKey)).toBeUndefined();

    c.heal();
    const proven = (n: SimCluster['nodes'][number]) => n.node.chains.forkProof(log.chainId, author.publicKey);
    const everyone = () => c.nodes.every((n) => proven(n) !== undefined);
    const took = await settleUntil(c, everyone, 60_000);
    expect(everyone()).toBe(true);
    expect(took).toBeLessThan(60_000);
    for (const n of c.nodes) expect(await verifyForkProof(proven(n)!, strictVerifier)).toBe(true);
    // The impostor's proof held at node 6 did not keep the author's from it; hosts report the fork.
    expect(c.nodes[6]!.node.chains.forkProofs()).toHaveLength(2);
    for (const i of [0, 1, 2, 3, 4, 5]) expect(c.nodes[i]!.node.chains.forked()).toEqual([log.chainId]);
    expect(c.nodes[6]!.node.chains.forked()).toEqual([]);
    // Nothing invalid was accepted: every hosted copy is one valid branch, now closed.
    const hosted = c.nodes.map((n) => n.node.chains.get(log.chainId)).filter((l) => l !== undefined);
    expect(hosted.length).toBe(6);
    for (const l of hosted) {
      expect(await l.verifyIntegrity()).toBe(true);
      expect(l.forkProof?.author).toEqual(author.publicKey);
    }
  });

  it('a long catch-up keeps to pullRate: the serving node throttles none of its requests (at a pace above its perOriginRate it drops some); streamed answers need a sixteenth of the requests', async () => {
    const catchUp = async (pullRate: number, pullParts = 1) => {
      const c = await SimCluster.create({
        nodes: 2,
        seed: 15,
        network: { linkAuth: 'trusted' },
        nodeOptions: () => ({
          // A tight quota: 10 messages a second per origin, 40 at once.
          messaging: messaging({ perOriginRate: 10 }),
          chains: chains({
            verifier: strictVerifier,
            pullIntervalMs: 100,
            pullWindow: 8,
            pullRate,
            pullParts,
          }),
        }),
      });
      runUntil(c, () => converged(c), 60_000);
      const log = await ChainLog.open({
        identity: author,
        name: 'paced',
        create: true,
        verifier: strictVerifier,
      });
      // 256-byte entries: ~115 per answer, so 6,000 take ~53 requests (more than the burst of 40).
      for (let i = 0; i < 6_000; i += 1_000)
        await log.appendBatch(Array.from({ length: 1_000 }, () => new Uint8Array(256)));
      c.nodes[0]!.node.chains.host(log);
      const follower = await c.nodes[1]!.node.chains.follow(log.chainId, author.publicKey);
      const took = await settleUntil(c, () => follower.length === 6_000, 60_000, 5);
      const served = c.nodes[0]!.node.metrics().messaging;
      return { length: follower.length, took, throttled: served.throttled, requests: served.received };
    };
    const paced = await catchUp(8);
    expect(paced.length).toBe(6_000);
    expect(paced.throttled).toBe(0);
    const unpaced = await catchUp(1_000);
    expect(unpaced.throttled).toBeGreaterThan(0);
    // Each dropped request costs a request timeout: the paced catch-up ends first (simulated time).
    expect(paced.took).toBeLessThan(unpaced.took);
    // Streamed (the default, 16 answers a request): a few requests, within the quota at once.
    const streamed = await catchUp(8, 16);
    expect(streamed.length).toBe(6_000);
    expect(streamed.throttled).toBe(0);
    expect(streamed.took).toBeLessThan(paced.took / 4);
    expect(streamed.requests).toBeLessThan(paced.requests / 4);
  });

  it('a hosted log refuses payloads over what one answer carries; entries of that size replicate (an unhosted log takes 64 KiB)', async () => {
    const c = await mesh(2);
    const log = await ChainLog.open({
      identity: author,
      name: 'big',
      create: true,
      verifier: strictVerifier,
    });
    const kind = 'k'.repeat(32); // the longest kind: the largest entry header
    const payload = (cborBytes: number) => new Uint8Array(cborBytes - 3); // a byte string's CBOR head: 3 bytes here
    expect(encodeCbor(payload(SERVED_PAYLOAD_BYTES)).length).toBe(SERVED_PAYLOAD_BYTES);
    await log.append(payload(MAX_PAYLOAD_BYTES), kind);
    c.nodes[0]!.node.chains.host(log);
    expect(log.maxPayloadBytes).toBe(SERVED_PAYLOAD_BYTES);
    await expect(log.append(payload(SERVED_PAYLOAD_BYTES + 1), kind)).rejects.toMatchObject({
      code: 'invalid-argument',
      message: expect.stringContaining('the chains service serves entries of at most'),
    });
    expect(log.length).toBe(1);
    // The 64 KiB entry appended before hosting cannot be served (nothing after it either): a
    // fresh chain of entries at the limit does replicate.
    const served = await ChainLog.open({
      identity: author,
      name: 'at-limit',
      create: true,
      verifier: strictVerifier,
    });
    c.nodes[0]!.node.chains.host(served);
    for (let i = 0; i < 3; i++) await served.append(payload(SERVED_PAYLOAD_BYTES), kind);
    const follower = await c.nodes[1]!.node.chains.follow(served.chainId, author.publicKey);
    const errors: unknown[] = [];
    c.nodes[1]!.node.chains.on('sync-error', (e) => errors.push(e.error));
    await settleUntil(c, () => follower.length === 3, 20_000);
    expect(follower.length).toBe(3);
    expect(errors).toEqual([]);
  });

  it('weftmesh sim --chains 2 --entries 150 --fork --partition: synced, the proof at every node, nothing invalid, the same report for the same seed', async () => {
    const run = () =>
      runScenario({
        nodes: 10,
        durationMs: 20_000,
        seed: 3,
        chains: 2,
        entries: 150,
        fork: true,
        partition: true,
      });
    const a = await run();
    expect(a.chain).toMatchObject({ chains: 2, entries: 150, forksDetectedBy: 10, invalidAccepted: 0 });
    expect(a.chain!.syncedAtMs).not.toBeNull();
    expect(a.chain!.bytesPerNodePerSec).toBeGreaterThan(0);
    const b = await run();
    expect(b.chain).toEqual(a.chain);
  });
});
