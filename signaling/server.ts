/**
 * The signaling server's logic, independent of the runtime: adapters (node.ts with `ws`,
 * deno.ts with Deno.serve) feed it connections and frames. Keeps no state that matters
 * across a restart: clients reconnect and re-announce.
 *
 * Every client is hostile until it joined, and a joined one may still be: connections are
 * capped per source and in total (those that have not joined make room, and are closed
 * after joinTimeoutMs), a signal is forwarded only once its frame passed the size and depth
 * checks, nothing one client sends can get another one disconnected, and an empty room is
 * forgotten with everything it held.
 *
 * With a backplane (backplane.ts; Redis in the Node and Deno entries), several instances
 * serve the same rooms: joins are registered there under caps that span the instances,
 * listings include the peers connected elsewhere, and signals to those are routed through it.
 */
import { Admission, type AdmissionPolicy } from '../lib/identity/admission.ts';
import { nodeIdOf } from '../lib/identity/node-identity.ts';
import { Domain } from '../lib/identity/signed.ts';
import { fastVerifier, type SignatureVerifier, whenVerified } from '../lib/identity/verifier.ts';
import { ConnectionGate, sourceKey } from '../lib/util/connection-gate.ts';
import { RateLimiter } from '../lib/util/rate-limit.ts';
import type { Backplane, JoinVerdict } from './backplane.ts';
import {
  fromBase64Url,
  joinTranscript,
  parseClientMessage,
  type ServerMessage,
  SIGNALING_VERSION,
  type SignalingErrorCode,
  toBase64Url,
} from './protocol.ts';

export interface SignalingLimits {
  /** Largest frame accepted, bytes. Default 64 KiB. */
  maxMessageBytes: number;
  /** Sustained messages per second per connection (token bucket). Default 50. */
  messagesPerSecond: number;
  /** Burst allowance. Default 200. */
  burst: number;
  /** Peers in one room. Default 1,000. */
  maxPeersPerRoom: number;
  /** Rooms at once. Default 1,000. */
  maxRooms: number;
  /**
   * Connections at once. At the cap a new connection displaces the oldest one that has not
   * joined yet, so connections that never join cannot lock clients out; only when every
   * connection has joined is it refused (`server-full`). Default 10,000.
   */
  maxConnections: number;
  /**
   * Connections at once from one source — an IPv4 address, or an IPv6 /64 — joined or not
   * (`source-full`). The source is the socket's peer address; behind a reverse proxy that is
   * the proxy's, so the adapters take it from a header the proxy sets instead, opt-in
   * (`sourceHeader`). Default 256.
   */
  maxConnectionsPerSource: number;
  /**
   * A client with this many bytes still unsent gets no more signals (the sender is told
   * `target-busy`); one with more than twice this is closed (`slow-client` in the stats'
   * rejections) when the server has something of its own to send it (a reply, a room's
   * announcement): a peer that does not read cannot make the server buffer without bound.
   * Default 1 MiB.
   */
  maxBufferedBytes: number;
  /** A connection silent for this long is closed (a quiet one is pinged after a third of it). Default 30,000. */
  idleTimeoutMs: number;
  /** A connection must join within this, or it is closed (`not-joined`). Default 5,000. */
  joinTimeoutMs: number;
  /**
   * Joins per second from one source (`rate-limited`), checked before the join's signature:
   * each join costs a signature check, a token check in token rooms, and an announcement to
   * everyone in the room. With a backplane it is also counted across all instances, same-key
   * rejoins included. Default 50.
   */
  joinsPerSecondPerSource: number;
}

export const DEFAULT_SIGNALING_LIMITS: Readonly<SignalingLimits> = Object.freeze({
  maxMessageBytes: 64 * 1024,
  messagesPerSecond: 50,
  burst: 200,
  maxPeersPerRoom: 1_000,
  maxRooms: 1_000,
  maxConnections: 10_000,
  maxConnectionsPerSource: 256,
  maxBufferedBytes: 1 << 20,
  idleTimeoutMs: 30_000,
  joinTimeoutMs: 5_000,
  joinsPerSecondPerSource: 50,
});

