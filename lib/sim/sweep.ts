/**
 * Runs one sweep scenario (sweep-scenario.ts) on a simulated cluster and judges it
 * (sweep-invariants.ts): continuously while the faults last, then after they are
 * repaired — membership, replicas and the mesh of links converge, a broadcast reaches
 * every live node once, no acknowledged write of a live process is lost. The same seed reproduces the run
 * exactly; `digest` fingerprints its log to prove it.
 */

import { NodeIdentity } from '../identity/node-identity.ts';
import type { SignatureVerifier } from '../identity/verifier.ts';
import { type HeartbeatConfig, heartbeatConfig } from '../membership/config.ts';
import type { StateEntry } from '../state/entry.ts';
import { ProcessStatus, ServiceHealth } from '../state/values.ts';
import { SeededRandom } from '../time/random.ts';
import { equalBytes, toHex } from '../util/bytes.ts';
import { sha256 } from '../util/sha256.ts';
import { SimCluster } from './cluster.ts';
import { holds } from './state-workload.ts';
import { longestSuspicionMs, SweepChecker, type SweepStats } from './sweep-invariants.ts';
import { SWEEP_SEEDS, type SweepEvent, type SweepScenario } from './sweep-scenario.ts';

export interface SweepOptions {
  /** Verifies signatures at every node (default: the pure-JavaScript strict verifier). */
  verifier?: SignatureVerifier;
  /** Called with each identity before the cluster starts (e.g. to sign through a faster library: same bytes). */
  prepareIdentity?: (identity: NodeIdentity) => void;
  /** Every log line as it happens (`--verbose`). */
  log?: (line: string) => void;
  /** Called with the cluster once it is created: for investigating a seed. */
  inspect?: (c: SimCluster) => void;
}

export interface SweepResult {
  seed: number;
  violations: string[];
  /** SHA-256 of the run's log: equal for equal runs. */
  digest: string;
  simulatedMs: number;
  /** From the last fault's repair to convergence (null: never). */
  convergedAfterMs: number | null;
  stats: SweepStats;
}

/** The simulated network's link timeout (SimNetworkOptions.linkTimeoutMs default). */
const LINK_TIMEOUT_MS = 15_000;
const SAMPLE_MS = 1_000;
/**
 * After the last fault is repaired, membership must agree within this. Nodes cut off for
 * longer than the link timeout have lost their links: each node re-dials one lost member
 * per reconnect interval (10 s), the dialled side exchanges at once; a crash just before
 * the end also needs its detection bound. Six reconnect intervals leave room for chains.
 */
const SETTLE_MS = 60_000;
/** Anti-entropy with a random neighbour (StateOptions.antiEntropyIntervalMs default). */
const ANTI_ENTROPY_MS = 10_000;

/**
 * How long after the last repair replicas may still differ: a dead member's entries go when
 * each node reaps it, reapAfterMs after that node saw it Unreachable (checked every
 * min(reapAfterMs / 4, 10 s)); a node that learns of the death late drops them that much
 * later. The latest learn it over a link to the side that declared it: a node cut off for
 * longer than the link timeout has none, and redials one lost member per reconnect
 * interval. A declaration it takes is evidence, not a verdict: its own suspicion runs, up to
 * the longest. Then an anti-entropy round. (Soak seed 12,334: two nodes cut off together
 * with a member that crashed there, linked to the other side 8.2 s after the heal, took its
 * declaration 0.1 s later, declared it 10 s after that and reaped it 60 s on, at the next reap
 * check: replicas equal 85 s after the heal, past the 80 s without the redial and the suspicion.)
 */
function settleMs(hb: HeartbeatConfig): number {
  const reap = hb.reapAfterMs + Math.min(hb.reapAfterMs / 4, 10_000);
  return Math.max(SETTLE_MS, hb.reconnectIntervalMs + longestSuspicionMs(hb) + reap + ANTI_ENTROPY_MS);
}
const BROADCAST_WAIT_MS = 5_000;
const TYPES = ['worker', 'indexer', 'gateway'] as const;
const SERVICES = ['api', 'search', 'cache'] as const;

