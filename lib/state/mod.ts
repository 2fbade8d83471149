export { AntiEntropy, type AntiEntropyIO, type AntiEntropyMetrics } from './anti-entropy.ts';
export { entryId, interpretEntry, type StateEntry, signEntry } from './entry.ts';
export { CrdtGossipState, type StateCaps, type StateMetrics } from './gossip-state.ts';
export { LwwMap, lwwWins } from './lww-map.ts';
export {
  DistributedProcessTable,
  type GlobalPid,
  type ProcessAdvertisement,
  type ProcessFilter,
} from './process-table.ts';
export { ClusterServiceRegistry, type ServiceAdvertisement } from './service-registry.ts';
export {
  decodeProcess,
  decodeService,
  encodeProcess,
  encodeService,
  type ProcessFields,
  ProcessStatus,
  type ResourceSummary,
  type ServiceFields,
  ServiceHealth,
} from './values.ts';
