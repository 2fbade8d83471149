// A zero-configuration node in a dedicated or shared worker: it joins the tabs of its origin
// over BroadcastChannel and posts its view to whoever started it, every 100 ms.
import { MeshNode, messaging, NodeIdentity } from '../../lib/mod.ts';
import { watch } from './bc-view.ts';

const params = new URLSearchParams(location.search);
const node = new MeshNode({
  identity: NodeIdentity.generate(),
  cluster: params.get('cluster') ?? 'bc',
  messaging: messaging(),
  meta: { runtime: params.get('shared') ? 'shared-worker' : 'worker' },
});
const view = watch(node);
const scope = globalThis as unknown as {
  postMessage?: (v: unknown) => void;
  onconnect?: ((ev: { ports: Array<{ postMessage(v: unknown): void }> }) => void) | null;
};
const ports: Array<(v: unknown) => void> = [];
if (params.get('shared')) scope.onconnect = (ev) => ports.push((v) => ev.ports[0]!.postMessage(v));
else ports.push((v) => scope.postMessage!(v));
setInterval(() => {
  for (const post of ports) post(view());
}, 100);
await node.start();
