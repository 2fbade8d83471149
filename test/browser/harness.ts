// A browser node for the end-to-end tests: joins the cluster named in the URL and exposes
// its view on window.weftmesh for Playwright to read.
import * as ed from '@noble/ed25519';
import { webCryptoAvailable, webCryptoVerify } from '../../lib/identity/webcrypto.ts';
import { hashRing, MeshNode, messaging, NodeIdentity, replicatedState } from '../../lib/mod.ts';
import { joinThroughSignaling } from '../../lib/webrtc/discovery.ts';
import { WebRtcTransport } from '../../lib/webrtc/transport.ts';
import { SignalingClient } from '../../signaling/client.ts';

const params = new URLSearchParams(location.search);
const cluster = params.get('cluster') ?? 'e2e';
const signal = params.get('signal') ?? `ws://${location.host}`;
const loopback = params.get('loopback') === '1';

const identity = NodeIdentity.generate();
const signaling = new SignalingClient({ url: signal, identity, room: cluster });
const transport = new WebRtcTransport({
  signaling,
  peerConnectionBudget: 450,
  ...(loopback ? { candidateFilter: (c: string) => / (127\.0\.0\.1|::1) /.test(c) } : {}),
});
const node = new MeshNode({
  state: replicatedState(),
  messaging: messaging(),
  ring: hashRing(),
  identity,
  cluster,
  transport,
  meta: { runtime: 'browser' },
});
/** 32 bytes with a reduced y that decode to no curve point. */
function nonPoint(): Uint8Array {
  for (let y = 2; ; y++) {
    const key = new Uint8Array(32);
    key[0] = y;
    try {
      ed.Point.fromBytes(key, false);
    } catch {
      return key;
    }
  }
}
/** R = the base point, S = 1: passes every check that needs no curve arithmetic. */
const signatureShape = new Uint8Array(64);
signatureShape.set(ed.Point.BASE.toBytes());
signatureShape[32] = 1;
const w = window as unknown as { weftmesh: unknown };
w.weftmesh = {
  nodeId: node.nodeId,
  members: () => node.members().map((m) => ({ nodeId: m.nodeId, state: m.state, runtime: m.meta.runtime })),
  links: () => node.links(),
  leave: () => node.leave(),
  /** Whether signatures are verified by the browser's WebCrypto (it passed every probe). */
  webCrypto: () => webCryptoAvailable(),
  /** What WebCrypto says of a signature under bytes that are no curve point (must be false, not a throw). */
  verifiesUnderNonPoint: () => webCryptoVerify(nonPoint(), new Uint8Array(0), signatureShape),
};
await node.start();
joinThroughSignaling(node, signaling);
signaling.start();
addEventListener('pagehide', () => void node.leave());
document.title = `node ${node.nodeId.slice(0, 8)}`;
