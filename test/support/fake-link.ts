/**
 * A Link made by hand for the node-layer specification tests (test/spec/): it records what
 * is sent on it, lets the test deliver frames, set its send buffer and close either side,
 * and behaves like AuthenticatedLink where the node depends on it (closing locally also
 * reports the close; drained() settles when the test lowers bufferedAmount or closes it).
 */
import { closedError, DrainWaiters } from '../../lib/transport/drain.ts';
import type { Link, LinkHandlers, PeerInfo } from '../../lib/transport/types.ts';
import { decodeMessage } from '../../lib/wire/codec.ts';
import type { Message } from '../../lib/wire/messages.ts';

export class FakeLink implements Link {
  readonly peer: PeerInfo;
  readonly transport = 'fake';
  readonly initiator: boolean;
  closed = false;
  closeReason: string | undefined;
  /** Stream frames sent, in order. */
  readonly frames: Uint8Array[] = [];
  readonly datagrams: Uint8Array[] = [];
  #handlers: LinkHandlers | undefined;
  #buffered = 0;
  readonly #waiters = new DrainWaiters();

  constructor(nodeId: string, opts: { initiator?: boolean; publicKey?: Uint8Array; boot?: string } = {}) {
    this.peer = {
      nodeId,
      publicKey: opts.publicKey ?? new Uint8Array(32),
      ...(opts.boot ? { boot: opts.boot } : {}),
    };
    this.initiator = opts.initiator ?? false;
  }

  get bufferedAmount(): number {
    return this.#buffered;
  }

  /** The test sets the send buffer; lowering it is the drain event drained() waits for. */
  set bufferedAmount(bytes: number) {
    this.#buffered = bytes;
    this.#waiters.check(bytes);
  }

  drained(threshold = 0): Promise<void> {
    if (this.closed) return Promise.reject(closedError(this.closeReason ?? 'closed'));
    return this.#waiters.wait(threshold, this.#buffered);
  }

  setHandlers(handlers: LinkHandlers): void {
    this.#handlers = handlers;
  }

  send(frame: Uint8Array): void {
    if (!this.closed) this.frames.push(frame);
  }

  sendDatagram(frame: Uint8Array): void {
    if (!this.closed) this.datagrams.push(frame);
  }

  close(reason = 'closed locally'): void {
    if (this.closed) return;
    this.closed = true;
    this.closeReason = reason;
    this.#waiters.fail(reason);
    this.#handlers?.close(reason);
  }

  /** A frame from the peer. */
  deliver(frame: Uint8Array, cls: 'stream' | 'datagram' = 'stream'): void {
    if (this.closed) return;
    if (cls === 'stream') this.#handlers?.message(frame);
    else this.#handlers?.datagram(frame);
  }

  /** The stream frames sent so far, decoded. */
  messages(): Message[] {
    return this.frames.map((f) => decodeMessage(f));
  }
}
