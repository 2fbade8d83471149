/**
 * WebRTC transport (simple-peer). Address: `webrtc:<nodeId>`. Offers and ICE candidates
 * travel over the signaling server at first, and over the mesh itself (peer-assisted
 * signaling) once this node has links: a relayed signal needs no server at all.
 *
 * Links that really work, every time:
 * - glare cannot happen: the lower node id always makes the offer; a higher id that wants
 *   a link asks the lower one to dial it (`dial-me`);
 * - every attempt has its own session id, so signals of an abandoned attempt are ignored;
 * - a negotiation that does not connect within the connect timeout is torn down and
 *   reported, and the node's link manager redials with backoff;
 * - a link is handed over only after the authenticated handshake round-tripped over it.
 */
import { TransportError } from '../transport/errors.ts';
import { HandshakeError, runHandshake } from '../transport/handshake.ts';
import type {
  ConnectOptions,
  Link,
  MeshRelay,
  Transport,
  TransportContext,
  TransportEvents,
} from '../transport/types.ts';
import { setBounded } from '../util/bounded-map.ts';
import { fromUtf8, toHex, utf8 } from '../util/bytes.ts';
import { RateLimiter } from '../util/rate-limit.ts';
import { InboundTurns } from './inbound-turns.ts';
import { BROWSER_HIGH_WATER_MARK, PeerChannel, type PeerChannelLimits } from './peer-channel.ts';
import { type PeerSignal, SimplePeerAdapter, type WebRtcImplementation } from './simple-peer-adapter.ts';

export type { WebRtcImplementation };

/** The signaling server path (a SignalingClient fits). */
export interface SignalingPath {
  send(to: string, data: unknown): boolean;
  on(type: 'signal', fn: (e: { from: string; data: unknown }) => void): () => void;
}

export interface WebRtcTransportOptions {
  signaling?: SignalingPath;
  /** Default: the runtime's own (browsers). */
  wrtc?: WebRtcImplementation;
  /** STUN/TURN servers for real deployments. Default none. */
  iceServers?: RTCIceServer[];
  /** Keep only ICE candidates whose candidate line passes (tests: loopback only). */
  candidateFilter?: (candidate: string) => boolean;
  /** A negotiation must connect within this. Default 15,000 ms. */
  connectTimeoutMs?: number;
  /** Peer connections open at once. Default 64. */
  maxPeerConnections?: number;
  /**
   * Peer connections ever created (Chromium allows ~500 per tab lifetime). Default unlimited.
   * When set, one peer may start at most an eighth of it here (at least 2).
   */
  peerConnectionBudget?: number;
  /**
   * Stream and datagram channel limits (PeerChannelLimits). Over a browser's own WebRTC the
   * high-water mark defaults to 64 KiB (BROWSER_HIGH_WATER_MARK), elsewhere to 256 KiB.
   */
  channel?: Partial<PeerChannelLimits>;
}

type Path = 'mesh' | 'server';

interface Session {
  peerId: string;
  sid: string;
  peer: SimplePeerAdapter;
  timer: number;
  /** The address this node dialled, when the attempt answers a connect(). */
  dialed: string | undefined;
  connected: boolean;
  /** Every signal of a session takes one path, so offer and candidates cannot overtake each other. */
  path: Path;
  /** Remote candidates handed to it (at most MAX_CANDIDATES). */
  candidates: number;
}

/** Signals for a session not created yet (a candidate that overtook its offer). */
interface Early {
  sid: string;
  data: PeerSignal;
  at: number;
  /** Its size as JSON: what it counts against EARLY_BYTES. */
  bytes: number;
}

type SignalMessage = { k: 'dial-me'; sid: string } | { k: 'sig'; sid: string; d: PeerSignal };

