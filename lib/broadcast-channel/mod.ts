export { type BroadcastLinkLimits, DEFAULT_BROADCAST_LINK_LIMITS } from './channel.ts';
export {
  BROADCAST_CHANNEL,
  BROADCAST_CHANNEL_SCHEME,
  type BroadcastChannelConstructor,
  type BroadcastChannelLike,
  type BroadcastChannelStats,
  BroadcastChannelTransport,
  type BroadcastChannelTransportOptions,
  broadcastAddress,
} from './transport.ts';
