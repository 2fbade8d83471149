/**
 * Epidemic broadcast trees (Plumtree: Leitão, Pereira, Rodrigues 2007) over the node's links.
 *
 * Every link starts eager: a new message goes out on it in full. (A burst of many senders
 * at once on a fresh mesh prunes nearly every link before a tree forms, and the tree then
 * re-forms through grafts: 100 nodes, 20 senders firing together every second for 5 s make
 * 3.0 copies per delivery, most in the first second, against none once a tree has formed
 * under ordinary traffic.) A copy that arrives again over an eager link is a duplicate;
 * after `pruneAfter` duplicates in a row from one peer (no first delivery in between) the
 * link turns lazy on both ends (PRUNE), so the eager links settle into a spanning tree,
 * which serves every sender with no copies at all: a one-off copy (two paths racing once)
 * does not flap a link the tree needs. Lazy links carry only announcements (IHAVE: 8-byte
 * message ids, batched). A node that hears of a message it lacks waits `graftAfterMs` (to
 * 1.5 times it) for the tree to bring it, then asks the announcer (GRAFT), which sends it
 * and makes the link eager again: that is how the tree repairs itself after a link loss or
 * a crash.
 *
 * The tree knows ids, not payloads: each kind of broadcast (membership claims, state
 * entries, application messages) is a channel that says whether it holds an id and
 * re-sends payloads a graft asked for, and has a tree of its own over the links (KINDS).
 * A large message is announced before it is sent on (DONTWANT, after gossipsub v1.2's
 * IDONTWANT) so that neighbours which are about to send it to us do not.
 *
 * Bounded everywhere, because every peer may lie: announcements queued per lazy peer (the
 * oldest are dropped under pressure: anti-entropy repairs what that costs), ids awaited at
 * once, announcers remembered per id, grafts served per peer per second, DONTWANT ids per
 * peer. Frames from a peer with no link are ignored.
 */
import type { Env } from '../time/types.ts';
import { Outbox } from '../util/outbox.ts';
import { RateLimiter } from '../util/rate-limit.ts';
import type { MessageOf } from '../wire/messages.ts';
import { ID_BYTES, idKey, idKeyAt, packIds, unpackIds } from './ids.ts';
import { BroadcastKind, emptyTreeMetrics, type TreeMetrics } from './metrics.ts';

export interface TreeOptions {
  /** Duplicates in a row from one eager peer before the link is pruned to lazy. Default 3. */
  pruneAfter?: number;
  /**
   * How long an announced message may take to arrive along the tree before it is grafted
   * (each wait is drawn between this and 1.5 times this). Default 500 ms.
   */
  graftAfterMs?: number;
  /** Announcements are sent in batches at this interval. Default 200 ms. */
  announceIntervalMs?: number;
  /** Announcements queued per lazy peer; beyond it the oldest are dropped. Default 1,024. */
  maxQueuedAnnouncements?: number;
  /** Messages awaited after an announcement, at once. Default 4,096. */
  maxMissing?: number;
  /** Ids a peer may graft per second (burst ×4). Default 512. */
  graftsPerSecond?: number;
  /** Payloads at least this large are preceded by DONTWANT to eager peers. Default 2,048 bytes. */
  dontWantBytes?: number;
  /**
   * A new link is told of the messages this node delivered within this long (at most
   * `recentOnLinkUp` per kind): one that was on its way while the peer changed links passed
   * it by on both its old and its new links. Default 10,000 ms.
   */
  recentOnLinkUpMs?: number;
  /** Most ids per kind announced to a new link. Default 64. */
  recentOnLinkUp?: number;
}

/** One kind of broadcast, as the tree sees it. */
export interface TreeChannel {
  /** Whether this node already holds the message whose id has this key (idKey(kind, id)). */
  has(key: string): boolean;
  /** Sends the messages with these ids (those it still holds) to `peer`, which grafted them. */
  resend(peer: string, ids: Uint8Array[]): void;
  /** Ids of messages delivered within the last `withinMs`, newest first, at most `max`. */
  recent?(withinMs: number, max: number): Uint8Array[];
}

export type TreeMessage =
  | MessageOf<'ihave'>
  | MessageOf<'graft'>
  | MessageOf<'prune'>
  | MessageOf<'dontwant'>;

