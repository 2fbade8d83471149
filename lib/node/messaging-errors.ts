/** Errors of application messaging (messaging.ts, answer-stream.ts). */
import { CodedError } from '../util/coded-error.ts';

/** Why send(), request(), requestStream() or broadcast() failed (`MessagingError.code`). */
export type MessagingErrorCode =
  /** No link to the node, no neighbour linked to it, and it is not a reachable member (or the link closed while send waited). */
  | 'no-route'
  /** The payload is over maxMessageBytes. */
  | 'too-large'
  /** The link stayed congested for sendTimeoutMs, or too many requests are in flight. */
  | 'backpressure'
  /** No reply within the request timeout. */
  | 'timeout'
  /** The responder threw, had no responder for the topic, or its reply was too large (the message says which). */
  | 'remote-error'
  /** maxParts of requestStream() outside 1..64. */
  | 'bad-parts'
  /** The node was closed. */
  | 'closed'
  /** A topic outside 1..64 characters of [A-Za-z0-9._/-]. */
  | 'bad-topic';

export class MessagingError extends CodedError<MessagingErrorCode> {
  override name = 'MessagingError';
  constructor(code: MessagingErrorCode, message: string) {
    super(code, `${code}: ${message}`);
  }
}
