// detectChainFork compares at the common length (not only the heads) and finds the real
// divergence with O(log n) comparisons; fork proofs are portable (anyone with the author's
// key checks them) and a pull that meets a fork proves it and stops accepting the chain.
import { describe, expect, it } from 'vitest';
import { ChainLog } from '../../lib/chain/chain-log.ts';
import { decodeForkProof, encodeForkProof } from '../../lib/chain/codec.ts';
import type { ChainError } from '../../lib/chain/errors.ts';
import {
  buildForkProof,
  detectChainFork,
  type ForkProof,
  forkProofFromHeads,
  verifyForkProof,
} from '../../lib/chain/fork.ts';
import { pullChain } from '../../lib/chain/pull.ts';
import { MemoryChainStorage } from '../../lib/chain/storage.ts';
import { strictVerifier } from '../../lib/identity/verifier.ts';
import { author, authorChain, base, replicaOf, steppingClock, wire } from './helpers.ts';

/** Two copies of one author's chain sharing `common` entries, then `a` and `b` different ones. */
async function forkedPair(common: number, a: number, b: number): Promise<[ChainLog, ChainLog]> {
  const s1 = new MemoryChainStorage();
  const first = await ChainLog.open({
    ...base,
    clock: steppingClock(),
    identity: author(),
    name: 'feed',
    storage: s1,
    create: true,
  });
  for (let i = 0; i < common; i += 500)
    await first.appendBatch(Array.from({ length: Math.min(500, common - i) }, (_, j) => i + j));
  const s2 = new MemoryChainStorage();
  const stored = await s1.load(first.chainId);
  if (stored) await s2.append(first.chainId, stored.entries, stored.head);
  const second = await ChainLog.open({
    ...base,
    clock: steppingClock(5),
    identity: author(),
    name: 'feed',
    storage: s2,
    create: !stored,
  });
  if (a > 0) await first.appendBatch(Array.from({ length: a }, (_, i) => `a${i}`));
  if (b > 0) await second.appendBatch(Array.from({ length: b }, (_, i) => `b${i}`));
  return [first, second];
}

async function sameChainPrefix(common: number, a: number, b: number): Promise<[ChainLog, ChainLog]> {
  const log = await authorChain(common + Math.max(a, b));
  const l = await replicaOf(log);
  const r = await replicaOf(log);
  await l.applySync(log.serveSync({ ...l.syncRequest(), maxEntries: common + a }));
  await r.applySync(log.serveSync({ ...r.syncRequest(), maxEntries: common + b }));
  return [l, r];
}

describe('detectChainFork', () => {
  // The original's four cases, then divergence below the heads.
  const table: Array<[string, () => Promise<[ChainLog, ChainLog]>, string, number | undefined]> = [
    ['same head: InSync', () => sameChainPrefix(20, 0, 0), 'InSync', undefined],
    ['remote has more: LocalBehind', () => sameChainPrefix(20, 0, 5), 'LocalBehind', undefined],
    ['local has more: RemoteBehind', () => sameChainPrefix(20, 5, 0), 'RemoteBehind', undefined],
    [
      'different heads at one length: Forked at the first differing entry',
      () => forkedPair(20, 3, 3),
      'Forked',
      20,
    ],
    ['both empty: InSync', () => sameChainPrefix(0, 0, 0), 'InSync', undefined],
    ['forked below a longer remote head (not at the head)', () => forkedPair(10, 2, 30), 'Forked', 10],
    ['forked below a longer local head', () => forkedPair(10, 40, 1), 'Forked', 10],
    ['forked at the genesis entry', () => forkedPair(0, 4, 4), 'Forked', 0],
    ['forked deep below the heads of a long chain', () => forkedPair(1777, 300, 200), 'Forked', 1777],
  ];
  for (const [name, make, status, forkPoint] of table)
    it(name, async () => {
      const [local, remote] = await make();
      const found = await detectChainFork(local, remote);
      expect(found.status).toBe(status);
      expect(found.forkPoint).toBe(forkPoint);
      const common = Math.min(local.length, remote.length);
      expect(found.comparisons).toBeLessThanOrEqual(common === 0 ? 0 : Math.ceil(Math.log2(common)) + 1);
      const back = await detectChainFork(remote, local);
      const mirror = { LocalBehind: 'RemoteBehind', RemoteBehind: 'LocalBehind' } as Record<string, string>;
      expect(back.status).toBe(mirror[status] ?? status);
      expect(back.forkPoint).toBe(forkPoint);
    });

  it('refuses to compare two different chains', async () => {
    const a = await authorChain(1);
    const b = await authorChain(1, { name: 'other' });
    await expect(detectChainFork(a, b)).rejects.toThrow(expect.objectContaining({ code: 'unknown-chain' }));
  });
});

