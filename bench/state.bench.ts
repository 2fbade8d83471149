/**
 * Replicated state: write propagation across a 1,000-node simulated mesh, anti-entropy
 * cost against full-state transfer, and the hash ring's balance and key movement.
 */
import { NodeState } from '../lib/membership/node-state.ts';
import { ConsistentHashRing } from '../lib/ring/consistent-hash-ring.ts';
import { SimCluster } from '../lib/sim/cluster.ts';
import { summarize } from '../lib/sim/stats-summary.ts';
import type { StateEntry } from '../lib/state/entry.ts';
import { ProcessStatus } from '../lib/state/values.ts';
import { encodeMessage } from '../lib/wire/mod.ts';
import { antiEntropyPair } from '../test/support/anti-entropy-pair.ts';
import { entry } from '../test/support/state-entries.ts';
import { fmt, table } from './harness.ts';

export async function propagationBench(): Promise<void> {
  const n = 1_000;
  const wall = performance.now();
  const c = await SimCluster.create({
    nodes: n,
    seed: 21,
    maxLinks: 24,
    network: { latency: { meanMs: 10, jitterMs: 5 }, linkAuth: 'trusted' },
  });
  while (c.observer.convergedAtMs === undefined && c.now < 120_000) c.runFor(500);
  const writes = 20;
  // Arrival time of write k at every node (by entry key).
  const arrivals = new Map<string, number[]>();
  const writtenAt = new Map<string, number>();
  for (const sn of c.nodes) {
    sn.node.on('state-changed', (e) => {
      if (e.from !== undefined) arrivals.get(e.key)?.push(c.now - writtenAt.get(e.key)!);
    });
  }
  for (let k = 0; k < writes; k++) {
    const writer = c.nodes[c.net.random.int(n)]!.node;
    const key = `bench-${k}`;
    arrivals.set(key, []);
    writtenAt.set(key, c.now);
    writer.advertiseProcess(key, {
      agentType: 'worker',
      capabilities: [],
      status: ProcessStatus.Running,
      resourceSummary: { load: k },
    });
    c.runFor(2_000);
  }
  c.runFor(10_000);
  const all = [...arrivals.values()].flat();
  const complete = [...arrivals.values()].filter((a) => a.length === n - 1).length;
  const lastArrival = summarize([...arrivals.values()].map((a) => Math.max(...a)));
  const lat = summarize(all)!;
  const active = c.nodes[0]!.node.members().filter((m) => m.state === NodeState.Active).length;
  table(
    `Write propagation: ${n} simulated nodes, ≤24 links, latency 10±5 ms, deltas 50 ms after a write along the tree, lazy links told after 500 ms (${writes} writes, ${active} Active members seen by node 0)`,
    ['measure', 'p50 ms', 'p99 ms', 'max ms'],
    [
      ['write → each node', lat.p50, lat.p99, lat.max],
      ['write → last node', lastArrival!.p50, lastArrival!.p99, lastArrival!.max],
    ],
  );
  console.log(
    `  ${complete}/${writes} writes reached all ${n - 1} other nodes; wall ${fmt((performance.now() - wall) / 1000, 1)} s`,
  );
}

/** Bytes of sending `entries` whole, in the same 48 KiB delta frames anti-entropy uses. */
function fullTransferBytes(entries: StateEntry[]): number {
  let bytes = 0;
  for (let i = 0; i < entries.length; ) {
    let size = 0;
    const page: StateEntry[] = [];
    while (i < entries.length && page.length < 512 && size + entries[i]!.size <= 48 * 1024) {
      size += entries[i]!.size;
      page.push(entries[i++]!);
    }
    bytes += encodeMessage({ type: 'state-delta', entries: page.map((e) => e.wire) }).length;
  }
  return bytes;
}

export async function antiEntropyBench(): Promise<void> {
  const rows: Array<Array<string | number>> = [];
  for (const n of [1_000, 100_000]) {
    const base = Array.from({ length: n }, (_, i) =>
      entry(1 + (i % 50), 'p', `k${i}`, `value ${i}`, 1_000 + i),
    );
    const full = fullTransferBytes(base);
    for (const d of [1, 10, 1_000]) {
      const { a, b, aeA, run, traffic } = antiEntropyPair();
      a.merge(base);
      b.merge(base);
      // b has newer versions of d keys spread over the key space.
      const step = Math.floor(n / d);
      b.merge(
        Array.from({ length: d }, (_, j) => {
          const i = j * step;
          return entry(1 + (i % 50), 'p', `k${i}`, `newer ${i}`, 900_000 + i);
        }),
      );
      // Replicas keep their trees current as they merge; the session starts from there.
      a.tree.root();
      b.tree.root();
      const t = performance.now();
      aeA.start('b');
      run();
      const ms = performance.now() - t;
      const equal = a.tree.root().every((x, i) => x === b.tree.root()[i]);
      rows.push([
        fmt(n),
        fmt(d),
        traffic.bytes,
        full,
        `${((100 * traffic.bytes) / full).toFixed(2)}%`,
        traffic.waves,
        traffic.messages,
        fmt(ms, 1),
        equal ? 'yes' : 'NO',
      ]);
    }
  }
  table(
    'Anti-entropy: d differing keys out of n (Merkle prefix tree, fanout 16, depth 4) vs sending the full state',
    ['n', 'd', 'bytes', 'full-state bytes', 'ratio', 'one-way trips', 'messages', 'cpu ms', 'equal after'],
    rows,
  );
}

export async function ringBench(): Promise<void> {
  const keys = Array.from({ length: 100_000 }, (_, i) => `process-${i}`);
  const rows: Array<Array<string | number>> = [];
  for (const [n, v] of [
    [10, 128],
    [100, 128],
    [1_000, 128],
    [100, 32],
    [100, 512],
  ] as const) {
    const ring = new ConsistentHashRing({ virtualNodes: v });
    for (let i = 0; i < n; i++) ring.add(`node-${i}`);
    const owners = keys.map((k) => ring.ownerOf(k)!);
    const counts = new Map<string, number>();
    for (const o of owners) counts.set(o, (counts.get(o) ?? 0) + 1);
    const mean = keys.length / n;
    const max = Math.max(...counts.values());
    ring.add('node-new');
    let moved = 0;
    let movedElsewhere = 0;
    keys.forEach((k, i) => {
      const now = ring.ownerOf(k);
      if (now === owners[i]) return;
      moved++;
      if (now !== 'node-new') movedElsewhere++;
    });
    rows.push([
      n,
      v,
      (max / mean).toFixed(3),
      `${((100 * moved) / keys.length).toFixed(2)}%`,
      `${(100 / (n + 1)).toFixed(2)}%`,
      movedElsewhere,
    ]);
  }
  table(
    'Consistent hash ring: 100,000 keys; balance and movement when one node joins',
    ['nodes', 'virtual nodes', 'max/mean keys', 'keys moved', 'ideal 1/(n+1)', 'moved between old nodes'],
    rows,
  );
}
