// The LWW map converges whatever the delivery: any order, duplicates, partitions.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { StateEntry } from '../../lib/state/entry.ts';
import { CrdtGossipState } from '../../lib/state/gossip-state.ts';
import { toHex } from '../../lib/util/bytes.ts';
import { entry } from '../support/state-entries.ts';

/** A random write: origin, table, key, value (undefined = delete), HLC wall and counter. Small ranges force ties. */
const write = fc.record({
  origin: fc.integer({ min: 1, max: 3 }),
  table: fc.constantFrom('p' as const, 's' as const),
  key: fc.constantFrom('a', 'b', 'c'),
  value: fc.option(fc.constantFrom('x', 'y', 'z'), { nil: undefined }),
  wall: fc.integer({ min: 1_000, max: 1_003 }),
  counter: fc.integer({ min: 0, max: 1 }),
});

function snapshot(s: CrdtGossipState): string[] {
  return [...s.map.values()].map((e) => `${e.id}=${toHex(e.digest)}`).sort();
}

describe('LWW map CRDT properties', () => {
  it('replicas that saw the same writes, in any order and with duplicates, are equal (content and Merkle root)', () => {
    fc.assert(
      fc.property(
        fc.array(write, { minLength: 1, maxLength: 30 }),
        fc.array(fc.nat(), { minLength: 3, maxLength: 3 }),
        (writes, seeds) => {
          const entries = writes.map((w) => entry(w.origin, w.table, w.key, w.value, w.wall, w.counter));
          const replicas = seeds.map((seed) => {
            const r = new CrdtGossipState();
            // A deterministic shuffle with duplicates, per replica.
            const order = entries.flatMap((e, i) => ((seed + i) % 3 === 0 ? [e, e] : [e]));
            for (let i = order.length - 1; i > 0; i--) {
              const j = (seed * 31 + i * 17) % (i + 1);
              [order[i], order[j]] = [order[j]!, order[i]!];
            }
            for (const e of order) r.merge([e]);
            return r;
          });
          const [a, ...rest] = replicas;
          for (const r of rest) {
            expect(snapshot(r)).toEqual(snapshot(a!));
            expect(r.tree.root()).toEqual(a!.tree.root());
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('the winner of each register is the greatest (wall, counter, node) timestamp', () => {
    fc.assert(
      fc.property(fc.array(write, { minLength: 1, maxLength: 30 }), (writes) => {
        const r = new CrdtGossipState();
        const entries = writes.map((w) => entry(w.origin, w.table, w.key, w.value, w.wall, w.counter));
        r.merge(entries);
        for (const held of r.map.values()) {
          for (const e of entries.filter((x) => x.id === held.id)) {
            const later =
              e.ts.wall > held.ts.wall || (e.ts.wall === held.ts.wall && e.ts.counter > held.ts.counter);
            expect(later).toBe(false);
          }
        }
      }),
      { numRuns: 200 },
    );
  });

  it('partitions: replicas merging disjoint subsets, then each other, converge', () => {
    fc.assert(
      fc.property(
        fc.array(write, { minLength: 2, maxLength: 40 }),
        fc.integer({ min: 1, max: 39 }),
        (writes, cut) => {
          const entries = writes.map((w) => entry(w.origin, w.table, w.key, w.value, w.wall, w.counter));
          const left = new CrdtGossipState();
          const right = new CrdtGossipState();
          left.merge(entries.slice(0, cut));
          right.merge(entries.slice(cut));
          const all = (s: CrdtGossipState): StateEntry[] => [...s.map.values()];
          const fromLeft = all(left);
          left.merge(all(right));
          right.merge(fromLeft);
          const reference = new CrdtGossipState();
          reference.merge(entries);
          expect(snapshot(left)).toEqual(snapshot(reference));
          expect(snapshot(right)).toEqual(snapshot(reference));
          expect(left.tree.root()).toEqual(right.tree.root());
        },
      ),
      { numRuns: 200 },
    );
  });
});
