/**
 * Finding the cluster through the signaling room: a node joins through the peers the room
 * lists, and dials any newcomer it does not know yet — so nodes that started at the same
 * instant (each seeing an empty room, each starting a cluster) find and merge each other.
 * Serves every transport, not only WebRTC: WebSocket nodes dial the listeners the room lists
 * (this module imports no WebRTC code).
 */
import type { SignalingClient } from '../../signaling/client.ts';
import type { MeshNode } from '../node/mesh-node.ts';
import { shuffle } from '../time/random.ts';
import { RateLimiter } from '../util/rate-limit.ts';

/**
 * Listed peers a node joins through (a random sample): one answer gets it in, membership
 * finds the rest, and a large room — or a hostile server listing addresses — brings no dial storm.
 */
const MAX_JOIN_PEERS = 8;
/** Newcomers the room announces that are dialled, per second and in a burst; the rest dial us or are found through the cluster. */
const ANNOUNCED_DIALS = { perSecond: 5, burst: 20 };

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
 * Bounded whatever the room says: it joins through at most 8 listed peers (a random sample)
 * and dials at most 5 announced newcomers a second (bursts of 20).
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
  const joinListed = (peers: string[]) => {
    const listed = peers.flatMap((id) => addressOf(id, room.addressesOf(id)) ?? []);
    void node.join([...seeds, ...shuffle(listed, node.env.random).slice(0, MAX_JOIN_PEERS)]);
  };
  const announced = new RateLimiter(ANNOUNCED_DIALS.perSecond, ANNOUNCED_DIALS.burst, () =>
    node.env.clock.now(),
  );
  const offJoined = room.on('joined', ({ peers }) => joinListed(peers));
  const offPeer = room.on('peer-joined', ({ id, addrs }) => {
    const address = addressOf(id, addrs);
    if (address !== undefined && node.member(id) === undefined && announced.take('room'))
      node.connect(address, id);
  });
  // A room joined before this was called has nothing more to announce: join through it now.
  if (room.state === 'joined') joinListed(room.peers());
  else if (seeds.length > 0) void node.join(seeds);
  return () => {
    offJoined();
    offPeer();
  };
}
