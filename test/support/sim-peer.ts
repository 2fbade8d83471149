/** A simulated host with an identity, a started transport and everything it received, for tests. */
import { CachedVerifier, NodeIdentity, strictVerifier } from '../../lib/identity/mod.ts';
import type { SimHost } from '../../lib/sim/host.ts';
import type { SimNetwork } from '../../lib/sim/network.ts';
import type { SimTransport } from '../../lib/sim/transport.ts';
import type { Link } from '../../lib/transport/types.ts';

export const sharedVerifier = new CachedVerifier(strictVerifier);

export interface Received {
  from: string;
  cls: 'datagram' | 'stream';
  at: number;
  frame: Uint8Array;
}

export interface SimPeer {
  host: SimHost;
  identity: NodeIdentity;
  transport: SimTransport;
  links: Link[];
  closed: Array<{ peer: string; reason: string; at: number }>;
  failures: Error[];
  received: Received[];
}

export function startPeer(
  net: SimNetwork,
  host: SimHost,
  cluster = 'test',
  identity?: NodeIdentity,
  token?: Uint8Array,
): SimPeer {
  const id = identity ?? NodeIdentity.fromSecretKey(host.env.random.bytes(32));
  const transport = host.transport();
  const peer: SimPeer = { host, identity: id, transport, links: [], closed: [], failures: [], received: [] };
  const env = host.env;
  transport.start(
    {
      identity: id,
      cluster,
      verifier: sharedVerifier,
      scheduler: env.scheduler,
      random: env.random,
      ...(token ? { token } : {}),
    },
    {
      link(link) {
        peer.links.push(link);
        const from = link.peer.nodeId;
        link.setHandlers({
          datagram: (frame) => peer.received.push({ from, cls: 'datagram', at: net.now, frame }),
          message: (frame) => peer.received.push({ from, cls: 'stream', at: net.now, frame }),
          close: (reason) => peer.closed.push({ peer: from, reason, at: net.now }),
        });
      },
      dialFailed: (_address, error) => peer.failures.push(error),
    },
  );
  return peer;
}

export function simPeer(net: SimNetwork, cluster = 'test'): SimPeer {
  return startPeer(net, net.addHost(), cluster);
}