/** What an adapter gives the core for one WebSocket. */
export interface SignalingSocket {
  send(text: string): void;
  close(code: number, reason: string): void;
  /** Bytes queued and not yet sent. */
  bufferedAmount(): number;
}

export interface SignalingServerOptions {
  limits?: Partial<SignalingLimits>;
  /** Admission per room (cluster): default open. */
  admission?: AdmissionPolicy | ((room: string) => AdmissionPolicy);
  /** Monotonic ms. */
  now?: () => number;
  /** Wall-clock ms (token expiry). */
  wallNow?: () => number;
  /**
   * Checks join signatures. Default: WebCrypto's Ed25519 where the runtime has it (about ten
   * times the joins per second of pure JavaScript), with the same strict answers.
   */
  verifier?: SignatureVerifier;
  /**
   * Share rooms with other instances through this backplane (see backplane.ts). Then
   * maxPeersPerRoom, maxRooms and maxConnectionsPerSource (for joined connections) hold
   * across instances, as does joinsPerSecondPerSource; maxConnections stays per instance.
   * Default none: rooms live in this process only.
   */
  backplane?: Backplane;
}

export interface SignalingStats {
  connections: number;
  rooms: number;
  peers: number;
  framesIn: number;
  framesForwarded: number;
  rejected: Record<string, number>;
  /** The backplane's state, when there is one. */
  backplane?: ReturnType<Backplane['health']>;
}

/** Per-connection handle the adapter calls back into. */
export interface SignalingConnection {
  message(data: string | Uint8Array): void;
  /** Transport-level liveness (a pong frame): counts as activity. */
  touch(): void;
  closed(): void;
  /**
   * Called by the adapter every `sweepIntervalMs`: `close` — the connection was told why and
   * should be closed now; `ping` — it has been quiet, check it is there (a pong is activity).
   */
  check(): 'ok' | 'ping' | 'close';
}

interface Room {
  peers: Map<string, Client>;
  /** Lives as long as the room: an empty room is forgotten with its admission state. */
  admission: Admission;
}

interface Client {
  socket: SignalingSocket;
  nonce: Uint8Array;
  /** The source it counts against (sourceKey of its address). */
  source: string | undefined;
  /** Its join is waiting for the backplane. */
  joining: boolean;
  /** It joined again on another instance: leave without telling the room (it is still there). */
  movedAway: boolean;
  room?: string;
  id?: string;
  /** Where it accepts WebSocket links, as its join advertised them (validated; see protocol.ts). */
  addrs: string[];
  tokens: number;
  lastRefill: number;
  lastSeen: number;
  openedAt: number;
  strikes: number;
  closed: boolean;
}

const CLOSE_POLICY = 1008;
const CLOSE_TOO_BIG = 1009;

export class SignalingServer {
  readonly limits: SignalingLimits;
  /** How often adapters call each connection's check(). */
  readonly sweepIntervalMs: number;
  readonly #rooms = new Map<string, Room>();
  readonly #clients: ConnectionGate<Client>;
  readonly #now: () => number;
  readonly #newAdmission: (room: string) => Admission;
  readonly #backplane: Backplane | undefined;
  readonly #verifier: SignatureVerifier;
  /** Joins per source (before any signature is checked). */
  readonly #joins: RateLimiter;
  readonly #stats = { framesIn: 0, framesForwarded: 0, rejected: {} as Record<string, number> };

