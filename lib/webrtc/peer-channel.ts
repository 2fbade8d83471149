/**
 * A RawChannel over one WebRTC peer connection (simple-peer, through SimplePeerAdapter): a
 * reliable ordered data channel for the stream (messages chunked as large as the peer takes, up
 * to MAX_CHUNK_BYTES: see streamChunkBytes; with back-pressure on bufferedAmount) and an unordered, no-retransmit channel for datagrams, so
 * probes never wait behind bulk data. Both channels are pre-negotiated (same ids on both
 * sides), so no extra signaling round trip is needed. Channel binding: both DTLS
 * fingerprints, from the local and remote SDP.
 *
 * Chunks beyond the high-water mark wait in a queue; the data channel's `bufferedamountlow`
 * event (its threshold set to what is waited for: room for the queue, or the next
 * drained() threshold) moves them on and settles drained(). @roamhq/wrtc has neither the
 * event nor `bufferedAmountLowThreshold`: there, and only there, the channel looks every
 * DRAIN_POLL_MS while chunks wait or drained() is waited on.
 *
 * The data channel's own bufferedAmount is read as rarely as correctness allows: on
 * @roamhq/wrtc each read is a blocking call into the native stack, and one per chunk and per
 * message was the largest single cost of small messages there. The channel keeps an upper
 * bound instead — the amount last read plus the bytes handed over since — and reads afresh
 * only when the bound reaches a threshold that matters, on each drain event or poll, and in
 * drained(). So the public bufferedAmount may exceed the truth by less than EXACT_ABOVE bytes
 * when it is below EXACT_ABOVE, and is exact above it: every comparison against a threshold of
 * at least EXACT_ABOVE gives the answer the exact figure would.
 *
 * Closing: the datagram channel is ours, not simple-peer's, so it is closed here, before the
 * peer connection (simple-peer closes its own channel first too), and never after it (closing
 * a data channel of a closed connection is a known crash of node-webrtc). A channel that
 * closes under a send (the remote end went away; @roamhq/wrtc's readyState may still read
 * 'open') makes send() throw: that datagram is dropped, and the channel closes.
 */
import type { Scheduler, TimerId } from '../time/types.ts';
import { CHUNK_BYTES, ChunkError, chunk, MIN_PIECE_CHARGE, Reassembler } from '../transport/chunks.ts';
import { closedError, DrainWaiters } from '../transport/drain.ts';
import type { ChannelBinding, DeliveryClass, RawChannel, RawChannelHandlers } from '../transport/types.ts';
import { plainBytes, utf8 } from '../util/bytes.ts';
import type { InboundTurns } from './inbound-turns.ts';

export interface PeerChannelLimits {
  /** Largest stream message accepted or sent (after reassembly). Default 1 MiB. */
  maxMessageBytes: number;
  /**
   * Stop handing chunks to the data channel above this bufferedAmount. Default 256 KiB (probes
   * share its SCTP association); WebRtcTransport uses BROWSER_HIGH_WATER_MARK over a browser's
   * own WebRTC.
   */
  highWaterMark: number;
  /**
   * Chunks waiting beyond the high-water mark, and received chunks waiting for their turn
   * (inbound-turns.ts); above it, either way, the link is closed. Default 16 MiB.
   */
  maxQueuedBytes: number;
  /** Largest datagram. Default 16 KiB. */
  maxDatagramBytes: number;
}

/**
 * What a PeerChannel uses of a peer connection (SimplePeerAdapter fits). Declared here so that
 * the package's typings never name simple-peer's (its types are not a dependency of weftmesh).
 */
export interface PeerLike {
  /**
   * The peer connection: its local and remote SDP give the channel binding, and the remote
   * SDP and `sctp` (where the runtime has it) the chunk size.
   */
  readonly pc: Pick<RTCPeerConnection, 'localDescription' | 'remoteDescription'> & {
    readonly sctp?: { readonly maxMessageSize?: number } | null;
  };
  /** Bytes queued on the data channel. */
  readonly bufferSize: number;
  /** The stream's data channel: its `bufferedamountlow` events drive the queue and drained(). */
  readonly channel: Pick<
    RTCDataChannel,
    'bufferedAmountLowThreshold' | 'addEventListener' | 'removeEventListener'
  >;
  on(event: 'data', fn: (data: Uint8Array) => void): unknown;
  on(event: 'close', fn: () => void): unknown;
  on(event: 'error', fn: (err: Error & { code?: string }) => void): unknown;
  send(chunk: Uint8Array): void;
  destroy(): void;
}

