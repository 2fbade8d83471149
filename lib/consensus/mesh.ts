/**
 * Raft over a node's messaging: `MeshConsensus` runs a RaftCore with a key/value state
 * machine on any messenger that can send, request and respond by topic — a `MeshNode`
 * built with `messaging()` is one. Raft messages travel as CBOR on one topic (checked by
 * `parseMessage`, and their `from` must be the authenticated sender); `propose` and `read`
 * at a node that is not the leader are forwarded to the leader it knows of.
 */
import { type Deadline, DeadlineQueue } from '../time/deadline-queue.ts';
import type { Env, TimerId } from '../time/types.ts';
import { decodeCbor, encodeCbor } from '../wire/cbor.ts';
import { WireError } from '../wire/errors.ts';
import { AutoVoters } from './auto-voters.ts';
import { quorum } from './config.ts';
import { ConsensusError, type ConsensusErrorCode } from './errors.ts';
import { decodeKvCommand, encodeKvCommand, type KvCommand, type KvResult, KvStateMachine } from './kv.ts';
import type { ConsensusMessage } from './messages.ts';
import {
  type ConsensusStatus,
  leaderMayShip,
  mustPersistFirst,
  RaftCore,
  type RaftOptions,
  type Ready,
} from './raft.ts';
import { MemoryConsensusStorage, type WritableConsensusStorage } from './storage.ts';
import type { MemberView, ProbeResult } from './voters.ts';

/** What MeshConsensus needs of a node: a MeshNode with `messaging()` has it. */
export interface ConsensusMessenger {
  readonly nodeId: string;
  send(to: string, topic: string, data: Uint8Array): Promise<void>;
  request(to: string, topic: string, data: Uint8Array, timeoutMs?: number): Promise<Uint8Array>;
  respond(
    topic: string,
    responder: (data: Uint8Array, from: string) => Uint8Array | Promise<Uint8Array>,
  ): () => void;
  subscribe(topic: string, handler: (msg: { from: string; data: Uint8Array }) => void): () => void;
  /** The membership view (every member known, itself included): needed without a `voters` list. */
  members?(): readonly MemberView[];
  /** A frozen node (MeshNode.freeze) pauses Raft: no ticks, no messages, and a leader steps down. */
  readonly frozen?: boolean;
}

export interface MeshConsensusOptions {
  messenger: ConsensusMessenger;
  /** Timers and randomness (the node's Env). */
  env: Env;
  /**
   * The founding voters (node ids); ignored when `storage` already holds a log. Without it
   * the voters are chosen automatically from stable members (`voterCount`, `stableMs`; see
   * docs/CONSENSUS.md), which needs the messenger's `members()`.
   */
  voters?: readonly string[];
  /** Voters wanted when they are chosen automatically: 3 or 5. Default 3. */
  voterCount?: number;
  /**
   * Automatic voters: a member is a candidate after this long Active, and a voter is
   * replaced after this long neither Active nor heard from. Default 10,000.
   */
  stableMs?: number;
  /** Durable state; default a fresh MemoryConsensusStorage of `voters`. */
  storage?: WritableConsensusStorage;
  /** ms per tick. Default 100 (election timeout 1–2 s, heartbeats every 100 ms). */
  tickMs?: number;
  /** A proposal or read without an outcome after this long fails with `timeout`. Default 5,000. */
  timeoutMs?: number;
  /** Compact the log once this many entries were applied past the snapshot. Default 1,000. */
  compactEvery?: number;
  raft?: Partial<Omit<RaftOptions, 'id' | 'storage' | 'random'>>;
}

const RAFT = 'weftmesh/raft';
/**
 * Appends and snapshot chunks carry about this much (a mesh message carries MAX_APP_BYTES,
 * 48 KiB): larger ones were dropped by messaging, and a follower never caught up once the
 * state outgrew one message.
 */
const RAFT_PIECE_BYTES = 32 * 1024;
/** A command as stored (its JSON) must fit one append. */
export const MAX_COMMAND_BYTES = RAFT_PIECE_BYTES;
const PROPOSE = 'weftmesh/raft/propose';
const READ = 'weftmesh/raft/read';
const GROUP = 'weftmesh/raft/group';
/** Automatic voters: the rules run every this many ticks. */
const POLICY_TICKS = 5;
const LIMITS = { maxDepth: 8, maxItems: 1 << 16 };

