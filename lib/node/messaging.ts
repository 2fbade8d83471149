/**
 * Application messaging over the mesh: `send` to one node (direct link, or relayed hop by
 * hop when there is none), `request` with a reply and a timeout, `broadcast` to every node
 * (along the broadcast tree, lib/broadcast/tree.ts), and subscriptions per topic.
 *
 * Routing of a message for node T: over the link to T if there is one; else through a
 * neighbour that reported a link to T; else, when T is a reachable member, to every
 * neighbour but the one it came from, with a hop limit; else nowhere (an unknown id is never
 * flooded). Only the last hop is authenticated by a link, so a relayed message carries its
 * origin's signature, checked by every relay before it passes the message on and by T.
 *
 * Who pays (the threat model's rule: quotas after authentication). A direct message costs
 * its sender, whom the link authenticated. A relayed message or broadcast first costs the
 * link that brought it one check (per-link quota), then — once its signature verified and
 * its (epoch, seq) is new — its origin (per-origin quota). So junk naming someone else costs
 * only the link that sent it, and a replay of someone's genuine message costs nobody.
 * Relayed messages and broadcasts are taken only from reachable members; a node that is not
 * one can still talk to its direct neighbours.
 */

import { HeldMessages } from '../broadcast/held.ts';
import { messageId } from '../broadcast/ids.ts';
import { BroadcastKind } from '../broadcast/metrics.ts';
import type { BroadcastTree } from '../broadcast/tree.ts';
import { type NodeIdentity, nodeIdOf } from '../identity/node-identity.ts';
import { Domain, signingInput } from '../identity/signed.ts';
import { type MaybePromise, type SignatureVerifier, whenVerified } from '../identity/verifier.ts';
import type { Env } from '../time/types.ts';
import type { Link, MeshRelay } from '../transport/types.ts';
import { setBounded } from '../util/bounded-map.ts';
import { fromHex, fromUtf8, toHex, utf8 } from '../util/bytes.ts';
import { Emitter } from '../util/emitter.ts';
import { Outbox } from '../util/outbox.ts';
import { RateLimiter } from '../util/rate-limit.ts';
import { encodeMessage, type WireLimits } from '../wire/codec.ts';
import { MAX_APP_BYTES, type MessageOf } from '../wire/messages.ts';
import {
  checkParts,
  DEFAULT_PARTS,
  iterate,
  OPEN_STREAMS_PER_ORIGIN,
  PartStream,
  type RequestStreamOptions,
  readStreamRequest,
  type StreamResponder,
  streamRequestData,
} from './answer-stream.ts';
import { appPayload, broadcastPayload } from './message-signing.ts';
import { MessagingError } from './messaging-errors.ts';
import { OriginWindows } from './origin-windows.ts';

export { MessagingError, type MessagingErrorCode } from './messaging-errors.ts';

export interface AppMessage {
  from: string;
  topic: string;
  data: Uint8Array;
  /** Arrived by broadcast (to everyone) rather than addressed to this node. */
  broadcast: boolean;
  /** Came through other nodes rather than over a link from its origin. */
  relayed: boolean;
}

export interface MessagingOptions {
  /** Largest payload. Default 48 KiB (a message fits one 64 KiB frame). */
  maxMessageBytes?: number;
  /** Hops a relayed message may travel (a broadcast reaches every node, each forwarding it once). Default 16. */
  maxHops?: number;
  /** Default for request(). Default 10,000 ms. */
  requestTimeoutMs?: number;
  /** send() waits at most this long for a congested link to drain. Default 5,000 ms. */
  sendTimeoutMs?: number;
  /** Stop queueing on a link above this many buffered bytes. Default 1 MiB. */
  highWaterMark?: number;
  /**
   * Inbound quota per origin, charged only once the origin is authenticated (by the link
   * for a direct message, by its verified signature for a relayed one or a broadcast):
   * messages per second, burst ×4. Default 200.
   */
  perOriginRate?: number;
  /**
   * Inbound quota per link for frames whose origin signature must be checked (relayed
   * messages, broadcasts), charged before the check: traffic nobody can vouch for costs the
   * link that brought it, never the origin it names. Per second, burst ×4. Copies of what
   * was already accepted are free. Default 1,000.
   */
  perLinkRate?: number;
  /**
   * Origins whose recent sequence numbers are remembered (to recognise copies and replays).
   * Only reachable members get one; keep it above the cluster's member cap. Default 4,096.
   */
  maxOrigins?: number;
}

