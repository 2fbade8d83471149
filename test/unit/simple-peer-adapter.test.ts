// SimplePeerAdapter against the real simple-peer package: it makes the RTCPeerConnection and
// hands it to simple-peer through the public `wrtc` option, and sees the data channel
// simple-peer creates on it. If a simple-peer release stops doing either, these tests fail
// (and the adapter throws SimplePeerShapeError at run time).
import { afterEach, describe, expect, it, vi } from 'vitest';
import { SimplePeerAdapter, type WebRtcImplementation } from '../../lib/webrtc/simple-peer-adapter.ts';

/** Just enough of a data channel for simple-peer to set up and close. */
class FakeChannel {
  readonly label: string;
  readonly init: RTCDataChannelInit | undefined;
  binaryType = 'blob';
  bufferedAmount = 0;
  bufferedAmountLowThreshold = 0;
  readyState = 'connecting';
  closed = false;
  onmessage: unknown = null;
  onbufferedamountlow: unknown = null;
  onopen: unknown = null;
  onclose: unknown = null;
  onerror: unknown = null;
  constructor(label: string, init?: RTCDataChannelInit) {
    this.label = label;
    this.init = init;
  }
  close(): void {
    this.closed = true;
  }
}

/** Just enough of an RTCPeerConnection for simple-peer's constructor (no negotiation: not the initiator). */
class FakePeerConnection {
  static made: FakePeerConnection[] = [];
  readonly config: RTCConfiguration | undefined;
  readonly channels: FakeChannel[] = [];
  localDescription = { type: 'offer', sdp: 'a=fingerprint:sha-256 AA:BB\r\n' };
  remoteDescription = null;
  iceConnectionState = 'new';
  iceGatheringState = 'new';
  oniceconnectionstatechange: (() => void) | null = null;
  closed = false;
  /** Calls of the connection's own getStats, which never answers here (a busy native stack). */
  statsCalls = 0;
  constructor(config?: RTCConfiguration) {
    this.config = config;
    FakePeerConnection.made.push(this);
  }
  createDataChannel(label: string, init?: RTCDataChannelInit): FakeChannel {
    const ch = new FakeChannel(label, init);
    this.channels.push(ch);
    return ch;
  }
  getStats(): Promise<unknown> {
    this.statsCalls++;
    return new Promise(() => {});
  }
  close(): void {
    this.closed = true;
  }
}

const fakeWrtc: WebRtcImplementation = {
  RTCPeerConnection: FakePeerConnection,
  RTCSessionDescription: Object,
  RTCIceCandidate: Object,
};

afterEach(() => {
  FakePeerConnection.made = [];
});

