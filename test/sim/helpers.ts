import { NodeState } from '../../lib/membership/node-state.ts';
import { SimCluster, type SimClusterOptions } from '../../lib/sim/mod.ts';

export async function cluster(opts: Partial<SimClusterOptions> & { nodes: number }): Promise<SimCluster> {
  return SimCluster.create({
    seed: 1,
    network: { linkAuth: opts.nodes > 30 ? 'trusted' : 'handshake' },
    ...opts,
  });
}

/** Runs the simulation for `ms` in small steps, letting promise continuations run between them. */
export async function settle(c: SimCluster, ms: number, step = 50): Promise<void> {
  for (let t = 0; t < ms; t += step) {
    c.runFor(step);
    await new Promise((r) => setImmediate(r));
  }
}

/** Runs in steps until `done()` or `maxMs` elapsed; returns the virtual time it took. */
export function runUntil(c: SimCluster, done: () => boolean, maxMs: number, stepMs = 100): number {
  const start = c.now;
  while (!done() && c.now - start < maxMs) c.runFor(stepMs);
  return c.now - start;
}

/**
 * Runs until every live node other than `m` sees it in `state` (or `maxMs` elapsed), noting
 * every state any of them saw it in on the way (sampled every `stepMs`).
 */
export function watchUntilAllSee(
  c: SimCluster,
  m: number,
  state: NodeState,
  maxMs: number,
  stepMs: number,
): Set<NodeState | undefined> {
  const seen = new Set<NodeState | undefined>();
  runUntil(
    c,
    () => {
      for (const s of viewsOf(c, m)) seen.add(s);
      return allSee(c, m, state);
    },
    maxMs,
    stepMs,
  );
  return seen;
}

/** How every live node other than `m` sees node `m`. */
export function viewsOf(c: SimCluster, m: number): Array<NodeState | undefined> {
  return c
    .live()
    .filter((o) => o !== m)
    .map((o) => c.viewOf(o, m));
}

export function allSee(c: SimCluster, m: number, state: NodeState): boolean {
  return viewsOf(c, m).every((s) => s === state);
}

/** Every live node sees every live node Active. */
/**
 * Converged, and every live node linked to every other: a full mesh (for clusters whose
 * minLinks is above their size). Join news spreads in one tree push, so a cluster converges
 * before link upkeep (once a second) has linked its members to each other.
 */
export function fullMesh(c: SimCluster): boolean {
  const live = c.live();
  return converged(c) && live.every((o) => c.nodes[o]!.node.links().length === live.length - 1);
}

export function converged(c: SimCluster): boolean {
  const live = c.live();
  return live.every((o) => live.every((m) => o === m || c.viewOf(o, m) === NodeState.Active));
}

/** First deliveries and copies of one broadcast kind, summed over the cluster. */
export function broadcastCounts(
  c: SimCluster,
  kind: 'claims' | 'entries' | 'app',
): { delivered: number; duplicates: number } {
  let delivered = 0;
  let duplicates = 0;
  for (const x of c.nodes) {
    const k = x.node.metrics().broadcast.kinds[kind];
    delivered += k.delivered;
    duplicates += k.duplicates;
  }
  return { delivered, duplicates };
}
