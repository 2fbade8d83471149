export type {
  Backplane,
  BackplaneCaps,
  BackplaneHealth,
  BackplaneSink,
  JoinVerdict,
  RemotePeer,
} from './backplane.ts';
export {
  SignalingClient,
  type SignalingClientOptions,
  type SignalingEvents,
  type SignalingState,
  type WebSocketConstructor,
  type WebSocketLike,
} from './client.ts';
export * from './protocol.ts';
export {
  DEFAULT_SIGNALING_LIMITS,
  type SignalingConnection,
  type SignalingLimits,
  SignalingServer,
  type SignalingServerOptions,
  type SignalingSocket,
  type SignalingStats,
} from './server.ts';
