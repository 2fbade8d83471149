/**
 * BroadcastChannel transport: links between contexts of one origin and one browser profile
 * (tabs, dedicated and shared workers) with no network and no server. One named channel per
 * cluster carries presence and the opening of links; the links themselves are logical
 * channels of addressed frames (frames.ts, channel.ts) on a channel per pair of nodes, named
 * `<cluster channel>/<lower id>~<higher id>`, which only those two contexts hold. (On the
 * cluster channel every frame reaches every context — and so does every frame on any channel
 * a context holds to post, such as another's inbox: at 32 tabs each would receive some 90
 * frames a second to drop. Per pair, a tab receives only its own links' traffic: SWIM's
 * constant load.)
 * Address: `bc:<nodeId>`, dialable once that node has been heard on the channel.
 *
 * Presence: a transport says HELLO when it starts, every other one answers HERE, and BYE
 * when it closes; the node is told of each context it hears (TransportEvents.nearby) and
 * dials there in preference to any other address (Transport.nearbyAddress), so two tabs of
 * one browser never open a WebRTC connection to each other. A closed, crashed or frozen tab
 * tells nobody: liveness is SWIM's, as on every transport.
 *
 * Links run the shared handshake. There is no DTLS to bind, so each link's binding is the
 * channel name and the two link nonces (the dialler's, which is the link id, and the
 * acceptor's): a transcript signed for one logical channel does not verify on another.
 * Every script of the origin can read and post on the channel: the handshake proves who a
 * peer is, but it cannot keep same-origin code from reading or forging frames (see
 * docs/BROADCAST-CHANNEL.md). Frames that do not decode, are not addressed here, or name a
 * link this transport does not have, are dropped and counted (`stats`).
 */
import { TransportError } from '../transport/errors.ts';
import { HandshakeError, runHandshake } from '../transport/handshake.ts';
import type {
  ConnectOptions,
  Link,
  Transport,
  TransportContext,
  TransportEvents,
} from '../transport/types.ts';
import { setBounded } from '../util/bounded-map.ts';
import { concatBytes, fromHex, toHex, utf8 } from '../util/bytes.ts';
import { BroadcastLink, type BroadcastLinkLimits } from './channel.ts';
import {
  addressedTo,
  type Decoded,
  decodeFrame,
  isPresence,
  Kind,
  type KindCode,
  linkFrame,
  linkHeader,
  NONCE_BYTES,
  presenceFrame,
} from './frames.ts';

/** What the transport uses of a BroadcastChannel (the standard one fits). */
export interface BroadcastChannelLike {
  onmessage: ((ev: { data: unknown }) => void) | null;
  postMessage(data: unknown): void;
  close(): void;
}

export type BroadcastChannelConstructor = new (name: string) => BroadcastChannelLike;

export interface BroadcastChannelTransportOptions {
  /** The cluster channel's name (pair channels are `<name>/<id>~<id>`). Default `weftmesh/<cluster>`. */
  channelName?: string;
  /** Default: the runtime's `BroadcastChannel` (browsers, workers, Deno, Node ≥ 18). */
  BroadcastChannel?: BroadcastChannelConstructor;
  /** A dial must be accepted within this (the peer is gone otherwise). Default 3,000 ms. */
  connectTimeoutMs?: number;
  /** Handshakes run at once for links other contexts opened; further opens are dropped. Default 64. */
  maxPendingAccepts?: number;
  /** Contexts remembered as heard on the channel (the least recently heard is forgotten). Default 1,024. */
  maxPeers?: number;
  /** Pair channels kept open (the least recently used is closed; keep it above maxLinks). Default 64. */
  maxPairChannels?: number;
  /** Per-link limits: message size, unacknowledged bytes, datagram size. */
  link?: Partial<BroadcastLinkLimits>;
}

/** Counters for diagnostics, tests and benchmarks. */
export interface BroadcastChannelStats {
  /** Frames received (on the cluster channel and this node's pair channels). */
  framesIn: number;
  /** Frames received that were addressed to this node, or presence. */
  framesForUs: number;
  framesOut: number;
  /** Frames refused, in total and by reason (malformed, unknown-link, replayed, busy…). */
  dropped: number;
  droppedBy: Record<string, number>;
  linksUp: number;
}

/** The transport's name, which its links carry (`Link.transport`). */
export const BROADCAST_CHANNEL = 'broadcast-channel';
export const BROADCAST_CHANNEL_SCHEME = 'bc:';
const NODE_ID = /^[0-9a-f]{32}$/;

interface Entry {
  readonly link: BroadcastLink;
  readonly peer: string;
  readonly peerInstance: string;
  /** The peer opened this link (this node accepts it), and its handshake is still running. */
  accepting: boolean;
  /** An accepted link that also answers this node's own dial of that peer: the dial's address. */
  dialed?: string;
}