/** A forwarded command, checked as the state machine would (hostile input). */
function commandIn(data: Uint8Array): KvCommand {
  const cmd = decodeKvCommand(new TextEncoder().encode(JSON.stringify(decodeCbor(data, LIMITS))));
  if (!cmd) throw new ConsensusError('invalid-argument', 'not a key/value command');
  return cmd;
}

function keyIn(data: Uint8Array): string {
  const key = decodeCbor(data, LIMITS);
  if (typeof key !== 'string') throw new ConsensusError('invalid-argument', 'not a key');
  return key;
}

type Answer = { ok: true; value: unknown } | { ok: false; code: ConsensusErrorCode; hint: string };

/** Codes a leader may refuse a forwarded call with. */
const REFUSALS: ReadonlySet<string> = new Set<ConsensusErrorCode>([
  'not-leader',
  'timeout',
  'superseded',
  'transferring',
  'overloaded',
  'config-change-pending',
  'storage-failed',
  'storage-lost',
  'invalid-argument',
]);

/** A forwarded call's answer as the peer sent it, or undefined for anything else. */
function readAnswer(reply: Uint8Array): Answer | undefined {
  let a: unknown;
  try {
    a = decodeCbor(reply, LIMITS);
  } catch {
    return undefined;
  }
  if (typeof a !== 'object' || a === null) return undefined;
  const m = a as Record<string, unknown>;
  if (m.ok === true) return { ok: true, value: m.value };
  if (m.ok === false && typeof m.code === 'string' && REFUSALS.has(m.code) && typeof m.hint === 'string')
    return { ok: false, code: m.code as ConsensusErrorCode, hint: m.hint };
  return undefined;
}

interface Waiter {
  resolve(v: unknown): void;
  reject(e: ConsensusError): void;
  deadline: Deadline;
}

export class MeshConsensus {
  readonly kv = new KvStateMachine();
  /** Raft messages dropped: undecodable, or claiming another sender. */
  dropped = 0;
  /** Raft messages a voter dropped because their sender is outside its voter set. */
  outsiders = 0;
  /** Senders outside the voter set that a quorum of it named as leader. */
  readonly #endorsed = new Set<string>();
  #endorsing = false;
  #endorsedAt = Number.NEGATIVE_INFINITY;
  readonly #m: ConsensusMessenger;
  readonly #env: Env;
  readonly #storage: WritableConsensusStorage;
  readonly #raftOptions: MeshConsensusOptions['raft'];
  #core: RaftCore;
  readonly #auto: AutoVoters | undefined;
  #ticks = 0;
  #paused = false;
  /** The leader a probe or a refusal named, for a node that hears none itself. */
  #hint: { id: string; at: number } | undefined;
  #closed = false;
  /** A durable storage is flushing the last ready record (its messages wait for it). */
  #flushing = false;
  #drainQueued = false;
  /** Set when the storage failed: the node no longer takes part. */
  #broken: ConsensusError | undefined;
  readonly #tickMs: number;
  readonly #timeoutMs: number;
  readonly #compactEvery: number;
  readonly #proposals = new Map<number, { term: number; w: Waiter }>();
  readonly #reads = new Map<number, { key: string; w: Waiter }>();
  #confirmed: { index: number; key: string; w: Waiter }[] = [];
  #applied: number;
  #ctx = 0;
  #tick: TimerId | undefined;
  /** Proposals' and reads' timeouts (all `timeoutMs`): one timer, not one per waiter. */
  readonly #deadlines: DeadlineQueue;
  readonly #off: (() => void)[] = [];

