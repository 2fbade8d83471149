// A node that starts again after a freeze (MeshNode.freeze: its cores stopped, what it was sent
// dropped) missed everything over its links meanwhile: the accusations handed over at link-up
// both ways, the news, the links that closed. Soak seed 9,774: two nodes that had declared each
// other linked up while one was frozen, neither heard why, both reaped the other over a live
// link and refused the other's alive claim as a zombie's for the reap time. Soak seed 14,555: a
// node thawed after the others' declarations of a crashed member went out heard one of them and
// held the member Suspect for the longest Lifeguard timeout, its state entries a minute longer.
import { describe, expect, it } from 'vitest';
import { NodeIdentity } from '../../lib/identity/mod.ts';
import { interpretClaim, signClaim } from '../../lib/membership/claims.ts';
import { NodeState } from '../../lib/membership/node-state.ts';
import { Membership } from '../../lib/membership/swim.ts';
import { SeededRandom } from '../../lib/time/random.ts';
import { VirtualClock, VirtualScheduler } from '../../lib/time/virtual.ts';
import type { Message } from '../../lib/wire/messages.ts';

const INC = 1_000;
const SUSPECT_MS = 5_000;
const [accused, accuser, bystander] = [40, 41, 42].map((k) =>
  NodeIdentity.fromSecretKey(new Uint8Array(32).fill(k)),
) as [NodeIdentity, NodeIdentity, NodeIdentity];

/** A started node (not yet joined) and what it sends. */
function started() {
  const scheduler = new VirtualScheduler();
  const sent: Array<{ to: string; msg: Message }> = [];
  const m = new Membership({
    signer: NodeIdentity.fromSecretKey(new Uint8Array(32).fill(3)),
    env: { clock: new VirtualClock(scheduler), scheduler, random: new SeededRandom(3) },
    send: (to, _cls, msg) => sent.push({ to, msg }),
    event: () => {},
    incarnation: INC,
    heartbeat: { suspectTimeoutMs: SUSPECT_MS, dynamicSuspicion: { maxMultiplier: 4 } },
  });
  m.start();
  return { m, sent, scheduler };
}

/** A node that knows the three members and is linked to the bystander (and the accused). */
function node(linkAccused = true) {
  const t = started();
  t.m.bootstrap();
  t.m.applyClaims([accused, accuser, bystander].map((id) => signClaim(id, 'alive', { incarnation: INC })));
  if (linkAccused) t.m.linkUp(accused.nodeId);
  t.m.linkUp(bystander.nodeId);
  return t;
}

const declaration = () => signClaim(accuser, 'unreachable', { incarnation: INC, subject: accused.nodeId });

describe('a node that starts again after a freeze', () => {
  it('tells each linked member it holds down why, and catches up over a link', () => {
    const t = node();
    t.m.applyClaims([declaration()], bystander.nodeId);
    t.scheduler.runFor(SUSPECT_MS * 4);
    expect(t.m.stateOf(accused.nodeId)).toBe(NodeState.Unreachable);
    t.m.stop();
    t.sent.splice(0);
    t.m.start();
    const told = t.sent.filter((s) => s.to === accused.nodeId && s.msg.type === 'gossip');
    const claims = told.flatMap((s) => (s.msg.type === 'gossip' ? s.msg.g.map(interpretClaim) : []));
    expect(claims.map((c) => [c.kind, c.subject, c.incarnation])).toEqual([
      ['unreachable', accused.nodeId, INC],
    ]);
    // Its own accusation, if any, comes back in the exchange: it asks a neighbour at once.
    expect(t.sent.filter((s) => s.msg.type === 'digest')).toHaveLength(1);
  });

  it('a first start, with no link yet, sends nothing of the kind', () => {
    expect(started().sent).toEqual([]);
  });

  it('checks a member whose link closed unexpectedly while it was stopped, and suspects it if no witness reaches it', () => {
    const t = node();
    t.m.stop();
    t.m.linkDown(accused.nodeId, true);
    expect(t.sent.filter((s) => s.msg.type === 'ping-req')).toEqual([]);
    t.m.start();
    const asked = t.sent.filter((s) => s.msg.type === 'ping-req');
    expect(asked.map((s) => s.to)).toEqual([bystander.nodeId]);
    t.scheduler.runFor(1_500);
    expect(t.m.stateOf(accused.nodeId)).toBe(NodeState.Suspect);
    // Once: a second start checks nothing again, though it is Active and unlinked (it refuted).
    t.m.applyClaims([signClaim(accused, 'alive', { incarnation: INC + 1 })], bystander.nodeId);
    expect(t.m.stateOf(accused.nodeId)).toBe(NodeState.Active);
    t.m.stop();
    t.sent.splice(0);
    t.m.start();
    expect(t.sent.filter((s) => s.msg.type === 'ping-req')).toEqual([]);
  });

  it("a suspicion another member started is confirmed by this node's own failed check: declared sooner", () => {
    // Not linked to the accused once started (its link lost, or none): no probe of ours reaches it.
    const declaredAfter = (ownCheck: boolean) => {
      const t = node(ownCheck);
      t.m.stop();
      if (ownCheck) t.m.linkDown(accused.nodeId, true);
      t.m.start();
      // The catch-up brings the others' declaration: one accuser, the longest timeout.
      t.m.applyClaims([declaration()], bystander.nodeId);
      expect(t.m.stateOf(accused.nodeId)).toBe(NodeState.Suspect);
      let ms = 0;
      while (t.m.stateOf(accused.nodeId) === NodeState.Suspect && ms < SUSPECT_MS * 5) {
        t.scheduler.runFor(100);
        ms += 100;
      }
      expect(t.m.stateOf(accused.nodeId)).toBe(NodeState.Unreachable);
      return ms;
    };
    const alone = declaredAfter(false);
    expect(alone).toBeGreaterThanOrEqual(SUSPECT_MS * 4);
    // Two accusers of four members: Lifeguard's timeout falls to ~10.5 s of 5-20 s.
    const confirmed = declaredAfter(true);
    expect(confirmed).toBeLessThan(SUSPECT_MS * 2.5);
    expect(confirmed).toBeGreaterThan(SUSPECT_MS);
  });
});
