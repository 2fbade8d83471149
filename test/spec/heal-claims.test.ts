// Claims that must survive a partition's heal (seed sweep, soak seeds 201–1400): an accusation
// signed by a member held Unreachable is weighed again once that member refutes, instead of
// being lost (only reachable members may accuse, and at a heal the accuser's refutation can
// arrive just after its accusations); and every claim that changes the view — refutations
// and accusations above all — goes along the broadcast tree as well as by gossip, so a node that
// later takes a stale accusation already holds the refutation, and an accusation reaches the
// accused's neighbours, who hand it over.
import { describe, expect, it } from 'vitest';
import { NodeIdentity } from '../../lib/identity/mod.ts';
import { interpretClaim, signClaim } from '../../lib/membership/claims.ts';
import { HeldAccusations } from '../../lib/membership/held-accusations.ts';
import { NodeState } from '../../lib/membership/node-state.ts';
import { Membership, type MembershipEvent } from '../../lib/membership/swim.ts';
import { SeededRandom } from '../../lib/time/random.ts';
import { VirtualClock, VirtualScheduler } from '../../lib/time/virtual.ts';
import type { Message } from '../../lib/wire/messages.ts';

const INC = 1_000;
const SUSPECT_MS = 5_000;
const [accused, accuser, bystander] = [30, 31, 32].map((k) =>
  NodeIdentity.fromSecretKey(new Uint8Array(32).fill(k)),
) as [NodeIdentity, NodeIdentity, NodeIdentity];

const ACCUSED_AT = ['mem:accused'];

function node(treeNews = false, reapAfterMs = 60_000) {
  const scheduler = new VirtualScheduler();
  const events: MembershipEvent[] = [];
  const sent: Array<{ to: string; msg: Message }> = [];
  const m = new Membership({
    signer: NodeIdentity.fromSecretKey(new Uint8Array(32).fill(2)),
    env: { clock: new VirtualClock(scheduler), scheduler, random: new SeededRandom(2) },
    send: (to, _cls, msg) => sent.push({ to, msg }),
    event: (e) => events.push(e),
    incarnation: INC,
    heartbeat: { suspectTimeoutMs: SUSPECT_MS, reapAfterMs },
    treeNews,
  });
  m.start();
  m.bootstrap();
  m.applyClaims([
    signClaim(accused, 'alive', { incarnation: INC, addrs: ACCUSED_AT }),
    ...[accuser, bystander].map((id) => signClaim(id, 'alive', { incarnation: INC })),
  ]);
  return { m, scheduler, events, sent };
}

/** `t` holds the accuser Unreachable: the bystander declared it and our own timer ran out. */
function declareAccuser(t: ReturnType<typeof node>): void {
  t.m.applyClaims([signClaim(bystander, 'unreachable', { incarnation: INC, subject: accuser.nodeId })]);
  t.scheduler.runFor(SUSPECT_MS * 3);
  expect(t.m.stateOf(accuser.nodeId)).toBe(NodeState.Unreachable);
}

const accusation = () => signClaim(accuser, 'suspect', { incarnation: INC, subject: accused.nodeId });
const refutation = () => signClaim(accuser, 'alive', { incarnation: INC + 1 });

