import assert from 'node:assert/strict';
import { ChangeLog } from '../../lib/state/change-log.ts';
import { type StateEntry, signEntry } from '../../lib/state/entry.ts';
import { CrdtGossipState } from '../../lib/state/gossip-state.ts';
import { DistributedProcessTable } from '../../lib/state/process-table.ts';
import { ClusterServiceRegistry } from '../../lib/state/service-registry.ts';
import { encodeProcess, encodeService, type ProcessFields } from '../../lib/state/values.ts';
import { antiEntropyPair } from '../support/anti-entropy-pair.ts';
import { entry, fakeSigner } from '../support/state-entries.ts';
import type { Suite } from './case.ts';

const proc = (
  agentType: string,
  status: ProcessFields['status'],
  caps: string[],
  load?: number,
): Uint8Array =>
  encodeProcess({
    agentType,
    capabilities: caps,
    status,
    resourceSummary: load === undefined ? {} : { load },
  });

function put(
  s: CrdtGossipState,
  origin: number,
  table: 'p' | 's',
  key: string,
  value: Uint8Array | undefined,
  wall = 1000,
): StateEntry {
  const signer = fakeSigner(origin);
  const e = signEntry(signer, table, key, value, { wall, counter: 0, node: signer.nodeId });
  s.merge([e]);
  return e;
}

