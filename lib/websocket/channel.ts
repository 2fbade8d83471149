/**
 * A RawChannel over one WebSocket (either end, any runtime: the standard WebSocket API —
 * browsers, Deno, and the `ws` package on Node). Both delivery classes share the socket;
 * the first byte of each binary frame says which: 0 stream, 1 datagram. TCP delivers
 * "datagrams" reliably and in order, which is allowed (they may be lost, not must).
 */
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
  #handlers: RawChannelHandlers | undefined;
  #closed = false;

  constructor(ws: StandardWebSocket, limits: Partial<WsChannelLimits> = {}) {
    this.#ws = ws;
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
    this.#ws.send(out);
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

  #gone(reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#handlers?.close(reason);
  }
}