export interface TreeHost {
  readonly env: Env;
  send(peer: string, msg: TreeMessage): void;
}

type Output = { to: string; msg: TreeMessage } | { resend: TreeChannel; to: string; ids: Uint8Array[] };

interface Missing {
  kind: BroadcastKind;
  id: Uint8Array;
  /** Peers that announced it, in order; the next to ask is at `next`. */
  announcers: string[];
  next: number;
  /** The peer whose share of maxMissing it counts against (its first announcer). */
  by: string;
}

/**
 * A peer's announcements may hold at most 1 / MISSING_SHARE of the ids awaited: one that
 * announces ids it never sends (each given up a graft later) would otherwise keep the table
 * full, and every honest announcement would be dropped.
 */
const MISSING_SHARE = 4;

/** Most ids in one announcement or graft frame (the wire allows this many). */
export const MAX_IDS_PER_FRAME = 512;
const MAX_ANNOUNCERS = 4;
/**
 * Each kind of broadcast prunes and grafts a tree of its own over the same links: their
 * senders and bursts differ (join and failure news from anywhere, at a heal all at once;
 * state writes; the application's), and on one shared tree the membership news of a heal
 * made links eager that then carried every state entry in full — twice the state traffic
 * of `sim --nodes 200 --writes 1000 --partition`.
 */
const KINDS = Object.values(BroadcastKind);
const MAX_UNWANTED_PER_PEER = 256;

/** One kind's tree over the linked peers. */
interface KindTree {
  eager: Set<string>;
  lazy: Set<string>;
  /** Duplicates in a row per eager peer. */
  dups: Map<string, number>;
  /** Per peer: when this node last grafted from it, and how many copies its answer may still bring (see duplicate()). */
  grafted: Map<string, { at: number; copies: number }>;
}

