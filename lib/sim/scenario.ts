/**
 * One simulation run as `weftmesh sim` and the benchmarks describe it: start a cluster,
 * wait for convergence, crash some nodes, write state (optionally across a partition), keep
 * going, and report what was measured.
 */
import { type BroadcastMetrics, type KindCount, perDelivery } from '../broadcast/metrics.ts';
import { DEFAULT_HEARTBEAT, type HeartbeatConfig } from '../membership/config.ts';
import { toHex } from '../util/bytes.ts';
import { type ChainReport, ChainWorkload, chainService } from './chain-workload.ts';
import { SimCluster } from './cluster.ts';
import { type StateReport, StateWorkload } from './state-workload.ts';
import { type Summary, summarize } from './stats-summary.ts';

export interface ScenarioOptions {
  nodes: number;
  /** Simulated duration, ms. */
  durationMs: number;
  seed: number;
  /** Datagram loss probability. */
  loss?: number;
  /** Mean one-way latency, ms (jitter ±50%). */
  latencyMs?: number;
  /**
   * Nodes crashed once the cluster has converged (or at half time if it has not); in a
   * preconverged cluster, once its links have formed (10 s).
   */
  crash?: number;
  maxLinks?: number;
  /**
   * Crashed nodes' connections are reset: their neighbours see the links close at once, as
   * for a killed process's TCP connections (default: they fall silent, as with WebRTC).
   */
  crashResets?: boolean;
  heartbeat?: Partial<HeartbeatConfig>;
  /** Spread joins over this window, ms. Default: 0 up to 1,000 nodes, then 10 ms per node. */
  joinWindowMs?: number;
  linkAuth?: 'handshake' | 'trusted';
  /** Start from a converged cluster (SimClusterOptions.preconverged) instead of simulating the joins. */
  preconverged?: boolean;
  /** State advertisements written at random live nodes during the first half of the run. */
  writes?: number;
  /** Split the cluster in two halves from 1/6 of the run until half time (writes go on on both sides). */
  partition?: boolean;
  /** Chains written by as many authors (one per node, round robin) and followed by every node. */
  chains?: number;
  /** Entries per chain (default 100). */
  entries?: number;
  /** The first chain's author also writes a second history on a node of the other half. */
  fork?: boolean;
  /**
   * Also count traffic over the last this-many ms of the run (report.steadyTraffic).
   * Convergence needs only the first copy of each join claim at each node; the join burst
   * keeps crossing links for a while after it (longer with more nodes, as each node relays
   * n claims), so steady-state load is the tail of a run long enough for it to drain.
   */
  tailWindowMs?: number;
  /** Also record the run over time (report.timeline): for plots such as `sim --svg`. */
  timeline?: boolean;
  /** Called now and then with the simulated time reached. */
  progress?: (simulatedMs: number) => void;
}

export interface ScenarioReport {
  nodes: number;
  seed: number;
  simulatedMs: number;
  wallMs: number;
  /** First time every live node saw every live node Active (null: never). */
  convergedAtMs: number | null;
  detection: {
    crashed: number;
    /** Crash → first Suspect (or Unreachable) seen by any live node. */
    firstSuspectMs: Summary | null;
    /** Crash → every live node sees it Unreachable. */
    allUnreachableMs: Summary | null;
    /** Crashed nodes not Unreachable everywhere by the end. */
    undetected: number;
  };
  falsePositives: {
    /** Suspicions raised about live nodes. */
    suspected: number;
    /** Live nodes that some node saw Unreachable. */
    unreachable: number;
  };
  /** Frames sent per node per second from convergence on (the whole run if it never converged). */
  traffic: Traffic;
  /** The last options.tailWindowMs of the run, when asked for. */
  steadyTraffic?: Traffic;
  /** Present when the run wrote state or was partitioned. */
  state?: StateReport;
  /** Present when the run had chains. */
  chain?: ChainReport;
  /** Present when asked for (options.timeline). */
  timeline?: Timeline;
  /** Joining, over all nodes: who was stranded (still Joining 10 s after start), and newcomers over the quota. */
  joins: {
    stranded: number;
    /** Alive claims of new members that waited for the newcomer quota (MembershipMetrics.membersWaited). */
    newcomersWaited: number;
    /** And those refused: no room to wait, or maxMembers (MembershipMetrics.membersRefused). */
    newcomersRefused: number;
  };
  config: {
    loss: number;
    latencyMs: number;
    maxLinks: number;
    lifeguard: boolean;
    linkAuth: string;
    partition: boolean;
    preconverged: boolean;
    /** New members a node takes in per minute, in all and per link (heartbeat.newMembersPerMinute, …PerLinkPerMinute). */
    newcomerQuota: { perNode: number; perLink: number };
  };
}

export interface Traffic {
  msgsPerNodePerSec: number;
  bytesPerNodePerSec: number;
  windowMs: number;
  /** Over the whole run, all nodes: copies received per first delivery, all kinds of broadcast. */
  duplicatesPerDelivery?: number;
  /** …and per kind: membership claims, state entries, application broadcasts. */
  broadcasts?: Record<keyof BroadcastMetrics['kinds'], KindCount>;
}

