/**
 * The seed sweep's scenarios (VOPR-style): each seed draws a small cluster and a schedule
 * of mixed faults — loss, duplication, reordering, partitions and heals, crashes and
 * restarts, clock skew and clock steps within the bound, link churn, frozen nodes — all
 * repaired by `faultsEndMs`. A scenario is plain data: printed, it says what a seed did.
 */
import type { HeartbeatConfig } from '../membership/config.ts';
import { SeededRandom } from '../time/random.ts';
import type { Reorder } from './network.ts';

export type SweepEvent =
  | { at: number; kind: 'crash'; node: number; reset: boolean }
  | { at: number; kind: 'restart'; node: number }
  | { at: number; kind: 'freeze'; node: number }
  | { at: number; kind: 'unfreeze'; node: number }
  | { at: number; kind: 'partition'; groups: number[][] }
  | { at: number; kind: 'heal' }
  /** Breaks `links` random links: by the network (neither end said goodbye) or by a node closing one gracefully. */
  | { at: number; kind: 'churn'; links: number; graceful: boolean }
  /** Steps a node's wall clock to a new offset (NTP correcting it, or a user changing it). */
  | { at: number; kind: 'skew'; node: number; offsetMs: number }
  /** A burst of datagram loss (and back to the scenario's level when `loss` is the base). */
  | { at: number; kind: 'loss'; loss: number };

export interface SweepScenario {
  seed: number;
  nodes: number;
  maxLinks: number;
  /** Mean one-way latency, ms (jitter ±50 %). */
  latencyMs: number;
  loss: number;
  duplicate: number;
  reorder: Reorder;
  /** Initial wall-clock offset of each node, ms. */
  skewMs: number[];
  heartbeat: Partial<HeartbeatConfig>;
  /** State writes (advertiseProcess / advertiseService / removeProcess) spread over [0, faultsEndMs). */
  writes: number;
  /** Every fault is repaired by then (partitions healed, nodes unfrozen, restarts done, loss back to base). */
  faultsEndMs: number;
  /** Sorted by time. */
  events: SweepEvent[];
}

/**
 * Wall-clock offsets stay within ±this, so two nodes differ by less than the replica's
 * skew bound (state.maxSkewMs, 60 s) with room to spare for latency and the HLC's drift.
 */
export const SKEW_BOUND_MS = 25_000;
/** Seeds: node 0 starts the cluster; restarted nodes rejoin through 0 and 1. */
export const SWEEP_SEEDS = [0, 1];

