// A Deno edge node: dials a long-lived node's WebSocket listener (edge isolates cannot be
// dialled) and prints membership changes as JSON lines, like `weftmesh node --json`.
// Usage: deno run --allow-net --allow-env test/deno/programs/edge-node.ts <ws-url> <cluster>
import { hashRing, MeshNode, messaging, NodeIdentity, replicatedState } from '../../../lib/mod.ts';
import { WebSocketTransport } from '../../../lib/websocket/mod.ts';

const [seed, cluster] = Deno.args;
if (!seed || !cluster) throw new Error('usage: edge-node.ts <ws-url> <cluster>');
const node = new MeshNode({
  state: replicatedState(),
  messaging: messaging(),
  ring: hashRing(),
  identity: NodeIdentity.generate(),
  cluster,
  transport: new WebSocketTransport(),
  meta: { runtime: 'deno' },
  heartbeat: {},
});
node.on('member-state', (e) =>
  console.log(JSON.stringify({ event: 'state', nodeId: e.nodeId, state: e.state })),
);
await node.start();
console.log(JSON.stringify({ event: 'self', nodeId: node.nodeId }));
Deno.addSignalListener('SIGTERM', async () => {
  await node.leave();
  Deno.exit(0);
});
await node.join([seed]);