describe('fork proofs', () => {
  it('two copies that diverged give a proof anyone with the author key checks, which survives the wire', async () => {
    const [a, b] = await forkedPair(100, 7, 9);
    const found = await detectChainFork(a, b);
    const proof = (await buildForkProof(a.author, a, b, found.forkPoint!))!;
    expect(proof.entryA!.sequence).toBe(100);
    expect(await verifyForkProof(proof, strictVerifier)).toBe(true);
    const decoded = decodeForkProof(encodeForkProof(proof));
    expect(decoded).toEqual(proof);
    expect(await verifyForkProof(decoded, strictVerifier)).toBe(true);
  });

  it('same size, different roots: the two heads alone are the proof', async () => {
    const [a, b] = await forkedPair(5, 3, 3);
    const proof = forkProofFromHeads(a.author, a.treeHead()!, b.treeHead()!)!;
    expect(await verifyForkProof(proof, strictVerifier)).toBe(true);
    expect(forkProofFromHeads(a.author, a.treeHead()!, a.treeHead()!)).toBeUndefined();
  });

  it('a false proof does not check: another key, one head altered, equal entries, a bent path', async () => {
    const [a, b] = await forkedPair(30, 4, 4);
    const proof = (await buildForkProof(a.author, a, b, 30))!;
    const other = author(7).publicKey;
    const bad: ForkProof[] = [
      { ...proof, author: other },
      { ...proof, b: { ...proof.b, size: proof.b.size + 1 } },
      { ...proof, entryB: proof.entryA },
      { ...proof, entryB: { ...proof.entryB!, path: proof.entryB!.path.map((h) => h.map((x) => x ^ 1)) } },
      { ...proof, chainId: '0'.repeat(64) },
    ];
    for (const p of bad) expect(await verifyForkProof(p, strictVerifier)).toBe(false);
    // An impostor's own inconsistent heads prove nothing about this author's chain.
    const [x, y] = await forkedPair(1, 1, 1);
    expect(
      await verifyForkProof(
        { ...forkProofFromHeads(x.author, x.treeHead()!, y.treeHead()!)!, author: other },
        strictVerifier,
      ),
    ).toBe(false);
  });

  it('a pull from a forked copy locates the fork with O(log n) probes, proves it, and the chain then accepts nothing', async () => {
    const [a, b] = await forkedPair(1000, 10, 20);
    const follower = await replicaOf(a);
    await pullChain(follower, wire(a).ask, { verifier: strictVerifier });
    const w = wire(b);
    const r = await pullChain(follower, w.ask, { verifier: strictVerifier });
    expect(r.forked).toBeDefined();
    expect(r.roundTrips).toBeLessThanOrEqual(1 + Math.ceil(Math.log2(1010)) + 2);
    expect(r.forked!.entryA!.sequence).toBe(1000);
    expect(await verifyForkProof(r.forked!, strictVerifier)).toBe(true);
    expect(follower.forkProof).toBe(r.forked);
    const e = await follower.applySync(a.serveSync(follower.syncRequest())).catch((x) => x as ChainError);
    expect((e as ChainError).code).toBe('forked');
    expect(follower.length).toBe(1010);
  });

  it('a follower behind both branches, pulling the other branch after the fork point: diverged heads prove the fork too', async () => {
    const [a, b] = await forkedPair(50, 10, 3);
    const follower = await replicaOf(a);
    await pullChain(follower, wire(a).ask, { verifier: strictVerifier });
    const r = await pullChain(follower, wire(b).ask, { verifier: strictVerifier });
    expect(r.forked?.entryA?.sequence).toBe(50);
  });
});

describe('proof sizes', () => {
  it('inclusion and consistency proofs are at most (⌈log₂ n⌉ + 1) × 32 bytes', async () => {
    const log = await authorChain(4097);
    for (const n of [1, 2, 3, 5, 64, 100, 1000, 4096, 4097]) {
      const bound = (Math.ceil(Math.log2(n)) + 1) * 32;
      for (const i of [0, Math.floor(n / 2), n - 1])
        expect(log.inclusionProof(i, n).length * 32).toBeLessThanOrEqual(bound);
      for (const m of [1, Math.floor(n / 3) || 1, n - 1 || 1, n])
        expect(log.consistencyProof(m, n).length * 32).toBeLessThanOrEqual(bound);
    }
  });
});
