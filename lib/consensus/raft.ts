/**
 * The Raft core: a sans-IO state machine in the style of etcd-io/raft. Its inputs are
 * `step(message)`, `tick()` and the leader's calls (`propose`, `proposeConfig`,
 * `readIndex`, `transferLeadership`); its outputs wait in a `Ready` record the owner takes
 * with `ready()` and acknowledges with `advance()`. Time is counted in ticks the owner
 * drives; the only other input from the environment is the injected random source (for
 * election timeouts), so a seed reproduces a run exactly.
 *
 * Persistence contract (the owner's side of `Ready`, in this order):
 * 1. write `snapshot` (if any), then `entries`, then `hardState` to stable storage;
 * 2. only then send `messages` (a vote or an acknowledgement promises what step 1 stored);
 * 3. load `snapshot` into the state machine, apply `committed` in order, answer `reads`;
 * 4. call `advance(ready)`.
 * Two exceptions. A record with no snapshot, no entries and neither a new term nor a new
 * vote (`mustPersistFirst` false: at most a new commit index) need not wait for its write.
 * And (§10.2.1) a leader's `append`, `heartbeat`, `snapshot` and `timeout-now` messages
 * may leave while step 1 is under way, when the record changes neither term nor vote
 * (`leaderMayShip`): the leader counts its own entries towards a commit only once
 * `advance()` said they are stable, so a commit never rests on its unfinished write.
 */
import type { Random } from '../time/types.ts';
import { ConfigHistory, hasQuorum, quorumIndex } from './config.ts';
import { ConsensusError } from './errors.ts';
import { RaftLog } from './log.ts';
import {
  type ConsensusMessage,
  defaultMessageLimits,
  type Entry,
  type MessageLimits,
  parseMessage,
  type Snapshot,
} from './messages.ts';
import { Progress } from './progress.ts';
import { ReadIndexQueue, type ReadState } from './read-index.ts';
import { SnapshotReceiver } from './snapshot-receiver.ts';
import type { ConsensusStorage, HardState } from './storage.ts';

export const ConsensusRole = {
  Follower: 'Follower',
  /** Asking for pre-votes (§9.6): would an election at the next term succeed? No term changes yet. */
  PreCandidate: 'PreCandidate',
  Candidate: 'Candidate',
  Leader: 'Leader',
} as const;
export type ConsensusRole = (typeof ConsensusRole)[keyof typeof ConsensusRole];

export interface RaftOptions {
  /** This node's id (as the voter sets name it). */
  id: string;
  storage: ConsensusStorage;
  /** Randomizes election timeouts (the only randomness the core uses). */
  random: Random;
  /** Ticks without hearing from a leader before a follower campaigns (randomized in [n, 2n)). Default 10. */
  electionTicks?: number;
  /** Ticks between a leader's heartbeats (< electionTicks). Default 1. */
  heartbeatTicks?: number;
  /** Ask for pre-votes before raising the term (§9.6). Default true. */
  preVote?: boolean;
  /**
   * A leader steps down when a quorum was not heard from within an election timeout, and a
   * follower that heard from its leader within one ignores vote requests (§4.2.3, §9.6).
   * Default true.
   */
  checkQuorum?: boolean;
  /** Appends in flight per follower while replicating. Default 64. */
  maxInflight?: number;
  /** Bytes of entries per append (at least one entry is sent). Default 1 MiB. */
  maxAppendBytes?: number;
  /** Bytes of snapshot per InstallSnapshot chunk. Default 256 KiB. */
  snapshotChunkBytes?: number;
  /** Entries a leader holds uncommitted before refusing proposals (`overloaded`). Default 10,000. */
  maxUncommitted?: number;
  /** Reads waiting for confirmation before refusing more (`overloaded`). Default 10,000. */
  maxPendingReads?: number;
  /** Bounds on received messages. */
  limits?: Partial<MessageLimits>;
  /** Applied index of the state machine at start (default: the snapshot's index). */
  applied?: number;
}

/** What changed since the last ready record; the owner handles it as the module comment says. */
export interface Ready {
  readonly role: ConsensusRole;
  readonly term: number;
  /** The leader this node knows of ('' for none). */
  readonly leader: string;
  /** Persist when set (it changed). */
  readonly hardState: HardState | undefined;
  /** A snapshot received from the leader: persist it, then load it into the state machine. */
  readonly snapshot: Snapshot | undefined;
  /** Append to stable storage (replacing any held from the first one's index on). */
  readonly entries: readonly Entry[];
  /** Send once the above is durable. */
  readonly messages: readonly ConsensusMessage[];
  /** Apply in order (after loading `snapshot`). */
  readonly committed: readonly Entry[];
  /** ReadIndex answers: read once the state machine applied `index`. */
  readonly reads: readonly ReadState[];
}

