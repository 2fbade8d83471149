// The incremental RFC 6962 tree the chains sign (lib/merkle/log-tree.ts LogTree): its roots
// and proofs are exactly those of the list functions (the RFC's recursive definitions), and
// they verify with the RFC 9162 algorithms between many size pairs.
import { describe, expect, it } from 'vitest';
import {
  consistencyProof,
  inclusionProof,
  LogTree,
  leafHash,
  merkleRoot,
  verifyConsistency,
  verifyInclusion,
} from '../../lib/merkle/log-tree.ts';

const leaves = Array.from({ length: 70 }, (_, i) => Uint8Array.of(i, i * 7, 255 - i));

function treeOf(n: number): LogTree {
  const t = new LogTree();
  for (const l of leaves.slice(0, n)) t.appendHash(leafHash(l));
  return t;
}

describe('LogTree', () => {
  it('has the root of merkleRoot at every size, from the full tree too', () => {
    const full = treeOf(leaves.length);
    for (let n = 0; n <= leaves.length; n++) {
      expect(treeOf(n).root()).toEqual(merkleRoot(leaves.slice(0, n)));
      expect(full.root(n)).toEqual(merkleRoot(leaves.slice(0, n)));
    }
  });

  it('makes the inclusion proofs of the list functions, and they verify', () => {
    const full = treeOf(leaves.length);
    for (const n of [1, 2, 3, 7, 8, 9, 31, 64, 70])
      for (let i = 0; i < n; i++) {
        const proof = full.inclusionProof(i, n);
        expect(proof).toEqual(inclusionProof(leaves.slice(0, n), i));
        expect(verifyInclusion(leafHash(leaves[i]!), i, n, proof, full.root(n))).toBe(false);
        expect(verifyInclusion(leaves[i]!, i, n, proof, full.root(n))).toBe(true);
      }
  });

  it('RFC 6962 consistency proofs between every size pair up to 70 are the list functions’ and verify; a wrong old root does not', () => {
    const full = treeOf(leaves.length);
    let pairs = 0;
    for (let n = 1; n <= leaves.length; n++)
      for (let m = 1; m <= n; m++) {
        const proof = full.consistencyProof(m, n);
        expect(proof).toEqual(consistencyProof(leaves.slice(0, n), m));
        expect(verifyConsistency(m, n, full.root(m), full.root(n), proof)).toBe(true);
        const wrong = full.root(m).slice();
        wrong[0]! ^= 1;
        expect(verifyConsistency(m, n, wrong, full.root(n), proof)).toBe(false);
        pairs++;
      }
    expect(pairs).toBe((70 * 71) / 2);
  });

  it('truncate forgets later leaves: roots and proofs are those of the shorter tree', () => {
    const t = treeOf(70);
    t.truncate(37);
    expect(t.size).toBe(37);
    expect(t.root()).toEqual(merkleRoot(leaves.slice(0, 37)));
    t.appendHash(leafHash(leaves[37]!));
    expect(t.root()).toEqual(merkleRoot(leaves.slice(0, 38)));
    expect(t.consistencyProof(5)).toEqual(consistencyProof(leaves.slice(0, 38), 5));
  });

  it('refuses sizes and indices outside the tree', () => {
    const t = treeOf(5);
    expect(() => t.root(6)).toThrow(/size/);
    expect(() => t.inclusionProof(5, 5)).toThrow(/index/);
    expect(() => t.consistencyProof(0, 5)).toThrow(/old size/);
    expect(() => t.consistencyProof(3, 6)).toThrow(/size/);
  });
});
