/**
 * The one place that knows simple-peer. simple-peer negotiates (offer, answer, trickled
 * candidates) and carries the stream over its data channel; weftmesh also needs the
 * RTCPeerConnection (SDP fingerprints for channel binding, a second data channel for
 * datagrams) and that data channel itself (bufferedAmount and `bufferedamountlow`, for
 * back-pressure without polling). simple-peer keeps both in private fields, so instead the
 * adapter makes the RTCPeerConnection itself and gives it to simple-peer through simple-peer's
 * public `wrtc` option (an object with RTCPeerConnection, RTCSessionDescription and
 * RTCIceCandidate), and notes the data channel simple-peer creates on it while its
 * constructor runs. If a simple-peer release stops doing either, construction throws a
 * TransportError (test/unit/simple-peer-adapter.test.ts checks the real package).
 */
// simple-peer itself on Node and Deno, its self-contained browser build in bundlers (package.json imports).
import SimplePeer from '#simple-peer';
import { TransportError } from '../transport/errors.ts';

/** RTCPeerConnection and friends, for runtimes without them (Node, Deno: @roamhq/wrtc). */
export interface WebRtcImplementation {
  RTCPeerConnection: unknown;
  RTCSessionDescription: unknown;
  RTCIceCandidate: unknown;
}

/**
 * An offer, an answer or a candidate, passed between the two peers as JSON. Typed here, not as
 * simple-peer's SignalData, so that the package's typings never name simple-peer's.
 */
export interface PeerSignal {
  readonly type?: string;
  readonly sdp?: string;
  readonly candidate?: {
    readonly candidate?: string;
    readonly sdpMLineIndex?: number;
    readonly sdpMid?: string;
    readonly usernameFragment?: string;
  };
}

export interface PeerOptions {
  /** Makes the offer (the lower node id). */
  initiator: boolean;
  iceServers: RTCIceServer[];
  /** Default: the runtime's own (browsers). */
  wrtc?: WebRtcImplementation;
}

/** One peer connection being negotiated, then carrying a link. */
export class SimplePeerAdapter {
  /** The RTCPeerConnection simple-peer negotiates (made here). */
  readonly pc: RTCPeerConnection;
  /** simple-peer's data channel: the reliable, ordered stream (negotiated, id 0). */
  readonly channel: RTCDataChannel;
  readonly #peer: SimplePeer.Instance;

  private constructor(peer: SimplePeer.Instance, pc: RTCPeerConnection, channel: RTCDataChannel) {
    this.#peer = peer;
    this.pc = pc;
    this.channel = channel;
  }

  /**
   * A peer, or undefined when the RTCPeerConnection constructor threw: simple-peer catches
   * that and reports it a moment later (code ERR_PC_CONSTRUCTOR), to `failed`. Throws what
   * simple-peer's constructor throws (ERR_WEBRTC_SUPPORT: no WebRTC in this runtime).
   */
  static create(
    opts: PeerOptions,
    failed: (error: Error & { code?: string }) => void,
  ): SimplePeerAdapter | undefined {
    const impl = opts.wrtc ?? runtimeWebRtc();
    let pc: RTCPeerConnection | undefined;
    let channel: RTCDataChannel | undefined;
    const options: SimplePeer.Options = {
      initiator: opts.initiator,
      trickle: true,
      config: { iceServers: opts.iceServers },
      channelConfig: { negotiated: true, id: 0 },
    };
    if (impl) {
      const Base = impl.RTCPeerConnection as new (config?: RTCConfiguration) => RTCPeerConnection;
      // Called with `new` by simple-peer: an object returned from a constructor function is the result.
      function RTCPeerConnection(config?: RTCConfiguration): RTCPeerConnection {
        const made = new Base(config);
        const create = made.createDataChannel;
        made.createDataChannel = (label: string, init?: RTCDataChannelInit) => {
          const ch = create.call(made, label, init);
          channel ??= ch;
          return ch;
        };
        skipFirstStats(made);
        pc = made;
        return made;
      }
      options.wrtc = {
        RTCPeerConnection,
        RTCSessionDescription: impl.RTCSessionDescription,
        RTCIceCandidate: impl.RTCIceCandidate,
      } as unknown as SimplePeer.Options['wrtc'];
    }
    const peer = new SimplePeer(options);
    if (!pc) {
      peer.on('error', failed);
      return undefined;
    }
    // Back to the prototype's method: only simple-peer's channel is noted.
    delete (pc as Partial<RTCPeerConnection>).createDataChannel;
    if (!channel) {
      peer.on('error', () => {});
      peer.destroy();
      throw new TransportError(
        'peer-connection',
        'simple-peer did not create its data channel on the given RTCPeerConnection (has its shape changed?)',
      );
    }
    return new SimplePeerAdapter(peer, pc, channel);
  }

  /** Bytes queued on the stream data channel. */
  get bufferSize(): number {
    return this.#peer.bufferSize;
  }

  /** Hands over the remote peer's signal; throws if simple-peer finds it malformed. */
  signal(data: PeerSignal): void {
    this.#peer.signal(data as SimplePeer.SignalData);
  }

  on(event: 'signal', fn: (data: PeerSignal) => void): void;
  on(event: 'connect' | 'close', fn: () => void): void;
  on(event: 'data', fn: (data: Uint8Array) => void): void;
  on(event: 'error', fn: (err: Error & { code?: string }) => void): void;
  on(event: string, fn: (...args: never[]) => void): void {
    this.#peer.on(event, fn as (...args: unknown[]) => void);
  }

  /** Sends one chunk on the stream data channel. */
  send(chunk: Uint8Array): void {
    this.#peer.send(chunk);
  }

  destroy(): void {
    this.#peer.destroy();
  }
}

/**
 * simple-peer waits for one getStats() before it reports 'connect', only to note the addresses
 * of the selected candidate pair (weftmesh does not use them), and polls every 100 ms until a
 * pair is selected. With @roamhq/wrtc that call took 57 ms p50 and up to 0.5 s per link with 8
 * processes on 2 cores, on every link's critical path. Its first call therefore gets a report
 * with one candidate pair and no local candidate — simple-peer's "nothing to select" case — and
 * the connection's own getStats() is back for every later caller.
 */
function skipFirstStats(pc: RTCPeerConnection): void {
  const own = pc as { getStats: () => Promise<unknown> };
  own.getStats = () => {
    delete (own as Partial<typeof own>).getStats;
    return Promise.resolve(new Map([['weftmesh', { type: 'candidate-pair', id: 'weftmesh' }]]));
  };
}

/** The runtime's own WebRTC classes (browsers), or undefined: simple-peer then throws ERR_WEBRTC_SUPPORT. */
function runtimeWebRtc(): WebRtcImplementation | undefined {
  const g = globalThis as Partial<WebRtcImplementation>;
  if (typeof g.RTCPeerConnection !== 'function') return undefined;
  return {
    RTCPeerConnection: g.RTCPeerConnection,
    RTCSessionDescription: g.RTCSessionDescription,
    RTCIceCandidate: g.RTCIceCandidate,
  };
}