interface Dial {
  readonly peer: string;
  readonly address: string;
  readonly nonce: Uint8Array;
  readonly opts: ConnectOptions;
  readonly timer: number;
}

/** The address of node `nodeId` on a BroadcastChannel. */
export function broadcastAddress(nodeId: string): string {
  return `${BROADCAST_CHANNEL_SCHEME}${nodeId}`;
}

export class BroadcastChannelTransport implements Transport {
  readonly name = BROADCAST_CHANNEL;
  readonly stats: BroadcastChannelStats = {
    framesIn: 0,
    framesForUs: 0,
    framesOut: 0,
    dropped: 0,
    droppedBy: {},
    linksUp: 0,
  };
  readonly #o: BroadcastChannelTransportOptions;
  #ctx: TransportContext | undefined;
  #events: TransportEvents | undefined;
  #Ctor: BroadcastChannelConstructor | undefined;
  #bc: BroadcastChannelLike | undefined;
  /** Pair channels by peer, least recently used first. */
  readonly #pairs = new Map<string, BroadcastChannelLike>();
  #channelName = '';
  #me: Uint8Array = new Uint8Array(0);
  #instance: Uint8Array = new Uint8Array(0);
  /** Contexts heard on the channel: node id → instance, least recently heard first. */
  readonly #peers = new Map<string, string>();
  /** Links (in handshake or up) by link id. */
  readonly #links = new Map<string, Entry>();
  /** Dials waiting for ACCEPT, by link id. */
  readonly #dials = new Map<string, Dial>();
  #accepting = 0;
  #closed = false;

  constructor(opts: BroadcastChannelTransportOptions = {}) {
    this.#o = opts;
  }

  /** Nothing to advertise: contexts that can dial this one hear it on the channel. */
  localAddresses(): string[] {
    return [];
  }

  canDial(address: string): boolean {
    if (!address.startsWith(BROADCAST_CHANNEL_SCHEME)) return false;
    const id = address.slice(BROADCAST_CHANNEL_SCHEME.length);
    return NODE_ID.test(id) && this.#peers.has(id);
  }

  nearbyAddress(nodeId: string): string | undefined {
    return this.#peers.has(nodeId) ? broadcastAddress(nodeId) : undefined;
  }

  nodeIdOf(address: string): string | undefined {
    const id = address.slice(BROADCAST_CHANNEL_SCHEME.length);
    return address.startsWith(BROADCAST_CHANNEL_SCHEME) && NODE_ID.test(id) ? id : undefined;
  }

