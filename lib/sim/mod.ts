// Verifier memos a simulation shares between its nodes (MeshNodeOptions.claimVerifier, entryVerifier).
export {
  ClaimVerifier,
  type SignedKind,
  SignedVerifier,
  type VerifierStats,
} from '../node/signed-verifier.ts';
export type { ChainReport } from './chain-workload.ts';
export { SimChannelEnd } from './channel.ts';
export { SimCluster, type SimClusterOptions, type SimNode } from './cluster.ts';
export { SimError, type SimErrorCode } from './errors.ts';
export { SimHost, type SimHostOptions } from './host.ts';
export { type LatencyModel, type Reorder, SimNetwork, type SimNetworkOptions } from './network.ts';
export { ClusterObserver, type DetectionRecord } from './observer.ts';
export {
  runScenario,
  type ScenarioOptions,
  type ScenarioReport,
  type Timeline,
  type Traffic,
} from './scenario.ts';
export { type StateReport, StateWorkload, type StateWorkloadOptions } from './state-workload.ts';
export { addTraffic, emptyTraffic, type HostTraffic } from './stats.ts';
export { type Summary, summarize } from './stats-summary.ts';
export { SimTransport } from './transport.ts';
