/**
 * A headless Node.js MeshNode with its transports, as `weftmesh node` and `weftmesh demo`
 * run it: WebSocket first (listener and dialling, so browsers and edge nodes reach it
 * directly), WebRTC through the signaling server, discovery through the signaling room.
 */
import type { NodeIdentity } from '../lib/identity/node-identity.ts';
import { MeshNode, type MeshNodeOptions } from '../lib/node/mesh-node.ts';
import type { Transport } from '../lib/transport/types.ts';
import { joinThroughSignaling } from '../lib/webrtc/discovery.ts';
import { createNodeWebRtc } from '../lib/webrtc/node.ts';
import { listenWebSocket, NodeWebSocket } from '../lib/websocket/node.ts';
import { type WebSocketListener, WebSocketTransport } from '../lib/websocket/transport.ts';

export interface LaunchOptions {
  identity: NodeIdentity;
  cluster: string;
  /** Signaling server: WebRTC links and discovery through its room. */
  signal?: string;
  webrtc: boolean;
  /** Accept WebSocket links here. */
  listen?: { host: string; port: number };
  /** Dial WebSocket addresses (implied by `listen`). */
  websocket: boolean;
  seeds: string[];
  iceServers?: Array<{ urls: string }>;
  node?: Partial<MeshNodeOptions>;
  /** Called with the node before it starts (subscribe to events here to miss none). */
  created?: (node: MeshNode) => void;
}

export interface LaunchedNode {
  node: MeshNode;
  listener: WebSocketListener | undefined;
  addresses: string[];
  /** Leaves gracefully, then closes the signaling client and the listener. */
  stop(): Promise<void>;
}

export async function launchNode(o: LaunchOptions): Promise<LaunchedNode> {
  const transports: Transport[] = [];
  const listener = o.listen ? await listenWebSocket(o.listen) : undefined;
  if (listener || o.websocket)
    transports.push(new WebSocketTransport({ WebSocket: NodeWebSocket, ...(listener ? { listener } : {}) }));
  let rtc: Awaited<ReturnType<typeof createNodeWebRtc>> | undefined;
  if (o.webrtc) {
    if (!o.signal) throw new Error('WebRTC needs a signaling server');
    try {
      rtc = await createNodeWebRtc({
        signal: o.signal,
        identity: o.identity,
        cluster: o.cluster,
        iceServers: o.iceServers ?? [],
      });
    } catch (e) {
      await listener?.close();
      throw e;
    }
    transports.push(rtc.transport);
  }
  let node: MeshNode;
  try {
    node = new MeshNode({
      identity: o.identity,
      cluster: o.cluster,
      transport: transports,
      meta: { runtime: 'node' },
      ...(o.node ?? {}),
    });
    o.created?.(node);
    await node.start();
  } catch (e) {
    rtc?.signaling.close();
    await listener?.close();
    throw e;
  }
  const stopDiscovery = rtc ? joinThroughSignaling(node, rtc.signaling) : () => {};
  if (!rtc || o.seeds.length > 0) void node.join(o.seeds);
  return {
    node,
    listener,
    addresses: transports.flatMap((t) => t.localAddresses(node.nodeId)),
    async stop() {
      stopDiscovery();
      await node.leave();
      rtc?.signaling.close();
      await listener?.close();
    },
  };
}
