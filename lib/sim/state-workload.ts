/**
 * State writes for simulations: process and service advertisements written at random live
 * nodes at random times, with the bookkeeping to judge the outcome — when every live
 * replica had the same Merkle root after the last write, and which acknowledged writes
 * (the last version of each register) some live replica is missing at the end.
 */

import type { StateEntry } from '../state/entry.ts';
import { ProcessStatus, ServiceHealth } from '../state/values.ts';
import { compareHlc } from '../time/hlc.ts';
import { SeededRandom } from '../time/random.ts';
import { equalBytes } from '../util/bytes.ts';
import type { SimCluster } from './cluster.ts';

export interface StateWorkloadOptions {
  writes: number;
  /** Writes are spread uniformly over [startMs, endMs). */
  startMs: number;
  endMs: number;
  seed: number | string;
}

export interface StateReport {
  writes: number;
  /** Writes that found no live node to write at (skipped). */
  skipped: number;
  /** First time all live replicas had equal Merkle roots after the last write (null: never). */
  convergedAtMs: number | null;
  /** State traffic (delta gossip and anti-entropy) per node per simulated second. */
  bytesPerNodePerSec: number;
  /** Acknowledged writes (not superseded) missing from at least one live replica at the end. */
  lostWrites: number;
  /** Registers written (distinct process ids and service instances). */
  registers: number;
}

const TYPES = ['worker', 'indexer', 'gateway'] as const;
const CAPS = ['gpu', 'ssd', 'eu', 'us'] as const;
const SERVICES = ['api', 'search', 'cache'] as const;

export class StateWorkload {
  readonly #c: SimCluster;
  readonly #o: StateWorkloadOptions;
  readonly #random: SeededRandom;
  /** Last acknowledged version per register (entry id). */
  readonly #last = new Map<string, StateEntry>();
  /** Process ids each node index has live, to update or remove. */
  readonly #pids = new Map<number, string[]>();
  #done = 0;
  #skipped = 0;
  #lastWriteAt = -1;
  #convergedAt: number | null = null;

  constructor(cluster: SimCluster, opts: StateWorkloadOptions) {
    this.#c = cluster;
    this.#o = opts;
    this.#random = new SeededRandom(`${opts.seed}/writes`);
    const span = Math.max(0, opts.endMs - opts.startMs);
    const times = Array.from({ length: opts.writes }, () => opts.startMs + this.#random.next() * span);
    for (const at of times.sort((a, b) => a - b)) {
      cluster.net.scheduler.setTimer(Math.max(0, at - cluster.now), () => this.#write());
    }
  }

  /** Call after each simulation step: notes when replicas converge after the last write. */
  observe(): void {
    if (this.#done + this.#skipped < this.#o.writes) return;
    if (this.#convergedAt !== null) return;
    const live = this.#c.live();
    const first = live[0] === undefined ? undefined : this.#c.nodes[live[0]]!.node.stateRoot();
    if (first && live.every((i) => equalBytes(this.#c.nodes[i]!.node.stateRoot(), first)))
      this.#convergedAt = this.#c.now;
  }

  report(durationMs: number): StateReport {
    const live = this.#c.live();
    let bytes = 0;
    for (const n of this.#c.nodes) bytes += n.node.metrics().state.bytesSent;
    let lost = 0;
    for (const want of this.#last.values()) {
      const origin = this.#c.nodes.find((n) => n.identity.nodeId === want.origin)!;
      // A crashed or departed origin's entries are dropped by rule when it is reaped.
      if (!live.includes(origin.index)) continue;
      if (
        live.some((i) => !holds(this.#c.nodes[i]!.node.stateEntry(want.table, want.origin, want.key), want))
      )
        lost++;
    }
    return {
      writes: this.#done,
      skipped: this.#skipped,
      convergedAtMs: this.#convergedAt === null ? null : Math.round(this.#convergedAt),
      bytesPerNodePerSec: Math.round(bytes / Math.max(1, live.length) / (durationMs / 1000)),
      lostWrites: lost,
      registers: this.#last.size,
    };
  }

  /** Time of the last write (-1 before any). */
  get lastWriteAt(): number {
    return this.#lastWriteAt;
  }

  #write(): void {
    const live = this.#c.live();
    if (live.length === 0) {
      this.#skipped++;
      return;
    }
    const r = this.#random;
    const index = live[r.int(live.length)]!;
    const node = this.#c.nodes[index]!.node;
    const pids = this.#pids.get(index) ?? [];
    this.#pids.set(index, pids);
    const roll = r.next();
    let e: StateEntry;
    if (roll < 0.3) {
      e = node.advertiseService(SERVICES[r.int(SERVICES.length)]!, {
        endpoint: `sim://${index}`,
        metadata: { zone: CAPS[r.int(CAPS.length)]! },
        health: r.next() < 0.8 ? ServiceHealth.Healthy : ServiceHealth.Degraded,
      });
    } else if (roll < 0.4 && pids.length > 0) {
      e = node.removeProcess(pids.splice(r.int(pids.length), 1)[0]!);
    } else {
      const update = roll < 0.6 && pids.length > 0;
      const pid = update ? pids[r.int(pids.length)]! : `w${this.#done}`;
      if (!update) pids.push(pid);
      e = node.advertiseProcess(pid, {
        agentType: TYPES[r.int(TYPES.length)]!,
        capabilities: [CAPS[r.int(CAPS.length)]!],
        status: r.next() < 0.9 ? ProcessStatus.Running : ProcessStatus.Starting,
        resourceSummary: { load: r.int(100) },
      });
    }
    this.#last.set(e.id, e);
    this.#done++;
    this.#lastWriteAt = this.#c.now;
  }
}

/** Whether a replica's version of a register keeps the acknowledged write `want`. */
export function holds(have: StateEntry | undefined, want: StateEntry): boolean {
  // A deleted register may be gone entirely (its tombstone collected).
  if (!want.value) return !have?.value;
  if (!have) return false;
  return equalBytes(have.digest, want.digest) || (compareHlc(have.ts, want.ts) > 0 && !!have.value);
}
