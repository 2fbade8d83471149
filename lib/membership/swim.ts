/**
 * The membership core: a sans-IO state machine. Inputs are decoded messages whose claims
 * were already verified at the node boundary, link changes and timer firings (through the
 * injected Env); outputs are messages (through `send`) and events. No I/O, no wall-clock
 * reads except through Env, so a simulation seed reproduces a run exactly.
 */

import type { Signer } from '../identity/signer.ts';
import type { Env, TimerId } from '../time/types.ts';
import type { DeliveryClass } from '../transport/types.ts';
import { setBounded } from '../util/bounded-map.ts';
import { bytesKey, equalBytes, fromHex, toHex } from '../util/bytes.ts';
import { Outbox } from '../util/outbox.ts';
import type { Message } from '../wire/messages.ts';
import { LocalHealth } from './awareness.ts';
import { type Claim, claimState, signClaim } from './claims.ts';
import { type HeartbeatConfig, heartbeatConfig } from './config.ts';
import type { MembershipContext } from './context.ts';
import { Disseminator } from './disseminator.ts';
import { HeldAccusations } from './held-accusations.ts';
import { IdInterner } from './interner.ts';
import { MemberTable } from './member-table.ts';
import { emptyMembershipMetrics, type MembershipMetrics } from './metrics.ts';
import { NewcomerQuota } from './newcomer-quota.ts';
import { isReachable, type NodeState, StateCode, stateName, supersedes } from './node-state.ts';
import { Prober } from './prober.ts';
import { PushPull } from './push-pull.ts';
import { SuspicionTimer } from './suspicion.ts';
import { WaitingNewcomers } from './waiting-newcomers.ts';

export type MembershipEvent =
  /** A member (or this node) changed state. `previous` is null for a member seen for the first time. */
  | { type: 'state'; nodeId: string; previous: NodeState | null; state: NodeState; incarnation: number }
  /** An Unreachable or Left member was forgotten after the reap time. */
  | { type: 'reaped'; nodeId: string }
  /** This node suspected a member after a failed probe. */
  | { type: 'suspected'; nodeId: string; incarnation: number }
  /** This node refuted a claim about itself by raising its incarnation. */
  | { type: 'refuted'; incarnation: number; by: string }
  /** This node's incarnation changed (persist it: a restart must never reuse one). */
  | { type: 'incarnation'; incarnation: number }
  /** This node should raise its incarnation but is at the top of its range (2³²−1): it cannot refute any more. */
  | { type: 'incarnation-exhausted'; incarnation: number }
  /** Another process signs alive claims with this node's identity. */
  | { type: 'identity-conflict'; incarnation: number }
  /** This node answered a full-state exchange that `nodeId` started. */
  | { type: 'exchanged'; nodeId: string }
  /**
   * A linked member refuted a suspicion or declaration of it here: it went unheard a while
   * (frozen, its frames lost) and may have missed news, which its link-up would have told.
   */
  | { type: 'back'; nodeId: string; unheardMs: number }
  /** A member's new alive claim was accepted (incarnation, metadata or low-water mark changed). */
  | { type: 'alive'; nodeId: string; incarnation: number; lowWaterMark: number }
  /**
   * News (with `treeNews`): claims that changed this node's view, received from `from`
   * (none: made or adopted here), for the owner to spread along its broadcast tree;
   * `quiet`: not pushed, only kept among the recent news that a new link is told of; `late`:
   * they waited for the newcomer quota, and are announced rather than pushed.
   */
  | { type: 'news'; claims: Claim[]; from: string | undefined; quiet?: boolean; late?: boolean };

export interface MemberInfo {
  nodeId: string;
  publicKey: Uint8Array;
  state: NodeState;
  incarnation: number;
  meta: Readonly<Record<string, string>>;
  addrs: readonly string[];
  /** State entries of this member older than this wall time are void (0: none). */
  lowWaterMark: number;
  /** Monotonic ms of the last state change (Env clock). */
  changedAt: number;
}

export interface RecentlyReaped {
  nodeId: string;
  addrs: readonly string[];
  /** The incarnation it was declared down at. */
  incarnation: number;
  reapedAt: number;
}

export interface MembershipOptions {
  signer: Signer;
  env: Env;
  send(to: string, cls: DeliveryClass, msg: Message): void;
  event(e: MembershipEvent): void;
  heartbeat?: Partial<HeartbeatConfig>;
  /** First incarnation; must exceed any used before with this identity. */
  incarnation: number;
  meta?: Record<string, string>;
  addrs?: string[];
  /** This node's membership token (clusters with token admission). */
  token?: Uint8Array;
  /** Share one interner between simulated nodes (saves memory); default: private. */
  interner?: IdInterner;
  /**
   * Join news — an alive claim that introduces a member — goes to the owner as a `news`
   * event, to be pushed once along the broadcast tree, instead of being gossiped λ·log n
   * times. Every other claim that changes the view (refutations, accusations, goodbyes,
   * updates of known members, this node's own) goes along the tree too and is gossiped and
   * piggybacked as SWIM does: gossip retires a claim after λ·log n sends, and the seed sweep
   * found refutations that never reached a node that later took a stale accusation, and
   * accusations that never reached any neighbour of the accused (which would hand them
   * over). The tree reaches every node once. Default: everything gossiped.
   */
  treeNews?: boolean;
}

/** Where a member can be dialled: the addresses of its alive claim, at that claim's incarnation. */
export interface MemberAddress {
  nodeId: string;
  addrs: readonly string[];
  incarnation: number;
}

/** Re-issuing our claim because of an identity conflict is limited to once per this. */
const CONFLICT_BACKOFF_MS = 5_000;
/** Incarnations are 32-bit. */
const MAX_INCARNATION = 0xffffffff;
/**
 * How far an alive or leave claim may raise a member's incarnation: above the higher of the
 * one we hold and wall-clock seconds (where incarnations start, see MeshNode.start), by at
 * most this (2²⁴ s ≈ 194 days). Honest members raise theirs by one per refutation or
 * re-announcement, so they stay near wall-clock seconds; 2³² is far away (year 2106).
 */
const MAX_INCARNATION_LEAD = 2 ** 24;
/**
 * How often newcomers waiting for the quota are admitted (only while some wait): the quota
 * refills continuously, 20 a second by default, so about 20 go in each time, and their late
 * announcements (BroadcastTree.announceLate) go out in one frame per neighbour.
 */
const WAITING_ADMIT_MS = 1_000;
/**
 * Another member's Unreachable declaration ends our own suspicion once that has run this
 * share of its timeout. The declarer heard of the suspicion first (its timer started
 * earlier), so detection stays as fast as when declarations were taken at once; but no
 * member can skip Suspect here or cut it shorter than this.
 */
const DECLARATION_RIPE_FRACTION = 0.8;
/** Accusers a member refuted lately, and which of their repeats went on (kind, incarnation, signer). */
interface RefutedLately {
  accusers: ReadonlySet<string>;
  until: number;
  passed: Set<string>;
}
/** (neighbour, member) pairs remembered as answered with a stale accusation's correction; the oldest go first. */
const STALE_ANSWERS_KEPT = 1024;
/**
 * What a claim did here: changed the view, went on without changing it, nothing, or (a
 * newcomer over quota) waits until the quota admits it (#wait).
 */
type Outcome = 'changed' | 'passed' | 'ignored' | 'waiting';
/** This node refutes at most once per suspectTimeoutMs × this; later accusations wait for the interval's end. */
const REFUTE_INTERVAL_FRACTION = 0.2;
/** A member unvouched for ghostTimeoutMs is checked at most once per ghostTimeoutMs × this… */
const CHECK_EVERY_FRACTION = 1 / 6;
/** …and a check that brings no sign of it within ghostTimeoutMs × this ends in a suspicion. */
const CHECK_TIMEOUT_FRACTION = 1 / 4;
const NEIGHBOURS_DEBOUNCE_MS = 500;
/**
 * A member whose link closed gracefully is looked at again this long after (see #nextUnlinked):
 * time for it to have dialled another link and for the neighbours' link reports to tell.
 */
const UNLINKED_GRACE_MS = 3_000;
/** Graceful closes remembered for that look at once (oldest forgotten). */
const UNLINKED_LIMIT = 64;
/**
 * Exchanges, with different neighbours, that a node which had no link starts to catch up
 * (see Membership.linkUp): its first neighbour may have been cut off as long as it was (in a
 * mass join, stragglers link to each other first) and know no more.
 */
const CATCH_UP_EXCHANGES = 2;

/** What the core hands its owner, after the input that produced it (see lib/util/outbox.ts). */
export type MembershipOutput =
  | { type: 'message'; to: string; cls: DeliveryClass; msg: Message }
  | MembershipEvent;

/**
 * Inputs are the public methods and the core's timers; each runs to its end before any of
 * its outputs (messages through `send`, events through `event`) reach the owner, so an event
 * handler that calls back in (setMeta, leave) never finds the core mid-update.
 */
