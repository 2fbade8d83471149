// Imported first by the y-webrtc comparison pages (y-webrtc-page.ts, y-weftmesh-page.ts): counts
// what a library makes in this tab (peer connections, data channels, timer callbacks) and keeps
// ICE candidates to loopback (y-webrtc has no candidate filter of its own; weftmesh pages pass
// theirs too, so both libraries see the same candidates).

export interface RtcCounts {
  peerConnections: number;
  /** Data channels on this tab's peer connections as this end sees them (made here, or announced by the peer). */
  dataChannels: number;
  /** RTCDataChannel.send calls. */
  channelSends: number;
  /** setTimeout / setInterval callbacks run (wake-ups). */
  timerCalls: number;
}

const counts: RtcCounts = { peerConnections: 0, dataChannels: 0, channelSends: 0, timerCalls: 0 };
const loopback = (c: string) => c === '' || / (127\.0\.0\.1|::1) /.test(c);

const Native = globalThis.RTCPeerConnection;
if (Native) {
  const proto = Native.prototype;
  const onCandidate = Object.getOwnPropertyDescriptor(proto, 'onicecandidate')!;
  class Counted extends Native {
    constructor(config?: RTCConfiguration) {
      super(config);
      counts.peerConnections++;
      this.addEventListener('datachannel', () => counts.dataChannels++);
    }
    override createDataChannel(label: string, init?: RTCDataChannelInit): RTCDataChannel {
      counts.dataChannels++;
      return super.createDataChannel(label, init);
    }
  }
  // simple-peer (both libraries) listens through onicecandidate: drop non-loopback candidates there.
  Object.defineProperty(Counted.prototype, 'onicecandidate', {
    configurable: true,
    get(this: RTCPeerConnection) {
      return onCandidate.get!.call(this);
    },
    set(this: RTCPeerConnection, fn: ((e: RTCPeerConnectionIceEvent) => void) | null) {
      const filtered =
        fn &&
        ((e: RTCPeerConnectionIceEvent) => {
          if (!e.candidate || loopback(e.candidate.candidate)) fn.call(this, e);
        });
      onCandidate.set!.call(this, filtered);
    },
  });
  globalThis.RTCPeerConnection = Counted;
  const send = RTCDataChannel.prototype.send;
  RTCDataChannel.prototype.send = function (this: RTCDataChannel, data: never) {
    counts.channelSends++;
    return send.call(this, data);
  } as RTCDataChannel['send'];
}

const nativeTimeout = globalThis.setTimeout;
const nativeInterval = globalThis.setInterval;
const counted =
  (fn: unknown) =>
  (...args: unknown[]) => {
    counts.timerCalls++;
    if (typeof fn === 'function') fn(...args);
  };
(globalThis as { setTimeout: unknown }).setTimeout = (fn: unknown, ms?: number, ...rest: unknown[]) =>
  nativeTimeout(counted(fn), ms, ...rest);
(globalThis as { setInterval: unknown }).setInterval = (fn: unknown, ms?: number, ...rest: unknown[]) =>
  nativeInterval(counted(fn), ms, ...rest);

export const rtcCounts = (): RtcCounts => ({ ...counts });
