/**
 * weftmesh: browser tabs, Node processes and Deno workers forming one cluster.
 * This is the stable public API. Subpaths: weftmesh/sim (simulator), weftmesh/fs (file storage).
 */
export * from './identity/mod.ts';
export {
  type Claim,
  type ClaimKind,
  type ClaimSigner,
  ConfigError,
  DEFAULT_HEARTBEAT,
  type HeartbeatConfig,
  IdInterner,
  type MemberInfo,
  type MembershipMetrics,
  NodeState,
} from './membership/mod.ts';
export * from './merkle/mod.ts';
export * from './node/mod.ts';
export * from './ring/mod.ts';
export * from './state/mod.ts';
export * from './storage/mod.ts';
export * from './time/mod.ts';
export * from './transport/mod.ts';
export { fromHex, toHex } from './util/bytes.ts';
export {
  DEFAULT_WIRE_LIMITS,
  decodeMessage,
  encodeMessage,
  type Message,
  type MessageOf,
  type MessageType,
  WIRE_VERSION,
  type WireClaim,
  WireError,
  type WireErrorCode,
  type WireLimits,
} from './wire/mod.ts';
