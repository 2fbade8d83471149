/**
 * Signaling client: joins the cluster's room by proving its key, tracks the room's peers
 * and the WebSocket addresses they advertise (discovery, see joinThroughSignaling),
 * exchanges opaque signals for the WebRTC transport, and reconnects with jittered
 * exponential backoff (re-announcing itself) when the server restarts or the network drops.
 * Given several servers (instances sharing rooms through Redis), it moves to the next one
 * when one fails, so the node stays in its room while any of them is up. Servers it cannot
 * reach are reported (an `error` event, `unreachable`), once per outage.
 * Portable: uses the standard WebSocket API; Node 20 passes the `ws` package's class.
 */
import type { NodeIdentity } from '../lib/identity/node-identity.ts';
import { Domain, signingInput } from '../lib/identity/signed.ts';
import { TransportError } from '../lib/transport/errors.ts';
import { Emitter } from '../lib/util/emitter.ts';
import {
  fromBase64Url,
  isAdvertisement,
  joinTranscript,
  MAX_ADDRESS_LENGTH,
  MAX_ADVERTISED_ADDRESSES,
  parseServerMessage,
  type ServerMessage,
  toBase64Url,
} from './protocol.ts';

/** The subset of the WebSocket API the client uses. */
export interface WebSocketLike {
  readonly readyState: number;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code?: number; reason?: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}
export type WebSocketConstructor = new (url: string) => WebSocketLike;

export interface SignalingClientOptions {
  /**
   * ws:// or wss:// URL of the signaling server, or several (instances that share rooms
   * through Redis): it connects to the first, and when a connection fails or drops moves on
   * to the next, in order and round again — each listed server tried once after a short
   * jittered pause, then backing off per round (minBackoffMs … maxBackoffMs). It does not
   * move back while the one it is on works. To spread clients, list them in different orders.
   */
  url: string | readonly string[];
  identity: NodeIdentity;
  /** Room = cluster name. */
  room: string;
  /** Membership token, for servers that require one. */
  token?: Uint8Array;
  /**
   * Where this node accepts WebSocket links (its listener's ws:// or wss:// URLs), listed to
   * the room's other peers so that nodes without WebRTC — other WebSocket nodes, edge
   * workers, browsers with a WebSocket transport — can dial it. At most 4, each a ws:// or
   * wss:// URL of at most 256 printable ASCII characters (else the constructor throws).
   * Default none: the node is reachable over WebRTC only, if at all.
   */
  advertise?: string[];
  /** Default: globalThis.WebSocket. */
  WebSocket?: WebSocketConstructor;
  /** Reconnect backoff bounds, ms (jittered ±50%). Default 500 … 30,000. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** Largest signal payload sent (after JSON), bytes. Default 60,000. */
  maxSignalBytes?: number;
}

export type SignalingState = 'connecting' | 'joined' | 'disconnected' | 'closed';

export interface SignalingEvents extends Record<string, unknown> {
  state: { state: SignalingState };
  joined: { peers: string[] };
  /** `addrs`: the WebSocket addresses it advertised (none: WebRTC only, or dial-only). */
  'peer-joined': { id: string; addrs: readonly string[] };
  'peer-left': { id: string };
  signal: { from: string; data: unknown };
  /**
   * The server said no (`code` is its SignalingErrorCode), or could not be reached
   * (`unreachable`: reported once per outage, then again only after a successful join).
   */
  error: { code: string; message: string };
}

const OPEN = 1;

export class SignalingClient {
  readonly #o: SignalingClientOptions;
  readonly #events = new Emitter<SignalingEvents>();
  /** The room's peers (not this node), each with the WebSocket addresses it advertised. */
  readonly #peers = new Map<string, readonly string[]>();
  readonly #urls: readonly string[];
  /** The server it is on, or tries next. */
  #current = 0;
  #ws: WebSocketLike | undefined;
  #state: SignalingState = 'disconnected';
  /** Failed attempts since the last join. */
  #attempt = 0;
  #retry: ReturnType<typeof setTimeout> | undefined;
  #closed = false;
  /** An unreachable server was reported since the last join. */
  #reported = false;

  constructor(opts: SignalingClientOptions) {
    if (opts.advertise !== undefined && !isAdvertisement(opts.advertise))
      throw new TypeError(
        `SignalingClient advertise: at most ${MAX_ADVERTISED_ADDRESSES} ws:// or wss:// URLs of at most ${MAX_ADDRESS_LENGTH} printable ASCII characters`,
      );
    const urls = typeof opts.url === 'string' ? [opts.url] : [...opts.url];
    if (urls.length === 0) throw new TypeError('SignalingClient url: at least one server');
    this.#urls = urls;
    this.#o = opts;
  }

  get state(): SignalingState {
    return this.#state;
  }

  /** The server it is connected to (or tries next). */
  get url(): string {
    return this.#urls[this.#current]!;
  }

  /** Every server it may use, in the order it tries them. */
  get urls(): readonly string[] {
    return this.#urls;
  }

