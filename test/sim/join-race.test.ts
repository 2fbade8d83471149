// A joiner and a member dialling each other at once (signaling discovery does it: the
// newcomer dials the peers the room lists while they dial the newcomer it announced). One
// of the two links replaces the other without a link-up; the join exchange that was in
// flight on the replaced link is lost, and the joiner used to stay Joining for good.
import { describe, expect, it } from 'vitest';
import { NodeIdentity } from '../../lib/identity/node-identity.ts';
import { strictVerifier } from '../../lib/identity/verifier.ts';
import { MeshNode } from '../../lib/node/mesh-node.ts';
import { SimNetwork } from '../../lib/sim/network.ts';

async function simNode(net: SimNetwork) {
  const host = net.addHost();
  const node = new MeshNode({
    identity: NodeIdentity.fromSecretKey(host.env.random.bytes(32)),
    cluster: 'sim',
    transport: host.transport(),
    env: host.env,
    verifier: strictVerifier,
  });
  node.on('stranded', () => {});
  await node.start();
  return { host, node };
}

describe('joining over a link that replaced another', () => {
  it('a joiner and its seed dialling each other at once: the joiner becomes Active, whichever link survives', async () => {
    const outcomes: string[] = [];
    // Seeds picked so that both orders of node ids (which link survives) occur.
    for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
      const net = new SimNetwork({ seed, latency: { meanMs: 20 } });
      const member = await simNode(net);
      const joiner = await simNode(net);
      void member.node.join([]);
      net.runFor(100);
      void joiner.node.join([member.host.url]);
      member.node.connect(joiner.host.url, joiner.node.nodeId);
      net.runFor(5_000);
      outcomes.push(
        `${member.node.nodeId < joiner.node.nodeId ? 'member' : 'joiner'} lower: ${joiner.node.state}`,
      );
      member.node.close();
      joiner.node.close();
    }
    expect(new Set(outcomes.map((o) => o.split(':')[0]))).toEqual(new Set(['member lower', 'joiner lower']));
    expect(outcomes.filter((o) => !o.endsWith('Active'))).toEqual([]);
  });
});
