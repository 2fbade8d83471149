// A member whose links close gracefully is probed by nobody: a graceful close is no sign of
// failure. Seed sweep, seed 8: churn closed both links of a node (each end unaware of the
// other's close) and the node crashed 117 ms later, before it had dialled another; only the
// ghost check found it, 72 s later. Now an end of such a close looks again a few seconds
// later and dials the member if, as far as it can tell, no link to it is left.
import { describe, expect, it } from 'vitest';
import { NodeIdentity } from '../../lib/identity/mod.ts';
import { signClaim } from '../../lib/membership/claims.ts';
import { NodeState } from '../../lib/membership/node-state.ts';
import { Membership } from '../../lib/membership/swim.ts';
import { SeededRandom } from '../../lib/time/random.ts';
import { VirtualClock, VirtualScheduler } from '../../lib/time/virtual.ts';
import { fromHex } from '../../lib/util/bytes.ts';
import type { Message } from '../../lib/wire/messages.ts';

const INC = 1_000;
const [member, other, far, farther] = [40, 41, 42, 43].map((k) =>
  NodeIdentity.fromSecretKey(new Uint8Array(32).fill(k)),
) as [NodeIdentity, NodeIdentity, NodeIdentity, NodeIdentity];
const MEMBER_AT = ['mem:member'];

function node() {
  const scheduler = new VirtualScheduler();
  const sent: Array<{ to: string; msg: Message }> = [];
  const self = NodeIdentity.fromSecretKey(new Uint8Array(32).fill(3));
  const m = new Membership({
    signer: self,
    env: { clock: new VirtualClock(scheduler), scheduler, random: new SeededRandom(3) },
    send: (to, _cls, msg) => sent.push({ to, msg }),
    event: () => {},
    incarnation: INC,
  });
  m.start();
  m.bootstrap();
  m.applyClaims(
    [member, other, far, farther].map((id) =>
      signClaim(id, 'alive', { incarnation: INC, addrs: id === member ? MEMBER_AT : [] }),
    ),
  );
  /** `from` (linked) reports its links. */
  const reports = (from: NodeIdentity, links: NodeIdentity[]) =>
    m.onMessage(from.nodeId, 'stream', { type: 'neighbours', ids: links.map((l) => fromHex(l.nodeId)) });
  return { m, scheduler, sent, self, reports };
}

/** A member linked to this node, which reported `theirs` as its links, then let go gracefully. */
function closedGently(theirs: (self: NodeIdentity) => NodeIdentity[]) {
  const t = node();
  t.m.linkUp(member.nodeId);
  t.reports(member, theirs(t.self));
  t.m.linkDown(member.nodeId, false);
  return t;
}

describe('a member whose links closed gracefully', () => {
  it('is dialled a few seconds later when no link to it is left, and suspected at once if the dial fails', () => {
    const t = closedGently((self) => [self]);
    t.scheduler.runFor(2_900);
    expect(t.m.memberToCheck()).toBeUndefined(); // time to dial another link first
    t.scheduler.runFor(200);
    expect(t.m.memberToCheck()).toEqual({ nodeId: member.nodeId, addrs: MEMBER_AT, incarnation: INC });
    expect(t.m.metrics.unlinkedChecked).toBe(1);
    t.m.checkDialFailed(member.nodeId);
    t.scheduler.runFor(1_100); // a probe period: no witness to ask, no ack
    expect(t.m.stateOf(member.nodeId)).toBe(NodeState.Suspect);
  });

  it('is dialled when its other link went to a node this one cannot see (both ends let go at once)', () => {
    const t = closedGently((self) => [self, far]);
    t.scheduler.runFor(3_100);
    expect(t.m.memberToCheck()?.nodeId).toBe(member.nodeId);
  });

  it('is dialled when its other link went to a neighbour whose report no longer has it', () => {
    const t = closedGently((self) => [self, other, far]);
    t.m.linkUp(other.nodeId);
    t.reports(other, [t.self]);
    t.scheduler.runFor(3_100);
    expect(t.m.memberToCheck()?.nodeId).toBe(member.nodeId);
  });

  it('is left alone while a neighbour reports a link to it', () => {
    const t = closedGently((self) => [self]);
    t.m.linkUp(other.nodeId);
    t.reports(other, [t.self, member]);
    t.scheduler.runFor(3_100);
    expect(t.m.memberToCheck()).toBeUndefined();
    expect(t.m.metrics.unlinkedChecked).toBe(0);
  });

  it('is left alone with two or more links this node cannot see (those nodes probe it)', () => {
    const t = closedGently((self) => [self, far, farther]);
    t.scheduler.runFor(3_100);
    expect(t.m.memberToCheck()).toBeUndefined();
  });

  it('is left alone after a handshake with it since the close, or a link to it again', () => {
    const shook = closedGently((self) => [self]);
    shook.scheduler.runFor(1_000);
    shook.m.vouch(member.nodeId);
    shook.scheduler.runFor(2_100);
    expect(shook.m.memberToCheck()).toBeUndefined();
    const relinked = closedGently((self) => [self]);
    relinked.m.linkUp(member.nodeId);
    relinked.scheduler.runFor(3_100);
    expect(relinked.m.memberToCheck()).toBeUndefined();
  });

  it('is left alone when it never reported its links (nothing says it had few)', () => {
    const t = node();
    t.m.linkUp(member.nodeId);
    t.m.linkDown(member.nodeId, false);
    t.scheduler.runFor(3_100);
    expect(t.m.memberToCheck()).toBeUndefined();
  });

  it('a failed dial that no check asked for suspects nobody', () => {
    const t = closedGently((self) => [self]);
    t.m.checkDialFailed(member.nodeId); // before the check: a dial of link upkeep, say
    t.scheduler.runFor(1_100);
    expect(t.m.stateOf(member.nodeId)).toBe(NodeState.Active);
    expect(t.sent.filter((s) => s.msg.type === 'ping-req')).toEqual([]);
  });
});