  /** Node ids of the contexts heard on the channel. */
  heard(): string[] {
    return [...this.#peers.keys()];
  }

  start(ctx: TransportContext, events: TransportEvents): void {
    if (this.#ctx) throw new TransportError('already-started', 'transport already started');
    const Ctor =
      this.#o.BroadcastChannel ??
      (globalThis as { BroadcastChannel?: BroadcastChannelConstructor }).BroadcastChannel;
    if (!Ctor) throw new TransportError('unsupported-runtime', 'this runtime has no BroadcastChannel');
    this.#ctx = ctx;
    this.#events = events;
    this.#me = fromHex(ctx.identity.nodeId);
    this.#instance = ctx.random.bytes(8);
    this.#channelName = this.#o.channelName ?? `weftmesh/${ctx.cluster}`;
    this.#Ctor = Ctor;
    const bc = new Ctor(this.#channelName);
    bc.onmessage = (ev) => this.#onMessage(ev.data, false);
    this.#bc = bc;
    this.#post(presenceFrame(Kind.Hello, this.#me, this.#instance));
  }

  connect(address: string, opts: ConnectOptions = {}): void {
    const ctx = this.#ctx;
    if (!ctx || this.#closed) return;
    const peer = this.nodeIdOf(address);
    if (peer === undefined || !this.canDial(address) || peer === ctx.identity.nodeId) {
      this.#events!.dialFailed(address, new TransportError('cannot-dial', `cannot dial ${address}`));
      return;
    }
    // The peer is opening a link to this node already (two joining tabs find each other at
    // once): that link answers this dial too, instead of a second handshake and a duplicate.
    const accepting = [...this.#links.values()].find((e) => e.accepting && e.peer === peer);
    if (accepting && accepting.dialed === undefined && (opts.expectNodeId ?? peer) === peer) {
      accepting.dialed = address;
      return;
    }
    const nonce = ctx.random.bytes(NONCE_BYTES);
    const id = toHex(nonce);
    const timer = ctx.scheduler.setTimer(this.#o.connectTimeoutMs ?? 3_000, () => {
      if (this.#dials.get(id)?.timer !== timer) return;
      this.#dials.delete(id);
      this.#events!.dialFailed(
        address,
        new TransportError('timeout', `${address}: no answer on the BroadcastChannel`),
      );
    });
    this.#dials.set(id, { peer, address, nonce, opts, timer });
    this.#pair(peer); // open before asking, so the answer finds it
    this.#post(linkFrame(linkHeader(this.#me, this.#instance, peer, nonce), Kind.Open));
  }

  close(): void {
    if (this.#closed || !this.#bc) return;
    for (const d of this.#dials.values()) this.#ctx!.scheduler.cancelTimer(d.timer);
    this.#dials.clear();
    for (const e of [...this.#links.values()]) e.link.close('transport closed');
    this.#links.clear();
    this.#post(presenceFrame(Kind.Bye, this.#me, this.#instance));
    this.#closed = true;
    for (const c of [this.#bc, ...this.#pairs.values()]) {
      c.onmessage = null;
      c.close();
    }
    this.#pairs.clear();
  }

  /** Posts on the cluster channel (presence, opens). */
  #post(frame: Uint8Array): void {
    if (!this.#bc) return;
    this.stats.framesOut++;
    this.#bc.postMessage(frame);
  }

  /** The channel this node shares with `peer` alone (opened on first use). */
  #pair(peer: string): BroadcastChannelLike {
    let c = this.#pairs.get(peer);
    if (c) this.#pairs.delete(peer);
    else {
      const me = this.#ctx!.identity.nodeId;
      c = new this.#Ctor!(`${this.#channelName}/${me < peer ? `${me}~${peer}` : `${peer}~${me}`}`);
      c.onmessage = (ev) => this.#onMessage(ev.data, true);
    }
    this.#pairs.set(peer, c);
    if (this.#pairs.size > (this.#o.maxPairChannels ?? 64)) this.#evictPair(peer);
    return c;
  }

  /**
   * Closes the least recently used pair channel of a peer with no authenticated link and no
   * dial of ours: opens forged by other scripts of the origin (each opening a pair channel)
   * must not close the channels live links run on. Past the cap only while every channel
   * carries one (links are bounded by the node's own limits).
   */
  #evictPair(keep: string): void {
    const busy = new Set<string>([keep]);
    for (const e of this.#links.values()) if (!e.accepting) busy.add(e.peer);
    for (const d of this.#dials.values()) busy.add(d.peer);
    for (const [peer, old] of this.#pairs) {
      if (busy.has(peer)) continue;
      this.#pairs.delete(peer);
      old.onmessage = null;
      old.close();
      return;
    }
  }

  /** Posts a link frame on the pair channel: one channel object per peer keeps its frames in order. */
  #postTo(peer: string, frame: Uint8Array): void {
    if (this.#closed || !this.#Ctor) return;
    this.stats.framesOut++;
    this.#pair(peer).postMessage(frame);
  }

  #drop(reason: string): void {
    this.stats.dropped++;
    this.stats.droppedBy[reason] = (this.stats.droppedBy[reason] ?? 0) + 1;
  }

  /** A frame on the cluster channel (presence, opens) or on a pair channel (the other link frames). */
  #onMessage(data: unknown, pair: boolean): void {
    if (this.#closed) return;
    this.stats.framesIn++;
    if (!(data instanceof Uint8Array) || data.length === 0) {
      this.#drop('malformed');
      return;
    }
    const kind = data[0]!;
    if ((isPresence(kind) || kind === Kind.Open) === pair) {
      this.#drop('wrong-channel');
      return;
    }
    if (!isPresence(kind) && !addressedTo(data, this.#me)) {
      // Opens on the cluster channel are for everyone to see; elsewhere it is a stranger's frame.
      if (pair) this.#drop('not-addressed-here');
      return;
    }
    this.stats.framesForUs++;
    let f: Decoded;
    try {
      f = decodeFrame(data);
    } catch {
      this.#drop('malformed');
      return;
    }
    if (f.from === this.#ctx!.identity.nodeId) {
      // Another context runs this identity: membership reports the conflict; links refuse `self`.
      this.#drop('own-id');
      return;
    }
    if (!('frame' in f)) {
      this.#onPresence(f.kind, f.from, f.instance);
      return;
    }
    const { frame } = f;
    if (frame.kind === Kind.Open) this.#onOpen(f.from, f.instance, f.link);
    else if (frame.kind === Kind.Accept) this.#onAccept(f.from, f.instance, f.link, frame.nonce);
    else {
      const entry = this.#links.get(f.link);
      if (!entry || entry.peer !== f.from || entry.peerInstance !== f.instance) {
        this.#drop('unknown-link');
        return;
      }
      entry.link.deliver(frame);
    }
  }

  #onPresence(kind: KindCode, from: string, instance: string): void {
    if (kind === Kind.Bye) {
      if (this.#peers.get(from) === instance) this.#peers.delete(from);
      return;
    }
    this.#heard(from, instance);
    if (kind === Kind.Hello) this.#post(presenceFrame(Kind.Here, this.#me, this.#instance));
  }

  /**
   * `from` is on the channel as `instance`. A new instance of a known node (a reloaded tab
   * keeping its identity) ends the links of the old one, which will never answer again.
   */
  #heard(from: string, instance: string): void {
    const known = this.#peers.get(from);
    setBounded(this.#peers, from, instance, this.#o.maxPeers ?? 1_024);
    if (known === instance) return;
    if (known !== undefined)
      for (const e of [...this.#links.values()])
        if (e.peer === from && e.peerInstance !== instance) e.link.end('peer restarted');
    this.#events?.nearby?.(from, broadcastAddress(from));
  }

  #onOpen(from: string, instance: string, id: string): void {
    if (this.#links.has(id) || this.#dials.has(id)) {
      this.#drop('duplicate-link');
      return;
    }
    if (this.#accepting >= (this.#o.maxPendingAccepts ?? 64)) {
      this.#drop('busy');
      return;
    }
    // Both ends dialled at once: the lower node id's dial goes on, the other end gives its own
    // up and accepts (each end decides alike), so the pair runs one handshake, not two.
    const ctx = this.#ctx!;
    const crossed = [...this.#dials].find(
      ([, d]) => d.peer === from && (d.opts.expectNodeId ?? from) === from,
    );
    if (crossed && ctx.identity.nodeId < from) {
      this.#drop('crossed-open');
      return;
    }
    if (crossed) {
      this.#dials.delete(crossed[0]);
      ctx.scheduler.cancelTimer(crossed[1].timer);
    }
    const nonce = ctx.random.bytes(NONCE_BYTES);
    const header = linkHeader(this.#me, this.#instance, from, fromHex(id));
    const entry = this.#newLink(id, from, instance, header, nonce, fromHex(id), true);
    if (crossed) entry.dialed = crossed[1].address;
    this.#heard(from, instance); // after the entry exists: a dial it prompts joins this link
    this.#postTo(from, linkFrame(header, Kind.Accept, nonce));
    this.#accepting++;
    runHandshake(entry.link, ctx, 'acceptor', { transport: this.name }, (error, authenticated) => {
      this.#accepting--;
      entry.accepting = false;
      const { dialed } = entry;
      if (authenticated && authenticated.peer.nodeId === from) {
        this.#up(authenticated, dialed);
        return;
      }
      // The frames said `from`, the handshake proved another key: a forged open.
      authenticated?.close('not the node that opened the link');
      if (dialed !== undefined)
        this.#events!.dialFailed(
          dialed,
          error ??
            new HandshakeError(
              'unexpected-peer',
              `the link opened as ${from} proved another node`,
              authenticated?.peer.nodeId,
            ),
        );
    });
  }

  #onAccept(from: string, instance: string, id: string, peerNonce: Uint8Array): void {
    const dial = this.#dials.get(id);
    if (!dial || dial.peer !== from) {
      this.#drop('unknown-link');
      return;
    }
    this.#dials.delete(id);
    this.#ctx!.scheduler.cancelTimer(dial.timer);
    this.#heard(from, instance);
    const header = linkHeader(this.#me, this.#instance, from, dial.nonce);
    const { link } = this.#newLink(id, from, instance, header, dial.nonce, peerNonce, false);
    runHandshake(
      link,
      this.#ctx!,
      'dialer',
      { transport: this.name, expectNodeId: dial.opts.expectNodeId ?? dial.peer },
      (error, authenticated) => {
        if (error || !authenticated) {
          this.#events!.dialFailed(dial.address, error ?? new HandshakeError('protocol', 'handshake failed'));
          return;
        }
        this.#up(authenticated, dial.address);
      },
    );
  }

  #newLink(
    id: string,
    peer: string,
    peerInstance: string,
    header: Uint8Array,
    localNonce: Uint8Array,
    remoteNonce: Uint8Array,
    accepting: boolean,
  ): Entry {
    const name = utf8(this.#channelName);
    const link: BroadcastLink = new BroadcastLink(
      {
        post: (kind, body) => this.#postTo(peer, linkFrame(header, kind, body)),
        dropped: (reason) => this.#drop(reason),
        gone: () => {
          if (this.#links.get(id)?.link === link) this.#links.delete(id);
        },
      },
      { local: concatBytes(name, localNonce), remote: concatBytes(name, remoteNonce) },
      this.#o.link,
    );
    const entry: Entry = { link, peer, peerInstance, accepting };
    this.#links.set(id, entry);
    return entry;
  }

  #up(link: Link, dialed?: string): void {
    if (this.#closed) {
      link.close('transport closed');
      return;
    }
    this.stats.linksUp++;
    this.#events!.link(link, dialed);
  }
}
