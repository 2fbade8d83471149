/**
 * A deterministic simulation of a Raft key/value cluster: N voters (RaftCore + KvStateMachine
 * + MemoryConsensusStorage each) and clients issuing random reads, writes and cas on a few
 * keys, on virtual time, with message loss, duplication, reordering and delay, partitions,
 * and crashes with restarts from storage — all drawn from one seed. The five properties of
 * Figure 3 are checked on every ready record, the client history for linearizability at
 * the end, and liveness after the network heals. For tests, soaks, the CLI and benches; not
 * part of a node.
 */
import { SeededRandom } from '../../time/random.ts';
import { VirtualScheduler } from '../../time/virtual.ts';
import { ConsensusError } from '../errors.ts';
import { encodeKvCommand, type KvCommand, KvStateMachine } from '../kv.ts';
import type { ConsensusMessage } from '../messages.ts';
import { RaftCore, type Ready } from '../raft.ts';
import { MemoryConsensusStorage } from '../storage.ts';
import { checkLinearizable, type HistoryOp } from './linearizability.ts';
import { RaftInvariants } from './properties.ts';

export interface ConsensusSimOptions {
  seed: number;
  /** Voters (3 or 5 are typical). Default 3. */
  voters?: number;
  /** Nodes that start outside the voter set (membership changes may add them). Default 0. */
  spares?: number;
  /** Concurrent clients. Default 2. */
  clients?: number;
  /** Keys the clients use. Default 3. */
  keys?: number;
  /** Virtual ms of the faulty phase; then the network heals. Default 1,000. */
  durationMs?: number;
  /** One tick of the cores, ms. Default 10. */
  tickMs?: number;
  electionTicks?: number;
  heartbeatTicks?: number;
  /** One-way latency, ms (uniform in mean ± jitter). Default 5 ± 3. */
  latency?: { meanMs: number; jitterMs: number };
  /** Faults during the faulty phase. Default: all on (see `defaultFaults`). */
  faults?: Partial<SimFaults>;
  /** A client gives up (outcome unknown) after this long. Default 200. */
  clientTimeoutMs?: number;
  /** Compact a node's log once it applied this many entries past its snapshot. Default 40. */
  compactEvery?: number;
  /** Liveness bound after healing, in election timeouts (electionTicks × tickMs). Default 10. */
  livenessTimeouts?: number;
  /** Bytes of snapshot per InstallSnapshot chunk. Default 256. */
  snapshotChunkBytes?: number;
}

export interface SimFaults {
  loss: number;
  duplicate: number;
  /** Probability a message is held back by up to `reorderMs` more. */
  reorder: number;
  reorderMs: number;
  /** Crash (and later restart) nodes. */
  crash: boolean;
  /** Split the voters. */
  partition: boolean;
  /** Add and remove voters (single-server changes) at random times. */
  reconfigure: boolean;
  /** Mean ms between fault events. */
  everyMs: number;
}

export const defaultFaults: SimFaults = {
  loss: 0.05,
  duplicate: 0.03,
  reorder: 0.1,
  reorderMs: 30,
  crash: true,
  partition: true,
  reconfigure: false,
  everyMs: 150,
};

export interface ConsensusSimReport {
  seed: number;
  /** Terms in which a leader was elected. */
  leaderElections: number;
  /** Writes and cas acknowledged to clients. */
  commits: number;
  /** From a client's call to its acknowledgement, for writes and cas. */
  commitLatencyMs: { p50: number; p99: number };
  /** From the leader's propose to its apply of the entry (no client hops). */
  proposalCommitMs: { p50: number; p99: number };
  /** Virtual ms without a live leader. */
  unavailableMs: number;
  /** Property violations, a non-linearizable history, a liveness failure, diverging replicas. */
  safetyViolations: number;
  /** What broke (empty when nothing did). */
  failures: string[];
  /** ms from healing to the first commit after it (null: none within the bound). */
  recoveryMs: number | null;
  operations: number;
  history: HistoryOp[];
}

interface SimNode {
  readonly id: string;
  readonly storage: MemoryConsensusStorage;
  core: RaftCore;
  kv: KvStateMachine;
  up: boolean;
  /** Bumped by each restart: messages and timers of an older life are void. */
  epoch: number;
  /** Proposals waiting to be applied: index → (term, client op). */
  proposals: Map<number, { term: number; op: number; at: number }>;
  /** Reads waiting for the ReadIndex answer (ctx → op). */
  reads: Map<number, number>;
  /** Reads confirmed, waiting for the state machine to reach their index. */
  readyReads: { index: number; op: number }[];
  applied: number;
}