describe('an accusation by a member held Unreachable', () => {
  it('carries no weight, but counts once its signer refutes', () => {
    const t = node();
    declareAccuser(t);
    t.m.applyClaims([accusation()], bystander.nodeId);
    expect(t.m.stateOf(accused.nodeId)).toBe(NodeState.Active);
    t.m.applyClaims([refutation()], bystander.nodeId);
    expect(t.m.stateOf(accuser.nodeId)).toBe(NodeState.Active);
    expect(t.m.stateOf(accused.nodeId)).toBe(NodeState.Suspect);
  });

  it('once weighed, goes along the tree as news, not by gossip alone', () => {
    // Soak seed 4590: gossip over two lossy links did not carry it to anyone within the
    // suspicion; the accused never heard it, refuted nothing, and was declared.
    const t = node(true);
    declareAccuser(t);
    t.m.applyClaims([accusation()], bystander.nodeId);
    t.events.splice(0);
    t.m.applyClaims([refutation()], bystander.nodeId);
    expect(t.m.stateOf(accused.nodeId)).toBe(NodeState.Suspect);
    const news = t.events.flatMap((e) => (e.type === 'news' ? e.claims : []));
    expect(news.map((c) => [c.kind, c.subject, c.signer])).toContainEqual([
      'suspect',
      accused.nodeId,
      accuser.nodeId,
    ]);
  });

  it('is forgotten after twice the suspicion timeout, and one that the accused outgrew stays void', () => {
    const late = node();
    declareAccuser(late);
    late.m.applyClaims([accusation()], bystander.nodeId);
    late.scheduler.runFor(SUSPECT_MS * 2 + 1);
    late.m.applyClaims([refutation()], bystander.nodeId);
    expect(late.m.stateOf(accused.nodeId)).toBe(NodeState.Active);

    const outgrown = node();
    declareAccuser(outgrown);
    outgrown.m.applyClaims([accusation()], bystander.nodeId);
    outgrown.m.applyClaims([signClaim(accused, 'alive', { incarnation: INC + 1 })]);
    outgrown.m.applyClaims([refutation()], bystander.nodeId);
    expect(outgrown.m.stateOf(accused.nodeId)).toBe(NodeState.Active);
  });
});

describe('alive claims along the broadcast tree (treeNews)', () => {
  const news = (events: MembershipEvent[]) =>
    events.flatMap((e) => (e.type === 'news' ? e.claims.map((c) => [c.subject, c.incarnation]) : []));

  it('an accusation or a refutation received is news to spread, besides being gossiped', () => {
    const t = node(true);
    t.events.splice(0);
    t.m.applyClaims([signClaim(bystander, 'suspect', { incarnation: INC, subject: accused.nodeId })]);
    expect(news(t.events)).toEqual([[accused.nodeId, INC]]);
    t.events.splice(0);
    const before = t.m.metrics.claimsApplied;
    t.m.applyClaims([signClaim(accused, 'alive', { incarnation: INC + 1 })], bystander.nodeId);
    expect(t.m.metrics.claimsApplied).toBe(before + 1);
    expect(news(t.events)).toEqual([[accused.nodeId, INC + 1]]);
    // A copy changes nothing: no news.
    t.m.applyClaims([signClaim(accused, 'alive', { incarnation: INC + 1 })], accuser.nodeId);
    expect(news(t.events)).toHaveLength(1);
  });

  it('a claim this node reissues (a refutation, new metadata) is news from it', () => {
    const t = node(true);
    t.events.splice(0);
    t.m.setMeta({ role: 'cache' });
    expect(news(t.events)).toEqual([[t.m.selfId, INC + 1]]);
    const flooded = node(false);
    flooded.events.splice(0);
    flooded.m.setMeta({ role: 'cache' });
    expect(news(flooded.events)).toEqual([]);
  });
  it('a declaration this node makes when its suspicion runs out is kept as recent news, for links that come up later', () => {
    // Sweep case 14: a crashed bridge's declarations went by gossip only; links that joined
    // the two halves of the mesh later were not told of them as recent news, and the other
    // half reaped the member half a minute later, its replicas diverging meanwhile.
    const t = node(true);
    t.m.applyClaims([signClaim(bystander, 'suspect', { incarnation: INC, subject: accused.nodeId })]);
    t.events.splice(0);
    t.scheduler.runFor(SUSPECT_MS * 3);
    expect(t.m.stateOf(accused.nodeId)).toBe(NodeState.Unreachable);
    // Kept among the recent news (quiet), not pushed: every node that suspected declares too.
    const declared = t.events.flatMap((e) =>
      e.type === 'news' ? e.claims.map((c) => [c, e.quiet] as const) : [],
    );
    expect(declared.map(([c, quiet]) => [c.kind, c.subject, c.signer, quiet])).toEqual([
      ['unreachable', accused.nodeId, t.m.selfId, true],
    ]);
  });
});