const NODE_ID = /^[0-9a-f]{32}$/;
/** simple-peer error codes that mean this runtime failed, not the peer or the network. */
const LOCAL_FAILURES = new Set([
  'ERR_WEBRTC_SUPPORT',
  'ERR_PC_CONSTRUCTOR',
  'ERR_CREATE_OFFER',
  'ERR_CREATE_ANSWER',
  'ERR_SET_LOCAL_DESCRIPTION',
]);
const RELAY_TOPIC = 'weftmesh/webrtc-signal';
const MAX_SIGNAL_BYTES = 32 * 1024;
/** Early signals kept per peer, and for how long. */
const EARLY_LIMIT = 32;
const EARLY_TTL_MS = 10_000;
/** Early signals kept from all peers together, in JSON bytes (a signal may be ~32 KiB, a candidate's ~200 B, an answer's ~5 KiB). */
const EARLY_BYTES = 512 * 1024;
/**
 * Sessions a peer may start here (an offer with a fresh session id, or a `dial-me`): 3 at
 * once, then one every 5 s. Each costs a peer connection, and browsers allow a few hundred
 * per page's lifetime (peerConnectionBudget; one key's share of it: PEER_SHARE). Honest
 * redials back off from 1 s, doubling.
 */
const PEER_STARTS_PER_S = 0.2;
const PEER_STARTS_BURST = 3;
/**
 * With a finite peerConnectionBudget, the share of it one peer may start here over the
 * transport's life (the rate above bounds how fast, this how much): an eighth, at least 2.
 */
const PEER_SHARE = 1 / 8;
/** …but never fewer than this many. */
const PEER_SHARE_MIN = 2;
/** Peers whose starts are remembered for PEER_SHARE (the oldest forgotten first). */
const PEER_SHARES_KEPT = 4096;
/** Longest ICE candidate line taken (real ones are ~100–300 characters). */
const MAX_CANDIDATE_CHARS = 1024;
/** Remote candidates one session takes (a few per network interface of the peer). */
const MAX_CANDIDATES = 32;

/**
 * A peer's signal rebuilt from the fields simple-peer reads: an offer or an answer, or one
 * ICE candidate, each within bounds; anything else (renegotiations and transceiver requests,
 * which weftmesh never sends: data channels only) is refused. Nothing of the peer's JSON is
 * kept but these strings and numbers.
 */
function parsePeerSignal(v: unknown): PeerSignal | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const d = v as Record<string, unknown>;
  if (
    (d.type === 'offer' || d.type === 'answer') &&
    typeof d.sdp === 'string' &&
    d.sdp.length <= MAX_SIGNAL_BYTES
  )
    return { type: d.type, sdp: d.sdp };
  if (d.type !== 'candidate' || typeof d.candidate !== 'object' || d.candidate === null) return undefined;
  const c = d.candidate as Record<string, unknown>;
  if (typeof c.candidate !== 'string' || c.candidate.length > MAX_CANDIDATE_CHARS) return undefined;
  const index = c.sdpMLineIndex;
  const mid = c.sdpMid;
  const ufrag = c.usernameFragment;
  return {
    type: 'candidate',
    candidate: {
      candidate: c.candidate,
      ...(Number.isInteger(index) && (index as number) >= 0 && (index as number) < 65_536
        ? { sdpMLineIndex: index as number }
        : {}),
      ...(typeof mid === 'string' && mid.length <= 64 ? { sdpMid: mid } : {}),
      ...(typeof ufrag === 'string' && ufrag.length <= 256 ? { usernameFragment: ufrag } : {}),
    },
  };
}

function parseSignal(v: unknown): SignalMessage | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const m = v as Record<string, unknown>;
  if (typeof m.sid !== 'string' || m.sid.length > 64) return undefined;
  if (m.k === 'dial-me') return { k: 'dial-me', sid: m.sid };
  const d = m.k === 'sig' ? parsePeerSignal(m.d) : undefined;
  return d && { k: 'sig', sid: m.sid, d };
}

