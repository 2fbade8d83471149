// weftmesh/consensus: Raft (opt-in; applications that do not import it do not ship it).
// docs/CONSENSUS.md describes the API, its guarantees and the persistence contract.
export { ConsensusError, type ConsensusErrorCode } from './errors.ts';
export { IndexedDbConsensusStorage } from './idb-storage.ts';
export {
  decodeKvCommand,
  encodeKvCommand,
  type KvCommand,
  type KvResult,
  KvStateMachine,
} from './kv.ts';
export {
  type ConsensusMessenger,
  MAX_COMMAND_BYTES,
  MeshConsensus,
  type MeshConsensusOptions,
} from './mesh.ts';
export {
  type ConsensusMessage,
  type ConsensusMessageType,
  defaultMessageLimits,
  type Entry,
  type MessageHeader,
  type MessageLimits,
  parseMessage,
  type Snapshot,
} from './messages.ts';
export {
  ConsensusRole,
  type ConsensusStatus,
  leaderMayShip,
  mustPersistFirst,
  RaftCore,
  type RaftMetrics,
  type RaftOptions,
  type Ready,
} from './raft.ts';
export type { ReadState } from './read-index.ts';
export { type ConsensusNode, type ConsensusOptions, type ConsensusService, consensus } from './service.ts';
export {
  type ConsensusStorage,
  emptyHardState,
  type HardState,
  isPristine,
  MemoryConsensusStorage,
  type WritableConsensusStorage,
} from './storage.ts';
export type { MemberView } from './voters.ts';
