import assert from 'node:assert/strict';
import { sha256 } from '@noble/hashes/sha2.js';
import {
  compareTreeRoots,
  consistencyProof,
  DEPTH,
  EMPTY,
  inclusionProof,
  MerkleProof,
  merkleRoot,
  PrefixTree,
  verifyConsistency,
  verifyInclusion,
} from '../../lib/merkle/mod.ts';
import { fromHex, toHex, utf8 } from '../../lib/util/bytes.ts';
import type { Suite } from './case.ts';

/** The RFC 6962 reference leaves (certificate-transparency test data). */
const LEAVES = [
  '',
  '00',
  '10',
  '2021',
  '3031',
  '40414243',
  '5051525354555657',
  '606162636465666768696a6b6c6d6e6f',
].map(fromHex);
const ROOTS = [
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
];

const hex = (p: Uint8Array[]) => p.map(toHex);

export const merkleCases: Suite = {
  'RFC 6962 roots for the reference leaves, and the empty tree'() {
    for (let n = 1; n <= 8; n++)
      assert.equal(toHex(merkleRoot(LEAVES.slice(0, n))), ROOTS[n - 1], `size ${n}`);
    assert.equal(toHex(merkleRoot([])), toHex(sha256(new Uint8Array(0))));
  },

  'RFC 6962 inclusion proofs (known answers)'() {
    assert.deepEqual(hex(inclusionProof(LEAVES, 0)), [
      '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4',
    ]);
    assert.deepEqual(hex(inclusionProof(LEAVES, 5)), [
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
      'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ]);
    assert.deepEqual(hex(inclusionProof(LEAVES.slice(0, 3), 2)), [ROOTS[1]]);
  },

  'RFC 6962 consistency proofs (known answers)'() {
    assert.deepEqual(hex(consistencyProof(LEAVES, 6)), [
      '0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a',
      'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ]);
    assert.deepEqual(hex(consistencyProof(LEAVES.slice(0, 5), 2)), [
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
    ]);
    assert.deepEqual(consistencyProof(LEAVES, 8), []);
  },

  'every proof of trees up to 33 leaves verifies with the RFC 9162 algorithms'() {
    const leaves = Array.from({ length: 33 }, (_, i) => utf8(`leaf ${i}`));
    for (let n = 1; n <= leaves.length; n++) {
      const tree = leaves.slice(0, n);
      const root = merkleRoot(tree);
      for (let i = 0; i < n; i++)
        assert.ok(verifyInclusion(tree[i]!, i, n, inclusionProof(tree, i), root), `incl ${i}/${n}`);
      for (let m = 1; m <= n; m++) {
        assert.ok(
          verifyConsistency(m, n, merkleRoot(tree.slice(0, m)), root, consistencyProof(tree, m)),
          `cons ${m}/${n}`,
        );
      }
    }
  },

  'tampered proofs, wrong leaves, indices, sizes and roots fail'() {
    const root = merkleRoot(LEAVES);
    const proof = inclusionProof(LEAVES, 3);
    assert.equal(verifyInclusion(LEAVES[3]!, 3, 8, proof, root), true);
    assert.equal(verifyInclusion(LEAVES[4]!, 3, 8, proof, root), false);
    assert.equal(verifyInclusion(LEAVES[3]!, 2, 8, proof, root), false);
    assert.equal(verifyInclusion(LEAVES[3]!, 3, 4, proof, root), false);
    assert.equal(verifyInclusion(LEAVES[3]!, 3, 8, proof.slice(1), root), false);
    assert.equal(verifyInclusion(LEAVES[3]!, 3, 8, [...proof, proof[0]!], root), false);
    const flipped = proof.map((p) => p.slice());
    flipped[1]![7]! ^= 1;
    assert.equal(verifyInclusion(LEAVES[3]!, 3, 8, flipped, root), false);
    assert.equal(verifyInclusion(LEAVES[3]!, 8, 8, proof, root), false);
    const old = merkleRoot(LEAVES.slice(0, 5));
    const cons = consistencyProof(LEAVES, 5);
    assert.equal(verifyConsistency(5, 8, old, root, cons), true);
    assert.equal(verifyConsistency(4, 8, old, root, cons), false);
    assert.equal(verifyConsistency(5, 8, root, root, cons), false);
    assert.equal(verifyConsistency(5, 8, old, root, cons.slice(0, -1)), false);
    assert.equal(verifyConsistency(9, 8, old, root, cons), false);
  },

  'MerkleProof values verify themselves'() {
    assert.equal(MerkleProof.inclusion(LEAVES, 6).verify(), true);
    assert.equal(MerkleProof.consistency(LEAVES, 3).verify(), true);
    assert.equal(toHex(MerkleProof.inclusion(LEAVES, 6).root), ROOTS[7]);
  },

  'prefix tree: root depends only on content, not on insertion order; deletes restore it'() {
    const ids = Array.from({ length: 300 }, (_, i) => sha256(utf8(`key ${i}`)));
    const a = new PrefixTree();
    const b = new PrefixTree();
    for (const [i, id] of ids.entries()) a.set(id, sha256(utf8(`v${i}`)));
    for (const i of [...ids.keys()].reverse()) b.set(ids[i]!, sha256(utf8(`v${i}`)));
    assert.deepEqual(a.root(), b.root());
    const before = a.root();
    const extra = sha256(utf8('extra'));
    a.set(extra, sha256(utf8('x')));
    assert.notDeepEqual(a.root(), before);
    a.delete(extra);
    assert.deepEqual(a.root(), before);
    assert.deepEqual(new PrefixTree().root(), EMPTY);
  },

  'compareTreeRoots: in sync, descend only into differing children, exchange at buckets'() {
    const a = new PrefixTree();
    const b = new PrefixTree();
    for (let i = 0; i < 100; i++) {
      const id = sha256(utf8(`k${i}`));
      a.set(id, sha256(utf8('same')));
      b.set(id, sha256(utf8('same')));
    }
    assert.deepEqual(compareTreeRoots({ level: 0, hash: a.root() }, { level: 0, hash: b.root() }), {
      kind: 'in-sync',
    });
    const changed = sha256(utf8('k7'));
    b.set(changed, sha256(utf8('different')));
    const action = compareTreeRoots(
      { level: 0, hash: a.root(), children: a.children(0, 0) },
      { level: 0, hash: b.root(), children: b.children(0, 0) },
    );
    assert.deepEqual(action, { kind: 'descend', children: [changed[0]! >> 4] });
    const bucket = (changed[0]! << 8) | changed[1]!;
    assert.deepEqual(
      compareTreeRoots(
        { level: DEPTH, hash: a.node(DEPTH, bucket) },
        { level: DEPTH, hash: b.node(DEPTH, bucket) },
      ),
      {
        kind: 'exchange-bucket',
      },
    );
  },
};