export async function runSweep(s: SweepScenario, opts: SweepOptions = {}): Promise<SweepResult> {
  const lines: string[] = [];
  let c: SimCluster | undefined;
  const log = (line: string) => {
    const entry = `${c ? Math.round(c.now * 1000) / 1000 : 0} ${line}`;
    lines.push(entry);
    opts.log?.(entry);
  };
  const hb = heartbeatConfig(s.heartbeat);
  const keys = new SeededRandom(`sweep/${s.seed}/keys`);
  const identities = Array.from({ length: s.nodes }, () => NodeIdentity.fromSecretKey(keys.bytes(32)));
  for (const id of identities) opts.prepareIdentity?.(id);
  c = await SimCluster.create({
    nodes: s.nodes,
    seed: s.seed,
    maxLinks: s.maxLinks,
    seeds: SWEEP_SEEDS,
    heartbeat: s.heartbeat,
    identities,
    clockOffsetsMs: s.skewMs,
    network: {
      latency: { meanMs: s.latencyMs, jitterMs: s.latencyMs / 2 },
      loss: s.loss,
      duplicate: s.duplicate,
      reorder: s.reorder,
      linkTimeoutMs: LINK_TIMEOUT_MS,
      // Handshakes are not under test here; claims, acks, entries and messages stay signed.
      linkAuth: 'trusted',
    },
    ...(opts.verifier ? { verifier: opts.verifier } : {}),
  });
  const cluster = c;
  opts.inspect?.(cluster);
  const check = new SweepChecker(cluster, s, hb, LINK_TIMEOUT_MS, log);
  const run = new SeededRandom(`sweep/${s.seed}/run`);
  const writes = new Writes(cluster, new SeededRandom(`sweep/${s.seed}/writes`), log);
  for (let k = 0; k < s.writes; k++) {
    cluster.net.scheduler.setTimer(run.next() * s.faultsEndMs, () => writes.write());
  }

  // The faults.
  let nextSample = SAMPLE_MS;
  for (const e of s.events) {
    while (nextSample <= e.at) {
      cluster.net.runUntil(nextSample);
      check.sample(writes.count);
      nextSample += SAMPLE_MS;
    }
    cluster.net.runUntil(e.at);
    await apply(cluster, check, run, e, log);
  }

  // Repaired: convergence (membership, replicas, one mesh); then the crashes not judged yet.
  const repairedAt = Math.max(cluster.now, s.faultsEndMs);
  let convergedAt: number | undefined;
  const settle = settleMs(hb);
  while (cluster.now < repairedAt + settle) {
    cluster.net.runUntil(nextSample);
    check.sample(writes.count);
    nextSample += SAMPLE_MS;
    if (cluster.now < repairedAt) continue;
    if (check.membershipConverged() && rootsAgree(cluster) && check.meshSplit().length === 0) {
      convergedAt = cluster.now;
      check.checkDetectionsNow();
      break;
    }
  }
  if (convergedAt === undefined) {
    const gaps = check.membershipGaps();
    const roots = cluster.live().map((i) => `${i}:${toHex(cluster.nodes[i]!.node.stateRoot()).slice(0, 8)}`);
    const split = check.meshSplit();
    check.violations.push(
      `${Math.round(cluster.now)} ms: no convergence within ${settle} ms of the last repair: ${gaps.slice(0, 8).join(', ') || 'membership agrees'}; roots ${roots.join(' ')}; ${split.length > 0 ? `mesh split ${JSON.stringify(split)}` : 'mesh whole'}`,
    );
  } else {
    broadcastReachesAll(cluster, run, check.violations, log);
    writes.checkKept(check.violations);
  }
  log(`traffic ${JSON.stringify(cluster.net.totalTraffic())}`);
  return {
    seed: s.seed,
    violations: check.violations,
    digest: toHex(sha256(new TextEncoder().encode(lines.join('\n')))),
    simulatedMs: Math.round(cluster.now),
    convergedAfterMs: convergedAt === undefined ? null : Math.round(convergedAt - repairedAt),
    stats: check.stats,
  };
}

async function apply(
  c: SimCluster,
  check: SweepChecker,
  run: SeededRandom,
  e: SweepEvent,
  log: (line: string) => void,
): Promise<void> {
  log(`fault ${JSON.stringify(e)}`);
  switch (e.kind) {
    case 'crash':
      check.crashed(e.node);
      c.crash(e.node, { reset: e.reset });
      return;
    case 'restart':
      await c.restart(e.node);
      check.booted(e.node);
      return;
    case 'freeze':
    case 'unfreeze':
      if (e.kind === 'freeze') c.nodes[e.node]!.node.freeze();
      else c.nodes[e.node]!.node.unfreeze();
      check.frozen(e.node, e.kind === 'freeze');
      return;
    case 'partition':
      c.partition(e.groups);
      check.partitioned(true);
      return;
    case 'heal':
      c.heal();
      check.partitioned(false);
      return;
    case 'churn':
      for (let k = 0; k < e.links; k++) {
        const working = check.workingLinks();
        if (working.length === 0) return;
        const [x, y] = working[run.int(working.length)]!;
        log(`churn ${x}-${y}`);
        if (e.graceful) c.nodes[x]!.node.disconnect(c.nodes[y]!.identity.nodeId, 'sweep churn');
        else c.net.resetConnections(c.nodes[x]!.host, c.nodes[y]!.host);
      }
      return;
    case 'skew':
      c.nodes[e.node]!.host.clockOffsetMs = e.offsetMs;
      return;
    case 'loss':
      c.net.setFaults({ loss: e.loss });
      return;
  }
}

