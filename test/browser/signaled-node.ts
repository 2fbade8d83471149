/**
 * A MeshNode in a Chromium page over the browser's own WebRTC (loopback candidates only),
 * meeting its peers through the signaling server named by `?signal=URL` in room `?cluster=`,
 * for the pages of test/support/page-rig.ts. `?hwm=BYTES` sets the stream channel's
 * high-water mark. Started and joined when it resolves.
 */
import { NodeIdentity } from '../../lib/identity/node-identity.ts';
import { MeshNode, type MeshNodeOptions } from '../../lib/mod.ts';
import { joinThroughSignaling } from '../../lib/webrtc/discovery.ts';
import { WebRtcTransport } from '../../lib/webrtc/transport.ts';
import { SignalingClient } from '../../signaling/client.ts';

export const params = new URLSearchParams(location.search);

export async function signaledNode(
  options: Omit<MeshNodeOptions, 'identity' | 'cluster' | 'transport'>,
  prepare: (node: MeshNode) => void = () => {},
): Promise<MeshNode> {
  const cluster = params.get('cluster') ?? 'pages';
  const identity = NodeIdentity.generate();
  const signaling = new SignalingClient({ url: params.get('signal') ?? '', identity, room: cluster });
  const hwm = Number(params.get('hwm') ?? 0);
  const node = new MeshNode({
    ...options,
    identity,
    cluster,
    transport: new WebRtcTransport({
      signaling,
      candidateFilter: (c) => / (127\.0\.0\.1|::1) /.test(c),
      ...(hwm ? { channel: { highWaterMark: hwm } } : {}),
    }),
    meta: { runtime: 'browser' },
  });
  prepare(node);
  await node.start();
  joinThroughSignaling(node, signaling);
  signaling.start();
  return node;
}
