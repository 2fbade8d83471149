export { TransportError, type TransportErrorCode } from './errors.ts';
export {
  HandshakeError,
  type HandshakeErrorCode,
  type HandshakeOptions,
  type HandshakeRole,
  runHandshake,
} from './handshake.ts';
export { AuthenticatedLink } from './link.ts';
export type {
  ChannelBinding,
  ConnectOptions,
  DeliveryClass,
  HandshakeConfig,
  Link,
  LinkHandlers,
  MeshRelay,
  PeerInfo,
  RawChannel,
  RawChannelHandlers,
  Transport,
  TransportContext,
  TransportEvents,
} from './types.ts';
