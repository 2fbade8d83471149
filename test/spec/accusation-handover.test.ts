// A member can refute only an accusation that reaches it. A node that takes an accusation of
// a member it holds a link to hands it over at once on that link's ordered stream, instead of
// leaving it to a probe's piggyback (Lifeguard's buddy system), which loss or a late place in
// the probe order can delay past the suspicion's end (seed sweep: nodes linked to a live
// member declared it Unreachable without it ever hearing why).
import { describe, expect, it } from 'vitest';
import { NodeIdentity } from '../../lib/identity/mod.ts';
import { interpretClaim, signClaim } from '../../lib/membership/claims.ts';
import { NodeState } from '../../lib/membership/node-state.ts';
import { Membership, type MembershipEvent } from '../../lib/membership/swim.ts';
import { SeededRandom } from '../../lib/time/random.ts';
import { VirtualClock, VirtualScheduler } from '../../lib/time/virtual.ts';
import { equalBytes, fromHex } from '../../lib/util/bytes.ts';
import type { Message } from '../../lib/wire/messages.ts';

const INC = 1_000;
const [accused, accuser, bystander] = [20, 21, 22].map((k) =>
  NodeIdentity.fromSecretKey(new Uint8Array(32).fill(k)),
) as [NodeIdentity, NodeIdentity, NodeIdentity];

function node(treeNews = false) {
  const scheduler = new VirtualScheduler();
  const sent: Array<{ to: string; cls: string; msg: Message }> = [];
  const events: MembershipEvent[] = [];
  const m = new Membership({
    signer: NodeIdentity.fromSecretKey(new Uint8Array(32).fill(1)),
    env: { clock: new VirtualClock(scheduler), scheduler, random: new SeededRandom(1) },
    send: (to, cls, msg) => sent.push({ to, cls, msg }),
    event: (e) => events.push(e),
    incarnation: INC,
    treeNews,
  });
  m.start();
  m.bootstrap();
  m.applyClaims([accused, accuser, bystander].map((id) => signClaim(id, 'alive', { incarnation: INC })));
  return { m, sent, scheduler, events };
}

const accusation = () => signClaim(accuser, 'suspect', { incarnation: INC, subject: accused.nodeId });
const isAccusation = (w: { s: Uint8Array }) =>
  equalBytes(w.s, accusation().wire.s) ||
  equalBytes(w.s, signClaim(bystander, 'suspect', { incarnation: INC, subject: accused.nodeId }).wire.s);

/** Stream gossip sent to the accused that carries an accusation of it. */
const handedOver = (sent: Array<{ to: string; cls: string; msg: Message }>) =>
  sent.filter(
    (s) =>
      s.to === accused.nodeId && s.cls === 'stream' && s.msg.type === 'gossip' && s.msg.g.some(isAccusation),
  );

