/**
 * What several signaling servers share so that they serve the same rooms: room membership
 * with the global caps, and a path for signals to peers connected elsewhere. The server core
 * (server.ts) works without one (one process, rooms in memory); the Redis backplane
 * (redis-backplane.ts, Node and Deno entries only) is the one implementation shipped.
 * This file is portable and imports no client library, so browser bundles never pull one in.
 */
import type { SignalingErrorCode } from './protocol.ts';

/** A peer of a room connected to another instance. */
export interface RemotePeer {
  /** The instance it is connected to. */
  readonly instance: string;
  /** The WebSocket addresses it advertised. */
  readonly addrs: readonly string[];
}

/** How the backplane reports what happened on other instances to its server. */
export interface BackplaneSink {
  /** `id` is now in `room` on another instance (new, or moved there). */
  remoteJoined(room: string, id: string, addrs: readonly string[]): void;
  /** `id` left `room` on another instance (closed, or its instance died). */
  remoteLeft(room: string, id: string): void;
  /** A signal from `from` (on another instance) to the local peer `to`. */
  deliver(room: string, from: string, to: string, data: unknown): void;
  /** `id` joined `room` on another instance while connected here: this connection is the older one. */
  replaced(room: string, id: string): void;
}

/** The backplane's verdict on a join: admitted, or refused by a cap that spans the instances. */
export type JoinVerdict = { ok: true } | { ok: false; code: SignalingErrorCode; message: string };

/** Global caps, enforced across instances (the server passes its SignalingLimits). */
export interface BackplaneCaps {
  maxPeersPerRoom: number;
  maxRooms: number;
  maxConnectionsPerSource: number;
  /** Joins per second from one source, across instances. */
  joinsPerSecondPerSource: number;
  /** Largest client frame: bounds the signals other instances route here. */
  maxMessageBytes: number;
}

export interface BackplaneHealth {
  /** `up`: connected, subscribed and registered; `down`: rooms are served from this instance only. */
  state: 'connecting' | 'up' | 'down' | 'closed';
  instance: string;
  /** Since when in this state (ms since the Unix epoch). */
  since: number;
  outages: number;
  lastError?: string;
  /** Peers of other instances this one mirrors, in rooms it has peers in. */
  remotePeers: number;
  /** Signals sent to / received from other instances. */
  routedOut: number;
  routedIn: number;
  /** Frames from the backplane dropped as malformed or out of place, by reason. */
  dropped: Record<string, number>;
  /**
   * Room listings read from the backplane (up to maxPeersPerRoom entries each): a room new
   * here once a join in it is admitted (a refused one reads nothing), then at reconciliations
   * and recoveries.
   */
  roomReads: number;
}

export interface Backplane {
  /** Called once by the server that owns it. */
  start(sink: BackplaneSink, caps: BackplaneCaps): void;
  /**
   * Registers the local peer `id` in `room` (within the global caps) and makes sure the
   * room's remote peers are known (remote()). While the backplane is down, admits locally
   * and registers on reconnection.
   */
  join(room: string, id: string, addrs: readonly string[], source: string | undefined): Promise<JoinVerdict>;
  /** The local peer `id` left `room` (not called for one replaced by another instance). */
  leave(room: string, id: string, source: string | undefined): void;
  /** Peers of `room` on other instances. */
  remote(room: string): ReadonlyMap<string, RemotePeer>;
  /** Sends a signal to the remote peer `to`; `failed` is called when it cannot be delivered. */
  route(room: string, from: string, to: string, data: unknown, failed: (why: string) => void): void;
  health(): BackplaneHealth;
  close(): Promise<void>;
}