/** What the messenger needs from its node. */
export interface MessengerHost {
  readonly identity: NodeIdentity;
  readonly env: Env;
  readonly verifier: SignatureVerifier;
  readonly wireLimits: Partial<WireLimits> | undefined;
  /**
   * This run's epoch, signed into every relayed message and broadcast: greater than that of
   * any earlier run of this identity (the node's starting incarnation), so receivers take
   * a restarted node's sequence numbers, which start again, as new.
   */
  readonly epoch: number;
  link(nodeId: string): Link | undefined;
  peers(): string[];
  /** The link set a neighbour reported (for 2-hop routes). */
  neighboursOf(nodeId: string): ReadonlySet<string> | undefined;
  /** Whether a key may send to this cluster (the node's admission policy). */
  admits(publicKey: Uint8Array): boolean;
  /** Whether `nodeId` is a reachable member (so the mesh has a route to it). */
  isReachable(nodeId: string): boolean;
  /** The node's broadcast tree: which links carry broadcasts in full, which only announce them. */
  readonly tree: BroadcastTree;
}

const KIND_MSG = 0;
const KIND_REQ = 1;
const KIND_RES = 2;
const KIND_ERR = 3;
/** A part of a streamed answer, more to follow (the last one is a KIND_RES). */
const KIND_PART = 4;
/** A request for a streamed answer: its data starts with the part count (answer-stream.ts). */
const KIND_SREQ = 5;
const TOPIC = /^[A-Za-z0-9._/-]{1,64}$/;
const PENDING_LIMIT = 4096;
/**
 * Requests one origin may have this node answering at once (its responders running, or their
 * answers waiting for a congested link): what a peer that stops reading can make it hold.
 */
const MAX_ANSWERING = 256;
/** Broadcasts held for grafts: how many, and how long (a graft comes within seconds). */
const HELD_BROADCASTS = 1024;
const HELD_BROADCAST_MS = 30_000;
/** Re-sent broadcasts per asking neighbour: 256 KiB/s, 1 MiB at once (as anti-entropy answers). */
const GRAFT_BYTES_PER_SECOND = 256 * 1024;
/** A broadcast's bytes besides its data (origin, key, signature, topic, counters). */
const BROADCAST_OVERHEAD = 200;
const U32_MAX = 0xffffffff;
/** Targets whose route a timeout turned (#detour), remembered at most. */
const MAX_DETOURS = 1024;

interface Pending {
  /** The node asked: only its reply settles the request. */
  to: string;
  resolve(data: Uint8Array): void;
  reject(e: Error): void;
  timer: number;
  /**
   * A streamed answer: where its parts go, how many more it may take, how long to wait for
   * each, and when the last one came (the timer, once due, waits on from there: one timer a
   * stream, not one set and cancelled per part).
   */
  stream?: { parts: PartStream; left: number; timeoutMs: number; topic: string; lastAt: number };
}

export interface MessagingMetrics {
  sent: number;
  received: number;
  relayed: number;
  broadcastsSent: number;
  broadcastsReceived: number;
  /** Frames dropped, for any reason (some are broken down below). */
  dropped: number;
  /** …of them over a link's or an origin's quota. */
  throttled: number;
  /** …of them unsigned where a signature is needed, badly signed, not admitted, or from a non-member. */
  rejected: number;
  /** …of them for a node with no known route (nothing is flooded to unknown ids). */
  unroutable: number;
  /** Copies and replays of what was already accepted (not counted as dropped). */
  duplicates: number;
}

export function emptyMessagingMetrics(): MessagingMetrics {
  return {
    sent: 0,
    received: 0,
    relayed: 0,
    broadcastsSent: 0,
    broadcastsReceived: 0,
    dropped: 0,
    throttled: 0,
    rejected: 0,
    unroutable: 0,
    duplicates: 0,
  };
}

type DropReason = 'throttled' | 'rejected' | 'unroutable' | undefined;

export type Responder = (data: Uint8Array, from: string) => Uint8Array | Promise<Uint8Array>;

/**
 * Subscriptions and responders per topic. The node holds them from its construction (so
 * handlers can be registered before start(), as with any emitter); its Messenger, created
 * at start, delivers to them.
 */
export class TopicHandlers {
  readonly topics = new Emitter<Record<string, AppMessage>>({ warnUnheardErrors: false });
  readonly #responders = new Map<string, Responder | { stream: StreamResponder }>();

  /** Messages on `topic`, sent to this node or broadcast. */
  subscribe(topic: string, handler: (msg: AppMessage) => void): () => void {
    checkTopic(topic);
    return this.topics.on(topic, handler);
  }