  /** Peers currently in the room (not counting this node). */
  peers(): string[] {
    return [...this.#peers.keys()];
  }

  /** The WebSocket addresses a peer of the room advertised (none if it did not, or is not in the room). */
  addressesOf(id: string): readonly string[] {
    return this.#peers.get(id) ?? [];
  }

  on<K extends keyof SignalingEvents>(type: K, fn: (e: SignalingEvents[K]) => void): () => void {
    return this.#events.on(type, fn);
  }

  start(): void {
    if (this.#closed || this.#ws) return;
    this.#connect();
  }

  /**
   * Sends a signal to a peer of the room; false when not joined, too large, or `to` is not
   * in the room (it left, or never joined): the server would only answer `unknown-peer`, and
   * a dial racing a departure, or link upkeep redialling a member that went away, is no error.
   */
  send(to: string, data: unknown): boolean {
    if (this.#state !== 'joined' || !this.#ws || !this.#peers.has(to)) return false;
    const text = JSON.stringify({ t: 'signal', to, data });
    if (text.length > (this.#o.maxSignalBytes ?? 60_000)) return false;
    this.#ws.send(text);
    return true;
  }

  close(): void {
    this.#closed = true;
    if (this.#retry !== undefined) clearTimeout(this.#retry);
    this.#ws?.close(1000, 'closing');
    this.#ws = undefined;
    this.#setState('closed');
  }

  #setState(state: SignalingState): void {
    if (this.#state === state) return;
    this.#state = state;
    this.#events.emit('state', { state });
  }

  #connect(): void {
    const Ctor = this.#o.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (!Ctor)
      throw new TransportError(
        'unsupported-runtime',
        'no WebSocket implementation: pass one (the `ws` package on Node 20)',
      );
    this.#setState('connecting');
    const url = this.url;
    let ws: WebSocketLike;
    try {
      ws = new Ctor(url);
    } catch (e) {
      this.#events.emit('error', { code: 'connect', message: (e as Error).message });
      this.#scheduleReconnect();
      return;
    }
    this.#ws = ws;
    let opened = false;
    let failure = 'connection failed';
    ws.onopen = () => {
      opened = true;
    };
    ws.onmessage = (ev) => {
      if (typeof ev.data !== 'string') return;
      const msg = parseServerMessage(ev.data);
      if (msg) this.#onMessage(ws, msg);
    };
    ws.onclose = () => {
      if (this.#ws !== ws) return;
      this.#ws = undefined;
      for (const id of [...this.#peers.keys()]) {
        this.#peers.delete(id);
        this.#events.emit('peer-left', { id });
      }
      if (this.#closed) return;
      // Reported once a round of every listed server failed to open, once per outage.
      if (!opened && !this.#reported && (this.#attempt + 1) % this.#urls.length === 0) {
        this.#reported = true;
        this.#events.emit('error', {
          code: 'unreachable',
          message:
            this.#urls.length === 1
              ? `cannot reach ${url}: ${failure}`
              : `cannot reach any of ${this.#urls.join(', ')} (last: ${failure})`,
        });
      }
      this.#setState('disconnected');
      this.#scheduleReconnect();
    };
    // The `ws` package passes an ErrorEvent with the cause; a browser's error event has none.
    ws.onerror = (ev) => {
      const message = (ev as { message?: unknown }).message;
      if (typeof message === 'string' && message !== '') failure = message.slice(0, 200);
    };
  }

  #scheduleReconnect(): void {
    if (this.#closed) return;
    const min = this.#o.minBackoffMs ?? 500;
    const max = this.#o.maxBackoffMs ?? 30_000;
    // The next server; backing off per round of them (one server: per attempt).
    this.#current = (this.#current + 1) % this.#urls.length;
    const round = Math.floor(this.#attempt++ / this.#urls.length);
    const wait = Math.min(max, min * 2 ** round) * (0.5 + Math.random());
    this.#retry = setTimeout(() => {
      this.#retry = undefined;
      this.#connect();
    }, wait);
  }

  #onMessage(ws: WebSocketLike, msg: ServerMessage): void {
    switch (msg.t) {
      case 'challenge': {
        const nonce = fromBase64Url(msg.nonce, 32);
        if (!nonce || ws.readyState !== OPEN) return;
        const { identity, room, token, advertise } = this.#o;
        const sig = identity.sign(signingInput(Domain.SignalJoin, joinTranscript(room, nonce)));
        const join: Record<string, string | string[]> = {
          t: 'join',
          room,
          key: toBase64Url(identity.publicKey),
          sig: toBase64Url(sig),
        };
        if (token) join.token = toBase64Url(token);
        if (advertise?.length) join.addrs = advertise;
        ws.send(JSON.stringify(join));
        return;
      }
      case 'joined':
        this.#attempt = 0;
        this.#reported = false;
        for (const id of msg.peers)
          if (id !== this.#o.identity.nodeId) this.#peers.set(id, msg.addrs?.[id] ?? []);
        this.#setState('joined');
        this.#events.emit('joined', { peers: this.peers() });
        for (const [id, addrs] of this.#peers) this.#events.emit('peer-joined', { id, addrs });
        return;
      case 'peer-joined': {
        if (msg.id === this.#o.identity.nodeId) return;
        const addrs = msg.addrs ?? [];
        // Known already: a reconnect. Told again only if it advertises other addresses now.
        const known = this.#peers.get(msg.id);
        if (known && known.length === addrs.length && known.every((a, i) => a === addrs[i])) return;
        this.#peers.set(msg.id, addrs);
        this.#events.emit('peer-joined', { id: msg.id, addrs });
        return;
      }
      case 'peer-left':
        if (this.#peers.delete(msg.id)) this.#events.emit('peer-left', { id: msg.id });
        return;
      case 'signal':
        if (this.#peers.has(msg.from)) this.#events.emit('signal', { from: msg.from, data: msg.data });
        return;
      case 'ping':
        ws.send(JSON.stringify({ t: 'pong' }));
        return;
      case 'error':
        // A signal to a peer that left before the server saw it: the server's word that the
        // peer is gone (its peer-left may be on the way or past), not a fault of this client.
        if (msg.code === 'unknown-peer' && msg.to !== undefined) {
          if (this.#peers.delete(msg.to)) this.#events.emit('peer-left', { id: msg.to });
          return;
        }
        this.#events.emit('error', { code: msg.code, message: msg.message });
        return;
      case 'pong':
        return;
    }
  }
}