describe('an accusation is handed to the accused over its link', () => {
  it('a node linked to the accused sends it the accusation on the stream as it starts suspecting', () => {
    const t = node();
    t.m.linkUp(accused.nodeId);
    t.m.linkUp(bystander.nodeId);
    t.sent.splice(0);
    t.m.applyClaims([accusation()], bystander.nodeId);
    expect(t.m.stateOf(accused.nodeId)).toBe(NodeState.Suspect);
    expect(handedOver(t.sent)).toHaveLength(1);
    // Once: a confirmation by another accuser is no news to the accused.
    t.m.applyClaims([signClaim(bystander, 'suspect', { incarnation: INC, subject: accused.nodeId })]);
    expect(handedOver(t.sent)).toHaveLength(1);
  });

  it('a link that comes up to a member suspected here carries the accusation at once', () => {
    const t = node();
    t.m.applyClaims([accusation()], bystander.nodeId);
    expect(handedOver(t.sent)).toEqual([]);
    t.m.linkUp(accused.nodeId);
    expect(handedOver(t.sent)).toHaveLength(1);
    // Not to a member that is not suspected.
    t.m.linkUp(bystander.nodeId);
    expect(t.sent.filter((s) => s.to === bystander.nodeId && s.msg.type === 'gossip')).toEqual([]);
  });

  it('a link that comes up to a member held Unreachable carries the declaration', () => {
    // A member frozen or cut off through its declaration learns why at its first new link,
    // not when an exchange happens to reach it (seed sweep: 6 s after an unfreeze).
    const t = node();
    const declaration = signClaim(accuser, 'unreachable', { incarnation: INC, subject: accused.nodeId });
    t.m.applyClaims([declaration], bystander.nodeId);
    t.scheduler.runFor(60_000 - 1);
    expect(t.m.stateOf(accused.nodeId)).toBe(NodeState.Unreachable);
    t.sent.splice(0);
    t.m.linkUp(accused.nodeId);
    const told = t.sent.filter((s) => s.to === accused.nodeId && s.msg.type === 'gossip');
    expect(told).toHaveLength(1);
    const claims = told[0]!.msg.type === 'gossip' ? told[0]!.msg.g.map(interpretClaim) : [];
    expect(claims.map((c) => [c.kind, c.subject, c.incarnation])).toEqual([
      ['unreachable', accused.nodeId, INC],
    ]);
  });

  it('a member held Unreachable that pings us gets its declaration in the ack', () => {
    // Soak seed 3935: a member frozen for 11 s was declared; the hand-over at its links'
    // link-up reached it while frozen and was lost, and after the unfreeze its neighbours
    // acked its pings without a word (only a Suspect peer's accusation rode on acks), so it
    // never refuted, and a node that joined later took the declaration and declared it again.
    const t = node();
    t.m.linkUp(accused.nodeId);
    t.m.applyClaims(
      [signClaim(accuser, 'unreachable', { incarnation: INC, subject: accused.nodeId })],
      bystander.nodeId,
    );
    t.scheduler.runFor(60_000 - 1);
    expect(t.m.stateOf(accused.nodeId)).toBe(NodeState.Unreachable);
    t.sent.splice(0);
    t.m.onMessage(accused.nodeId, 'datagram', { type: 'ping', seq: 7, to: fromHex(t.m.selfId) });
    const ack = t.sent.find((s) => s.to === accused.nodeId && s.msg.type === 'ack');
    const carried = ack?.msg.type === 'ack' ? (ack.msg.g ?? []).map(interpretClaim) : [];
    expect(carried.filter((c) => c.subject === accused.nodeId).map((c) => [c.kind, c.incarnation])).toEqual([
      ['unreachable', INC],
    ]);
    // Once it refutes, its acks carry nothing about it.
    t.m.applyClaims([signClaim(accused, 'alive', { incarnation: INC + 1 })], accused.nodeId);
    t.sent.splice(0);
    t.m.onMessage(accused.nodeId, 'datagram', { type: 'ping', seq: 8, to: fromHex(t.m.selfId) });
    const after = t.sent.find((s) => s.to === accused.nodeId && s.msg.type === 'ack');
    const again = after?.msg.type === 'ack' ? (after.msg.g ?? []).map(interpretClaim) : [];
    expect(again.filter((c) => c.subject === accused.nodeId && c.kind !== 'alive')).toEqual([]);
  });

  it('nothing is handed over without a link to the accused, or back to the accused it came from', () => {
    const unlinked = node();
    unlinked.m.applyClaims([accusation()], bystander.nodeId);
    expect(unlinked.m.stateOf(accused.nodeId)).toBe(NodeState.Suspect);
    expect(handedOver(unlinked.sent)).toEqual([]);
    const fromAccused = node();
    fromAccused.m.linkUp(accused.nodeId);
    fromAccused.m.applyClaims([accusation()], accused.nodeId);
    expect(fromAccused.m.stateOf(accused.nodeId)).toBe(NodeState.Suspect);
    expect(handedOver(fromAccused.sent)).toEqual([]);
  });
});

