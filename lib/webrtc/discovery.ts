/**
 * Finding the cluster through the signaling room: a node joins through the peers the room
 * lists, and dials any newcomer that is still not a member a second after the room announced
 * it — so nodes that each saw an empty room (each starting a cluster) find and merge each other.
 * Serves every transport, not only WebRTC: WebSocket nodes dial the listeners the room lists
 * (this module imports no WebRTC code).
 */
import type { SignalingClient } from '../../signaling/client.ts';
import { NodeState } from '../membership/node-state.ts';
import { MeshNodeError } from '../node/errors.ts';
import type { MeshNode } from '../node/mesh-node.ts';
import { shuffle } from '../time/random.ts';
import type { TimerId } from '../time/types.ts';
import { RateLimiter } from '../util/rate-limit.ts';

/**
 * Listed peers a node joins through (a random sample): one answer gets it in, membership
 * finds the rest, and a large room — or a hostile server listing addresses — brings no dial storm.
 */
const MAX_JOIN_PEERS = 8;
/**
 * Of those, the ones dialled at once; the rest only if the node is still Joining
 * JOIN_FALLBACK_MS later. Every link is a WebRTC connection whose setup costs CPU on both
 * ends: 8 Node processes started together, each dialling all 7 others, set up 7 connections
 * per process at once and took 0.5–1.5 s per link (measured); one answer is enough to join.
 */
const FIRST_JOIN_DIALS = 2;
const JOIN_FALLBACK_MS = 1_000;
/**
 * An announced newcomer joins through the peers its room listed (this node among them), so it
 * is dialled only if it is still not a member this long after the announcement: the case of two
 * nodes that each saw an empty room (instances of a scaled-out server), or a newcomer that
 * cannot dial anyone listed. Dialling at once made every member dial every newcomer while it
 * dialled them: crossed connections, set up in parallel, on the newcomer's critical path.
 */
const ANNOUNCED_GRACE_MS = 1_000;
/** Newcomers the room announces that are dialled, per second and in a burst; the rest dial us or are found through the cluster. */
const ANNOUNCED_DIALS = { perSecond: 5, burst: 20 };
/** Announced newcomers remembered during their grace period; a room announcing more is not followed further. */
const MAX_WAITING = 256;

export interface SignalingJoinOptions {
  /**
   * Join through these addresses as well (e.g. `weftmesh node --seed`): dialled at once, so
   * they are tried while the signaling server is unreachable, and with them the node never
   * starts a cluster of its own when the room is empty.
   */
  seeds?: string[];
}

/**
 * Joins `node` (started) through the peers of the signaling room `room`, and keeps dialling
 * newcomers; returns a function that stops. A peer is dialled at the first WebSocket address
 * it advertised (SignalingClientOptions.advertise) that one of this node's transports can
 * dial, else over WebRTC through the room (`webrtc:<id>`) if this node has that transport; a
 * peer it can reach neither way is left to the others (it dials us, or we learn it through
 * the cluster). The addresses only say where to knock: the link handshake proves who answers.
 * Bounded whatever the room says: it joins through at most 8 listed peers (a random sample:
 * 2 at once, the others if it is still Joining a second later) and dials at most 5 announced
 * newcomers a second (bursts of 20), each only if it is not a member a second after its
 * announcement.
 */
export function joinThroughSignaling(
  node: MeshNode,
  room: SignalingClient,
  opts: SignalingJoinOptions = {},
): () => void {
  const seeds = opts.seeds ?? [];
  const addressOf = (id: string, advertised: readonly string[]): string | undefined => {
    const ws = advertised.find((a) => node.canDial(a));
    if (ws !== undefined) return ws;
    const rtc = `webrtc:${id}`;
    return node.canDial(rtc) ? rtc : undefined;
  };
  let fallback: TimerId | undefined;
  const joinListed = (peers: string[]) => {
    const listed = peers.flatMap((id) => addressOf(id, room.addressesOf(id)) ?? []);
    const sample = shuffle(listed, node.env.random).slice(0, MAX_JOIN_PEERS);
    void node.join([...seeds, ...sample.slice(0, FIRST_JOIN_DIALS)]);
    if (fallback !== undefined) node.env.scheduler.cancelTimer(fallback);
    fallback = undefined;
    if (sample.length > FIRST_JOIN_DIALS)
      fallback = node.env.scheduler.setTimer(JOIN_FALLBACK_MS, () => {
        fallback = undefined;
        if (node.state === NodeState.Joining) void node.join([...seeds, ...sample]);
      });
  };
  const announced = new RateLimiter(ANNOUNCED_DIALS.perSecond, ANNOUNCED_DIALS.burst, () =>
    node.env.clock.now(),
  );
  /** Announced newcomers waiting out ANNOUNCED_GRACE_MS (bounded: the rate limit drops the rest later). */
  const waiting = new Map<string, TimerId>();
  const offJoined = room.on('joined', ({ peers }) => joinListed(peers));
  const offPeer = room.on('peer-joined', ({ id, addrs }) => {
    const address = addressOf(id, addrs);
    if (address === undefined || waiting.has(id) || waiting.size >= MAX_WAITING) return;
    const timer = node.env.scheduler.setTimer(ANNOUNCED_GRACE_MS, () => {
      waiting.delete(id);
      if (node.member(id) !== undefined || !announced.take('room')) return;
      try {
        node.connect(address, id);
      } catch (e) {
        // Closed meanwhile (close() without calling the returned stop function): nothing to dial.
        if (!(e instanceof MeshNodeError && e.code === 'closed')) throw e;
      }
    });
    waiting.set(id, timer);
  });
  // A room joined before this was called has nothing more to announce: join through it now.
  if (room.state === 'joined') joinListed(room.peers());
  else if (seeds.length > 0) void node.join(seeds);
  return () => {
    offJoined();
    offPeer();
    if (fallback !== undefined) node.env.scheduler.cancelTimer(fallback);
    for (const timer of waiting.values()) node.env.scheduler.cancelTimer(timer);
    waiting.clear();
  };
}
