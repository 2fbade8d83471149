// What a node missed across a partition that it did not spend alone. Soak seed 26,562: two
// nodes cut off together kept their link, so neither caught up at the heal as an isolated
// node does; they held a crashed member at the incarnation it had before it refuted, took its
// later declaration only at a periodic exchange 10 s on, and dropped its state entries 20 s
// after every other replica. Soak seed 26,218: a restarted node heard a declaration of a
// member it did not know yet, then took that member from its own link; the declarers held it
// down and said nothing more, the node held it Active, and the member never heard why.
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
const PUSH_PULL_MS = 30_000;
const REAP_MS = 60_000;
const [member, accuser, bystander, other] = [50, 51, 52, 53].map((k) =>
  NodeIdentity.fromSecretKey(new Uint8Array(32).fill(k)),
) as [NodeIdentity, NodeIdentity, NodeIdentity, NodeIdentity];

const self = NodeIdentity.fromSecretKey(new Uint8Array(32).fill(4));

/** A joined node that knows `known` and is linked to the bystander. */
function node(known: NodeIdentity[]) {
  const scheduler = new VirtualScheduler();
  const sent: Array<{ to: string; msg: Message }> = [];
  const m = new Membership({
    signer: self,
    env: { clock: new VirtualClock(scheduler), scheduler, random: new SeededRandom(4) },
    send: (to, _cls, msg) => sent.push({ to, msg }),
    event: () => {},
    incarnation: INC,
    heartbeat: { suspectTimeoutMs: SUSPECT_MS, pushPullIntervalMs: PUSH_PULL_MS, reapAfterMs: REAP_MS },
  });
  m.start();
  m.bootstrap();
  m.applyClaims(known.map((id) => signClaim(id, 'alive', { incarnation: INC })));
  m.linkUp(bystander.nodeId);
  return { m, sent, scheduler };
}

const declaration = () => signClaim(accuser, 'unreachable', { incarnation: INC, subject: member.nodeId });
const digestsTo = (t: ReturnType<typeof node>, id: string) =>
  t.sent.filter((s) => s.to === id && s.msg.type === 'digest');
const toldTo = (t: ReturnType<typeof node>, id: string) =>
  t.sent
    .filter((s) => s.to === id && s.msg.type === 'gossip')
    .flatMap((s) => (s.msg.type === 'gossip' ? s.msg.g.map(interpretClaim) : []))
    .map((c) => [c.kind, c.subject, c.signer, c.incarnation]);

describe('a member taken back from Unreachable while not linked here', () => {
  /** The member declared (our timer ran out), then its refutation relayed by the bystander. */
  function returned() {
    const t = node([member, accuser, bystander, other]);
    t.m.applyClaims([declaration()], bystander.nodeId);
    t.scheduler.runFor(SUSPECT_MS * 4);
    expect(t.m.stateOf(member.nodeId)).toBe(NodeState.Unreachable);
    t.m.applyClaims([signClaim(member, 'alive', { incarnation: INC + 1 })], bystander.nodeId);
    expect(t.m.stateOf(member.nodeId)).toBe(NodeState.Active);
    return t;
  }

  /** Another member suspected this node (it could not reach it either): it refutes. */
  function doubted(t: ReturnType<typeof node>, incarnation = INC) {
    const before = t.m.incarnation;
    t.m.applyClaims([signClaim(accuser, 'suspect', { incarnation, subject: self.nodeId })], bystander.nodeId);
    expect(t.m.incarnation).toBe(before + 1);
  }

  it('gets a digest when its link comes up if this node was doubted too: each side missed what the other gossiped', () => {
    const t = returned();
    doubted(t);
    t.m.linkUp(member.nodeId);
    expect(digestsTo(t, member.nodeId)).toHaveLength(1);
  });

  it('or as this node refutes, if its link came up first', () => {
    const t = returned();
    t.m.linkUp(member.nodeId);
    expect(digestsTo(t, member.nodeId)).toEqual([]);
    doubted(t);
    expect(digestsTo(t, member.nodeId)).toHaveLength(1);
  });

  it('gets none if this node was not doubted (a member back from a restart: its neighbours missed nothing)', () => {
    const t = returned();
    t.m.linkUp(member.nodeId);
    expect(digestsTo(t, member.nodeId)).toEqual([]);
  });

  it('once per return: a second link to it, or a member never doubted, starts nothing', () => {
    const t = returned();
    doubted(t);
    t.m.linkUp(member.nodeId);
    t.m.linkDown(member.nodeId);
    t.m.linkUp(member.nodeId);
    t.m.linkUp(other.nodeId);
    expect(digestsTo(t, member.nodeId)).toHaveLength(1);
    expect(digestsTo(t, other.nodeId)).toEqual([]);
  });

  it('not once a periodic exchange would have come (pushPullIntervalMs after the return, or after the refutation)', () => {
    const late = returned();
    late.scheduler.runFor(PUSH_PULL_MS);
    doubted(late);
    late.m.linkUp(member.nodeId);
    expect(digestsTo(late, member.nodeId)).toEqual([]);

    const early = node([member, accuser, bystander, other]);
    doubted(early);
    early.m.applyClaims([declaration()], bystander.nodeId);
    early.scheduler.runFor(SUSPECT_MS * 4);
    early.m.applyClaims([signClaim(member, 'alive', { incarnation: INC + 1 })], bystander.nodeId);
    expect(early.m.stateOf(member.nodeId)).toBe(NodeState.Active);
    early.scheduler.runFor(PUSH_PULL_MS - SUSPECT_MS * 4);
    early.m.linkUp(member.nodeId);
    expect(digestsTo(early, member.nodeId)).toEqual([]);
  });
});

describe('a declaration of a member unknown here, heard before the member', () => {
  it('is weighed when the member is admitted: it turns Suspect and is told why over its link', () => {
    const t = node([accuser, bystander]);
    t.m.applyClaims([declaration()], bystander.nodeId);
    expect(t.m.stateOf(member.nodeId)).toBeUndefined();
    t.m.linkUp(member.nodeId);
    t.m.applyClaims([signClaim(member, 'alive', { incarnation: INC })], member.nodeId);
    expect(t.m.stateOf(member.nodeId)).toBe(NodeState.Suspect);
    expect(toldTo(t, member.nodeId)).toEqual([['unreachable', member.nodeId, accuser.nodeId, INC]]);
  });

  it('one the member outgrew: it stays Active, and the peer that passed it gets its newer claim', () => {
    const t = node([accuser, bystander]);
    t.m.applyClaims([declaration()], bystander.nodeId);
    t.m.linkUp(member.nodeId);
    t.m.applyClaims([signClaim(member, 'alive', { incarnation: INC + 1 })], member.nodeId);
    expect(t.m.stateOf(member.nodeId)).toBe(NodeState.Active);
    expect(toldTo(t, member.nodeId)).toEqual([]);
    expect(toldTo(t, bystander.nodeId)).toContainEqual(['alive', member.nodeId, member.nodeId, INC + 1]);
  });

  it('one heard reapAfterMs ago or more says nothing', () => {
    const t = node([accuser, bystander]);
    t.m.applyClaims([declaration()], bystander.nodeId);
    t.scheduler.runFor(REAP_MS);
    t.m.linkUp(member.nodeId);
    t.m.applyClaims([signClaim(member, 'alive', { incarnation: INC })], member.nodeId);
    expect(t.m.stateOf(member.nodeId)).toBe(NodeState.Active);
    expect(toldTo(t, member.nodeId)).toEqual([]);
  });
});