export const DEFAULT_PEER_CHANNEL_LIMITS: Readonly<PeerChannelLimits> = Object.freeze({
  maxMessageBytes: 1 << 20,
  highWaterMark: 256 * 1024,
  maxQueuedBytes: 16 << 20,
  maxDatagramBytes: 16 * 1024,
});

/**
 * The high-water mark over a browser's own WebRTC. Chromium discards packets it is handed
 * faster than it can pass them on (RTCIceCandidatePairStats.packetsDiscardedOnSend); SCTP
 * takes that as loss, and after a burst lost whole, its retransmission timer backs off to
 * seconds with the association stalled (datagrams and probes included). Measured between two
 * Chromium pages pulling a chain of 16 KiB entries 64 requests at a time (docs/CHAIN.md): with
 * 256 KiB buffered, 6 of 6 runs stalled until requests timed out (320–563 entries/s); with
 * 64 KiB, none of 10 (1,381–1,554/s), at up to 10 % less on runs that never stalled.
 */
export const BROWSER_HIGH_WATER_MARK = 64 * 1024;

/** Data channels without `bufferedamountlow` (@roamhq/wrtc): how often waiting chunks and drained() look. */
const DRAIN_POLL_MS = 10;
/** Datagrams are dropped (not queued) while the datagram channel holds this much. */
const DATAGRAM_HIGH_WATER = 256 * 1024;
/** bufferedAmount is an upper bound below this many bytes and exact above (see above). */
const EXACT_ABOVE = 64 * 1024;
/**
 * Largest stream chunk sent, whatever the peer allows. On @roamhq/wrtc a data channel send()
 * costs about the same whatever its size (a blocking call into the native stack), so fewer,
 * larger chunks carry more: a sync answer of ≤ 40 KiB is one send, not 3. 64 KiB makes every
 * frame up to 65,535 bytes one send (the default wire limit is 64 KiB) and is what a peer whose
 * SDP says nothing takes; larger chunks gained nothing measured — a plain data channel carries
 * no more in 256 KiB messages than in 40–64 KiB ones (docs/CHAIN.md, WebRTC figures) — and
 * would each hold the ordered channel longer ahead of small messages.
 */
export const MAX_CHUNK_BYTES = 64 * 1024;
/** RFC 8841: a data channel m-section without `a=max-message-size` accepts 65,536 bytes. */
const SDP_DEFAULT_MAX_MESSAGE = 65_536;

/**
 * The size of the stream chunks sent to a peer: what its SDP says its data channel accepts
 * (`a=max-message-size`, RFC 8841: absent means 65,536, 0 means no limit), at most
 * MAX_CHUNK_BYTES, and at most `sctpMaxMessageSize` (RTCSctpTransport.maxMessageSize, which
 * browsers also bound by what they can send; @roamhq/wrtc has no `pc.sctp`, so the SDP,
 * there on every runtime, is the source and this only a further bound). The SDP is the
 * peer's input: anything but one such line of at most 10 digits — or no SDP — gives
 * CHUNK_BYTES (16 KiB, what every earlier version sent to every peer). So does a value below
 * 16 KiB, which no stack weftmesh meets advertises: honouring a peer that asks for tiny
 * chunks would make this side spend one blocking native send per few bytes. Receivers of every weftmesh version take chunks
 * of any size (chunks.ts: the Reassembler bounds only the whole message).
 */
export function streamChunkBytes(remoteSdp: string | undefined, sctpMaxMessageSize?: number): number {
  if (!remoteSdp) return CHUNK_BYTES;
  const lines = [...remoteSdp.matchAll(/^a=max-message-size:(.*)$/gm)];
  if (lines.length > 1) return CHUNK_BYTES;
  let size = SDP_DEFAULT_MAX_MESSAGE;
  if (lines.length === 1) {
    const value = lines[0]![1]!.replace(/\r$/, '');
    if (!/^[0-9]{1,10}$/.test(value)) return CHUNK_BYTES;
    size = Number(value) === 0 ? MAX_CHUNK_BYTES : Number(value);
  }
  if (typeof sctpMaxMessageSize === 'number' && sctpMaxMessageSize > 0)
    size = Math.min(size, sctpMaxMessageSize);
  if (!(size >= CHUNK_BYTES)) return CHUNK_BYTES;
  return Math.min(Math.floor(size), MAX_CHUNK_BYTES);
}

