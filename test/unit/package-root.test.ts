// What the issue promises from the package root, imported the way users do (`weftmesh`,
// resolved through package.json exports to the built dist/).

import { describe, expect, it } from 'vitest';
import {
  ConsistentHashRing,
  compareTreeRoots,
  consistencyProof,
  inclusionProof,
  MerkleProof,
  merkleRoot,
  PrefixTree,
  verifyConsistency,
  verifyInclusion,
} from 'weftmesh';

const leaves = Array.from({ length: 7 }, (_, i) => new TextEncoder().encode(`leaf ${i}`));

describe('package root', () => {
  it('exports the hash ring with its documented constructor', () => {
    const ring = new ConsistentHashRing({ virtualNodes: 128 });
    for (const id of ['a', 'b', 'c']) ring.add(id);
    expect(ring.ownersOf('key', 3).sort()).toEqual(['a', 'b', 'c']);
    ring.remove('a');
    expect(['b', 'c']).toContain(ring.ownerOf('key'));
  });

  it('exports the RFC 6962 functions and MerkleProof', () => {
    const root = merkleRoot(leaves);
    expect(verifyInclusion(leaves[3]!, 3, 7, inclusionProof(leaves, 3), root)).toBe(true);
    expect(verifyInclusion(leaves[4]!, 3, 7, inclusionProof(leaves, 3), root)).toBe(false);
    const old = merkleRoot(leaves.slice(0, 4));
    expect(verifyConsistency(4, 7, old, root, consistencyProof(leaves, 4))).toBe(true);
    expect(MerkleProof.inclusion(leaves, 6).verify()).toBe(true);
    expect(MerkleProof.consistency(leaves, 2).verify()).toBe(true);
  });

  it('exports compareTreeRoots over prefix trees', () => {
    const a = new PrefixTree();
    const b = new PrefixTree();
    expect(compareTreeRoots({ level: 0, hash: a.root() }, { level: 0, hash: b.root() }).kind).toBe('in-sync');
    a.set(new Uint8Array(32).fill(1), new Uint8Array(32).fill(2));
    expect(compareTreeRoots({ level: 0, hash: a.root() }, { level: 0, hash: b.root() }).kind).toBe('descend');
  });
});