/** The scenario of `seed`: the same seed gives the same scenario, always. */
export function sweepScenario(seed: number): SweepScenario {
  const r = new SeededRandom(`sweep/${seed}`);
  const between = (lo: number, hi: number) => lo + r.next() * (hi - lo);
  const ms = (lo: number, hi: number) => Math.round(between(lo, hi));
  const chance = (p: number) => r.next() < p;
  const nodes = 5 + r.int(8);
  const skewed = chance(0.5);
  const loss = chance(0.6) ? Math.round(between(0.005, 0.12) * 1000) / 1000 : 0;
  const s: SweepScenario = {
    seed,
    nodes,
    maxLinks: chance(0.5) ? 24 : 3 + r.int(4),
    latencyMs: ms(2, 40),
    loss,
    duplicate: chance(0.3) ? Math.round(between(0.01, 0.1) * 1000) / 1000 : 0,
    reorder: chance(0.3)
      ? { probability: Math.round(between(0.05, 0.3) * 100) / 100, maxDelayMs: ms(50, 400) }
      : { probability: 0, maxDelayMs: 0 },
    skewMs: Array.from({ length: nodes }, () => (skewed ? ms(-SKEW_BOUND_MS, SKEW_BOUND_MS) : 0)),
    heartbeat: {
      ...(chance(0.3) ? { dynamicSuspicion: { maxMultiplier: 2 + r.int(3) } } : {}),
      ...(chance(0.4) ? { reapAfterMs: ms(15_000, 40_000) } : {}),
    },
    writes: 10 + r.int(30),
    faultsEndMs: 0,
    events: [],
  };
  const window = ms(25_000, 55_000);
  const start = 1_000;
  /** Per node: busy (crashed or frozen) until this time; Infinity: down for good. */
  const busyUntil = new Array<number>(nodes).fill(0);
  let partitionUntil = 0;
  let lossUntil = 0;
  let permanent = 0;
  const events: SweepEvent[] = [];
  const incidents = 2 + r.int(7);
  for (let k = 0; k < incidents; k++) {
    const at = ms(start, start + window);
    const roll = r.next();
    const free = [...busyUntil.keys()].filter((i) => busyUntil[i]! <= at);
    // At most a third of the cluster is crashed or frozen at once.
    const down = nodes - free.length;
    const canTakeDown = down + 1 <= Math.floor(nodes / 3) && free.length > 0;
    if (roll < 0.25 && canTakeDown) {
      const node = free[r.int(free.length)]!;
      const forGood = permanent === 0 && node >= SWEEP_SEEDS.length && chance(0.3);
      events.push({ at, kind: 'crash', node, reset: chance(0.5) });
      if (forGood) {
        permanent++;
        busyUntil[node] = Number.POSITIVE_INFINITY;
      } else {
        // A quick restart (a reload), or one long enough for the crash to be judged against
        // the detection bound (sweep-invariants.ts) first.
        const back = at + (chance(0.5) ? ms(500, 15_000) : ms(40_000, 60_000));
        events.push({ at: back, kind: 'restart', node });
        busyUntil[node] = back + 1_000;
      }
    } else if (roll < 0.45 && canTakeDown) {
      const node = free[r.int(free.length)]!;
      const until = at + ms(500, 25_000);
      events.push({ at, kind: 'freeze', node }, { at: until, kind: 'unfreeze', node });
      busyUntil[node] = until + 1_000;
    } else if (roll < 0.65 && at >= partitionUntil) {
      const until = at + ms(1_000, 35_000);
      events.push({ at, kind: 'partition', groups: splitGroups(nodes, r) }, { at: until, kind: 'heal' });
      partitionUntil = until + 1_000;
    } else if (roll < 0.85) {
      events.push({ at, kind: 'churn', links: 1 + r.int(3), graceful: chance(0.3) });
    } else if (roll < 0.93 && skewed) {
      events.push({ at, kind: 'skew', node: r.int(nodes), offsetMs: ms(-SKEW_BOUND_MS, SKEW_BOUND_MS) });
    } else if (at >= lossUntil) {
      const until = at + ms(1_000, 10_000);
      events.push({ at, kind: 'loss', loss: Math.round(between(0.15, 0.3) * 100) / 100 });
      events.push({ at: until, kind: 'loss', loss });
      lossUntil = until + 1_000;
    }
  }
  // Stable sort: events at one time keep the order they were drawn in.
  s.events = events.sort((a, b) => a.at - b.at);
  s.faultsEndMs = Math.max(start + window, ...s.events.map((e) => e.at));
  return s;
}

/** A random split: one node cut off, two sides, or three. */
function splitGroups(nodes: number, r: SeededRandom): number[][] {
  const order = [...Array(nodes).keys()];
  for (let i = order.length - 1; i > 0; i--) {
    const j = r.int(i + 1);
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const roll = r.next();
  let cuts: number[];
  if (roll < 0.3) cuts = [1];
  else if (roll < 0.8) cuts = [1 + r.int(nodes - 1)];
  else {
    const a = 1 + r.int(nodes - 2);
    cuts = [a, a + 1 + r.int(nodes - a - 1)];
  }
  const groups: number[][] = [];
  let from = 0;
  for (const c of [...cuts, nodes]) {
    groups.push(order.slice(from, c).sort((a, b) => a - b));
    from = c;
  }
  return groups;
}
