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
  /** The last few links lost, and why (for failure messages). */
  downs: string[];
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
  const downs: string[] = [];
  node.on('link-down', ({ nodeId, reason }) => {
    downs.push(`${nodeId.slice(0, 6)}: ${reason}`);
    if (downs.length > 6) downs.shift();
  });
  await node.start();
  const off = joinThroughSignaling(node, signaling);
  return {
    node,
    transport,
    signaling,
    downs,
    close: () => {
      off();
      node.close();
      signaling.close();
    },
  };
}

/**
 * What each node is missing for `fullyConverged`: its links and the peers it does not see
 * Active (with the state it has for them), for a failure message.
 */
export function convergenceReport(nodes: RtcNode[]): string {
  const short = (id: string) => id.slice(0, 6);
  return nodes
    .map((a) => {
      const missing = nodes
        .filter((b) => a !== b && a.node.member(b.node.nodeId)?.state !== NodeState.Active)
        .map((b) => `${short(b.node.nodeId)}=${a.node.member(b.node.nodeId)?.state ?? 'unknown'}`);
      const m = a.node.metrics();
      const dials = `dials ${m.pendingDials} pending, ${m.dialsStuck} stuck`;
      const rtc = JSON.stringify(a.transport.stats);
      const lost = a.downs.join(', ');
      return `${short(a.node.nodeId)} links [${a.node.links().map(short).join(' ')}] ${dials} rtc ${rtc} lost [${lost}] missing [${missing.join(' ')}]`;
    })
    .join('\n');
}

/** Every node sees every other node Active. */
export function fullyConverged(nodes: RtcNode[]): boolean {
  return nodes.every((a) =>
    nodes.every((b) => a === b || a.node.member(b.node.nodeId)?.state === NodeState.Active),
  );
}