/** Messages a leader may send while its own write of the record is under way (§10.2.1). */
const SHIPPED_EARLY = new Set<ConsensusMessage['type']>(['append', 'heartbeat', 'snapshot', 'timeout-now']);

/** Whether `r` changes the term or the vote of `durable` (the hard state earlier records made durable). */
function votes(r: Ready, durable: HardState): boolean {
  return (
    r.hardState !== undefined && (r.hardState.term !== durable.term || r.hardState.vote !== durable.vote)
  );
}

/**
 * Whether `r` holds what must be durable before its messages leave and its entries are
 * applied: a snapshot, entries, or a new term or vote. A new commit index alone need not
 * be (Raft keeps it in volatile state; a restarted node learns it again): it may ride the
 * next write.
 */
export function mustPersistFirst(r: Ready, durable: HardState): boolean {
  return r.snapshot !== undefined || r.entries.length > 0 || votes(r, durable);
}

/**
 * The messages of `r` that may leave before its persistence ended (see the module comment):
 * a leader's appends, heartbeats, snapshot chunks and timeout-now, when `r` changes neither
 * the term nor the vote of `durable`. None otherwise: a vote or an acknowledgement always
 * waits for the write it promises.
 */
export function leaderMayShip(r: Ready, durable: HardState): ConsensusMessage[] {
  if (r.role !== ConsensusRole.Leader || votes(r, durable)) return [];
  return r.messages.filter((m) => SHIPPED_EARLY.has(m.type));
}

export interface ConsensusStatus {
  readonly id: string;
  readonly role: ConsensusRole;
  readonly term: number;
  readonly leader: string;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  readonly lastIndex: number;
  readonly voters: readonly string[];
}

/** Inputs refused, by reason (hostile or stale messages are dropped and counted, never thrown). */
export interface RaftMetrics {
  /** Malformed messages, or addressed to another node. */
  malformed: number;
  /** Messages of an older term. */
  stale: number;
  /** Vote requests ignored because a leader was heard from lately (check-quorum lease). */
  leaseIgnored: number;
  /** Appends contradicting committed entries (only a faulty or hostile leader sends them). */
  rejectedAppends: number;
  /** Elections started (real ones, after a pre-vote won). */
  elections: number;
}

export class RaftCore {
  readonly id: string;
  readonly metrics: RaftMetrics = {
    malformed: 0,
    stale: 0,
    leaseIgnored: 0,
    rejectedAppends: 0,
    elections: 0,
  };
  readonly #log: RaftLog;
  readonly #random: Random;
  readonly #limits: MessageLimits;
  readonly #electionTicks: number;
  readonly #heartbeatTicks: number;
  readonly #preVote: boolean;
  readonly #checkQuorum: boolean;
  readonly #maxInflight: number;
  readonly #maxAppendBytes: number;
  readonly #chunkBytes: number;
  readonly #maxUncommitted: number;
  readonly #maxPendingReads: number;
  readonly #configs: ConfigHistory;
  readonly #progress = new Map<string, Progress>();
  readonly #votes = new Map<string, boolean>();
  readonly #reads = new ReadIndexQueue();
  readonly #snapshotIn = new SnapshotReceiver();
  #role: ConsensusRole = ConsensusRole.Follower;
  #term: number;
  #vote: string;
  #leader = '';
  #electionElapsed = 0;
  #heartbeatElapsed = 0;
  #randomizedTimeout = 0;
  #transferee = '';
  /** Entries were appended at the leader since appends last went out (see #appendAsLeader). */
  #appendPending = false;
  /** Reads that arrived before this leader committed an entry of its term. */
  #waitingReads: number[] = [];
  #messages: ConsensusMessage[] = [];
  #readStates: ReadState[] = [];
  #persisted: HardState;
  /** Committed entries up to here were handed out in a ready record. */
  #handedOut: number;

