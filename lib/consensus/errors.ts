/** Why a consensus call was refused or could not be confirmed (`ConsensusError.code`). */
import { CodedError } from '../util/coded-error.ts';

export type ConsensusErrorCode =
  /** This node is not the leader; `leaderHint` names the leader it knows of, if any. */
  | 'not-leader'
  /** No answer in time: the operation may or may not have taken effect (outcome unknown). */
  | 'timeout'
  /** The proposal's log slot was taken by another leader's entry: it did not take effect. */
  | 'superseded'
  /** The leader is handing leadership over; retry at `leaderHint` or after the transfer. */
  | 'transferring'
  /** Too many uncommitted proposals are queued at the leader; retry later. */
  | 'overloaded'
  /** A membership change is still uncommitted (changes go one at a time). */
  | 'config-change-pending'
  /** An argument the core cannot accept (unknown transfer target, empty voter set, …). */
  | 'invalid-argument'
  /** The consensus service was closed. */
  | 'closed';

export class ConsensusError extends CodedError<ConsensusErrorCode> {
  override name = 'ConsensusError';
  /** With `not-leader` / `transferring`: the node believed to lead now, if known. */
  readonly leaderHint: string | undefined;

  constructor(code: ConsensusErrorCode, message: string, options?: { cause?: unknown; leaderHint?: string }) {
    super(code, message, options);
    this.leaderHint = options?.leaderHint;
  }
}
