export { joinThroughSignaling, type SignalingJoinOptions } from './discovery.ts';
export { InboundTurns } from './inbound-turns.ts';
export {
  DEFAULT_PEER_CHANNEL_LIMITS,
  PeerChannel,
  type PeerChannelLimits,
  type PeerLike,
  sdpFingerprint,
} from './peer-channel.ts';
export {
  type SignalingPath,
  type WebRtcImplementation,
  WebRtcTransport,
  type WebRtcTransportOptions,
} from './transport.ts';
