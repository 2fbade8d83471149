import { closedError } from './drain.ts';
import type { Link, LinkHandlers, PeerInfo, RawChannel } from './types.ts';

/** Frames held for a link whose owner has not attached handlers yet. */
const EARLY_FRAME_LIMIT = 64;

/** A raw channel after a successful handshake: same frames, now tied to a proven peer. */
export class AuthenticatedLink implements Link {
  readonly peer: PeerInfo;
  readonly transport: string;
  readonly initiator: boolean;
  readonly #raw: RawChannel;
  #handlers: LinkHandlers | undefined;
  #early: Array<['datagram' | 'stream', Uint8Array]> = [];
  #closed = false;
  #closeReason: string | undefined;

  constructor(raw: RawChannel, peer: PeerInfo, transport: string, initiator: boolean) {
    this.#raw = raw;
    this.peer = peer;
    this.transport = transport;
    this.initiator = initiator;
    raw.setHandlers({
      frame: (cls, frame) => {
        if (this.#closed) return;
        if (!this.#handlers) {
          if (this.#early.length < EARLY_FRAME_LIMIT) this.#early.push([cls, frame]);
          return;
        }
        if (cls === 'stream') this.#handlers.message(frame);
        else this.#handlers.datagram(frame);
      },
      close: (reason) => this.#onClosed(reason),
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  get bufferedAmount(): number {
    return this.#raw.bufferedAmount;
  }

  drained(threshold = 0): Promise<void> {
    if (this.#closed) return Promise.reject(closedError(this.#closeReason ?? 'closed'));
    return this.#raw.drained(threshold);
  }

  setHandlers(handlers: LinkHandlers): void {
    this.#handlers = handlers;
    const early = this.#early;
    this.#early = [];
    for (const [cls, frame] of early) {
      if (this.#closed) return;
      if (cls === 'stream') handlers.message(frame);
      else handlers.datagram(frame);
    }
    if (this.#closed && this.#closeReason !== undefined) handlers.close(this.#closeReason);
  }

  sendDatagram(frame: Uint8Array): void {
    if (!this.#closed) this.#raw.send('datagram', frame);
  }

  send(frame: Uint8Array): void {
    if (!this.#closed) this.#raw.send('stream', frame);
  }

  close(reason = 'closed locally'): void {
    if (this.#closed) return;
    this.#raw.close(reason);
    this.#onClosed(reason);
  }

  #onClosed(reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#closeReason = reason;
    this.#early = [];
    this.#handlers?.close(reason);
  }
}
