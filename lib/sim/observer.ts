/**
 * Watches every simulated node's membership events and keeps the figures a run reports:
 * convergence (every live node sees every live node Active), failure-detection times of
 * crashed nodes, and false positives. Counters are incremental, so watching 10,000 nodes
 * costs O(1) per event.
 */
import { NodeState } from '../membership/node-state.ts';

export interface DetectionRecord {
  node: number;
  crashAt: number;
  firstSuspectMs?: number;
  allUnreachableMs?: number;
  /** Per live observer, crash → the first time it saw the node Suspect (or straight Unreachable). */
  suspectedBy: Map<number, number>;
  /** Per live observer, crash → the time it saw the node Unreachable (the distribution). */
  unreachableBy: Map<number, number>;
}

export class ClusterObserver {
  readonly #index = new Map<string, number>();
  readonly #live: boolean[] = [];
  #liveCount = 0;
  readonly #activeSeen: number[] = [];
  #activeTotal = 0;
  readonly #now: () => number;
  #armed = false;
  convergedAtMs: number | undefined;
  readonly detections: DetectionRecord[] = [];
  readonly #pendingDetections = new Map<number, DetectionRecord>();
  suspectedLive = 0;
  readonly unreachableLive = new Set<number>();

  constructor(now: () => number) {
    this.#now = now;
  }

  /** Registers node `i`; it counts as live from now on. */
  add(i: number, nodeId: string): void {
    this.#index.set(nodeId, i);
    this.#live[i] = false;
    this.#activeSeen[i] = 0;
  }

  indexOf(nodeId: string): number | undefined {
    return this.#index.get(nodeId);
  }

  get liveCount(): number {
    return this.#liveCount;
  }

  isLive(i: number): boolean {
    return this.#live[i] === true;
  }

  /** Starts watching for convergence (call once every node is registered and up). */
  arm(): void {
    this.#armed = true;
    this.#checkConverged();
  }

  /** Fraction of (observer, member) pairs of live nodes where the member is seen Active. */
  convergence(): number {
    const pairs = this.#liveCount * (this.#liveCount - 1);
    return pairs === 0 ? 1 : this.#activeTotal / pairs;
  }

  /**
   * Node `i` came up (started or restarted). `viewOf(o)` reports how live node `o` sees `i`
   * (undefined: no node can know `i` yet, as before the simulation starts — this spares a
   * scan of every node per node booted, which is quadratic at 10,000 nodes);
   * `activeInView` counts the live members `i` already sees Active.
   */
  up(i: number, viewOf: ((o: number) => NodeState | undefined) | undefined, activeInView: number): void {
    if (this.#live[i]) return;
    this.#pendingDetections.delete(i);
    this.#live[i] = true;
    this.#liveCount++;
    this.#activeSeen[i] = activeInView;
    this.#activeTotal += activeInView;
    if (viewOf === undefined) {
      this.#checkConverged();
      return;
    }
    for (let o = 0; o < this.#live.length; o++) {
      if (o !== i && this.#live[o] && viewOf(o) === NodeState.Active) {
        this.#activeSeen[o]!++;
        this.#activeTotal++;
      }
    }
    this.#checkConverged();
  }

  /** Node `i` crashed (or closed); starts measuring its detection. */
  down(i: number, viewOf: (o: number) => NodeState | undefined, measure: boolean): void {
    if (!this.#live[i]) return;
    this.#live[i] = false;
    this.#liveCount--;
    this.#activeTotal -= this.#activeSeen[i]!;
    this.#activeSeen[i] = 0;
    for (let o = 0; o < this.#live.length; o++) {
      if (this.#live[o] && viewOf(o) === NodeState.Active) {
        this.#activeSeen[o]!--;
        this.#activeTotal--;
      }
    }
    if (measure) {
      const rec: DetectionRecord = {
        node: i,
        crashAt: this.#now(),
        suspectedBy: new Map(),
        unreachableBy: new Map(),
      };
      this.detections.push(rec);
      this.#pendingDetections.set(i, rec);
    }
    for (const rec of this.#pendingDetections.values()) this.#checkDetected(rec);
  }

  /** A state change seen by node `o` about `member`. */
  state(o: number, member: string, previous: NodeState | null, state: NodeState): void {
    const m = this.#index.get(member);
    if (m === undefined || m === o || !this.#live[o]) return;
    if (this.#live[m]) {
      const delta = (state === NodeState.Active ? 1 : 0) - (previous === NodeState.Active ? 1 : 0);
      if (delta !== 0) {
        this.#activeSeen[o]! += delta;
        this.#activeTotal += delta;
        this.#checkConverged();
      }
      if (state === NodeState.Unreachable) this.unreachableLive.add(m);
      return;
    }
    const rec = this.#pendingDetections.get(m);
    if (!rec) return;
    const elapsed = this.#now() - rec.crashAt;
    if (state === NodeState.Suspect || state === NodeState.Unreachable) {
      rec.firstSuspectMs ??= elapsed;
      if (!rec.suspectedBy.has(o)) rec.suspectedBy.set(o, elapsed);
    }
    if (state === NodeState.Unreachable && !rec.unreachableBy.has(o)) {
      rec.unreachableBy.set(o, elapsed);
      this.#checkDetected(rec);
    }
  }

  /** Node `accuser` suspected `member` after a failed probe. */
  suspected(member: string): void {
    const m = this.#index.get(member);
    if (m !== undefined && this.#live[m]) this.suspectedLive++;
  }

  #checkConverged(): void {
    if (this.convergedAtMs !== undefined || !this.#armed) return;
    if (this.#liveCount > 1 && this.#activeTotal === this.#liveCount * (this.#liveCount - 1)) {
      this.convergedAtMs = this.#now();
    }
  }

  #checkDetected(rec: DetectionRecord): void {
    if (rec.allUnreachableMs !== undefined) return;
    for (let o = 0; o < this.#live.length; o++) if (this.#live[o] && !rec.unreachableBy.has(o)) return;
    rec.allUnreachableMs = this.#now() - rec.crashAt;
    this.#pendingDetections.delete(rec.node);
  }
}
