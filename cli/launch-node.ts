/**
 * A headless Node.js MeshNode with its transports, as `weftmesh node` and `weftmesh demo`
 * run it: WebSocket first (listener and dialling, so browsers and edge nodes reach it
 * directly), WebRTC through the signaling server, discovery through the signaling room —
 * which lists the listener's address, so nodes without WebRTC find and dial it too.
 */
import type { NodeIdentity } from '../lib/identity/node-identity.ts';
import { MeshNode, type MeshNodeOptions } from '../lib/node/mesh-node.ts';
import { messaging } from '../lib/node/messaging-service.ts';
import { hashRing } from '../lib/node/ring-service.ts';
import { replicatedState } from '../lib/node/state-service.ts';
import type { Transport } from '../lib/transport/types.ts';
import { joinThroughSignaling } from '../lib/webrtc/discovery.ts';
import { createNodeWebRtc } from '../lib/webrtc/node.ts';
import { listenWebSocket, NodeWebSocket } from '../lib/websocket/node.ts';
import { type WebSocketListener, WebSocketTransport } from '../lib/websocket/transport.ts';
import { SignalingClient, type WebSocketConstructor } from '../signaling/client.ts';

export interface LaunchOptions {
  identity: NodeIdentity;
  cluster: string;
  /** Signaling server(s): discovery through the room (every transport), and WebRTC links. Several: failover. */
  signal?: string | readonly string[];
  webrtc: boolean;
  /** Accept WebSocket links here. */
  listen?: { host: string; port: number };
  /** Dial WebSocket addresses (implied by `listen`). */
  websocket: boolean;
  seeds: string[];
  iceServers?: Array<{ urls: string }>;
  node?: Partial<MeshNodeOptions>;
  /** Called with the node (and its signaling client) before it starts (subscribe to events here to miss none). */
  created?: (node: MeshNode, signaling: SignalingClient | undefined) => void;
}

export interface LaunchedNode {
  node: MeshNode;
  listener: WebSocketListener | undefined;
  signaling: SignalingClient | undefined;
  addresses: string[];
  /** Leaves gracefully, then closes the signaling client and the listener. */
  stop(): Promise<void>;
}

export async function launchNode(o: LaunchOptions): Promise<LaunchedNode> {
  const transports: Transport[] = [];
  const listener = o.listen ? await listenWebSocket(o.listen) : undefined;
  if (listener || o.websocket)
    transports.push(new WebSocketTransport({ WebSocket: NodeWebSocket, ...(listener ? { listener } : {}) }));
  const advertise = listener ? { advertise: [listener.url] } : {};
  let signaling: SignalingClient | undefined;
  if (o.webrtc) {
    if (!o.signal) throw new Error('WebRTC needs a signaling server');
    try {
      const rtc = await createNodeWebRtc({
        signal: o.signal,
        identity: o.identity,
        cluster: o.cluster,
        iceServers: o.iceServers ?? [],
        ...advertise,
      });
      transports.push(rtc.transport);
      signaling = rtc.signaling;
    } catch (e) {
      await listener?.close();
      throw e;
    }
  } else if (o.signal) {
    // Discovery only: started once joinThroughSignaling listens (below).
    signaling = new SignalingClient({
      url: o.signal,
      identity: o.identity,
      room: o.cluster,
      WebSocket: NodeWebSocket as unknown as WebSocketConstructor,
      ...advertise,
    });
  }
  let node: MeshNode;
  try {
    node = new MeshNode({
      state: replicatedState(),
      messaging: messaging(),
      ring: hashRing(),
      identity: o.identity,
      cluster: o.cluster,
      transport: transports,
      meta: { runtime: 'node' },
      ...(o.node ?? {}),
    });
    o.created?.(node, signaling);
    await node.start();
  } catch (e) {
    signaling?.close();
    await listener?.close();
    throw e;
  }
  let stopDiscovery = () => {};
  if (signaling) {
    stopDiscovery = joinThroughSignaling(node, signaling, { seeds: o.seeds });
    if (!o.webrtc) signaling.start();
  } else void node.join(o.seeds);
  return {
    node,
    listener,
    signaling,
    addresses: transports.flatMap((t) => t.localAddresses(node.nodeId)),
    async stop() {
      stopDiscovery();
      await node.leave();
      signaling?.close();
      await listener?.close();
    },
  };
}
