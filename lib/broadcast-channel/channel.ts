/**
 * One link between two contexts, multiplexed on the cluster's BroadcastChannel: the
 * RawChannel the handshake and then the AuthenticatedLink run on.
 *
 * BroadcastChannel delivers reliably and in order between two live contexts, so each
 * direction numbers its data frames: an old or repeated number is dropped and counted, a
 * gap (something lost or posted by a third party) closes the link. The channel itself has no
 * send buffer to watch, so back-pressure counts what the peer has not acknowledged yet: the
 * receiver acknowledges every ACK_EVERY bytes and whenever asked (drained() asks), the
 * sender's bufferedAmount is the unacknowledged rest, and a peer that lets maxBufferedBytes
 * pile up is too slow: the link closes, as a WebSocket link does.
 */
import { closedError, DrainWaiters } from '../transport/drain.ts';
import type { ChannelBinding, DeliveryClass, RawChannel, RawChannelHandlers } from '../transport/types.ts';
import { ackBody, Kind, type KindCode, type LinkFrame, reasonBody, seqBody } from './frames.ts';

export interface BroadcastLinkLimits {
  /** Largest stream message accepted or sent. Default 1 MiB. */
  maxMessageBytes: number;
  /** Stream bytes the peer may leave unacknowledged; beyond, the link closes (peer too slow). Default 16 MiB. */
  maxBufferedBytes: number;
  /** Largest datagram; larger ones are dropped. Default 16 KiB. */
  maxDatagramBytes: number;
}

export const DEFAULT_BROADCAST_LINK_LIMITS: Readonly<BroadcastLinkLimits> = Object.freeze({
  maxMessageBytes: 1 << 20,
  maxBufferedBytes: 16 << 20,
  maxDatagramBytes: 16 * 1024,
});

/** The receiver acknowledges at least every this many stream bytes. */
const ACK_EVERY = 64 * 1024;

/** What a link needs of its transport. */
export interface LinkPort {
  /** Posts a frame of this link on the channel. */
  post(kind: KindCode, body?: Uint8Array): void;
  /** A frame of the peer was refused (counted by reason). */
  dropped(reason: string): void;
  /** The link closed (either end): the transport forgets it. */
  gone(): void;
}

export class BroadcastLink implements RawChannel {
  readonly binding: ChannelBinding;
  readonly #port: LinkPort;
  readonly #limits: BroadcastLinkLimits;
  readonly #waiters = new DrainWaiters();
  #handlers: RawChannelHandlers | undefined;
  #closed = false;
  #sendSeq = 0;
  #recvSeq = 0;
  /** Stream payload bytes sent, and acknowledged by the peer. */
  #sent = 0;
  #acked = 0;
  #ackAsked = false;
  /** Stream payload bytes received, and acknowledged to the peer. */
  #received = 0;
  #ackedOut = 0;

  constructor(port: LinkPort, binding: ChannelBinding, limits: Partial<BroadcastLinkLimits> = {}) {
    this.#port = port;
    this.binding = binding;
    this.#limits = { ...DEFAULT_BROADCAST_LINK_LIMITS, ...limits };
  }

  get closed(): boolean {
    return this.#closed;
  }

  get bufferedAmount(): number {
    return this.#closed ? 0 : this.#sent - this.#acked;
  }

  drained(threshold: number): Promise<void> {
    if (this.#closed) return Promise.reject(closedError('broadcast link closed'));
    const done = this.#waiters.wait(threshold, this.bufferedAmount);
    if (this.bufferedAmount > threshold && !this.#ackAsked) {
      this.#ackAsked = true;
      this.#port.post(Kind.AckRequest);
    }
    return done;
  }

  setHandlers(handlers: RawChannelHandlers): void {
    this.#handlers = handlers;
  }

  send(cls: DeliveryClass, frame: Uint8Array): void {
    if (this.#closed) return;
    if (cls === 'datagram') {
      if (frame.length > this.#limits.maxDatagramBytes) return;
      this.#port.post(Kind.Datagram, seqBody(this.#sendSeq++, frame));
      return;
    }
    if (frame.length > this.#limits.maxMessageBytes) {
      this.#fail('message over the size limit');
      return;
    }
    if (this.bufferedAmount + frame.length > this.#limits.maxBufferedBytes) {
      this.#fail('send buffer overflow (peer too slow)');
      return;
    }
    this.#sent += frame.length;
    this.#port.post(Kind.Stream, seqBody(this.#sendSeq++, frame));
  }

  /** Tells the peer and ends the link; as with the other transports, only a close this end did not ask for reaches the handlers. */
  close(reason = 'closed locally'): void {
    if (this.#closed) return;
    this.#port.post(Kind.Close, reasonBody(reason));
    this.#gone(reason, false);
  }

  /** This end gives up on the link (a limit, a broken sequence): the peer and the handlers are told. */
  #fail(reason: string): void {
    if (this.#closed) return;
    this.#port.post(Kind.Close, reasonBody(reason));
    this.#gone(reason, true);
  }

  /** The transport ends the link without telling the peer (it is gone, or restarted). */
  end(reason: string): void {
    this.#gone(reason, true);
  }

  /** A frame of this link from the peer (the transport checked sender and address). */
  deliver(f: LinkFrame): void {
    if (this.#closed) return;
    switch (f.kind) {
      case Kind.Stream:
      case Kind.Datagram:
        this.#onData(f.kind, f.seq, f.payload);
        return;
      case Kind.Ack:
        if (f.received < this.#acked || f.received > this.#sent) {
          this.#port.dropped('bad-ack');
          return;
        }
        this.#acked = f.received;
        this.#ackAsked = false;
        this.#waiters.check(this.bufferedAmount);
        return;
      case Kind.AckRequest:
        this.#ack();
        return;
      case Kind.Close:
        this.#gone(`closed by the peer (${f.reason})`, true);
        return;
      default:
        this.#port.dropped('unexpected');
    }
  }

  #onData(kind: number, seq: number, payload: Uint8Array): void {
    if (seq !== this.#recvSeq) {
      // Behind: a repeat or a replay. Ahead: something was lost or forged; the stream cannot go on.
      if (seq < this.#recvSeq) this.#port.dropped('replayed');
      else this.#fail('sequence gap');
      return;
    }
    this.#recvSeq++;
    if (kind === Kind.Datagram) {
      if (payload.length <= this.#limits.maxDatagramBytes) this.#handlers?.frame('datagram', payload);
      else this.#port.dropped('too-large');
      return;
    }
    if (payload.length > this.#limits.maxMessageBytes) {
      this.#fail('bad frame size');
      return;
    }
    this.#received += payload.length;
    this.#handlers?.frame('stream', payload);
    if (!this.#closed && this.#received - this.#ackedOut >= ACK_EVERY) this.#ack();
  }

  #ack(): void {
    this.#ackedOut = this.#received;
    this.#port.post(Kind.Ack, ackBody(this.#received));
  }

  #gone(reason: string, notify: boolean): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#waiters.fail(reason);
    this.#port.gone();
    if (notify) this.#handlers?.close(reason);
  }
}