function rootsAgree(c: SimCluster): boolean {
  const live = c.live();
  const first = c.nodes[live[0]!]!.node.stateRoot();
  return live.every((i) => equalBytes(c.nodes[i]!.node.stateRoot(), first));
}

/** A broadcast from a random live node reaches every other live node exactly once. */
function broadcastReachesAll(
  c: SimCluster,
  run: SeededRandom,
  violations: string[],
  log: (l: string) => void,
): void {
  const live = c.live();
  const got = new Map<number, number>();
  const offs = live.map((i) => c.nodes[i]!.node.subscribe('sweep', () => got.set(i, (got.get(i) ?? 0) + 1)));
  const from = live[run.int(live.length)]!;
  c.nodes[from]!.node.broadcast('sweep', new Uint8Array([1, 2, 3]));
  const others = live.filter((i) => i !== from);
  const start = c.now;
  while (c.now - start < BROADCAST_WAIT_MS && !others.every((i) => got.has(i))) c.runFor(100);
  c.runFor(1_000); // late copies would show as duplicates
  for (const off of offs) off();
  log(`broadcast from ${from}: ${JSON.stringify([...got].sort((a, b) => a[0] - b[0]))}`);
  const wrong = live.filter((i) => (got.get(i) ?? 0) !== (i === from ? 0 : 1));
  if (wrong.length > 0)
    violations.push(
      `${Math.round(c.now)} ms: broadcast from ${from} delivered ${wrong.map((i) => `${got.get(i) ?? 0}× at ${i}`).join(', ')}`,
    );
}

/**
 * Writes at random live nodes, with what each acknowledged. A write must survive (be on
 * every live replica at the end, or superseded) when the process that made it is still
 * running: a crash may take writes that had not left the node, and a restarted node's
 * earlier entries go when the others reap it.
 */
class Writes {
  count = 0;
  readonly #c: SimCluster;
  readonly #r: SeededRandom;
  readonly #log: (line: string) => void;
  /** Last acknowledged version per register, and the node (and its process) that wrote it. */
  readonly #last = new Map<string, { entry: StateEntry; node: number; process: object }>();
  readonly #pids = new Map<number, string[]>();

  constructor(c: SimCluster, r: SeededRandom, log: (line: string) => void) {
    this.#c = c;
    this.#r = r;
    this.#log = log;
  }

  write(): void {
    const live = this.#c.live();
    if (live.length === 0) return;
    const r = this.#r;
    const i = live[r.int(live.length)]!;
    const node = this.#c.nodes[i]!.node;
    const pids = this.#pids.get(i) ?? [];
    this.#pids.set(i, pids);
    const roll = r.next();
    let e: StateEntry;
    if (roll < 0.3) {
      e = node.advertiseService(SERVICES[r.int(SERVICES.length)]!, {
        endpoint: `sim://${i}`,
        metadata: { n: String(this.count) },
        health: ServiceHealth.Healthy,
      });
    } else if (roll < 0.45 && pids.length > 0) {
      e = node.removeProcess(pids.splice(r.int(pids.length), 1)[0]!);
    } else {
      const update = roll < 0.6 && pids.length > 0;
      const pid = update ? pids[r.int(pids.length)]! : `p${i}-${this.count}`;
      if (!update) pids.push(pid);
      e = node.advertiseProcess(pid, {
        agentType: TYPES[r.int(TYPES.length)]!,
        capabilities: [],
        status: ProcessStatus.Running,
        resourceSummary: { load: r.int(100) },
      });
    }
    this.count++;
    this.#last.set(e.id, { entry: e, node: i, process: node });
    this.#log(`write at ${i}: ${e.id} ${e.value ? 'set' : 'delete'}`);
  }

  checkKept(violations: string[]): void {
    const live = this.#c.live();
    for (const { entry, node, process } of this.#last.values()) {
      if (this.#c.nodes[node]!.node !== process || !live.includes(node)) continue;
      const missing = live.filter(
        (i) => !holds(this.#c.nodes[i]!.node.stateEntry(entry.table, entry.origin, entry.key), entry),
      );
      if (missing.length > 0)
        violations.push(`lost write: ${entry.id} by ${node} is missing at ${missing.join(', ')}`);
    }
  }
}
