// A weftmesh node in a tab over WebRTC, for the y-webrtc comparison bench (bench/y-webrtc.bench.ts):
// like bc-harness.ts's rtc mode, but the signaling server is given (?signal=URL), so tabs of
// different origins (one static server per tab) share one room. Default options otherwise
// (the BroadcastChannel transport stays on, as a user gets it; different origins share no channel).
//   ?cluster=NAME  ?signal=URL  ?expect=N (record when N members are first seen Active)
// biome-ignore assist/source/organizeImports: the counters' wrappers must be in place before the library loads
import { rtcCounts } from './y-rtc-count.ts';
import { MeshNode, messaging, NodeIdentity } from '../../lib/mod.ts';
import { joinThroughSignaling } from '../../lib/webrtc/discovery.ts';
import { WebRtcTransport } from '../../lib/webrtc/transport.ts';
import { SignalingClient } from '../../signaling/client.ts';
import { watch } from './bc-view.ts';

const params = new URLSearchParams(location.search);
const cluster = params.get('cluster') ?? 'y';
const identity = NodeIdentity.generate();
const signaling = new SignalingClient({ url: params.get('signal') ?? '', identity, room: cluster });
const rtc = new WebRtcTransport({ signaling, candidateFilter: (c) => / (127\.0\.0\.1|::1) /.test(c) });
const node = new MeshNode({
  identity,
  cluster,
  messaging: messaging(),
  transport: rtc,
  meta: { runtime: 'browser' },
});
const view = watch(node, Number(params.get('expect') ?? '0'));
await node.start();
joinThroughSignaling(node, signaling);
signaling.start();

(window as unknown as { ybench: unknown }).ybench = {
  view: () => {
    const v = view();
    return {
      startedAt: v.startedAt,
      allAt: v.allActiveAt,
      meshAt: 0,
      webrtcPeers: Object.values(v.links).filter((t) => t === 'webrtc').length,
      links: Object.keys(v.links).length,
      framesIn: v.framesIn,
      framesOut: v.framesOut,
      ...rtcCounts(),
    };
  },
};
