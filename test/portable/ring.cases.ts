import assert from 'node:assert/strict';
import { ConsistentHashRing, hash64 } from '../../lib/ring/mod.ts';
import { hash64 as sharedHash64 } from '../../lib/util/hash64.ts';
import type { Suite } from './case.ts';

const nodes = (n: number) => Array.from({ length: n }, (_, i) => `node-${String(i).padStart(3, '0')}`);
const keys = (n: number) => Array.from({ length: n }, (_, i) => `key-${i}`);

export const ringCases: Suite = {
  'hash64 is the first 8 bytes of SHA-256 (values computed independently with Python hashlib)'() {
    assert.deepEqual(hash64('weftmesh'), [0xea513e09, 0x9b980f66]);
    assert.deepEqual(hash64('node-a#0'), [0xf0395da1, 0x8c0b14fa]);
  },

  "the ring's hash64 is the shared one of lib/util, which the service registry orders by"() {
    assert.equal(hash64, sharedHash64);
  },

  'owners are deterministic and independent of insertion order'() {
    const a = new ConsistentHashRing();
    const b = new ConsistentHashRing();
    for (const n of nodes(20)) a.add(n);
    for (const n of nodes(20).reverse()) b.add(n);
    for (const k of keys(500)) assert.equal(a.ownerOf(k), b.ownerOf(k));
    assert.equal(new ConsistentHashRing().ownerOf('x'), undefined);
  },

  'ownersOf returns n distinct nodes, the owner first'() {
    const r = new ConsistentHashRing({ virtualNodes: 64 });
    for (const n of nodes(5)) r.add(n);
    for (const k of keys(100)) {
      const owners = r.ownersOf(k, 3);
      assert.equal(owners.length, 3);
      assert.equal(new Set(owners).size, 3);
      assert.equal(owners[0], r.ownerOf(k));
    }
    assert.equal(r.ownersOf('k', 10).length, 5);
  },

  'adding one node to 20 moves about 1/21 of the keys, only to the new node'() {
    const r = new ConsistentHashRing();
    for (const n of nodes(20)) r.add(n);
    const ks = keys(20_000);
    const before = ks.map((k) => r.ownerOf(k));
    r.add('node-new');
    let moved = 0;
    ks.forEach((k, i) => {
      const now = r.ownerOf(k);
      if (now !== before[i]) {
        moved++;
        assert.equal(now, 'node-new');
      }
    });
    const fraction = moved / ks.length;
    assert.ok(fraction > 0.03 && fraction < 0.07, `moved ${fraction}`);
    r.remove('node-new');
    for (const [i, k] of ks.entries()) assert.equal(r.ownerOf(k), before[i]);
  },

  'load is spread: max/mean keys per node stays low with 128 virtual nodes'() {
    const r = new ConsistentHashRing();
    for (const n of nodes(50)) r.add(n);
    const load = new Map<string, number>();
    for (const k of keys(50_000)) load.set(r.ownerOf(k)!, (load.get(r.ownerOf(k)!) ?? 0) + 1);
    const max = Math.max(...load.values());
    assert.equal(load.size, 50);
    assert.ok(max / 1000 < 1.4, `max/mean ${max / 1000}`);
    assert.throws(() => new ConsistentHashRing({ virtualNodes: 0 }), RangeError);
  },
};
