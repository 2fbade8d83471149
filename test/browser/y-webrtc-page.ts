// A y-webrtc 10.3 peer in a tab, for the comparison bench (bench/y-webrtc.bench.ts), on window.ybench.
//   ?room=NAME      y-webrtc room
//   ?signal=URL     y-webrtc signaling server (none: BroadcastChannel only, same-origin tabs)
//   ?expect=N       record when this tab has the Y.Doc entries and awareness states of N peers
//                   (allAt), and WebRTC connections to N - 1 peers (meshAt)
// biome-ignore assist/source/organizeImports: the counters' wrappers must be in place before the library loads
import { rtcCounts } from './y-rtc-count.ts';
import { WebrtcProvider } from 'y-webrtc';
import * as Y from 'yjs';

const params = new URLSearchParams(location.search);
const expect = Number(params.get('expect') ?? '0');
const signal = params.get('signal');
const startedAt = Date.now();
const doc = new Y.Doc();
const provider = new WebrtcProvider(params.get('room') ?? 'y', doc, {
  signaling: signal ? [signal] : [],
  peerOpts: { config: { iceServers: [] } },
});
const tabs = doc.getMap('tabs');
tabs.set(String(doc.clientID), startedAt);
provider.awareness.setLocalState({ startedAt });

type Room = {
  webrtcConns: Map<string, { connected: boolean; peer: { on(e: string, f: () => void): void } }>;
};
const room = () => (provider as unknown as { room: Room | null }).room;
const connected = () => [...(room()?.webrtcConns.values() ?? [])].filter((c) => c.connected).length;
let allAt = 0;
let meshAt = 0;
const check = () => {
  if (expect <= 0) return;
  if (allAt === 0 && tabs.size >= expect && provider.awareness.getStates().size >= expect) allAt = Date.now();
  if (meshAt === 0 && connected() >= expect - 1) meshAt = Date.now();
};
const watched = new WeakSet<object>();
provider.on('peers', () => {
  for (const c of room()?.webrtcConns.values() ?? []) {
    if (watched.has(c)) continue;
    watched.add(c);
    c.peer.on('connect', check);
  }
  check();
});
doc.on('update', check);
provider.awareness.on('change', check);

(window as unknown as { ybench: unknown }).ybench = {
  view: () => ({
    startedAt,
    allAt,
    meshAt,
    webrtcPeers: connected(),
    bcPeers: (room() as unknown as { bcConns?: Set<string> } | null)?.bcConns?.size ?? 0,
    entries: tabs.size,
    awareness: provider.awareness.getStates().size,
    ...rtcCounts(),
  }),
};
