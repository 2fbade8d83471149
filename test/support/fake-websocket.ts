/** A WebSocket a test drives, for SignalingClient (its `WebSocket` option). */
import type { WebSocketLike } from '../../signaling/client.ts';
import { toBase64Url } from '../../signaling/protocol.ts';

/** A WebSocket the test drives: it records each connection's URL. */
export class FakeSocket implements WebSocketLike {
  static made: FakeSocket[] = [];
  readyState = 0;
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: { code?: number; reason?: string }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  sent: string[] = [];
  constructor(readonly url: string) {
    FakeSocket.made.push(this);
  }
  send(data: string): void {
    this.sent.push(data);
  }
  close(): void {
    this.readyState = 3;
  }
  /** The connection fails before it opened. */
  refuse(): void {
    this.readyState = 3;
    this.onclose?.({ code: 1006 });
  }
  /** Opens and joins as `id`, in a room that lists `peers`. */
  join(id: string, peers: string[] = []): void {
    this.readyState = 1;
    this.onopen?.({});
    this.onmessage?.({
      data: JSON.stringify({ t: 'challenge', v: 1, nonce: toBase64Url(new Uint8Array(32)) }),
    });
    this.deliver({ t: 'joined', id, peers });
  }
  /** A message from the server. */
  deliver(msg: unknown): void {
    this.onmessage?.({ data: JSON.stringify(msg) });
  }
}
