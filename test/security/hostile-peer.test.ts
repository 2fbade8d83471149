// The hostile-peer harness (test/support/hostile.ts) against a real cluster: every message
// type at the edges of its ranges, from an authenticated member, over both channels.
import { describe, expect, it } from 'vitest';
import { NodeState } from '../../lib/membership/node-state.ts';
import { registry } from '../../lib/wire/messages.ts';
import { cluster, converged, runUntil } from '../sim/helpers.ts';
import { type Edge, edgeClaims, edgeEntries, edgeMessages, hostileMember } from '../support/hostile.ts';

describe('a hostile member sending every message type at the edges of its ranges', () => {
  for (const edge of ['min', 'max', 'mixed'] as Edge[]) {
    it(`${edge} edges: no node throws, the victim stays a member, and the cluster is whole afterwards`, async () => {
      const c = await cluster({ nodes: 4, maxLinks: 8, minLinks: 8 });
      runUntil(c, () => converged(c), 30_000);
      expect(converged(c)).toBe(true);
      const victim = 1;
      const { peer, identity } = hostileMember(c, victim);
      // Linked to the victim (others may have dialled the new member too: it attacks them all).
      expect(peer.links.map((l) => l.peer.nodeId)).toContain(c.nodes[victim]!.identity.nodeId);
      const targets = [victim, 2].map((i) => ({
        id: c.nodes[i]!.identity.nodeId,
        incarnation: c.nodes[i]!.node.incarnation,
      }));
      const lists = {
        claims: edgeClaims(identity, targets),
        entries: edgeEntries(identity, c.nodes[victim]!.host.env.clock.wallNow()),
      };
      const before = c.nodes.map((n) => n.node.incarnation);
      const sent = edgeMessages(edge, 1, lists);
      // Every type but those that cannot fit a frame at this edge is sent.
      expect(sent.length).toBeGreaterThanOrEqual(Object.keys(registry).length - 3);
      for (let round = 0; round < 3; round++) {
        for (const { frame } of sent) {
          for (const link of peer.links) {
            link.send(frame);
            link.sendDatagram(frame);
          }
          c.runFor(20);
        }
      }
      // A throw out of any node would have ended runFor above; now the cluster must heal.
      c.runFor(15_000);
      runUntil(c, () => converged(c), 60_000);
      expect(converged(c)).toBe(true);
      for (const [i, n] of c.nodes.entries()) {
        expect(n.node.state).toBe(NodeState.Active);
        // Refuting costs a few incarnations at most, never a jump the attacker chose.
        expect(n.node.incarnation - before[i]!).toBeLessThanOrEqual(8);
      }
      expect(c.nodes[victim]!.node.metrics().framesRejected).toBeGreaterThan(0);
    });
  }
});
