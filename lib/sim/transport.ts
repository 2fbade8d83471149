import { runHandshake } from '../transport/handshake.ts';
import type { ConnectOptions, Transport, TransportContext, TransportEvents } from '../transport/types.ts';
import type { SimChannelEnd } from './channel.ts';
import type { SimHost } from './host.ts';
import type { SimNetwork } from './network.ts';

/** The in-memory transport of a simulated host. Links run the real handshake. */
export class SimTransport implements Transport {
  readonly name = 'memory';
  readonly host: SimHost;
  readonly #net: SimNetwork;
  readonly #epoch: number;
  #ctx: TransportContext | undefined;
  #events: TransportEvents | undefined;
  readonly #ends = new Set<SimChannelEnd>();
  #closed = false;

  constructor(net: SimNetwork, host: SimHost) {
    this.#net = net;
    this.host = host;
    this.#epoch = host.epoch;
  }

  /** False once closed or once its host crashed. */
  get active(): boolean {
    return !this.#closed && this.#ctx !== undefined && this.host.up && this.host.epoch === this.#epoch;
  }

  start(ctx: TransportContext, events: TransportEvents): void {
    if (this.#ctx) throw new Error('transport already started');
    this.#ctx = ctx;
    this.#events = events;
    this.host.listener = this;
  }

  connect(address: string, opts: ConnectOptions = {}): void {
    if (!this.#ctx) throw new Error('start() the transport before connect()');
    if (!this.active) return;
    this.#net.dial(this, address, opts);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.host.listener === this) this.host.listener = undefined;
    for (const end of [...this.#ends]) end.close('transport closed');
  }

  /** Network callback: a connection reached this listener. */
  accept(end: SimChannelEnd): void {
    this.#track(end);
    runHandshake(end, this.#ctx!, 'acceptor', { transport: this.name }, (error, link) => {
      if (!error && link && this.active) this.#events!.link(link);
    });
  }

  /** Network callback: an outbound connection was established (or not). */
  dialed(address: string, opts: ConnectOptions, end: SimChannelEnd | Error): void {
    if (!this.active) {
      if (!(end instanceof Error)) end.close('dialer gone');
      return;
    }
    if (end instanceof Error) {
      this.#events!.dialFailed(address, end);
      return;
    }
    this.#track(end);
    const handshake =
      opts.expectNodeId === undefined
        ? { transport: this.name }
        : { transport: this.name, expectNodeId: opts.expectNodeId };
    runHandshake(end, this.#ctx!, 'dialer', handshake, (error, link) => {
      if (!this.active) return;
      if (error) this.#events!.dialFailed(address, error);
      else if (link) this.#events!.link(link);
    });
  }

  #track(end: SimChannelEnd): void {
    this.#ends.add(end);
    end.onGone = () => this.#ends.delete(end);
  }
}