describe('SimplePeerAdapter', () => {
  it('gives simple-peer the RTCPeerConnection it made, and exposes it and the stream data channel simple-peer created', () => {
    const failed = vi.fn();
    const peer = SimplePeerAdapter.create(
      { initiator: false, iceServers: [{ urls: 'stun:127.0.0.1' }], wrtc: fakeWrtc },
      failed,
    );
    expect(peer).toBeDefined();
    expect(FakePeerConnection.made).toHaveLength(1);
    const pc = FakePeerConnection.made[0]!;
    expect(peer!.pc).toBe(pc);
    expect(pc.config?.iceServers).toEqual([{ urls: 'stun:127.0.0.1' }]);
    expect(pc.channels).toHaveLength(1);
    expect(peer!.channel).toBe(pc.channels[0]);
    expect(pc.channels[0]!.init).toEqual({ negotiated: true, id: 0 });
    // simple-peer took the channel as its own: it listens on it.
    expect(typeof pc.channels[0]!.onmessage).toBe('function');
    // The adapter noted simple-peer's channel only: later channels are the caller's own.
    expect(Object.hasOwn(pc, 'createDataChannel')).toBe(false);
    const dgram = peer!.pc.createDataChannel('weftmesh-datagrams', { negotiated: true, id: 1 });
    expect(peer!.channel).not.toBe(dgram);
    expect(failed).not.toHaveBeenCalled();
    peer!.destroy();
  });

  it('reports the bytes queued on the stream channel, and closes the connection on destroy', async () => {
    const peer = SimplePeerAdapter.create({ initiator: false, iceServers: [], wrtc: fakeWrtc }, () => {});
    const pc = FakePeerConnection.made[0]!;
    pc.channels[0]!.bufferedAmount = 4096;
    expect(peer!.bufferSize).toBe(4096);
    const closed = new Promise<void>((ok) => peer!.on('close', ok));
    peer!.destroy();
    await closed;
    expect(pc.closed).toBe(true);
    expect(pc.channels[0]!.closed).toBe(true);
  });

  it("reports 'connect' once ICE is connected and the channel open, without waiting on the connection's getStats", async () => {
    const peer = SimplePeerAdapter.create({ initiator: false, iceServers: [], wrtc: fakeWrtc }, () => {});
    const pc = FakePeerConnection.made[0]!;
    const connected = vi.fn();
    peer!.on('connect', connected);
    pc.iceConnectionState = 'connected';
    pc.oniceconnectionstatechange!();
    const channel = pc.channels[0]! as FakeChannel & { onopen: () => void };
    channel.readyState = 'open';
    channel.onopen();
    await vi.waitFor(() => expect(connected).toHaveBeenCalledTimes(1));
    expect(pc.statsCalls).toBe(0);
    // Later callers get the connection's own stats.
    void (pc as unknown as RTCPeerConnection).getStats();
    expect(pc.statsCalls).toBe(1);
    peer!.destroy();
  });

  it('passes signals to simple-peer, which refuses them once destroyed', async () => {
    const peer = SimplePeerAdapter.create({ initiator: false, iceServers: [], wrtc: fakeWrtc }, () => {});
    const closed = new Promise<void>((ok) => peer!.on('close', ok));
    peer!.destroy();
    await closed;
    expect(() => peer!.signal({ type: 'offer', sdp: 'v=0\r\n' })).toThrow(/destroyed/);
  });

  it('an RTCPeerConnection constructor that throws: no peer, and simple-peer reports it a moment later', async () => {
    class Refusing {
      constructor() {
        throw new Error('Cannot create so many PeerConnections');
      }
    }
    const failed = vi.fn();
    const peer = SimplePeerAdapter.create(
      { initiator: true, iceServers: [], wrtc: { ...fakeWrtc, RTCPeerConnection: Refusing } },
      failed,
    );
    expect(peer).toBeUndefined();
    await vi.waitFor(() => expect(failed).toHaveBeenCalledTimes(1));
    const error = failed.mock.calls[0]![0] as Error & { code?: string };
    expect(error.code).toBe('ERR_PC_CONSTRUCTOR');
    expect(error.message).toContain('so many PeerConnections');
  });

  it('without WebRTC in the runtime and no implementation given, it throws simple-peer’s ERR_WEBRTC_SUPPORT', () => {
    expect((globalThis as { RTCPeerConnection?: unknown }).RTCPeerConnection).toBeUndefined();
    let thrown: (Error & { code?: string }) | undefined;
    try {
      SimplePeerAdapter.create({ initiator: true, iceServers: [] }, () => {});
    } catch (e) {
      thrown = e as Error & { code?: string };
    }
    expect(thrown?.code).toBe('ERR_WEBRTC_SUPPORT');
  });

  it('uses the runtime’s own RTCPeerConnection when none is given (browsers)', () => {
    vi.stubGlobal('RTCPeerConnection', FakePeerConnection);
    vi.stubGlobal('RTCSessionDescription', Object);
    vi.stubGlobal('RTCIceCandidate', Object);
    try {
      const peer = SimplePeerAdapter.create({ initiator: false, iceServers: [] }, () => {});
      expect(peer?.pc).toBe(FakePeerConnection.made[0]);
      peer!.destroy();
    } finally {
      vi.unstubAllGlobals();
    }
  });
});
