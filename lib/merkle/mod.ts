export {
  consistencyProof,
  inclusionProof,
  LogTree,
  leafHash,
  MerkleProof,
  MerkleProofError,
  type MerkleProofErrorCode,
  merkleRoot,
  nodeHash,
  verifyConsistency,
  verifyInclusion,
} from './log-tree.ts';
export {
  BUCKETS,
  bucketOf,
  compareTreeRoots,
  DEPTH,
  EMPTY,
  FANOUT,
  type NodeSummary,
  PrefixTree,
  type SyncAction,
} from './prefix-tree.ts';
