/**
 * WebRTC on Node (and the Deno CLI): RTCPeerConnection from @roamhq/wrtc (an optional
 * dependency, loaded only here) and the signaling client over the `ws` package (Node 20 has
 * no global WebSocket).
 */
import WebSocket from 'ws';
import { SignalingClient, type WebSocketConstructor } from '../../signaling/client.ts';
import type { NodeIdentity } from '../identity/node-identity.ts';
import { TransportError } from '../transport/errors.ts';
import { type WebRtcImplementation, WebRtcTransport, type WebRtcTransportOptions } from './transport.ts';

let wrtc: Promise<WebRtcImplementation> | undefined;

/** Loads @roamhq/wrtc once; rejects with an actionable message when it is not installed. */
export function loadWrtc(): Promise<WebRtcImplementation> {
  wrtc ??= import('@roamhq/wrtc').then(
    (m) => (m.default ?? m) as WebRtcImplementation,
    (e) => {
      throw new TransportError(
        'unsupported-runtime',
        `WebRTC on Node needs the optional dependency @roamhq/wrtc (${(e as Error).message})`,
        { cause: e },
      );
    },
  );
  return wrtc;
}

export interface NodeWebRtcOptions extends Omit<WebRtcTransportOptions, 'signaling' | 'wrtc'> {
  /** ws:// URL of the signaling server, or several instances sharing rooms (failover; see SignalingClientOptions.url). */
  signal: string | readonly string[];
  identity: NodeIdentity;
  cluster: string;
  token?: Uint8Array;
  /** WebSocket addresses to list in the signaling room (see SignalingClientOptions.advertise). */
  advertise?: string[];
}

/** A WebRTC transport with its signaling client, started (the client connects and keeps reconnecting). */
export async function createNodeWebRtc(
  opts: NodeWebRtcOptions,
): Promise<{ transport: WebRtcTransport; signaling: SignalingClient }> {
  const { signal, identity, cluster, token, advertise, ...transportOptions } = opts;
  const signaling = new SignalingClient({
    url: signal,
    identity,
    room: cluster,
    WebSocket: WebSocket as unknown as WebSocketConstructor,
    ...(token ? { token } : {}),
    ...(advertise ? { advertise } : {}),
  });
  const transport = new WebRtcTransport({ ...transportOptions, signaling, wrtc: await loadWrtc() });
  signaling.start();
  return { transport, signaling };
}
