// Hostile members against the membership claim rules (issue 10, findings 1–3): incarnation
// bounds, accusations as evidence only, members nobody can reach, and admission floods.
import { sign as edSign, generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { NodeIdentity, nodeIdOf } from '../../lib/identity/node-identity.ts';
import { type Claim, type ClaimSigner, signClaim } from '../../lib/membership/claims.ts';
import { DEFAULT_HEARTBEAT, type HeartbeatConfig } from '../../lib/membership/config.ts';
import { NodeState } from '../../lib/membership/node-state.ts';
import { Membership, type MembershipEvent } from '../../lib/membership/swim.ts';
import { PER_LINK_WAITING } from '../../lib/membership/waiting-newcomers.ts';
import type { SimCluster } from '../../lib/sim/cluster.ts';
import { SeededRandom } from '../../lib/time/random.ts';
import { VirtualClock, VirtualScheduler } from '../../lib/time/virtual.ts';
import { decodeMessage, encodeMessage } from '../../lib/wire/codec.ts';
import { cluster, converged, runUntil } from '../sim/helpers.ts';
import { hostileMember } from '../support/hostile.ts';
import type { SimPeer } from '../support/sim-peer.ts';

const U32_MAX = 0xffffffff;

/** A throwaway identity signed with node:crypto (fast enough for thousands). */
function throwaway(): ClaimSigner {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const key = new Uint8Array(Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url'));
  return {
    nodeId: nodeIdOf(key),
    publicKey: key,
    sign: (data) => new Uint8Array(edSign(null, data, privateKey)),
  };
}

/** Sends claims from the hostile peer over every link it has, in gossip frames. */
/** Sends `claims` on every link of `peer`, 64 a frame: as gossip, or as join news along the tree. */
function gossip(peer: SimPeer, claims: Claim[], type: 'gossip' | 'news' = 'gossip'): void {
  for (let at = 0; at < claims.length; at += 64) {
    const frame = encodeMessage({ type, g: claims.slice(at, at + 64).map((c) => c.wire) });
    for (const l of peer.links) l.send(frame);
  }
}

/** Makes the hostile peer answer probes on every link it has, so it stays a reachable member. */
function answerPings(peer: SimPeer): void {
  for (const link of peer.links) {
    const answer = (reply: (f: Uint8Array) => void) => (frame: Uint8Array) => {
      try {
        const msg = decodeMessage(frame);
        if (msg.type === 'ping') reply(encodeMessage({ type: 'ack', seq: msg.seq }));
      } catch {
        // not ours to judge
      }
    };
    link.setHandlers({
      datagram: answer((f) => link.sendDatagram(f)),
      message: answer((f) => link.send(f)),
      close: () => {},
    });
  }
}

/** Every state each node saw `nodeId` in, from member-state events. */
function statesSeen(c: SimCluster, nodeId: string): Set<NodeState> {
  const seen = new Set<NodeState>();
  for (const n of c.nodes) n.node.on('member-state', (e) => e.nodeId === nodeId && seen.add(e.state));
  return seen;
}

/** A started, Active membership core on virtual time whose linked members answer its pings. */
function core(heartbeat: Partial<HeartbeatConfig> = {}, incarnation = 1_000, treeNews = false) {
  const scheduler = new VirtualScheduler();
  const clock = new VirtualClock(scheduler);
  const me = NodeIdentity.fromSecretKey(new Uint8Array(32).fill(1));
  const events: MembershipEvent[] = [];
  const m: Membership = new Membership({
    signer: me,
    env: { clock, scheduler, random: new SeededRandom(1) },
    send: (to, cls, msg) => {
      if (msg.type === 'ping')
        scheduler.setTimer(5, () => m.onMessage(to, cls, { type: 'ack', seq: msg.seq }));
    },
    event: (e) => events.push(e),
    incarnation,
    heartbeat,
    treeNews,
  });
  m.start();
  m.bootstrap();
  return { m, me, scheduler, clock, events };
}

const identities = (n: number, from = 2) =>
  Array.from({ length: n }, (_, k) => NodeIdentity.fromSecretKey(new Uint8Array(32).fill(from + k)));

describe('finding 1: incarnations are bounded, and nothing a claim says can throw out of the node', () => {
  it('finding 1: an accusation at incarnation 0xFFFFFFFF neither crashes the accused nor changes its incarnation', async () => {
    const c = await cluster({ nodes: 3, maxLinks: 8, minLinks: 8 });
    runUntil(c, () => converged(c), 30_000);
    const victim = c.nodes[1]!;
    const { peer, identity } = hostileMember(c, 1);
    const before = victim.node.incarnation;
    const subject = victim.identity.nodeId;
    gossip(peer, [
      signClaim(identity, 'suspect', { incarnation: U32_MAX, subject }),
      signClaim(identity, 'unreachable', { incarnation: U32_MAX, subject }),
    ]);
    c.runFor(5_000); // a throw out of any node would end runFor
    expect(victim.node.incarnation).toBe(before);
    expect(victim.node.metrics().accusationsIgnored).toBeGreaterThan(0);
    for (const n of [0, 2]) {
      expect(c.nodes[n]!.node.member(subject)?.state).toBe(NodeState.Active);
      expect(c.nodes[n]!.node.member(subject)?.incarnation).toBe(before);
    }
    // Restarted with the same identity, it meets the same accusations again: no crash either.
    c.crash(1);
    c.runFor(1_000);
    await c.restart(1);
    runUntil(c, () => converged(c), 30_000);
    const restarted = c.nodes[1]!.node.incarnation;
    answerPings(peer);
    gossip(peer, [
      signClaim(identity, 'unreachable', { incarnation: U32_MAX, subject }),
      signClaim(identity, 'suspect', { incarnation: c.nodes[1]!.node.incarnation + 1, subject }),
    ]);
    c.runFor(5_000);
    runUntil(c, () => converged(c), 30_000);
    expect(converged(c)).toBe(true);
    expect(c.nodes[1]!.node.incarnation).toBeLessThanOrEqual(restarted + 1);
  });

  it('finding 1: alive claims may raise an incarnation by a bounded step only; refuting at the top of the range emits an event, never throws', () => {
    const t = core();
    const [other, accuser] = identities(2);
    const wallSeconds = Math.floor(t.clock.wallNow() / 1000);
    t.m.applyClaims([
      signClaim(other!, 'alive', { incarnation: 1_000 }),
      signClaim(accuser!, 'alive', { incarnation: 1_000 }),
    ]);
    t.m.applyClaims([signClaim(other!, 'alive', { incarnation: wallSeconds + 2 ** 25 })]);
    expect(t.m.member(other!.nodeId)?.incarnation).toBe(1_000);
    expect(t.m.metrics.incarnationJumpsRefused).toBe(1);
    t.m.applyClaims([signClaim(other!, 'alive', { incarnation: wallSeconds + 1_000 })]);
    expect(t.m.member(other!.nodeId)?.incarnation).toBe(wallSeconds + 1_000);

    // A node already at 2³²−1 (it cannot get there by refuting: see the rules) is accused there.
    const top = core({}, U32_MAX);
    top.m.applyClaims([signClaim(accuser!, 'alive', { incarnation: 1_000 })]);
    expect(() =>
      top.m.applyClaims([signClaim(accuser!, 'suspect', { incarnation: U32_MAX, subject: top.me.nodeId })]),
    ).not.toThrow();
    expect(top.m.incarnation).toBe(U32_MAX);
    expect(top.events.some((e) => e.type === 'incarnation-exhausted')).toBe(true);
  });
});

describe('finding 2: accusations are evidence, counted per member accuser', () => {
  it("finding 2: a member's unreachable claim about a live node only makes it Suspect, and it refutes", async () => {
    const c = await cluster({ nodes: 4, maxLinks: 8, minLinks: 8 });
    runUntil(c, () => converged(c), 30_000);
    const { peer, identity } = hostileMember(c, 1);
    answerPings(peer);
    const target = c.nodes[2]!;
    const before = target.node.incarnation;
    const seen = statesSeen(c, target.identity.nodeId);
    gossip(peer, [
      signClaim(identity, 'unreachable', { incarnation: before, subject: target.identity.nodeId }),
    ]);
    c.runFor(10_000);
    expect(seen.has(NodeState.Suspect)).toBe(true);
    expect(seen.has(NodeState.Unreachable)).toBe(false);
    expect(target.node.incarnation).toBe(before + 1);
    expect(target.node.metrics().refutations).toBe(1);
    for (const n of [0, 1, 3]) expect(c.viewOf(n, 2)).toBe(NodeState.Active);
  });

  it("a replay of a member's current alive claim costs its signer's quota nothing: the member's next claim is still taken", async () => {
    const c = await cluster({
      nodes: 4,
      maxLinks: 8,
      minLinks: 8,
      nodeOptions: () => ({ claimsPerSignerPerSecond: 5 }),
    });
    runUntil(c, () => converged(c), 30_000);
    const { peer } = hostileMember(c, 1);
    answerPings(peer);
    const target = c.nodes[2]!;
    // Copies of the target's own current claim: 130 a second for 3 s, 26 times its quota.
    const copy = target.node.claims()[0]!;
    const replay = () => {
      const frame = encodeMessage({ type: 'gossip', g: Array.from({ length: 13 }, () => copy) });
      for (const l of peer.links) l.send(frame);
      c.runFor(100);
    };
    for (let t = 0; t < 30; t++) replay();
    const rejectedBefore = c.nodes[1]!.node.metrics().claimsRejected;
    target.node.setMeta({ role: 'after' });
    for (let t = 0; t < 20; t++) replay();
    expect(c.nodes[1]!.node.member(target.identity.nodeId)?.meta.role).toBe('after');
    expect(c.nodes[1]!.node.metrics().claimsRejected).toBe(rejectedBefore);
  });

  it('finding 2: one accuser repeating accusations raises the incarnation at most once per interval, and never makes the node Unreachable', async () => {
    const c = await cluster({ nodes: 4, maxLinks: 8, minLinks: 8 });
    runUntil(c, () => converged(c), 30_000);
    const { peer, identity } = hostileMember(c, 1);
    const target = c.nodes[2]!;
    const subject = target.identity.nodeId;
    const before = target.node.incarnation;
    const seen = statesSeen(c, subject);
    let samples = 0;
    let notActive = 0;
    // Every 300 ms for 11 s, at the target's current incarnation (as the review did).
    for (let t = 0; t < 11_000; t += 300) {
      answerPings(peer);
      const kind = (t / 300) % 2 === 0 ? 'unreachable' : 'suspect';
      gossip(peer, [signClaim(identity, kind, { incarnation: target.node.incarnation, subject })]);
      for (let s = 0; s < 3; s++) {
        c.runFor(100);
        for (const n of [0, 1, 3]) {
          samples++;
          if (c.viewOf(n, 2) !== NodeState.Active) notActive++;
        }
      }
    }
    // The refute interval is suspectTimeoutMs / 5 = 1 s.
    expect(target.node.incarnation - before).toBeLessThanOrEqual(12);
    expect(target.node.metrics().refutationsDeferred).toBeGreaterThan(0);
    expect(seen.has(NodeState.Unreachable)).toBe(false);
    // A refuted accuser's repeats carry no weight for suspectTimeoutMs: Suspect only now and then.
    expect(notActive / samples).toBeLessThan(0.1);
  });

  it('finding 2: accusations signed by keys that are not members count for nothing', async () => {
    const c = await cluster({ nodes: 4, maxLinks: 8, minLinks: 8 });
    runUntil(c, () => converged(c), 30_000);
    const { peer } = hostileMember(c, 1);
    answerPings(peer);
    const target = c.nodes[2]!;
    const seen = statesSeen(c, target.identity.nodeId);
    const strangers = Array.from({ length: 20 }, throwaway);
    gossip(
      peer,
      strangers.map((s) =>
        signClaim(s, 'unreachable', {
          incarnation: target.node.incarnation,
          subject: target.identity.nodeId,
        }),
      ),
    );
    c.runFor(10_000);
    expect(seen.size).toBe(0);
    expect(c.nodes[1]!.node.metrics().accusationsIgnored).toBeGreaterThanOrEqual(20);
  });

  it('finding 2: Lifeguard confirmations count each member accuser once; non-members count for nothing', () => {
    const t = core({ suspectTimeoutMs: 1_000, dynamicSuspicion: { maxMultiplier: 3 } });
    const [other, a, b, c] = identities(4);
    t.m.applyClaims([other!, a!, b!, c!].map((id) => signClaim(id, 'alive', { incarnation: 1_000 })));
    const accuse = (by: ClaimSigner) =>
      signClaim(by, 'suspect', { incarnation: 1_000, subject: other!.nodeId });
    t.m.applyClaims([accuse(a!)]);
    expect(t.m.stateOf(other!.nodeId)).toBe(NodeState.Suspect);
    // The same accuser again and three throwaway keys: no confirmation, the timer stays at 3 s.
    t.m.applyClaims([accuse(a!), accuse(a!), ...Array.from({ length: 3 }, () => accuse(throwaway()))]);
    t.scheduler.runFor(1_500);
    expect(t.m.stateOf(other!.nodeId)).toBe(NodeState.Suspect);
    // Two more members confirm: 3 s − 2 s · log 3 / log 4 ≈ 1.42 s, already past.
    t.m.applyClaims([accuse(b!), accuse(c!)]);
    t.scheduler.runFor(1);
    expect(t.m.stateOf(other!.nodeId)).toBe(NodeState.Unreachable);
  });

  it('finding 2: a suspicion held when the node stopped (a freeze) still ends by its own timer after it resumes', () => {
    const t = core({ suspectTimeoutMs: 1_000 });
    const [other, accuser] = identities(2);
    t.m.applyClaims([other!, accuser!].map((id) => signClaim(id, 'alive', { incarnation: 1_000 })));
    t.m.applyClaims([signClaim(accuser!, 'suspect', { incarnation: 1_000, subject: other!.nodeId })]);
    t.m.stop();
    t.scheduler.runFor(5_000);
    t.m.start();
    t.scheduler.runFor(1_001);
    expect(t.m.stateOf(other!.nodeId)).toBe(NodeState.Unreachable);
  });
});

describe('finding 3: members nobody can reach, and admission floods', () => {
  it('finding 3: a ghost member is suspected and declared Unreachable within ghostTimeout + its check + suspectTimeout, then reaped and its id released', () => {
    const ghostTimeoutMs = 60_000;
    const t = core({ ghostTimeoutMs, reapAfterMs: 30_000 });
    const [linked, dialled, ghost] = identities(3);
    t.m.applyClaims(
      [linked!, dialled!, ghost!].map((id) => signClaim(id, 'alive', { incarnation: 1_000 })),
      'x',
    );
    t.m.linkUp(linked!.nodeId);
    const idsBefore = t.m.internedIds;
    let unreachableAt: number | undefined;
    // The node's link maintenance, once a second: dial what it is asked to check. The honest
    // member answers (its link comes up); the ghost never does.
    for (let s = 0; s < 200 && unreachableAt === undefined; s++) {
      const check = t.m.memberToCheck();
      if (check?.nodeId === dialled!.nodeId) t.scheduler.setTimer(50, () => t.m.linkUp(dialled!.nodeId));
      t.scheduler.runFor(1_000);
      if (t.m.stateOf(ghost!.nodeId) === NodeState.Unreachable) unreachableAt = t.scheduler.now;
    }
    // ghostTimeout, then a check interval (ghostTimeout / 6) per candidate before it (the
    // honest member may be checked first), the check (ghostTimeout / 4), the suspicion (5 s).
    expect(unreachableAt).toBeDefined();
    expect(unreachableAt!).toBeLessThanOrEqual(
      ghostTimeoutMs + (2 * ghostTimeoutMs) / 6 + ghostTimeoutMs / 4 + 5_000,
    );
    expect(t.m.metrics.ghostsSuspected).toBe(1);
    for (const id of [linked!, dialled!]) expect(t.m.stateOf(id.nodeId)).toBe(NodeState.Active);
    t.scheduler.runFor(60_000);
    expect(t.m.stateOf(ghost!.nodeId)).toBeUndefined();
    expect(t.m.member(ghost!.nodeId)).toBeUndefined();
    expect(t.m.internedIds).toBe(idsBefore - 1);
  });

  it.each(['gossip', 'news'] as const)(
    'finding 3: 1,000 throwaway identities at 1,000/s over one link (%s frames): admitted at most at the per-link rate',
    async (type) => {
      // minLinks 3 in 4 nodes: once links are topped up (a second after convergence), nobody
      // dials the attacker, it is linked to node 1 only.
      const c = await cluster({ nodes: 4, maxLinks: 8, minLinks: 3 });
      runUntil(c, () => converged(c) && c.nodes.every((n) => n.node.links().length === 3), 30_000);
      const { peer } = hostileMember(c, 1);
      expect(peer.links).toHaveLength(1);
      const flood = Array.from({ length: 1_000 }, () =>
        signClaim(throwaway(), 'alive', { incarnation: 1_700_000_000 }),
      );
      for (let at = 0; at < flood.length; at += 50) {
        gossip(peer, flood.slice(at, at + 50), type);
        c.runFor(50);
      }
      c.runFor(1_000);
      // The honest members, the attacker, a link's burst (a minute's worth: 300 by default) and ~2 s of its rate.
      expect(DEFAULT_HEARTBEAT.newMembersPerLinkPerMinute).toBe(300);
      const bound = 4 + 1 + 300 + 10;
      for (const n of c.nodes) expect(n.node.members().length).toBeLessThanOrEqual(bound);
      // The rest wait for the quota, as many as the link's share of the waiting room; the others are refused.
      const victim = c.nodes[1]!.node;
      expect(victim.metrics().membersWaited).toBe(PER_LINK_WAITING);
      expect(victim.metrics().membersRefused).toBeGreaterThanOrEqual(1_000 - bound - PER_LINK_WAITING);
      // The waiting ones go in at the link's rate (5 a second), not faster, and nowhere else faster.
      const before = victim.members().length;
      c.runFor(30_000);
      const gained = victim.members().length - before;
      expect(gained).toBeGreaterThanOrEqual(140);
      expect(gained).toBeLessThanOrEqual(155);
      for (const n of c.nodes) expect(n.node.members().length).toBeLessThanOrEqual(bound + 155);
    },
  );

  it('finding 3: throwaway identities over many links: admitted at most at the per-node rate', async () => {
    const perNode = 60;
    const c = await cluster({
      nodes: 4,
      maxLinks: 8,
      minLinks: 3,
      heartbeat: { newMembersPerMinute: perNode, newMembersPerLinkPerMinute: 10_000 },
    });
    runUntil(c, () => converged(c), 30_000);
    const attackers = [7, 8, 9].map((seed) => hostileMember(c, 1, seed).peer);
    for (const peer of attackers) {
      gossip(
        peer,
        Array.from({ length: 200 }, () => signClaim(throwaway(), 'alive', { incarnation: 1_700_000_000 })),
      );
    }
    c.runFor(2_000);
    for (const n of c.nodes) expect(n.node.members().length).toBeLessThanOrEqual(4 + 3 + perNode + 3);
    // Over the node's quota they wait (each link's share of the room holds its 200), refused none.
    const m = c.nodes[1]!.node.metrics();
    expect(m.membersWaited).toBeGreaterThanOrEqual(600 - perNode - 3);
    expect(m.membersRefused).toBe(0);
  });

  it("finding 3: over the quota, newcomers wait and go in at its rate; members' own claims over their own links have a budget of their own", () => {
    const t = core({ newMembersPerMinute: 60, newMembersPerLinkPerMinute: 600 }, 1_000, true);
    const relay = identities(1, 100)[0]!;
    const alive = (id: NodeIdentity) => signClaim(id, 'alive', { incarnation: 1_700_000_000 });
    const active = (ids: NodeIdentity[]) =>
      ids.filter((id) => t.m.stateOf(id.nodeId) === NodeState.Active).length;
    t.m.applyClaims([alive(relay)], relay.nodeId);
    const others = identities(100, 120);
    // The node's burst is 60 a minute's worth: the relay's own claim went to the direct budget.
    expect(t.m.applyClaims(others.map(alive), relay.nodeId)).toBe(100);
    expect(active(others)).toBe(60);
    expect(t.m.metrics.membersWaited).toBe(40);
    expect(t.m.metrics.membersRefused).toBe(0);
    // Passed on when they are taken in, not before: the news so far holds the 60 only.
    const news = () => t.events.flatMap((e) => (e.type === 'news' && !e.quiet ? e.claims : []));
    expect(news()).toHaveLength(61);
    // The quota spent, a newcomer's own claim over its own link still goes in at once…
    const joiner = identities(1, 240)[0]!;
    t.m.applyClaims([alive(joiner)], joiner.nodeId);
    expect(t.m.stateOf(joiner.nodeId)).toBe(NodeState.Active);
    // …within a budget as large as the node's (60, two taken): a peer cycling identities
    // through its own links gets 58 more in, and the rest wait.
    const cyclers = Array.from({ length: 70 }, () => throwaway());
    for (const s of cyclers)
      t.m.applyClaims([signClaim(s, 'alive', { incarnation: 1_700_000_000 })], s.nodeId);
    const cyclersIn = () => cyclers.filter((s) => t.m.stateOf(s.nodeId) === NodeState.Active).length;
    expect(cyclersIn()).toBe(58);
    expect(t.m.metrics.membersWaited).toBe(40 + 12);
    // One a second after that (the quota refills continuously), announced late.
    t.scheduler.runFor(10_000);
    expect(active(others)).toBeGreaterThanOrEqual(69);
    expect(active(others)).toBeLessThanOrEqual(71);
    const late = t.events
      .filter((e) => e.type === 'news' && e.late)
      .flatMap((e) => (e.type === 'news' ? e.claims : []));
    // Each budget refills: the relayed ones and the direct ones go in side by side.
    expect(cyclersIn()).toBeGreaterThanOrEqual(58 + 9);
    expect(late.length).toBe(active(others) - 60 + cyclersIn() - 58);
    expect(late.every((c) => c.subject !== relay.nodeId)).toBe(true);
    t.scheduler.runFor(35_000);
    expect(active(others)).toBe(100);
    expect(cyclersIn()).toBe(70);
    expect(t.m.metrics.membersRefused).toBe(0);
  });

  it('finding 3: members and interned ids stay within maxMembers, however many identities arrive', async () => {
    const maxMembers = 100;
    const c = await cluster({
      nodes: 4,
      maxLinks: 8,
      minLinks: 8,
      heartbeat: { maxMembers, newMembersPerMinute: 1e6, newMembersPerLinkPerMinute: 1e6 },
    });
    runUntil(c, () => converged(c), 30_000);
    const { peer } = hostileMember(c, 1);
    gossip(
      peer,
      Array.from({ length: 600 }, () => signClaim(throwaway(), 'alive', { incarnation: 1_700_000_000 })),
    );
    c.runFor(3_000);
    const held = new Set<string>();
    for (const n of c.nodes) {
      expect(n.node.members().length).toBeLessThanOrEqual(maxMembers);
      for (const m of n.node.members()) held.add(m.nodeId);
    }
    // The shared interner holds exactly the ids some node holds: none of the refused ones.
    expect(c.interner.size).toBe(held.size);
  });
});
