/** Why a MeshNode call was refused or a running node reports trouble (`MeshNodeError.code`). */
import { CodedError } from '../util/coded-error.ts';
export type MeshNodeErrorCode =
  /** A method that needs a started node was called before start() finished. */
  | 'not-started'
  /** start() was called a second time, or after close(). */
  | 'already-started'
  /** The node was closed (close() or leave()). */
  | 'closed'
  /** A state call on a node built without `state: replicatedState()`. */
  | 'no-state'
  /** `ring` or `assignPid()` on a node built without `ring: hashRing()`. */
  | 'no-ring'
  /** `node.chains` on a node built without `chains: chains()`. */
  | 'no-chains'
  /** A messaging call on a node built without `messaging: messaging()`. */
  | 'no-messaging'
  /** `node.consensus` on a node built without `consensus: consensus({ voters })`. */
  | 'no-consensus'
  /** The node's incarnation is at the top of its range: it cannot refute any more (restart with a new identity). */
  | 'incarnation-exhausted'
  /** Still Joining long after start() (reported as an `error` event when nobody listens for `stranded`). */
  | 'stranded';

export class MeshNodeError extends CodedError<MeshNodeErrorCode> {
  override name = 'MeshNodeError';
}