describe('an accusation weighed only elsewhere still reaches the accused', () => {
  // Seed sweep, seed 348: a declaration made in a partition went on after the heal through a
  // node that had just joined (for it, the declarer was a member like any other), and
  // stalled at the accused's neighbours, which had declared or reaped the declarer. A node
  // two hops away took it and declared the live member in turn. Seed 1162: an accuser's
  // repeat, weightless at every node but its own, was gossiped only, and one dropped
  // datagram kept it from the accused.
  const declared = (signer: NodeIdentity) =>
    signClaim(bystander, 'unreachable', { incarnation: INC, subject: signer.nodeId });
  const declaration = (incarnation = INC) =>
    signClaim(accuser, 'unreachable', { incarnation, subject: accused.nodeId });
  const toAccused = (sent: Array<{ to: string; cls: string; msg: Message }>) =>
    sent.flatMap((s) =>
      s.to === accused.nodeId && s.cls === 'stream' && s.msg.type === 'gossip'
        ? s.msg.g.map(interpretClaim).map((c) => [c.kind, c.signer === accuser.nodeId, c.incarnation])
        : [],
    );

  it('a neighbour of the accused hands over a declaration by a member it holds Unreachable, once per incarnation', () => {
    const t = node();
    t.m.applyClaims([declared(accuser)], bystander.nodeId);
    t.scheduler.runFor(30_000);
    expect(t.m.stateOf(accuser.nodeId)).toBe(NodeState.Unreachable);
    t.m.linkUp(accused.nodeId);
    t.sent.splice(0);
    t.m.applyClaims([declaration()], bystander.nodeId);
    // Not weighed here: the accused stays Active.
    expect(t.m.stateOf(accused.nodeId)).toBe(NodeState.Active);
    expect(toAccused(t.sent)).toEqual([['unreachable', true, INC]]);
    t.m.applyClaims([signClaim(accuser, 'suspect', { incarnation: INC, subject: accused.nodeId })]);
    expect(toAccused(t.sent)).toHaveLength(1);
    // The accused refuted: an accusation at its new incarnation is handed over again.
    t.m.applyClaims([signClaim(accused, 'alive', { incarnation: INC + 1 })], accused.nodeId);
    t.m.applyClaims([declaration(INC + 1)], bystander.nodeId);
    expect(toAccused(t.sent)).toEqual([
      ['unreachable', true, INC],
      ['unreachable', true, INC + 1],
    ]);
    expect(t.m.metrics.accusationsHandedOver).toBe(2);
  });

  it('a reaped declarer counts, a stranger does not, and nothing goes without a link', () => {
    const t = node();
    t.m.applyClaims([declared(accuser)], bystander.nodeId);
    t.scheduler.runFor(120_000);
    expect(t.m.stateOf(accuser.nodeId)).toBeUndefined();
    t.m.applyClaims([declaration()], bystander.nodeId);
    expect(toAccused(t.sent)).toEqual([]);
    t.m.linkUp(accused.nodeId);
    t.m.applyClaims([declaration()], bystander.nodeId);
    expect(toAccused(t.sent)).toEqual([['unreachable', true, INC]]);

    const stranger = NodeIdentity.fromSecretKey(new Uint8Array(32).fill(99));
    const u = node();
    u.m.linkUp(accused.nodeId);
    u.sent.splice(0);
    u.m.applyClaims([signClaim(stranger, 'unreachable', { incarnation: INC, subject: accused.nodeId })]);
    expect(u.m.stateOf(accused.nodeId)).toBe(NodeState.Active);
    expect(u.sent.filter((s) => s.to === accused.nodeId)).toEqual([]);
    expect(u.m.metrics.accusationsHandedOver).toBe(0);
  });

  it('a node not linked to the accused passes such an accusation on along the tree, weightless, once per incarnation', () => {
    // Soak seed 4577: the nodes between the one that weighed a declaration and the accused's
    // neighbours had all reaped the declarer; none passed it on, and the accused never heard.
    const news = (events: MembershipEvent[]) =>
      events.flatMap((e) => (e.type === 'news' ? e.claims.map((c) => [c.kind, c.incarnation]) : []));
    const t = node(true);
    t.m.applyClaims([declared(accuser)], bystander.nodeId);
    t.scheduler.runFor(120_000);
    expect(t.m.stateOf(accuser.nodeId)).toBeUndefined(); // reaped
    t.events.splice(0);
    t.m.applyClaims([declaration()], bystander.nodeId);
    expect(t.m.stateOf(accused.nodeId)).toBe(NodeState.Active);
    expect(news(t.events)).toEqual([['unreachable', INC]]);
    expect(t.m.metrics.accusationsPassedOn).toBe(1);
    // Once per incarnation of the accused: a copy, or another accusation at it, stops here.
    t.m.applyClaims([declaration()], bystander.nodeId);
    t.m.applyClaims(
      [signClaim(accuser, 'suspect', { incarnation: INC, subject: accused.nodeId })],
      bystander.nodeId,
    );
    expect(news(t.events)).toHaveLength(1);
    t.m.applyClaims([signClaim(accused, 'alive', { incarnation: INC + 1 })], accused.nodeId);
    t.events.splice(0);
    t.m.applyClaims([declaration(INC + 1)], bystander.nodeId);
    expect(news(t.events)).toEqual([['unreachable', INC + 1]]);
    // Not a stranger's, and not our own (no peer passed it to us).
    const stranger = NodeIdentity.fromSecretKey(new Uint8Array(32).fill(99));
    const u = node(true);
    u.events.splice(0);
    u.m.applyClaims(
      [signClaim(stranger, 'unreachable', { incarnation: INC, subject: accused.nodeId })],
      bystander.nodeId,
    );
    expect(news(u.events)).toEqual([]);
    expect(u.m.metrics.accusationsPassedOn).toBe(0);
  });

  it('a node that reaped the accused passes an accusation at the reaped incarnation on, once per reap and accuser, and to the accused if linked', () => {
    // Soak seed 3163: after a 22 s partition, the nodes of one side had reaped a member of
    // the other, which a node of that other side then suspected on an old declaration; every
    // path from it to the accused ran through nodes that had reaped the accused.
    const news = (events: MembershipEvent[]) =>
      events.flatMap((e) =>
        e.type === 'news' ? e.claims.map((c) => [c.kind, c.subject, c.incarnation]) : [],
      );
    const t = node(true);
    t.m.applyClaims([signClaim(bystander, 'unreachable', { incarnation: INC, subject: accused.nodeId })]);
    t.scheduler.runFor(120_000);
    expect(t.m.stateOf(accused.nodeId)).toBeUndefined(); // reaped
    t.m.linkUp(accused.nodeId);
    t.events.splice(0);
    t.sent.splice(0);
    t.m.applyClaims([declaration(INC + 1)], bystander.nodeId); // above the reaped incarnation: nobody's to claim
    expect(news(t.events)).toEqual([]);
    t.m.applyClaims([declaration()], bystander.nodeId);
    expect(news(t.events)).toEqual([['unreachable', accused.nodeId, INC]]);
    expect(toAccused(t.sent)).toEqual([['unreachable', true, INC]]);
    t.m.applyClaims(
      [signClaim(accuser, 'suspect', { incarnation: INC, subject: accused.nodeId })],
      bystander.nodeId,
    );
    expect(news(t.events)).toHaveLength(1);
    expect(t.m.stateOf(accused.nodeId)).toBeUndefined();
    // Once per reap and signer: another accuser's still goes on, once (soak seed 10,436: one
    // passed on while the accused was cut off used up the reap, and another accuser's after
    // the heal stalled here; the accused never heard it, and a live member was declared).
    const other = (kind: 'suspect' | 'unreachable') =>
      signClaim(bystander, kind, { incarnation: INC, subject: accused.nodeId });
    t.m.applyClaims([other('suspect')], accuser.nodeId);
    expect(news(t.events)).toHaveLength(2);
    expect(toAccused(t.sent)).toEqual([
      ['unreachable', true, INC],
      ['suspect', false, INC],
    ]);
    t.m.applyClaims([other('unreachable')], accuser.nodeId);
    expect(news(t.events)).toHaveLength(2);
    expect(t.m.metrics.accusationsPassedOn).toBe(2);
  });

  it("an accuser's repeat after the accused refuted it goes along the tree and to the accused", () => {
    const t = node(true);
    t.m.linkUp(accused.nodeId);
    t.m.applyClaims([accusation()], bystander.nodeId);
    t.m.applyClaims([signClaim(accused, 'alive', { incarnation: INC + 1 })], accused.nodeId);
    expect(t.m.stateOf(accused.nodeId)).toBe(NodeState.Active);
    t.sent.splice(0);
    t.events.splice(0);
    const repeat = signClaim(accuser, 'suspect', { incarnation: INC + 1, subject: accused.nodeId });
    // Weightless here (the accused refuted this accuser lately), yet news: not a copy.
    expect(t.m.applyClaims([repeat], bystander.nodeId)).toBe(1);
    expect(t.m.stateOf(accused.nodeId)).toBe(NodeState.Active);
    const news = t.events.flatMap((e) => (e.type === 'news' ? e.claims : []));
    expect(news.map((c) => equalBytes(c.wire.s, repeat.wire.s))).toEqual([true]);
    expect(toAccused(t.sent)).toEqual([['suspect', true, INC + 1]]);
    // A copy of it is a copy: no news, nothing handed over again.
    expect(t.m.applyClaims([repeat], bystander.nodeId)).toBe(0);
    expect(toAccused(t.sent)).toHaveLength(1);
    expect(t.events.filter((e) => e.type === 'news')).toHaveLength(1);
  });
});

