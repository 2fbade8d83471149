/**
 * The node's replica of the cluster state: the CRDT core plus what makes it run — own
 * writes (signed, HLC-stamped), entry verification at the boundary, delta gossip to
 * neighbours (in full along the broadcast tree's eager links, announced on the lazy ones), Merkle anti-entropy (on link-up and periodically with a random neighbour),
 * low-water-mark maintenance for tombstone collection, per-origin quotas, the global caps
 * and the byte budget of anti-entropy answers per link.
 *
 * Global caps: when full, room goes to origins by standing — this node first, then members
 * in the order this replica first saw them alive, then members that are not reachable. An
 * entry that would need the room of an origin standing higher is refused; so a flood of new
 * identities fills the cap and then only displaces itself, and members that were here
 * before it keep writing. Origins that are no longer members lose their entries.
 *
 * Own writes survive a restart that lost the clock: an entry of our own that arrives newer
 * than a write of this run (it was written before the restart, or by a clock since set back)
 * moves the clock past it, and the current value is written again above it.
 */
import { ID_BYTES, idKey } from '../broadcast/ids.ts';
import { BroadcastKind } from '../broadcast/metrics.ts';
import type { BroadcastTree } from '../broadcast/tree.ts';
import type { NodeIdentity } from '../identity/node-identity.ts';
import { Domain } from '../identity/signed.ts';
import { allVerified, type SignatureVerifier, whenVerified } from '../identity/verifier.ts';
import { AntiEntropy } from '../state/anti-entropy.ts';
import { interpretEntry, type StateEntry, signEntry } from '../state/entry.ts';
import { CrdtGossipState } from '../state/gossip-state.ts';
import { lwwWins } from '../state/lww-map.ts';
import { DistributedProcessTable } from '../state/process-table.ts';
import { ClusterServiceRegistry } from '../state/service-registry.ts';
import {
  decodeProcess,
  decodeService,
  encodeProcess,
  encodeService,
  type ProcessFields,
  type ServiceFields,
} from '../state/values.ts';
import { HybridLogicalClock } from '../time/hlc.ts';
import type { Env, TimerId } from '../time/types.ts';
import { setBounded } from '../util/bounded-map.ts';
import { Outbox } from '../util/outbox.ts';
import { RateLimiter } from '../util/rate-limit.ts';
import type { WireClaim } from '../wire/claims.ts';
import type { StateTable } from '../wire/entries.ts';
import type { MessageOf } from '../wire/messages.ts';
import { type SignedKind, SignedVerifier } from './signed-verifier.ts';

export interface StateOptions {
  /**
   * News waits this long after the change that made it, so that changes close together
   * travel in one frame per neighbour; no timer runs while nothing changes. Default 50 ms.
   */
  gossipIntervalMs?: number;
  /** Anti-entropy with a random neighbour. Default 10,000 ms. */
  antiEntropyIntervalMs?: number;
  /**
   * Deleted entries (tombstones) are kept this long; a replica offline for longer still
   * cannot resurrect them (the low-water mark voids old versions). Default 1 hour.
   */
  tombstoneLifetimeMs?: number;
  /** Entries stamped further ahead of the local wall clock are refused. Default 60,000 ms. */
  maxSkewMs?: number;
  /**
   * A received entry moves this node's clock at most this far ahead of its wall clock; one
   * stamped further ahead (within `maxSkewMs`) is accepted but not followed. Default 1,000 ms.
   */
  maxDriftMs?: number;
  /** Quotas per origin: registers held, and new versions accepted per second (burst ×10). */
  maxEntriesPerOrigin?: number;
  writesPerOriginPerSecond?: number;
  /**
   * Caps on the whole replica, all origins together: registers (tombstones included) and
   * bytes of entries. When full, an entry takes the room of origins standing lower than its
   * own (members seen later, members not reachable) or is refused. Defaults 32,768 and 32 MiB.
   */
  maxEntries?: number;
  maxBytes?: number;
  /**
   * Bytes of anti-entropy answers (hashes and entries) sent to one neighbour per second,
   * bursting to 8 s worth; what does not fit waits for a later session. Default 262,144
   * (256 KiB/s, 2 MiB at once: a newcomer takes a state of ~10,000 typical entries at once).
   */
  antiEntropyBytesPerSecond?: number;
  /** HLC persistence: never stamp below `notBefore`; `onReserve` stores the reservation. */
  hlcNotBefore?: number;
  onHlcReserve?: (reservedUntil: number) => void;
}