describe('a linked member that refutes', () => {
  it('is reported back (its owner tells it of recent news), unless unlinked or not refuting', () => {
    // Soak seed 215: a node frozen with its links intact refuted at once when it woke, but
    // held a member that had crashed meanwhile Active until a periodic exchange told it.
    const t = node(true);
    const backs = () => t.events.flatMap((e) => (e.type === 'back' ? [e.nodeId] : []));
    t.m.linkUp(accused.nodeId);
    t.m.applyClaims([signClaim(bystander, 'suspect', { incarnation: INC, subject: accused.nodeId })]);
    expect(t.m.stateOf(accused.nodeId)).toBe(NodeState.Suspect);
    t.scheduler.runFor(1_000);
    t.m.applyClaims([signClaim(accused, 'alive', { incarnation: INC + 1 })], accused.nodeId);
    expect(backs()).toEqual([accused.nodeId]);
    // Unheard since before the suspicion: its time, and a suspicion timeout of margin (seed
    // 1463: news 17 s old when the member came back).
    expect(t.events.flatMap((e) => (e.type === 'back' ? [e.unheardMs] : []))).toEqual([1_000 + SUSPECT_MS]);
    // An Active member's new claim (new metadata) is no return.
    t.m.applyClaims([signClaim(accused, 'alive', { incarnation: INC + 2 })], accused.nodeId);
    expect(backs()).toEqual([accused.nodeId]);
    // Nor is an unlinked member's refutation: it has no link to be told over.
    t.m.applyClaims([signClaim(bystander, 'suspect', { incarnation: INC, subject: accuser.nodeId })]);
    t.m.applyClaims([signClaim(accuser, 'alive', { incarnation: INC + 1 })], bystander.nodeId);
    expect(t.m.stateOf(accuser.nodeId)).toBe(NodeState.Active);
    expect(backs()).toEqual([accused.nodeId]);
  });
});