/** The DTLS fingerprint line of an SDP ("sha-256 AB:CD:…"), normalized. */
export function sdpFingerprint(sdp: string | undefined): Uint8Array {
  const m = sdp?.match(/^a=fingerprint:(\S+) ([0-9A-Fa-f:]+)\s*$/m);
  return m ? utf8(`${m[1]!.toLowerCase()} ${m[2]!.toUpperCase()}`) : new Uint8Array(0);
}

export class PeerChannel implements RawChannel {
  readonly binding: ChannelBinding;
  /** Size of the stream chunks sent (streamChunkBytes); received chunks may have any size. */
  readonly chunkBytes: number;
  readonly #peer: PeerLike;
  readonly #dgram: RTCDataChannel;
  readonly #limits: PeerChannelLimits;
  readonly #scheduler: Scheduler;
  readonly #reassembler: Reassembler;
  #handlers: RawChannelHandlers | undefined;
  #queue: Uint8Array[] = [];
  #queued = 0;
  readonly #waiters = new DrainWaiters();
  /** Whether the data channel fires `bufferedamountlow` (it has a threshold to set). */
  readonly #lowEvents: boolean;
  #poll: TimerId | undefined;
  #closed = false;
  /** The data channel's bufferedAmount when last read, and the bytes handed to it since. */
  #seen = 0;
  #handed = 0;
  /** Bytes received and waiting for their turn (inbound-turns.ts). */
  #arrived = 0;
  /** Datagrams dropped (channel not open, too large, or congested). */
  datagramsDropped = 0;

