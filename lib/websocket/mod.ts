export { type StandardWebSocket, WsChannel, type WsChannelLimits } from './channel.ts';
export {
  type StandardWebSocketConstructor,
  type WebSocketListener,
  WebSocketTransport,
  type WebSocketTransportOptions,
} from './transport.ts';
