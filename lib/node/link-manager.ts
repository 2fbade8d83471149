/**
 * The node's direct links: a bounded, self-healing set, HyParView-style. The node dials
 * random known members until it has `minLinks` and keeps at most `maxLinks`; the result is
 * a random graph, connected and of small diameter. A full node still makes room, so no
 * node can be shut out: a newcomer gets a *transient* link that serves its join exchange
 * and is closed after it; a known member gets a regular link for which the full node drops
 * a neighbour that has more than `minLinks` links (HyParView's eviction, made safe by the
 * link counts neighbours report). Two links to one peer (both dialled at once) are
 * resolved deterministically: the one dialled by the lower node id stays, and the other is
 * retired without losing what either end sent on it. Dials follow the
 * dial policy (dial-policy.ts): one at a time per endpoint, backoff after failures, and
 * addresses from claims that never complete a handshake are given up.
 */
import { BROADCAST_CHANNEL } from '../broadcast-channel/transport.ts';
import type { Claim } from '../membership/claims.ts';
import { shuffle } from '../time/random.ts';
import type { Env } from '../time/types.ts';
import type { DeliveryClass, Link, Transport } from '../transport/types.ts';
import { setBounded } from '../util/bounded-map.ts';
import { type Advert, DialBackoff, type DialPolicy, endpointOf } from './dial-policy.ts';

export interface LinkPolicy {
  /** Hard cap of direct links. Default 24. */
  maxLinks: number;
  /** The node dials until it has this many. Default ⌈maxLinks / 2⌉. */
  minLinks: number;
  /**
   * A link that delivers nothing for this long is torn down (and the peer redialled): a
   * connection that looks open on both ends but carries no data. Quiet links get a
   * keepalive at a third of it. Default 30,000 ms.
   */
  idleTimeoutMs: number;
}

/** A member to dial, from its alive claim. */
export interface DialTarget {
  nodeId: string;
  addrs: readonly string[];
  /** The claim's incarnation (unknown for reaped members): a higher one re-advertising a given-up address lifts it. */
  incarnation?: number;
}

export interface LinkManagerOptions {
  env: Env;
  selfId: string;
  transports: Transport[];
  policy: LinkPolicy;
  /** When addresses may be dialled (see DialPolicy). */
  dialing: DialPolicy;
  /** A link came up; `transient` links serve a join exchange only (not probed, not gossiped to). */
  onUp(link: Link, transient: boolean): void;
  /**
   * A regular link is gone. `expected`: this node let it go on purpose (eviction,
   * `close()`), or the peer said goodbye first (its `bye`). Otherwise — the peer's side
   * closed without a word, the link idled out, or the transport failed — the peer may have
   * crashed.
   */
  onDown(nodeId: string, reason: string, expected: boolean): void;
  /** A frame arrived on `link` (the peer's current link). */
  onFrame(nodeId: string, cls: DeliveryClass, frame: Uint8Array, link: Link): void;
  /** Sends a keepalive frame on a quiet link. */
  keepalive(link: Link): void;
  /** Sends the goodbye frame (`bye`) on a link about to be closed on purpose. */
  bye(link: Link): void;
  /**
   * Sends the let-go frame (`unlink`) on a link the peer may still take for its current one:
   * the peer answers with its goodbye and sends nothing more on it.
   */
  unlink(link: Link): void;
  /** Whether a peer is a newcomer (not a known, reachable member): only newcomers get transient links. */
  isNewcomer(nodeId: string): boolean;
  /** A neighbour's own link count, if it told us (its `neighbours` message). */
  peerDegree(nodeId: string): number | undefined;
}

/** The dial target an alive claim describes. */
export function dialTargetOf(alive: Claim): DialTarget {
  return { nodeId: alive.subject, addrs: alive.addrs, incarnation: alive.incarnation };
}