  constructor(
    peer: PeerLike,
    dgram: RTCDataChannel,
    scheduler: Scheduler,
    limits: Partial<PeerChannelLimits> = {},
    /** Shared turns with the thread (@roamhq/wrtc); none: inbound events run as they come. */
    turns?: InboundTurns,
  ) {
    this.#peer = peer;
    this.#dgram = dgram;
    this.#scheduler = scheduler;
    this.#limits = { ...DEFAULT_PEER_CHANNEL_LIMITS, ...limits };
    this.#reassembler = new Reassembler(this.#limits.maxMessageBytes);
    this.binding = {
      local: sdpFingerprint(peer.pc.localDescription?.sdp),
      remote: sdpFingerprint(peer.pc.remoteDescription?.sdp),
    };
    this.chunkBytes = streamChunkBytes(peer.pc.remoteDescription?.sdp, peer.pc.sctp?.maxMessageSize);
    this.#lowEvents = typeof peer.channel.bufferedAmountLowThreshold === 'number';
    if (this.#lowEvents) peer.channel.addEventListener('bufferedamountlow', this.#onLow);
    // Stream data and the end of the connection take their turns in order (inbound-turns.ts).
    const run = turns ? (event: () => void) => turns.run(event) : (event: () => void) => event();
    peer.on('data', (data: Uint8Array) => {
      const c = plainBytes(data);
      // A peer sending faster than this thread takes its turns may not fill memory (a chunk
      // queued counts at least MIN_PIECE_CHARGE: tiny ones hold a turn each).
      const charge = Math.max(c.length, MIN_PIECE_CHARGE);
      this.#arrived += charge;
      if (this.#arrived > this.#limits.maxQueuedBytes) {
        this.close('receive backlog over the limit (peer floods)');
        return;
      }
      run(() => {
        this.#arrived -= charge;
        this.#onChunk(c);
      });
    });
    peer.on('close', () => run(() => this.#gone('peer connection closed')));
    peer.on('error', (err: Error & { code?: string }) => run(() => this.#gone(err.code ?? err.message)));
    dgram.binaryType = 'arraybuffer';
    dgram.onclose = () => this.close('datagram channel closed');
    dgram.onmessage = (ev: MessageEvent) => {
      if (this.#closed || !this.#handlers) return;
      const data = ev.data;
      if (data instanceof ArrayBuffer) this.#handlers.frame('datagram', new Uint8Array(data));
      else if (ArrayBuffer.isView(data))
        this.#handlers.frame('datagram', new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    };
  }

  get bufferedAmount(): number {
    if (this.#closed) return this.#queued;
    if (this.#seen + this.#handed >= EXACT_ABOVE) this.#read();
    return this.#queued + this.#seen + this.#handed;
  }

  drained(threshold: number): Promise<void> {
    if (this.#closed) return Promise.reject(closedError('peer connection closed'));
    this.#read();
    const done = this.#waiters.wait(threshold, this.bufferedAmount);
    this.#arm();
    return done;
  }

  setHandlers(handlers: RawChannelHandlers): void {
    this.#handlers = handlers;
  }

  send(cls: DeliveryClass, frame: Uint8Array): void {
    if (this.#closed) return;
    if (cls === 'datagram') {
      if (
        this.#dgram.readyState !== 'open' ||
        frame.length > this.#limits.maxDatagramBytes ||
        this.#dgram.bufferedAmount > DATAGRAM_HIGH_WATER
      ) {
        this.datagramsDropped++;
        return;
      }
      try {
        this.#dgram.send(frame as Uint8Array<ArrayBuffer>);
      } catch (e) {
        this.datagramsDropped++;
        this.close(`datagram send failed: ${(e as Error).message}`);
      }
      return;
    }
    if (frame.length > this.#limits.maxMessageBytes) {
      this.close('message over the size limit');
      return;
    }
    for (const c of chunk(frame, this.chunkBytes)) {
      this.#queue.push(c);
      this.#queued += c.length;
    }
    if (this.#queued > this.#limits.maxQueuedBytes) {
      this.close('send buffer overflow (peer too slow)');
      return;
    }
    this.#drain();
  }

  close(reason = 'closed locally'): void {
    if (this.#closed) return;
    this.#gone(reason);
    // The connection is still open here (simple-peer reports its close before we see it).
    try {
      this.#dgram.close();
    } catch {
      // already closing
    }
    this.#peer.destroy();
  }

  /**
   * Moves waiting chunks to the data channel while it is below the high-water mark. `fresh`
   * (a drain event or poll: the channel has shrunk) reads its bufferedAmount first.
   */
  #drain(fresh = false): void {
    if (this.#closed) return;
    if (fresh) this.#read();
    while (this.#queue.length > 0 && this.#below(this.#limits.highWaterMark)) {
      const c = this.#queue.shift()!;
      this.#queued -= c.length;
      this.#handed += c.length;
      try {
        this.#peer.send(c);
      } catch (e) {
        this.close(`send failed: ${(e as Error).message}`);
        return;
      }
    }
    if (this.#waiters.size > 0) this.#waiters.check(this.bufferedAmount);
    this.#arm();
  }

  /** Whether the data channel holds less than `bytes`: from the bound when it answers, else read. */
  #below(bytes: number): boolean {
    if (this.#seen + this.#handed < bytes) return true;
    this.#read();
    return this.#seen < bytes;
  }

  #read(): void {
    this.#seen = this.#peer.bufferSize;
    this.#handed = 0;
  }

  readonly #onLow = (): void => this.#drain(true);

  /**
   * Asks for the next drain event: room for waiting chunks (half the high-water mark, so the
   * channel never runs dry), else the next threshold drained() waits for.
   */
  #arm(): void {
    if (this.#closed) return;
    const target = this.#queue.length > 0 ? this.#limits.highWaterMark / 2 : this.#waiters.next;
    if (target === undefined) return;
    if (this.#lowEvents) {
      this.#peer.channel.bufferedAmountLowThreshold = Math.max(0, Math.floor(target));
      return;
    }
    this.#poll ??= this.#scheduler.setTimer(DRAIN_POLL_MS, () => {
      this.#poll = undefined;
      this.#drain(true);
    });
  }

  #onChunk(c: Uint8Array): void {
    if (this.#closed) return;
    let message: Uint8Array | undefined;
    try {
      message = this.#reassembler.push(c);
    } catch (e) {
      this.close(e instanceof ChunkError ? `bad chunk: ${e.message}` : 'bad chunk');
      return;
    }
    if (message) this.#handlers?.frame('stream', message);
  }

  #gone(reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue = [];
    this.#queued = 0;
    if (this.#poll !== undefined) this.#scheduler.cancelTimer(this.#poll);
    this.#poll = undefined;
    if (this.#lowEvents) this.#peer.channel.removeEventListener('bufferedamountlow', this.#onLow);
    this.#dgram.onclose = null;
    this.#dgram.onmessage = null;
    this.#waiters.fail(reason);
    this.#handlers?.close(reason);
  }
}
