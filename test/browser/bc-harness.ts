// A browser node for the BroadcastChannel tests and bench, exposed on window.weftmesh.
//   ?mode=zero    no transport at all: BroadcastChannel only, joins by itself (no server)
//   ?mode=mixed   WebSocket + WebRTC through the signaling server, BroadcastChannel added by the node
//   ?mode=rtc     WebRTC through the signaling server only (broadcastChannel: false)
//   ?worker=dedicated|shared   also runs a zero-configuration node in a worker (bc-worker.js)
//   ?expect=N     record when N members are first seen Active (benchmarks)
//   ?throttle=MS  timers fire only at MS wake-ups, as in a background tab (set before the node starts)
import { MeshNode, messaging, NodeIdentity } from '../../lib/mod.ts';
import { joinThroughSignaling } from '../../lib/webrtc/discovery.ts';
import { WebRtcTransport } from '../../lib/webrtc/transport.ts';
import { WebSocketTransport } from '../../lib/websocket/transport.ts';
import { SignalingClient } from '../../signaling/client.ts';
import { type NodeView, throttleTimers, watch } from './bc-view.ts';

const params = new URLSearchParams(location.search);
const cluster = params.get('cluster') ?? 'bc';
const mode = params.get('mode') ?? 'zero';
const throttle = Number(params.get('throttle') ?? '0');
if (throttle > 0) throttleTimers(throttle);

const identity = NodeIdentity.generate();
const loopback = (c: string) => / (127\.0\.0\.1|::1) /.test(c);
let node: MeshNode;
if (mode === 'zero') {
  node = new MeshNode({ identity, cluster, messaging: messaging(), meta: { runtime: 'browser' } });
} else {
  const signaling = new SignalingClient({ url: `ws://${location.host}`, identity, room: cluster });
  const rtc = new WebRtcTransport({ signaling, peerConnectionBudget: 450, candidateFilter: loopback });
  node = new MeshNode({
    identity,
    cluster,
    messaging: messaging(),
    transport: mode === 'mixed' ? [new WebSocketTransport(), rtc] : rtc,
    ...(mode === 'rtc' ? { broadcastChannel: false } : {}),
    meta: { runtime: 'browser' },
  });
  await node.start();
  joinThroughSignaling(node, signaling);
  signaling.start();
}
const view = watch(node, Number(params.get('expect') ?? '0'));
if (mode === 'zero') await node.start();

let workerView: NodeView | undefined;
const worker = params.get('worker');
if (worker === 'dedicated') {
  const w = new Worker(`./bc-worker.js?cluster=${cluster}`, { type: 'module' });
  w.onmessage = (ev) => {
    workerView = ev.data as NodeView;
  };
} else if (worker === 'shared') {
  const w = new SharedWorker(`./bc-worker.js?cluster=${cluster}&shared=1`, { type: 'module' });
  w.port.onmessage = (ev) => {
    workerView = ev.data as NodeView;
  };
  w.port.start();
}

(window as unknown as { weftmesh: unknown }).weftmesh = {
  nodeId: node.nodeId,
  view,
  allActive: view.allActive,
  worker: () => workerView,
  leave: () => node.leave(),
};
addEventListener('pagehide', () => void node.leave());
document.title = `node ${node.nodeId.slice(0, 8)}`;
