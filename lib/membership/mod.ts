export { LocalHealth } from './awareness.ts';
export {
  type Claim,
  type ClaimFields,
  type ClaimKind,
  type ClaimSigner,
  claimDomain,
  claimState,
  interpretClaim,
  signClaim,
} from './claims.ts';
export {
  ConfigError,
  type ConfigErrorCode,
  DEFAULT_HEARTBEAT,
  type HeartbeatConfig,
  heartbeatConfig,
  pushPullInterval,
} from './config.ts';
export { IdInterner } from './interner.ts';
export { MemberTable } from './member-table.ts';
export { emptyMembershipMetrics, type MembershipMetrics } from './metrics.ts';
export { isReachable, NodeState, StateCode, stateName, supersedes } from './node-state.ts';
export { RetransmitQueue } from './retransmit-queue.ts';
export { SuspicionTimer } from './suspicion.ts';
export {
  type MemberAddress,
  type MemberInfo,
  Membership,
  type MembershipEvent,
  type MembershipOptions,
  type RecentlyReaped,
} from './swim.ts';