export class Membership {
  readonly config: HeartbeatConfig;
  readonly selfId: string;
  readonly metrics: MembershipMetrics = emptyMembershipMetrics();
  readonly #env: Env;
  readonly #table: MemberTable;
  readonly #selfIndex: number;
  readonly #health: LocalHealth;
  readonly #treeNews: boolean;
  readonly #out: Outbox<MembershipOutput>;
  readonly #signer: Signer;
  readonly #prober: Prober;
  readonly #dissem: Disseminator;
  readonly #pushPull: PushPull;
  readonly #links = new Set<string>();
  readonly #suspicions = new Map<number, SuspicionTimer>();
  readonly #down = new Set<number>();
  /** With the declaration or goodbye it was reaped on, for a peer that still passes it on (#zombie). */
  readonly #reaped = new Map<string, RecentlyReaped & { declaration: Claim | undefined }>();
  readonly #twinsSeen = new Set<string>();
  readonly #newcomers: NewcomerQuota;
  readonly #waiting = new WaitingNewcomers();
  #waitingTimer: TimerId | undefined;
  /** Accusers whose suspicion of a member it refuted lately, by member: their repeats carry no weight until `until`. */
  readonly #refuted = new Map<number, RefutedLately>();
  /** Accusations by members held Unreachable, weighed again if their signer refutes. */
  readonly #heldAccusations: HeldAccusations;
  /** By neighbour and member: the incarnation of the member we last answered a stale accusation with (see #answerStale). */
  readonly #staleAnswered = new Map<string, number>();
  /** By member: the incarnation at which it was last handed an accusation we ignored (see #handOver). */
  readonly #handedOver = new Map<number, number>();
  /** By member: the incarnation at which an accusation of it we ignored was last passed on (see #passOn). */
  readonly #passedOn = new Map<number, number>();
  #lastRefuteAt = Number.NEGATIVE_INFINITY;
  #refuteTimer: TimerId | undefined;
  /** The reachability check in progress (see memberToCheck). */
  #check: { nodeId: string; startedAt: number; timer: TimerId } | undefined;
  /**
   * Per member reaped here, for its latest reap (reapedAt): whether a dial is due because
   * another member still passed on its alive claim (see #nextRevisit), and whether a link to
   * it already started an exchange (see linkUp). Once each per reap.
   */
  readonly #revisits = new Map<string, { reapedAt: number; due: boolean; exchanged: boolean }>();
  /** Per member reaped here and accuser (keyed subject + signer): the reap (reapedAt) at which that accuser's accusation of it was passed on (see #passOnReaped). */
  readonly #passedOnReaped = new Map<string, number>();
  /**
   * By member: when a link to it last closed gracefully here, and the link set it had
   * reported over that link (see #nextUnlinked). Oldest first.
   */
  readonly #closedGently = new Map<string, { at: number; theirs: ReadonlySet<string> | undefined }>();
  /**
   * By member unknown here and peer (keyed subject + peer): the highest incarnation at which
   * that peer described it as declared down or gone, and when (see #declaredDown). Oldest first.
   */
  readonly #heardDown = new Map<string, { incarnation: number; at: number; declaration?: Claim }>();
  /** Members whose link closed unexpectedly while this node was stopped (frozen): checked as it starts again (#resumeLinks). */
  readonly #lostWhileStopped = new Set<string>();
  /** Members taken back from Suspect or Unreachable while not linked here, and when (see #askReturned). Oldest first. */
  readonly #returned = new Map<string, number>();
  #nextCheckAt = 0;
  #self: Claim;
  #meta: Record<string, string>;
  #addrs: string[];
  #token: Uint8Array | undefined;
  #lowWaterMark = 0;
  #running = false;
  #leaving = false;
  /** Exchanges this node still starts to catch up on news it missed while it had no link (see linkUp). */
  #catchUpLeft = 0;
  #lastConflictAt = Number.NEGATIVE_INFINITY;
  #reapTimer: TimerId | undefined;
  #neighboursTimer: TimerId | undefined;