/** The run over time, sampled once per simulated second. */
export interface Timeline {
  sampleMs: number;
  /** Per sample: share of (observer, member) pairs of live nodes where the member is seen Active. */
  membership: number[];
  /** Per sample, when state was written: share of live nodes whose replica equals the most common one. */
  state?: number[];
  crashesAtMs: number[];
  partitionMs?: [number, number];
  /** Every live observer's crash → Suspect time, over all crashed nodes. */
  suspectMs: number[];
  /** Every live observer's crash → Unreachable time, over all crashed nodes. */
  unreachableMs: number[];
}

const STEP_MS = 250;
const SAMPLE_MS = 1_000;
/** Links are formed within a few maintenance rounds (about a second each) of the start. */
const PRECONVERGED_SETTLE_MS = 10_000;

/** Every live node has `minLinks` links, or links to every other live node. */
function meshFormed(c: SimCluster, minLinks: number): boolean {
  const live = c.live();
  const want = Math.min(minLinks, live.length - 1);
  return live.every((i) => c.nodes[i]!.node.links().length >= want);
}

export async function runScenario(o: ScenarioOptions): Promise<ScenarioReport> {
  const wallStart = performance.now();
  const loss = o.loss ?? 0;
  const latencyMs = o.latencyMs ?? 10;
  const maxLinks = o.maxLinks ?? 24;
  const linkAuth = o.linkAuth ?? (o.nodes > 200 ? 'trusted' : 'handshake');
  const c = await SimCluster.create({
    nodes: o.nodes,
    seed: o.seed,
    maxLinks,
    ...(o.heartbeat ? { heartbeat: o.heartbeat } : {}),
    joinWindowMs: o.joinWindowMs ?? (o.nodes > 1000 ? o.nodes * 10 : 0),
    ...(o.preconverged ? { preconverged: true } : {}),
    ...((o.chains ?? 0) > 0 ? { nodeOptions: () => ({ chains: chainService() }) } : {}),
    network: { loss, latency: { meanMs: latencyMs, jitterMs: latencyMs / 2 }, linkAuth },
  });
  const crashCount = Math.min(o.crash ?? 0, Math.max(0, o.nodes - 2));
  let crashed = crashCount === 0;
  const half = o.durationMs / 2;
  const partition = o.partition === true;
  const workload =
    (o.writes ?? 0) > 0 || partition
      ? new StateWorkload(c, { writes: o.writes ?? 0, startMs: 0, endMs: half, seed: o.seed })
      : undefined;
  if (partition) {
    const halves = [0, 1].map((h) =>
      c.nodes.map((n) => n.index).filter((i) => i < o.nodes / 2 === (h === 0)),
    );
    c.net.scheduler.setTimer(o.durationMs / 6, () => c.partition(halves));
    c.net.scheduler.setTimer(half, () => c.heal());
  }
  const chainLoad =
    (o.chains ?? 0) > 0
      ? new ChainWorkload(c, {
          chains: o.chains!,
          entries: o.entries ?? 100,
          fork: o.fork === true,
          seed: o.seed,
        })
      : undefined;
  await chainLoad?.start();
  const membership: number[] = [];
  const agreement: number[] = [];
  let window = { at: 0, msgs: 0, bytes: 0 };
  if (o.tailWindowMs !== undefined && !(o.tailWindowMs > 0))
    throw new RangeError('tailWindowMs must be positive');
  // The tail opens at this time (the start of the run when it asks for more than the run).
  const tailFrom = o.tailWindowMs === undefined ? undefined : Math.max(0, o.durationMs - o.tailWindowMs);
  let tail = tailFrom === 0 ? { at: 0, msgs: 0, bytes: 0 } : undefined;
  const totals = () => {
    const t = c.net.totalTraffic();
    return { msgs: t.datagramsOut + t.streamFramesOut, bytes: t.bytesOut };
  };
  while (c.now < o.durationMs) {
    c.runFor(Math.min(STEP_MS, o.durationMs - c.now));
    o.progress?.(c.now);
    workload?.observe();
    if (chainLoad) {
      chainLoad.observe();
      // Pulls continue in promise callbacks: let them run before time moves on.
      await new Promise<void>((r) => setTimeout(r, 0));
    }
    if (o.timeline && c.now % SAMPLE_MS === 0) {
      membership.push(c.observer.convergence());
      if (workload) agreement.push(replicaAgreement(c));
    }
    const converged = c.observer.convergedAtMs !== undefined;
    if (converged && window.at === 0) window = { at: c.now, ...totals() };
    if (tailFrom !== undefined && tail === undefined && c.now >= tailFrom) tail = { at: c.now, ...totals() };
    // A cluster converges before its links have formed (preconverged ones at once; joined
    // ones as soon as the join news went along the tree, before link upkeep has linked the
    // members): a crash then would hit a node few or none probe, so crashes wait for the
    // mesh — every live node at its minLinks (⌈maxLinks / 2⌉) or linked to all the others.
    const settled =
      converged &&
      (o.preconverged ? c.now >= PRECONVERGED_SETTLE_MS : meshFormed(c, Math.ceil(maxLinks / 2)));
    if (!crashed && (settled || c.now >= o.durationMs / 2)) {
      crashed = true;
      // Never the first seed: joins and re-contacts go through it.
      const candidates = c.live().filter((i) => i !== 0);
      for (let k = 0; k < crashCount; k++) {
        const pick = candidates.splice(c.net.random.int(candidates.length), 1)[0]!;
        c.crash(pick, { reset: o.crashResets === true });
      }
    }
  }
  const end = totals();
  const live = c.observer.liveCount;
  const traffic = (from: { at: number; msgs: number; bytes: number }): Traffic => {
    const seconds = (o.durationMs - from.at) / 1000;
    return {
      msgsPerNodePerSec: round((end.msgs - from.msgs) / Math.max(1, live) / seconds),
      bytesPerNodePerSec: round((end.bytes - from.bytes) / Math.max(1, live) / seconds),
      windowMs: Math.round(o.durationMs - from.at),
    };
  };
  const det = c.observer.detections;
  return {
    nodes: o.nodes,
    seed: o.seed,
    simulatedMs: c.now,
    wallMs: Math.round(performance.now() - wallStart),
    convergedAtMs: c.observer.convergedAtMs === undefined ? null : Math.round(c.observer.convergedAtMs),
    detection: {
      crashed: det.length,
      firstSuspectMs: summarize(
        det.flatMap((d) => (d.firstSuspectMs === undefined ? [] : [d.firstSuspectMs])),
      ),
      allUnreachableMs: summarize(
        det.flatMap((d) => (d.allUnreachableMs === undefined ? [] : [d.allUnreachableMs])),
      ),
      undetected: det.filter((d) => d.allUnreachableMs === undefined).length,
    },
    falsePositives: { suspected: c.observer.suspectedLive, unreachable: c.observer.unreachableLive.size },
    traffic: {
      ...traffic(window.at > 0 && o.durationMs - window.at >= 1_000 ? window : { at: 0, msgs: 0, bytes: 0 }),
      ...broadcastTotals(c),
    },
    ...(tail ? { steadyTraffic: traffic(tail) } : {}),
    joins: {
      stranded: c.stranded.size,
      newcomersWaited: c.nodes.reduce((a, n) => a + n.node.metrics().membersWaited, 0),
      newcomersRefused: c.nodes.reduce((a, n) => a + n.node.metrics().membersRefused, 0),
    },
    ...(workload ? { state: workload.report(o.durationMs) } : {}),
    ...(chainLoad ? { chain: await chainLoad.report(o.durationMs) } : {}),
    ...(o.timeline
      ? {
          timeline: {
            sampleMs: SAMPLE_MS,
            membership,
            ...(workload ? { state: agreement } : {}),
            crashesAtMs: det.map((d) => Math.round(d.crashAt)),
            ...(partition ? { partitionMs: [o.durationMs / 6, half] as [number, number] } : {}),
            suspectMs: det.flatMap((d) => [...d.suspectedBy.values()].map(Math.round)),
            unreachableMs: det.flatMap((d) => [...d.unreachableBy.values()].map(Math.round)),
          },
        }
      : {}),
    config: {
      loss,
      latencyMs,
      maxLinks,
      lifeguard: o.heartbeat?.lifeguard ?? true,
      linkAuth,
      partition,
      preconverged: o.preconverged === true,
      newcomerQuota: {
        perNode: o.heartbeat?.newMembersPerMinute ?? DEFAULT_HEARTBEAT.newMembersPerMinute,
        perLink: o.heartbeat?.newMembersPerLinkPerMinute ?? DEFAULT_HEARTBEAT.newMembersPerLinkPerMinute,
      },
    },
  };
}

