/** In-process MeshNodes over real WebRTC (loopback) through a real signaling server. */
import { NodeIdentity } from '../../lib/identity/mod.ts';
import { NodeState } from '../../lib/membership/node-state.ts';
import { hashRing, MeshNode, type MeshNodeOptions, messaging, replicatedState } from '../../lib/node/mod.ts';
import { joinThroughSignaling } from '../../lib/webrtc/discovery.ts';
import { createNodeWebRtc } from '../../lib/webrtc/node.ts';
import type { WebRtcTransport } from '../../lib/webrtc/transport.ts';
import type { SignalingClient } from '../../signaling/client.ts';

export const loopbackOnly = (candidate: string) => / (127\.0\.0\.1|::1) /.test(candidate);

export interface RtcNode {
  node: MeshNode;
  transport: WebRtcTransport;
  signaling: SignalingClient;
  close(): void;
}

export async function rtcNode(
  signal: string | readonly string[],
  cluster: string,
  extra: Partial<MeshNodeOptions> = {},
): Promise<RtcNode> {
  const identity = NodeIdentity.generate();
  const { transport, signaling } = await createNodeWebRtc({
    signal,
    identity,
    cluster,
    candidateFilter: loopbackOnly,
  });
  const node = new MeshNode({
    state: replicatedState(),
    messaging: messaging(),
    ring: hashRing(),
    identity,
    cluster,
    transport,
    maxLinks: 16,
    meta: { runtime: 'node' },
    ...extra,
  });
  await node.start();
  const off = joinThroughSignaling(node, signaling);
  return {
    node,
    transport,
    signaling,
    close: () => {
      off();
      node.close();
      signaling.close();
    },
  };
}

/** Every node sees every other node Active. */
export function fullyConverged(nodes: RtcNode[]): boolean {
  return nodes.every((a) =>
    nodes.every((b) => a === b || a.node.member(b.node.nodeId)?.state === NodeState.Active),
  );
}
