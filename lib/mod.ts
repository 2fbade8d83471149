/**
 * weftmesh: browser tabs, Node processes and Deno workers forming one cluster.
 *
 * The root entry is what applications use: MeshNode with its options, events and metrics;
 * identities; the replicated state's query types; the hash ring; Merkle trees and proofs;
 * storage; the Env an application may inject; and every typed error a caller can catch.
 * Parts for building your own node or transport have their own entry points (README,
 * *Entry points*): weftmesh/membership, weftmesh/transport, weftmesh/wire, weftmesh/time,
 * weftmesh/sim. Everything else in lib/ is private. test/unit/root-exports.test.ts pins this
 * list, so a change to it is deliberate.
 */

export type {
  BroadcastMetrics,
  KindCount,
  KindMetrics,
  TreeLinks,
  TreeMetrics,
} from './broadcast/metrics.ts';
export type { TreeOptions } from './broadcast/tree.ts';
export { type AdmissionPolicy, issueMembershipToken } from './identity/admission.ts';
export { IdentityError, type IdentityErrorCode, NodeIdentity, nodeIdOf } from './identity/node-identity.ts';
export { loadOrCreateIdentity } from './identity/persist.ts';
export type { Signer } from './identity/signer.ts';
export {
  fastVerifier,
  type MaybePromise,
  type SignatureVerifier,
  strictVerifier,
} from './identity/verifier.ts';
export { ConfigError, type ConfigErrorCode, type HeartbeatConfig } from './membership/config.ts';
export type { MembershipMetrics } from './membership/metrics.ts';
export { NodeState } from './membership/node-state.ts';
export type { MemberInfo } from './membership/swim.ts';
export {
  consistencyProof,
  inclusionProof,
  leafHash,
  MerkleProof,
  MerkleProofError,
  type MerkleProofErrorCode,
  merkleRoot,
  nodeHash,
  verifyConsistency,
  verifyInclusion,
} from './merkle/log-tree.ts';
export { compareTreeRoots, type NodeSummary, PrefixTree, type SyncAction } from './merkle/prefix-tree.ts';
export type { RequestStreamOptions, StreamResponder } from './node/answer-stream.ts';
export type { DialPolicy } from './node/dial-policy.ts';
export { MeshNodeError, type MeshNodeErrorCode } from './node/errors.ts';
export type { MemberStateChange, MeshEvents } from './node/events.ts';
export { type MeshMetrics, MeshNode } from './node/mesh-node.ts';
export {
  type AppMessage,
  MessagingError,
  type MessagingErrorCode,
  type MessagingMetrics,
  type MessagingOptions,
  type Responder,
} from './node/messaging.ts';
export { type MessagingService, messaging } from './node/messaging-service.ts';
export type { MeshNodeOptions } from './node/options.ts';
export { hashRing, type RingService } from './node/ring-service.ts';
export type { StateOptions, StateReplicaMetrics } from './node/state-replica.ts';
export { replicatedState, type StateService } from './node/state-service.ts';
export { ConsistentHashRing, type RingOptions } from './ring/consistent-hash-ring.ts';
export type { StateEntry } from './state/entry.ts';
export {
  DistributedProcessTable,
  type GlobalPid,
  type ProcessAdvertisement,
  type ProcessFilter,
} from './state/process-table.ts';
export { ClusterServiceRegistry, type ServiceAdvertisement } from './state/service-registry.ts';
export {
  type ProcessFields,
  ProcessStatus,
  type ResourceSummary,
  type ServiceFields,
  ServiceHealth,
} from './state/values.ts';
export { MemoryStorage } from './storage/memory.ts';
export { checkStorageKey, type Storage, StorageError, type StorageErrorCode } from './storage/types.ts';
export { WebStorage, type WebStorageArea } from './storage/web.ts';
export { HlcSkewError, type HlcTimestamp } from './time/hlc.ts';
export { realEnv } from './time/real.ts';
export type { Clock, Env, Random, Scheduler, TimerId, TimerWindow } from './time/types.ts';
export { TransportError, type TransportErrorCode } from './transport/errors.ts';
export { HandshakeError, type HandshakeErrorCode } from './transport/handshake.ts';
export type { Transport } from './transport/types.ts';
export { fromHex, toHex } from './util/bytes.ts';
export { CodedError } from './util/coded-error.ts';
export { hash64 } from './util/hash64.ts';
export type { WireClaim } from './wire/claims.ts';
export type { WireLimits } from './wire/codec.ts';
export type { StateTable } from './wire/entries.ts';
export { WireError, type WireErrorCode } from './wire/errors.ts';
