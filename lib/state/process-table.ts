/**
 * DistributedProcessTable: every node's process advertisements, LWW per global pid
 * (nodeId, pid). Queries see only processes on reachable nodes (Active or Suspect): a
 * node that becomes Unreachable or Left drops out at once, and its entries go when it is
 * reaped (they come back if it does).
 */
import type { StateEntry } from './entry.ts';
import type { CrdtGossipState } from './gossip-state.ts';
import { decodeProcess, type ProcessFields, ProcessStatus } from './values.ts';

export interface GlobalPid {
  nodeId: string;
  pid: string;
}

export interface ProcessAdvertisement extends ProcessFields {
  globalPid: GlobalPid;
}

export interface ProcessFilter {
  agentType?: string;
  capability?: string;
  /** Any further condition. */
  where?: (p: ProcessAdvertisement) => boolean;
}

export class DistributedProcessTable {
  readonly #state: CrdtGossipState;
  readonly #reachable: (nodeId: string) => boolean;

  /** @internal Built by MeshNode (`node.processes`, `node.services`). */
  constructor(state: CrdtGossipState, reachable: (nodeId: string) => boolean) {
    this.#state = state;
    this.#reachable = reachable;
  }

  /** Advertisements on reachable nodes (any status), sorted by node id then pid. */
  all(): ProcessAdvertisement[] {
    const out: ProcessAdvertisement[] = [];
    for (const e of this.#state.map.values()) {
      if (e.table !== 'p' || !e.value || !this.#reachable(e.origin)) continue;
      const p = decode(e);
      if (p) out.push(p);
    }
    return out.sort(
      (a, b) => cmp(a.globalPid.nodeId, b.globalPid.nodeId) || cmp(a.globalPid.pid, b.globalPid.pid),
    );
  }

  get(pid: GlobalPid): ProcessAdvertisement | undefined {
    const e = this.#state.get('p', pid.nodeId, pid.pid);
    return e?.value && this.#reachable(pid.nodeId) ? decode(e) : undefined;
  }

  /** Running processes of this type on reachable nodes. */
  findByType(agentType: string): ProcessAdvertisement[] {
    return this.#running({ agentType });
  }

  /** Running processes with this capability on reachable nodes. */
  findByCapability(capability: string): ProcessAdvertisement[] {
    return this.#running({ capability });
  }

  /**
   * The reachable node with the least load among those running a matching process (any
   * reachable node with a running process when no filter is given). A node's load is the
   * sum of the `load` figures of its running processes (missing figures count 0). Ties go
   * to the node with fewer running processes, then to the lowest node id.
   */
  leastLoadedNode(filter: ProcessFilter = {}): string | undefined {
    const running = this.#running({});
    const candidates = new Set(this.#running(filter).map((p) => p.globalPid.nodeId));
    const load = new Map<string, { sum: number; count: number }>();
    for (const p of running) {
      const l = load.get(p.globalPid.nodeId) ?? { sum: 0, count: 0 };
      l.sum += p.resourceSummary.load ?? 0;
      l.count++;
      load.set(p.globalPid.nodeId, l);
    }
    let best: string | undefined;
    for (const id of candidates) {
      if (best === undefined) {
        best = id;
        continue;
      }
      const a = load.get(id)!;
      const b = load.get(best)!;
      if (a.sum < b.sum || (a.sum === b.sum && (a.count < b.count || (a.count === b.count && id < best))))
        best = id;
    }
    return best;
  }

  #running(f: ProcessFilter): ProcessAdvertisement[] {
    return this.all().filter(
      (p) =>
        p.status === ProcessStatus.Running &&
        (f.agentType === undefined || p.agentType === f.agentType) &&
        (f.capability === undefined || p.capabilities.includes(f.capability)) &&
        (f.where === undefined || f.where(p)),
    );
  }
}

function decode(e: StateEntry): ProcessAdvertisement | undefined {
  try {
    return { globalPid: { nodeId: e.origin, pid: e.key }, ...decodeProcess(e.value!) };
  } catch {
    return undefined;
  }
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