export class BroadcastTree {
  readonly metrics: TreeMetrics = emptyTreeMetrics();
  readonly #env: Env;
  readonly #out: Outbox<Output>;
  readonly #o: Required<TreeOptions>;
  readonly #channels = new Map<BroadcastKind, TreeChannel>();
  /** Linked peers; each kind of broadcast has a tree of its own over them (see KINDS). */
  readonly #linked = new Set<string>();
  readonly #trees: KindTree[] = KINDS.map(() => ({
    eager: new Set(),
    lazy: new Set(),
    dups: new Map(),
    grafted: new Map(),
  }));
  /** Per lazy peer: kind → ids to announce at the next flush (by key: a peer's own announcement withdraws one). */
  readonly #queued = new Map<string, Map<BroadcastKind, Map<string, Uint8Array>>>();
  readonly #queuedCount = new Map<string, number>();
  readonly #missing = new Map<string, Missing>();
  /** Missing ids by the peer that announced each first: a share of maxMissing each. */
  readonly #missingBy = new Map<string, number>();
  /** Per peer: ids it said it does not want (FIFO, bounded). */
  readonly #unwanted = new Map<string, Set<string>>();
  readonly #graftQuota: RateLimiter;
  #flushTimer: number | undefined;
  #stopped = false;

  constructor(host: TreeHost, opts: TreeOptions = {}) {
    this.#o = {
      pruneAfter: opts.pruneAfter ?? 3,
      graftAfterMs: opts.graftAfterMs ?? 500,
      announceIntervalMs: opts.announceIntervalMs ?? 200,
      maxQueuedAnnouncements: opts.maxQueuedAnnouncements ?? 1_024,
      maxMissing: opts.maxMissing ?? 4_096,
      graftsPerSecond: opts.graftsPerSecond ?? 512,
      dontWantBytes: opts.dontWantBytes ?? 2_048,
      recentOnLinkUpMs: opts.recentOnLinkUpMs ?? 10_000,
      recentOnLinkUp: Math.min(opts.recentOnLinkUp ?? 64, MAX_IDS_PER_FRAME),
    };
    this.#out = new Outbox((o) => {
      if ('msg' in o) host.send(o.to, o.msg);
      else o.resend.resend(o.to, o.ids);
    });
    this.#env = this.#out.wrap(host.env);
    const rate = this.#o.graftsPerSecond;
    this.#graftQuota = new RateLimiter(rate, rate * 4, () => host.env.clock.now(), 1_024);
  }

  /** Registers the channel that holds and re-sends the messages of `kind`. */
  channel(kind: BroadcastKind, channel: TreeChannel): void {
    this.#channels.set(kind, channel);
  }

  /** Stops the announcement timer; awaited messages are no longer grafted. */
  stop(): void {
    this.#stopped = true;
    if (this.#flushTimer !== undefined) this.#env.scheduler.cancelTimer(this.#flushTimer);
    this.#flushTimer = undefined;
    this.#missing.clear();
    this.#missingBy.clear();
  }

  linkUp(peer: string): void {
    this.#out.run(() => {
      this.#linked.add(peer);
      for (const t of this.#trees) {
        t.lazy.delete(peer);
        t.eager.add(peer);
        t.dups.delete(peer);
      }
      // Plumtree repairs through announcements on links that existed as a message passed; a
      // peer that was changing links then (evicted, replaced, redialled: seed sweep, a node
      // that missed an application broadcast in a lossy sparse mesh) is told of it here.
      this.#announceRecent(peer);
    });
  }

  /**
   * Tells a linked peer of the messages delivered here lately, as a new link is told: for a
   * peer that was linked all along but could not hear (frozen, its frames lost) for about
   * `unheardMs`, which its owner learns when the peer refutes a suspicion of it. At most
   * `recentOnLinkUp` ids per kind, the newest, as on a link-up.
   */
  announceRecent(peer: string, unheardMs = 0): void {
    this.#out.run(() => {
      if (this.#linked.has(peer)) this.#announceRecent(peer, Math.max(this.#o.recentOnLinkUpMs, unheardMs));
    });
  }

  #announceRecent(peer: string, withinMs = this.#o.recentOnLinkUpMs): void {
    const { recentOnLinkUp } = this.#o;
    for (const [kind, channel] of this.#channels) {
      const ids = channel.recent?.(withinMs, recentOnLinkUp) ?? [];
      if (ids.length === 0) continue;
      this.metrics.announcementsSent += ids.length;
      this.#out.push({ to: peer, msg: { type: 'ihave', k: kind, ids: packIds(ids) } });
    }
  }

  linkDown(peer: string): void {
    this.#linked.delete(peer);
    for (const t of this.#trees) {
      t.eager.delete(peer);
      t.lazy.delete(peer);
      t.dups.delete(peer);
      t.grafted.delete(peer);
    }
    this.#queued.delete(peer);
    this.#queuedCount.delete(peer);
    this.#unwanted.delete(peer);
  }

  isEager(peer: string, kind: BroadcastKind): boolean {
    return this.#trees[kind]!.eager.has(peer);
  }

  /** Current eager and lazy neighbours (for metrics and tests). */
  shape(kind: BroadcastKind): { eager: string[]; lazy: string[] } {
    const t = this.#trees[kind]!;
    return { eager: [...t.eager], lazy: [...t.lazy] };
  }

  /**
   * Messages this node delivers for the first time (`count` of them, e.g. a batch of state
   * entries) from `from`: the sender is a tree edge (a lazy one that sent them answered a
   * graft), and its run of duplicates ends.
   */
  delivered(kind: BroadcastKind, from: string | undefined, count = 1): void {
    this.metrics.delivered[kind] += count;
    if (from === undefined) return;
    const t = this.#trees[kind]!;
    t.dups.set(from, 0);
    if (t.lazy.delete(from)) t.eager.add(from);
  }

  /**
   * A message this node delivers for the first time (`from`: the peer it came from, none for
   * its own). Returns the peers to send it to in full (eager, minus the sender and those that
   * declined it); the lazy peers get an announcement. `bytes`: its size, for DONTWANT.
   * `edge`: it came over the tree (pushed, or grafted) — false for one that came another way
   * (membership news in a probe's piggyback or an exchange), which says nothing of the link.
   */
  spread(kind: BroadcastKind, id: Uint8Array, from?: string, bytes = 0, edge = true): string[] {
    return this.#out.run(() => {
      const key = idKey(kind, id);
      const announced = this.#forgetMissing(key)?.announcers;
      this.delivered(kind, edge ? from : undefined);
      const targets: string[] = [];
      const tree = this.#trees[kind]!;
      for (const p of tree.eager) {
        if (p === from) continue;
        if (this.#unwanted.get(p)?.has(key)) continue;
        targets.push(p);
      }
      if (from !== undefined && bytes >= this.#o.dontWantBytes) {
        for (const p of targets)
          this.#out.push({ to: p, msg: { type: 'dontwant', k: kind, ids: packIds([id]) } });
      }
      // Not to those that announced it to us: they have it.
      for (const p of tree.lazy) if (p !== from && !announced?.includes(p)) this.#announce(p, kind, id, key);
      return targets;
    });
  }

  /**
   * A message delivered here late (`from` sent it a while ago: it waited, as a newcomer's
   * claim waits for the quota). The eager neighbours it would have been pushed to are told of
   * it, not sent it: by now most have it from others, and each copy would be a duplicate
   * that prunes a tree edge (a node admitting many late pruned all its eager links). The lazy
   * ones are not told again: they heard of it from whoever delivered it in time (telling them
   * too made a node send a frame to every neighbour at each admission, ~18 a second).
   */
  announceLate(kind: BroadcastKind, id: Uint8Array, from: string | undefined): void {
    this.#out.run(() => {
      const key = idKey(kind, id);
      this.#forgetMissing(key);
      this.delivered(kind, undefined);
      for (const p of this.#trees[kind]!.eager) if (p !== from) this.#announce(p, kind, id, key);
    });
  }

  /**
   * Announces messages to one lazy peer, for a channel that batches per peer (state deltas
   * go to each neighbour from a cursor: the eager ones get the entries, the lazy ones this).
   */
  announce(peer: string, kind: BroadcastKind, ids: readonly Uint8Array[]): void {
    this.#out.run(() => {
      if (!this.#trees[kind]!.lazy.has(peer)) return;
      for (const id of ids) this.#announce(peer, kind, id);
    });
  }

  /**
   * Copies of messages this node already held (`count` of them, in one frame) arrived from
   * `from`. A frame of copies counts once towards pruning: a batch of state entries is one
   * redundant transfer, not many.
   */
  duplicate(kind: BroadcastKind, from: string, count = 1): void {
    this.#out.run(() => {
      this.metrics.duplicates[kind] += count;
      // A peer this node holds lazy sent copies in full: it holds the link eager (its end
      // turned eager on a first delivery of ours, which ours did not), and would go on sending
      // a copy of everything. Prune its end too.
      const t = this.#trees[kind]!;
      if (t.lazy.has(from)) {
        this.metrics.prunesSent++;
        this.#out.push({ to: from, msg: { type: 'prune', k: kind } });
        return;
      }
      if (!t.eager.has(from)) return;
      // The answer to a graft (as many messages as were asked, within graftAfterMs) prunes
      // nothing: some of what it brings came meanwhile another way (both parts of a cut tree
      // graft the same messages at many nodes), and the graft made the link a tree edge.
      // Counted, those copies pruned it again at once and the tree never re-formed.
      const g = t.grafted.get(from);
      if (g && g.copies > 0 && this.#env.clock.now() - g.at < this.#o.graftAfterMs) {
        g.copies -= Math.min(count, g.copies);
        return;
      }
      const n = (t.dups.get(from) ?? 0) + 1;
      t.dups.set(from, n);
      if (n < this.#o.pruneAfter) return;
      t.eager.delete(from);
      t.lazy.add(from);
      t.dups.delete(from);
      this.metrics.prunesSent++;
      this.#out.push({ to: from, msg: { type: 'prune', k: kind } });
    });
  }

  onMessage(from: string, msg: TreeMessage): void {
    this.#out.run(() => {
      if (!this.#linked.has(from)) {
        this.metrics.ignored++;
        return;
      }
      switch (msg.type) {
        case 'prune':
          this.#onPrune(from, msg.k);
          return;
        case 'ihave':
          this.#onIHave(from, msg.k as BroadcastKind, msg.ids);
          return;
        case 'graft':
          this.#onGraft(from, msg.k as BroadcastKind, msg.ids);
          return;
        case 'dontwant':
          this.#onDontWant(from, msg.k as BroadcastKind, msg.ids);
          return;
      }
    });
  }

  #onIHave(from: string, kind: BroadcastKind, packed: Uint8Array): void {
    const channel = this.#channels.get(kind);
    if (!channel || packed.length % ID_BYTES !== 0) {
      this.metrics.ignored++;
      return;
    }
    this.metrics.announcementsReceived += packed.length / ID_BYTES;
    const fresh: string[] = [];
    const queued = this.#queued.get(from)?.get(kind);
    // Keys straight from the packed list: every node reads every message's id from each lazy
    // link, and an array per id was most of what a large simulated join left to collect.
    for (let at = 0; at < packed.length; at += ID_BYTES) {
      const key = idKeyAt(kind, packed, at);
      if (channel.has(key)) {
        // It has it: an announcement of it still queued for it would be wasted.
        if (queued && queued.size > 0 && queued.delete(key)) {
          this.#queuedCount.set(from, this.#queuedCount.get(from)! - 1);
          this.metrics.announcementsWithdrawn++;
        }
        continue;
      }
      const m = this.#missing.get(key);
      if (m) {
        if (m.announcers.length < MAX_ANNOUNCERS && !m.announcers.includes(from)) m.announcers.push(from);
        continue;
      }
      const mine = this.#missingBy.get(from) ?? 0;
      if (this.#missing.size >= this.#o.maxMissing || mine >= this.#o.maxMissing / MISSING_SHARE) {
        this.metrics.missingDropped++;
        continue;
      }
      this.#missingBy.set(from, mine + 1);
      this.#missing.set(key, {
        kind,
        id: packed.slice(at, at + ID_BYTES),
        announcers: [from],
        next: 0,
        by: from,
      });
      fresh.push(key);
    }
    // Drawn from graftAfterMs to 1.5 times it: the nodes of a part cut off from the tree hear
    // of the other part's messages at nearly the same time, and grafting them all at once
    // made as many eager links across the cut (copies, then prunes that cut the tree again).
    // The first to graft pushes them on inside its part, and the others need not.
    if (fresh.length > 0) this.#graftLater(fresh, this.#o.graftAfterMs * (1 + this.#env.random.next() / 2));
  }

  /** No longer awaited: out of the table, and off its announcer's share. */
  #forgetMissing(key: string): Missing | undefined {
    const m = this.#missing.get(key);
    if (!m) return undefined;
    this.#missing.delete(key);
    const n = (this.#missingBy.get(m.by) ?? 1) - 1;
    if (n > 0) this.#missingBy.set(m.by, n);
    else this.#missingBy.delete(m.by);
    return m;
  }

  /** Asks for those of `keys` still missing, each from its next announcer; again later if that fails. */
  #graftLater(keys: string[], delayMs: number): void {
    if (this.#stopped) return;
    this.#env.scheduler.setTimer(delayMs, () => {
      if (this.#stopped) return;
      const byPeer = new Map<string, Map<BroadcastKind, Uint8Array[]>>();
      const again: string[] = [];
      for (const key of keys) {
        const m = this.#missing.get(key);
        if (!m) continue;
        const channel = this.#channels.get(m.kind);
        if (!channel || channel.has(key)) {
          this.#forgetMissing(key);
          continue;
        }
        let peer: string | undefined;
        while (m.next < m.announcers.length && peer === undefined) {
          const p = m.announcers[m.next++]!;
          if (this.#linked.has(p)) peer = p;
        }
        if (peer === undefined) {
          this.#forgetMissing(key); // nobody left to ask: anti-entropy's to repair
          this.metrics.missingDropped++;
          continue;
        }
        valueIn(byPeer, peer, m.kind, (): Uint8Array[] => []).push(m.id);
        again.push(key);
      }
      for (const [peer, kinds] of byPeer) {
        for (const [kind, ids] of kinds) {
          // The graft makes the link an edge of this kind's tree again (Plumtree's repair).
          const t = this.#trees[kind]!;
          if (t.lazy.delete(peer)) t.eager.add(peer);
          t.dups.delete(peer);
          t.grafted.set(peer, { at: this.#env.clock.now(), copies: ids.length });
          for (let i = 0; i < ids.length; i += MAX_IDS_PER_FRAME) {
            const part = ids.slice(i, i + MAX_IDS_PER_FRAME);
            this.metrics.graftsSent += part.length;
            this.#out.push({ to: peer, msg: { type: 'graft', k: kind, ids: packIds(part) } });
          }
        }
      }
      // The graft may be lost too: try the next announcer (or the same one) after half the wait.
      if (again.length > 0) this.#graftLater(again, this.#o.graftAfterMs / 2);
    });
  }

  #onGraft(from: string, kind: BroadcastKind, packed: Uint8Array): void {
    const channel = this.#channels.get(kind);
    const ids = unpackIds(packed);
    if (!channel || !ids) {
      this.metrics.ignored++;
      return;
    }
    const t = this.#trees[kind]!;
    if (t.lazy.delete(from)) t.eager.add(from);
    t.dups.delete(from);
    if (!this.#graftQuota.take(from, ids.length)) {
      this.metrics.graftsRefused += ids.length;
      return;
    }
    this.metrics.graftsServed += ids.length;
    this.#out.push({ resend: channel, to: from, ids });
  }

  /** A PRUNE of one kind's tree, or (no kind: an older peer's) of every kind's. */
  #onPrune(from: string, kind: number | undefined): void {
    if (kind !== undefined && !this.#channels.has(kind as BroadcastKind)) {
      this.metrics.ignored++;
      return;
    }
    for (const k of kind === undefined ? KINDS : [kind as BroadcastKind]) {
      const t = this.#trees[k]!;
      if (t.eager.delete(from)) t.lazy.add(from);
    }
  }

  #onDontWant(from: string, kind: BroadcastKind, packed: Uint8Array): void {
    const ids = unpackIds(packed);
    if (!this.#channels.has(kind) || !ids) {
      this.metrics.ignored++;
      return;
    }
    const set = this.#unwanted.get(from) ?? new Set<string>();
    this.#unwanted.set(from, set);
    for (const id of ids) {
      set.add(idKey(kind, id));
      if (set.size > MAX_UNWANTED_PER_PEER) set.delete(set.values().next().value!);
    }
  }

  #announce(peer: string, kind: BroadcastKind, id: Uint8Array, key = idKey(kind, id)): void {
    const list = valueIn(this.#queued, peer, kind, () => new Map<string, Uint8Array>());
    const kinds = this.#queued.get(peer)!;
    if (list.has(key)) return;
    list.set(key, id);
    const count = (this.#queuedCount.get(peer) ?? 0) + 1;
    this.#queuedCount.set(peer, count);
    if (count > this.#o.maxQueuedAnnouncements) {
      // Under pressure the oldest announcement goes (of the longest list): repair is anti-entropy's.
      let longest = list;
      for (const l of kinds.values()) if (l.size > longest.size) longest = l;
      longest.delete(longest.keys().next().value!);
      this.#queuedCount.set(peer, count - 1);
      this.metrics.announcementsDropped++;
    }
    if (this.#flushTimer === undefined && !this.#stopped) {
      this.#flushTimer = this.#env.scheduler.setTimer(this.#o.announceIntervalMs, () => this.#flush());
    }
  }

  #flush(): void {
    this.#flushTimer = undefined;
    // A peer that turned eager since (a graft either way, a first delivery from it) still
    // gets these: they went out before, when it was lazy, and not in full.
    for (const [peer, kinds] of this.#queued) {
      for (const [kind, queued] of kinds) {
        const ids = [...queued.values()];
        for (let i = 0; i < ids.length; i += MAX_IDS_PER_FRAME) {
          const part = ids.slice(i, i + MAX_IDS_PER_FRAME);
          this.metrics.announcementsSent += part.length;
          this.#out.push({ to: peer, msg: { type: 'ihave', k: kind, ids: packIds(part) } });
        }
      }
    }
    this.#queued.clear();
    this.#queuedCount.clear();
  }
}

/** The value for `peer` and `kind` in a two-level map, made if absent. */
function valueIn<V>(
  map: Map<string, Map<BroadcastKind, V>>,
  peer: string,
  kind: BroadcastKind,
  make: () => V,
): V {
  let kinds = map.get(peer);
  if (!kinds) {
    kinds = new Map();
    map.set(peer, kinds);
  }
  let value = kinds.get(kind);
  if (value === undefined) {
    value = make();
    kinds.set(kind, value);
  }
  return value;
}