  constructor(opts: MeshConsensusOptions) {
    this.#m = opts.messenger;
    this.#env = opts.env;
    this.#storage = opts.storage ?? new MemoryConsensusStorage(opts.voters ?? []);
    this.#tickMs = opts.tickMs ?? 100;
    this.#timeoutMs = opts.timeoutMs ?? 5_000;
    this.#deadlines = new DeadlineQueue(opts.env, this.#timeoutMs);
    this.#compactEvery = opts.compactEvery ?? 1_000;
    this.kv.restore(this.#storage.snapshot().data);
    this.#applied = this.#storage.snapshot().index;
    this.#raftOptions = opts.raft;
    this.#core = this.#newCore();
    this.#auto = opts.voters === undefined ? this.#autoVoters(opts) : undefined;
  }

  #newCore(): RaftCore {
    return new RaftCore({
      // Every Raft message travels as one mesh message (at most MAX_APP_BYTES): appends and
      // snapshot chunks are cut to fit, and a command must fit in one (see propose()).
      maxAppendBytes: RAFT_PIECE_BYTES,
      snapshotChunkBytes: RAFT_PIECE_BYTES,
      ...this.#raftOptions,
      id: this.#m.nodeId,
      storage: this.#storage,
      random: this.#env.random,
    });
  }