export interface StateHost {
  readonly identity: NodeIdentity;
  readonly env: Env;
  readonly verifier: SignatureVerifier;
  /** Sends to a neighbour; returns the bytes put on the link (0 if not sent). */
  send(peer: string, msg: MessageOf<'state-delta'> | MessageOf<'tree'>): number;
  peers(): string[];
  /** A member's public key (entries of unknown origins are refused). */
  memberKey(nodeId: string): Uint8Array | undefined;
  isReachable(nodeId: string): boolean;
  admits(publicKey: Uint8Array): boolean;
  setLowWaterMark(wall: number): void;
  /** An entry changed this replica (`from`: the neighbour it came from; undefined: our write). */
  changed(e: StateEntry, from: string | undefined): void;
  /** Anti-entropy with `peer` found differing subtrees and is repairing them. */
  repairing(peer: string, subtrees: number, entries: number): void;
  /** The node's broadcast tree: deltas go in full to its eager links, as announcements to the lazy ones. */
  readonly tree: BroadcastTree;
}

export interface StateReplicaMetrics {
  entries: number;
  /** Bytes of entries held, as they travel. */
  bytes: number;
  tombstones: number;
  merged: number;
  ignored: number;
  voided: number;
  /** Entries refused for want of room under `maxEntries`/`maxBytes`. */
  refusedFull: number;
  /** Registers dropped to make room for an origin standing higher. */
  evicted: number;
  rejected: number;
  throttled: number;
  deltasSent: number;
  antiEntropySessions: number;
  antiEntropyHashes: number;
  antiEntropyEntries: number;
  /** Anti-entropy answers cut short by a neighbour's byte budget. */
  antiEntropyThrottled: number;
  /** Own writes stamped again because an older run's version of them arrived newer. */
  restamped: number;
  bytesSent: number;
}

const DELTA_BUDGET = 32 * 1024;
/** Lazy links are told of news this long after it (at least `gossipIntervalMs`). */
const LAZY_AFTER_MS = 500;
/** Versions changed lately, remembered by tree id so that grafts for them can be answered. */
const RECENT_VERSIONS = 8_192;

/** What metrics() reports before a replica exists (a node not started yet). */
export function emptyStateMetrics(): StateReplicaMetrics {
  return {
    entries: 0,
    bytes: 0,
    tombstones: 0,
    merged: 0,
    ignored: 0,
    voided: 0,
    refusedFull: 0,
    evicted: 0,
    rejected: 0,
    throttled: 0,
    deltasSent: 0,
    antiEntropySessions: 0,
    antiEntropyHashes: 0,
    antiEntropyEntries: 0,
    antiEntropyThrottled: 0,
    restamped: 0,
    bytesSent: 0,
  };
}

/** What the replica hands its node after an input (see lib/util/outbox.ts). */
type StateOutput =
  | { type: 'changed'; entry: StateEntry; from: string | undefined }
  | { type: 'repairing'; peer: string; subtrees: number; entries: number }
  | { type: 'low-water-mark'; wall: number }
  | { type: 'hlc-reserve'; until: number };

/**
 * Inputs are the public methods and the replica's timers; what they produce for the node and
 * the application (change events, repairs, the low-water mark for membership, the HLC
 * reservation to persist) is delivered after the input, so a `state-changed` handler that
 * writes again finds the replica consistent. Deltas and tree messages go to links directly:
 * the link layer only queues bytes and never calls back in.
 */