/** A link younger than this is not evicted to make room (it may be mid-exchange). */
const EVICT_MIN_AGE_MS = 1_000;
/** A transient link that has not been used for a join exchange by then is closed; also the longest a gentle close waits for its send buffer to drain. */
const TRANSIENT_TTL_MS = 5_000;
/**
 * A dial its transport has not ended after this long is taken as failed: well past every
 * transport's own bounds (WebRTC: 15 s to connect, then a 10 s handshake).
 */
const DIAL_STUCK_MS = 60_000;
/** Transient links open at once: at least this, or the link cap. */
const MIN_TRANSIENT = 16;
/**
 * A peer whose join exchange a transient link served gets no other transient link this long
 * after. Joined, it dials members for links of its own, this node among them, while this
 * node may still not hold it reachable (its claim waiting for the quota): a second
 * transient link then served no exchange and held its slot for TRANSIENT_TTL_MS. 1,000 nodes
 * joining through one seed over 3 s filled all its slots so, and turned away the joiners
 * behind them (a quarter still Joining 5 s after the last start).
 */
const SERVED_MS = 30_000;
/** Peers remembered as served (a bounded record; the oldest forgotten first). */
const SERVED_MAX = 1_024;

export class LinkManager {
  readonly #o: LinkManagerOptions;
  readonly #links = new Map<string, Link>();
  readonly #since = new Map<string, number>();
  /** Last frame received and sent per link (idle detection, keepalives). */
  readonly #lastIn = new Map<string, number>();
  readonly #lastOut = new Map<string, number>();
  readonly #transient = new Map<string, Link>();
  /** Peers a transient link served a join exchange, and when (see SERVED_MS). */
  readonly #served = new Map<string, number>();
  /**
   * Links let go (duplicates, evicted, refused, released), each with what closes it once the
   * peer's goodbye arrives on it.
   */
  readonly #retiring = new Map<Link, () => void>();
  /**
   * Links the peer said goodbye on (`bye`): a current one's close is expected, and nothing the
   * peer sends on one after that counts.
   */
  readonly #byeFrom = new WeakSet<Link>();
  /** Links whose handlers accept() is setting (frames held on them arrive meanwhile): whether a let-go came. */
  readonly #accepting = new Map<Link, boolean>();
  /** Dials in flight, per endpoint: the claim that named the address, if any, and when it started. */
  readonly #pending = new Map<string, { advert: Advert | undefined; at: number }>();
  readonly #backoff: DialBackoff;
  #closed = false;
  #stuck = 0;

  constructor(opts: LinkManagerOptions) {
    this.#o = opts;
    this.#backoff = new DialBackoff(opts.dialing, opts.env.random, opts.policy.maxLinks);
  }

  get size(): number {
    return this.#links.size;
  }

  /** The links the node dials until it has (LinkPolicy.minLinks). */
  get minLinks(): number {
    return this.#o.policy.minLinks;
  }

  /** Dials taken as failed because their transport never ended them (DIAL_STUCK_MS). */
  get dialsStuck(): number {
    return this.#stuck;
  }

  get pendingDials(): number {
    this.#expireStuckDials();
    return this.#pending.size;
  }

