// Preloaded (node --import) into the Node processes of bench/y-webrtc.bench.ts, weftmesh's CLI
// and the y-webrtc peer alike: every RTCPeerConnection made through @roamhq/wrtc prints when it
// was made, got the remote description, reached ICE connected and DTLS connected, and opened its
// first data channel, as {"event":"rtc",…} JSON lines beside the program's own. It also keeps
// ICE candidates to loopback (y-webrtc and the CLI have no candidate filter).
import { createRequire } from 'node:module';

const wrtc = createRequire(import.meta.url)('@roamhq/wrtc');
const Base = wrtc.RTCPeerConnection;
const loopback = (c) => !c || / (127\.0\.0\.1|::1) /.test(c);
let made = 0;

function Timed(config) {
  const pc = new Base(config);
  const id = ++made;
  const seen = new Set();
  const out = (phase) => {
    if (seen.has(phase)) return;
    seen.add(phase);
    process.stdout.write(`${JSON.stringify({ event: 'rtc', pc: id, phase, at: Date.now() })}\n`);
  };
  out('created');
  const setRemote = pc.setRemoteDescription;
  pc.setRemoteDescription = (d) => {
    out('remote');
    return setRemote.call(pc, d);
  };
  pc.addEventListener('iceconnectionstatechange', () => out(`ice-${pc.iceConnectionState}`));
  pc.addEventListener('connectionstatechange', () => out(`conn-${pc.connectionState}`));
  const watchChannel = (ch) => ch.addEventListener('open', () => out('channel-open'));
  const create = pc.createDataChannel;
  pc.createDataChannel = (label, init) => {
    const ch = create.call(pc, label, init);
    watchChannel(ch);
    return ch;
  };
  pc.addEventListener('datachannel', (e) => watchChannel(e.channel));
  let handler = null;
  Object.defineProperty(pc, 'onicecandidate', {
    configurable: true,
    get: () => handler,
    set: (fn) => {
      handler = fn && ((e) => (loopback(e.candidate?.candidate) ? fn.call(pc, e) : undefined));
    },
  });
  return pc;
}
Timed.prototype = Base.prototype;
Object.setPrototypeOf(Timed, Base);
wrtc.RTCPeerConnection = Timed;