describe('a member reaped here', () => {
  const REAP_MS = 20_000;
  /** `t` declared the accused (its own timer ran out), then reaped it, and the zombie window passed. */
  function reaped() {
    const t = node(false, REAP_MS);
    t.m.applyClaims([signClaim(bystander, 'unreachable', { incarnation: INC, subject: accused.nodeId })]);
    t.scheduler.runFor(SUSPECT_MS * 3);
    expect(t.m.stateOf(accused.nodeId)).toBe(NodeState.Unreachable);
    t.scheduler.runFor(REAP_MS * 3);
    expect(t.m.stateOf(accused.nodeId)).toBeUndefined();
    return t;
  }

  it('is not taken back from a peer that describes it as declared down (its alive claim and the declaration)', () => {
    const t = reaped();
    const down = signClaim(accuser, 'unreachable', { incarnation: INC, subject: accused.nodeId });
    t.m.applyClaims([signClaim(accused, 'alive', { incarnation: INC }), down], bystander.nodeId);
    expect(t.m.stateOf(accused.nodeId)).toBeUndefined();
    // Its alive claim alone, after the zombie window, brings it back as before; a higher
    // incarnation (it refuted) does whatever else the batch says.
    const alone = reaped();
    alone.m.applyClaims([signClaim(accused, 'alive', { incarnation: INC })], bystander.nodeId);
    expect(alone.m.stateOf(accused.nodeId)).toBe(NodeState.Active);
    const refuted = reaped();
    refuted.m.applyClaims([signClaim(accused, 'alive', { incarnation: INC + 1 }), down], bystander.nodeId);
    expect(refuted.m.stateOf(accused.nodeId)).toBe(NodeState.Active);
  });

  it('nor is a member never known here that a peer describes as declared down (a restart forgets what was reaped)', () => {
    // Soak seed 2365: a member dead for good was taken back by a node restarted with its
    // replica (its memory of reaped members gone) from a peer that still described it, and
    // from that node by another restarted node, each starting a new reap clock and holding
    // the dead member's state entries a minute longer than every other replica.
    const ghost = NodeIdentity.fromSecretKey(new Uint8Array(32).fill(33));
    const t = node();
    const down = signClaim(accuser, 'unreachable', { incarnation: INC, subject: ghost.nodeId });
    t.m.applyClaims([signClaim(ghost, 'alive', { incarnation: INC }), down], bystander.nodeId);
    expect(t.m.stateOf(ghost.nodeId)).toBeUndefined();
    // Described alive, or alive above the declaration (it refuted), it is taken as before.
    t.m.applyClaims([signClaim(ghost, 'alive', { incarnation: INC + 1 }), down], bystander.nodeId);
    expect(t.m.stateOf(ghost.nodeId)).toBe(NodeState.Active);
  });

  it('nor when the declaration and the alive claim come apart, within the reap time (pages, news resent one by one)', () => {
    // Soak seed 11,116: a restarted node was sent a dead member's declaration, then its alive
    // claim alone; the declaration was dropped (the member unknown then), the alive claim
    // taken, and the member and its state entries held until the node's own ghost check.
    const ghost = NodeIdentity.fromSecretKey(new Uint8Array(32).fill(33));
    const REAP_MS = 20_000;
    const t = node(false, REAP_MS);
    const alive = signClaim(ghost, 'alive', { incarnation: INC });
    t.m.applyClaims(
      [signClaim(accuser, 'unreachable', { incarnation: INC, subject: ghost.nodeId })],
      bystander.nodeId,
    );
    t.m.applyClaims([alive], bystander.nodeId);
    expect(t.m.stateOf(ghost.nodeId)).toBeUndefined();
    // Alive above the declaration (it refuted), it is taken.
    const refuted = node(false, REAP_MS);
    refuted.m.applyClaims([signClaim(accuser, 'unreachable', { incarnation: INC, subject: ghost.nodeId })]);
    refuted.m.applyClaims([signClaim(ghost, 'alive', { incarnation: INC + 1 })], bystander.nodeId);
    expect(refuted.m.stateOf(ghost.nodeId)).toBe(NodeState.Active);
    // A lower incarnation heard later does not lower what that peer said.
    const lower = node(false, REAP_MS);
    for (const incarnation of [INC + 1, INC])
      lower.m.applyClaims(
        [signClaim(accuser, 'unreachable', { incarnation, subject: ghost.nodeId })],
        bystander.nodeId,
      );
    lower.m.applyClaims([signClaim(ghost, 'alive', { incarnation: INC + 1 })], bystander.nodeId);
    expect(lower.m.stateOf(ghost.nodeId)).toBeUndefined();
    // A goodbye counts as a declaration.
    const left = node(false, REAP_MS);
    left.m.applyClaims([signClaim(ghost, 'leave', { incarnation: INC })], bystander.nodeId);
    left.m.applyClaims([alive], bystander.nodeId);
    expect(left.m.stateOf(ghost.nodeId)).toBeUndefined();
    // Per peer, as in one batch: another peer that describes it alive is taken (remembered
    // for every peer, one hostile member's declarations would keep a newcomer it raced out
    // of its neighbours' views for the reap time). The declaration is weighed then, as
    // evidence: the member is Suspect, and may refute (heal-catch-up.test.ts).
    const other = node(false, REAP_MS);
    other.m.applyClaims(
      [signClaim(accuser, 'unreachable', { incarnation: INC, subject: ghost.nodeId })],
      accuser.nodeId,
    );
    other.m.applyClaims([alive], bystander.nodeId);
    expect(other.m.stateOf(ghost.nodeId)).toBe(NodeState.Suspect);
    // After the reap time every node has dropped the member; its alive claim alone counts again.
    t.scheduler.runFor(REAP_MS);
    t.m.applyClaims([alive], bystander.nodeId);
    expect(t.m.stateOf(ghost.nodeId)).toBe(NodeState.Active);
  });

  it('a flood of such declarations is remembered up to recentlyReapedLimit pairs, the oldest forgotten', () => {
    // The cheapest hostile use: a peer declaring members nobody holds. Memory stays at 256
    // pairs (the default), and what falls out brings back only the slow case above.
    const t = node();
    const ghosts = Array.from({ length: 257 }, (_, k) => {
      const b = new Uint8Array(32);
      new DataView(b.buffer).setUint32(0, 1_000 + k);
      return NodeIdentity.fromSecretKey(b);
    });
    t.m.applyClaims(
      ghosts.map((g) => signClaim(accuser, 'unreachable', { incarnation: INC, subject: g.nodeId })),
      bystander.nodeId,
    );
    const alive = (g: NodeIdentity) => signClaim(g, 'alive', { incarnation: INC });
    // The first was forgotten; the second and the last are still remembered.
    t.m.applyClaims([alive(ghosts[0]!), alive(ghosts[1]!), alive(ghosts[256]!)], bystander.nodeId);
    expect(t.m.stateOf(ghosts[0]!.nodeId)).toBe(NodeState.Active);
    expect(t.m.stateOf(ghosts[1]!.nodeId)).toBeUndefined();
    expect(t.m.stateOf(ghosts[256]!.nodeId)).toBeUndefined();
  });

  it('within the zombie window, a linked neighbour that passes on its alive claim is sent the declaration it was reaped on, once', () => {
    // Soak seed 36,808: a node alone in a partition while a member crashed held it Active
    // past the heal; its neighbours, which had reaped it, refused its alive claim without a
    // word, took it back when their windows ran out, and the dead member was Active
    // everywhere again until a ghost check a minute on.
    const t = node(false, REAP_MS);
    const declared = signClaim(bystander, 'unreachable', { incarnation: INC, subject: accused.nodeId });
    t.m.applyClaims([declared]);
    t.scheduler.runFor(SUSPECT_MS * 3);
    while (t.m.stateOf(accused.nodeId) !== undefined) t.scheduler.runFor(500);
    t.m.linkUp(bystander.nodeId);
    t.sent.splice(0);
    const stale = signClaim(accused, 'alive', { incarnation: INC });
    const told = () =>
      t.sent
        .filter((s) => s.to === bystander.nodeId && s.msg.type === 'gossip')
        .flatMap((s) => (s.msg.type === 'gossip' ? s.msg.g.map(interpretClaim) : []))
        .map((c) => [c.kind, c.subject, c.incarnation]);
    t.m.applyClaims([stale], bystander.nodeId);
    t.m.applyClaims([stale], bystander.nodeId);
    expect(t.m.stateOf(accused.nodeId)).toBeUndefined();
    // Our own declaration (the one held when it was reaped), once however often it is passed on.
    expect(told()).toEqual([['unreachable', accused.nodeId, INC]]);
    expect(t.m.metrics.zombiesAnswered).toBe(1);
    // A peer not linked here is not answered (nothing to send it over); nor after the window.
    t.m.applyClaims([stale], accuser.nodeId);
    expect(t.sent.filter((s) => s.to === accuser.nodeId && s.msg.type === 'gossip')).toEqual([]);
    t.scheduler.runFor(REAP_MS);
    t.m.linkUp(accuser.nodeId);
    t.m.applyClaims([stale], accuser.nodeId);
    expect(t.sent.filter((s) => s.to === accuser.nodeId && s.msg.type === 'gossip')).toEqual([]);
    expect(t.m.metrics.zombiesAnswered).toBe(1);
  });

  it('is dialled once if a member passes on its alive claim within the zombie window, and its own claim brings it back over the link', () => {
    // Seed sweep, seed 3290: a node cut off alone declared and reaped two members nobody else
    // had declared, refused their alive claims from its neighbours after the heal for the
    // rest of the window, and took them back (with their state entries) 60 s late.
    const t = node(false, REAP_MS);
    t.m.applyClaims([signClaim(bystander, 'unreachable', { incarnation: INC, subject: accused.nodeId })]);
    t.scheduler.runFor(SUSPECT_MS * 3);
    while (t.m.stateOf(accused.nodeId) !== undefined) t.scheduler.runFor(500);
    expect(t.m.memberToCheck()).toBeUndefined(); // nothing to revisit yet, and no ghost
    const stale = signClaim(accused, 'alive', { incarnation: INC, addrs: ACCUSED_AT });
    t.m.applyClaims([stale], bystander.nodeId);
    expect(t.m.stateOf(accused.nodeId)).toBeUndefined(); // a zombie for anyone but itself
    expect(t.m.memberToCheck()).toEqual({ nodeId: accused.nodeId, addrs: ACCUSED_AT, incarnation: INC });
    expect(t.m.metrics.reapedRevisited).toBe(1);
    // Once per reap: passed on again once that check has timed out (ghostTimeoutMs / 4,
    // still within the window), it is not dialled again.
    t.scheduler.runFor(15_500);
    t.m.applyClaims([stale], accuser.nodeId);
    expect(t.m.stateOf(accused.nodeId)).toBeUndefined();
    expect(t.m.memberToCheck()).toBeUndefined();
    // The dial came through: the link-up starts an exchange with it, and its own claim counts.
    t.m.linkUp(bystander.nodeId); // an exchange of its own under way: not a reason to skip this one
    t.sent.splice(0);
    t.m.linkUp(accused.nodeId);
    const digests = () => t.sent.filter((s) => s.to === accused.nodeId && s.msg.type === 'digest').length;
    expect(digests()).toBe(1);
    // A peer that relinks without answering gets no second digest of our membership this interval.
    t.m.linkDown(accused.nodeId);
    t.m.linkUp(accused.nodeId);
    t.m.linkDown(accused.nodeId);
    t.m.linkUp(accused.nodeId);
    expect(digests()).toBe(1);
    t.m.applyClaims([stale], accused.nodeId);
    expect(t.m.stateOf(accused.nodeId)).toBe(NodeState.Active);
  });
});

