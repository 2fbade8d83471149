export type { RequestStreamOptions, StreamResponder } from './answer-stream.ts';
export { DEFAULT_DIAL_POLICY, type DialPolicy } from './dial-policy.ts';
export { MeshNodeError, type MeshNodeErrorCode } from './errors.ts';
export type { MemberStateChange, MeshEvents } from './events.ts';
export { type DialTarget, LinkManager, type LinkManagerOptions, type LinkPolicy } from './link-manager.ts';
export { type MeshMetrics, MeshNode } from './mesh-node.ts';
export {
  type AppMessage,
  MessagingError,
  type MessagingErrorCode,
  type MessagingMetrics,
  type MessagingOptions,
  type Responder,
} from './messaging.ts';
export { type MessagingService, messaging } from './messaging-service.ts';
export { checkMeshNodeOptions, MAX_META_ENTRIES, type MeshNodeOptions } from './options.ts';
export { hashRing, type RingService } from './ring-service.ts';
export { ClaimVerifier, type SignedKind, SignedVerifier, type VerifierStats } from './signed-verifier.ts';
export {
  type StateHost,
  type StateOptions,
  StateReplica,
  type StateReplicaMetrics,
} from './state-replica.ts';
export { replicatedState, type StateService } from './state-service.ts';