  #autoVoters(opts: MeshConsensusOptions): AutoVoters {
    const m = this.#m;
    const members = m.members?.bind(m);
    if (!members)
      throw new ConsensusError('invalid-argument', 'automatic voters need a messenger with members()');
    const voterCount = opts.voterCount ?? 3;
    if (voterCount !== 3 && voterCount !== 5)
      throw new ConsensusError('invalid-argument', 'voterCount must be 3 or 5');
    return new AutoVoters(
      {
        self: m.nodeId,
        now: () => this.#env.clock.now(),
        members,
        probe: (id) => this.#probe(id),
        core: () => this.#core,
        storage: this.#storage,
        found: () => {
          this.#storage.bootstrap([m.nodeId]);
          this.#core = this.#newCore();
          this.#core.campaign();
          this.#drain();
        },
        changed: () => this.#drain(),
        idle: () => this.#closed || this.#frozen(),
      },
      { voterCount, stableMs: opts.stableMs ?? 10_000 },
    );
  }

  /** Asks `id` which group it knows of (it answers only if it runs consensus). */
  async #probe(id: string): Promise<ProbeResult> {
    let reply: Uint8Array;
    try {
      reply = await this.#m.request(id, GROUP, new Uint8Array(0), Math.min(this.#timeoutMs, 2_000));
    } catch (e) {
      return String((e as Error)?.message).includes('no responder') ? 'incapable' : 'unknown';
    }
    try {
      const a = decodeCbor(reply, LIMITS) as { voters?: unknown; leader?: unknown };
      const voters = a?.voters;
      if (
        Array.isArray(voters) &&
        voters.length <= 64 &&
        voters.every((v) => typeof v === 'string') &&
        typeof a.leader === 'string'
      )
        return { voters, leader: a.leader };
    } catch {}
    this.dropped++;
    return 'unknown';
  }

  #frozen(): boolean {
    return this.#m.frozen === true;
  }

  /**
   * A frozen node pauses Raft: on the first input after freezing, a leader (or candidate)
   * steps down, so it neither keeps answering as leader nor counts on a lease when it thaws.
   * True while frozen.
   */
  #checkFrozen(): boolean {
    if (!this.#frozen()) {
      this.#paused = false;
      return false;
    }
    if (!this.#paused) {
      this.#paused = true;
      this.#core.stepDown();
      this.#drain();
    }
    return true;
  }

  /** Subscribes to the consensus topics and starts ticking. */
  start(): void {
    this.#off.push(
      this.#m.subscribe(RAFT, (msg) => this.#received(msg.from, msg.data)),
      this.#m.respond(PROPOSE, (data) => this.#serve(() => this.propose(commandIn(data)))),
      this.#m.respond(READ, (data) => this.#serve(() => this.read(keyIn(data)))),
      this.#m.respond(GROUP, (_, from) => {
        this.#auto?.probedBy(from);
        return encodeCbor({ voters: this.#core.voters, leader: this.#core.leader });
      }),
    );
    const tick = () => {
      this.#tick = this.#env.scheduler.setTimer(this.#tickMs, tick);
      if (this.#checkFrozen()) return;
      this.#core.tick();
      this.#drain();
      if (this.#auto && ++this.#ticks % POLICY_TICKS === 0) this.#auto.run();
    };
    this.#tick = this.#env.scheduler.setTimer(this.#tickMs, tick);
  }

  close(): void {
    this.#closed = true;
    if (this.#tick !== undefined) this.#env.scheduler.cancelTimer(this.#tick);
    for (const off of this.#off.splice(0)) off();
  }

  status(): ConsensusStatus {
    return this.#core.status();
  }

  /** Applies a command once committed (forwarded to the leader from other nodes). */
  propose(cmd: KvCommand): Promise<KvResult> {
    if (this.#broken) return Promise.reject(this.#broken);
    const size = encodeKvCommand(cmd).length;
    if (size > MAX_COMMAND_BYTES)
      return Promise.reject(
        new ConsensusError(
          'invalid-argument',
          `a command of ${size} bytes (as stored: JSON) is over ${MAX_COMMAND_BYTES}: Raft messages travel as mesh messages`,
        ),
      );
    if (this.#checkFrozen()) return Promise.reject(frozenError());
    if (this.#core.role !== 'Leader') return this.#forward(PROPOSE, encodeCbor(cmd)) as Promise<KvResult>;
    return this.#wait((w) => {
      const at = this.#core.propose(encodeKvCommand(cmd));
      this.#proposals.set(at.index, { term: at.term, w });
      this.#drainSoon();
    }) as Promise<KvResult>;
  }

  /** A linearizable read (ReadIndex at the leader). */
  read(key: string): Promise<string | null> {
    if (this.#broken) return Promise.reject(this.#broken);
    if (this.#checkFrozen()) return Promise.reject(frozenError());
    if (this.#core.role !== 'Leader') return this.#forward(READ, encodeCbor(key)) as Promise<string | null>;
    return this.#wait((w) => {
      const ctx = ++this.#ctx;
      this.#core.readIndex(ctx);
      this.#reads.set(ctx, { key, w });
      this.#drain();
    }) as Promise<string | null>;
  }

  /**
   * Hands leadership to voter `to` (at the leader only: `not-leader` with a hint elsewhere;
   * `invalid-argument` for a node that is not a voter). Its log is brought up to date and it
   * is told to campaign at once; proposals meanwhile are refused with `transferring`, and the
   * transfer is abandoned after an election timeout. Watch `status().leader` for the outcome.
   * A leader about to go away (a tab being closed) spares the group an election timeout.
   */
  transferLeadership(to: string): void {
    if (this.#broken) throw this.#broken;
    if (this.#checkFrozen()) throw frozenError();
    this.#core.transferLeadership(to);
    this.#drain();
  }

  /**
   * Drains once the current task's other proposals are in: proposals made together (a
   * burst, or continuations of proposals applied together) travel in one append per follower.
   */
  #drainSoon(): void {
    if (this.#drainQueued) return;
    this.#drainQueued = true;
    queueMicrotask(() => {
      this.#drainQueued = false;
      this.#drain();
    });
  }

  #wait(start: (w: Waiter) => void): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const w: Waiter = {
        resolve,
        reject,
        deadline: this.#deadlines.add(() =>
          reject(new ConsensusError('timeout', 'no outcome in time: it may or may not have taken effect')),
        ),
      };
      try {
        start(w);
      } catch (e) {
        this.#deadlines.settle(w.deadline);
        reject(e);
      }
    });
  }

  async #forward(topic: string, body: Uint8Array): Promise<unknown> {
    const leader = this.#core.leader || (await this.#findLeader());
    if (leader === '' || leader === this.#m.nodeId)
      throw new ConsensusError('not-leader', 'no leader known yet: retry later');
    let reply: Uint8Array;
    try {
      reply = await this.#m.request(leader, topic, body, this.#timeoutMs);
    } catch (e) {
      this.#hint = undefined;
      throw new ConsensusError('timeout', `no answer from the leader ${leader}`, { cause: e });
    }
    const a = readAnswer(reply);
    if (!a)
      throw new ConsensusError('timeout', `an answer from ${leader} that is none: the outcome is unknown`);
    if (a.ok) return a.value;
    if (a.code === 'not-leader')
      this.#hint = a.hint === '' ? undefined : { id: a.hint, at: this.#env.clock.now() };
    throw new ConsensusError(
      a.code,
      `refused by ${leader}: ${a.code}`,
      a.hint === '' ? {} : { leaderHint: a.hint },
    );
  }

  /**
   * A node outside the voter set hears no leader: it asks up to 16 Active members (lowest
   * ids first) which leader they know, and keeps the first answer for `timeoutMs`.
   */
  async #findLeader(): Promise<string> {
    const now = this.#env.clock.now();
    if (this.#hint && now - this.#hint.at < this.#timeoutMs) return this.#hint.id;
    const members = this.#m.members?.() ?? [];
    const ids = members
      .filter((x) => x.state === 'Active' && x.nodeId !== this.#m.nodeId)
      .map((x) => x.nodeId)
      .sort()
      .slice(0, 16);
    const answers = await Promise.all(ids.map((id) => this.#probe(id)));
    for (const a of answers)
      if (typeof a === 'object' && a.leader !== '') {
        this.#hint = { id: a.leader, at: this.#env.clock.now() };
        return a.leader;
      }
    return '';
  }

  /** Answers a forwarded request (at most one hop: a non-leader refuses with its hint). */
  async #serve(run: () => Promise<unknown>): Promise<Uint8Array> {
    let a: Answer;
    try {
      if (this.#core.role !== 'Leader')
        throw new ConsensusError('not-leader', 'not the leader', { leaderHint: this.#core.leader });
      a = { ok: true, value: await run() };
    } catch (e) {
      if (e instanceof WireError) a = { ok: false, code: 'invalid-argument', hint: '' };
      else if (e instanceof ConsensusError) a = { ok: false, code: e.code, hint: e.leaderHint ?? '' };
      else throw e;
    }
    return encodeCbor(a);
  }

  #received(from: string, data: Uint8Array): void {
    if (this.#checkFrozen()) return;
    let m: unknown;
    try {
      m = decodeCbor(data, LIMITS);
    } catch {
      this.dropped++;
      return;
    }
    if (typeof m !== 'object' || m === null || (m as { from?: unknown }).from !== from) {
      this.dropped++;
      return;
    }
    if (this.#fromOutsider(from, (m as { type?: unknown }).type)) return;
    this.#auto?.heard(from);
    this.#core.step(m);
    this.#drain();
  }

  /**
   * A voter takes Raft messages only from its voter set: a member outside it (a removed
   * voter, or one forging a high term or a config entry naming itself) is dropped and
   * counted in `outsiders`. A node that is not a voter takes what comes (it is being
   * added). A leader's message from outside is accepted once a quorum of this node's voters
   * name its sender as their leader (this node lacks the entry that added it).
   */
  #fromOutsider(from: string, type: unknown): boolean {
    const voters = this.#core.voters;
    if (!voters.includes(this.#m.nodeId) || voters.includes(from) || this.#endorsed.has(from)) return false;
    this.outsiders++;
    if (type === 'append' || type === 'heartbeat' || type === 'snapshot') void this.#endorse(from);
    return true;
  }

  async #endorse(candidate: string): Promise<void> {
    const now = this.#env.clock.now();
    const every = this.#tickMs * (this.#raftOptions?.electionTicks ?? 10);
    if (this.#endorsing || now - this.#endorsedAt < every) return;
    this.#endorsing = true;
    this.#endorsedAt = now;
    const voters = this.#core.voters;
    const others = voters.filter((v) => v !== this.#m.nodeId);
    const answers = await Promise.all(others.map((v) => this.#probe(v)));
    this.#endorsing = false;
    const yes = answers.filter((a) => typeof a === 'object' && a.leader === candidate).length;
    if (yes < quorum(voters.length)) return;
    if (this.#endorsed.size >= 16) this.#endorsed.clear();
    this.#endorsed.add(candidate);
  }

  /**
   * The persistence contract: persist, then send, then apply (see raft.ts). A durable
   * storage's `flush()` is awaited before the record's messages go out — but for a leader's
   * appends, which go out at once (§10.2.1: its write runs in parallel with the followers'),
   * and for a record holding nothing that must be durable first (a new commit index rides
   * the next flush); inputs that arrive meanwhile wait in the core for the next record.
   */
  #drain(): void {
    if (this.#flushing || this.#broken) return;
    const core = this.#core;
    while (core.hasReady()) {
      const r = core.ready();
      const s = this.#storage;
      // Every earlier record was flushed before this one was taken: this is durable.
      const durable = s.hardState();
      try {
        if (r.snapshot) s.applySnapshot(r.snapshot);
        s.append(r.entries);
        if (r.hardState) s.setHardState(r.hardState);
      } catch (e) {
        this.#fail(e);
        return;
      }
      const flushed = mustPersistFirst(r, durable) ? s.flush?.() : undefined;
      if (flushed) {
        const early = new Set(leaderMayShip(r, durable));
        this.#send([...early]);
        const later = r.messages.filter((m) => !early.has(m));
        this.#flushing = true;
        flushed.then(
          () => {
            this.#flushing = false;
            this.#handle(core, r, later);
            this.#drain();
          },
          (e) => this.#fail(e),
        );
        return;
      }
      this.#handle(core, r, r.messages);
    }
  }

  #send(messages: readonly ConsensusMessage[]): void {
    if (this.#closed) return;
    for (const m of messages) this.#m.send(m.to, RAFT, encodeCbor(m)).catch(() => {});
  }

  /** Steps 2–4 of the contract, once `r` is durable (`messages`: those of `r` not sent yet). */
  #handle(core: RaftCore, r: Ready, messages: readonly ConsensusMessage[]): void {
    if (this.#closed) return;
    const s = this.#storage;
    this.#send(messages);
    if (r.snapshot) {
      this.kv.restore(r.snapshot.data);
      this.#applied = r.snapshot.index;
    }
    for (const e of r.committed) {
      const result = e.kind === 'command' ? this.kv.apply(e.data) : undefined;
      this.#applied = e.index;
      const p = this.#proposals.get(e.index);
      if (!p) continue;
      this.#proposals.delete(e.index);
      this.#deadlines.settle(p.w.deadline);
      if (p.term === e.term && result) p.w.resolve(result);
      else p.w.reject(new ConsensusError('superseded', `another leader's entry took index ${e.index}`));
    }
    for (const read of r.reads) {
      const q = this.#reads.get(read.ctx);
      this.#reads.delete(read.ctx);
      if (!q) continue;
      if (read.index === null) {
        this.#deadlines.settle(q.w.deadline);
        q.w.reject(new ConsensusError('not-leader', 'leadership was lost before the read was confirmed'));
      } else this.#confirmed.push({ index: read.index, key: q.key, w: q.w });
    }
    core.advance(r);
    this.#confirmed = this.#confirmed.filter((q) => {
      if (q.index > this.#applied) return true;
      this.#deadlines.settle(q.w.deadline);
      q.w.resolve(this.kv.get(q.key));
      return false;
    });
    if (this.#applied - s.snapshot().index >= this.#compactEvery)
      s.compact(this.#applied, core.votersAt(this.#applied), this.kv.snapshot());
  }

  /**
   * The storage failed: what this node promised may not be durable, so it stops taking part
   * (no ticks, no messages) and fails what waits with `storage-failed`; `close()` it.
   */
  #fail(e: unknown): void {
    this.#broken = new ConsensusError('storage-failed', `consensus storage: ${(e as Error)?.message}`, {
      cause: e,
    });
    this.#flushing = false;
    if (this.#tick !== undefined) this.#env.scheduler.cancelTimer(this.#tick);
    const waiting = [
      ...[...this.#proposals.values()].map((p) => p.w),
      ...[...this.#reads.values()].map((q) => q.w),
      ...this.#confirmed.map((q) => q.w),
    ];
    this.#proposals.clear();
    this.#reads.clear();
    this.#confirmed = [];
    for (const w of waiting) {
      this.#deadlines.settle(w.deadline);
      w.reject(this.#broken);
    }
  }
}

function frozenError(): ConsensusError {
  return new ConsensusError('not-leader', 'this node is frozen: its Raft is paused');
}
