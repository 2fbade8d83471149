/**
 * The sweep's invariants, checked while a scenario runs (at every membership event, every
 * fault, every sampled second) and at its end. It keeps the facts they are judged by:
 * when each node was up, frozen, cut off by a partition, and which links worked.
 *
 * **Linked.** Two nodes are linked while a path of working links joins them; a link works
 * while both ends hold it (each node's link-up/link-down), both hosts are up, neither node
 * is frozen and no partition separates them. Links are how nodes reach each other (a
 * member is probed and told it is suspected only over them), so this is what "reachable
 * by the observer" means; network reachability alone is not enough: after a long
 * partition a node must first dial again (see `notLinkedButReachable` in the stats).
 *
 * **False positive.** Node o declares m Unreachable while o and m were linked for the whole
 * of o's suspicion of m (from o seeing m Suspect to the declaration): a live, unfrozen,
 * reachable node was not given its chance to refute.
 *
 * **Detection bound.** A node that crashes (and stays down) is Unreachable, or forgotten,
 * at every node that saw it Active or Suspect when it crashed, within `detectionBoundMs`:
 * each link to it dies within the network's link timeout (sooner if its connections are
 * reset), after which its neighbour checks it through witnesses for one probe period, at
 * worst stretched by Lifeguard's maximum local health; the suspicion then spreads within
 * the gossip retransmission window and runs for suspectTimeout (its maximum with dynamic
 * suspicion). Judged for observers that stayed up, unfrozen and linked to one of its
 * surviving neighbours throughout, when no partition overlapped the window.
 */
import type { HeartbeatConfig } from '../membership/config.ts';
import { NodeState } from '../membership/node-state.ts';
import type { MeshNode } from '../node/mesh-node.ts';
import type { SimCluster } from './cluster.ts';
import type { SweepScenario } from './sweep-scenario.ts';

/** Crash → Unreachable everywhere, at most (see the file comment). */
export function detectionBoundMs(nodes: number, hb: HeartbeatConfig, linkTimeoutMs: number): number {
  const period = hb.probeIntervalMs * (1 + (hb.lifeguard ? hb.maxLocalHealth : 0));
  const gossip = hb.retransmitMult * Math.ceil(Math.log2(nodes + 1)) * hb.gossipIntervalMs;
  return linkTimeoutMs + period + gossip + longestSuspicionMs(hb);
}

/** A suspicion's longest run: suspectTimeoutMs, times Lifeguard's maxMultiplier with dynamic suspicion. */
export function longestSuspicionMs(hb: HeartbeatConfig): number {
  return hb.suspectTimeoutMs * (hb.dynamicSuspicion ? hb.dynamicSuspicion.maxMultiplier : 1);
}

/**
 * Timers a node may hold at once, in a cluster of `nodes`: a few of its own loops (probe,
 * gossip, push-pull, reap, maintenance, state gossip and anti-entropy), and per other node
 * at most a suspicion, a lost-link check, a dial, an exchange and a link's keepalive.
 * A leak (a timer per message, per retry) crosses it within a run.
 */
export function timerBound(nodes: number): number {
  return 32 + 8 * nodes;
}

/** Counters an honest cluster never moves, whatever the faults: each is a sign of a bug. */
const HONEST_ZERO = [
  'framesRejected',
  'claimsRejected',
  'acksRejected',
  'incarnationJumpsRefused',
  'membersRefused',
  'identityConflicts',
] as const;

interface Interval {
  from: number;
  to: number;
}

interface Crash {
  node: number;
  at: number;
  /** Neighbours with a working link to it when it crashed. */
  witnesses: number[];
  /** Nodes that saw it Active or Suspect then. */
  observers: number[];
  /** When each observer saw it Unreachable. */
  seenAt: Map<number, number>;
  checked: boolean;
}

export interface SweepStats {
  /** Crash detections judged against the bound, and the slowest of them (crash → Unreachable, ms). */
  detectionsChecked: number;
  slowestDetectionMs: number;
  /** Unreachable declarations of live nodes that were not linked to the declarer (legitimate). */
  notLinkedButReachable: number;
  maxTimers: number;
  maxLocalHealth: number;
}