export class WebRtcTransport implements Transport {
  readonly name = 'webrtc';
  readonly #o: WebRtcTransportOptions;
  #ctx: TransportContext | undefined;
  /** Inbound turns shared by this transport's channels (inbound-turns.ts). */
  #turns: InboundTurns | undefined;
  #events: TransportEvents | undefined;
  readonly #sessions = new Map<string, Session>();
  /** Dials waiting for the lower-id peer to make the offer. */
  readonly #awaiting = new Map<string, { address: string; timer: number }>();
  readonly #links = new Set<Link>();
  readonly #early = new Map<string, Early[]>();
  /** Sessions each peer started here (see PEER_STARTS_PER_S). */
  readonly #starts = new RateLimiter(PEER_STARTS_PER_S, PEER_STARTS_BURST, () => this.#now());
  /** Sessions each peer started here, for PEER_SHARE (only with a finite peerConnectionBudget). */
  readonly #startedBy = new Map<string, number>();
  readonly #unsubscribe: Array<() => void> = [];
  #created = 0;
  #closed = false;
  /** Counters for diagnostics and benchmarks. */
  /** Counters, and `earlySignalBytes`: signals held for sessions not started yet (at most 512 KiB). */
  readonly stats = {
    created: 0,
    connected: 0,
    failed: 0,
    relayedSignals: 0,
    serverSignals: 0,
    earlySignalBytes: 0,
    /** Peer signals refused: malformed, of a kind weftmesh never sends, or candidates over MAX_CANDIDATES a session. */
    signalsRefused: 0,
  };

  constructor(opts: WebRtcTransportOptions = {}) {
    this.#o = opts;
  }

  localAddresses(nodeId: string): string[] {
    return [`webrtc:${nodeId}`];
  }

  canDial(address: string): boolean {
    return address.startsWith('webrtc:') && NODE_ID.test(address.slice(7));
  }

  /** The node a `webrtc:<id>` address names (a node heard nearby is dialled there instead). */
  nodeIdOf(address: string): string | undefined {
    return this.canDial(address) ? address.slice(7) : undefined;
  }

  start(ctx: TransportContext, events: TransportEvents): void {
    if (this.#ctx) throw new TransportError('already-started', 'transport already started');
    this.#ctx = ctx;
    // @roamhq/wrtc hands over every queued message in one task (inbound-turns.ts); a browser's
    // own WebRTC makes each message its own task, and turns there would only add a timer each.
    this.#turns = this.#o.wrtc ? new InboundTurns(ctx.scheduler) : undefined;
    this.#events = events;
    if (this.#o.signaling) {
      this.#unsubscribe.push(this.#o.signaling.on('signal', (e) => this.#onSignal(e.from, e.data, 'server')));
    }
    if (ctx.relay) {
      this.#unsubscribe.push(
        ctx.relay.subscribe(RELAY_TOPIC, (from, payload) => {
          if (payload.length > MAX_SIGNAL_BYTES) {
            this.stats.signalsRefused++;
            return;
          }
          let data: unknown;
          try {
            data = JSON.parse(fromUtf8(payload));
          } catch {
            this.stats.signalsRefused++;
            return;
          }
          this.#onSignal(from, data, 'mesh');
        }),
      );
    }
  }

