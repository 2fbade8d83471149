/**
 * Raft (weftmesh/consensus) on the simulated network: commit latency for 3 and 5 voters in
 * simulated ms and in round trips, proposals per second through one leader (CPU, messages
 * delivered in memory), time to a new leader after the leader crashes, and installing a
 * snapshot of 100,000 keys on a follower that has nothing. Figures only, never pass/fail.
 */
import { ConsensusSim, runConsensusSim } from '../lib/consensus/check/sim.ts';
import { encodeKvCommand, KvStateMachine } from '../lib/consensus/kv.ts';
import type { ConsensusMessage } from '../lib/consensus/messages.ts';
import { RaftCore } from '../lib/consensus/raft.ts';
import { MemoryConsensusStorage } from '../lib/consensus/storage.ts';
import { SeededRandom } from '../lib/time/random.ts';
import { fmt, table } from './harness.ts';

const QUIET = { loss: 0, duplicate: 0, reorder: 0, crash: false, partition: false };
const ONE_WAY = { meanMs: 10, jitterMs: 5 };
const RTT_MS = 2 * ONE_WAY.meanMs;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

/** Cores that deliver to each other at once (in memory), persisting each ready record. */
class InstantCluster {
  readonly cores = new Map<string, RaftCore>();
  readonly storages = new Map<string, MemoryConsensusStorage>();
  readonly kv = new Map<string, KvStateMachine>();
  messages = 0;
  bytes = 0;
  #queue: ConsensusMessage[] = [];

  constructor(ids: string[], storages?: Map<string, MemoryConsensusStorage>) {
    for (const id of ids) {
      const storage = storages?.get(id) ?? new MemoryConsensusStorage(ids);
      this.storages.set(id, storage);
      const kv = new KvStateMachine();
      kv.restore(storage.snapshot().data);
      this.kv.set(id, kv);
      this.cores.set(id, new RaftCore({ id, storage, random: new SeededRandom(id), preVote: false }));
    }
  }