describe('an accusation older than the incarnation held', () => {
  // Seed sweep, seed 4427: two nodes missed the accused's refutation, took the accuser's old
  // declaration from the other side of a healed partition, and declared the live member;
  // their neighbours held the refutation and dropped the old declaration without a word.
  const old = () => signClaim(accuser, 'unreachable', { incarnation: INC, subject: accused.nodeId });
  const refuted = () => signClaim(accused, 'alive', { incarnation: INC + 1 });
  const answered = (sent: Array<{ to: string; cls: string; msg: Message }>, to: string) =>
    sent.flatMap((s) =>
      s.to === to && s.cls === 'stream' && s.msg.type === 'gossip'
        ? s.msg.g.map(interpretClaim).map((c) => [c.kind, c.subject === accused.nodeId, c.incarnation])
        : [],
    );

  it('is answered to the neighbour that passed it on with our claims of the member, once per incarnation', () => {
    const t = node();
    t.m.linkUp(bystander.nodeId);
    t.m.applyClaims([refuted()], accused.nodeId);
    t.sent.splice(0);
    t.m.applyClaims([old()], bystander.nodeId);
    expect(t.m.stateOf(accused.nodeId)).toBe(NodeState.Active);
    expect(answered(t.sent, bystander.nodeId)).toEqual([['alive', true, INC + 1]]);
    // A copy, or the old suspicion, from the same neighbour: answered already.
    t.m.applyClaims([old(), accusation()], bystander.nodeId);
    expect(answered(t.sent, bystander.nodeId)).toHaveLength(1);
    // Suspected again at the new incarnation, then an old one: both claims go.
    t.m.applyClaims([signClaim(accuser, 'suspect', { incarnation: INC + 1, subject: accused.nodeId })]);
    t.m.applyClaims([signClaim(accused, 'alive', { incarnation: INC + 2 })], accused.nodeId);
    t.m.applyClaims([signClaim(bystander, 'suspect', { incarnation: INC + 2, subject: accused.nodeId })]);
    t.sent.splice(0);
    t.m.applyClaims([old()], bystander.nodeId);
    expect(answered(t.sent, bystander.nodeId)).toEqual([
      ['alive', true, INC + 2],
      ['suspect', true, INC + 2],
    ]);
    expect(t.m.metrics.staleAccusationsAnswered).toBe(2);
  });

  it('is not answered to a peer we hold no link to, nor made about ourselves', () => {
    const t = node();
    t.m.applyClaims([refuted()], accused.nodeId);
    t.sent.splice(0);
    t.m.applyClaims([old()], bystander.nodeId);
    t.m.applyClaims([old()]);
    expect(t.sent.filter((s) => s.msg.type === 'gossip')).toEqual([]);
    expect(t.m.metrics.staleAccusationsAnswered).toBe(0);
  });
});
