/**
 * Application messaging over the mesh: `send` to one node (direct link, or relayed hop by
 * hop when there is none), `request` with a reply and a timeout, `broadcast` to every node
 * (flooded over the links with de-duplication), and subscriptions per topic.
 *
 * Routing of a message for node T: over the link to T if there is one; else through a
 * neighbour that reported a link to T; else to every neighbour but the one it came from,
 * with a hop limit and de-duplication (so it reaches T across any connected mesh). Only
 * the last hop is authenticated by a link, so a relayed message carries its origin's
 * signature and T checks it. Broadcasts are always signed.
 */

import { type NodeIdentity, nodeIdOf } from '../identity/node-identity.ts';
import { Domain, signingInput } from '../identity/signed.ts';
import type { SignatureVerifier } from '../identity/verifier.ts';
import type { Env } from '../time/types.ts';
import type { Link, MeshRelay } from '../transport/types.ts';
import { concatBytes, fromHex, fromUtf8, toHex, u32be, utf8 } from '../util/bytes.ts';
import { Emitter } from '../util/emitter.ts';
import { encodeMessage, type WireLimits } from '../wire/codec.ts';
import { MAX_APP_BYTES, type MessageOf } from '../wire/messages.ts';
import { RateLimiter } from './rate-limit.ts';

export type MessagingErrorCode =
  | 'no-route'
  | 'too-large'
  | 'backpressure'
  | 'timeout'
  | 'remote-error'
  | 'closed'
  | 'bad-topic';

export class MessagingError extends Error {
  override name = 'MessagingError';
  readonly code: MessagingErrorCode;
  constructor(code: MessagingErrorCode, message: string) {
    super(`${code}: ${message}`);
    this.code = code;
  }
}

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
  /** Hops a relayed or broadcast message may travel. Default 16. */
  maxHops?: number;
  /** Default for request(). Default 10,000 ms. */
  requestTimeoutMs?: number;
  /** send() waits at most this long for a congested link to drain. Default 5,000 ms. */
  sendTimeoutMs?: number;
  /** Stop queueing on a link above this many buffered bytes. Default 1 MiB. */
  highWaterMark?: number;
  /** Inbound quota per origin: messages per second (burst ×4). Default 200. */
  perOriginRate?: number;
}

/** What the messenger needs from its node. */
export interface MessengerHost {
  readonly identity: NodeIdentity;
  readonly env: Env;
  readonly verifier: SignatureVerifier;
  readonly wireLimits: Partial<WireLimits> | undefined;
  link(nodeId: string): Link | undefined;
  peers(): string[];
  /** The link set a neighbour reported (for 2-hop routes). */
  neighboursOf(nodeId: string): ReadonlySet<string> | undefined;
  /** Whether a key may send to this cluster (the node's admission policy). */
  admits(publicKey: Uint8Array): boolean;
  /** Whether `nodeId` is a reachable member (so the mesh has a route to it). */
  isReachable(nodeId: string): boolean;
}

const KIND_MSG = 0;
const KIND_REQ = 1;
const KIND_RES = 2;
const KIND_ERR = 3;
const TOPIC = /^[A-Za-z0-9._/-]{1,64}$/;
const SEEN_LIMIT = 8192;
const PENDING_LIMIT = 4096;
const POLL_MS = 20;

interface Pending {
  resolve(data: Uint8Array): void;
  reject(e: Error): void;
  timer: number;
}

export interface MessagingMetrics {
  sent: number;
  received: number;
  relayed: number;
  broadcastsSent: number;
  broadcastsReceived: number;
  dropped: number;
}

export function emptyMessagingMetrics(): MessagingMetrics {
  return { sent: 0, received: 0, relayed: 0, broadcastsSent: 0, broadcastsReceived: 0, dropped: 0 };
}

export class Messenger {
  readonly #h: MessengerHost;
  readonly #o: Required<MessagingOptions>;
  readonly #topics = new Emitter<Record<string, AppMessage>>({ warnUnheardErrors: false });
  readonly #responders = new Map<
    string,
    (data: Uint8Array, from: string) => Uint8Array | Promise<Uint8Array>
  >();
  readonly #pending = new Map<number, Pending>();
  readonly #seen = new Set<string>();
  readonly #quota: RateLimiter;
  readonly metrics: MessagingMetrics = emptyMessagingMetrics();
  #nextId: number;
  #seq = 0;
  #closed = false;

