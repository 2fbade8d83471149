// ChainLog as an author and a replica: appends under signed tree heads, proofs from the log,
// reopening from storage, author safety after lost storage, integrity checks.
import { describe, expect, it } from 'vitest';
import { ChainLog } from '../../lib/chain/chain-log.ts';
import { chainIdOf, GENESIS_PREV } from '../../lib/chain/entry.ts';
import { ChainError } from '../../lib/chain/errors.ts';
import { pullChain } from '../../lib/chain/pull.ts';
import { MemoryChainStorage } from '../../lib/chain/storage.ts';
import { verifyTreeHead } from '../../lib/chain/tree-head.ts';
import { strictVerifier } from '../../lib/identity/verifier.ts';
import { verifyConsistency, verifyInclusion } from '../../lib/merkle/log-tree.ts';
import { decodeCbor } from '../../lib/wire/cbor.ts';
import { author, authorChain, base, replicaOf, steppingClock, wire } from './helpers.ts';

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  return undefined;
}

describe('ChainLog (author)', () => {
  it('appends hash-linked entries with increasing HLC times under one signed head per batch', async () => {
    const log = await authorChain(0);
    expect(log.chainId).toBe(chainIdOf(author(1).publicKey, 'feed'));
    expect(log.head()).toEqual({ sequence: -1, hash: GENESIS_PREV });
    expect(log.treeHead()).toBeUndefined();
    const a = await log.append('hello', 'greeting');
    const [b, c] = await log.appendBatch([{ x: 1 }, new Uint8Array([1, 2, 3])]);
    expect([a.sequence, b!.sequence, c!.sequence]).toEqual([0, 1, 2]);
    expect(a.prev).toEqual(GENESIS_PREV);
    expect(b!.prev).toEqual(a.hash);
    expect(c!.prev).toEqual(b!.hash);
    expect(a.kind).toBe('greeting');
    expect(decodeCbor(b!.payload, { maxDepth: 4, maxItems: 4 })).toEqual({ x: 1 });
    expect(b!.wall * 65536 + b!.counter).toBeGreaterThan(a.wall * 65536 + a.counter);
    expect(log.length).toBe(3);
    expect(log.head()).toEqual({ sequence: 2, hash: c!.hash });
    const head = log.treeHead()!;
    expect(head.size).toBe(3);
    expect(head.root).toEqual(log.rootAt(3));
    expect(await verifyTreeHead(strictVerifier, log.author, head)).toBe(true);
    expect(await verifyTreeHead(strictVerifier, author(2).publicKey, head)).toBe(false);
    expect(log.entriesAfter(0, 1)).toEqual([b]);
    expect(log.entriesAfter(-1).length).toBe(3);
    expect(log.get(3)).toBeUndefined();
    expect(await log.verifyIntegrity()).toBe(true);
  });

  it('gives inclusion and consistency proofs that check against its signed heads', async () => {
    const log = await authorChain(300);
    const head = log.treeHead()!;
    for (const seq of [0, 1, 150, 299])
      expect(verifyInclusion(log.get(seq)!.hash, seq, head.size, log.inclusionProof(seq), head.root)).toBe(
        true,
      );
    for (const old of [1, 2, 100, 128, 299, 300])
      expect(verifyConsistency(old, 300, log.rootAt(old), head.root, log.consistencyProof(old))).toBe(true);
    expect(
      ((await rejection(Promise.resolve().then(() => log.inclusionProof(300)))) as ChainError).code,
    ).toBe('invalid-argument');
    expect(
      ((await rejection(Promise.resolve().then(() => log.consistencyProof(0)))) as ChainError).code,
    ).toBe('invalid-argument');
  });

  it('refuses kinds and payloads it cannot carry, and appends on a replica', async () => {
    const log = await authorChain(1);
    expect(((await rejection(log.append(1, 'Bad Kind'))) as ChainError).code).toBe('invalid-argument');
    expect(((await rejection(log.append(undefined))) as ChainError).code).toBe('invalid-argument');
    expect(((await rejection(log.append(new Uint8Array(70_000)))) as ChainError).code).toBe(
      'invalid-argument',
    );
    const replica = await replicaOf(log);
    expect(((await rejection(replica.append(1))) as ChainError).code).toBe('not-author');
    expect(log.length).toBe(1);
  });

  it('reopened on its storage, continues from the stored head with later timestamps', async () => {
    const storage = new MemoryChainStorage();
    const clock = steppingClock();
    const first = await ChainLog.open({
      ...base,
      clock,
      identity: author(),
      name: 'feed',
      storage,
      create: true,
    });
    await first.appendBatch([1, 2, 3]);
    const last = first.get(2)!;
    // The clock went back: timestamps still increase (the HLC passes the stored ones).
    const again = await ChainLog.open({
      ...base,
      clock: steppingClock(1_000),
      identity: author(),
      name: 'feed',
      storage,
    });
    expect(again.writable).toBe(true);
    expect(again.length).toBe(3);
    const next = await again.append(4);
    expect(next.sequence).toBe(3);
    expect(next.prev).toEqual(last.hash);
    expect(next.wall * 65536 + next.counter).toBeGreaterThan(last.wall * 65536 + last.counter);
    expect(await again.verifyIntegrity()).toBe(true);
  });

  it('reopened on a replica’s copy (a restored backup), continues from that head', async () => {
    const log = await authorChain(20);
    const storage = new MemoryChainStorage();
    const replica = await replicaOf(log, { storage });
    await pullChain(replica, wire(log).ask, { verifier: strictVerifier });
    const restored = await ChainLog.open({
      ...base,
      clock: steppingClock(),
      identity: author(),
      name: 'feed',
      storage,
    });
    expect(restored.writable).toBe(true);
    expect((await restored.append('after')).sequence).toBe(20);
  });

  it('with lost storage, refuses to append until it re-synced its chain from the mesh, then continues it', async () => {
    const log = await authorChain(50);
    const replica = await replicaOf(log);
    await pullChain(replica, wire(log).ask, { verifier: strictVerifier });
    const restarted = await ChainLog.open({
      ...base,
      clock: steppingClock(),
      identity: author(),
      name: 'feed',
    });
    expect(restarted.writable).toBe(false);
    expect(restarted.needsResync).toBe(true);
    const refused = (await rejection(restarted.append('would fork'))) as ChainError;
    expect(refused).toBeInstanceOf(ChainError);
    expect(refused.code).toBe('needs-resync');
    expect(restarted.length).toBe(0);
    // A peer that holds nothing of the chain does not make it writable.
    await pullChain(restarted, wire(await replicaOf(log)).ask, { verifier: strictVerifier });
    expect(restarted.needsResync).toBe(true);
    await pullChain(restarted, wire(replica).ask, { verifier: strictVerifier });
    expect(restarted.length).toBe(50);
    expect(restarted.writable).toBe(true);
    const next = await restarted.append('continues');
    expect(next.sequence).toBe(50);
    expect(next.prev).toEqual(log.get(49)!.hash);
  });

  it('refuses a stored copy whose head does not match its entries', async () => {
    const storage = new MemoryChainStorage();
    const other = await authorChain(3, { name: 'other' });
    const log = await ChainLog.open({
      ...base,
      clock: steppingClock(),
      identity: author(),
      name: 'feed',
      storage,
      create: true,
    });
    await log.appendBatch([1, 2, 3]);
    const loaded = (await storage.load(log.chainId))!;
    const bad = new MemoryChainStorage();
    await bad.append(log.chainId, loaded.entries, { ...other.treeHead()!, chainId: log.chainId });
    const e = (await rejection(
      ChainLog.replica({ ...base, chainId: log.chainId, author: log.author, storage: bad }),
    )) as ChainError;
    expect(e.code).toBe('tampered');
  });

  it('verifyIntegrity notices an entry changed in memory', async () => {
    const log = await authorChain(10);
    (log.get(4) as { payload: Uint8Array }).payload = new Uint8Array([9]);
    expect(await log.verifyIntegrity()).toBe(false);
  });
});