export const stateCases: Suite = {
  'anti-entropy: 10 differing keys out of 2,000 converge in a few round trips and few bytes'() {
    const { a, b, aeA, run, traffic } = antiEntropyPair();
    const shared = Array.from({ length: 2000 }, (_, i) =>
      entry(1 + (i % 7), 'p', `k${i}`, `v${i}`, 1000 + i),
    );
    a.merge(shared);
    b.merge(shared);
    for (let i = 0; i < 5; i++) a.merge([entry(9, 'p', `only-a-${i}`, 'x', 5000)]);
    // k0, k7, … were written by origin 1 (origin = 1 + i % 7), so these overwrite the same registers.
    for (let i = 0; i < 5; i++) b.merge([entry(1, 'p', `k${i * 7}`, 'newer', 9000)]);
    assert.notDeepEqual(a.tree.root(), b.tree.root());
    aeA.start('b');
    run();
    assert.deepEqual(a.tree.root(), b.tree.root());
    assert.equal(a.map.size, 2005);
    assert.equal(new TextDecoder().decode(a.get('p', fakeSigner(1).nodeId, 'k0')!.value!), 'newer');
    const full = shared.reduce((n, e) => n + e.size, 0);
    assert.ok(traffic.bytes < full * 0.25, `${traffic.bytes} bytes vs ${full} for everything`);
    assert.ok(traffic.treeMessages <= 12, `${traffic.treeMessages} tree messages`);
    // Root, four levels down, the buckets' entries and their echo: a bounded number of trips.
    assert.ok(traffic.waves <= 8, `${traffic.waves} one-way trips`);
  },

  'anti-entropy: an empty replica receives everything in one session; replicas in sync exchange one hash'() {
    const { a, b, aeA, aeB, run, traffic } = antiEntropyPair();
    a.merge(Array.from({ length: 500 }, (_, i) => entry(2, 's', `svc${i}`, 'e', 1000)));
    aeB.start('a');
    run();
    assert.equal(b.map.size, 500);
    assert.deepEqual(a.tree.root(), b.tree.root());
    const before = traffic.messages;
    aeA.start('b');
    run();
    assert.equal(traffic.messages - before, 1, 'only the root went over');
  },

  'delta gossip: a new neighbour gets only news, never what it sent'() {
    const s = new CrdtGossipState();
    s.merge([entry(1, 'p', 'old', 'x', 1000)]);
    s.linkUp('n1');
    s.linkUp('n2');
    assert.deepEqual(s.deltaFor('n1', 10_000), []);
    const mine = entry(1, 'p', 'new', 'y', 2000);
    const theirs = entry(2, 'p', 'from-n1', 'z', 2000);
    s.merge([mine]);
    s.merge([theirs], 'n1');
    assert.deepEqual(
      s.deltaFor('n1', 10_000).map((e) => e.key),
      ['new'],
    );
    assert.deepEqual(
      s.deltaFor('n2', 10_000).map((e) => e.key),
      ['new', 'from-n1'],
    );
    assert.deepEqual(s.deltaFor('n2', 10_000), [], 'the cursor moved');
    const updated = entry(1, 'p', 'new', 'y2', 3000);
    s.merge([updated]);
    assert.deepEqual(s.deltaFor('n2', 10_000), [updated], 'a register changed twice is sent once, latest');
  },

  'delta gossip: a copy of a version that a neighbour sent too is not sent back to it; an older copy does not count'() {
    const s = new CrdtGossipState();
    for (const p of ['n1', 'n2', 'n3']) s.linkUp(p);
    const v2 = entry(1, 'p', 'k', 'v2', 2000);
    s.merge([v2], 'n1');
    // Two paths raced: n2 sent the same version after n1; n3 sent an older one.
    s.merge([v2], 'n2');
    s.merge([entry(1, 'p', 'k', 'v1', 1000)], 'n3');
    assert.deepEqual(s.deltaFor('n1', 10_000), []);
    assert.deepEqual(s.deltaFor('n2', 10_000), [], 'n2 holds this version: it sent it');
    assert.deepEqual(s.deltaFor('n3', 10_000), [v2], 'n3 holds an older one');
    // A newer version is news again, to every neighbour but the one it came from.
    const v3 = entry(1, 'p', 'k', 'v3', 3000);
    s.merge([v3], 'n3');
    assert.deepEqual(s.deltaFor('n2', 10_000), [v3]);
  },

  'delta gossip: the neighbours remembered as holding a version are bounded per register'() {
    const log = new ChangeLog();
    log.append('p/o/k', 'n0');
    for (let i = 1; i <= 20; i++) log.heldBy('p/o/k', `n${i}`);
    const [r] = [...log.after(0)];
    const held = Array.from({ length: 21 }, (_, i) => log.holds(r!, `n${i}`));
    assert.deepEqual(held, [...Array(9).fill(true), ...Array(12).fill(false)]);
    log.heldBy('p/o/unknown', 'n1');
    log.append('p/o/k', undefined);
    const [latest] = [...log.after(0)];
    assert.equal(log.holds(latest!, 'n1'), false, 'a new version forgets who held the old one');
  },

  'delta gossip: a delta stops at its byte budget and leaves the rest pending for the next'() {
    const s = new CrdtGossipState();
    s.linkUp('n1');
    const all = Array.from({ length: 10 }, (_, i) => entry(1, 'p', `k${i}`, 'x'.repeat(100), 1000 + i));
    s.merge(all);
    const budget = all[0]!.size * 4;
    assert.equal(s.pending('n1'), true);
    const first = s.deltaFor('n1', budget);
    assert.equal(first.length, 4);
    assert.equal(s.pending('n1'), true);
    const rest = [...s.deltaFor('n1', budget), ...s.deltaFor('n1', budget)];
    assert.deepEqual([...first, ...rest], all);
    assert.equal(s.pending('n1'), false);
  },

  'low-water mark voids older versions (tombstones included) and later arrivals of them'() {
    const s = new CrdtGossipState();
    const old = entry(1, 'p', 'gone', undefined, 1000);
    const live = entry(1, 'p', 'kept', 'v', 5000);
    s.merge([old, live]);
    s.setLowWaterMark(fakeSigner(1).nodeId, 4000);
    assert.equal(s.get('p', fakeSigner(1).nodeId, 'gone'), undefined);
    assert.ok(s.get('p', fakeSigner(1).nodeId, 'kept'));
    const resurrect = entry(1, 'p', 'gone', 'zombie', 2000);
    assert.deepEqual(s.merge([resurrect]), []);
    assert.equal(s.metrics.voided, 2, 'the held tombstone and the late arrival');
    const other = new CrdtGossipState();
    other.merge([live]);
    assert.deepEqual(s.tree.root(), other.tree.root(), 'roots agree once the void versions are gone');
  },

  'caps: a full replica makes room from origins standing lower, refuses the lowest, keeps its own writes'() {
    const standing = new Map([1, 2, 3].map((o) => [fakeSigner(o).nodeId, o]));
    const e = (o: number, k: string) => entry(o, 'p', k, 'v', 1000);
    const s = new CrdtGossipState({
      maxEntries: 3,
      maxBytes: 1 << 20,
      standing: (origin) => standing.get(origin) ?? Number.POSITIVE_INFINITY,
    });
    s.merge([e(2, 'a'), e(3, 'b'), e(3, 'c')], 'peer');
    assert.equal(s.merge([e(3, 'd')], 'peer').length, 0, 'origin 3 stands lowest: refused');
    assert.equal(s.merge([e(2, 'e')], 'peer').length, 1, 'origin 2 takes the room of origin 3');
    assert.equal(s.map.size, 3);
    assert.equal([...s.map.ofOrigin(fakeSigner(3).nodeId)].length, 1);
    s.merge([e(1, 'f'), e(1, 'g')], 'peer');
    assert.equal([...s.map.origins()].length, 2, 'origin 3 made room first, then origin 2');
    // Writes of this replica (no sender; origin 1 here): room from lower origins, else over the cap.
    s.merge([e(1, 'h'), e(1, 'i')]);
    assert.deepEqual([...s.map.origins()], [fakeSigner(1).nodeId]);
    assert.equal(s.map.size, 4);
    assert.equal(s.metricsSnapshot().evicted, 4);
    assert.equal(s.metricsSnapshot().refusedFull, 1);
    // An update in place needs no room.
    assert.equal(s.merge([entry(1, 'p', 'f', 'w', 2000)], 'peer').length, 1);
  },

  'dropping an origin removes its entries (reaped member); they can come back'() {
    const s = new CrdtGossipState();
    const e = entry(3, 's', 'db', 'x', 1000);
    s.merge([e, entry(4, 's', 'db', 'y', 1000)]);
    s.dropOrigin(fakeSigner(3).nodeId);
    assert.equal(s.map.size, 1);
    s.merge([e]);
    assert.equal(s.map.size, 2);
  },

  'process table: running processes on reachable nodes; least loaded node with deterministic ties'() {
    const s = new CrdtGossipState();
    const reachable = new Set([fakeSigner(1).nodeId, fakeSigner(2).nodeId, fakeSigner(3).nodeId]);
    const table = new DistributedProcessTable(s, (id) => reachable.has(id));
    put(s, 1, 'p', 'a', proc('worker', 'Running', ['gpu'], 5));
    put(s, 2, 'p', 'b', proc('worker', 'Running', ['cpu'], 2));
    put(s, 2, 'p', 'c', proc('worker', 'Stopping', ['gpu'], 0));
    put(s, 3, 'p', 'd', proc('indexer', 'Running', ['cpu'], 2));
    put(s, 4, 'p', 'e', proc('worker', 'Running', ['gpu'], 0)); // node 4 is not reachable
    assert.deepEqual(
      table.findByType('worker').map((p) => p.globalPid.pid),
      ['a', 'b'],
    );
    assert.deepEqual(
      table.findByCapability('gpu').map((p) => p.globalPid.pid),
      ['a'],
    );
    // Nodes 2 and 3 both carry load 2; node 2 runs one process, node 3 one: tie → lowest id.
    assert.equal(table.leastLoadedNode(), fakeSigner(2).nodeId);
    assert.equal(table.leastLoadedNode({ agentType: 'indexer' }), fakeSigner(3).nodeId);
    assert.equal(table.leastLoadedNode({ capability: 'gpu' }), fakeSigner(1).nodeId);
    reachable.delete(fakeSigner(1).nodeId);
    assert.deepEqual(table.findByCapability('gpu'), [], 'an unreachable node drops out at once');
    assert.equal(table.get({ nodeId: fakeSigner(2).nodeId, pid: 'c' })?.status, 'Stopping');
  },

  'service registry: preferred when healthy and reachable, else ring order, degraded last; round robin'() {
    const s = new CrdtGossipState();
    const reachable = new Set([1, 2, 3, 4].map((i) => fakeSigner(i).nodeId));
    const reg = new ClusterServiceRegistry(s, (id) => reachable.has(id));
    for (const i of [1, 2, 3, 4]) {
      put(
        s,
        i,
        's',
        'db',
        encodeService({
          endpoint: `tcp://db${i}`,
          metadata: { zone: `z${i}` },
          health: i === 4 ? 'Unhealthy' : 'Healthy',
        }),
      );
    }
    const pref = fakeSigner(2).nodeId;
    assert.equal(reg.resolvePreferred('db', pref)?.endpoint, 'tcp://db2');
    assert.equal(
      reg.resolvePreferred('db', fakeSigner(4).nodeId)?.nodeId === fakeSigner(4).nodeId,
      false,
      'unhealthy is skipped',
    );
    const order = reg.candidates('db', pref).map((x) => x.nodeId);
    reachable.delete(pref);
    assert.deepEqual(
      reg.candidates('db', pref).map((x) => x.nodeId),
      order.slice(1),
      'the fallback order is the ring order after the preferred node',
    );
    assert.equal(reg.resolveAll('db').length, 3);
    const seen = [reg.roundRobin('db'), reg.roundRobin('db'), reg.roundRobin('db'), reg.roundRobin('db')].map(
      (x) => x!.endpoint,
    );
    assert.equal(new Set(seen.slice(0, 2)).size, 2);
    assert.equal(seen[0], seen[2]);
    assert.equal(reg.resolvePreferred('nothing'), undefined);
    // The preferred instance degrades: healthy ones go first, it remains the last resort.
    put(s, 3, 's', 'db', encodeService({ endpoint: 'tcp://db3', metadata: {}, health: 'Degraded' }), 2000);
    const three = fakeSigner(3).nodeId;
    assert.deepEqual(
      reg.candidates('db', three).map((x) => x.nodeId),
      [fakeSigner(1).nodeId, three],
    );
    put(s, 1, 's', 'db', encodeService({ endpoint: 'tcp://db1', metadata: {}, health: 'Unhealthy' }), 2000);
    assert.equal(reg.resolvePreferred('db', fakeSigner(1).nodeId)?.nodeId, three);
  },
};