  constructor(host: MessengerHost, opts: MessagingOptions = {}) {
    this.#h = host;
    this.#o = {
      maxMessageBytes: Math.min(opts.maxMessageBytes ?? MAX_APP_BYTES, MAX_APP_BYTES),
      maxHops: Math.min(opts.maxHops ?? 16, 16),
      requestTimeoutMs: opts.requestTimeoutMs ?? 10_000,
      sendTimeoutMs: opts.sendTimeoutMs ?? 5_000,
      highWaterMark: opts.highWaterMark ?? 1 << 20,
      perOriginRate: opts.perOriginRate ?? 200,
    };
    this.#quota = new RateLimiter(this.#o.perOriginRate, this.#o.perOriginRate * 4, () =>
      host.env.clock.now(),
    );
    this.#nextId = host.env.random.int(0x7fffffff);
  }

  /** Messages on `topic`, sent to this node or broadcast. */
  subscribe(topic: string, handler: (msg: AppMessage) => void): () => void {
    this.#checkTopic(topic);
    return this.#topics.on(topic, handler);
  }

  /** Answers request()s on `topic`. One responder per topic. */
  respond(
    topic: string,
    responder: (data: Uint8Array, from: string) => Uint8Array | Promise<Uint8Array>,
  ): () => void {
    this.#checkTopic(topic);
    this.#responders.set(topic, responder);
    return () => {
      if (this.#responders.get(topic) === responder) this.#responders.delete(topic);
    };
  }

  /** Sends to one node; resolves once handed to a link (waiting out back-pressure). */
  async send(to: string, topic: string, data: Uint8Array): Promise<void> {
    this.#checkTopic(topic);
    this.#checkSize(data);
    await this.#route(to, KIND_MSG, this.#id(), topic, data);
  }

  /** Sends a request and waits for the reply. */
  request(
    to: string,
    topic: string,
    data: Uint8Array,
    timeoutMs = this.#o.requestTimeoutMs,
  ): Promise<Uint8Array> {
    this.#checkTopic(topic);
    this.#checkSize(data);
    if (this.#pending.size >= PENDING_LIMIT)
      return Promise.reject(new MessagingError('backpressure', 'too many requests in flight'));
    const id = this.#id();
    return new Promise<Uint8Array>((resolve, reject) => {
      const timer = this.#h.env.scheduler.setTimer(timeoutMs, () => {
        this.#pending.delete(id);
        reject(new MessagingError('timeout', `no reply from ${to} on ${topic} within ${timeoutMs} ms`));
      });
      this.#pending.set(id, { resolve, reject, timer });
      this.#route(to, KIND_REQ, id, topic, data).catch((e) => {
        this.#h.env.scheduler.cancelTimer(timer);
        this.#pending.delete(id);
        reject(e);
      });
    });
  }

  /** Sends to every node of the cluster (those reachable through the mesh). */
  broadcast(topic: string, data: Uint8Array): void {
    this.#checkTopic(topic);
    this.#checkSize(data);
    const origin = this.#h.identity.nodeId;
    this.#seq = (this.#seq + 1) >>> 0;
    const seq = this.#seq;
    const sig = this.#h.identity.sign(
      signingInput(Domain.Broadcast, broadcastPayload(origin, seq, topic, data)),
    );
    this.#remember(`b:${origin}:${seq}`);
    this.metrics.broadcastsSent++;
    const msg: MessageOf<'broadcast'> = {
      type: 'broadcast',
      origin: fromHex(origin),
      key: this.#h.identity.publicKey,
      seq,
      topic,
      data,
      ttl: this.#o.maxHops,
      sig,
    };
    for (const peer of this.#h.peers()) this.#write(peer, msg);
  }

  /** Small control payloads for transports (peer-assisted signaling). */
  readonly relay: MeshRelay = {
    reaches: (to) => !this.#closed && this.#hasRoute(to),
    send: (to, topic, payload) => {
      if (this.#closed || payload.length > this.#o.maxMessageBytes || this.#h.peers().length === 0)
        return false;
      this.#route(to, KIND_MSG, this.#id(), topic, payload).catch(() => {});
      return true;
    },
    subscribe: (topic, handler) => this.#topics.on(topic, (m) => handler(m.from, m.data)),
  };

  /** A route is known: a link to `to`, a neighbour linked to it, or `to` is a reachable member. */
  #hasRoute(to: string): boolean {
    if (this.#h.link(to)) return true;
    const peers = this.#h.peers();
    if (peers.length === 0) return false;
    return peers.some((p) => this.#h.neighboursOf(p)?.has(to)) || this.#h.isReachable(to);
  }

  close(): void {
    this.#closed = true;
    for (const p of this.#pending.values()) {
      this.#h.env.scheduler.cancelTimer(p.timer);
      p.reject(new MessagingError('closed', 'node closed'));
    }
    this.#pending.clear();
  }

  /** An `app` frame from neighbour `via`. */
  onApp(via: string, msg: MessageOf<'app'>): void {
    const from = toHex(msg.from);
    const to = toHex(msg.to);
    if (!this.#quota.take(from)) {
      this.metrics.dropped++;
      return;
    }
    const key = `a:${from}:${msg.id}:${msg.kind}`;
    if (this.#seen.has(key)) return;
    this.#remember(key);
    if (to !== this.#h.identity.nodeId) {
      if (msg.ttl === 0) {
        this.metrics.dropped++;
        return;
      }
      this.metrics.relayed++;
      this.#forward(to, { ...msg, ttl: msg.ttl - 1 }, via);
      return;
    }
    const relayed = via !== from;
    if (relayed) {
      const key = this.#originKey(from, msg.key);
      if (!key || !msg.sig) {
        this.metrics.dropped++;
        return;
      }
      const ok = this.#h.verifier.verify(
        key,
        Domain.App,
        appPayload(from, to, msg.id, msg.kind, msg.topic, msg.data),
        msg.sig,
      );
      if (typeof ok === 'boolean') this.#deliver(from, msg, ok, relayed);
      else void ok.then((v) => this.#deliver(from, msg, v, relayed));
      return;
    }
    this.#deliver(from, msg, true, false);
  }

  /** A `broadcast` frame from neighbour `via`. */
  onBroadcast(via: string, msg: MessageOf<'broadcast'>): void {
    const origin = toHex(msg.origin);
    const key = `b:${origin}:${msg.seq}`;
    if (this.#seen.has(key)) return;
    if (!this.#quota.take(origin)) {
      this.metrics.dropped++;
      return;
    }
    const pub = this.#originKey(origin, msg.key);
    if (!pub) {
      this.metrics.dropped++;
      return;
    }
    const done = (ok: boolean) => {
      if (!ok || this.#closed) {
        this.metrics.dropped++;
        return;
      }
      if (this.#seen.has(key)) return;
      this.#remember(key);
      this.metrics.broadcastsReceived++;
      if (msg.ttl > 0)
        for (const peer of this.#h.peers()) if (peer !== via) this.#write(peer, { ...msg, ttl: msg.ttl - 1 });
      this.#topics.emit(msg.topic, {
        from: origin,
        topic: msg.topic,
        data: msg.data,
        broadcast: true,
        relayed: via !== origin,
      });
    };
    const ok = this.#h.verifier.verify(
      pub,
      Domain.Broadcast,
      broadcastPayload(origin, msg.seq, msg.topic, msg.data),
      msg.sig,
    );
    if (typeof ok === 'boolean') done(ok);
    else void ok.then(done, () => done(false));
  }

  /** The origin's key when it matches the origin's node id and is admitted. */
  #originKey(origin: string, key: Uint8Array | undefined): Uint8Array | undefined {
    if (!key || nodeIdOf(key) !== origin || !this.#h.admits(key)) return undefined;
    return key;
  }

  #deliver(from: string, msg: MessageOf<'app'>, ok: boolean, relayed: boolean): void {
    if (!ok || this.#closed) {
      this.metrics.dropped++;
      return;
    }
    this.metrics.received++;
    if (msg.kind === KIND_RES || msg.kind === KIND_ERR) {
      const p = this.#pending.get(msg.id);
      if (!p) return;
      this.#pending.delete(msg.id);
      this.#h.env.scheduler.cancelTimer(p.timer);
      if (msg.kind === KIND_RES) p.resolve(msg.data);
      else p.reject(new MessagingError('remote-error', fromUtf8Safe(msg.data)));
      return;
    }
    if (msg.kind === KIND_REQ) {
      this.#answer(from, msg);
      return;
    }
    this.#topics.emit(msg.topic, { from, topic: msg.topic, data: msg.data, broadcast: false, relayed });
  }

  #answer(from: string, msg: MessageOf<'app'>): void {
    const responder = this.#responders.get(msg.topic);
    const reply = (kind: number, data: Uint8Array) =>
      this.#route(from, kind, msg.id, msg.topic, data).catch(() => {});
    if (!responder) {
      void reply(KIND_ERR, utf8(`no responder for ${msg.topic}`));
      return;
    }
    Promise.resolve()
      .then(() => responder(msg.data, from))
      .then(
        (data) =>
          data.length > this.#o.maxMessageBytes
            ? reply(KIND_ERR, utf8('reply too large'))
            : reply(KIND_RES, data),
        (e) => reply(KIND_ERR, utf8(String((e as Error)?.message ?? e).slice(0, 500))),
      );
  }

  async #route(to: string, kind: number, id: number, topic: string, data: Uint8Array): Promise<void> {
    if (this.#closed) throw new MessagingError('closed', 'node closed');
    const self = this.#h.identity.nodeId;
    if (to === self) {
      queueMicrotask(() =>
        this.#deliver(
          self,
          { type: 'app', to: fromHex(to), from: fromHex(self), id, kind, topic, data, ttl: 0 },
          true,
          false,
        ),
      );
      return;
    }
    const direct = this.#h.link(to);
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
    if (!direct) {
      if (this.#h.peers().length === 0)
        throw new MessagingError('no-route', `no link to ${to} and no neighbours`);
      msg.sig = this.#h.identity.sign(signingInput(Domain.App, appPayload(self, to, id, kind, topic, data)));
      msg.key = this.#h.identity.publicKey;
    }
    this.#remember(`a:${self}:${id}:${kind}`);
    if (direct) await this.#drained(direct);
    this.metrics.sent++;
    this.#forward(to, msg, undefined);
  }

  /** Next hop: the target itself, a neighbour linked to it, or every neighbour but `via`. */
  #forward(to: string, msg: MessageOf<'app'>, via: string | undefined): void {
    if (this.#h.link(to)) {
      this.#write(to, msg);
      return;
    }
    const peers = this.#h.peers().filter((p) => p !== via);
    const bridge = peers.find((p) => this.#h.neighboursOf(p)?.has(to));
    if (bridge) {
      this.#write(bridge, msg);
      return;
    }
    for (const p of peers) this.#write(p, msg);
  }

  #write(peer: string, msg: MessageOf<'app'> | MessageOf<'broadcast'>): void {
    const link = this.#h.link(peer);
    if (!link || link.bufferedAmount > this.#o.highWaterMark * 4) {
      this.metrics.dropped++;
      return;
    }
    link.send(encodeMessage(msg, this.#h.wireLimits));
  }

  async #drained(link: Link): Promise<void> {
    const deadline = this.#h.env.clock.now() + this.#o.sendTimeoutMs;
    while (link.bufferedAmount > this.#o.highWaterMark) {
      if (link.closed) throw new MessagingError('no-route', 'link closed');
      if (this.#h.env.clock.now() > deadline)
        throw new MessagingError('backpressure', 'link stayed congested');
      await new Promise<void>((ok) => this.#h.env.scheduler.setTimer(POLL_MS, ok));
    }
  }

  #id(): number {
    this.#nextId = (this.#nextId + 1) >>> 0;
    return this.#nextId;
  }

  #remember(key: string): void {
    this.#seen.add(key);
    if (this.#seen.size > SEEN_LIMIT) this.#seen.delete(this.#seen.values().next().value!);
  }

  #checkTopic(topic: string): void {
    if (!TOPIC.test(topic))
      throw new MessagingError(
        'bad-topic',
        `topic must be 1..64 of [A-Za-z0-9._/-]: ${JSON.stringify(topic)}`,
      );
  }

  #checkSize(data: Uint8Array): void {
    if (data.length > this.#o.maxMessageBytes) {
      throw new MessagingError('too-large', `${data.length} bytes > ${this.#o.maxMessageBytes}`);
    }
  }
}

function appPayload(
  from: string,
  to: string,
  id: number,
  kind: number,
  topic: string,
  data: Uint8Array,
): Uint8Array {
  const t = utf8(topic);
  return concatBytes(fromHex(from), fromHex(to), u32be(id), Uint8Array.of(kind, t.length), t, data);
}

function broadcastPayload(origin: string, seq: number, topic: string, data: Uint8Array): Uint8Array {
  const t = utf8(topic);
  return concatBytes(fromHex(origin), u32be(seq), Uint8Array.of(t.length), t, data);
}

function fromUtf8Safe(b: Uint8Array): string {
  try {
    return fromUtf8(b);
  } catch {
    return 'remote error';
  }
}