export class StateReplica {
  readonly state: CrdtGossipState;
  readonly processes: DistributedProcessTable;
  readonly services: ClusterServiceRegistry;
  readonly #h: StateHost;
  readonly #out: Outbox<StateOutput>;
  /** The host's environment, its timers handled as inputs. */
  readonly #env: Env;
  readonly #o: Required<Omit<StateOptions, 'hlcNotBefore' | 'onHlcReserve'>>;
  readonly #hlc: HybridLogicalClock;
  readonly #entries: SignedVerifier<StateEntry>;
  readonly #antiEntropy: AntiEntropy;
  readonly #quota: RateLimiter;
  readonly #answers: RateLimiter;
  /** Members in the order this replica first saw them alive (their standing when full). */
  readonly #seniority = new Map<string, number>();
  #seen = 0;
  /** Versions written by this run (not learnt back from an earlier one). */
  readonly #written = new WeakSet<StateEntry>();
  readonly #timers = new Set<TimerId>();
  /** The flushes due, to eager and to lazy links (null: stopped or not started). */
  #flushes: { eager?: TimerId | undefined; lazy?: TimerId | undefined } | null = null;
  /** Tree id (idKey) of a version changed lately → its register (grafts name versions by id). */
  readonly #recent = new Map<string, string>();
  readonly #counters = { rejected: 0, throttled: 0, deltasSent: 0, bytesSent: 0, restamped: 0 };