export class SweepChecker {
  readonly violations: string[] = [];
  readonly stats: SweepStats = {
    detectionsChecked: 0,
    slowestDetectionMs: 0,
    notLinkedButReachable: 0,
    maxTimers: 0,
    maxLocalHealth: 0,
  };
  readonly boundMs: number;
  readonly #c: SimCluster;
  readonly #s: SweepScenario;
  readonly #hb: HeartbeatConfig;
  readonly #log: (line: string) => void;
  readonly #n: number;
  readonly #links: Array<Set<number>>;
  readonly #up: boolean[];
  readonly #frozen: boolean[];
  readonly #bootAt: number[];
  readonly #bootIncarnation: number[];
  readonly #freezes: Interval[][];
  readonly #partitions: Interval[] = [];
  /** lastCut[o][m]: when o and m were last seen not linked (see #cutAt). */
  readonly #lastCut: number[][];
  /** Component of each node in the working-link graph, as of the last change. */
  #group: number[] = [];
  /** suspectSince[o][m]: when o last saw m become Suspect. */
  readonly #suspectSince: Array<Map<number, number>>;
  readonly #crashes: Crash[] = [];
  #reported = new Set<string>();

  constructor(
    c: SimCluster,
    s: SweepScenario,
    hb: HeartbeatConfig,
    linkTimeoutMs: number,
    log: (line: string) => void,
  ) {
    this.#c = c;
    this.#s = s;
    this.#hb = hb;
    this.#log = log;
    const n = s.nodes;
    this.#n = n;
    this.boundMs = detectionBoundMs(n, hb, linkTimeoutMs);
    this.#links = Array.from({ length: n }, () => new Set());
    this.#up = new Array(n).fill(true);
    this.#frozen = new Array(n).fill(false);
    this.#bootAt = new Array(n).fill(0);
    this.#bootIncarnation = c.nodes.map((x) => x.node.incarnation);
    this.#freezes = Array.from({ length: n }, () => []);
    this.#lastCut = Array.from({ length: n }, () => new Array(n).fill(0));
    this.#suspectSince = Array.from({ length: n }, () => new Map());
    for (let i = 0; i < n; i++) this.#attach(i);
    this.#relink();
  }

  // ---- faults, as the runner applies them ----

