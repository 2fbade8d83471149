/**
 * WebSocket transport: for runtimes without WebRTC (hosted Deno edge workers) and for
 * server-to-server links. Any node can dial `ws://` / `wss://` addresses; Node and Deno
 * nodes can also listen. Same Link semantics and the same authenticated handshake as
 * every transport.
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
import { type StandardWebSocket, WsChannel, type WsChannelLimits } from './channel.ts';

/**
 * A WebSocket class. Dials pass `ws`'s options as the third argument (frames up to the
 * channel's limit, no permessage-deflate); standard WebSockets ignore it.
 */
export type StandardWebSocketConstructor = new (
  url: string,
  protocols?: undefined,
  options?: { maxPayload: number; perMessageDeflate: false },
) => StandardWebSocket;

/** Accepts incoming WebSockets (see node.ts and deno.ts). */
export interface WebSocketListener {
  /** The ws:// URL it listens at. */
  readonly url: string;
  onConnection(handler: (ws: StandardWebSocket) => void): void;
  /** The link handshake on `ws` completed: the listener no longer displaces it to make room. */
  linked?(ws: StandardWebSocket): void;
  close(): Promise<void>;
}

export interface WebSocketTransportOptions {
  /** Accept links here (Node, Deno). */
  listener?: WebSocketListener;
  /** Addresses to advertise instead of the listener's URL (e.g. wss://edge.example.com behind TLS). */
  advertise?: string[];
  /** Default: globalThis.WebSocket (Node 20: pass the `ws` package's class). */
  WebSocket?: StandardWebSocketConstructor;
  /** A dial must open the socket within this. Default 10,000 ms. */
  connectTimeoutMs?: number;
  channel?: Partial<WsChannelLimits>;
}

export class WebSocketTransport implements Transport {
  readonly name = 'websocket';
  readonly #o: WebSocketTransportOptions;
  #ctx: TransportContext | undefined;
  #events: TransportEvents | undefined;
  readonly #channels = new Set<WsChannel>();
  #closed = false;

  constructor(opts: WebSocketTransportOptions = {}) {
    this.#o = opts;
  }

  localAddresses(): string[] {
    return this.#o.advertise ?? (this.#o.listener ? [this.#o.listener.url] : []);
  }

  canDial(address: string): boolean {
    return /^wss?:\/\/[^\s]+$/.test(address);
  }

  start(ctx: TransportContext, events: TransportEvents): void {
    if (this.#ctx) throw new TransportError('already-started', 'transport already started');
    this.#ctx = ctx;
    this.#events = events;
    const listener = this.#o.listener;
    listener?.onConnection((ws) => {
      if (this.#closed) {
        ws.close(1001, 'closing');
        return;
      }
      this.#handshake(
        new WsChannel(ws, ctx.scheduler, this.#o.channel ?? {}),
        'acceptor',
        undefined,
        {},
        () => listener.linked?.(ws),
      );
    });
  }

  connect(address: string, opts: ConnectOptions = {}): void {
    const ctx = this.#ctx;
    if (!ctx || this.#closed) return;
    const Ctor = this.#o.WebSocket ?? (globalThis as { WebSocket?: StandardWebSocketConstructor }).WebSocket;
    if (!Ctor || !this.canDial(address)) {
      this.#events!.dialFailed(address, new TransportError('cannot-dial', `cannot dial ${address}`));
      return;
    }
    let ws: StandardWebSocket;
    try {
      // `ws` would otherwise take frames of 100 MiB, compressed, from a peer not yet authenticated.
      const maxPayload = (this.#o.channel?.maxMessageBytes ?? 1 << 20) + 1;
      ws = new Ctor(address, undefined, { maxPayload, perMessageDeflate: false });
    } catch (e) {
      this.#events!.dialFailed(address, e as Error);
      return;
    }
    let settled = false;
    const fail = (code: 'timeout' | 'connect-failed', why: string) => {
      if (settled) return;
      settled = true;
      ctx.scheduler.cancelTimer(timer);
      try {
        ws.close();
      } catch {
        // never opened
      }
      this.#events!.dialFailed(address, new TransportError(code, `websocket to ${address}: ${why}`));
    };
    const timer = ctx.scheduler.setTimer(this.#o.connectTimeoutMs ?? 10_000, () =>
      fail('timeout', 'timed out'),
    );
    ws.onerror = () => fail('connect-failed', 'connection failed');
    ws.onclose = () => fail('connect-failed', 'closed before open');
    ws.onopen = () => {
      if (settled) return;
      settled = true;
      ctx.scheduler.cancelTimer(timer);
      this.#handshake(new WsChannel(ws, ctx.scheduler, this.#o.channel ?? {}), 'dialer', address, opts);
    };
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const c of this.#channels) c.close('transport closed');
    this.#channels.clear();
  }

  #handshake(
    channel: WsChannel,
    role: 'dialer' | 'acceptor',
    address: string | undefined,
    opts: ConnectOptions,
    linked?: () => void,
  ): void {
    this.#channels.add(channel);
    channel.onGone = () => this.#channels.delete(channel);
    const handshake =
      opts.expectNodeId === undefined
        ? { transport: this.name }
        : { transport: this.name, expectNodeId: opts.expectNodeId };
    runHandshake(channel, this.#ctx!, role, handshake, (error, link?: Link) => {
      if (error || !link) {
        this.#channels.delete(channel);
        if (address !== undefined)
          this.#events!.dialFailed(address, error ?? new HandshakeError('protocol', 'handshake failed'));
        return;
      }
      if (this.#closed) {
        link.close('transport closed');
        return;
      }
      linked?.();
      this.#events!.link(link, address);
    });
  }
}
