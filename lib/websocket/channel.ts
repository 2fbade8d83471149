/**
 * A RawChannel over one WebSocket (either end, any runtime: the standard WebSocket API —
 * browsers, Deno, and the `ws` package on Node). Both delivery classes share the socket;
 * the first byte of each binary frame says which: 0 stream, 1 datagram. TCP delivers
 * "datagrams" reliably and in order, which is allowed (they may be lost, not must).
 *
 * drained(): the `ws` package's send(data, cb) calls back once the frame is written out, so
 * on Node each completed send is a drain event. The standard WebSocket API has no such event
 * (nor `bufferedamountlow`), so with it — browsers, Deno, Node's global WebSocket — the
 * channel looks at bufferedAmount every DRAIN_POLL_MS, only while someone waits.
 */
import type { Scheduler, TimerId } from '../time/types.ts';
import { closedError, DrainWaiters } from '../transport/drain.ts';
import type { ChannelBinding, DeliveryClass, RawChannel, RawChannelHandlers } from '../transport/types.ts';

export interface StandardWebSocket {
  readonly readyState: number;
  readonly bufferedAmount: number;
  binaryType: string;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code?: number; reason?: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
}

const STREAM = 0;
const DATAGRAM = 1;
const OPEN = 1;
const NO_BINDING: ChannelBinding = { local: new Uint8Array(0), remote: new Uint8Array(0) };
/** Standard WebSockets only (no send completions): how often a waiting drained() looks. */
const DRAIN_POLL_MS = 20;

/** The `ws` package's send: `cb` runs once the data is written out (or the socket failed). */
type SendWithCompletion = (data: Uint8Array, cb: (error?: Error) => void) => void;

/** Whether `ws.send` takes a completion callback: `ws`'s send(data, options, cb); the standard one takes data only. */
function reportsSends(ws: StandardWebSocket): boolean {
  return ws.send.length >= 2;
}

export interface WsChannelLimits {
  /** Largest frame accepted or sent. Default 1 MiB. */
  maxMessageBytes: number;
  /** A peer that lets this much pile up unsent is too slow: the link closes. Default 16 MiB. */
  maxBufferedBytes: number;
}

export class WsChannel implements RawChannel {
  readonly binding = NO_BINDING;
  readonly #ws: StandardWebSocket;
  readonly #limits: WsChannelLimits;
  readonly #scheduler: Scheduler;
  readonly #waiters = new DrainWaiters();
  readonly #reportsSends: boolean;
  #poll: TimerId | undefined;
  #handlers: RawChannelHandlers | undefined;
  #closed = false;
  /** Called once when the channel is gone (either side closed it, or the socket failed). */
  onGone: (() => void) | undefined;

  constructor(ws: StandardWebSocket, scheduler: Scheduler, limits: Partial<WsChannelLimits> = {}) {
    this.#ws = ws;
    this.#scheduler = scheduler;
    this.#reportsSends = reportsSends(ws);
    this.#limits = { maxMessageBytes: 1 << 20, maxBufferedBytes: 16 << 20, ...limits };
    ws.binaryType = 'arraybuffer';
    ws.onmessage = (ev) => {
      if (this.#closed || !this.#handlers || !(ev.data instanceof ArrayBuffer)) return;
      if (ev.data.byteLength < 1 || ev.data.byteLength > this.#limits.maxMessageBytes + 1) {
        this.close('bad frame size');
        return;
      }
      const bytes = new Uint8Array(ev.data);
      const frame = bytes.subarray(1);
      if (bytes[0] === STREAM) this.#handlers.frame('stream', frame);
      else if (bytes[0] === DATAGRAM) this.#handlers.frame('datagram', frame);
    };
    ws.onclose = (ev) => this.#gone(`websocket closed (${ev.code ?? 'no code'})`);
    ws.onerror = () => this.#gone('websocket error');
  }

  get bufferedAmount(): number {
    return this.#closed ? 0 : this.#ws.bufferedAmount;
  }

  drained(threshold: number): Promise<void> {
    if (this.#closed) return Promise.reject(closedError('websocket closed'));
    const done = this.#waiters.wait(threshold, this.bufferedAmount);
    if (!this.#reportsSends) this.#watch();
    return done;
  }

  setHandlers(handlers: RawChannelHandlers): void {
    this.#handlers = handlers;
  }

  send(cls: DeliveryClass, frame: Uint8Array): void {
    if (this.#closed || this.#ws.readyState !== OPEN) return;
    if (frame.length > this.#limits.maxMessageBytes) {
      if (cls === 'stream') this.close('message over the size limit');
      return;
    }
    if (this.#ws.bufferedAmount > this.#limits.maxBufferedBytes) {
      if (cls === 'stream') this.close('send buffer overflow (peer too slow)');
      return;
    }
    const out = new Uint8Array(frame.length + 1);
    out[0] = cls === 'stream' ? STREAM : DATAGRAM;
    out.set(frame, 1);
    if (this.#reportsSends) (this.#ws.send as SendWithCompletion)(out, this.#sent);
    else this.#ws.send(out);
  }

  close(reason = 'closed locally'): void {
    if (this.#closed) return;
    this.#gone(reason);
    try {
      this.#ws.close(1000, reason.slice(0, 120));
    } catch {
      // already closed
    }
  }

  /** A send completed (`ws`): the buffer shrank. */
  readonly #sent = (): void => this.#waiters.check(this.bufferedAmount);

  /** Standard WebSockets: checks the buffer now and then while drained() is waited on. */
  #watch(): void {
    if (this.#poll !== undefined || this.#waiters.size === 0 || this.#closed) return;
    this.#poll = this.#scheduler.setTimer(DRAIN_POLL_MS, () => {
      this.#poll = undefined;
      this.#waiters.check(this.bufferedAmount);
      this.#watch();
    });
  }

  #gone(reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.onGone?.();
    if (this.#poll !== undefined) this.#scheduler.cancelTimer(this.#poll);
    this.#poll = undefined;
    this.#waiters.fail(reason);
    this.#handlers?.close(reason);
  }
}
