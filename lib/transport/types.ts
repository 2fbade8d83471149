/**
 * The network seam. A concrete transport (memory, WebSocket, WebRTC) produces RawChannels;
 * the shared handshake (handshake.ts) turns one into an authenticated Link.
 */
import type { NodeIdentity } from '../identity/node-identity.ts';
import type { SignatureVerifier } from '../identity/verifier.ts';
import type { Random, Scheduler } from '../time/types.ts';

/**
 * Two delivery classes on every link: datagrams are unordered and may be lost or duplicated
 * (SWIM probes and acks, so they never wait behind bulk data); the stream is reliable and
 * ordered (state, chains, application data).
 */
export type DeliveryClass = 'datagram' | 'stream';

/** Channel-binding data of one connection, as each end sees it (e.g. DTLS fingerprints). */
export interface ChannelBinding {
  readonly local: Uint8Array;
  readonly remote: Uint8Array;
}

export interface RawChannelHandlers {
  frame(cls: DeliveryClass, frame: Uint8Array): void;
  close(reason: string): void;
}

/** An unauthenticated, bidirectional frame pipe to one remote endpoint. */
export interface RawChannel {
  readonly binding: ChannelBinding;
  /** Bytes accepted for the stream but not yet handed to the network. */
  readonly bufferedAmount: number;
  /** As Link.drained: the channel's own drain events, never a timer where the runtime has them. */
  drained(threshold: number): Promise<void>;
  /** Must be called before any frame can arrive (transports deliver asynchronously). */
  setHandlers(handlers: RawChannelHandlers): void;
  send(cls: DeliveryClass, frame: Uint8Array): void;
  close(reason?: string): void;
}

/** The authenticated peer at the other end of a link. */
export interface PeerInfo {
  readonly nodeId: string;
  readonly publicKey: Uint8Array;
  /**
   * The peer's run (hex of HandshakeConfig.boot) as it stated it, when it did: two links to
   * one peer with different runs mean the older reaches a process that is gone. Not signed:
   * it only decides which of two authenticated links to the same peer is kept.
   */
  readonly boot?: string;
}

export interface LinkHandlers {
  datagram(frame: Uint8Array): void;
  message(frame: Uint8Array): void;
  close(reason: string): void;
}

/** An ordered, reliable, mutually authenticated message pipe to one peer (plus datagrams). */
export interface Link {
  readonly peer: PeerInfo;
  /** Name of the transport that made it ('memory', 'websocket', 'webrtc'). */
  readonly transport: string;
  /** True on the side that dialled. */
  readonly initiator: boolean;
  readonly closed: boolean;
  /**
   * Stream bytes queued locally; callers stop sending above their high-water mark. Over
   * WebRTC it is an upper bound below 64 KiB and exact above (reading the data channel's own
   * figure is costly there: see lib/webrtc/peer-channel.ts); drained() is exact.
   */
  readonly bufferedAmount: number;
  /**
   * Resolves once `bufferedAmount` is at or below `threshold` bytes (default 0: everything
   * handed to the network), at once if it already is. Event-driven: each transport resolves it
   * from its own drain events (WebSocket send completions, the data channel's
   * `bufferedamountlow`), not by polling — except where the runtime offers no such event (see
   * the transports). Rejects with a TransportError, code `closed`, if the link is or becomes
   * closed first: what was queued will not be sent. Attach a rejection handler.
   */
  drained(threshold?: number): Promise<void>;
  /** Frames that arrive before this is called are held (bounded) and then delivered. */
  setHandlers(handlers: LinkHandlers): void;
  sendDatagram(frame: Uint8Array): void;
  send(frame: Uint8Array): void;
  close(reason?: string): void;
}

export interface TransportEvents {
  /** A link finished its handshake; `dialed` is the address for links this node dialled. */
  link(link: Link, dialed?: string): void;
  /** An outbound connect() did not produce a link. */
  dialFailed(address: string, error: Error): void;
  /**
   * Something failed here, not at the peer (e.g. a peer connection could not be created):
   * the node reports it as an `error` event instead of the failure passing silently.
   */
  error?(error: unknown, context: string): void;
  /**
   * The transport found node `nodeId` on its own, dialable at `address` (a tab heard on the
   * BroadcastChannel): the node may join or heal through it.
   */
  nearby?(nodeId: string, address: string): void;
}

export interface ConnectOptions {
  /** Refuse the link unless the peer proves this node id. */
  expectNodeId?: string;
}

export interface HandshakeConfig {
  identity: NodeIdentity;
  cluster: string;
  verifier: SignatureVerifier;
  scheduler: Scheduler;
  random: Random;
  /** Whole handshake deadline. Default 10,000 ms. */
  timeoutMs?: number;
  /** This node's membership token, presented to peers (clusters with token admission). */
  token?: Uint8Array;
  /** 8 random bytes per start of the node, told to peers (PeerInfo.boot). */
  boot?: Uint8Array;
  /** Admission policy: a refusal reason, or undefined to accept the authenticated peer (and the token it presented). */
  admit?: (peer: PeerInfo, token: Uint8Array | undefined) => string | undefined;
}

/** Small control payloads between nodes over the mesh itself (used for peer-assisted signaling). */
export interface MeshRelay {
  /** Whether the mesh has a route to `nodeId` (a link, a neighbour's link, or it is a reachable member). */
  reaches(nodeId: string): boolean;
  /** Sends to a node over a direct link or relayed through neighbours; false if there is no route. */
  send(to: string, topic: string, payload: Uint8Array): boolean;
  /** Receives what other nodes send to this one on `topic`. */
  subscribe(topic: string, handler: (from: string, payload: Uint8Array) => void): () => void;
}

/** What a transport needs from the node that owns it (its identity, cluster and environment). */
export interface TransportContext extends HandshakeConfig {
  relay?: MeshRelay;
}

export interface Transport {
  readonly name: string;
  /** Addresses other nodes can dial node `nodeId` at through this transport (advertised in its alive claim). */
  localAddresses(nodeId: string): string[];
  /** Whether this transport knows how to dial `address` (by its scheme). */
  canDial(address: string): boolean;
  /**
   * An address at which this transport reaches `nodeId` directly, found on its own (a tab
   * heard on the BroadcastChannel). The node dials it there rather than at any address the
   * member advertised, so one pair never holds two kinds of link. Optional.
   */
  nearbyAddress?(nodeId: string): string | undefined;
  /** The node an address names, for transports whose addresses name nodes (`webrtc:<id>`). Optional. */
  nodeIdOf?(address: string): string | undefined;
  /** Binds the transport to its node; called once by the node before any connect(). */
  start(ctx: TransportContext, events: TransportEvents): void;
  /** Start connecting; the outcome arrives as a `link` or `dialFailed` event. */
  connect(address: string, opts?: ConnectOptions): void;
  /** Closes every link and stops accepting. */
  close(): void;
}