  connect(address: string, _opts: ConnectOptions = {}): void {
    const ctx = this.#ctx;
    if (!ctx || this.#closed) return;
    const peerId = address.slice('webrtc:'.length);
    if (!this.canDial(address) || peerId === ctx.identity.nodeId) {
      this.#events!.dialFailed(address, new TransportError('cannot-dial', `cannot dial ${address}`));
      return;
    }
    const existing = this.#sessions.get(peerId);
    if (existing) {
      existing.dialed ??= address;
      return;
    }
    if (ctx.identity.nodeId < peerId) {
      this.#startSession(peerId, this.#newSid(), address, this.#pathTo(peerId));
      return;
    }
    // The lower id makes offers: ask it to dial us, and wait.
    if (this.#awaiting.has(peerId)) return;
    const sid = this.#newSid();
    if (!this.#sendSignal(peerId, { k: 'dial-me', sid }, this.#pathTo(peerId))) {
      this.#events!.dialFailed(
        address,
        new TransportError('no-signaling-path', `no signaling path to ${peerId}`),
      );
      return;
    }
    const timer = ctx.scheduler.setTimer(this.#timeout(), () => {
      if (this.#awaiting.get(peerId)?.timer !== timer) return;
      this.#awaiting.delete(peerId);
      this.#events!.dialFailed(
        address,
        new TransportError('timeout', `webrtc connect to ${peerId} timed out`),
      );
    });
    this.#awaiting.set(peerId, { address, timer });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const u of this.#unsubscribe.splice(0)) u();
    for (const s of [...this.#sessions.values()]) this.#endSession(s, 'transport closed', false);
    for (const w of this.#awaiting.values()) this.#ctx?.scheduler.cancelTimer(w.timer);
    this.#awaiting.clear();
    for (const l of [...this.#links]) l.close('transport closed');
  }

  /** The channel limits given, over the browser's defaults where WebRTC is the runtime's own. */
  #channelLimits(): Partial<PeerChannelLimits> {
    return this.#o.wrtc
      ? (this.#o.channel ?? {})
      : { highWaterMark: BROWSER_HIGH_WATER_MARK, ...this.#o.channel };
  }

  #timeout(): number {
    return this.#o.connectTimeoutMs ?? 15_000;
  }

  #newSid(): string {
    return toHex(this.#ctx!.random.bytes(8));
  }

  /** Over the mesh when it has a route to the peer (no server needed), else the signaling server. */
  #pathTo(peerId: string): Path {
    return this.#ctx?.relay?.reaches(peerId) ? 'mesh' : 'server';
  }

  #sendSignal(to: string, msg: SignalMessage, path: Path): boolean {
    const json = JSON.stringify(msg);
    if (json.length > MAX_SIGNAL_BYTES) return false;
    const relay: MeshRelay | undefined = this.#ctx?.relay;
    if (path === 'mesh' && relay?.send(to, RELAY_TOPIC, utf8(json))) {
      this.stats.relayedSignals++;
      return true;
    }
    if (this.#o.signaling?.send(to, msg)) {
      this.stats.serverSignals++;
      return true;
    }
    return false;
  }

  #onSignal(from: string, raw: unknown, path: Path): void {
    const ctx = this.#ctx;
    if (!ctx || this.#closed || !NODE_ID.test(from) || from === ctx.identity.nodeId) return;
    const msg = parseSignal(raw);
    if (!msg) {
      this.stats.signalsRefused++;
      return;
    }
    const self = ctx.identity.nodeId;
    const session = this.#sessions.get(from);
    if (msg.k === 'dial-me') {
      if (self < from && !session && this.#mayStart(from)) this.#startSession(from, msg.sid, undefined, path);
      return;
    }
    if (session?.sid === msg.sid) {
      this.#signal(session, msg.d);
      return;
    }
    if (msg.d.type !== 'offer' || self < from) {
      this.#keepEarly(from, msg.sid, msg.d);
      return;
    }
    // A new offer from the (lower-id) peer: a fresh attempt replaces any older one, and
    // takes over its dial (else the dial would never end, blocking redials of the peer).
    if (!this.#mayStart(from)) return;
    if (session) this.#endSession(session, 'superseded by a new offer', false);
    const s = this.#startSession(from, msg.sid, session?.dialed, path);
    if (!s) return;
    this.#signal(s, msg.d);
    const early = this.#early.get(from);
    this.#dropEarly(from);
    const now = this.#now();
    for (const e of early ?? []) if (e.sid === msg.sid && now - e.at < EARLY_TTL_MS) this.#signal(s, e.data);
  }

  /**
   * Whether `from` may start one more session here: within the rate (PEER_STARTS_PER_S) and,
   * with a finite peerConnectionBudget, within its share of it (PEER_SHARE), counted.
   */
  #mayStart(from: string): boolean {
    const budget = this.#o.peerConnectionBudget;
    const finite = budget !== undefined && Number.isFinite(budget);
    const started = this.#startedBy.get(from) ?? 0;
    if (finite && started >= Math.max(PEER_SHARE_MIN, Math.floor(budget * PEER_SHARE))) return false;
    if (!this.#starts.take(from)) return false;
    if (finite) setBounded(this.#startedBy, from, started + 1, PEER_SHARES_KEPT);
    return true;
  }

  /** Hands a peer's signal to its session; one simple-peer rejects (malformed) ends the attempt. */
  #signal(session: Session, data: PeerSignal): void {
    if (this.#sessions.get(session.peerId) !== session) return;
    if (data.type === 'candidate' && ++session.candidates > MAX_CANDIDATES) {
      this.stats.signalsRefused++;
      return;
    }
    try {
      session.peer.signal(data);
    } catch (e) {
      this.#endSession(session, `bad signal (${(e as Error).message})`, true);
    }
  }

  #now(): number {
    return performance.now();
  }

  /**
   * Keeps a signal that overtook its offer (bounded, short-lived): at most EARLY_LIMIT per
   * peer, 256 peers and EARLY_BYTES in all, the peers heard from longest ago dropped first.
   */
  #keepEarly(from: string, sid: string, data: PeerSignal): void {
    const bytes = JSON.stringify(data).length;
    if (bytes > EARLY_BYTES / 16) return;
    const list = this.#early.get(from) ?? [];
    this.#dropEarly(from);
    const now = this.#now();
    const fresh = list.filter((e) => now - e.at < EARLY_TTL_MS).slice(-(EARLY_LIMIT - 1));
    fresh.push({ sid, data, at: now, bytes });
    let size = fresh.reduce((n, e) => n + e.bytes, 0);
    while (size > EARLY_BYTES) size -= fresh.shift()!.bytes;
    while (
      this.#early.size > 0 &&
      (this.#early.size >= 256 || this.stats.earlySignalBytes + size > EARLY_BYTES)
    )
      this.#dropEarly(this.#early.keys().next().value!);
    this.#early.set(from, fresh);
    this.stats.earlySignalBytes += size;
  }

  #dropEarly(from: string): void {
    for (const e of this.#early.get(from) ?? []) this.stats.earlySignalBytes -= e.bytes;
    this.#early.delete(from);
  }

  #startSession(peerId: string, sid: string, dialed: string | undefined, path: Path): Session | undefined {
    const ctx = this.#ctx!;
    const awaiting = this.#awaiting.get(peerId);
    if (awaiting) {
      ctx.scheduler.cancelTimer(awaiting.timer);
      this.#awaiting.delete(peerId);
      dialed ??= awaiting.address;
    }
    const budget = this.#o.peerConnectionBudget ?? Number.POSITIVE_INFINITY;
    if (this.#sessions.size >= (this.#o.maxPeerConnections ?? 64) || this.#created >= budget) {
      if (dialed)
        this.#events!.dialFailed(
          dialed,
          new TransportError('budget-exhausted', 'peer connection budget exhausted'),
        );
      return undefined;
    }
    const initiator = ctx.identity.nodeId < peerId;
    const created = this.#newPeer(peerId, initiator, dialed);
    if (!created) return undefined;
    const { peer, dgram } = created;
    this.#created++;
    this.stats.created++;
    const timer = ctx.scheduler.setTimer(this.#timeout(), () => {
      if (!session.connected) this.#endSession(session, 'connect timed out', true, 'timeout');
    });
    const session: Session = { peerId, sid, peer, timer, dialed, connected: false, path, candidates: 0 };
    this.#sessions.set(peerId, session);
    const filter = this.#o.candidateFilter;
    peer.on('signal', (d) => {
      const cand = d.candidate;
      if (cand && filter && !filter(cand.candidate ?? '')) return;
      this.#sendSignal(peerId, { k: 'sig', sid, d }, session.path);
    });
    peer.on('error', (e: Error & { code?: string }) => {
      if (e.code && LOCAL_FAILURES.has(e.code))
        this.#events?.error?.(e, `webrtc: negotiating with ${peerId}`);
      this.#endSession(session, `negotiation failed (${e.code ?? e.message})`, true);
    });
    peer.on('close', () => this.#endSession(session, 'closed', !session.connected));
    peer.on('connect', () => {
      if (this.#sessions.get(peerId) !== session) return;
      session.connected = true;
      this.stats.connected++;
      this.#handshake(
        session,
        new PeerChannel(peer, dgram, ctx.scheduler, this.#channelLimits(), this.#turns),
        initiator,
      );
    });
    return session;
  }

  /**
   * A simple-peer instance and its datagram channel, or undefined when this runtime cannot
   * make one: that failure is this node's, so it is reported as an error (and the dial fails).
   */
  #newPeer(
    peerId: string,
    initiator: boolean,
    dialed: string | undefined,
  ): { peer: SimplePeerAdapter; dgram: RTCDataChannel } | undefined {
    const failed = (error: unknown) => {
      this.stats.failed++;
      this.#events?.error?.(error, `webrtc: creating a peer connection to ${peerId}`);
      if (dialed)
        this.#events?.dialFailed(
          dialed,
          new TransportError('peer-connection', error instanceof Error ? error.message : String(error), {
            cause: error,
          }),
        );
    };
    let peer: SimplePeerAdapter | undefined;
    try {
      peer = SimplePeerAdapter.create(
        {
          initiator,
          iceServers: this.#o.iceServers ?? [],
          ...(this.#o.wrtc ? { wrtc: this.#o.wrtc } : {}),
        },
        failed,
      );
    } catch (e) {
      failed(e);
      return undefined;
    }
    if (!peer) return undefined;
    try {
      const dgram = peer.pc.createDataChannel('weftmesh-datagrams', {
        negotiated: true,
        id: 1,
        ordered: false,
        maxRetransmits: 0,
      });
      return { peer, dgram };
    } catch (e) {
      peer.destroy();
      failed(e);
      return undefined;
    }
  }

  #handshake(session: Session, channel: PeerChannel, initiator: boolean): void {
    const ctx = this.#ctx!;
    runHandshake(
      channel,
      ctx,
      initiator ? 'dialer' : 'acceptor',
      { transport: this.name, expectNodeId: session.peerId },
      (error, link) => {
        ctx.scheduler.cancelTimer(session.timer);
        if (this.#sessions.get(session.peerId) === session) this.#sessions.delete(session.peerId);
        if (error || !link) {
          this.stats.failed++;
          if (session.dialed)
            this.#events!.dialFailed(
              session.dialed,
              error ?? new HandshakeError('protocol', 'handshake failed'),
            );
          return;
        }
        for (const l of this.#links) if (l.closed) this.#links.delete(l);
        this.#links.add(link);
        this.#events!.link(link, session.dialed);
      },
    );
  }

  #endSession(
    session: Session,
    reason: string,
    failed: boolean,
    code: 'timeout' | 'connect-failed' = 'connect-failed',
  ): void {
    if (this.#sessions.get(session.peerId) !== session) return;
    this.#sessions.delete(session.peerId);
    this.#ctx?.scheduler.cancelTimer(session.timer);
    session.peer.destroy();
    if (failed) {
      this.stats.failed++;
      if (session.dialed)
        this.#events?.dialFailed(
          session.dialed,
          new TransportError(code, `webrtc to ${session.peerId}: ${reason}`),
        );
    }
  }
}
