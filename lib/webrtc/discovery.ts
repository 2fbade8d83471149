/**
 * Finding the cluster through the signaling room: a node joins through the peers the room
 * lists, and dials any newcomer it does not know yet — so nodes that started at the same
 * instant (each seeing an empty room, each starting a cluster) find and merge each other.
 */
import type { SignalingClient } from '../../signaling/client.ts';
import type { MeshNode } from '../node/mesh-node.ts';

export function joinThroughSignaling(node: MeshNode, room: SignalingClient): () => void {
  const address = (id: string) => `webrtc:${id}`;
  const offJoined = room.on('joined', ({ peers }) => {
    void node.join(peers.map(address));
  });
  const offPeer = room.on('peer-joined', ({ id }) => {
    if (node.member(id) === undefined) node.connect(address(id), id);
  });
  return () => {
    offJoined();
    offPeer();
  };
}
