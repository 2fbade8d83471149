import { closedError } from '../transport/drain.ts';
import type { ChannelBinding, DeliveryClass, RawChannel, RawChannelHandlers } from '../transport/types.ts';
import type { SimHost } from './host.ts';
import type { SimNetwork } from './network.ts';

const NO_BINDING: ChannelBinding = { local: new Uint8Array(0), remote: new Uint8Array(0) };
const UNCLAIMED_LIMIT = 64;

/**
 * One end of a simulated connection. Datagrams suffer loss, duplication and jitter
 * (reordering); stream frames only delay and bandwidth, and keep their order. While the
 * ends cannot reach each other, stream frames wait (as SCTP/TCP retransmit) and the
 * connection dies after the network's link timeout, as ICE would.
 */
export class SimChannelEnd implements RawChannel {
  readonly binding = NO_BINDING;
  readonly bufferedAmount = 0;
  readonly host: SimHost;
  /** Incarnation of the host when this end was made; a restarted host never sees old frames. */
  readonly epoch: number;
  peer!: SimChannelEnd;
  closed = false;
  /** Latest scheduled arrival of a stream frame sent from this end (keeps FIFO order). */
  lastArrival = 0;
  /** Stream frames sent while the peer was unreachable, in order. */
  stalled: Uint8Array[] = [];
  /** Pending "link timed out" timer while unreachable. */
  timeoutTimer: number | undefined;
  /** Called once when this end closes for any reason (lets its transport forget it). */
  onGone: (() => void) | undefined;
  #handlers: RawChannelHandlers | undefined;
  /**
   * Stream frames that arrived before this end had an owner: in trusted mode each side's
   * link comes up after its own delay, and what the faster side sent must not be lost
   * (a real handshake orders this: the slower side is up before the first frame arrives).
   */
  #unclaimed: Uint8Array[] = [];
  readonly #net: SimNetwork;

  constructor(net: SimNetwork, host: SimHost) {
    this.#net = net;
    this.host = host;
    this.epoch = host.epoch;
  }

  get alive(): boolean {
    return !this.closed && this.host.up && this.host.epoch === this.epoch;
  }

  /** Nothing queues at this end (stream frames wait in the network, as in a kernel): drained at once. */
  drained(): Promise<void> {
    return this.alive ? Promise.resolve() : Promise.reject(closedError('simulated connection gone'));
  }

  setHandlers(handlers: RawChannelHandlers): void {
    this.#handlers = handlers;
    const unclaimed = this.#unclaimed;
    this.#unclaimed = [];
    for (const f of unclaimed) if (this.alive) handlers.frame('stream', f);
  }

  send(cls: DeliveryClass, frame: Uint8Array): void {
    if (!this.alive) return;
    this.#net.transmit(this, cls, frame);
  }

  close(reason = 'closed by peer'): void {
    if (this.closed) return;
    this.closed = true;
    this.onGone?.();
    this.#net.onEndClosed(this, reason);
  }

  /** Called by the network to hand a frame to the owner. */
  deliver(cls: DeliveryClass, frame: Uint8Array): void {
    if (!this.alive) return;
    if (this.#handlers) this.#handlers.frame(cls, frame);
    else if (cls === 'stream' && this.#unclaimed.length < UNCLAIMED_LIMIT) this.#unclaimed.push(frame);
  }

  /** Called by the network when the connection ends without this end asking. */
  terminate(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.onGone?.();
    if (this.host.up && this.host.epoch === this.epoch) this.#handlers?.close(reason);
  }
}
