// One y-webrtc 10.3 peer in its own Node process (bench/y-webrtc.bench.ts): node y-webrtc-peer.mjs
// SIGNAL_URL ROOM N. Prints JSON lines: {"event":"up"} once the provider exists, {"event":"conns",
// "connected"} when its count of connected WebRTC peers changes, {"event":"all"} once it has the
// Y.Doc entries and awareness states of N peers. Run with --import ./rtc-phases.mjs.
import wrtc from '@roamhq/wrtc';
import WebSocket from 'ws';
import { WebrtcProvider } from 'y-webrtc';
import * as Y from 'yjs';

globalThis.WebSocket ??= WebSocket; // lib0's client uses the global (Node 20 has none)
const [signal, room, n] = process.argv.slice(2);
const expect = Number(n);
const print = (o) => process.stdout.write(`${JSON.stringify(o)}\n`);
const doc = new Y.Doc();
const provider = new WebrtcProvider(room, doc, {
  signaling: [signal],
  peerOpts: { wrtc, config: { iceServers: [] } },
});
const tabs = doc.getMap('peers');
tabs.set(String(doc.clientID), Date.now());
provider.awareness.setLocalState({ pid: process.pid });
print({ event: 'up' });

let connected = 0;
let all = false;
const check = () => {
  const conns = [...(provider.room?.webrtcConns.values() ?? [])];
  const now = conns.filter((c) => c.connected).length;
  if (now !== connected) print({ event: 'conns', connected: now });
  connected = now;
  if (!all && tabs.size >= expect && provider.awareness.getStates().size >= expect) {
    all = true;
    print({ event: 'all' });
  }
};
const watched = new WeakSet();
provider.on('peers', () => {
  for (const c of provider.room?.webrtcConns.values() ?? []) {
    if (watched.has(c)) continue;
    watched.add(c);
    c.peer.on('connect', check);
    c.peer.on('close', check);
  }
  check();
});
doc.on('update', check);
provider.awareness.on('change', check);
process.on('SIGTERM', () => process.exit(0));