  constructor(host: StateHost, opts: StateOptions = {}, shared?: SignedVerifier<StateEntry>) {
    this.#h = host;
    const reserve = opts.onHlcReserve;
    this.#out = new Outbox((o) => {
      if (o.type === 'changed') host.changed(o.entry, o.from);
      else if (o.type === 'repairing') host.repairing(o.peer, o.subtrees, o.entries);
      else if (o.type === 'low-water-mark') host.setLowWaterMark(o.wall);
      else reserve?.(o.until);
    });
    this.#env = this.#out.wrap(host.env);
    this.#o = {
      gossipIntervalMs: opts.gossipIntervalMs ?? 50,
      antiEntropyIntervalMs: opts.antiEntropyIntervalMs ?? 10_000,
      tombstoneLifetimeMs: opts.tombstoneLifetimeMs ?? 3_600_000,
      maxSkewMs: opts.maxSkewMs ?? 60_000,
      maxDriftMs: opts.maxDriftMs ?? 1_000,
      maxEntriesPerOrigin: opts.maxEntriesPerOrigin ?? 1024,
      writesPerOriginPerSecond: opts.writesPerOriginPerSecond ?? 20,
      maxEntries: opts.maxEntries ?? 32_768,
      maxBytes: opts.maxBytes ?? 32 * 1024 * 1024,
      antiEntropyBytesPerSecond: opts.antiEntropyBytesPerSecond ?? 256 * 1024,
    };
    const self = host.identity.nodeId;
    this.state = new CrdtGossipState({
      maxEntries: this.#o.maxEntries,
      maxBytes: this.#o.maxBytes,
      standing: (origin) =>
        origin === self
          ? 0
          : host.isReachable(origin)
            ? (this.#seniority.get(origin) ?? Number.MAX_SAFE_INTEGER)
            : Number.POSITIVE_INFINITY,
    });
    this.#hlc = new HybridLogicalClock(self, host.env.clock, {
      maxSkewMs: this.#o.maxSkewMs,
      maxDriftMs: this.#o.maxDriftMs,
      ...(opts.hlcNotBefore !== undefined ? { notBefore: opts.hlcNotBefore } : {}),
      ...(reserve ? { onReserve: (until: number) => this.#out.push({ type: 'hlc-reserve', until }) } : {}),
    });
    this.#entries =
      shared ??
      new SignedVerifier(
        host.verifier,
        entryKind((id) => host.memberKey(id)),
      );
    const now = () => host.env.clock.now();
    const answerRate = this.#o.antiEntropyBytesPerSecond;
    this.#answers = new RateLimiter(answerRate, answerRate * 8, now);
    this.#antiEntropy = new AntiEntropy(this.state, {
      send: (peer, msg) => this.#send(peer, msg),
      repairing: (peer, subtrees, entries) => this.#out.push({ type: 'repairing', peer, subtrees, entries }),
      // A bucket larger than the burst costs the whole burst (when the budget is full): else it
      // could never be answered, and the buckets after it in each frame would wait behind it.
      spend: (peer, bytes) => this.#answers.take(peer, Math.min(bytes, answerRate * 8)),
    });
    this.state.onChange((entry, from) => {
      this.#remember(entry);
      this.#gossipSoon();
      this.#out.push({ type: 'changed', entry, from });
    });
    host.tree.channel(BroadcastKind.Entry, {
      has: (key) => this.#recent.has(key),
      resend: (peer, ids) => this.#resend(peer, ids),
    });
    const rate = this.#o.writesPerOriginPerSecond;
    this.#quota = new RateLimiter(rate, rate * 10, now);
    this.processes = new DistributedProcessTable(this.state, (id) => host.isReachable(id));
    this.services = new ClusterServiceRegistry(this.state, (id) => host.isReachable(id));
  }

  start(): void {
    const { env } = this.#h;
    // This node's own entries older than a tombstone's lifetime are either refreshed copies it
    // wrote again since (own values are re-signed every half lifetime) or deleted ones whose
    // tombstones were collected: after a restart, with nothing of its state kept, one of the
    // latter replayed to it must not be taken back (and re-signed, resurrected everywhere).
    const self = this.#h.identity.nodeId;
    const floor = Math.floor(env.clock.wallNow()) - this.#o.tombstoneLifetimeMs;
    if (floor > this.state.lowWaterMark(self)) this.state.setLowWaterMark(self, floor);
    this.#flushes = {};
    this.#gossipSoon();
    this.#every(this.#o.antiEntropyIntervalMs, () => {
      this.#sweep();
      const peers = this.#h.peers();
      if (peers.length > 0) this.#antiEntropy.start(peers[env.random.int(peers.length)]!);
    });
    this.#every(this.#o.tombstoneLifetimeMs / 4, () => this.#collect());
  }

  stop(): void {
    for (const t of this.#timers) this.#env.scheduler.cancelTimer(t);
    this.#timers.clear();
    for (const t of Object.values(this.#flushes ?? {}))
      if (t !== undefined) this.#env.scheduler.cancelTimer(t);
    this.#flushes = null;
  }

  // ---- own writes ----

  advertiseProcess(pid: string, fields: ProcessFields): StateEntry {
    return this.#out.run(() => this.#write('p', pid, encodeProcess(fields)));
  }

  removeProcess(pid: string): StateEntry {
    return this.#out.run(() => this.#write('p', pid, undefined));
  }

  advertiseService(name: string, fields: ServiceFields): StateEntry {
    return this.#out.run(() => this.#write('s', name, encodeService(fields)));
  }

  withdrawService(name: string): StateEntry {
    return this.#out.run(() => this.#write('s', name, undefined));
  }

  // ---- inputs ----

  linkUp(peer: string, initiator: boolean): void {
    this.#out.run(() => {
      this.state.linkUp(peer);
      if (initiator) this.#antiEntropy.start(peer);
    });
  }

  linkDown(peer: string): void {
    this.#out.run(() => {
      this.state.linkDown(peer);
    });
  }

  /** A member's alive claim changed: apply its low-water mark. */
  memberAlive(nodeId: string, lowWaterMark: number): void {
    this.#out.run(() => {
      if (!this.#seniority.has(nodeId)) this.#seniority.set(nodeId, ++this.#seen);
      this.state.setLowWaterMark(nodeId, lowWaterMark);
    });
  }

  /** A member was reaped: its entries go (on every replica alike). */
  memberReaped(nodeId: string): void {
    this.#out.run(() => {
      this.#seniority.delete(nodeId);
      this.state.dropOrigin(nodeId);
    });
  }

  onDelta(from: string, wires: WireClaim[]): void {
    this.#out.run(() => {
      const admit = (e: StateEntry) => this.#acceptable(e);
      const results = wires.map((w) => this.#entries.verify(w, admit));
      const self = this.#h.identity.nodeId;
      const finish = (entries: Array<StateEntry | null>) => {
        const good: StateEntry[] = [];
        const rewrite: StateEntry[] = [];
        for (const e of entries) {
          // Checked again: the wall clock may have stepped back while verification ran.
          if (e === null || !this.#hlc.acceptable(e.ts)) {
            this.#counters.rejected++;
            continue;
          }
          const held = this.state.get(e.table, e.origin, e.key);
          // Only what would change the state costs its origin quota: copies of entries held, or
          // older ones (below the origin's low-water mark too), replayed by anyone, must not
          // starve the origin's real writes.
          const news = held ? lwwWins(e, held) : e.ts.wall >= this.state.lowWaterMark(e.origin);
          if (news && !this.#quota.take(e.origin)) {
            this.#counters.throttled++;
            continue;
          }
          if (e.origin !== self) {
            this.#hlc.receive(e.ts);
            good.push(e);
          } else {
            this.#hlc.passOwn(e.ts);
            if (held && this.#written.has(held) && lwwWins(e, held)) rewrite.push(held);
            else good.push(e);
          }
        }
        const changed = this.state.merge(good, from);
        // Along the tree: new entries keep an eager link a tree edge; copies of what we hold
        // (or older) count towards pruning it. Entries over a lazy link are an anti-entropy
        // repair (a graft's answer comes over a link the graft made eager): they say nothing
        // of the tree, and must not turn the link eager.
        const tree = this.#h.tree;
        const edge = tree.isEager(from, BroadcastKind.Entry) ? from : undefined;
        const copies = good.length - changed.length;
        if (changed.length > 0) tree.delivered(BroadcastKind.Entry, edge, changed.length);
        if (copies > 0) tree.duplicate(BroadcastKind.Entry, from, copies);
        for (const held of rewrite) {
          this.#counters.restamped++;
          this.#write(held.table, held.key, held.value);
        }
      };
      void whenVerified(allVerified(results), (entries) => this.#out.run(() => finish(entries)));
    });
  }

  onTree(from: string, msg: MessageOf<'tree'>): void {
    this.#out.run(() => {
      this.#antiEntropy.onTree(from, msg);
    });
  }

  /** Starts an anti-entropy session with `peer` now. */
  syncWith(peer: string): void {
    this.#out.run(() => {
      this.#antiEntropy.start(peer);
    });
  }

  root(): Uint8Array {
    return this.state.tree.root();
  }

  metrics(): StateReplicaMetrics {
    const m = this.state.metricsSnapshot();
    const ae = this.#antiEntropy.metrics;
    return {
      ...m,
      ...this.#counters,
      antiEntropySessions: ae.sessions,
      antiEntropyHashes: ae.hashesSent,
      antiEntropyEntries: ae.entriesSent,
      antiEntropyThrottled: ae.throttled,
    };
  }

  // ---- internals ----

  #write(table: StateTable, key: string, value: Uint8Array | undefined): StateEntry {
    const e = signEntry(this.#h.identity, table, key, value, this.#hlc.now());
    this.#written.add(e);
    this.state.merge([e]);
    return e;
  }

  /** Origins that are no longer members (however they left the table) lose their entries and standing. */
  #sweep(): void {
    const self = this.#h.identity.nodeId;
    for (const o of [...this.state.map.origins()])
      if (o !== self && !this.#h.memberKey(o)) this.state.dropOrigin(o);
    for (const o of [...this.#seniority.keys()]) if (!this.#h.memberKey(o)) this.#seniority.delete(o);
  }

  /** Boundary checks after decoding: known, admitted origin; not from the future; within quota. */
  #acceptable(e: StateEntry): boolean {
    const key = this.#h.memberKey(e.origin);
    if (!key || !this.#h.admits(key)) return false;
    if (!this.#hlc.acceptable(e.ts)) return false;
    if (!this.state.get(e.table, e.origin, e.key)) {
      let held = 0;
      for (const _ of this.state.map.ofOrigin(e.origin))
        if (++held >= this.#o.maxEntriesPerOrigin) return false;
    }
    return e.table === 'p'
      ? valid(() => e.value && decodeProcess(e.value))
      : valid(() => e.value && decodeService(e.value));
  }

  /**
   * Sends the news to the eager neighbours after `gossipIntervalMs`, and announces it to the
   * lazy ones later (LAZY_AFTER_MS): announcements are for repair, the tree brings news
   * sooner, and a later flush gathers more of it in one announcement frame per link.
   */
  #gossipSoon(): void {
    const f = this.#flushes;
    if (!f) return;
    const { scheduler } = this.#env;
    f.eager ??= scheduler.setTimer(this.#o.gossipIntervalMs, () => {
      f.eager = undefined;
      this.#gossip(true);
    });
    f.lazy ??= scheduler.setTimer(Math.max(LAZY_AFTER_MS, this.#o.gossipIntervalMs), () => {
      f.lazy = undefined;
      this.#gossip(false);
    });
  }

  /** News to the eager neighbours in full, or to the lazy ones as announcements. */
  #gossip(eager: boolean): void {
    const tree = this.#h.tree;
    let more = false;
    for (const peer of this.#h.peers()) {
      if (tree.isEager(peer, BroadcastKind.Entry) !== eager) {
        // A link that turned eager since the last flush to eager links: its news goes now.
        more ||= !eager && this.state.pending(peer);
        continue;
      }
      const delta = this.state.deltaFor(peer, DELTA_BUDGET);
      more ||= this.state.pending(peer);
      if (delta.length === 0) continue;
      if (!eager) {
        tree.announce(peer, BroadcastKind.Entry, delta.map(versionId));
        continue;
      }
      this.#counters.deltasSent++;
      this.#send(peer, { type: 'state-delta', entries: delta.map((e) => e.wire) });
    }
    // A delta stopped at its byte budget: the rest goes in the next frame.
    if (more) this.#gossipSoon();
  }

  #remember(e: StateEntry): void {
    const key = idKey(BroadcastKind.Entry, versionId(e));
    setBounded(this.#recent, key, e.id, RECENT_VERSIONS);
  }

  /**
   * A neighbour grafted these versions: it gets the registers' current entries (never older),
   * within the same byte budget as anti-entropy answers to it — a graft is repair too, and
   * must not crowd the link's probes out; what does not fit waits for anti-entropy.
   */
  #resend(peer: string, ids: Uint8Array[]): void {
    const entries = new Set<StateEntry>();
    for (const id of ids) {
      const register = this.#recent.get(idKey(BroadcastKind.Entry, id));
      const e = register === undefined ? undefined : this.state.map.get(register);
      if (e) entries.add(e);
    }
    let batch: StateEntry[] = [];
    let bytes = 0;
    const flush = () => {
      if (batch.length === 0 || !this.#answers.take(peer, bytes)) return;
      this.#counters.deltasSent++;
      this.#send(peer, { type: 'state-delta', entries: batch.map((e) => e.wire) });
      batch = [];
      bytes = 0;
    };
    for (const e of entries) {
      if (bytes + e.size > DELTA_BUDGET) flush();
      batch.push(e);
      bytes += e.size;
    }
    flush();
  }

  /**
   * Tombstone collection: re-stamp our live entries older than half the lifetime, then
   * declare everything older than the lifetime void (in our alive claim).
   */
  #collect(): void {
    const now = Math.floor(this.#h.env.clock.wallNow());
    const lifetime = this.#o.tombstoneLifetimeMs;
    for (const e of [...this.state.map.ofOrigin(this.#h.identity.nodeId)]) {
      if (e.value && e.ts.wall < now - lifetime / 2) this.#write(e.table, e.key, e.value);
    }
    // Only worth a new alive claim when there is a tombstone to collect.
    const mark = now - lifetime;
    const own = [...this.state.map.ofOrigin(this.#h.identity.nodeId)];
    if (own.some((e) => !e.value && e.ts.wall < mark)) {
      this.state.setLowWaterMark(this.#h.identity.nodeId, mark);
      this.#out.push({ type: 'low-water-mark', wall: mark });
    }
  }

  #send(peer: string, msg: MessageOf<'state-delta'> | MessageOf<'tree'>): void {
    this.#counters.bytesSent += this.#h.send(peer, msg);
  }

  #every(ms: number, fn: () => void): void {
    const { scheduler, random } = this.#env;
    const run = (delay: number) => {
      const t = scheduler.setTimer(delay, () => {
        this.#timers.delete(t);
        fn();
        run(ms);
      });
      this.#timers.add(t);
    };
    run(random.next() * ms);
  }
}

function valid(f: () => unknown): boolean {
  try {
    f();
    return true;
  } catch {
    return false;
  }
}

/** A version's tree id: its digest (a hash of the signed entry) names it. */
function versionId(e: StateEntry): Uint8Array {
  return e.digest.subarray(0, ID_BYTES);
}

/** State entries are signed by their origin, whose key comes from membership. */
export function entryKind(memberKey: (nodeId: string) => Uint8Array | undefined): SignedKind<StateEntry> {
  return { interpret: interpretEntry, domain: () => Domain.Entry, signerKey: (e) => memberKey(e.origin) };
}