describe('held accusations under a flood (a member held Unreachable accusing everyone)', () => {
  it('keep at most 8 per signer, the latest per subject, and 64 signers, the oldest dropped', () => {
    let now = 0;
    const held = new HeldAccusations(() => now, 10_000);
    const ids = Array.from({ length: 70 }, (_, k) =>
      NodeIdentity.fromSecretKey(new Uint8Array(32).fill(100 + k)),
    );
    const [liar, ...others] = ids as [NodeIdentity, ...NodeIdentity[]];
    for (const subject of others.slice(0, 20))
      held.hold(signClaim(liar, 'suspect', { incarnation: INC, subject: subject.nodeId }));
    // A repeat at a lower incarnation does not replace the one held.
    held.hold(signClaim(liar, 'suspect', { incarnation: INC - 1, subject: others[19]!.nodeId }));
    const kept = held.take(liar.nodeId);
    expect(kept.map((c) => c.subject)).toEqual(others.slice(12, 20).map((o) => o.nodeId));
    expect(kept.every((c) => c.incarnation === INC)).toBe(true);
    expect(held.take(liar.nodeId)).toEqual([]); // taken once
    // 66 signers: the first two are forgotten.
    for (const signer of ids.slice(0, 66))
      held.hold(signClaim(signer, 'suspect', { incarnation: INC, subject: accused.nodeId }));
    expect(held.take(ids[0]!.nodeId)).toEqual([]);
    expect(held.take(ids[1]!.nodeId)).toEqual([]);
    expect(held.take(ids[2]!.nodeId)).toHaveLength(1);
    // And none outlives its time.
    now = 10_000;
    expect(held.take(ids[65]!.nodeId)).toEqual([]);
  });
});