/** Share of live nodes whose state replica (Merkle root) equals the most common one. */
function replicaAgreement(c: SimCluster): number {
  const live = c.live();
  const counts = new Map<string, number>();
  for (const i of live) {
    const root = toHex(c.nodes[i]!.node.stateRoot());
    counts.set(root, (counts.get(root) ?? 0) + 1);
  }
  return live.length === 0 ? 1 : Math.max(...counts.values()) / live.length;
}

function round(x: number): number {
  return Math.round(x * 10) / 10;
}

/** Deliveries and copies of every kind of broadcast, summed over all nodes of the run. */
function broadcastTotals(c: SimCluster): Pick<Traffic, 'duplicatesPerDelivery' | 'broadcasts'> {
  const kinds: Record<keyof BroadcastMetrics['kinds'], KindCount> = {
    claims: { delivered: 0, duplicates: 0 },
    entries: { delivered: 0, duplicates: 0 },
    app: { delivered: 0, duplicates: 0 },
  };
  for (const n of c.nodes) {
    const b = n.node.metrics().broadcast.kinds;
    for (const k of ['claims', 'entries', 'app'] as const) {
      kinds[k].delivered += b[k].delivered;
      kinds[k].duplicates += b[k].duplicates;
    }
  }
  return { duplicatesPerDelivery: perDelivery(kinds), broadcasts: kinds };
}