  constructor(opts: MembershipOptions) {
    this.#out = new Outbox((o) => (o.type === 'message' ? opts.send(o.to, o.cls, o.msg) : opts.event(o)));
    this.#env = this.#out.wrap(opts.env);
    this.config = heartbeatConfig(opts.heartbeat);
    this.#treeNews = opts.treeNews ?? false;
    this.#signer = opts.signer;
    this.selfId = opts.signer.nodeId;
    this.#table = new MemberTable(opts.interner ?? new IdInterner());
    this.#selfIndex = this.#table.admit(this.selfId);
    const now = () => this.#env.clock.now();
    this.#heldAccusations = new HeldAccusations(now, this.config.suspectTimeoutMs * 2);
    this.#newcomers = new NewcomerQuota(
      this.config.newMembersPerMinute,
      this.config.newMembersPerLinkPerMinute,
      now,
    );
    this.#health = new LocalHealth(this.config.maxLocalHealth);
    this.#meta = { ...(opts.meta ?? {}) };
    this.#addrs = [...(opts.addrs ?? [])];
    this.#token = opts.token;
    this.#self = this.#sign('alive', opts.incarnation);
    this.#table.set(this.#selfIndex, StateCode.Joining, opts.incarnation, now(), this.#self);
    // The parts see what they need of the core, not the core.
    const ctx: MembershipContext = {
      env: this.#env,
      config: this.config,
      table: this.#table,
      selfId: this.selfId,
      selfIndex: this.#selfIndex,
      health: this.#health,
      metrics: this.metrics,
      send: (to, cls, msg) => this.#send(to, cls, msg),
      linked: () => this.#links,
      piggyback: (budget, peer) => this.#piggyback(budget, peer),
    };
    this.#prober = new Prober(ctx, {
      failed: (target) => this.#suspect(target),
      sign: (data) => this.#signer.sign(data),
    });
    this.#pushPull = new PushPull(ctx, {
      claimsOf: (i) => this.#claimsOf(i),
      replied: (from) => {
        this.#joinedIfJoining();
        if (this.#catchUpLeft === 0 || --this.#catchUpLeft === 0) return;
        const other = [...this.#links].find((p) => p !== from);
        if (other !== undefined) this.#catchUp(other);
      },
      // The member that welcomed us learns our claim straight away (it spreads it along the
      // tree), not at the next gossip tick or through its want in our digest exchange.
      welcomed: (from) => {
        if (this.#joinedIfJoining()) this.#send(from, 'stream', { type: 'gossip', g: [this.#self.wire] });
      },
      answered: (from) => this.#event({ type: 'exchanged', nodeId: from }),
    });
    this.#dissem = new Disseminator(ctx, this.#pushPull);
  }

  // ---- lifecycle ----

  start(): void {
    this.#out.run(() => {
      if (this.#running) return;
      this.#running = true;
      this.#prober.start();
      this.#dissem.start();
      const every = Math.max(1_000, Math.min(this.config.reapAfterMs / 4, 10_000));
      const reap = () => {
        this.#reapTimer = this.#env.scheduler.setTimer(every, () => {
          this.#reap();
          reap();
        });
      };
      reap();
      this.#armWaiting();
      // Suspicions held when the node stopped (a freeze) start over: only our timer ends them.
      for (const i of this.#table.known()) {
        const accusation = this.#table.accusation(i);
        if (this.#table.state(i) === StateCode.Suspect && accusation) this.#startSuspicion(i, accusation);
      }
      this.#resumeLinks();
    });
  }

  /**
   * Links held when the node starts again (an unfreeze; a first start has none): whatever
   * was sent over them meanwhile was dropped, the accusations handed over at link-up
   * (#tellAccused) included, both ways. Soak seed 9,774: node 0, frozen, took links from
   * three members it had declared and that had declared it; each end told the other while
   * 0 dropped and sent nothing, so no one refuted, each end reaped the other over a live
   * link and refused the other's alive claim as a zombie's for reapAfterMs. So it catches up
   * as a node that was cut off does (its own accusation comes back in the exchange, and it
   * refutes) and tells each linked member it holds down, which refutes in turn. A link that
   * closed unexpectedly meanwhile is checked now, as it would have been then (linkDown).
   */
  #resumeLinks(): void {
    for (const id of this.#lostWhileStopped) {
      const i = this.#table.ids.lookup(id);
      if (i !== undefined && !this.#links.has(id) && this.#table.state(i) === StateCode.Active)
        this.#prober.checkLost(id);
    }
    this.#lostWhileStopped.clear();
    const first = this.#links.values().next();
    if (first.done) return;
    for (const id of this.#links) this.#tellAccused(id);
    this.#catchUpLeft = CATCH_UP_EXCHANGES;
    this.#catchUp(first.value);
  }

  stop(): void {
    this.#out.run(() => {
      this.#running = false;
      this.#prober.stop();
      this.#dissem.stop();
      this.#pushPull.abandon();
      for (const s of this.#suspicions.values()) s.cancel();
      this.#suspicions.clear();
      const timers = [
        this.#reapTimer,
        this.#neighboursTimer,
        this.#refuteTimer,
        this.#check?.timer,
        this.#waitingTimer,
      ];
      for (const t of timers) if (t !== undefined) this.#env.scheduler.cancelTimer(t);
      this.#closedGently.clear();
      this.#reapTimer =
        this.#neighboursTimer =
        this.#refuteTimer =
        this.#check =
        this.#waitingTimer =
          undefined;
    });
  }

  /** No seeds to join through: this node starts the cluster and is Active at once. */
  bootstrap(): void {
    this.#out.run(() => {
      this.#setSelfState(StateCode.Active);
    });
  }

  /** Starts a push-pull exchange over an established link (joining through a seed, or healing). */
  exchangeWith(nodeId: string): void {
    this.#out.run(() => {
      this.#pushPull.start(nodeId);
    });
  }

  /**
   * A peer this node knows nothing of linked to it (a newcomer): an Active node sends it the
   * whole membership at once (PushPull.welcome), so it is Active a round trip sooner than by
   * the answer to its digest. A member back from Unreachable or Left knows most of it: its
   * digest exchange sends only the difference.
   */
  welcome(nodeId: string): void {
    this.#out.run(() => {
      if (!this.#running || this.#leaving || this.#table.state(this.#selfIndex) !== StateCode.Active) return;
      if (this.#unknown(nodeId)) this.#pushPull.welcome(nodeId);
    });
  }

  /** Signs and spreads a goodbye; probing stops, gossip continues until the node closes. */
  leave(): void {
    this.#out.run(() => {
      if (this.#leaving) return;
      this.#leaving = true;
      this.#prober.stop();
      const claim = this.#sign('leave', this.incarnation);
      this.#setSelf(claim, StateCode.Left);
      // A closing browser tab may have only this turn of the event loop: tell every neighbour
      // now, reliably; gossip spreads it further (and repeats it) while the node drains.
      for (const peer of this.#links) this.#send(peer, 'stream', { type: 'gossip', g: [claim.wire] });
    });
  }

  /** Re-announces this node with new metadata (a higher incarnation). */
  setMeta(meta: Record<string, string>): void {
    this.#out.run(() => {
      this.#meta = { ...meta };
      this.#reissue(this.incarnation + 1);
    });
  }

  /** Declares this node's state entries older than `wall` (ms) void, so replicas can drop them. */
  setLowWaterMark(wall: number): void {
    this.#out.run(() => {
      if (wall <= this.#lowWaterMark) return;
      this.#lowWaterMark = wall;
      this.#reissue(this.incarnation + 1);
    });
  }

  /** Re-announces this node with new transport addresses. */
  setAddrs(addrs: string[]): void {
    this.#out.run(() => {
      this.#addrs = [...addrs];
      this.#reissue(this.incarnation + 1);
    });
  }

  /** Re-announces this node with a new membership token (a renewal), at a higher incarnation. */
  setToken(token: Uint8Array): void {
    this.#out.run(() => {
      this.#token = token;
      this.#reissue(this.incarnation + 1);
    });
  }

  /**
   * Forgets a member at once because its admission ended (an expired membership token): it
   * turns Unreachable, then is reaped with no delay and is not remembered for healing. The
   * node boundary refuses its claims from then on, so it stays out unless admitted anew.
   */
  expel(nodeId: string): boolean {
    return this.#out.run(() => {
      const i = this.#table.ids.lookup(nodeId);
      if (i === undefined || i === this.#selfIndex) return false;
      const previous = this.#table.state(i);
      if (previous === StateCode.Unknown) return false;
      this.#suspicions.get(i)?.cancel();
      this.#suspicions.delete(i);
      if (this.#check?.nodeId === nodeId) {
        this.#env.scheduler.cancelTimer(this.#check.timer);
        this.#check = undefined;
      }
      if (previous !== StateCode.Unreachable && previous !== StateCode.Left) {
        this.#table.setState(i, StateCode.Unreachable, this.#env.clock.now());
        this.#emitState(i, previous);
      }
      this.#forget(i, nodeId);
      this.#reaped.delete(nodeId);
      this.#event({ type: 'reaped', nodeId });
      return true;
    });
  }

  get incarnation(): number {
    return this.#self.incarnation;
  }

  get selfState(): NodeState {
    return stateName(this.#table.state(this.#selfIndex));
  }

  /**
   * Lifeguard's buddy system: a message to a member we suspect always carries the
   * accusation, so a member that was paused past the accusation's retransmissions still
   * learns of it and refutes before the suspicion times out.
   */
  #piggyback(budget: number, peer: string): Claim[] {
    const i = this.#table.ids.lookup(peer);
    // Lifeguard's buddy system, and for a member held Unreachable too: one that comes back
    // (unfrozen, or from a partition) learns from the ack to its first ping why it is out, so
    // it refutes (soak seed 3935: the declaration handed to it at link-up came while it was
    // frozen, and it never refuted).
    const state = i === undefined ? StateCode.Unknown : this.#table.state(i);
    const acc =
      state === StateCode.Suspect || state === StateCode.Unreachable ? this.#table.accusation(i!) : undefined;
    if (!acc || acc.size > budget) return this.#dissem.piggyback(budget, peer);
    return [acc, ...this.#dissem.piggyback(budget - acc.size, peer).filter((c) => c !== acc)];
  }

  #send(to: string, cls: DeliveryClass, msg: Message): void {
    this.#out.push({ type: 'message', to, cls, msg });
  }

  #event(e: MembershipEvent): void {
    this.#out.push(e);
  }

  // ---- inputs ----

  /**
   * A link to `nodeId` is up. A member that had no link (it joined over a transient one, or
   * was cut off) missed the news that went along links meanwhile: whichever end dialled, it
   * exchanges over its first link, and over the next (or another, if that link goes) until
   * CATCH_UP_EXCHANGES exchanges it started have completed. Without this, a mass join's
   * stragglers caught up only at their follow-up exchange, 3-6 s later. A member that comes
   * back from across a partition this node did not spend alone is asked as well
   * (#askReturned). `exchanging`: the owner starts an exchange over this link itself
   * (exchangeWith), which counts.
   */
  linkUp(nodeId: string, exchanging = false): void {
    this.#out.run(() => {
      if (nodeId === this.selfId || this.#links.has(nodeId)) return;
      this.vouch(nodeId);
      if (this.#links.size === 0 && this.#table.state(this.#selfIndex) !== StateCode.Joining)
        this.#catchUpLeft = CATCH_UP_EXCHANGES;
      this.#links.add(nodeId);
      this.#prober.linkUp(nodeId);
      this.#neighboursChanged();
      // A member reaped here, now linked: its own alive claim brings it back (see #zombie).
      if (!exchanging && this.#exchangeWithReaped(nodeId)) this.#pushPull.start(nodeId, false);
      else if (!exchanging && !this.#askReturned(nodeId) && this.#catchUpLeft > 0) this.#catchUp(nodeId);
      this.#tellAccused(nodeId);
    });
  }

  /**
   * The link to `nodeId` is gone. `unexpected`: neither side closed it on purpose, so the
   * member may have crashed (its connections can close at once, before any probe fails),
   * and with its links gone nobody would probe it again: check it through witnesses.
   */
  linkDown(nodeId: string, unexpected = false): void {
    this.#out.run(() => {
      if (!this.#links.delete(nodeId)) return;
      this.vouch(nodeId);
      if (!unexpected && this.#running && !this.#leaving) {
        const at = this.#env.clock.now();
        setBounded(
          this.#closedGently,
          nodeId,
          { at, theirs: this.#prober.neighbours.get(nodeId) },
          UNLINKED_LIMIT,
        );
      }
      this.#prober.linkDown(nodeId);
      this.#pushPull.forget(nodeId);
      this.#neighboursChanged();
      const other = this.#links.values().next();
      if (this.#catchUpLeft > 0 && !other.done) this.#catchUp(other.value);
      if (unexpected && !this.#running && this.#lostWhileStopped.size < UNLINKED_LIMIT)
        this.#lostWhileStopped.add(nodeId);
      if (!unexpected || !this.#running || this.#leaving) return;
      const i = this.#table.ids.lookup(nodeId);
      // Only a member still believed Active needs a check (a Suspect one is being decided).
      if (i !== undefined && this.#table.state(i) === StateCode.Active) this.#prober.checkLost(nodeId);
    });
  }

  /**
   * A dial to member `nodeId` failed where it was last heard (a tab that closed before this
   * node linked to it): if it is Active and not linked here, witnesses linked to it are asked
   * to ping it, and it is suspected if none answers within a probe period (as after a lost
   * link). Without this a member nobody alive links to waits for the ghost check.
   */
  checkUnlinked(nodeId: string): void {
    this.#out.run(() => this.#checkUnlinked(nodeId));
  }

  /**
   * Input: a dial to `nodeId` failed. If memberToCheck asked for it, the member is checked
   * as after a lost link (checkUnlinked) rather than at the end of the check's timeout.
   */
  checkDialFailed(nodeId: string): void {
    this.#out.run(() => {
      if (this.#check?.nodeId === nodeId) this.#checkUnlinked(nodeId);
    });
  }

  #checkUnlinked(nodeId: string): void {
    if (!this.#running || this.#leaving || this.#links.has(nodeId)) return;
    const i = this.#table.ids.lookup(nodeId);
    if (i !== undefined && this.#table.state(i) === StateCode.Active) this.#prober.checkLost(nodeId);
  }

  /** What a witness-relayed ack (seq, target, nonce) would do to this node's probes (see Prober.ackFor). */
  ackFor(seq: number, target: string, nonce: Uint8Array): 'wait' | 'settled' | 'unknown' {
    return this.#prober.ackFor(seq, target, nonce);
  }

  /**
   * Dispatches a message whose claims (if any) were verified and applied via applyClaims.
   * `link` is the connection it came over (any object: a replacing link is a new one), for
   * limits per link; without it, limits are per peer.
   */
  onMessage(from: string, cls: DeliveryClass, msg: Message, link?: object): void {
    this.#out.run(() => {
      this.#heardFrom(from);
      switch (msg.type) {
        case 'ping':
          this.#prober.onPing(from, msg, cls);
          break;
        case 'ack':
          this.#prober.onAck(from, msg);
          break;
        case 'ping-req':
          this.#prober.onPingReq(from, msg);
          break;
        case 'nack':
          this.#prober.onNack(from, msg.seq);
          break;
        case 'digest':
          this.#pushPull.onDigest(from, msg, link ?? from);
          break;
        case 'claims':
          this.#pushPull.onClaims(from, msg);
          break;
        case 'want':
          this.#pushPull.onWant(from, msg);
          break;
        case 'neighbours':
          this.#prober.neighbours.set(from, new Set(msg.ids.map(toHex)));
          break;
        default:
          break;
      }
    });
  }

  /**
   * Merges verified claims (received from `from`, or made here); what changed this node's
   * view is passed on by gossip (and along the tree as well, join news only along it, with
   * `treeNews`) — but not back
   * to `from`, and not at all when `relay` is false (news every member already has, such as
   * a converged cluster's view adopted at start). An accusation that changes nothing here
   * but goes on (see #applyAccusation) goes the same ways. Returns how many were news here:
   * changed the view, or went on (the rest were copies).
   */
  applyClaims(claims: readonly Claim[], from?: string, relay = true): number {
    return this.#out.run(() => {
      if (from !== undefined) this.#heardFrom(from);
      return this.#merge(claims, from, relay, true);
    });
  }

  /** applyClaims' rules; `charge`: a newcomer takes from the quota (false: it waited for it, and was charged). */
  #merge(claims: readonly Claim[], from: string | undefined, relay: boolean, charge: boolean): number {
    // Members first, then accusations: an accusation counts only if its signer is a member.
    const own = (c: Claim) => c.kind === 'alive' || c.kind === 'leave';
    const ordered = claims.every(own) ? claims : [...claims.filter(own), ...claims.filter((c) => !own(c))];
    const news: Claim[] = [];
    // Built once per batch, and only for the alive claim of a member unknown here that a
    // peer describes (or that this node reaped).
    let down: Map<string, number> | undefined;
    let applied = 0;
    let passed = 0;
    const waiting: Claim[] = [];
    let admitted: string[] | undefined;
    for (const c of ordered) {
      const introduces = c.kind === 'alive' && this.#unknown(c.subject);
      if (introduces && (from !== undefined || this.#reaped.has(c.subject))) {
        down ??= this.#declaredDownIn(claims);
        if ((down.get(c.subject) ?? -1) >= c.incarnation || this.#declaredDown(c, from)) {
          this.metrics.claimsIgnored++;
          continue;
        }
      }
      const outcome = this.#apply(c, from, charge);
      if (outcome === 'passed') {
        passed++;
        this.metrics.claimsIgnored++;
        if (relay && this.#treeNews) news.push(c);
      } else if (outcome === 'waiting') {
        waiting.push(c);
      } else if (outcome === 'changed') {
        applied++;
        this.metrics.claimsApplied++;
        if (introduces) {
          admitted ??= [];
          admitted.push(c.subject);
        }
        if (!relay) continue;
        if (this.#treeNews) news.push(c);
        if (!introduces || !this.#treeNews) this.#dissem.queue.push(c, from);
      } else {
        this.metrics.claimsIgnored++;
        if (from !== undefined) this.#dissem.queue.markKnown(c, from);
      }
    }
    if (news.length > 0) this.#event({ type: 'news', claims: news, from, ...(charge ? {} : { late: true }) });
    // Waiting counts as had: the tree asks nobody for it again, and its copies are duplicates.
    if (waiting.length > 0 && this.#treeNews)
      this.#event({ type: 'news', claims: waiting, from, quiet: true });
    for (const id of admitted ?? []) this.#replayDeclarations(id, relay);
    return applied + passed + waiting.length;
  }

  /**
   * A member just admitted here that peers had declared down while it was unknown here
   * (#noteDown): their declarations are weighed now, as if they arrived after it, and the
   * memory of them goes. Soak seed 26,218: node 3, restarted, heard a declaration of node 5
   * made in a partition, then took 5 from 5's own link; the two declarers, linked to 3,
   * held 5 Unreachable and did not say so again, 3 held it Active and never told it, and 5
   * refuted only after a third node, learning the declaration at a periodic exchange, had
   * declared it in turn. Weighed as any accusation: one that counts goes to the accused if
   * it is linked (#tellAccused, #handOver); one the member outgrew gets the peer that passed
   * it our newer claim (#answerStale).
   */
  #replayDeclarations(subject: string, relay: boolean): void {
    const now = this.#env.clock.now();
    const byPeer = new Map<string, Claim>();
    for (const [key, heard] of this.#heardDown) {
      if (!key.startsWith(subject)) continue;
      this.#heardDown.delete(key);
      // Past the memory's window (#declaredDown) it says nothing now.
      if (heard.declaration && now - heard.at < this.config.reapAfterMs)
        byPeer.set(key.slice(subject.length), heard.declaration);
    }
    for (const [peer, declaration] of byPeer) this.#merge([declaration], peer, relay, false);
  }

  /**
   * The members `claims` declare down (Unreachable or Left), with the highest such
   * incarnation. A peer that has not reaped a member yet describes it by its alive claim and
   * its declaration; taking the alive claim back after the zombie window would bring back,
   * as Suspect, a member every node had already judged down, and the nodes that reap it
   * later would hand it round again (seed sweep: a dead member Suspect everywhere for a
   * minute after the faults ended). Nor a member never known here: a restarted node forgot
   * which members it reaped, and took a dead one back from a peer that still described it,
   * starting a new reap clock and holding its state entries a minute longer than every
   * other replica (soak seed 2365).
   */
  #declaredDownIn(claims: readonly Claim[]): Map<string, number> {
    const down = new Map<string, number>();
    for (const c of claims)
      if (c.kind === 'unreachable' || c.kind === 'leave')
        down.set(c.subject, Math.max(c.incarnation, down.get(c.subject) ?? -1));
    return down;
  }

  /**
   * Whether peer `from` described a member unknown here as declared down, at `c`'s
   * incarnation or above, in an earlier batch within reapAfterMs (#declaredDownIn looks in
   * this one). A peer's claims of a member can come apart (pages, news resent one by one):
   * soak seed 11,116, a node that restarted took a member dead for 40 s back from its alive
   * claim alone, the declaration having come from the same peer a moment before and been
   * dropped (the member unknown then), and held it and its state entries until its own ghost
   * check, two minutes on. Per peer, as the batch rule is: remembered for any peer, one
   * hostile member's declarations would keep a newcomer it raced out of its neighbours' views
   * for reapAfterMs.
   */
  #declaredDown(c: Claim, from: string | undefined): boolean {
    if (from === undefined) return false;
    const heard = this.#heardDown.get(c.subject + from);
    if (heard === undefined || heard.incarnation < c.incarnation) return false;
    return this.#env.clock.now() - heard.at < this.config.reapAfterMs;
  }

  /** A member unknown here that peer `from` described as declared down or gone: remembered for #declaredDown. */
  #noteDown(c: Claim, from: string | undefined): void {
    if (from === undefined) return;
    const key = c.subject + from;
    const held = this.#heardDown.get(key);
    if (held !== undefined && held.incarnation > c.incarnation) return;
    const declaration = c.kind === 'unreachable' ? c : undefined;
    setBounded(
      this.#heardDown,
      key,
      { incarnation: c.incarnation, at: this.#env.clock.now(), ...(declaration ? { declaration } : {}) },
      this.config.recentlyReapedLimit,
    );
  }

  /** Whether `nodeId` is no member (never seen, or forgotten): its alive claim would introduce it. */
  #unknown(nodeId: string): boolean {
    if (nodeId === this.selfId) return false;
    const i = this.#table.ids.lookup(nodeId);
    return i === undefined || this.#table.state(i) === StateCode.Unknown;
  }

  // ---- queries ----

  members(): MemberInfo[] {
    const out: MemberInfo[] = [];
    for (const i of this.#table.known()) out.push(this.#info(i));
    return out;
  }

  member(nodeId: string): MemberInfo | undefined {
    const i = this.#table.ids.lookup(nodeId);
    return i === undefined || this.#table.state(i) === StateCode.Unknown ? undefined : this.#info(i);
  }

  /** The incarnation held for a member (no object built: the boundary asks for every claim). */
  incarnationOf(nodeId: string): number | undefined {
    const i = this.#table.ids.lookup(nodeId);
    return i === undefined || this.#table.state(i) === StateCode.Unknown
      ? undefined
      : this.#table.incarnation(i);
  }

  stateOf(nodeId: string): NodeState | undefined {
    const i = this.#table.ids.lookup(nodeId);
    const s = i === undefined ? StateCode.Unknown : this.#table.state(i);
    return s === StateCode.Unknown ? undefined : stateName(s);
  }

  /** Whether `nodeId` is a member held Active or Suspect (this node included). */
  isReachable(nodeId: string): boolean {
    const i = this.#table.ids.lookup(nodeId);
    return i !== undefined && isReachable(this.#table.state(i));
  }

  /** How many members this node holds, itself included (Unreachable and Left ones until reaped). */
  get size(): number {
    return this.#table.size;
  }

  /** Node ids the interner holds (released when members are reaped: memory stays bounded). */
  get internedIds(): number {
    return this.#table.ids.size;
  }

  /** Where to dial the other members held in `state` (as their alive claims say). */
  addressesIn(state: NodeState): MemberAddress[] {
    const out: MemberAddress[] = [];
    for (const i of this.#table.known()) {
      if (i === this.#selfIndex || stateName(this.#table.state(i)) !== state) continue;
      const alive = this.#table.aliveClaim(i);
      if (alive) out.push({ nodeId: alive.subject, addrs: alive.addrs, incarnation: alive.incarnation });
    }
    return out;
  }

  /** Where to dial `nodeId`, if it is another member held in `state`. */
  addressOf(nodeId: string, state: NodeState): MemberAddress | undefined {
    // The id may be interned without being a member here (the interner can be shared).
    const i = this.#table.ids.lookup(nodeId);
    if (i === undefined || i === this.#selfIndex) return undefined;
    const s = this.#table.state(i);
    if (s === StateCode.Unknown || stateName(s) !== state) return undefined;
    const alive = this.#table.aliveClaim(i);
    return alive && { nodeId: alive.subject, addrs: alive.addrs, incarnation: alive.incarnation };
  }

  /** Every claim this node holds, its own first: what a full-state exchange would carry. */
  claims(): Claim[] {
    const out = this.#claimsOf(this.#selfIndex);
    for (const i of this.#table.known()) if (i !== this.#selfIndex) out.push(...this.#claimsOf(i));
    return out;
  }

  recentlyReaped(): RecentlyReaped[] {
    return [...this.#reaped.values()].map(({ nodeId, addrs, incarnation, reapedAt }) => ({
      nodeId,
      addrs,
      incarnation,
      reapedAt,
    }));
  }

  /** The link set a neighbour reported (undefined: not told yet). */
  neighboursOf(nodeId: string): ReadonlySet<string> | undefined {
    return this.#prober.neighbours.get(nodeId);
  }

  /**
   * Input: a sign that `nodeId` is reachable — a link handshake with it completed, whether
   * or not the link was kept. (Links, neighbours' link reports and link-ups count without it.)
   */
  vouch(nodeId: string): void {
    this.#out.run(() => {
      const i = this.#table.ids.lookup(nodeId);
      if (i === undefined || this.#table.state(i) === StateCode.Unknown) return;
      this.#table.vouch(i, this.#env.clock.now());
      if (this.#check?.nodeId !== nodeId) return;
      this.#env.scheduler.cancelTimer(this.#check.timer);
      this.#check = undefined;
    });
  }

  /**
   * Query for the node's link maintenance, to be called every second or so: a member to dial
   * now, or undefined. Members can be reached only over links, and only linked members are
   * probed, so a member nobody links to (an alive claim of a key that no process serves — a
   * ghost) would stay Active for ever. An Active member with no sign of being reachable for
   * `ghostTimeoutMs` — not linked, in no neighbour's link report, no handshake (`vouch`) —
   * is checked: the node dials it, and if that brings no sign within ghostTimeoutMs / 4 the
   * member is suspected through the normal path (so a live one refutes). At most one check
   * at a time, one per ghostTimeoutMs / 6, at random among the candidates: a fixed cost per
   * node, whatever the cluster size, and one an attacker cannot steer. A member reaped here
   * that others still pass on as alive is dialled first, once per reap (#nextRevisit); then a
   * member whose link here closed gracefully and that may have no link left (#nextUnlinked),
   * once per close.
   */
  memberToCheck(): MemberAddress | undefined {
    return this.#out.run(() => {
      const now = this.#env.clock.now();
      if (!this.#running || this.#leaving || this.#check !== undefined) return undefined;
      if (this.#table.state(this.#selfIndex) !== StateCode.Active) return undefined;
      const ghost = this.config.ghostTimeoutMs;
      const revisit = this.#nextRevisit(ghost * CHECK_TIMEOUT_FRACTION);
      if (revisit) return revisit;
      const unlinked = this.#nextUnlinked(now);
      if (unlinked !== undefined) {
        this.metrics.unlinkedChecked++;
        return this.#checkMember(unlinked, now);
      }
      if (now < this.#nextCheckAt) return undefined;
      this.#nextCheckAt = now + ghost * CHECK_EVERY_FRACTION;
      const reported = [...this.#prober.neighbours.values()];
      let pick: number | undefined;
      let seen = 0;
      for (const i of this.#table.known()) {
        if (i === this.#selfIndex || this.#table.state(i) !== StateCode.Active) continue;
        const id = this.#table.ids.idOf(i);
        if (this.#links.has(id) || reported.some((s) => s.has(id))) this.#table.vouch(i, now);
        else if (now - this.#table.vouchedAt(i) >= ghost && this.#env.random.int(++seen) === 0) pick = i;
      }
      if (pick === undefined) return undefined;
      this.metrics.membersChecked++;
      return this.#checkMember(pick, now);
    });
  }

  /** Starts the check of member `i` (see memberToCheck): the address to dial it at. */
  #checkMember(i: number, now: number): MemberAddress {
    const alive = this.#table.aliveClaim(i)!;
    const check = {
      nodeId: alive.subject,
      startedAt: now,
      timer: this.#env.scheduler.setTimer(this.config.ghostTimeoutMs * CHECK_TIMEOUT_FRACTION, () => {
        this.#check = undefined;
        const i = this.#table.ids.lookup(check.nodeId);
        if (i === undefined || this.#table.state(i) !== StateCode.Active) return;
        if (this.#table.vouchedAt(i) >= check.startedAt) return;
        this.metrics.ghostsSuspected++;
        this.#suspect(check.nodeId);
      }),
    };
    this.#check = check;
    return { nodeId: alive.subject, addrs: alive.addrs, incarnation: alive.incarnation };
  }

  /**
   * A member whose link here closed gracefully UNLINKED_GRACE_MS ago and that may have been
   * left with no link at all (#fewLinksLeft), not linked here again, no handshake since. A
   * graceful close is no sign of failure, so nothing probes such a member: had it crashed
   * before dialling another link (found by the seed sweep, seed 8: a node crashed 117 ms
   * after churn closed both its links, each end unaware of the other's close), only the ghost
   * check would find it, a minute or more later. If it is alive, the dial gives it a link.
   */
  #nextUnlinked(now: number): number | undefined {
    for (const [id, closed] of this.#closedGently) {
      if (now - closed.at < UNLINKED_GRACE_MS) return undefined;
      this.#closedGently.delete(id);
      const i = this.#table.ids.lookup(id);
      if (i === undefined || this.#table.state(i) !== StateCode.Active || this.#links.has(id)) continue;
      if (this.#table.vouchedAt(i) <= closed.at && this.#fewLinksLeft(id, closed.theirs)) return i;
    }
    return undefined;
  }

  /**
   * Whether member `id`, whose last link report here was `theirs`, may have no link left: no
   * neighbour reports one to it, and of the links it reported, the ones to neighbours are
   * gone (their reports lack it), the ones to members no longer reachable are gone, and at
   * most one is to a node this node cannot see. Members keep minLinks links, so in a cluster
   * of any size this holds only for a member whose last links are closing.
   */
  #fewLinksLeft(id: string, theirs: ReadonlySet<string> | undefined): boolean {
    if (theirs === undefined) return false;
    const reports = this.#prober.neighbours;
    for (const report of reports.values()) if (report.has(id)) return false;
    let unseen = 0;
    for (const other of theirs) {
      const i = this.#table.ids.lookup(other);
      if (other === this.selfId || i === undefined || !isReachable(this.#table.state(i))) continue;
      if (!reports.has(other) && ++unseen > 1) return false;
    }
    return true;
  }

  /**
   * A member this node reaped, whose alive claim another member still passed on at the
   * incarnation it was declared down at: dialled once, so that if it is alive its own claim
   * brings it back over the link (an exchange at link-up), instead of after the zombie window
   * at the next exchange that happens to carry it. Found by the seed sweep (seed 3290): a node
   * cut off alone declared and reaped two members that no one else had declared; after the
   * heal it refused their alive claims for the rest of the window and took them back 60 s
   * late, their state entries with them. A dead one costs a failed dial. Each reap gives at
   * most one revisit, one check at a time.
   */
  #nextRevisit(timeoutMs: number): MemberAddress | undefined {
    for (const [id, v] of this.#revisits) {
      if (!v.due) continue;
      v.due = false;
      const r = this.#reaped.get(id);
      if (r?.reapedAt !== v.reapedAt || !this.#unknown(id) || r.addrs.length === 0) continue;
      const check = {
        nodeId: id,
        startedAt: this.#env.clock.now(),
        timer: this.#env.scheduler.setTimer(timeoutMs, () => {
          if (this.#check === check) this.#check = undefined;
        }),
      };
      this.#check = check;
      this.metrics.reapedRevisited++;
      return { nodeId: id, addrs: r.addrs, incarnation: r.incarnation };
    }
    return undefined;
  }

  /** Local health score (0 = healthy); timeouts are stretched by 1 + score. */
  get localHealth(): number {
    return this.#health.score;
  }

  // ---- internals ----

  #info(i: number): MemberInfo {
    const alive = this.#table.aliveClaim(i)!;
    return {
      nodeId: this.#table.ids.idOf(i),
      publicKey: alive.signerKey,
      state: stateName(this.#table.state(i)),
      incarnation: this.#table.incarnation(i),
      meta: alive.meta,
      addrs: alive.addrs,
      lowWaterMark: alive.lowWaterMark,
      changedAt: this.#table.changedAt(i),
    };
  }

  #sign(kind: 'alive' | 'leave', incarnation: number): Claim {
    return signClaim(this.#signer, kind, {
      incarnation,
      meta: this.#meta,
      addrs: this.#addrs,
      lowWaterMark: this.#lowWaterMark,
      ...(this.#token ? { token: this.#token } : {}),
    });
  }

  /** Re-signs our alive claim at `incarnation`; false (and an event) past the top of the range. */
  #reissue(incarnation: number): boolean {
    if (this.#leaving) return false;
    if (incarnation > MAX_INCARNATION) {
      this.#event({ type: 'incarnation-exhausted', incarnation: this.incarnation });
      return false;
    }
    const claim = this.#sign('alive', incarnation);
    const state = this.#table.state(this.#selfIndex);
    this.#setSelf(claim, state === StateCode.Joining ? StateCode.Joining : StateCode.Active);
    this.#event({ type: 'incarnation', incarnation });
    if (this.#treeNews && state !== StateCode.Joining)
      this.#event({ type: 'news', claims: [claim], from: undefined });
    return true;
  }

  #setSelf(claim: Claim, state: StateCode): void {
    const previous = this.#table.state(this.#selfIndex);
    if (claim.kind === 'alive') this.#self = claim;
    this.#table.set(this.#selfIndex, state, claim.incarnation, this.#env.clock.now(), claim);
    this.#dissem.queue.push(claim);
    if (previous !== state) this.#emitState(this.#selfIndex, previous);
  }

  #setSelfState(state: StateCode): void {
    const previous = this.#table.state(this.#selfIndex);
    if (previous === state) return;
    this.#table.setState(this.#selfIndex, state, this.#env.clock.now());
    this.#emitState(this.#selfIndex, previous);
  }

  #emitState(i: number, previous: StateCode): void {
    this.#event({
      type: 'state',
      nodeId: this.#table.ids.idOf(i),
      previous: previous === StateCode.Unknown ? null : stateName(previous),
      state: stateName(this.#table.state(i)),
      incarnation: this.#table.incarnation(i),
    });
  }

  /** Applies one claim under the rules: whether it changed this node's view, or went on without (see #applyAccusation). */
  #apply(c: Claim, from: string | undefined, charge: boolean): Outcome {
    if (c.subject === this.selfId) return this.#applyAboutSelf(c) ? 'changed' : 'ignored';
    if (c.kind === 'alive' || c.kind === 'leave') return this.#applyOwn(c, from, charge);
    return this.#applyAccusation(c, from);
  }

  /**
   * An alive claim of a member reaped within reapAfterMs, no newer than what was declared
   * down: a node that has not reaped it yet still passes it on, and taking it back would
   * keep the dead member circulating. Only the member itself (over its own link) brings it
   * back at that incarnation; anyone may with a higher one (it refuted).
   */
  #zombie(c: Claim, from: string | undefined): boolean {
    const r = this.#reaped.get(c.subject);
    if (r === undefined || from === undefined || from === c.subject || c.incarnation > r.incarnation)
      return false;
    if (this.#env.clock.now() - r.reapedAt >= this.config.reapAfterMs) return false;
    if (this.#revisits.get(c.subject)?.reapedAt !== r.reapedAt)
      this.#noteReaped(c.subject, { reapedAt: r.reapedAt, due: true, exchanged: false });
    this.#answerZombie(c.subject, r.incarnation, r.declaration, from);
    return true;
  }

  /**
   * A neighbour passed on the alive claim of a member reaped here: it never heard the member
   * declared (it was cut off meanwhile), and will keep passing it on, and hand it back to
   * every node whose zombie window has run out. It gets the declaration (or goodbye) the
   * member was reaped on, to weigh as evidence: once per peer, member and incarnation
   * (#answerOnce), as a stale accusation is answered. Soak seed 36,808: a node alone in a
   * partition while a member crashed held it Active past the heal; its neighbours, which had
   * reaped it 19 s after declaring it, refused its alive claim without a word, took it back
   * when their zombie windows ran out, and the dead member was Active everywhere again until
   * a ghost check, a minute on.
   */
  #answerZombie(subject: string, incarnation: number, declaration: Claim | undefined, from: string): void {
    if (declaration && this.#answerOnce(from, subject, incarnation, [declaration]))
      this.metrics.zombiesAnswered++;
  }

  /**
   * Whether a link that just came up to `nodeId` should start an exchange: it is a member
   * reaped here, and no link to it did since its reap. Once per reap: a peer that relinks
   * and never answers gets one digest of our membership, not one per link-up.
   */
  #exchangeWithReaped(nodeId: string): boolean {
    const r = this.#reaped.get(nodeId);
    if (r === undefined || !this.#unknown(nodeId)) return false;
    const note = this.#revisits.get(nodeId);
    if (note?.reapedAt === r.reapedAt) {
      if (note.exchanged) return false;
      note.exchanged = true;
    } else this.#noteReaped(nodeId, { reapedAt: r.reapedAt, due: false, exchanged: true });
    return true;
  }

  #noteReaped(id: string, note: { reapedAt: number; due: boolean; exchanged: boolean }): void {
    setBounded(this.#revisits, id, note, this.config.recentlyReapedLimit);
  }

  /** The highest incarnation an alive or leave claim may bring, given the one held (see MAX_INCARNATION_LEAD). */
  #incarnationCeiling(held: number): number {
    return Math.max(held, Math.floor(this.#env.clock.wallNow() / 1000)) + MAX_INCARNATION_LEAD;
  }

  /**
   * A member's own alive or goodbye claim: the only thing that raises its incarnation, by a
   * bounded step. Only an alive claim introduces a member, within maxMembers and the newcomer
   * quotas (charged to `from`, the link it came over; not while this node joins, nor for
   * claims made or adopted here). A newcomer over quota waits for it (#wait); `charge`
   * false: it did, and was charged.
   */
  #applyOwn(c: Claim, from: string | undefined, charge: boolean): Outcome {
    const t = this.#table;
    const known = t.ids.lookup(c.subject);
    const current = known === undefined ? StateCode.Unknown : t.state(known);
    if (c.incarnation > this.#incarnationCeiling(current === StateCode.Unknown ? 0 : t.incarnation(known!))) {
      this.metrics.incarnationJumpsRefused++;
      return 'ignored';
    }
    if (current === StateCode.Unknown) {
      if (c.kind === 'leave') {
        this.#waiting.drop(c.subject, c.incarnation);
        this.#noteDown(c, from);
      }
      if (c.kind !== 'alive' || this.#zombie(c, from)) return 'ignored';
      if (t.size >= this.config.maxMembers) {
        this.metrics.membersRefused++;
        return 'ignored';
      }
      // A member's own claim over its own link (a join through this node) has a budget of its own.
      const quota = charge && from !== undefined && t.state(this.#selfIndex) !== StateCode.Joining;
      if (quota && !this.#newcomers.take(from, from === c.subject)) return this.#wait(c, from);
      this.#waiting.drop(c.subject);
      this.#reaped.delete(c.subject);
    }
    const next = claimState(c.kind);
    if (current !== StateCode.Unknown && !supersedes(next, c.incarnation, current, t.incarnation(known!))) {
      return this.#twin(known!, c) ? 'changed' : 'ignored';
    }
    const i = current === StateCode.Unknown ? t.admit(c.subject) : known!;
    const now = this.#env.clock.now();
    if (current === StateCode.Suspect && next === StateCode.Active) this.#rememberRefuted(i, now);
    const doubtedSince = current === StateCode.Unknown ? now : t.changedAt(i);
    this.#endSuspicion(i);
    t.set(i, next, c.incarnation, now, c);
    // A member that (re)appears gets ghostTimeoutMs before it must show it is reachable.
    if (next === StateCode.Active && current !== StateCode.Active) t.vouch(i, now);
    if (next === StateCode.Left) this.#down.add(i);
    else this.#down.delete(i);
    if (current !== next) this.#emitState(i, current);
    if (current === StateCode.Unreachable && next === StateCode.Active) this.#weighHeld(c.subject);
    // Soak seed 215: a node frozen 18 s, its links intact, refuted at once when it woke but
    // held a member that had crashed meanwhile Active for 17 s more (until a periodic
    // exchange), and its replica kept the dead member's entries past every other's. It was
    // unheard since before we doubted it (a suspicion starts a probe period or more after
    // the silence does, a declaration suspectTimeoutMs after the suspicion): seed 1463, news
    // 17 s old at its return.
    if ((current === StateCode.Suspect || current === StateCode.Unreachable) && next === StateCode.Active) {
      if (this.#links.has(c.subject))
        this.#event({
          type: 'back',
          nodeId: c.subject,
          unheardMs: now - doubtedSince + this.config.suspectTimeoutMs,
        });
      else setBounded(this.#returned, c.subject, now, UNLINKED_LIMIT);
    }
    if (c.kind === 'alive') {
      this.#event({
        type: 'alive',
        nodeId: c.subject,
        incarnation: c.incarnation,
        lowWaterMark: c.lowWaterMark,
      });
    }
    return 'changed';
  }

  /**
   * A newcomer over quota on `from` waits for it (waiting-newcomers.ts) or, without room, is
   * refused. It is not passed on while it waits: this node relays only members it took in,
   * so the quota still bounds what a flood gets relayed (passed on at once, one hostile link
   * got 256 more identities a minute across the cluster). It counts as had, so nobody is
   * asked for it again, and when it goes in it is announced, not pushed (`late` news).
   */
  #wait(c: Claim, from: string): Outcome {
    const held = this.#waiting.hold(c, from, this.#env.clock.now());
    if (held === 'full') this.metrics.membersRefused++;
    if (held !== 'waiting') return 'ignored';
    this.metrics.membersWaited++;
    this.#armWaiting();
    return 'waiting';
  }

  /** While newcomers wait, admits them every WAITING_ADMIT_MS as the quota refills. */
  #armWaiting(): void {
    if (this.#waitingTimer !== undefined || !this.#running || this.#waiting.size === 0) return;
    this.#waitingTimer = this.#env.scheduler.setTimer(WAITING_ADMIT_MS, () => {
      this.#waitingTimer = undefined;
      const admitted = new Map<string, Claim[]>();
      this.#waiting.drain(this.#env.clock.now(), {
        stale: (c) => !this.#unknown(c.subject),
        take: (c, link) => this.#newcomers.take(link, c.subject === link),
        spent: () => this.#newcomers.spent(),
        admit: (c, link) => {
          const list = admitted.get(link);
          if (list) list.push(c);
          else admitted.set(link, [c]);
        },
      });
      // As if they arrived now over the link they came by; announced, not pushed (`late`).
      for (const [link, claims] of admitted) this.#merge(claims, link, true, false);
      this.#armWaiting();
    });
  }

  /**
   * An accusation (suspect or unreachable) of another member: evidence, never a verdict. It
   * counts only at the incarnation of the member's alive claim we hold (a higher one is
   * nobody's to claim but the member's), only from a reachable member, and not from an
   * accuser the member refuted within the last suspectTimeoutMs. The first one that counts
   * makes the member Suspect; later ones confirm (Lifeguard); it becomes Unreachable when
   * this node's own suspicion timer runs out, or on another's Unreachable declaration once
   * that timer has run most of its course (DECLARATION_RIPE_FRACTION).
   */
  #applyAccusation(c: Claim, from: string | undefined): Outcome {
    const t = this.#table;
    const i = t.ids.lookup(c.subject);
    const current = i === undefined ? StateCode.Unknown : t.state(i);
    if (current === StateCode.Unknown) {
      if (c.kind === 'unreachable') this.#noteDown(c, from);
      return this.#passOnReaped(c, from) ? 'passed' : 'ignored';
    }
    if (current !== StateCode.Active && current !== StateCode.Suspect) return 'ignored';
    const held = t.incarnation(i!);
    if (c.incarnation < held) {
      this.#answerStale(i!, from);
      return 'ignored';
    }
    if (c.incarnation > held || !this.#isAccuser(c.signer)) {
      this.metrics.accusationsIgnored++;
      if (c.incarnation === held) {
        if (this.#isDeclared(c.signer)) this.#heldAccusations.hold(c);
        this.#handOver(i!, c, from);
        if (this.#passOn(i!, c, from)) return 'passed';
      }
      return 'ignored';
    }
    const refuted = this.#refutedLately(c.signer, i!);
    if (refuted) {
      this.metrics.accusationsIgnored++;
      const key = `${c.kind}${c.incarnation}${c.signer}`;
      if (refuted.passed.has(key)) return 'ignored';
      refuted.passed.add(key);
      // Weightless here, yet passed on: its accuser acts on it, and the member can refute
      // only what reaches it (dropped here, the accuser alone declared a live member
      // Unreachable: seed sweep, seeds 3 and 100). Gossip alone lost it to a dropped
      // datagram (seed 1162), so it goes along the tree too, and to the member if linked.
      this.#dissem.queue.push(c, from);
      this.#handOver(i!, c, from);
      return 'passed';
    }
    if (current === StateCode.Suspect) {
      const s = this.#suspicions.get(i!);
      const ripe = s && this.#env.clock.now() - s.startedAt >= s.timeoutMs() * DECLARATION_RIPE_FRACTION;
      if (c.kind !== 'unreachable' || !ripe) return this.#confirm(i!, c) ? 'changed' : 'ignored';
      this.#markUnreachable(i!, c);
      return 'changed';
    }
    t.set(i!, StateCode.Suspect, held, this.#env.clock.now(), c);
    this.#startSuspicion(i!, c);
    this.#emitState(i!, current);
    if (from !== c.subject) this.#tellAccused(c.subject);
    return 'changed';
  }

  /**
   * A member can refute only what reaches it: one we suspect and are linked to gets the
   * accusation at once on the ordered stream, as the suspicion starts or the link comes up,
   * instead of when a probe carries it (Lifeguard's buddy system), which loss or a probe
   * order that visits it late can delay past the suspicion's end (seed sweep: a live member
   * declared by nodes that shared a link with it). A member held Unreachable that links to
   * us gets the declaration as the link comes up: it was frozen or cut off, and until it
   * refutes, a node that joins meanwhile inherits the declaration as a suspicion and
   * declares it again (seed sweep: a tab unfrozen for 6 s had not heard why).
   */
  #tellAccused(nodeId: string): void {
    const i = this.#table.ids.lookup(nodeId);
    const state = i === undefined ? StateCode.Unknown : this.#table.state(i);
    if (!this.#links.has(nodeId) || (state !== StateCode.Suspect && state !== StateCode.Unreachable)) return;
    const accusation = this.#table.accusation(i!);
    if (accusation) this.#send(nodeId, 'stream', { type: 'gossip', g: [accusation.wire] });
  }

  /**
   * An accusation this node does not weigh (its signer is not a reachable member here: we
   * declared or reaped it) may be weighed by others, who hold its signer reachable, and they
   * need not be linked to the accused. Passed on no further from here, it can reach the
   * accused only by chance, so a live member is declared by nodes that never reach it (seed
   * sweep, seed 348: a declaration made in a partition, carried after the heal through a
   * node that had just joined, stalled at the accused's neighbours, which had reaped the
   * declarer). The accused alone can end it, by refuting, so a neighbour hands it over:
   * once per incarnation of the accused, and only when signed by a node this one knew as a
   * member (held, or reaped lately). A stranger's keys cost nothing to make.
   */
  #handOver(i: number, c: Claim, from: string | undefined): void {
    if (from === c.subject || !this.#links.has(c.subject) || this.#handedOver.get(i) === c.incarnation)
      return;
    if (!this.#knewAsMember(c.signer)) return;
    this.#handedOver.set(i, c.incarnation);
    this.metrics.accusationsHandedOver++;
    this.#send(c.subject, 'stream', { type: 'gossip', g: [c.wire] });
  }

  /**
   * Handing over reaches the accused only from its neighbours, and the nodes between one
   * that weighs an accusation and the accused's neighbours may all be nodes that do not
   * (they reaped its signer, and refuse the signer's claim as a zombie's). Soak seed 4577:
   * after a heal one node took back a member that had been cut off alone and weighed its
   * declaration of a live member; every other path to the accused ran through nodes that
   * had reaped the declarer, it never heard, and was declared. So an accusation we do not
   * weigh goes on along the tree, weightless (a 'passed' claim), as a repeat after a
   * refutation does: once per incarnation of the accused, only as received from a peer,
   * and only when signed by a node this one knew as a member (a stranger's keys are free).
   */
  #passOn(i: number, c: Claim, from: string | undefined): boolean {
    if (from === undefined || from === c.subject || this.#passedOn.get(i) === c.incarnation) return false;
    if (!this.#knewAsMember(c.signer)) return false;
    this.#passedOn.set(i, c.incarnation);
    this.metrics.accusationsPassedOn++;
    return true;
  }

  /**
   * The same for a member reaped here: a node that reaped an accused member drops its
   * accusations, and when every path from a node that weighs one to the accused runs through
   * such nodes, the accused never hears it (soak seed 3163: after a 22 s partition, the
   * nodes of one side had reaped a member of the other, which a node of that other side
   * suspected late, on an old declaration; it was declared without hearing why). So an
   * accusation of a member reaped here goes on along the tree, weightless, and to the
   * member if linked: only at the incarnation it was reaped at (a higher one is nobody's to
   * claim but the member's), only as received from a peer, only signed by a node this one
   * knew as a member, and once per reap and signer: once per reap only, an accusation passed
   * on while the member was cut off anyway used up the reap, and a later one that mattered
   * (another accuser's, after the heal) stalled here; the accused never refuted and a node
   * that weighed it declared it while they could reach each other (soak seed 10,436).
   */
  #passOnReaped(c: Claim, from: string | undefined): boolean {
    const r = this.#reaped.get(c.subject);
    if (r === undefined || from === undefined || from === c.subject || c.incarnation !== r.incarnation)
      return false;
    if (!this.#unknown(c.subject) || !this.#knewAsMember(c.signer)) return false;
    const key = c.subject + c.signer;
    if (this.#passedOnReaped.get(key) === r.reapedAt) return false;
    setBounded(this.#passedOnReaped, key, r.reapedAt, this.config.recentlyReapedLimit);
    this.metrics.accusationsPassedOn++;
    if (this.#links.has(c.subject)) this.#send(c.subject, 'stream', { type: 'gossip', g: [c.wire] });
    return true;
  }

  /** Whether `nodeId` is a member here, or was one reaped lately. */
  #knewAsMember(nodeId: string): boolean {
    return this.#table.ids.lookup(nodeId) !== undefined || this.#reaped.has(nodeId);
  }

  /**
   * A neighbour passed on an accusation of member i older than the incarnation we hold: it
   * missed the refutation, and will act on the accusation (and pass it on) unless told. It
   * gets our claims of i over the link: once per member and incarnation (#staleAnswered), so
   * replayed old accusations cost one small message each, not one per copy. Found by the
   * seed sweep (seed 4427): two nodes missed a refutation, took the accuser's old declaration
   * 1 s later from the other side of a healed partition, and declared the live member, while
   * their neighbours, who held the refutation, dropped the old declaration without a word.
   */
  #answerStale(i: number, from: string | undefined): void {
    const subject = this.#table.ids.idOf(i);
    if (from === undefined || from === subject) return;
    if (this.#answerOnce(from, subject, this.#table.incarnation(i), this.#claimsOf(i)))
      this.metrics.staleAccusationsAnswered++;
  }

  /**
   * Sends linked neighbour `from` what this node holds of `subject` at `incarnation`, unless
   * it was sent that already (#staleAnswered, bounded): a neighbour that repeats a stale
   * claim gets one small message, not one per copy. Whether it was sent.
   */
  #answerOnce(from: string, subject: string, incarnation: number, claims: readonly Claim[]): boolean {
    if (claims.length === 0 || !this.#links.has(from)) return false;
    const key = `${from}:${subject}`;
    if (this.#staleAnswered.get(key) === incarnation) return false;
    setBounded(this.#staleAnswered, key, incarnation, STALE_ANSWERS_KEPT);
    this.#send(from, 'stream', { type: 'gossip', g: claims.map((c) => c.wire) });
    return true;
  }

  /** Whether `nodeId` is a member this node holds Unreachable. */
  #isDeclared(nodeId: string): boolean {
    const j = this.#table.ids.lookup(nodeId);
    return j !== undefined && this.#table.state(j) === StateCode.Unreachable;
  }

  /**
   * `signer` refuted its declaration here: what it accused meanwhile is weighed now, and
   * passed on if it counts, along the tree as well as by gossip, as any claim that changes
   * our view (soak seed 4590: a node weighed a partitioned node's declaration once it
   * refuted, and gossip alone, over two links at 11 % loss, did not bring it to anyone
   * else within the suspicion: the accused never heard it, and was declared).
   */
  #weighHeld(signer: string): void {
    const news: Claim[] = [];
    for (const c of this.#heldAccusations.take(signer)) {
      if (this.#applyAccusation(c, undefined) !== 'changed') continue;
      this.#dissem.queue.push(c);
      news.push(c);
    }
    if (this.#treeNews && news.length > 0) this.#event({ type: 'news', claims: news, from: undefined });
  }

  /** This node, or a reachable member: only they may accuse. */
  #isAccuser(signer: string): boolean {
    if (signer === this.selfId) return true;
    const j = this.#table.ids.lookup(signer);
    return j !== undefined && isReachable(this.#table.state(j));
  }

  /** The record of `subject`'s refutation if `signer` accused it in a suspicion it refuted within suspectTimeoutMs. */
  #refutedLately(signer: string, subject: number): RefutedLately | undefined {
    const r = this.#refuted.get(subject);
    if (r === undefined) return undefined;
    if (r.until <= this.#env.clock.now()) {
      this.#refuted.delete(subject);
      return undefined;
    }
    return r.accusers.has(signer) ? r : undefined;
  }

  /** A further accuser of a suspicion already held: counts for dynamic suspicion. */
  #confirm(i: number, c: Claim): boolean {
    const s = this.#suspicions.get(i);
    if (!s || s.confirmations >= this.config.indirectWitnesses) return false;
    return s.confirm(c.signer);
  }

  /** Member i refuted a suspicion: its accusers' repeats carry no weight for suspectTimeoutMs. */
  #rememberRefuted(i: number, now: number): void {
    const s = this.#suspicions.get(i);
    if (!s) return;
    const accusers = new Set([...s.accusers].filter((a) => a !== this.selfId));
    if (accusers.size > 0)
      this.#refuted.set(i, { accusers, until: now + this.config.suspectTimeoutMs, passed: new Set() });
  }

  #endSuspicion(i: number): void {
    this.#suspicions.get(i)?.cancel();
    this.#suspicions.delete(i);
  }

  /**
   * Two different alive claims of one member at one incarnation: one process never signs
   * that, so two processes share the identity. Pass the other claim on once, so it reaches
   * the member itself, which reports the conflict and re-announces itself.
   */
  #twin(i: number, c: Claim): boolean {
    const mine = this.#table.aliveClaim(i);
    if (
      c.kind !== 'alive' ||
      !mine ||
      c.incarnation !== mine.incarnation ||
      equalBytes(c.wire.s, mine.wire.s)
    ) {
      return false;
    }
    const key = bytesKey(c.wire.s);
    if (this.#twinsSeen.has(key)) return false;
    this.#twinsSeen.add(key);
    if (this.#twinsSeen.size > 1024) this.#twinsSeen.delete(this.#twinsSeen.values().next().value!);
    this.metrics.identityConflicts++;
    return true;
  }

  #startSuspicion(i: number, c: Claim): void {
    const cfg = this.config;
    const min = cfg.suspectTimeoutMs;
    const max = cfg.dynamicSuspicion ? min * cfg.dynamicSuspicion.maxMultiplier : min;
    const incarnation = c.incarnation;
    this.#suspicions.set(
      i,
      new SuspicionTimer({
        accuser: c.signer,
        minMs: min,
        maxMs: max,
        expectedConfirmations: Math.min(cfg.indirectWitnesses, Math.max(0, this.#table.size - 2)),
        scheduler: this.#env.scheduler,
        now: () => this.#env.clock.now(),
        onExpire: () => this.#declareUnreachable(i, incarnation),
      }),
    );
  }

  /** Our suspicion timer ran out: the member is Unreachable here, and we say so (others take it as an accusation). */
  #declareUnreachable(i: number, incarnation: number): void {
    this.#suspicions.delete(i);
    if (this.#table.state(i) !== StateCode.Suspect || this.#table.incarnation(i) !== incarnation) return;
    const claim = signClaim(this.#signer, 'unreachable', { incarnation, subject: this.#table.ids.idOf(i) });
    this.metrics.declaredUnreachable++;
    this.metrics.claimsApplied++;
    this.#markUnreachable(i, claim);
    this.#dissem.queue.push(claim);
    // Kept among the tree's recent news, so that a link that comes up within its window is
    // told of it (gossip alone had run out of retransmissions by the time two halves of a
    // mesh split by the crash were linked again: sweep case 14). Not pushed: every node
    // that suspected declares for itself, and pushing each declaration along every link
    // cost 31 % more messages in a 50-node cluster with 5 crashes.
    if (this.#treeNews) this.#event({ type: 'news', claims: [claim], from: undefined, quiet: true });
  }

  /** Suspect → Unreachable at the same incarnation, on `claim` (ours or a ripe declaration). */
  #markUnreachable(i: number, claim: Claim): void {
    this.#endSuspicion(i);
    this.#table.set(i, StateCode.Unreachable, claim.incarnation, this.#env.clock.now(), claim);
    this.#down.add(i);
    this.#emitState(i, StateCode.Suspect);
  }

  /** A probe or check failed: accuse the target (signed by us) and spread it, or confirm a suspicion held. */
  #suspect(target: string): void {
    const i = this.#table.ids.lookup(target);
    if (i === undefined) return;
    const state = this.#table.state(i);
    // A suspicion that reached us first from another accuser is confirmed by our own failed
    // check, as Lifeguard counts it: a node thawed after the others' declarations went out
    // hears one of them, and with one accuser waited the longest timeout (soak seed 14,555).
    // For our own timer only: signed and gossiped, every prober of a suspect would add a
    // claim cluster-wide (+12 % bytes in a 200-node run with 5 crashes) for no earlier
    // detection, the others having their own evidence.
    if (state === StateCode.Suspect) {
      const s = this.#suspicions.get(i);
      if (s && s.confirmations < this.config.indirectWitnesses) s.confirm(this.selfId);
      return;
    }
    if (state !== StateCode.Active) return;
    const incarnation = this.#table.incarnation(i);
    this.metrics.suspicions++;
    this.#event({ type: 'suspected', nodeId: target, incarnation });
    this.applyClaims([signClaim(this.#signer, 'suspect', { incarnation, subject: target })]);
  }

  /**
   * A claim about this node. An alive claim we did not sign is a twin (same key, other
   * process). An accusation at our incarnation is refuted by raising it; one above it is
   * nobody's to make (we never signed that incarnation) and is ignored; one below it is
   * old news, answered by spreading our current claim again.
   */
  #applyAboutSelf(c: Claim): boolean {
    if (this.#leaving) return false;
    const mine = this.incarnation;
    if (c.kind === 'alive') {
      if (c.incarnation < mine || equalBytes(c.wire.s, this.#self.wire.s)) return false;
      if (c.incarnation > this.#incarnationCeiling(mine)) {
        this.metrics.incarnationJumpsRefused++;
        return false;
      }
      // An alive claim for our id that we did not sign: a restarted twin or a copied key.
      this.metrics.identityConflicts++;
      this.#event({ type: 'identity-conflict', incarnation: c.incarnation });
      const now = this.#env.clock.now();
      if (now - this.#lastConflictAt < CONFLICT_BACKOFF_MS) return false;
      this.#lastConflictAt = now;
      this.#reissue(c.incarnation + 1);
      return false;
    }
    if (c.incarnation < mine) {
      this.#dissem.queue.push(this.#self);
      return false;
    }
    if (c.incarnation > mine) {
      this.metrics.accusationsIgnored++;
      return false;
    }
    // Suspected, declared unreachable, or an old goodbye from a previous run: refute.
    this.#refute(c.signer);
    return false;
  }

  /**
   * Raises our incarnation to clear accusations — at most once per refute interval
   * (suspectTimeoutMs / 5), so however many accusations arrive, accusers raise it by at most
   * one per interval. An accusation within the interval is answered when it ends, still
   * well before any accuser's suspicion timer runs out.
   */
  #refute(by: string): void {
    const now = this.#env.clock.now();
    const wait = this.#lastRefuteAt + this.config.suspectTimeoutMs * REFUTE_INTERVAL_FRACTION - now;
    if (wait > 0) {
      this.metrics.refutationsDeferred++;
      if (this.#refuteTimer !== undefined) return;
      const accused = this.incarnation;
      this.#refuteTimer = this.#env.scheduler.setTimer(wait, () => {
        this.#refuteTimer = undefined;
        if (this.incarnation === accused) this.#refute(by);
      });
      return;
    }
    this.#lastRefuteAt = now;
    this.metrics.refutations++;
    if (this.config.lifeguard) this.#health.apply(1);
    if (this.#reissue(this.incarnation + 1))
      this.#event({ type: 'refuted', incarnation: this.incarnation, by });
    this.#askReturned();
  }

  /**
   * Catches up with a member taken back from Suspect or Unreachable while not linked here
   * (#returned), once it is linked, if this node was itself doubted lately (it refuted within
   * pushPullIntervalMs): a node alone catches up at its first link (linkUp), but one whose
   * side of a partition had other nodes kept links, and missed what the other side gossiped
   * meanwhile until a periodic exchange. Soak seed 26,562: nodes 0 and 6, cut off together,
   * held a crashed member at the incarnation it had before refuting, took its later
   * declaration only at a periodic exchange 10 s after the heal, declared it again 10 s after
   * that, and dropped its state entries 20 s after every other replica. Both signs are
   * needed: a member that restarted comes back too, and its neighbours, who missed nothing,
   * would each send it a digest (at 200 nodes, 2.7 times the bytes it receives in its first
   * 10 s); a node doubted by others with no one back has no one to ask. Called as such a
   * member links up (`linked`) and as this node refutes (any linked one); one exchange per
   * return, within pushPullIntervalMs of it (a periodic exchange would have come by then).
   */
  #askReturned(linked?: string): boolean {
    const now = this.#env.clock.now();
    const window = this.config.pushPullIntervalMs;
    if (now - this.#lastRefuteAt >= window || !this.#running || this.#leaving) return false;
    for (const [id, at] of this.#returned) {
      if (now - at >= window) this.#returned.delete(id);
      else if ((linked === undefined || id === linked) && this.#links.has(id)) {
        this.#returned.delete(id);
        this.#pushPull.start(id, false);
        return true;
      }
    }
    return false;
  }

  /** Catching up (see linkUp): asks `peer` unless an exchange this node started is under way. */
  #catchUp(peer: string): void {
    if (this.#running && !this.#leaving && !this.#pushPull.asking) this.#pushPull.start(peer, false);
  }

  /** Whether this node was joining (it is Active now). */
  #joinedIfJoining(): boolean {
    if (this.#table.state(this.#selfIndex) !== StateCode.Joining) return false;
    this.#setSelfState(StateCode.Active);
    // Announce ourselves too: the seed may have judged our claim old news (a same-incarnation twin).
    this.#dissem.queue.push(this.#self);
    this.#dissem.afterJoin();
    return true;
  }

  /** What describes member i in an exchange: its alive claim, then its accusation (or goodbye). */
  #claimsOf(i: number): Claim[] {
    const alive = i === this.#selfIndex ? this.#self : this.#table.aliveClaim(i);
    const acc = this.#table.accusation(i);
    return acc ? (alive ? [alive, acc] : [acc]) : alive ? [alive] : [];
  }

  #reap(): void {
    const now = this.#env.clock.now();
    for (const i of [...this.#down]) {
      if (now - this.#table.changedAt(i) < this.config.reapAfterMs) continue;
      const id = this.#table.ids.idOf(i);
      const addrs = this.#table.aliveClaim(i)?.addrs ?? [];
      const incarnation = this.#table.incarnation(i);
      const declaration = this.#table.accusation(i);
      this.#forget(i, id);
      setBounded(
        this.#reaped,
        id,
        { nodeId: id, addrs, incarnation, reapedAt: now, declaration },
        this.config.recentlyReapedLimit,
      );
      this.#event({ type: 'reaped', nodeId: id });
    }
  }

  /** Drops member i (`id`) and everything held about it. */
  #forget(i: number, id: string): void {
    this.#down.delete(i);
    this.#refuted.delete(i);
    this.#handedOver.delete(i);
    this.#passedOn.delete(i);
    this.#table.remove(i);
    this.#dissem.queue.forget(id);
  }

  /**
   * A member held Unreachable that still talks to us over its link is alive, yet nobody
   * tells it so: it is not probed, and the declaration's retransmissions went while it
   * could not hear (a partition shorter than the link timeout, a freeze). Exchange with it
   * (a repair, which waits for no other exchange kind; see PushPull.repair): it hears the
   * declaration and refutes, and we hear what it knows.
   */
  #heardFrom(id: string): void {
    const i = this.#table.ids.lookup(id);
    if (i === undefined || this.#table.state(i) !== StateCode.Unreachable) return;
    if (this.#running && this.#links.has(id)) this.#pushPull.repair(id);
  }

  #neighboursChanged(): void {
    if (this.#neighboursTimer !== undefined || !this.#running) return;
    this.#neighboursTimer = this.#env.scheduler.setTimer(NEIGHBOURS_DEBOUNCE_MS, () => {
      this.#neighboursTimer = undefined;
      const ids = [...this.#links].slice(0, 256).map(fromHex);
      for (const peer of this.#links) this.#send(peer, 'stream', { type: 'neighbours', ids });
    });
  }
}