  constructor(opts: RaftOptions) {
    this.id = opts.id;
    this.#random = opts.random;
    this.#limits = { ...defaultMessageLimits, ...opts.limits };
    this.#electionTicks = opts.electionTicks ?? 10;
    this.#heartbeatTicks = opts.heartbeatTicks ?? 1;
    if (!(this.#heartbeatTicks >= 1 && this.#electionTicks > this.#heartbeatTicks))
      throw new ConsensusError('invalid-argument', 'need 1 ≤ heartbeatTicks < electionTicks');
    this.#preVote = opts.preVote ?? true;
    this.#checkQuorum = opts.checkQuorum ?? true;
    this.#maxInflight = opts.maxInflight ?? 64;
    this.#maxAppendBytes = opts.maxAppendBytes ?? 1024 * 1024;
    this.#chunkBytes = opts.snapshotChunkBytes ?? 256 * 1024;
    this.#maxUncommitted = opts.maxUncommitted ?? 10_000;
    this.#maxPendingReads = opts.maxPendingReads ?? 10_000;
    const storage = opts.storage;
    this.#log = new RaftLog(storage);
    const snap = storage.snapshot();
    this.#configs = new ConfigHistory(snap.index, snap.voters);
    const last = storage.lastIndex();
    if (last > snap.index) this.#noteConfigs(storage.entries(snap.index + 1, last + 1));
    const hard = storage.hardState();
    this.#term = hard.term;
    this.#vote = hard.vote;
    this.#persisted = hard;
    if (opts.applied !== undefined) this.#log.applied = Math.max(this.#log.applied, opts.applied);
    this.#handedOut = this.#log.applied;
    this.#resetTimeout();
  }

  // ---- queries ----

  get role(): ConsensusRole {
    return this.#role;
  }

  get term(): number {
    return this.#term;
  }

  get leader(): string {
    return this.#leader;
  }

  get voters(): readonly string[] {
    return this.#configs.voters;
  }

  get commitIndex(): number {
    return this.#log.committed;
  }

  get lastIndex(): number {
    return this.#log.lastIndex();
  }

  /** Term of a log entry still held (undefined when compacted or beyond the end). */
  termAt(index: number): number | undefined {
    return this.#log.term(index);
  }

  /** The voters in force at `index` (what a snapshot taken there records). */
  votersAt(index: number): readonly string[] {
    return this.#configs.at(index);
  }

  status(): ConsensusStatus {
    return {
      id: this.id,
      role: this.#role,
      term: this.#term,
      leader: this.#leader,
      commitIndex: this.#log.committed,
      appliedIndex: this.#log.applied,
      lastIndex: this.#log.lastIndex(),
      voters: this.#configs.voters,
    };
  }

  // ---- inputs ----

  /** One tick of logical time: election timeouts, heartbeats, the check-quorum round. */
  tick(): void {
    this.#electionElapsed++;
    if (this.#role !== ConsensusRole.Leader) {
      if (this.#promotable() && this.#electionElapsed >= this.#randomizedTimeout)
        this.#campaign(this.#preVote ? 'pre' : 'real');
      return;
    }
    if (this.#electionElapsed >= this.#electionTicks) {
      this.#electionElapsed = 0;
      if (this.#checkQuorum) {
        const active = hasQuorum(
          this.voters,
          (v) => v === this.id || this.#progress.get(v)?.recentActive === true,
        );
        for (const pr of this.#progress.values()) pr.recentActive = false;
        if (!active) {
          this.#becomeFollower(this.#term, '');
          return;
        }
      }
      this.#transferee = '';
    }
    if (++this.#heartbeatElapsed >= this.#heartbeatTicks) {
      this.#heartbeatElapsed = 0;
      this.#broadcastHeartbeat(this.#reads.latest());
    }
  }

  /** A message from a peer: checked (malformed ones are dropped and counted), then handled. */
  step(raw: unknown): void {
    const m = parseMessage(raw, this.#limits);
    if (!m || m.to !== this.id || m.from === this.id) {
      this.metrics.malformed++;
      return;
    }
    if (m.term > this.#term) {
      if (m.type === 'vote') {
        const inLease =
          this.#checkQuorum && this.#leader !== '' && this.#electionElapsed < this.#electionTicks;
        if (inLease && !m.transfer) {
          this.metrics.leaseIgnored++;
          return;
        }
      }
      const future = (m.type === 'vote' && m.pre) || (m.type === 'vote-reply' && m.pre && m.granted);
      if (!future) {
        const fromLeader = m.type === 'append' || m.type === 'heartbeat' || m.type === 'snapshot';
        this.#becomeFollower(m.term, fromLeader ? m.from : '');
      }
    } else if (m.term < this.#term) {
      this.metrics.stale++;
      // A leader cut off by a partition learns the newer term (it cannot find it otherwise:
      // with pre-vote and check-quorum nobody bumps the term by asking it for a vote).
      if ((this.#checkQuorum || this.#preVote) && (m.type === 'append' || m.type === 'heartbeat'))
        this.#send({ type: 'append-reply', to: m.from, success: false, index: 0, hintIndex: 0, hintTerm: 0 });
      else if (m.type === 'vote') this.#send({ type: 'vote-reply', to: m.from, granted: false, pre: m.pre });
      return;
    }
    if (m.type === 'vote') {
      this.#handleVote(m);
      return;
    }
    if (this.#role === ConsensusRole.Leader) this.#stepLeader(m);
    else if (this.#role === ConsensusRole.Follower) this.#stepFollower(m);
    else this.#stepCandidate(m);
  }

  /** Appends a command (leader only); returns where it will sit if it commits. */
  propose(data: Uint8Array): { index: number; term: number } {
    this.#checkProposal();
    const e: Entry = { index: this.#log.lastIndex() + 1, term: this.#term, kind: 'command', data };
    this.#appendAsLeader([e]);
    return { index: e.index, term: e.term };
  }

  /**
   * Proposes a new voter set differing from the current one by one member (single-server
   * change, §4.1). One at a time: refused while the last change is uncommitted, and until
   * this leader committed an entry of its own term (the fix of §4.1's bug report).
   */
  proposeConfig(voters: readonly string[]): { index: number; term: number } {
    this.#checkProposal();
    const next = [...new Set(voters)];
    const now = this.voters;
    const added = next.filter((v) => !now.includes(v)).length;
    const removed = now.filter((v) => !next.includes(v)).length;
    if (next.length === 0 || next.length !== voters.length || added + removed !== 1)
      throw new ConsensusError('invalid-argument', 'a membership change adds or removes exactly one voter');
    if (this.#configs.latestIndex > this.#log.committed || this.#log.term(this.#log.committed) !== this.#term)
      throw new ConsensusError(
        'config-change-pending',
        'the previous membership change is not committed yet',
      );
    const e: Entry = { index: this.#log.lastIndex() + 1, term: this.#term, kind: 'config', voters: next };
    this.#appendAsLeader([e]);
    return { index: e.index, term: e.term };
  }

  /**
   * Starts a linearizable read (leader only): its answer, in a later ready's `reads` with
   * this `ctx`, is the index the state machine must have applied before reading.
   */
  readIndex(ctx: number): void {
    if (this.#role !== ConsensusRole.Leader)
      throw new ConsensusError('not-leader', `${this.id} is not the leader`, this.#hint());
    if (this.#reads.size + this.#waitingReads.length >= this.#maxPendingReads)
      throw new ConsensusError('overloaded', 'too many reads pending');
    if (this.#log.term(this.#log.committed) !== this.#term) this.#waitingReads.push(ctx);
    else this.#startRead(ctx);
  }

  /** Hands leadership to `to` (§3.10): once its log is caught up it is told to campaign at once. */
  transferLeadership(to: string): void {
    if (this.#role !== ConsensusRole.Leader)
      throw new ConsensusError('not-leader', `${this.id} is not the leader`, this.#hint());
    if (to === this.id) return;
    const pr = this.#progress.get(to);
    if (!pr || !this.voters.includes(to))
      throw new ConsensusError('invalid-argument', `${to} is not a voter`);
    this.#transferee = to;
    this.#electionElapsed = 0;
    if (pr.match === this.#log.lastIndex()) this.#send({ type: 'timeout-now', to });
    else this.#sendAppend(to);
  }

  /** Whether `proposeConfig` would be accepted now (leader, previous change committed, a commit of its term). */
  canChangeConfig(): boolean {
    return (
      this.#role === ConsensusRole.Leader &&
      this.#transferee === '' &&
      this.#configs.latestIndex <= this.#log.committed &&
      this.#log.term(this.#log.committed) === this.#term
    );
  }

  /**
   * Gives up leadership (or a campaign) without changing the term: the node follows again
   * and waits a whole election timeout before campaigning. Pending reads are answered as
   * abandoned. For an owner that is about to stop hearing the network (a frozen node).
   */
  stepDown(): void {
    if (this.#role !== ConsensusRole.Follower) this.#becomeFollower(this.#term, '');
  }

  /** Campaigns now (tests and operators; an election timeout does the same). */
  campaign(): void {
    if (this.#role !== ConsensusRole.Leader) this.#campaign(this.#preVote ? 'pre' : 'real');
  }

  // ---- ready / advance ----

  hasReady(): boolean {
    return (
      this.#appendPending ||
      this.#messages.length > 0 ||
      this.#readStates.length > 0 ||
      this.#log.unstableEntries().length > 0 ||
      this.#log.unstableSnapshot() !== undefined ||
      this.#log.committed > this.#handedOut ||
      this.#hardChanged()
    );
  }

  /** What to persist, send and apply now (see the module comment); then call advance(). */
  ready(): Ready {
    this.#flushAppends();
    const snapshot = this.#log.unstableSnapshot();
    if (snapshot && this.#handedOut < snapshot.index) this.#handedOut = snapshot.index;
    const committed =
      this.#log.committed > this.#handedOut
        ? this.#log.slice(this.#handedOut + 1, this.#log.committed + 1)!
        : [];
    this.#handedOut = this.#log.committed;
    const r: Ready = {
      role: this.#role,
      term: this.#term,
      leader: this.#leader,
      hardState: this.#hardChanged() ? this.#hardState() : undefined,
      snapshot,
      entries: [...this.#log.unstableEntries()],
      messages: this.#messages,
      committed,
      reads: this.#readStates,
    };
    this.#messages = [];
    this.#readStates = [];
    return r;
  }

  /** The owner persisted, sent and applied everything in `r`. */
  advance(r: Ready): void {
    if (r.hardState) this.#persisted = r.hardState;
    if (r.snapshot) {
      this.#log.stableSnapshotTo(r.snapshot.index);
      this.#log.applied = Math.max(this.#log.applied, r.snapshot.index);
    }
    const last = r.entries.at(-1);
    if (last) this.#log.stableTo(last.index, last.term);
    const applied = r.committed.at(-1);
    if (applied) this.#log.applied = Math.max(this.#log.applied, applied.index);
    // The leader's own entries now count: they may complete a quorum (its commit shows in the next record).
    if (last && this.#role === ConsensusRole.Leader) this.#maybeCommit();
  }

  // ---- roles ----

  #promotable(): boolean {
    return this.voters.includes(this.id);
  }

  #resetTimeout(): void {
    this.#randomizedTimeout = this.#electionTicks + this.#random.int(this.#electionTicks);
  }

  #reset(term: number): void {
    if (term !== this.#term) {
      this.#term = term;
      this.#vote = '';
      this.#snapshotIn.clear();
    }
    this.#leader = '';
    this.#electionElapsed = 0;
    this.#heartbeatElapsed = 0;
    this.#resetTimeout();
    this.#votes.clear();
    this.#transferee = '';
    this.#progress.clear();
    this.#readStates.push(
      ...this.#reads.abandon(),
      ...this.#waitingReads.map((ctx) => ({ ctx, index: null })),
    );
    this.#waitingReads = [];
  }

  #becomeFollower(term: number, leader: string): void {
    this.#reset(term);
    this.#role = ConsensusRole.Follower;
    this.#leader = leader;
  }

  #becomeLeader(): void {
    this.#reset(this.#term);
    this.#role = ConsensusRole.Leader;
    this.#leader = this.id;
    this.#syncProgress();
    // A no-op of the new term: committing it commits everything before it (§5.4.2, §8).
    this.#appendAsLeader([{ index: this.#log.lastIndex() + 1, term: this.#term, kind: 'noop' }]);
  }

  #campaign(kind: 'pre' | 'real' | 'transfer'): void {
    if (!this.#promotable()) return;
    let voteTerm: number;
    if (kind === 'pre') {
      this.#reset(this.#term);
      this.#role = ConsensusRole.PreCandidate;
      voteTerm = this.#term + 1;
    } else {
      this.#reset(this.#term + 1);
      this.#role = ConsensusRole.Candidate;
      this.#vote = this.id;
      voteTerm = this.#term;
      this.metrics.elections++;
    }
    if (this.#poll(this.id, true) === 'won') return;
    for (const v of this.voters) {
      if (v === this.id) continue;
      this.#send({
        type: 'vote',
        to: v,
        term: voteTerm,
        lastIndex: this.#log.lastIndex(),
        lastTerm: this.#log.lastTerm(),
        pre: kind === 'pre',
        transfer: kind === 'transfer',
      });
    }
  }

  /** Records a vote; wins or loses the election once a quorum decided. */
  #poll(from: string, granted: boolean): 'won' | 'lost' | 'pending' {
    this.#votes.set(from, granted);
    if (hasQuorum(this.voters, (v) => this.#votes.get(v) === true)) {
      if (this.#role === ConsensusRole.PreCandidate) this.#campaign('real');
      else this.#becomeLeader();
      return 'won';
    }
    if (hasQuorum(this.voters, (v) => this.#votes.get(v) === false)) {
      this.#becomeFollower(this.#term, '');
      return 'lost';
    }
    return 'pending';
  }

  // ---- per-role message handling ----

  #handleVote(m: Extract<ConsensusMessage, { type: 'vote' }>): void {
    const canVote =
      this.#vote === m.from || (this.#vote === '' && this.#leader === '') || (m.pre && m.term > this.#term);
    if (canVote && this.#log.isUpToDate(m.lastIndex, m.lastTerm)) {
      // A granted pre-vote answers at the asked term (the candidate's next one).
      this.#send({ type: 'vote-reply', to: m.from, term: m.term, granted: true, pre: m.pre });
      if (!m.pre) {
        this.#electionElapsed = 0;
        this.#vote = m.from;
      }
    } else this.#send({ type: 'vote-reply', to: m.from, granted: false, pre: m.pre });
  }

  #stepFollower(m: ConsensusMessage): void {
    switch (m.type) {
      case 'append':
        this.#heardFromLeader(m.from);
        this.#handleAppend(m);
        return;
      case 'heartbeat':
        this.#heardFromLeader(m.from);
        this.#log.commitTo(m.commit);
        this.#send({ type: 'heartbeat-reply', to: m.from, ctx: m.ctx });
        return;
      case 'snapshot':
        this.#heardFromLeader(m.from);
        this.#handleSnapshot(m);
        return;
      case 'timeout-now':
        if (m.from === this.#leader) this.#campaign('transfer');
        return;
      default:
        return;
    }
  }

  #stepCandidate(m: ConsensusMessage): void {
    switch (m.type) {
      case 'append':
      case 'heartbeat':
      case 'snapshot':
        // Someone won this term: follow it.
        this.#becomeFollower(this.#term, m.from);
        this.#stepFollower(m);
        return;
      case 'vote-reply':
        if (m.pre === (this.#role === ConsensusRole.PreCandidate)) this.#poll(m.from, m.granted);
        return;
      default:
        return;
    }
  }

  #stepLeader(m: ConsensusMessage): void {
    const pr = this.#progress.get(m.from);
    if (!pr) return;
    switch (m.type) {
      case 'append-reply':
        pr.recentActive = true;
        if (m.success) this.#appendAcked(m.from, pr, m.index);
        else {
          const hint =
            m.hintTerm > 0 ? this.#log.findConflictByTerm(m.hintIndex, m.hintTerm).index : m.hintIndex;
          if (pr.maybeDecrTo(m.index, hint)) {
            if (pr.state === 'replicate') pr.becomeProbe();
            this.#sendAppend(m.from);
          }
        }
        return;
      case 'heartbeat-reply':
        pr.recentActive = true;
        pr.probeSent = false;
        // A full window with the follower alive means appends were lost: let one more go.
        if (pr.state === 'replicate' && pr.inflights.full()) pr.inflights.freeFirst();
        if (pr.state === 'snapshot') this.#sendSnapshot(m.from, pr);
        else if (pr.match < this.#log.lastIndex()) this.#sendAppend(m.from);
        if (m.ctx > 0) {
          this.#reads.ack(m.from, m.ctx);
          this.#readStates.push(...this.#reads.release((acks) => hasQuorum(this.voters, (v) => acks.has(v))));
        }
        return;
      case 'snapshot-reply':
        pr.recentActive = true;
        if (pr.state !== 'snapshot' || m.index !== pr.pendingSnapshot) return;
        pr.snapshotOffset = m.received;
        if (m.received < this.#log.snapshot().data.length) this.#sendSnapshot(m.from, pr);
        return;
      default:
        return;
    }
  }

  #heardFromLeader(from: string): void {
    this.#electionElapsed = 0;
    this.#leader = from;
  }

  // ---- follower: AppendEntries and InstallSnapshot receivers ----

  #handleAppend(m: Extract<ConsensusMessage, { type: 'append' }>): void {
    const log = this.#log;
    if (m.prevIndex < log.committed) {
      this.#send({
        type: 'append-reply',
        to: m.from,
        success: true,
        index: log.committed,
        hintIndex: 0,
        hintTerm: 0,
      });
      return;
    }
    if (!log.matchTerm(m.prevIndex, m.prevTerm)) {
      const hint = log.findConflictByTerm(Math.min(m.prevIndex, log.lastIndex()), m.prevTerm);
      this.#send({
        type: 'append-reply',
        to: m.from,
        success: false,
        index: m.prevIndex,
        hintIndex: hint.index,
        hintTerm: hint.term,
      });
      return;
    }
    const conflict = log.findConflict(m.entries);
    if (conflict !== 0 && conflict <= log.committed) {
      this.metrics.rejectedAppends++;
      return;
    }
    if (conflict !== 0) this.#appendToLog(m.entries.slice(conflict - m.prevIndex - 1));
    const lastNew = m.prevIndex + m.entries.length;
    log.commitTo(Math.min(m.commit, lastNew));
    this.#send({
      type: 'append-reply',
      to: m.from,
      success: true,
      index: lastNew,
      hintIndex: 0,
      hintTerm: 0,
    });
  }

  #handleSnapshot(m: Extract<ConsensusMessage, { type: 'snapshot' }>): void {
    const log = this.#log;
    const ack = (index: number) =>
      this.#send({ type: 'append-reply', to: m.from, success: true, index, hintIndex: 0, hintTerm: 0 });
    if (m.index <= log.committed) {
      ack(log.committed);
      return;
    }
    const got = this.#snapshotIn.accept(m);
    if (!got.snapshot) {
      this.#send({ type: 'snapshot-reply', to: m.from, index: m.index, received: got.received });
      return;
    }
    const snap = got.snapshot;
    if (log.matchTerm(snap.index, snap.term)) {
      // We hold the entries it covers: commit them instead of replacing the log.
      log.commitTo(snap.index);
      ack(log.committed);
      return;
    }
    log.restore(snap);
    this.#configs.reset(snap.index, snap.voters);
    ack(snap.index);
  }

  // ---- leader: replication ----

  #checkProposal(): void {
    if (this.#role !== ConsensusRole.Leader)
      throw new ConsensusError('not-leader', `${this.id} is not the leader`, this.#hint());
    if (this.#transferee !== '')
      throw new ConsensusError('transferring', `leadership is moving to ${this.#transferee}`, {
        leaderHint: this.#transferee,
      });
    if (this.#log.lastIndex() - this.#log.committed >= this.#maxUncommitted)
      throw new ConsensusError('overloaded', 'too many uncommitted proposals');
  }

  #hint(): { leaderHint?: string } {
    return this.#leader === '' ? {} : { leaderHint: this.#leader };
  }

  /**
   * Appends at the leader. The appends to followers go out when the owner takes the next
   * ready record, so every proposal made meanwhile travels in one append per follower.
   */
  #appendAsLeader(entries: Entry[]): void {
    this.#appendToLog(entries);
    this.#maybeCommit();
    this.#appendPending = true;
  }

  #flushAppends(): void {
    if (!this.#appendPending) return;
    this.#appendPending = false;
    if (this.#role === ConsensusRole.Leader) for (const to of this.#progress.keys()) this.#sendAppend(to);
  }

  /** Appends to the log and brings the voter set up to date (config entries count once appended). */
  #appendToLog(entries: readonly Entry[]): void {
    const first = entries[0];
    if (!first) return;
    this.#log.append(entries);
    const before = this.voters;
    this.#configs.truncateFrom(first.index);
    this.#noteConfigs(entries);
    if (before !== this.voters && this.#role === ConsensusRole.Leader) this.#syncProgress();
  }

  #noteConfigs(entries: readonly Entry[]): void {
    for (const e of entries) if (e.kind === 'config') this.#configs.add(e.index, e.voters);
  }

  /** Leader: one progress per voter but itself. */
  #syncProgress(): void {
    const voters = this.voters;
    for (const id of this.#progress.keys()) if (!voters.includes(id)) this.#progress.delete(id);
    for (const id of voters) {
      if (id !== this.id && !this.#progress.has(id))
        this.#progress.set(id, new Progress(this.#log.lastIndex() + 1, this.#maxInflight));
    }
  }

  #appendAcked(from: string, pr: Progress, index: number): void {
    const wasPaused = pr.isPaused();
    if (!pr.maybeUpdate(index)) return;
    if (pr.state === 'probe') pr.becomeReplicate();
    else if (pr.state === 'snapshot' && pr.match >= pr.pendingSnapshot) {
      pr.becomeProbe();
      pr.becomeReplicate();
    } else if (pr.state === 'replicate') pr.inflights.freeTo(index);
    // A new commit index rides on the next append or heartbeat: telling every follower at
    // once would double the messages of each commit (followers apply ≤ 1 heartbeat later).
    if (!this.#maybeCommit() && wasPaused) this.#sendAppend(from);
    while (this.#progress.has(from) && this.#sendAppend(from, false)) {}
    if (from === this.#transferee && pr.match === this.#log.lastIndex())
      this.#send({ type: 'timeout-now', to: from });
  }

  /**
   * Commits the highest index a quorum holds, if it is of this term (§5.4.2). The leader
   * holds only what it persisted (its appends may have left before its own write ended).
   */
  #maybeCommit(): boolean {
    const log = this.#log;
    const index = quorumIndex(this.voters, (v) =>
      v === this.id ? log.stableIndex() : (this.#progress.get(v)?.match ?? 0),
    );
    if (index <= log.committed || log.term(index) !== this.#term) return false;
    const firstOfTerm = log.term(log.committed) !== this.#term;
    log.commitTo(index);
    if (firstOfTerm) {
      for (const ctx of this.#waitingReads) this.#startRead(ctx);
      this.#waitingReads = [];
    }
    // A leader removed from the voters leads until that change commits, then steps down (§4.2.2).
    if (!this.#promotable() && this.#configs.latestIndex <= log.committed) {
      for (const to of this.#progress.keys()) this.#sendAppend(to);
      this.#becomeFollower(this.#term, '');
      return false;
    }
    return true;
  }

  /** Sends what `to` lacks; true when entries went out (and more may follow). */
  #sendAppend(to: string, sendIfEmpty = true): boolean {
    const pr = this.#progress.get(to);
    if (!pr || pr.isPaused()) return false;
    const log = this.#log;
    const prevIndex = pr.next - 1;
    const prevTerm = log.term(prevIndex);
    const entries = log.slice(pr.next, log.lastIndex() + 1, this.#maxAppendBytes);
    if (prevTerm === undefined || entries === undefined) {
      this.#sendSnapshot(to, pr);
      return false;
    }
    if (entries.length === 0 && !sendIfEmpty) return false;
    this.#send({ type: 'append', to, prevIndex, prevTerm, entries, commit: log.committed });
    pr.sentEntries(entries.at(-1)?.index ?? prevIndex);
    return entries.length > 0;
  }

  #sendSnapshot(to: string, pr: Progress): void {
    const snap = this.#log.snapshot();
    if (pr.state !== 'snapshot' || pr.pendingSnapshot !== snap.index) pr.becomeSnapshot(snap.index);
    const offset = Math.min(pr.snapshotOffset, snap.data.length);
    this.#send({
      type: 'snapshot',
      to,
      index: snap.index,
      snapTerm: snap.term,
      voters: snap.voters,
      offset,
      size: snap.data.length,
      chunk: snap.data.subarray(offset, offset + this.#chunkBytes),
    });
  }

  #broadcastHeartbeat(ctx: number): void {
    for (const [to, pr] of this.#progress)
      this.#send({ type: 'heartbeat', to, commit: Math.min(pr.match, this.#log.committed), ctx });
  }

  #startRead(ctx: number): void {
    const seq = this.#reads.add(ctx, this.#log.committed, this.id);
    this.#readStates.push(...this.#reads.release((acks) => hasQuorum(this.voters, (v) => acks.has(v))));
    if (this.#reads.size > 0) this.#broadcastHeartbeat(seq);
  }

  // ---- outputs ----

  #send(m: DistributiveOmit<ConsensusMessage, 'from' | 'term'> & { term?: number }): void {
    this.#messages.push({ ...m, from: this.id, term: m.term ?? this.#term } as ConsensusMessage);
  }

  #hardState(): HardState {
    return { term: this.#term, vote: this.#vote, commit: this.#log.committed };
  }

  #hardChanged(): boolean {
    const p = this.#persisted;
    return p.term !== this.#term || p.vote !== this.#vote || p.commit !== this.#log.committed;
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
