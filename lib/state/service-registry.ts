/**
 * ClusterServiceRegistry: service advertisements, LWW per (serviceName, nodeId). Only
 * instances on reachable nodes (Active or Suspect) are resolved.
 *
 * resolvePreferred falls back in ring order: the other healthy instances sorted by their
 * node's clockwise distance from the preferred node on the 64-bit hash ring (hash64 of the
 * node ids). Every node computes the same order, and when the preferred node goes away its
 * clients spread over its ring successors instead of piling onto one. Degraded instances
 * come after every healthy one (same order); Unhealthy instances are never resolved.
 */
import { hash64 } from '../util/hash64.ts';
import type { StateEntry } from './entry.ts';
import type { CrdtGossipState } from './gossip-state.ts';
import { decodeService, type ServiceFields, ServiceHealth } from './values.ts';

export interface ServiceAdvertisement extends ServiceFields {
  serviceName: string;
  nodeId: string;
}

const TWO32 = 2 ** 32;

/** Clockwise distance from a to b on the ring, as a number (exact to 2^53, plenty to order by). */
function clockwise(from: string, to: string): number {
  const [ah, al] = hash64(from);
  const [bh, bl] = hash64(to);
  let hi = bh - ah;
  let lo = bl - al;
  if (lo < 0) {
    lo += TWO32;
    hi -= 1;
  }
  if (hi < 0) hi += TWO32;
  return hi * TWO32 + lo;
}

export class ClusterServiceRegistry {
  readonly #state: CrdtGossipState;
  readonly #reachable: (nodeId: string) => boolean;
  readonly #cursors = new Map<string, number>();

  /** @internal Built by MeshNode (`node.processes`, `node.services`). */
  constructor(state: CrdtGossipState, reachable: (nodeId: string) => boolean) {
    this.#state = state;
    this.#reachable = reachable;
  }

  /** Every instance of `serviceName` on a reachable node (any health), by node id. */
  resolveAll(serviceName: string): ServiceAdvertisement[] {
    const out: ServiceAdvertisement[] = [];
    for (const e of this.#state.map.values()) {
      if (e.table !== 's' || e.key !== serviceName || !e.value || !this.#reachable(e.origin)) continue;
      const s = decode(e);
      if (s) out.push(s);
    }
    return out.sort((a, b) => (a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : 0));
  }

  /** Names of services with at least one instance on a reachable node. */
  names(): string[] {
    const names = new Set<string>();
    for (const e of this.#state.map.values())
      if (e.table === 's' && e.value && this.#reachable(e.origin)) names.add(e.key);
    return [...names].sort();
  }

  /**
   * The preferred node's instance if it is healthy and its node reachable; else the other
   * healthy instances in ring order from the preferred node (from the service name's hash
   * when no node is preferred); else degraded instances in that order; else undefined.
   */
  resolvePreferred(serviceName: string, preferredNodeId?: string): ServiceAdvertisement | undefined {
    return this.candidates(serviceName, preferredNodeId)[0];
  }

  /** Healthy, then degraded instances, in the order resolvePreferred would try them. */
  candidates(serviceName: string, preferredNodeId?: string): ServiceAdvertisement[] {
    const from = preferredNodeId ?? `service:${serviceName}`;
    const rank = (s: ServiceAdvertisement) => (s.health === ServiceHealth.Healthy ? 0 : 1);
    return this.resolveAll(serviceName)
      .filter((s) => s.health !== ServiceHealth.Unhealthy)
      .map((s) => ({ s, d: s.nodeId === preferredNodeId ? -1 : clockwise(from, s.nodeId) }))
      .sort((a, b) => rank(a.s) - rank(b.s) || a.d - b.d || (a.s.nodeId < b.s.nodeId ? -1 : 1))
      .map((x) => x.s);
  }

  /** Cycles through the healthy instances (by node id), one per call. */
  roundRobin(serviceName: string): ServiceAdvertisement | undefined {
    const healthy = this.resolveAll(serviceName).filter((s) => s.health === ServiceHealth.Healthy);
    if (healthy.length === 0) return undefined;
    const next = this.#cursors.get(serviceName) ?? 0;
    this.#cursors.set(serviceName, (next + 1) % 1_000_000_007);
    return healthy[next % healthy.length];
  }
}

function decode(e: StateEntry): ServiceAdvertisement | undefined {
  try {
    return { serviceName: e.key, nodeId: e.origin, ...decodeService(e.value!) };
  } catch {
    return undefined;
  }
}
