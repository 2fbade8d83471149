// A browser node for test/net/webrtc-chunks.test.ts: answers `reversed` requests with the
// payload reversed, and asks a Node node the same (window.weftmesh.ask), so that messages of
// more than 16 KiB cross between Chromium and Node in both directions.
import { MeshNode, messaging, NodeIdentity, replicatedState } from '../../lib/mod.ts';
import { joinThroughSignaling } from '../../lib/webrtc/discovery.ts';
import { WebRtcTransport } from '../../lib/webrtc/transport.ts';
import { SignalingClient } from '../../signaling/client.ts';

const cluster = new URLSearchParams(location.search).get('cluster') ?? 'chunks';
const identity = NodeIdentity.generate();
const signaling = new SignalingClient({ url: `ws://${location.host}`, identity, room: cluster });
const transport = new WebRtcTransport({
  signaling,
  candidateFilter: (c: string) => / (127\.0\.0\.1|::1) /.test(c),
});
const node = new MeshNode({
  state: replicatedState(),
  messaging: messaging(),
  identity,
  cluster,
  transport,
  meta: { runtime: 'browser' },
});
node.respond('reversed', (data) => data.slice().reverse());
const pattern = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + 7) & 0xff);
(window as unknown as { weftmesh: unknown }).weftmesh = {
  nodeId: node.nodeId,
  links: () => node.links(),
  /** Asks `to` to reverse `size` bytes; whether the answer is exactly that. */
  ask: async (to: string, size: number): Promise<boolean> => {
    const sent = pattern(size);
    const got = await node.request(to, 'reversed', sent);
    return got.length === size && got.every((b, i) => b === sent[size - 1 - i]);
  },
};
await node.start();
joinThroughSignaling(node, signaling);
signaling.start();
