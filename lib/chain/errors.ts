/** Typed errors of chains (`ChainError.code`), listed in docs/ERRORS.md. */
import { CodedError } from '../util/coded-error.ts';

export type ChainErrorCode =
  /** Bytes from a peer or a store that are not a chain message or entry of this format. */
  | 'malformed'
  /** An entry whose hash, link to the previous entry or content does not match, or entries that are not under the signed tree head sent with them. */
  | 'tampered'
  /** An entry that is not the next sequence number. */
  | 'gap'
  /** A tree head not signed by the chain's author (or signed for another chain). */
  | 'bad-signature'
  /** The chain is proven forked (two inconsistent signed tree heads): nothing more is accepted. */
  | 'forked'
  /** A message about another chain than this one, or a chain the responder does not hold. */
  | 'unknown-chain'
  /** `append` on a replica (only the author appends). */
  | 'not-author'
  /** The author's storage held no copy of the chain: it must re-sync from the mesh before appending. */
  | 'needs-resync'
  /** An argument out of range (a sequence, a size, a payload that cannot be encoded or is too large). */
  | 'invalid-argument'
  /** The chain storage failed to read or write (`cause`: the backend's error). */
  | 'storage-failed'
  /** The storage was closed (or the node's chain host, for a pull waiting its turn). */
  | 'closed';

export class ChainError extends CodedError<ChainErrorCode> {
  override name = 'ChainError';
}