  /**
   * A dial in flight blocks its endpoint and counts towards minLinks, so one that its
   * transport never ends (a bug, or a third-party transport that forgets to report) would
   * stop this node from ever dialling again. Past DIAL_STUCK_MS it counts as failed.
   */
  #expireStuckDials(): void {
    const now = this.#o.env.clock.now();
    for (const [endpoint, p] of this.#pending) {
      if (now - p.at < DIAL_STUCK_MS) continue;
      this.#pending.delete(endpoint);
      this.#backoff.failed(endpoint, now, p.advert);
      this.#stuck++;
    }
  }

  get(nodeId: string): Link | undefined {
    return this.#links.get(nodeId) ?? this.#transient.get(nodeId);
  }

  isTransient(nodeId: string): boolean {
    return this.#transient.has(nodeId);
  }

  peers(): string[] {
    return [...this.#links.keys()];
  }

  /**
   * Dials `address` (a seed, or an explicit connect) unless its endpoint is being dialled or
   * backing off (`eager` ignores the backoff: a joiner retrying its seeds); false if skipped.
   */
  dial(address: string, expectNodeId?: string, eager = false): boolean {
    return this.#dial(address, expectNodeId, eager ? 'eager' : undefined);
  }

  #dial(to: string, expectNodeId: string | undefined, advert: Advert | 'eager' | undefined): boolean {
    const address = this.#nearbyAddress(expectNodeId ?? this.#nodeIdOf(to)) ?? to;
    const endpoint = endpointOf(address);
    this.#expireStuckDials();
    if (this.#closed || this.#pending.has(endpoint)) return false;
    if (expectNodeId !== undefined && (this.#links.has(expectNodeId) || expectNodeId === this.#o.selfId))
      return false;
    const transport = this.#o.transports.find((t) => t.canDial(address));
    if (!transport) return false;
    const claimed = advert === 'eager' ? undefined : advert;
    // An address that names a node (webrtc:<id>) reaches it through the mesh, not a host.
    const named = this.#nodeIdOf(address);
    if (advert !== 'eager' && !this.#backoff.allows(endpoint, this.#o.env.clock.now(), claimed, named))
      return false;
    this.#pending.set(endpoint, { advert: claimed, at: this.#o.env.clock.now() });
    transport.connect(address, expectNodeId === undefined ? {} : { expectNodeId });
    return true;
  }

  /**
   * Whether `nodeId` is linked, or being dialled, over another transport than the one that
   * dials `address`: a tab the signaling room listed before the BroadcastChannel heard it.
   */
  elsewhere(nodeId: string, address: string): boolean {
    const transport = this.#o.transports.find((t) => t.canDial(address));
    if (!transport) return false;
    const link = this.get(nodeId);
    if (link) return link.transport !== transport.name;
    const here = endpointOf(address);
    for (const endpoint of this.#pending.keys())
      if (endpoint !== here && this.#nodeIdOf(endpoint) === nodeId) return true;
    return false;
  }

  /** The node an address of a nearby transport names (`bc:<id>`), whether or not it is still heard. */
  nearbyNodeOf(address: string): string | undefined {
    for (const t of this.#o.transports) {
      const id = t.nearbyAddress ? t.nodeIdOf?.(address) : undefined;
      if (id !== undefined) return id;
    }
    return undefined;
  }

  /** Where a transport found `nodeId` on its own (a tab on the BroadcastChannel): dialled there first. */
  #nearbyAddress(nodeId: string | undefined): string | undefined {
    if (nodeId === undefined) return undefined;
    for (const t of this.#o.transports) {
      const address = t.nearbyAddress?.(nodeId);
      if (address !== undefined) return address;
    }
    return undefined;
  }

  /** The node an address names, if its transport's addresses name nodes (`webrtc:<id>`). */
  #nodeIdOf(address: string): string | undefined {
    return this.#o.transports.find((t) => t.canDial(address))?.nodeIdOf?.(address);
  }

  /** Below minLinks, counting dials in progress. */
  wantsMore(): boolean {
    return this.#links.size + this.pendingDials < this.#o.policy.minLinks;
  }

  /** Dials up to the deficit below minLinks from `candidates` (random order). */
  fill(candidates: DialTarget[]): void {
    let deficit = this.#o.policy.minLinks - this.#links.size - this.pendingDials;
    if (deficit <= 0) return;
    for (const c of shuffle(candidates, this.#o.env.random)) {
      if (deficit <= 0) break;
      if (this.#links.has(c.nodeId) || c.nodeId === this.#o.selfId) continue;
      if (this.dialMember(c)) deficit--;
    }
  }

  /**
   * Dials a member at the first of its addresses some transport can dial; false if skipped.
   * Its claim named the address, so the endpoint may be given up (see DialPolicy).
   */
  /** Whether some transport of this node can dial one of `addrs`. */
  canDialAny(addrs: readonly string[]): boolean {
    return addrs.some((a) => this.#o.transports.some((t) => t.canDial(a)));
  }

  dialMember(target: DialTarget): boolean {
    const address =
      target.addrs.find((a) => this.#o.transports.some((t) => t.canDial(a))) ??
      this.#nearbyAddress(target.nodeId);
    if (address === undefined) return false;
    return this.#dial(address, target.nodeId, {
      nodeId: target.nodeId,
      incarnation: target.incarnation ?? -1,
    });
  }

  /** Transport event: a link finished its handshake. */
  accept(link: Link): void {
    if (this.#closed) {
      link.close('node closed');
      return;
    }
    const id = link.peer.nodeId;
    const existing = this.get(id);
    let transient = false;
    if (existing) {
      // Both ends pick the same survivor (#keepsExisting) and retire the other link rather
      // than close it: the old one may carry requests in flight, and a link closed at once
      // loses what the peer sent on it before it switched (a chain pull waited out its
      // timeout). A link the peer said goodbye on is on its way out: the new one replaces it,
      // and everything the peer sent on it has arrived (its goodbye came last).
      const farewell = this.#byeFrom.has(existing);
      if (!farewell && this.#keepsExisting(existing, link)) {
        // Retiring first: a goodbye held on the new link arrives as its handlers are set.
        this.#retire(link);
        this.#takeUntilGoodbye(link);
        return;
      }
      transient = this.#transient.has(id);
      this.#forget(id);
      if (farewell) this.#closeGently(existing, 'duplicate link');
      else this.#retire(existing);
    } else if (this.#links.size >= this.#o.policy.maxLinks) {
      const slots = Math.max(MIN_TRANSIENT, this.#o.policy.maxLinks);
      const newcomer = this.#o.isNewcomer(id);
      if (newcomer && this.#transient.size < slots && !this.#servedLately(id)) transient = true;
      // Only a member may take a member's place: a key this node does not know as a member
      // (any key, free to make under open admission) gets a transient link or none. Evicting
      // for newcomers let a few dozen throwaway keys take every link of a node, one
      // neighbour at a time, and cut it off from the cluster.
      else if (newcomer || !this.#roomForMember()) {
        // The peer may have taken the link up already (its end finished first) and be sending.
        this.#letGo(link, 'link budget full');
        this.#takeUntilGoodbye(link);
        return;
      }
    }
    (transient ? this.#transient : this.#links).set(id, link);
    if (!transient) this.#since.set(id, this.#o.env.clock.now());
    this.#lastIn.set(id, this.#o.env.clock.now());
    this.#accepting.set(link, false);
    // A link let go (evicted, replaced) may still deliver while it drains: not ours any more.
    const datagram = (f: Uint8Array) => {
      if (this.get(id) !== link) return;
      this.#lastIn.set(id, this.#o.env.clock.now());
      this.#o.onFrame(id, 'datagram', f, link);
    };
    const message = (f: Uint8Array) => {
      if (this.get(id) !== link) {
        // Let go here (replaced by a duplicate, evicted, over budget): until its goodbye on
        // it, the peer sent what arrives before it heard ours, and that counts as anything
        // on a current link does (over WebRTC under load, a relayed request arriving on a
        // link just evicted was dropped and its caller timed out).
        if (!this.#byeFrom.has(link)) this.#o.onFrame(id, 'stream', f, link);
        return;
      }
      this.#lastIn.set(id, this.#o.env.clock.now());
      this.#o.onFrame(id, 'stream', f, link);
    };
    const close = (reason: string) => {
      this.#retiring.delete(link);
      if (this.get(id) !== link) return;
      const expected = this.#byeFrom.has(link);
      // Transient still? It may have been kept as a regular link since (#transientExpired).
      const regular = this.#links.get(id) === link;
      this.#forget(id);
      if (regular) this.#o.onDown(id, reason, expected);
    };
    // What the link held for us (frames the peer sent as soon as its end was up, even its
    // close) arrives as the handlers are set: it waits until the link is up here, or it would
    // reach cores that do not know the peer yet (the broadcast tree dropped the announcements
    // of recent messages a peer sends on link-up, and the message they announced was lost).
    // Only those are deferred; every later frame goes straight through.
    let held: Array<() => void> | undefined = [];
    link.setHandlers({
      datagram: (f) => (held ? held.push(() => datagram(f)) : datagram(f)),
      message: (f) => (held ? held.push(() => message(f)) : message(f)),
      close: (reason) => (held ? held.push(() => close(reason)) : close(reason)),
    });
    if (transient) {
      this.#o.env.scheduler.setTimer(TRANSIENT_TTL_MS, () => this.#transientExpired(id, link));
    }
    if (!existing) this.#o.onUp(link, transient);
    const early = held;
    held = undefined;
    for (const f of early) f();
    const letGo = this.#accepting.get(link);
    this.#accepting.delete(link);
    if (letGo) this.unlinked(link);
  }

  /**
   * A transient link served no join exchange in its time. If its peer has become a reachable
   * member meanwhile, it stays as a regular link, as the member would get one dialling now:
   * in a free slot, or in place of a neighbour that has links to spare. Such a peer is a member
   * this node held down when it dialled (back from a freeze or a partition, its refutation not
   * here yet); its end took the link as a regular one and may have let a neighbour go for it.
   * Closing it left that node short of links with nothing to refill them: the seed sweep's
   * seed 92,640 lost both links between two halves of a sparse mesh so, and a crash declared
   * in one half reached the other 30 s later, by the ghost check. Otherwise it is let go.
   */
  #transientExpired(id: string, link: Link): void {
    if (this.#transient.get(id) !== link) return;
    const member = !this.#closed && !this.#o.isNewcomer(id);
    if (!member || !this.#roomForMember()) {
      this.release(id);
      return;
    }
    this.#transient.delete(id);
    this.#links.set(id, link);
    this.#since.set(id, this.#o.env.clock.now());
    this.#o.onUp(link, false);
  }

  /** Lets a transient link go once its exchange is done. */
  release(nodeId: string): void {
    const link = this.#transient.get(nodeId);
    if (!link) return;
    this.#transient.delete(nodeId);
    setBounded(this.#served, nodeId, this.#o.env.clock.now(), SERVED_MAX);
    this.#letGo(link, 'join exchange done');
  }

  #servedLately(nodeId: string): boolean {
    const at = this.#served.get(nodeId);
    return at !== undefined && this.#o.env.clock.now() - at < SERVED_MS;
  }

  /** The peer said goodbye on `link`: its close that follows is on purpose. */
  farewell(link: Link): void {
    this.#byeFrom.add(link);
    this.#retiring.get(link)?.();
  }

  /**
   * The peer let `link` go (`unlink`, its last word on it). If it is our current link to the
   * peer, it is down now: we answer with our goodbye, so the peer closes knowing all we sent
   * has arrived, and send nothing more on it. A link we let go too just closes.
   */
  unlinked(link: Link): void {
    this.#byeFrom.add(link);
    // Held on the link until accept() set its handlers: handled once the link is announced up.
    if (this.#accepting.has(link)) {
      this.#accepting.set(link, true);
      return;
    }
    const close = this.#retiring.get(link);
    if (close) {
      close();
      return;
    }
    const id = link.peer.nodeId;
    if (this.get(id) !== link) return;
    const transient = this.#transient.has(id);
    this.#forget(id);
    this.#closeGently(link, 'let go by peer');
    if (!transient) this.#o.onDown(id, 'let go by peer', true);
  }

  /**
   * Lets a duplicate link go. Both ends retire the same one (#keepsExisting), each saying
   * goodbye on it; a stream is ordered, so once the peer's goodbye arrives everything it sent
   * on this link before switching has arrived too (and was taken), and nothing more is in
   * flight towards this end. Then it closes once our side drained too. Each wait lasts
   * TRANSIENT_TTL_MS at most (a peer that never says goodbye is gone).
   */
  #retire(link: Link): void {
    this.#o.bye(link);
    this.#awaitGoodbye(link, 'duplicate link');
  }

  /**
   * Lets go a link the peer may still take for its current one (evicted, refused for the
   * budget, a transient link whose exchange is done). Closing it once our side drained would
   * lose what the peer sends until it hears of it (over WebRTC under load, relayed requests
   * were lost so): instead the peer is asked to let go too (`unlink`), and the link closes
   * once its goodbye arrived, everything it sent before taken. A peer that never answers (an
   * older version drops `unlink`) gets our goodbye after TRANSIENT_TTL_MS, then the close.
   */
  #letGo(link: Link, reason: string): void {
    this.#o.unlink(link);
    this.#awaitGoodbye(link, reason, () => this.#o.bye(link));
  }

  /**
   * Closes `link` once the peer's goodbye arrived and our side drained; after TRANSIENT_TTL_MS
   * without it, `timedOut` first. One such link per peer: an older one closes now (it carried
   * less recently still), so a peer redialling in a loop holds one link here, not one per
   * handshake for 5 s.
   */
  #awaitGoodbye(link: Link, reason: string, timedOut?: () => void): void {
    for (const [other, close] of this.#retiring) if (other.peer.nodeId === link.peer.nodeId) close();
    const scheduler = this.#o.env.scheduler;
    const close = () => {
      if (!this.#retiring.delete(link)) return;
      scheduler.cancelTimer(timer);
      this.#closeWhenDrained(link, reason);
    };
    const timer = scheduler.setTimer(TRANSIENT_TTL_MS, () => {
      if (this.#retiring.has(link)) timedOut?.();
      close();
    });
    this.#retiring.set(link, close);
  }

  /** Handlers for a link that never became current here: the peer's frames count until its goodbye. */
  #takeUntilGoodbye(link: Link): void {
    const id = link.peer.nodeId;
    link.setHandlers({
      datagram: () => {},
      message: (f) => {
        if (!this.#byeFrom.has(link)) this.#o.onFrame(id, 'stream', f, link);
      },
      close: () => this.#retiring.delete(link),
    });
  }

  /**
   * Says goodbye, then closes once the send buffer drained (so the goodbye and what was
   * queued before it arrive), waiting at most TRANSIENT_TTL_MS.
   */
  #closeGently(link: Link, reason: string): void {
    this.#o.bye(link);
    this.#closeWhenDrained(link, reason);
  }

  /** Closes `link` once its send buffer drained, or TRANSIENT_TTL_MS later at most. */
  #closeWhenDrained(link: Link, reason: string): void {
    if (link.bufferedAmount === 0) {
      link.close(reason);
      return;
    }
    const scheduler = this.#o.env.scheduler;
    let done = false;
    const close = () => {
      if (done) return;
      done = true;
      scheduler.cancelTimer(timer);
      link.close(reason);
    };
    const timer = scheduler.setTimer(TRANSIENT_TTL_MS, close);
    // Drained, or closed meanwhile (drained() rejects): either way nothing is left to wait for.
    link.drained().then(close, close);
  }

  /**
   * Transport event: a dial ended: linked, failed, or `misdirected` (the address answered as
   * `answered`, another node than the one expected there, its signature verified; without
   * `answered` nothing proves who answered, and it counts as failed). The member it dialled,
   * if it was a member.
   */
  dialEnded(
    address: string,
    outcome: 'linked' | 'failed' | 'misdirected',
    answered?: string,
  ): string | undefined {
    const endpoint = endpointOf(address);
    const advert = this.#pending.get(endpoint)?.advert;
    this.#pending.delete(endpoint);
    const now = this.#o.env.clock.now();
    if (outcome === 'linked') this.#backoff.succeeded(endpoint);
    else if (outcome === 'misdirected' && answered !== undefined)
      this.#backoff.misdirected(endpoint, now, answered);
    else this.#backoff.failed(endpoint, now, advert);
    return advert?.nodeId;
  }

  /** Closes the link to `nodeId` on purpose (the peer is told it is no failure). */
  close(nodeId: string, reason: string): void {
    const link = this.get(nodeId);
    if (!link) return;
    const transient = this.#transient.has(nodeId);
    this.#forget(nodeId);
    this.#closeGently(link, reason);
    if (!transient) this.#o.onDown(nodeId, reason, true);
  }

  closeAll(reason: string): void {
    this.#closed = true;
    for (const link of [...this.#links.values(), ...this.#transient.values()]) link.close(reason);
    for (const close of [...this.#retiring.values()]) close();
  }

  /** Whether a member's link fits: a free slot, or one made by letting a neighbour go (#evictForRoom). */
  #roomForMember(): boolean {
    return this.#links.size < this.#o.policy.maxLinks || this.#evictForRoom();
  }

  /** Drops a random link (older than a second) to a neighbour that keeps more than minLinks. */
  #evictForRoom(): boolean {
    const now = this.#o.env.clock.now();
    const spare = [...this.#links.keys()].filter((peer) => {
      const degree = this.#o.peerDegree(peer);
      return (
        degree !== undefined &&
        degree > this.#o.policy.minLinks &&
        now - this.#since.get(peer)! >= EVICT_MIN_AGE_MS
      );
    });
    if (spare.length === 0) return false;
    const victim = spare[this.#o.env.random.int(spare.length)]!;
    const link = this.#links.get(victim)!;
    this.#forget(victim);
    this.#letGo(link, 'making room for a new link');
    this.#o.onDown(victim, 'evicted', true);
    return true;
  }

  #forget(id: string): void {
    this.#links.delete(id);
    this.#since.delete(id);
    this.#transient.delete(id);
    this.#lastIn.delete(id);
    this.#lastOut.delete(id);
  }

  /** Records that something was sent on the link to `nodeId`. */
  sent(nodeId: string): void {
    this.#lastOut.set(nodeId, this.#o.env.clock.now());
  }

  /** Tears down links that received nothing for idleTimeoutMs; keeps quiet ones alive. */
  checkIdle(): void {
    const now = this.#o.env.clock.now();
    const idle = this.#o.policy.idleTimeoutMs;
    for (const [id, link] of [...this.#links]) {
      if (now - (this.#lastIn.get(id) ?? now) > idle) {
        link.close('idle: no traffic received');
        continue;
      }
      if (now - (this.#lastOut.get(id) ?? 0) > idle / 3) {
        this.#o.keepalive(link);
        this.sent(id);
      }
    }
  }

  /**
   * Both ends pick the same survivor: the incoming link when the peer's run changed (it
   * restarted: the existing link reaches a process that is gone, though it may not time out
   * for idleTimeoutMs, and the new process has no other link to keep), else a BroadcastChannel
   * link over any other kind (it costs no network), else the link dialled by the lower node
   * id. When the same side dialled both, the newer wins: the old one is most likely dead (a
   * restarted peer that states no run redials before its old link has timed out).
   */
  #keepsExisting(existing: Link, incoming: Link): boolean {
    const [was, now] = [existing.peer.boot, incoming.peer.boot];
    if (was !== undefined && now !== undefined && was !== now) return false;
    const nearby = (l: Link) => l.transport === BROADCAST_CHANNEL;
    if (nearby(existing) !== nearby(incoming)) return nearby(existing);
    const dialer = (l: Link) => (l.initiator ? this.#o.selfId : l.peer.nodeId);
    const a = dialer(existing);
    const b = dialer(incoming);
    return a !== b && a < b;
  }
}
