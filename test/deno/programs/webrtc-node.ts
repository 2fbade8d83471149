// A Deno CLI node on WebRTC through @roamhq/wrtc (Node-API addon; Deno CLI only).
// Usage: deno run -A test/deno/programs/webrtc-node.ts <signal-url> <cluster>
import { hashRing, MeshNode, messaging, NodeIdentity, replicatedState } from '../../../lib/mod.ts';
import { joinThroughSignaling } from '../../../lib/webrtc/discovery.ts';
import { createNodeWebRtc } from '../../../lib/webrtc/node.ts';

const [signal, cluster] = Deno.args;
if (!signal || !cluster) throw new Error('usage: webrtc-node.ts <signal-url> <cluster>');
const identity = NodeIdentity.generate();
const { transport, signaling } = await createNodeWebRtc({ signal, identity, cluster });
const node = new MeshNode({
  state: replicatedState(),
  messaging: messaging(),
  ring: hashRing(),
  identity,
  cluster,
  transport,
  meta: { runtime: 'deno' },
});
node.on('member-state', (e) =>
  console.log(JSON.stringify({ event: 'state', nodeId: e.nodeId, state: e.state })),
);
await node.start();
console.log(JSON.stringify({ event: 'self', nodeId: node.nodeId }));
joinThroughSignaling(node, signaling);
Deno.addSignalListener('SIGTERM', async () => {
  await node.leave();
  signaling.close();
  Deno.exit(0);
});