  /** Answers request()s on `topic`. One responder per topic. */
  respond(topic: string, responder: Responder): () => void {
    checkTopic(topic);
    this.#responders.set(topic, responder);
    return () => {
      if (this.#responders.get(topic) === responder) this.#responders.delete(topic);
    };
  }

  /**
   * Answers requestStream()s on `topic` in up to the asked number of parts, and plain
   * request()s with its first part. One responder per topic (of either kind).
   */
  respondStream(topic: string, responder: StreamResponder): () => void {
    checkTopic(topic);
    const entry = { stream: responder };
    this.#responders.set(topic, entry);
    return () => {
      if (this.#responders.get(topic) === entry) this.#responders.delete(topic);
    };
  }

  responder(topic: string): Responder | { stream: StreamResponder } | undefined {
    return this.#responders.get(topic);
  }
}

function checkTopic(topic: string): void {
  if (!TOPIC.test(topic))
    throw new MessagingError('bad-topic', `topic must be 1..64 of [A-Za-z0-9._/-]: ${JSON.stringify(topic)}`);
}

export class Messenger {
  readonly #h: MessengerHost;
  readonly #o: Required<MessagingOptions>;
  readonly #handlers: TopicHandlers;
  /** Deliveries to subscribers wait for the end of the input that routed them (lib/util/outbox.ts). */
  readonly #out: Outbox<AppMessage>;
  readonly #pending = new Map<number, Pending>();
  readonly #windows: OriginWindows;
  /** Per target, how often a timeout turned its route to the next bridge (#nextHops). */
  readonly #detours = new Map<string, number>();
  readonly #quota: RateLimiter;
  readonly #linkQuota: RateLimiter;
  /** Broadcasts delivered lately, for neighbours that graft them. */
  readonly #held: HeldMessages<MessageOf<'broadcast'>>;
  /** Bytes of grafted broadcasts each neighbour may have re-sent (per second, burst ×4). */
  readonly #graftBytes: RateLimiter;
  readonly metrics: MessagingMetrics = emptyMessagingMetrics();
  #nextId: number;
  #epoch: number;
  #seq = 0;
  /** Streamed answers being sent, per origin (answer-stream.ts: beyond a cap, one part each). */
  readonly #streaming = new Map<string, number>();
  /** Answers (plain or streamed) in progress, per origin: at most MAX_ANSWERING. */
  readonly #answering = new Map<string, number>();
  #closed = false;

  constructor(host: MessengerHost, opts: MessagingOptions = {}, handlers = new TopicHandlers()) {
    this.#h = host;
    this.#handlers = handlers;
    this.#out = new Outbox((m) => handlers.topics.emit(m.topic, m));
    this.#o = {
      maxMessageBytes: Math.min(opts.maxMessageBytes ?? MAX_APP_BYTES, MAX_APP_BYTES),
      maxHops: Math.min(opts.maxHops ?? 16, 16),
      requestTimeoutMs: opts.requestTimeoutMs ?? 10_000,
      sendTimeoutMs: opts.sendTimeoutMs ?? 5_000,
      highWaterMark: opts.highWaterMark ?? 1 << 20,
      perOriginRate: opts.perOriginRate ?? 200,
      perLinkRate: opts.perLinkRate ?? 1_000,
      maxOrigins: opts.maxOrigins ?? 4_096,
    };
    const now = () => host.env.clock.now();
    this.#quota = new RateLimiter(this.#o.perOriginRate, this.#o.perOriginRate * 4, now);
    this.#linkQuota = new RateLimiter(this.#o.perLinkRate, this.#o.perLinkRate * 4, now);
    this.#windows = new OriginWindows(this.#o.maxOrigins, (id) => host.isReachable(id));
    this.#epoch = host.epoch;
    this.#nextId = host.env.random.int(0x7fffffff);
    this.#held = new HeldMessages({
      kind: BroadcastKind.App,
      max: HELD_BROADCASTS,
      maxAgeMs: HELD_BROADCAST_MS,
      now,
      send: (peer, msg) => {
        // A graft re-sends what it names: paid in bytes by the asking link, so that asking for
        // the same large broadcasts over and over cannot make this node stream them without end.
        if (this.#graftBytes.take(peer, msg.data.length + BROADCAST_OVERHEAD)) this.#write(peer, msg);
        else this.#drop('throttled');
      },
    });
    this.#graftBytes = new RateLimiter(GRAFT_BYTES_PER_SECOND, GRAFT_BYTES_PER_SECOND * 4, now);
    host.tree.channel(BroadcastKind.App, this.#held);
  }

  /** Sends to one node; resolves once handed to a link (waiting out back-pressure). */
  async send(to: string, topic: string, data: Uint8Array): Promise<void> {
    checkTopic(topic);
    this.#checkSize(data);
    await this.#route(to, KIND_MSG, this.#id(), topic, data);
  }

  /** Sends a request and waits for the reply (from `to` only). */
  request(
    to: string,
    topic: string,
    data: Uint8Array,
    timeoutMs = this.#o.requestTimeoutMs,
  ): Promise<Uint8Array> {
    checkTopic(topic);
    this.#checkSize(data);
    if (this.#pending.size >= PENDING_LIMIT)
      return Promise.reject(new MessagingError('backpressure', 'too many requests in flight'));
    const id = this.#id();
    return new Promise<Uint8Array>((resolve, reject) => {
      this.#pending.set(id, { to, resolve, reject, timer: this.#timeout(id, to, topic, timeoutMs) });
      this.#route(to, KIND_REQ, id, topic, data).catch((e) => {
        this.#settle(id);
        reject(e);
      });
    });
  }