  flush(): void {
    for (;;) {
      for (const [id, core] of this.cores) {
        while (core.hasReady()) {
          const r = core.ready();
          const storage = this.storages.get(id)!;
          const kv = this.kv.get(id)!;
          if (r.snapshot) storage.applySnapshot(r.snapshot);
          storage.append(r.entries);
          if (r.hardState) storage.setHardState(r.hardState);
          this.#queue.push(...r.messages);
          if (r.snapshot) kv.restore(r.snapshot.data);
          for (const e of r.committed) if (e.kind === 'command') kv.apply(e.data);
          core.advance(r);
        }
      }
      if (this.#queue.length === 0) return;
      const batch = this.#queue;
      this.#queue = [];
      for (const m of batch) {
        this.messages++;
        if (m.type === 'snapshot') this.bytes += m.chunk.length;
        this.cores.get(m.to)!.step(m);
      }
    }
  }
}

function latencyRows(): Array<Array<string | number>> {
  return [3, 5].map((voters) => {
    const r = runConsensusSim({
      seed: 1,
      voters,
      clients: 4,
      durationMs: 5_000,
      faults: QUIET,
      latency: ONE_WAY,
    });
    const p = r.proposalCommitMs;
    return [
      `${voters} voters`,
      fmt(p.p50, 1),
      fmt(p.p99, 1),
      fmt(p.p50 / RTT_MS, 2),
      fmt(r.commitLatencyMs.p50, 1),
      r.commits,
    ];
  });
}

function throughput(voters: number, batch: number): { perSec: number; messagesPerProposal: number } {
  const ids = Array.from({ length: voters }, (_, i) => `n${i}`);
  const c = new InstantCluster(ids);
  const leader = c.cores.get('n0')!;
  leader.campaign();
  c.flush();
  const data = encodeKvCommand({ op: 'put', key: 'k', value: 'x'.repeat(64) });
  const total = 60_000;
  const before = c.messages;
  const start = performance.now();
  for (let done = 0; done < total; done += batch) {
    for (let i = 0; i < batch; i++) leader.propose(data);
    c.flush();
  }
  const ms = performance.now() - start;
  return { perSec: (total * 1000) / ms, messagesPerProposal: (c.messages - before) / total };
}

function failover(voters: number): number[] {
  const times: number[] = [];
  for (let seed = 1; seed <= 20; seed++) {
    const sim = new ConsensusSim({ seed, voters, clients: 0, faults: QUIET, latency: ONE_WAY });
    sim.scheduler.runUntil(1_000);
    const old = sim.leader();
    if (!old) continue;
    sim.crash(old);
    const crashedAt = sim.now;
    while (sim.now < crashedAt + 10_000) {
      sim.scheduler.runFor(1);
      const now = sim.leader();
      if (now && now !== old) break;
    }
    times.push(sim.now - crashedAt);
  }
  return times.sort((a, b) => a - b);
}

function snapshotInstall(keys: number): Array<Array<string | number>> {
  const ids = ['n0', 'n1', 'n2'];
  const kv = new KvStateMachine();
  for (let i = 0; i < keys; i++)
    kv.apply(encodeKvCommand({ op: 'put', key: `key-${i}`, value: `value-${i}` }));
  let t = performance.now();
  const image = kv.snapshot();
  const snapMs = performance.now() - t;
  // n0 and n1 hold the image as their snapshot at index 1; n2 starts empty.
  const storages = new Map<string, MemoryConsensusStorage>();
  for (const id of ids) {
    const s = new MemoryConsensusStorage(ids);
    if (id !== 'n2') {
      s.append([{ index: 1, term: 1, kind: 'noop' }]);
      s.setHardState({ term: 1, vote: '', commit: 1 });
      s.compact(1, ids, image);
    }
    storages.set(id, s);
  }
  const c = new InstantCluster(ids, storages);
  t = performance.now();
  c.cores.get('n0')!.campaign();
  c.flush();
  const installMs = performance.now() - t;
  const ok = c.kv.get('n2')!.get(`key-${keys - 1}`) === `value-${keys - 1}`;
  const chunks = Math.ceil(image.length / (256 * 1024));
  return [
    [
      `${fmt(keys)} keys`,
      fmt(image.length / 1024 / 1024, 2),
      chunks,
      fmt(snapMs, 0),
      fmt(installMs, 0),
      fmt(chunks * RTT_MS, 0),
      ok ? 'yes' : 'NO',
    ],
  ];
}

export async function consensusBench(): Promise<void> {
  table(
    `Raft commit latency, simulated network (one-way ${ONE_WAY.meanMs} ± ${ONE_WAY.jitterMs} ms, RTT ${RTT_MS} ms), 4 clients, no faults`,
    ['cluster', 'leader p50 ms', 'leader p99 ms', 'p50 in RTTs', 'client p50 ms', 'commits'],
    latencyRows(),
  );
  const rows: Array<Array<string | number>> = [];
  for (const voters of [3, 5])
    for (const batch of [1, 100]) {
      const r = throughput(voters, batch);
      rows.push([`${voters} voters, ${batch} per ready`, fmt(r.perSec), fmt(r.messagesPerProposal, 2)]);
    }
  table(
    'Raft proposals per second through one leader (CPU; messages delivered in memory)',
    ['setup', 'proposals/s', 'messages/proposal'],
    rows,
  );
  const fo = [3, 5].map((v) => {
    const t = failover(v);
    return [
      `${v} voters`,
      t.length,
      fmt(percentile(t, 50), 0),
      fmt(percentile(t, 99), 0),
      fmt(percentile(t, 50) / 100, 1),
    ];
  });
  table(
    'Raft time to a new leader after the leader crashes (simulated; election timeout 100–200 ms, pre-vote on)',
    ['cluster', 'runs', 'p50 ms', 'p99 ms', 'p50 in election timeouts'],
    fo,
  );
  table(
    'Raft InstallSnapshot to an empty follower (256 KiB chunks)',
    [
      'state',
      'MiB',
      'chunks',
      'snapshot ms',
      'install ms (CPU)',
      `install ms at RTT ${RTT_MS} ms`,
      'follower has it',
    ],
    snapshotInstall(100_000),
  );
}
