/** Why a consensus call was refused or could not be confirmed (`ConsensusError.code`). */
import { CodedError } from '../util/coded-error.ts';

export type ConsensusErrorCode =
  /** This node is not the leader; `leaderHint` names the leader it knows of, if any. */
  | 'not-leader'
  /** No outcome in time (for owners to raise): the operation may or may not have taken effect. */
  | 'timeout'
  /** The proposal's log slot was taken by another leader's entry (for owners to raise): it did not take effect. */
  | 'superseded'
  /** The leader is handing leadership over; retry at `leaderHint` or after the transfer. */
  | 'transferring'
  /** Too many uncommitted proposals are queued at the leader; retry later. */
  | 'overloaded'
  /** A membership change is still uncommitted (changes go one at a time). */
  | 'config-change-pending'
  /** The consensus storage failed to persist: this node stopped taking part (close it). */
  | 'storage-failed'
  /** A browser store this origin made is gone (IndexedDB deleted it): the node may have voted, and must rejoin. */
  | 'storage-lost'
  /** An argument the core cannot accept (unknown transfer target, empty voter set, …). */
  | 'invalid-argument';

export class ConsensusError extends CodedError<ConsensusErrorCode> {
  override name = 'ConsensusError';
  /** With `not-leader` / `transferring`: the node believed to lead now, if known. */
  readonly leaderHint: string | undefined;

  constructor(code: ConsensusErrorCode, message: string, options?: { cause?: unknown; leaderHint?: string }) {
    super(code, message, options);
    this.leaderHint = options?.leaderHint;
  }
}