  /**
   * The timer that fails request `id` after `ms` without a reply (or, streamed, without its
   * next part); `wait`: what is left of `ms` when it is set again after a part.
   */
  #timeout(id: number, to: string, topic: string, ms: number, wait = ms): number {
    return this.#h.env.scheduler.setTimer(wait, () => {
      const p = this.#pending.get(id);
      if (!p) return;
      // A part came since the timer was set: the wait starts again from it.
      const since = p.stream && this.#h.env.clock.now() - p.stream.lastAt;
      if (since !== undefined && since < ms) {
        p.timer = this.#timeout(id, to, topic, ms, ms - since);
        return;
      }
      this.#pending.delete(id);
      this.#detour(to);
      p.reject(new MessagingError('timeout', `no reply from ${to} on ${topic} within ${ms} ms`));
    });
  }

  /** Forgets request `id` (answered, failed, or its stream no longer read). */
  #settle(id: number): Pending | undefined {
    const p = this.#pending.get(id);
    if (!p) return undefined;
    this.#pending.delete(id);
    this.#h.env.scheduler.cancelTimer(p.timer);
    return p;
  }

  /**
   * Sends a request answered in up to `maxParts` parts (answer-stream.ts), read in order as
   * they arrive; `timeoutMs` bounds the wait for each part. Errors (this request's, the
   * responder's) come out of the iteration, after the parts that arrived before them.
   */
  requestStream(to: string, topic: string, data: Uint8Array, opts: RequestStreamOptions = {}): PartStream {
    checkTopic(topic);
    const maxParts = opts.maxParts ?? DEFAULT_PARTS;
    checkParts(maxParts);
    const wire = streamRequestData(maxParts, data);
    this.#checkSize(wire);
    if (this.#pending.size >= PENDING_LIMIT)
      return PartStream.failed(new MessagingError('backpressure', 'too many requests in flight'));
    const id = this.#id();
    const timeoutMs = opts.timeoutMs ?? this.#o.requestTimeoutMs;
    const parts = new PartStream(() => this.#settle(id));
    const p: Pending = {
      to,
      resolve: (last) => parts.push(last, true),
      reject: (e) => parts.fail(e),
      timer: this.#timeout(id, to, topic, timeoutMs),
      stream: { parts, left: maxParts, timeoutMs, topic, lastAt: this.#h.env.clock.now() },
    };
    this.#pending.set(id, p);
    this.#route(to, KIND_SREQ, id, topic, wire).catch((e) => {
      this.#settle(id);
      parts.fail(e);
    });
    return parts;
  }

  /** Sends to every node of the cluster (those reachable through the mesh). */
  broadcast(topic: string, data: Uint8Array): void {
    checkTopic(topic);
    this.#checkSize(data);
    const fields = { origin: fromHex(this.#h.identity.nodeId), ...this.#nextSeq(), topic, data };
    const sig = this.#h.identity.sign(signingInput(Domain.Broadcast, broadcastPayload(fields)));
    const key = this.#h.identity.publicKey;
    const msg: MessageOf<'broadcast'> = { type: 'broadcast', ...fields, key, ttl: this.#o.maxHops, sig };
    this.metrics.broadcastsSent++;
    const id = broadcastId(msg);
    this.#held.hold(id, msg);
    for (const peer of this.#h.tree.spread(BroadcastKind.App, id)) this.#write(peer, msg);
  }

  /** Small control payloads for transports (peer-assisted signaling). */
  readonly relay: MeshRelay = {
    reaches: (to) => !this.#closed && this.#hasRoute(to),
    send: (to, topic, payload) => {
      if (this.#closed || payload.length > this.#o.maxMessageBytes || !this.#hasRoute(to)) return false;
      this.#route(to, KIND_MSG, this.#id(), topic, payload).catch(() => {});
      return true;
    },
    // Point-to-point messages only: a transport's control message is for the node it names,
    // and a member's broadcast on the topic would reach every node's transport at once (a
    // `dial-me` broadcast made every node of the mesh start a peer connection).
    subscribe: (topic, handler) =>
      this.#handlers.topics.on(topic, (m) => {
        if (!m.broadcast) handler(m.from, m.data);
      }),
  };

  close(): void {
    this.#closed = true;
    for (const p of this.#pending.values()) {
      this.#h.env.scheduler.cancelTimer(p.timer);
      p.reject(new MessagingError('closed', 'node closed'));
    }
    this.#pending.clear();
  }

  /** An `app` frame from neighbour `via` (the link's authenticated peer). */
  onApp(via: string, msg: MessageOf<'app'>): void {
    this.#out.run(() => {
      const from = toHex(msg.from);
      const to = toHex(msg.to);
      const self = this.#h.identity.nodeId;
      if (from === self) {
        // Our own message, back from a flood (or a forgery of it): never taken from a link.
        this.metrics.duplicates++;
        return;
      }
      if (from === via && to === self) {
        // Direct: the link authenticated the sender, who pays (but for parts asked of it).
        if (!this.#asked(from, msg) && !this.#quota.take(via)) this.#drop('throttled');
        else this.#deliver(from, msg, false);
        return;
      }
      // Relayed, or handed to us to relay: only what the origin signed, and only where a route is known.
      if (to !== self && (msg.ttl === 0 || this.#nextHops(to, [via, from]).length === 0)) {
        this.#drop('unroutable');
        return;
      }
      const { sig, epoch, seq } = msg;
      if (!sig || epoch === undefined || seq === undefined) {
        this.#drop('rejected');
        return;
      }
      const key = this.#screen(via, from, msg.key, epoch, seq);
      if (!key) return;
      this.#verify(key, Domain.App, appPayload({ ...msg, epoch, seq }), sig, () => {
        if (!this.#admit(from, epoch, seq)) return;
        if (to === self) {
          this.#deliver(from, msg, from !== via);
          return;
        }
        const hops = this.#nextHops(to, [via, from]);
        if (hops.length === 0) {
          this.#drop('unroutable');
          return;
        }
        this.metrics.relayed++;
        for (const p of hops) this.#write(p, { ...msg, ttl: msg.ttl - 1 });
      });
    });
  }

  /** A `broadcast` frame from neighbour `via` (sent along the tree, or grafted). */
  onBroadcast(via: string, msg: MessageOf<'broadcast'>): void {
    this.#out.run(() => {
      const origin = toHex(msg.origin);
      const tree = this.#h.tree;
      // Our own, back along the tree, or a copy: never delivered again, and a sign of a redundant link.
      if (origin === this.#h.identity.nodeId || this.#windows.seen(origin, msg.epoch, msg.seq)) {
        this.metrics.duplicates++;
        tree.duplicate(BroadcastKind.App, via);
        return;
      }
      const key = this.#screen(via, origin, msg.key, msg.epoch, msg.seq);
      if (!key) return;
      this.#verify(key, Domain.Broadcast, broadcastPayload(msg), msg.sig, () => {
        if (this.#windows.seen(origin, msg.epoch, msg.seq)) tree.duplicate(BroadcastKind.App, via);
        if (!this.#admit(origin, msg.epoch, msg.seq)) return;
        this.metrics.broadcastsReceived++;
        const id = broadcastId(msg);
        // The ttl is not signed (relays lower it), so it cannot stop a broadcast: a relay that
        // set it to 0 would cut the tree below this node. The replay window stops copies.
        const next = { ...msg, ttl: Math.max(0, msg.ttl - 1) };
        this.#held.hold(id, next);
        const targets = tree.spread(BroadcastKind.App, id, via, msg.data.length);
        for (const peer of targets) if (peer !== origin) this.#write(peer, next);
        this.#out.push({
          from: origin,
          topic: msg.topic,
          data: msg.data,
          broadcast: true,
          relayed: via !== origin,
        });
      });
    });
  }

  /**
   * The checks an origin-signed frame passes before its signature is verified, cheapest
   * first: not a copy of what was accepted (free), within the link's quota (the link pays
   * for the check), from a reachable member whose key this is and is admitted. The key, or
   * undefined (counted).
   */
  #screen(
    via: string,
    origin: string,
    key: Uint8Array | undefined,
    epoch: number,
    seq: number,
  ): Uint8Array | undefined {
    if (this.#windows.seen(origin, epoch, seq)) {
      this.metrics.duplicates++;
      return undefined;
    }
    if (!this.#linkQuota.take(via)) return this.#drop('throttled');
    if (!key || !this.#h.isReachable(origin) || nodeIdOf(key) !== origin || !this.#h.admits(key))
      return this.#drop('rejected');
    return key;
  }

  /** Runs `then` once the signature verified (now, or when an async verifier answers). */
  #verify(key: Uint8Array, domain: string, payload: Uint8Array, sig: Uint8Array, then: () => void): void {
    const done = (ok: boolean) => {
      if (this.#closed) return;
      if (ok) then();
      else this.#drop('rejected');
    };
    let ok: MaybePromise<boolean>;
    try {
      ok = this.#h.verifier.verify(key, domain, payload, sig);
    } catch {
      ok = false;
    }
    whenVerified(
      ok,
      (valid) => this.#out.run(() => done(valid)),
      () => this.#out.run(() => done(false)),
    );
  }

  /** A verified message: new from its origin (else a copy), and within the origin's quota. */
  #admit(origin: string, epoch: number, seq: number): boolean {
    if (!this.#windows.accept(origin, epoch, seq)) {
      this.metrics.duplicates++;
      return false;
    }
    if (this.#quota.take(origin)) return true;
    this.#drop('throttled');
    return false;
  }

  /**
   * A part of a streamed answer this node asked `from` for (over their link): free of the
   * origin's quota, since the ask bounded it (one past the count ends the stream, #part).
   * Anything else pays, and a part nobody asked for is then dropped (#deliver).
   */
  #asked(from: string, msg: MessageOf<'app'>): boolean {
    if (msg.kind !== KIND_PART) return false;
    const p = this.#pending.get(msg.id);
    return p?.to === from && p.stream !== undefined;
  }

  #drop(reason: DropReason): undefined {
    this.metrics.dropped++;
    if (reason) this.metrics[reason]++;
    return undefined;
  }

  #deliver(from: string, msg: MessageOf<'app'>, relayed: boolean): void {
    if (this.#closed) return;
    if (msg.kind === KIND_RES || msg.kind === KIND_ERR || msg.kind === KIND_PART) {
      const p = this.#pending.get(msg.id);
      if (!p || p.to !== from || (msg.kind === KIND_PART && (!p.stream || relayed))) {
        // Late (timed out), not from the node asked, a part of a plain answer, or a part that
        // was relayed (streams are answered over the link only, in order): it settles nothing.
        this.#drop(undefined);
        return;
      }
      this.metrics.received++;
      if (msg.kind === KIND_PART) {
        this.#part(msg.id, p, msg.data);
        return;
      }
      this.#settle(msg.id);
      if (msg.kind === KIND_RES) p.resolve(msg.data);
      else p.reject(new MessagingError('remote-error', fromUtf8Safe(msg.data)));
      return;
    }
    this.metrics.received++;
    if (msg.kind === KIND_REQ || msg.kind === KIND_SREQ) {
      this.#answer(from, msg, relayed);
      return;
    }
    this.#out.push({
      from,
      topic: msg.topic,
      data: msg.data,
      broadcast: false,
      relayed,
    });
  }

  #answer(from: string, msg: MessageOf<'app'>, relayed: boolean): void {
    const responder = this.#handlers.responder(msg.topic);
    const reply = (kind: number, data: Uint8Array) =>
      this.#route(from, kind, msg.id, msg.topic, data).catch(() => {});
    const streamed = msg.kind === KIND_SREQ ? readStreamRequest(msg.data) : undefined;
    if (msg.kind === KIND_SREQ && !streamed) {
      void reply(KIND_ERR, utf8('malformed stream request'));
      return;
    }
    const data = streamed?.data ?? msg.data;
    if (!responder) {
      void reply(KIND_ERR, utf8(`no responder for ${msg.topic}`));
      return;
    }
    // Answers in progress hold their bytes until the link takes them (a peer that stops
    // reading keeps them waiting up to sendTimeoutMs): bounded per origin, the rest dropped.
    const answering = this.#answering.get(from) ?? 0;
    if (answering >= MAX_ANSWERING) {
      this.#drop('throttled');
      return;
    }
    count(this.#answering, from, 1);
    const answered =
      typeof responder !== 'function'
        ? this.#stream(from, msg, responder.stream, data, relayed ? 1 : (streamed?.maxParts ?? 1), reply)
        : Promise.resolve()
            .then(() => responder(data, from))
            .then((part: unknown) => this.#answerBytes(part))
            .then(
              (bytes) => reply(KIND_RES, bytes),
              (e) => reply(KIND_ERR, errorText(e)),
            );
    void answered.finally(() => count(this.#answering, from, -1));
  }

  /**
   * Sends a streamed answer part by part, each once the link drained (#route), the last as
   * the reply; at most `maxParts`, or one while the origin has OPEN_STREAMS_PER_ORIGIN open.
   * A part is sent only once the next one is known, so the last goes out as the reply. Parts
   * go over the link to the asker only (a relayed ask gets one part): relays have no
   * back-pressure to wait on, and one ordered link loses no part without closing. A link
   * that closes mid-answer ends it with an error, never with a reply missing parts.
   */
  async #stream(
    from: string,
    msg: MessageOf<'app'>,
    responder: StreamResponder,
    data: Uint8Array,
    maxParts: number,
    reply: (kind: number, data: Uint8Array) => Promise<void>,
  ): Promise<void> {
    const grant = (this.#streaming.get(from) ?? 0) < OPEN_STREAMS_PER_ORIGIN ? maxParts : 1;
    count(this.#streaming, from, 1);
    // Parts go over the link only: #route would relay them if the link had gone.
    const linked = () => {
      if (!this.#h.link(from)) throw new Error('the link to the asker closed mid-answer');
    };
    const sendPart = (part: Uint8Array) => {
      linked();
      return this.#route(from, KIND_PART, msg.id, msg.topic, part);
    };
    let it: AsyncIterator<Uint8Array> | Iterator<Uint8Array> | undefined;
    try {
      it = iterate(responder(data, from, grant));
      let cur = await it.next();
      if (cur.done) throw new Error('the responder returned no parts');
      for (let sent = 1; ; sent++) {
        const part = this.#answerBytes(cur.value);
        let next: IteratorResult<Uint8Array> | undefined;
        try {
          next = sent < grant ? await it.next() : undefined;
        } catch (e) {
          // The responder failed after yielding this part: it goes out, then the error.
          await sendPart(part);
          throw e;
        }
        if (next && !next.done) {
          await sendPart(part);
          cur = next;
          continue;
        }
        // The last part, as the reply: over the link too once parts went before it.
        if (sent > 1) linked();
        return void (await reply(KIND_RES, part));
      }
    } catch (e) {
      await reply(KIND_ERR, errorText(e));
    } finally {
      try {
        void Promise.resolve(it?.return?.()).catch(() => {});
      } catch {
        // A generator that throws as it closes: the answer is over either way.
      }
      count(this.#streaming, from, -1);
    }
  }

  /** What a responder gave as one answer (or part), checked: bytes within maxMessageBytes. */
  #answerBytes(part: unknown): Uint8Array {
    // A JavaScript responder may return anything: what is not bytes is its error, not ours.
    if (!(part instanceof Uint8Array)) throw new Error('the responder returned no bytes');
    if (part.length > this.#o.maxMessageBytes) throw new Error('reply too large');
    return part;
  }

  /** A part of a streamed answer from the node asked: taken while the count asked allows. */
  #part(id: number, p: Pending, data: Uint8Array): void {
    const stream = p.stream!;
    if (stream.left <= 1) {
      // The last part asked for must come as the reply: one more is a responder out of bounds.
      this.#settle(id);
      p.reject(new MessagingError('remote-error', 'more parts than asked for'));
      return;
    }
    stream.left--;
    stream.lastAt = this.#h.env.clock.now();
    stream.parts.push(data, false);
  }

  async #route(to: string, kind: number, id: number, topic: string, data: Uint8Array): Promise<void> {
    if (this.#closed) throw new MessagingError('closed', 'node closed');
    const self = this.#h.identity.nodeId;
    const msg: MessageOf<'app'> = {
      type: 'app',
      to: fromHex(to),
      from: fromHex(self),
      id,
      kind,
      topic,
      data,
      ttl: this.#o.maxHops,
    };
    if (to === self) {
      queueMicrotask(() => this.#deliver(self, msg, false));
      return;
    }
    const direct = this.#h.link(to);
    if (direct) {
      // Only a congested link is waited on: otherwise the frame is on the link before send()
      // returns, not behind the rest of the caller's turn (a Raft follower's acknowledgement
      // waited for it to apply entries).
      if (direct.bufferedAmount > this.#o.highWaterMark) await this.#drained(direct);
      this.metrics.sent++;
      this.#write(to, msg);
      return;
    }
    const hops = this.#nextHops(to, []);
    if (hops.length === 0) throw new MessagingError('no-route', `no known route to ${to}`);
    const seq = this.#nextSeq();
    const sig = this.#h.identity.sign(signingInput(Domain.App, appPayload({ ...msg, ...seq })));
    const signed: MessageOf<'app'> = { ...msg, ...seq, key: this.#h.identity.publicKey, sig };
    this.metrics.sent++;
    for (const p of hops) this.#write(p, signed);
  }

  /**
   * Next hops for `to`, never one of `except`: its link; else a neighbour linked to it; else,
   * for a reachable member, every neighbour (a flood, bounded by the hop limit and by the
   * windows at each node); else none.
   *
   * Neighbours' link reports are unverified: a peer can list itself as the bridge to everyone
   * and drop what it gets. Where several say they link to `to`, one is kept for `to` (messages
   * to one node take one path, in order), picked by `to`'s id rather than by link order, and
   * a request to `to` that times out turns it to the next (#detour): a liar holds a share of
   * the targets, and a target's requests find their way round it after one timeout.
   */
  #nextHops(to: string, except: readonly string[]): string[] {
    if (this.#h.link(to)) return except.includes(to) ? [] : [to];
    const peers = this.#h.peers().filter((p) => !except.includes(p));
    const bridges = peers.filter((p) => this.#h.neighboursOf(p)?.has(to));
    if (bridges.length > 0) {
      const turn = Number.parseInt(to.slice(0, 8), 16) + (this.#detours.get(to) ?? 0);
      return [bridges[turn % bridges.length]!];
    }
    return this.#h.isReachable(to) ? peers : [];
  }

  /** A request to `to` went unanswered: with no link to it, its route turns to the next bridge. */
  #detour(to: string): void {
    if (this.#h.link(to)) return;
    setBounded(this.#detours, to, (this.#detours.get(to) ?? 0) + 1, MAX_DETOURS);
  }

  #hasRoute(to: string): boolean {
    return this.#nextHops(to, []).length > 0;
  }

  #write(peer: string, msg: MessageOf<'app'> | MessageOf<'broadcast'>): void {
    const link = this.#h.link(peer);
    if (!link || link.bufferedAmount > this.#o.highWaterMark * 4) {
      this.#drop(undefined);
      return;
    }
    let frame: Uint8Array;
    try {
      frame = encodeMessage(msg, this.#h.wireLimits);
    } catch {
      this.#drop(undefined); // larger than this node's frame limit: cannot be passed on
      return;
    }
    link.send(frame);
  }

  /** Waits (at most sendTimeoutMs) until the link holds no more than the high-water mark. */
  async #drained(link: Link): Promise<void> {
    const scheduler = this.#h.env.scheduler;
    let timer: number | undefined;
    const stuck = new Promise<never>((_, fail) => {
      timer = scheduler.setTimer(this.#o.sendTimeoutMs, () =>
        fail(new MessagingError('backpressure', 'link stayed congested')),
      );
    });
    try {
      await Promise.race([link.drained(this.#o.highWaterMark), stuck]);
    } catch (e) {
      throw e instanceof MessagingError ? e : new MessagingError('no-route', 'link closed');
    } finally {
      scheduler.cancelTimer(timer!);
    }
  }

  #id(): number {
    this.#nextId = (this.#nextId + 1) >>> 0;
    return this.#nextId;
  }

  /** The (epoch, seq) of the next message this node signs; the epoch moves on if seq would wrap. */
  #nextSeq(): { epoch: number; seq: number } {
    if (this.#seq === U32_MAX) {
      this.#epoch = Math.min(this.#epoch + 1, U32_MAX);
      this.#seq = 0;
    }
    this.#seq++;
    return { epoch: this.#epoch, seq: this.#seq };
  }

  #checkSize(data: Uint8Array): void {
    if (data.length > this.#o.maxMessageBytes) {
      throw new MessagingError('too-large', `${data.length} bytes > ${this.#o.maxMessageBytes}`);
    }
  }
}

/** Adds `by` to `key`'s count (a count of 0 is no entry). */
function count(counts: Map<string, number>, key: string, by: number): void {
  const n = (counts.get(key) ?? 0) + by;
  if (n > 0) counts.set(key, n);
  else counts.delete(key);
}

/** An error's message as a reply's text (bounded). */
function errorText(e: unknown): Uint8Array {
  return utf8(String((e as Error)?.message ?? e).slice(0, 500));
}

function fromUtf8Safe(b: Uint8Array): string {
  try {
    return fromUtf8(b);
  } catch {
    return 'remote error';
  }
}

/** A broadcast's tree id: its origin, epoch and sequence number identify it. */
function broadcastId(msg: MessageOf<'broadcast'>): Uint8Array {
  const b = new Uint8Array(msg.origin.length + 8);
  b.set(msg.origin);
  const v = new DataView(b.buffer);
  v.setUint32(msg.origin.length, msg.epoch);
  v.setUint32(msg.origin.length + 4, msg.seq);
  return messageId(b);
}