  crashed(m: number): void {
    const now = this.#c.now;
    const view = (o: number) => this.#c.viewOf(o, m);
    const witnesses = [...this.#links[m]!].filter((w) => this.#works(m, w));
    const observers = this.#c
      .live()
      .filter((o) => o !== m && (view(o) === NodeState.Active || view(o) === NodeState.Suspect));
    this.#up[m] = false;
    this.#frozen[m] = false;
    this.#links[m]!.clear();
    this.#relink();
    const crash: Crash = { node: m, at: now, witnesses, observers, seenAt: new Map(), checked: false };
    this.#crashes.push(crash);
    this.#c.net.scheduler.setTimer(this.boundMs, () => this.#checkDetection(crash));
  }

  /**
   * Judges the crashes whose bound has not run out yet, now: once membership has converged
   * every node that is down is seen Unreachable (or forgotten) everywhere, so each of them
   * was detected within its bound, and the run need not wait for it.
   */
  checkDetectionsNow(): void {
    for (const crash of this.#crashes) this.#checkDetection(crash);
  }

  booted(i: number): void {
    this.#up[i] = true;
    this.#bootAt[i] = this.#c.now;
    this.#bootIncarnation[i] = this.#c.nodes[i]!.node.incarnation;
    this.#links[i]!.clear();
    this.#suspectSince[i]!.clear();
    this.#attach(i);
    this.#relink();
  }

  frozen(i: number, frozen: boolean): void {
    this.#frozen[i] = frozen;
    const list = this.#freezes[i]!;
    if (frozen) list.push({ from: this.#c.now, to: Number.POSITIVE_INFINITY });
    else list[list.length - 1]!.to = this.#c.now;
    this.#relink();
  }

  partitioned(on: boolean): void {
    if (on) this.#partitions.push({ from: this.#c.now, to: Number.POSITIVE_INFINITY });
    else if (this.#partitions.length > 0) this.#partitions[this.#partitions.length - 1]!.to = this.#c.now;
    this.#relink();
  }

  /** Pairs (lower index first) with a working link, for churn. */
  workingLinks(): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    for (let x = 0; x < this.#n; x++)
      for (const y of this.#links[x]!) if (x < y && this.#works(x, y)) out.push([x, y]);
    return out;
  }

  // ---- sampled invariants ----

  /** Bounds of queues, caches and counters, at every live node. */
  sample(writes: number): void {
    const c = this.#c;
    const hb = this.#hb;
    for (const i of c.live()) {
      const node = c.nodes[i]!.node;
      const m = node.metrics();
      const timers = c.nodes[i]!.host.pendingTimers;
      this.stats.maxTimers = Math.max(this.stats.maxTimers, timers);
      this.stats.maxLocalHealth = Math.max(this.stats.maxLocalHealth, m.localHealth);
      this.#bound(i, 'links', m.links, this.#s.maxLinks);
      this.#bound(i, 'members', m.members, this.#n);
      this.#bound(i, 'localHealth', m.localHealth, hb.maxLocalHealth);
      this.#bound(i, 'state entries (registers written)', m.state.entries, writes);
      this.#bound(i, 'timers', timers, timerBound(this.#n));
      // Refutations raise it at most once per suspectTimeout / 5; nothing else does here.
      const elapsed = c.now - this.#bootAt[i]!;
      this.#bound(
        i,
        'incarnation rise',
        node.incarnation - this.#bootIncarnation[i]!,
        1 + Math.floor(elapsed / (hb.suspectTimeoutMs / 5)),
      );
      for (const k of HONEST_ZERO) this.#bound(i, k, m[k], 0);
      this.#bound(i, 'messaging.rejected', m.messaging.rejected, 0);
    }
    if (c.interner.size > this.#n)
      this.#violate('interner', `holds ${c.interner.size} ids for ${this.#n} nodes`);
  }

  // ---- end of run ----

  /** Every live node sees every live node Active, and no node that is down as Active or Suspect. */
  membershipConverged(): boolean {
    return this.membershipGaps().length === 0;
  }

  /**
   * The live nodes' components of working links, when there is more than one (a broadcast
   * or a relayed message crosses only working links): empty when the mesh is whole.
   */
  meshSplit(): number[][] {
    const parts = new Map<number, number[]>();
    for (const i of this.#c.live()) {
      const g = this.#group[i]!;
      parts.set(g, [...(parts.get(g) ?? []), i]);
    }
    return parts.size > 1 ? [...parts.values()] : [];
  }

  membershipGaps(): string[] {
    const c = this.#c;
    const live = c.live();
    const gaps: string[] = [];
    for (const o of live) {
      for (let m = 0; m < this.#n; m++) {
        if (m === o) continue;
        const v = c.viewOf(o, m);
        if (live.includes(m) ? v !== NodeState.Active : v !== undefined && v !== NodeState.Unreachable)
          gaps.push(`${o} sees ${m}${live.includes(m) ? '' : ' (down)'} ${v ?? 'unknown'}`);
      }
    }
    return gaps;
  }

  // ---- internals ----

  #attach(i: number): void {
    const node: MeshNode = this.#c.nodes[i]!.node;
    const index = (id: string) => this.#c.observer.indexOf(id);
    node.on('member-state', (e) => {
      const m = index(e.nodeId);
      if (m === undefined || m === i) return;
      this.#log(`${i} sees ${m} ${e.previous ?? '-'}>${e.state} @${e.incarnation}`);
      this.#stateSeen(i, m, e.state);
    });
    node.on('link-up', (e) => {
      const j = index(e.nodeId);
      if (j === undefined) return;
      this.#links[i]!.add(j);
      this.#relink();
    });
    node.on('link-down', (e) => {
      const j = index(e.nodeId);
      if (j === undefined) return;
      this.#links[i]!.delete(j);
      this.#relink();
    });
    node.on('suspected', (e) => this.#log(`${i} suspects ${index(e.nodeId)} @${e.incarnation}`));
    node.on('refuted', (e) => this.#log(`${i} refutes ${index(e.by)} @${e.incarnation}`));
    node.on('error', (e) => this.#violate(`error at ${i}`, `${e.context}: ${String(e.error)}`));
    node.on('stranded', (e) => this.#log(`${i} stranded: ${e.reason}`));
  }

  #stateSeen(o: number, m: number, state: NodeState): void {
    const now = this.#c.now;
    if (state === NodeState.Suspect) this.#suspectSince[o]!.set(m, now);
    if (state === NodeState.Left)
      this.#violate('left', `${o} sees ${m} Left, but no node leaves in the sweep`);
    if (state !== NodeState.Unreachable) return;
    if (!this.#up[m]) {
      const crash = [...this.#crashes].reverse().find((x) => x.node === m);
      if (crash && !crash.seenAt.has(o)) crash.seenAt.set(o, now);
      return;
    }
    const since = this.#suspectSince[o]!.get(m) ?? now;
    if (this.#cutAt(o, m) < since) {
      this.#violate(
        'false positive',
        `${o} declared ${m} Unreachable at ${Math.round(now)} ms; it suspected it from ${Math.round(since)} ms and they were linked since ${Math.round(this.#cutAt(o, m))} ms`,
      );
    } else if (this.#c.net.canReach(this.#c.nodes[o]!.host, this.#c.nodes[m]!.host) && !this.#frozen[m]) {
      this.stats.notLinkedButReachable++;
    }
  }

  #checkDetection(crash: Crash): void {
    if (crash.checked) return;
    crash.checked = true;
    const { node: m, at } = crash;
    const end = this.#c.now;
    if (this.#bootAt[m]! > at || this.#partitions.some((p) => p.from <= end && p.to >= at)) return;
    const steady = (i: number) =>
      this.#up[i]! && this.#bootAt[i]! < at && !this.#freezes[i]!.some((f) => f.from <= end && f.to >= at);
    const witnesses = crash.witnesses.filter(steady);
    for (const o of crash.observers) {
      if (!steady(o) || !witnesses.some((w) => w === o || this.#cutAt(o, w) < at)) continue;
      this.stats.detectionsChecked++;
      const seen = crash.seenAt.get(o);
      if (seen !== undefined)
        this.stats.slowestDetectionMs = Math.max(this.stats.slowestDetectionMs, seen - at);
      const v = this.#c.viewOf(o, m);
      if (v !== undefined && v !== NodeState.Unreachable)
        this.#violate(
          'slow detection',
          `${m} crashed at ${Math.round(at)} ms; ${o} still sees it ${v} after the ${this.boundMs} ms bound`,
        );
    }
  }

  /** Whether the link x–y works now (see the file comment). */
  #works(x: number, y: number): boolean {
    const c = this.#c;
    return (
      this.#links[x]!.has(y) &&
      this.#links[y]!.has(x) &&
      this.#up[x]! &&
      this.#up[y]! &&
      !this.#frozen[x] &&
      !this.#frozen[y] &&
      c.net.canReach(c.nodes[x]!.host, c.nodes[y]!.host)
    );
  }

  /** Recomputes who is linked to whom (after any change of links, hosts, freezes or partitions). */
  #relink(): void {
    const n = this.#n;
    const group = [...Array(n).keys()];
    const find = (i: number): number => {
      while (group[i] !== i) i = group[i] = group[group[i]!]!;
      return i;
    };
    for (let x = 0; x < n; x++) {
      for (const y of this.#links[x]!) if (x < y && this.#works(x, y)) group[find(x)] = find(y);
    }
    const now = this.#c.now;
    const before = this.#group;
    this.#group = group.map((_, i) => find(i));
    // Cut until now (a pair joined only now was cut up to this moment) or from now on.
    const cut = (g: number[], o: number, m: number) => g.length === 0 || g[o] !== g[m];
    for (let o = 0; o < n; o++) {
      for (let m = 0; m < n; m++)
        if (o !== m && (cut(before, o, m) || cut(this.#group, o, m))) this.#lastCut[o]![m] = now;
    }
  }

  /** The last time o and m were not linked: now, if they are not. */
  #cutAt(o: number, m: number): number {
    return this.#group[o] === this.#group[m] ? this.#lastCut[o]![m]! : this.#c.now;
  }

  #bound(i: number, what: string, value: number, max: number): void {
    if (value > max) this.#violate(`bound ${what}`, `node ${i}: ${value} > ${max}`);
  }

  /** Records a violation, once per kind and subject (a broken bound stays broken every sample). */
  #violate(kind: string, detail: string): void {
    const key = `${kind}|${detail.replace(/\d+ ms|\d+ > /g, '')}`;
    if (this.#reported.has(key)) return;
    this.#reported.add(key);
    const line = `${Math.round(this.#c.now)} ms: ${kind}: ${detail}`;
    this.violations.push(line);
    this.#log(`VIOLATION ${line}`);
  }
}
