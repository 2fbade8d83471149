/**
 * Why a link or a dial failed (`TransportError.code`). A dial's failure reaches the node as
 * the transport's `dialFailed` event (and in `stranded` reports); a failure of this node's
 * runtime also as an `error` event.
 */
import { CodedError } from '../util/coded-error.ts';
export type TransportErrorCode =
  /** The link closed before what was asked of it happened (drained()). */
  | 'closed'
  /** start() was called on a transport already started. */
  | 'already-started'
  /** connect() before start(). */
  | 'not-started'
  /** No transport here can dial this address (unknown scheme, malformed, or this node's own). */
  | 'cannot-dial'
  /** The connection could not be made, or ended before the link was up. */
  | 'connect-failed'
  /** The connection or its negotiation did not complete within the connect timeout. */
  | 'timeout'
  /** WebRTC: neither the mesh nor the signaling server can carry signals to the peer. */
  | 'no-signaling-path'
  /** WebRTC: maxPeerConnections or peerConnectionBudget reached. */
  | 'budget-exhausted'
  /** WebRTC: this runtime could not make a peer connection (the cause is the runtime's error). */
  | 'peer-connection'
  /** This runtime lacks what the call needs (Deno-only entry points, @roamhq/wrtc, a WebSocket class). */
  | 'unsupported-runtime';

/** A failure of a link or a transport; `cause` holds the underlying error when there is one. */
export class TransportError extends CodedError<TransportErrorCode> {
  override name = 'TransportError';
}