  constructor(opts: SignalingServerOptions = {}) {
    this.limits = { ...DEFAULT_SIGNALING_LIMITS, ...(opts.limits ?? {}) };
    this.sweepIntervalMs = Math.max(
      50,
      Math.min(this.limits.idleTimeoutMs / 3, this.limits.joinTimeoutMs / 2),
    );
    this.#now = opts.now ?? (() => performance.now());
    const wallNow = opts.wallNow ?? (() => Date.now());
    const policyOf =
      typeof opts.admission === 'function'
        ? opts.admission
        : () => (opts.admission as AdmissionPolicy) ?? { mode: 'open' };
    this.#newAdmission = (room) => new Admission(policyOf(room), room, wallNow);
    this.#backplane = opts.backplane;
    this.#verifier = opts.verifier ?? fastVerifier;
    const joinRate = this.limits.joinsPerSecondPerSource;
    this.#joins = new RateLimiter(joinRate, joinRate, this.#now);
    this.#clients = new ConnectionGate<Client>(this.limits, (displaced) =>
      this.#reject(
        displaced,
        'server-full',
        'server is full; connections that have not joined make room',
        CLOSE_POLICY,
      ),
    );
    this.#backplane?.start(
      {
        remoteJoined: (room, id, addrs) => this.#remoteJoined(room, id, addrs),
        remoteLeft: (room, id) => this.#remoteLeft(room, id),
        deliver: (room, from, to, data) => this.#deliver(room, from, to, data),
        replaced: (room, id) => this.#replacedElsewhere(room, id),
      },
      this.limits,
    );
  }

  stats(): SignalingStats {
    let peers = 0;
    for (const r of this.#rooms.values()) peers += r.peers.size;
    return {
      connections: this.#clients.size,
      rooms: this.#rooms.size,
      peers,
      framesIn: this.#stats.framesIn,
      framesForwarded: this.#stats.framesForwarded,
      rejected: { ...this.#stats.rejected },
      ...(this.#backplane ? { backplane: this.#backplane.health() } : {}),
    };
  }

  /** Stops the backplane (the adapters close the sockets). */
  async close(): Promise<void> {
    await this.#backplane?.close();
  }

  /**
   * A new WebSocket from `source` (the client's IP address): sends the challenge, or refuses
   * and closes it (see maxConnections, maxConnectionsPerSource).
   */
  accept(socket: SignalingSocket, source?: string): SignalingConnection {
    const now = this.#now();
    const client: Client = {
      socket,
      nonce: crypto.getRandomValues(new Uint8Array(32)),
      source: source === undefined ? undefined : sourceKey(source),
      joining: false,
      movedAway: false,
      addrs: [],
      tokens: this.limits.burst,
      lastRefill: now,
      lastSeen: now,
      openedAt: now,
      strikes: 0,
      closed: false,
    };
    const verdict = this.#clients.open(client, source);
    if (verdict !== 'ok') {
      if (verdict === 'full')
        this.#reject(client, 'server-full', 'every connection has joined', CLOSE_POLICY);
      else this.#reject(client, 'source-full', 'too many connections from this address', CLOSE_POLICY);
      return { message() {}, touch() {}, closed() {}, check: () => 'close' };
    }
    this.#send(client, { t: 'challenge', v: SIGNALING_VERSION, nonce: toBase64Url(client.nonce) });
    return {
      message: (data) => this.#onMessage(client, data),
      touch: () => {
        client.lastSeen = this.#now();
      },
      closed: () => this.#onClosed(client),
      check: () => this.#check(client),
    };
  }

  #count(code: string): void {
    this.#stats.rejected[code] = (this.#stats.rejected[code] ?? 0) + 1;
  }

  /**
   * Sends a message the server made (it always serialises); a socket that throws is broken,
   * and one that has not read twice maxBufferedBytes is closed rather than sent more.
   */
  #send(client: Client, msg: ServerMessage): void {
    if (client.closed) return;
    if (client.socket.bufferedAmount() > 2 * this.limits.maxBufferedBytes) {
      this.#count('slow-client');
      this.#drop(client, CLOSE_POLICY, 'slow-client');
      return;
    }
    try {
      client.socket.send(JSON.stringify(msg));
    } catch {
      this.#drop(client, 1011, 'send failed');
    }
  }

  /**
   * Forwards a validated signal. Whatever goes wrong costs the frame and is the sender's
   * problem only: the target is never closed for what someone else sent it.
   */
  #forward(from: Client, to: Client, data: unknown): void {
    const refusal = this.#sendSignal(from.id!, to, data);
    if (refusal === 'bad-message') this.#error(from, 'bad-message', 'signal data cannot be forwarded');
    else if (refusal === 'target-busy')
      this.#error(from, 'target-busy', 'the peer is not reading; signal dropped');
  }

  /** Sends a signal to a local client: what went wrong, if it was the sender's problem. */
  #sendSignal(from: string, to: Client, data: unknown): 'bad-message' | 'target-busy' | undefined {
    let frame: string;
    try {
      frame = JSON.stringify({ t: 'signal', from, data });
    } catch {
      return 'bad-message';
    }
    if (to.socket.bufferedAmount() > this.limits.maxBufferedBytes) return 'target-busy';
    try {
      to.socket.send(frame);
      this.#stats.framesForwarded++;
    } catch {
      this.#count('forward-failed');
    }
    return undefined;
  }

  /** `to`: the peer a refused signal was addressed to. */
  #error(client: Client, code: SignalingErrorCode, message: string, to?: string): void {
    this.#count(code);
    this.#send(client, { t: 'error', code, message, ...(to === undefined ? {} : { to }) });
  }

  #reject(client: Client, code: SignalingErrorCode, message: string, closeCode: number): void {
    this.#error(client, code, message);
    this.#drop(client, closeCode, code);
  }

  #drop(client: Client, code: number, reason: string): void {
    if (client.closed) return;
    client.closed = true;
    try {
      client.socket.close(code, reason);
    } catch {
      // already gone
    }
    this.#onClosed(client);
  }

  #check(client: Client): 'ok' | 'ping' | 'close' {
    if (client.closed) return 'close';
    const now = this.#now();
    if (!client.id && now - client.openedAt > this.limits.joinTimeoutMs) {
      this.#reject(client, 'not-joined', 'join timeout', CLOSE_POLICY);
      return 'close';
    }
    const quiet = now - client.lastSeen;
    if (quiet > this.limits.idleTimeoutMs) {
      this.#reject(client, 'idle', 'idle timeout', 1001);
      return 'close';
    }
    return quiet > this.limits.idleTimeoutMs / 3 ? 'ping' : 'ok';
  }

  /** Token bucket; three floods in a row close the connection. */
  #admit(client: Client): boolean {
    const now = this.#now();
    client.tokens = Math.min(
      this.limits.burst,
      client.tokens + ((now - client.lastRefill) / 1000) * this.limits.messagesPerSecond,
    );
    client.lastRefill = now;
    if (client.tokens >= 1) {
      client.tokens -= 1;
      client.strikes = 0;
      return true;
    }
    client.strikes++;
    if (client.strikes >= 3 * this.limits.burst)
      this.#reject(client, 'rate-limited', 'too many messages', CLOSE_POLICY);
    else if (client.strikes === 1) this.#error(client, 'rate-limited', 'too many messages; dropped');
    else this.#count('rate-limited');
    return false;
  }

  #onMessage(client: Client, data: string | Uint8Array): void {
    if (client.closed) return;
    this.#stats.framesIn++;
    client.lastSeen = this.#now();
    if (typeof data !== 'string') {
      this.#error(client, 'bad-message', 'expected a JSON text frame');
      return;
    }
    if (data.length > this.limits.maxMessageBytes) {
      this.#reject(client, 'too-large', `frame over ${this.limits.maxMessageBytes} bytes`, CLOSE_TOO_BIG);
      return;
    }
    if (!this.#admit(client)) return;
    const msg = parseClientMessage(data);
    if (!msg) {
      this.#error(client, 'bad-message', 'not a signaling message');
      return;
    }
    switch (msg.t) {
      case 'ping':
        this.#send(client, { t: 'pong' });
        return;
      case 'pong':
        return;
      case 'join':
        this.#join(client, msg);
        return;
      case 'signal': {
        if (!client.id || !client.room) {
          this.#error(client, 'not-joined', 'join a room first');
          return;
        }
        const target = this.#rooms.get(client.room)?.peers.get(msg.to);
        if (target) this.#forward(client, target, msg.data);
        else if (this.#backplane?.remote(client.room).has(msg.to))
          this.#backplane.route(client.room, client.id, msg.to, msg.data, (why) => {
            if (!client.closed) this.#error(client, 'peer-unreachable', why);
          });
        else this.#error(client, 'unknown-peer', `no peer ${msg.to} in this room`, msg.to);
        return;
      }
    }
  }

  #join(
    client: Client,
    msg: { room: string; key: string; sig: string; token?: string; addrs?: string[] },
  ): void {
    if (client.id || client.joining) {
      this.#error(client, 'already-joined', 'this connection already joined');
      return;
    }
    if (!this.#joins.take(client.source ?? '')) {
      this.#reject(client, 'rate-limited', 'too many joins from this address', CLOSE_POLICY);
      return;
    }
    const key = fromBase64Url(msg.key, 32);
    const sig = fromBase64Url(msg.sig, 64);
    const refuse = () => this.#reject(client, 'auth-failed', 'join signature does not verify', CLOSE_POLICY);
    if (!key || !sig) {
      refuse();
      return;
    }
    client.joining = true;
    const verdict = this.#verifier.verify(
      key,
      Domain.SignalJoin,
      joinTranscript(msg.room, client.nonce),
      sig,
    );
    const done = whenVerified(
      verdict,
      (ok) => {
        client.joining = false;
        if (client.closed) return;
        if (ok) this.#authenticated(client, msg, key);
        else refuse();
      },
      () => {
        client.joining = false;
        refuse();
      },
    );
    if (done instanceof Promise) done.catch(() => this.#count('join-failed'));
  }

  /** The join's signature verified: admission, caps, then the room. */
  #authenticated(
    client: Client,
    msg: { room: string; token?: string; addrs?: string[] },
    key: Uint8Array,
  ): void {
    const token = msg.token === undefined ? undefined : fromBase64Url(msg.token);
    const admission = this.#rooms.get(msg.room)?.admission ?? this.#newAdmission(msg.room);
    const refusal = admission.check(key, token);
    if (refusal !== undefined) {
      this.#reject(client, 'not-admitted', refusal, CLOSE_POLICY);
      return;
    }
    const id = nodeIdOf(key);
    const addrs = msg.addrs ?? [];
    if (!this.#roomFor(client, msg.room, id)) return;
    const backplane = this.#backplane;
    if (!backplane) {
      this.#enter(client, msg.room, id, addrs, admission);
      return;
    }
    // Registered across instances first (global caps); the room may change meanwhile.
    client.joining = true;
    const admitted = (verdict: JoinVerdict) => {
      client.joining = false;
      if (client.closed) {
        if (verdict.ok && !this.#rooms.get(msg.room)?.peers.has(id))
          backplane.leave(msg.room, id, client.source);
        return;
      }
      if (!verdict.ok) this.#reject(client, verdict.code, verdict.message, CLOSE_POLICY);
      else if (this.#roomFor(client, msg.room, id))
        this.#enter(client, msg.room, id, addrs, this.#rooms.get(msg.room)?.admission ?? admission);
      else backplane.leave(msg.room, id, client.source);
    };
    backplane.join(msg.room, id, addrs, client.source).then(admitted, () => {
      this.#count('backplane-error');
      admitted({ ok: true });
    });
  }

  /** Whether this instance has room for `id` in `room` (its own caps); refuses the client if not. */
  #roomFor(client: Client, name: string, id: string): boolean {
    const room = this.#rooms.get(name);
    if (!room && this.#rooms.size >= this.limits.maxRooms) {
      this.#reject(client, 'too-many-rooms', 'server is at its room limit', CLOSE_POLICY);
      return false;
    }
    if (room && !room.peers.has(id) && room.peers.size >= this.limits.maxPeersPerRoom) {
      this.#reject(client, 'room-full', 'room is full', CLOSE_POLICY);
      return false;
    }
    return true;
  }

  /** The client is admitted: lists the room to it and announces it to the room. */
  #enter(client: Client, name: string, id: string, addrs: string[], admission: Admission): void {
    let room = this.#rooms.get(name);
    if (!room) {
      room = { peers: new Map(), admission };
      this.#rooms.set(name, room);
    }
    const peers = room.peers;
    const previous = peers.get(id);
    if (previous) {
      // The same key again: a reconnect whose old socket has not timed out yet. Newest wins.
      peers.delete(id);
      this.#reject(previous, 'replaced', 'replaced by a newer connection of the same node', 4000);
    }
    client.room = name;
    client.id = id;
    client.addrs = addrs;
    this.#clients.settle(client);
    const listed = new Map<string, readonly string[]>();
    for (const [peer, remote] of this.#backplane?.remote(name) ?? []) listed.set(peer, remote.addrs);
    for (const [peer, other] of peers) listed.set(peer, other.addrs);
    listed.delete(id);
    const listedAddrs: Record<string, string[]> = {};
    for (const [peer, a] of listed) if (a.length > 0) listedAddrs[peer] = [...a];
    this.#send(client, {
      t: 'joined',
      id,
      peers: [...listed.keys()],
      ...(Object.keys(listedAddrs).length > 0 ? { addrs: listedAddrs } : {}),
    });
    this.#announce(room, id, addrs);
    peers.set(id, client);
  }

  #announce(room: Room, id: string, addrs: readonly string[]): void {
    const msg: ServerMessage =
      addrs.length > 0 ? { t: 'peer-joined', id, addrs: [...addrs] } : { t: 'peer-joined', id };
    for (const other of room.peers.values()) this.#send(other, msg);
  }

  #onClosed(client: Client): void {
    client.closed = true;
    this.#clients.close(client);
    if (!client.room || !client.id) return;
    const room = this.#rooms.get(client.room);
    if (room?.peers.get(client.id) !== client) return;
    room.peers.delete(client.id);
    if (!client.movedAway) {
      this.#backplane?.leave(client.room, client.id, client.source);
      for (const other of room.peers.values()) this.#send(other, { t: 'peer-left', id: client.id });
    }
    if (room.peers.size === 0) this.#rooms.delete(client.room);
  }

  // ── from the backplane: what happened on other instances ──────────────────────────

  #remoteJoined(name: string, id: string, addrs: readonly string[]): void {
    const room = this.#rooms.get(name);
    if (room && !room.peers.has(id)) this.#announce(room, id, addrs);
  }

  #remoteLeft(name: string, id: string): void {
    const room = this.#rooms.get(name);
    if (!room || room.peers.has(id)) return;
    for (const other of room.peers.values()) this.#send(other, { t: 'peer-left', id });
  }

  #deliver(name: string, from: string, to: string, data: unknown): void {
    const target = this.#rooms.get(name)?.peers.get(to);
    if (!target || target.closed) this.#count('routed-to-unknown-peer');
    else if (this.#sendSignal(from, target, data) !== undefined) this.#count('routed-dropped');
  }

  /** The node joined the room on another instance: its connection here is stale. */
  #replacedElsewhere(name: string, id: string): void {
    const client = this.#rooms.get(name)?.peers.get(id);
    if (!client) return;
    client.movedAway = true;
    this.#reject(client, 'replaced', 'replaced by a newer connection of the same node', 4000);
  }
}
