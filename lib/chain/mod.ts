/**
 * weftmesh/chain: signed append-only logs (one author each), verified incremental pull,
 * fork detection with portable fork proofs, and chain storage. See docs/CHAIN.md.
 */
export {
  type ApplyResult,
  ChainLog,
  type ChainLogOptions,
  type OpenChainOptions,
  type ReplicaOptions,
} from './chain-log.ts';
export {
  decodeForkProof,
  decodeSyncRequest,
  decodeSyncResponse,
  encodeForkProof,
  encodeSyncRequest,
  encodeSyncResponse,
  MAX_WIRE_ENTRIES,
} from './codec.ts';
export {
  type ChainEntry,
  type ChainHead,
  chainIdOf,
  DEFAULT_KIND,
  entryHash,
  GENESIS_PREV,
  MAX_PAYLOAD_BYTES,
} from './entry.ts';
export { ChainError, type ChainErrorCode } from './errors.ts';
export {
  buildForkProof,
  type ChainView,
  detectChainFork,
  type ForkDetection,
  type ForkProof,
  type ForkStatus,
  type ForkWitness,
  forkProofFromHeads,
  RemoteChainView,
  verifyForkProof,
} from './fork.ts';
export { IndexedDbChainStorage } from './idb-storage.ts';
export { type ChainAsk, type PullOptions, type PullResult, pullChain } from './pull.ts';
export { type ChainStorage, MemoryChainStorage, type StoredChain } from './storage.ts';
export {
  type ChainSyncRequest,
  type ChainSyncResponse,
  DEFAULT_SERVE_LIMITS,
  type ProvenHash,
  type ServeLimits,
  serveParts,
} from './sync.ts';
export {
  type SignedTreeHead,
  TREE_HEAD_DOMAIN,
  treeHeadPayload,
  type UnsignedTreeHead,
  verifyTreeHead,
} from './tree-head.ts';