interface ClientOp {
  readonly client: number;
  readonly f: 'read' | 'write' | 'cas';
  readonly key: string;
  readonly value: string | readonly [string | null, string] | undefined;
  readonly call: number;
  done: boolean;
}

type Reply = { kind: 'ok'; result: string | null | boolean } | { kind: 'refused'; hint: string };

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export class ConsensusSim {
  readonly scheduler = new VirtualScheduler();
  readonly invariants = new RaftInvariants();
  readonly nodes: SimNode[] = [];
  readonly #random: SeededRandom;
  readonly #o: Required<Omit<ConsensusSimOptions, 'faults'>>;
  #faults: SimFaults;
  readonly #ids: string[];
  #groups: Map<string, number> | undefined;
  readonly #ops: ClientOp[] = [];
  readonly #history: HistoryOp[] = [];
  readonly #latencies: number[] = [];
  readonly #commitMs: number[] = [];
  readonly #failures: string[] = [];
  readonly #leaderTerms = new Set<number>();
  #clientsOn = true;
  #values = 0;
  #ctx = 0;
  #unavailableMs = 0;
  #healedAt = -1;
  #firstCommitAfterHeal = -1;
  #clientHints: string[] = [];

  constructor(opts: ConsensusSimOptions) {
    this.#o = {
      seed: opts.seed,
      voters: opts.voters ?? 3,
      spares: opts.spares ?? 0,
      clients: opts.clients ?? 2,
      keys: opts.keys ?? 3,
      durationMs: opts.durationMs ?? 1_000,
      tickMs: opts.tickMs ?? 10,
      electionTicks: opts.electionTicks ?? 10,
      heartbeatTicks: opts.heartbeatTicks ?? 3,
      latency: opts.latency ?? { meanMs: 5, jitterMs: 3 },
      clientTimeoutMs: opts.clientTimeoutMs ?? 200,
      compactEvery: opts.compactEvery ?? 40,
      livenessTimeouts: opts.livenessTimeouts ?? 10,
      snapshotChunkBytes: opts.snapshotChunkBytes ?? 256,
    };
    this.#faults = { ...defaultFaults, ...opts.faults };
    this.#random = new SeededRandom(opts.seed);
    this.#ids = Array.from({ length: this.#o.voters + this.#o.spares }, (_, i) => `n${i}`);
    const founders = this.#ids.slice(0, this.#o.voters);
    for (const id of this.#ids) {
      const storage = new MemoryConsensusStorage(founders.includes(id) ? founders : []);
      const node: SimNode = {
        id,
        storage,
        core: undefined as unknown as RaftCore,
        kv: new KvStateMachine(),
        up: true,
        epoch: 0,
        proposals: new Map(),
        reads: new Map(),
        readyReads: [],
        applied: 0,
      };
      this.nodes.push(node);
      this.#boot(node);
    }
    this.#clientHints = Array.from({ length: this.#o.clients }, () => '');
  }

  get now(): number {
    return this.scheduler.now;
  }

  /** Runs the faulty phase, heals, checks liveness and the history; returns the report. */
  run(): ConsensusSimReport {
    const { durationMs, clients, tickMs, electionTicks, livenessTimeouts } = this.#o;
    for (let c = 0; c < clients; c++) this.#after(this.#random.next() * 20, () => this.#nextOp(c));
    this.#scheduleFault();
    this.#sampleAvailability();
    this.scheduler.runUntil(durationMs);
    this.#heal();
    const bound = livenessTimeouts * electionTicks * tickMs;
    const deadline = durationMs + bound;
    while (this.now < deadline && this.#firstCommitAfterHeal < 0)
      this.scheduler.runUntil(Math.min(deadline, this.now + 5 * tickMs));
    if (this.#firstCommitAfterHeal < 0)
      this.#fail(
        `liveness: nothing committed within ${bound} ms (${livenessTimeouts} election timeouts) after healing`,
      );
    // Let the clients finish, then the replicas converge.
    this.#clientsOn = false;
    this.scheduler.runUntil(this.now + this.#o.clientTimeoutMs + 300);
    this.#checkConvergence();
    for (const v of this.invariants.violations) this.#fail(`${v.property}: ${v.detail}`);
    const lin = checkLinearizable(this.#history);
    if (lin.verdict === 'violation')
      this.#fail(`linearizability: the history of key ${lin.key} is not linearizable`);
    const sorted = [...this.#latencies].sort((a, b) => a - b);
    const commits = [...this.#commitMs].sort((a, b) => a - b);
    return {
      seed: this.#o.seed,
      leaderElections: this.#leaderTerms.size,
      commits: this.#latencies.length,
      commitLatencyMs: { p50: percentile(sorted, 50), p99: percentile(sorted, 99) },
      proposalCommitMs: { p50: percentile(commits, 50), p99: percentile(commits, 99) },
      unavailableMs: this.#unavailableMs,
      safetyViolations: this.#failures.length,
      failures: this.#failures,
      recoveryMs: this.#firstCommitAfterHeal < 0 ? null : this.#firstCommitAfterHeal - this.#healedAt,
      operations: this.#history.length,
      history: this.#history,
    };
  }

  // ---- nodes ----

  #boot(node: SimNode): void {
    node.kv = new KvStateMachine();
    node.kv.restore(node.storage.snapshot().data);
    node.applied = node.storage.snapshot().index;
    node.core = new RaftCore({
      id: node.id,
      storage: node.storage,
      random: this.#random.fork(),
      electionTicks: this.#o.electionTicks,
      heartbeatTicks: this.#o.heartbeatTicks,
      snapshotChunkBytes: this.#o.snapshotChunkBytes,
      maxInflight: 16,
    });
    node.proposals = new Map();
    node.reads = new Map();
    node.readyReads = [];
    const epoch = node.epoch;
    const tick = () => {
      if (!node.up || node.epoch !== epoch) return;
      node.core.tick();
      this.#process(node);
      this.#after(this.#o.tickMs, tick);
    };
    this.#after(this.#random.next() * this.#o.tickMs, tick);
  }

  /** Crashes a node now (its storage survives; the faulty phase restarts it, healing does). */
  crash(id: string): void {
    const node = this.nodes.find((n) => n.id === id);
    if (node) this.#crash(node);
  }

  /** The live leader, if any. */
  leader(): string | undefined {
    return this.nodes.find((n) => n.up && n.core.role === 'Leader')?.id;
  }

  #crash(node: SimNode): void {
    node.up = false;
    node.epoch++;
  }

  #restart(node: SimNode): void {
    node.up = true;
    this.invariants.restarted(node.id, node.storage.lastIndex(), node.storage.snapshot().index);
    this.#boot(node);
  }

  /** The owner's side of a ready record, in the contract's order. */
  #process(node: SimNode): void {
    const core = node.core;
    while (core.hasReady()) {
      const r = core.ready();
      this.#persist(node, r);
      for (const m of r.messages) this.#send(m);
      if (r.snapshot) {
        node.kv.restore(r.snapshot.data);
        node.applied = r.snapshot.index;
      }
      for (const e of r.committed)
        this.#apply(node, e.index, e.term, e.kind === 'command' ? e.data : undefined);
      for (const read of r.reads) {
        const op = node.reads.get(read.ctx);
        node.reads.delete(read.ctx);
        if (op === undefined) continue;
        if (read.index === null) this.#reply(op, { kind: 'refused', hint: '' });
        else node.readyReads.push({ index: read.index, op });
      }
      core.advance(r);
      this.#serveReads(node);
      if (r.role === 'Leader') this.#leaderTerms.add(r.term);
      const snap = node.storage.snapshot();
      if (node.applied - snap.index >= this.#o.compactEvery)
        node.storage.compact(node.applied, core.votersAt(node.applied), node.kv.snapshot());
    }
  }

  #persist(node: SimNode, r: Ready): void {
    if (r.snapshot) node.storage.applySnapshot(r.snapshot);
    node.storage.append(r.entries);
    if (r.hardState) node.storage.setHardState(r.hardState);
    this.invariants.observe(node.id, r, (i) => node.core.termAt(i), node.storage.snapshot().index);
  }

  #apply(node: SimNode, index: number, term: number, data: Uint8Array | undefined): void {
    const result = data ? node.kv.apply(data) : undefined;
    node.applied = index;
    const waiting = node.proposals.get(index);
    if (!waiting) return;
    node.proposals.delete(index);
    if (waiting.term !== term) {
      this.#reply(waiting.op, { kind: 'refused', hint: '' });
      return;
    }
    const op = this.#ops[waiting.op]!;
    this.#commitMs.push(this.now - waiting.at);
    this.#reply(waiting.op, { kind: 'ok', result: op.f === 'cas' ? result?.ok === true : null });
  }

  #serveReads(node: SimNode): void {
    node.readyReads = node.readyReads.filter(({ index, op }) => {
      if (node.applied < index) return true;
      this.#reply(op, { kind: 'ok', result: node.kv.get(this.#ops[op]!.key) });
      return false;
    });
  }

  // ---- the network ----

  #reachable(a: string, b: string): boolean {
    if (!this.#groups) return true;
    return this.#groups.get(a) === this.#groups.get(b);
  }

  #delay(): number {
    const { meanMs, jitterMs } = this.#o.latency;
    let d = Math.max(0.1, meanMs - jitterMs + this.#random.next() * 2 * jitterMs);
    if (this.#random.next() < this.#faults.reorder) d += this.#random.next() * this.#faults.reorderMs;
    return d;
  }

  #send(m: ConsensusMessage): void {
    if (!this.#reachable(m.from, m.to) || this.#random.next() < this.#faults.loss) return;
    const copies = this.#random.next() < this.#faults.duplicate ? 2 : 1;
    const to = this.nodes[this.#ids.indexOf(m.to)];
    if (!to) return;
    for (let i = 0; i < copies; i++) {
      const epoch = to.epoch;
      this.#after(this.#delay(), () => {
        if (!to.up || to.epoch !== epoch || !this.#reachable(m.from, m.to)) return;
        to.core.step(m);
        this.#process(to);
      });
    }
  }

  #after(ms: number, fn: () => void): void {
    this.scheduler.setTimer(ms, fn);
  }

  // ---- faults ----

  #scheduleFault(): void {
    this.#after(this.#random.next() * 2 * this.#faults.everyMs, () => {
      if (this.#healedAt >= 0) return;
      this.#fault();
      this.#scheduleFault();
    });
  }

  #fault(): void {
    const f = this.#faults;
    const r = this.#random.next();
    const down = this.nodes.filter((n) => !n.up);
    const up = this.nodes.filter((n) => n.up);
    if (f.crash && r < 0.25 && up.length > 1) this.#crash(up[this.#random.int(up.length)]!);
    else if (f.crash && r < 0.5 && down.length > 0) this.#restart(down[this.#random.int(down.length)]!);
    else if (f.partition && r < 0.7) {
      this.#groups = new Map(this.#ids.map((id) => [id, this.#random.int(2)]));
    } else if (r < 0.9) this.#groups = undefined;
    else if (f.reconfigure) this.#reconfigure();
  }

  /** The leader adds a node that is not a voter, or removes a voter (perhaps itself). */
  #reconfigure(): void {
    const leader = this.nodes.find((n) => n.up && n.core.role === 'Leader');
    if (!leader) return;
    const voters = leader.core.voters;
    const outside = this.#ids.filter((id) => !voters.includes(id));
    let next: string[];
    if (outside.length > 0 && (voters.length <= 2 || this.#random.next() < 0.5))
      next = [...voters, outside[this.#random.int(outside.length)]!];
    else {
      const gone = voters[this.#random.int(voters.length)];
      next = voters.filter((v) => v !== gone);
    }
    try {
      leader.core.proposeConfig(next);
    } catch (e) {
      if (!(e instanceof ConsensusError)) throw e;
    }
    this.#process(leader);
  }

  #heal(): void {
    this.#healedAt = this.now;
    this.#groups = undefined;
    this.#faults = { ...this.#faults, loss: 0, duplicate: 0, reorder: 0 };
    for (const n of this.nodes) if (!n.up) this.#restart(n);
  }

  #sampleAvailability(): void {
    this.#after(this.#o.tickMs, () => {
      if (!this.nodes.some((n) => n.up && n.core.role === 'Leader')) this.#unavailableMs += this.#o.tickMs;
      if (this.#clientsOn || this.#healedAt < 0) this.#sampleAvailability();
    });
  }

  // ---- clients ----

  #nextOp(client: number): void {
    if (!this.#clientsOn) return;
    const r = this.#random.next();
    const key = `k${this.#random.int(this.#o.keys)}`;
    let op: ClientOp;
    if (r < 0.4) op = { client, f: 'read', key, value: undefined, call: this.now, done: false };
    else if (r < 0.8)
      op = { client, f: 'write', key, value: `v${++this.#values}`, call: this.now, done: false };
    else {
      const seen = this.#history.filter((h) => h.key === key && h.f === 'write');
      const expected = seen.length > 0 && this.#random.next() < 0.7 ? (seen.at(-1)!.value as string) : null;
      op = { client, f: 'cas', key, value: [expected, `v${++this.#values}`], call: this.now, done: false };
    }
    const index = this.#ops.push(op) - 1;
    const hint = this.#clientHints[client]!;
    const target = hint !== '' ? hint : this.#ids[this.#random.int(this.#ids.length)]!;
    this.#after(this.#o.clientTimeoutMs, () => {
      if (op.done) return;
      op.done = true;
      this.#record(op, null, undefined);
      this.#clientHints[client] = '';
      this.#nextOp(client);
    });
    if (this.#random.next() < this.#faults.loss) return;
    const node = this.nodes[this.#ids.indexOf(target)]!;
    const epoch = node.epoch;
    this.#after(this.#delay(), () => {
      if (node.up && node.epoch === epoch) this.#handle(node, index);
    });
  }

  /** A node serves a client request: the leader proposes or reads, others refuse with a hint. */
  #handle(node: SimNode, index: number): void {
    const op = this.#ops[index]!;
    try {
      if (op.f === 'read') {
        const ctx = ++this.#ctx;
        node.core.readIndex(ctx);
        node.reads.set(ctx, index);
      } else {
        const cmd: KvCommand =
          op.f === 'write'
            ? { op: 'put', key: op.key, value: op.value as string }
            : {
                op: 'cas',
                key: op.key,
                expected: (op.value as readonly [string | null, string])[0],
                value: (op.value as readonly [string | null, string])[1],
              };
        const at = node.core.propose(encodeKvCommand(cmd));
        node.proposals.set(at.index, { term: at.term, op: index, at: this.now });
      }
    } catch (e) {
      if (!(e instanceof ConsensusError)) throw e;
      this.#reply(index, { kind: 'refused', hint: e.leaderHint ?? '' });
    }
    this.#process(node);
  }

  /** A reply travels back to the client (it may be lost: the client then times out). */
  #reply(index: number, reply: Reply): void {
    if (this.#random.next() < this.#faults.loss) return;
    this.#after(this.#delay(), () => {
      const op = this.#ops[index]!;
      if (op.done) return;
      op.done = true;
      if (reply.kind === 'ok') {
        this.#record(op, this.now, reply.result);
        if (op.f !== 'read') {
          this.#latencies.push(this.now - op.call);
          if (this.#healedAt >= 0 && this.#firstCommitAfterHeal < 0) this.#firstCommitAfterHeal = this.now;
        }
      } else this.#clientHints[op.client] = reply.hint;
      this.#after(this.#random.next() * 10, () => this.#nextOp(op.client));
    });
  }

  #record(op: ClientOp, ret: number | null, result: string | null | boolean | undefined): void {
    const h: HistoryOp = {
      client: op.client,
      f: op.f,
      key: op.key,
      ...(op.value !== undefined ? { value: op.value } : {}),
      call: op.call,
      return: ret,
      ...(ret !== null && op.f !== 'write' ? { result } : {}),
    };
    this.#history.push(h);
  }

  /** Every live voter (of the most advanced node's configuration) applied the same map. */
  #checkConvergence(): void {
    const ahead = this.nodes.reduce((a, b) => (b.core.commitIndex > a.core.commitIndex ? b : a));
    const members = ahead.core.voters;
    const up = this.nodes.filter((n) => n.up && members.includes(n.id));
    const commit = ahead.core.commitIndex;
    const behind = up.filter((n) => n.applied < commit);
    if (behind.length > 0) {
      this.#fail(
        `convergence: ${behind.map((n) => `${n.id} applied ${n.applied}`).join(', ')} < commit ${commit}`,
      );
      return;
    }
    const images = new Set(up.map((n) => new TextDecoder().decode(n.kv.snapshot())));
    if (images.size > 1) this.#fail('convergence: replicas at the same index hold different maps');
  }

  #fail(what: string): void {
    if (this.#failures.length < 20) this.#failures.push(what);
  }
}

/** Runs one seed. */
export function runConsensusSim(opts: ConsensusSimOptions): ConsensusSimReport {
  return new ConsensusSim(opts).run();
}

/** The sweep's scenario for a seed (npm test and npm run soak:consensus share it). */
export function sweepOptions(seed: number): ConsensusSimOptions {
  const base = { seed, voters: seed % 2 === 1 ? 3 : 5, clients: 3 + (seed % 3), durationMs: 1_200 };
  // Every third seed adds and removes voters, with one node outside the set to add.
  return seed % 3 === 0 ? { ...base, spares: 1, faults: { reconfigure: true, everyMs: 100 } } : base;
}
