import assert from 'node:assert/strict';
import { NodeIdentity } from '../../lib/identity/mod.ts';
import {
  type Claim,
  heartbeatConfig,
  LocalHealth,
  Membership,
  type MembershipEvent,
  NodeState,
  RetransmitQueue,
  StateCode,
  SuspicionTimer,
  signClaim,
  supersedes,
} from '../../lib/membership/mod.ts';
import { SeededRandom } from '../../lib/time/random.ts';
import { VirtualClock, VirtualScheduler } from '../../lib/time/virtual.ts';
import type { Suite } from './case.ts';

const INC = 100;

function setup(heartbeat = {}) {
  const scheduler = new VirtualScheduler();
  const clock = new VirtualClock(scheduler);
  const me = NodeIdentity.fromSecretKey(new Uint8Array(32).fill(1));
  const other = NodeIdentity.fromSecretKey(new Uint8Array(32).fill(2));
  const accuser = NodeIdentity.fromSecretKey(new Uint8Array(32).fill(3));
  const events: MembershipEvent[] = [];
  const core = new Membership({
    signer: me,
    env: { clock, scheduler, random: new SeededRandom(1) },
    send: () => {},
    event: (e) => events.push(e),
    incarnation: INC,
    heartbeat,
  });
  core.bootstrap();
  const alive = (id: NodeIdentity, incarnation: number) => signClaim(id, 'alive', { incarnation });
  // Accusations count only from members.
  core.applyClaims([alive(accuser, INC)]);
  const accuse = (
    kind: 'suspect' | 'unreachable',
    subject: NodeIdentity,
    incarnation: number,
    by = accuser,
  ) => signClaim(by, kind, { incarnation, subject: subject.nodeId });
  const leave = (id: NodeIdentity, incarnation: number) => signClaim(id, 'leave', { incarnation });
  const apply = (...claims: Claim[]) => core.applyClaims(claims);
  const state = () => core.stateOf(other.nodeId);
  const inc = () => core.member(other.nodeId)?.incarnation;
  return { scheduler, core, me, other, accuser, events, alive, accuse, leave, apply, state, inc };
}

export const membershipRuleCases: Suite = {
  'supersedes: higher incarnation wins; equal: Active < Suspect < Unreachable < Left'() {
    const { Active, Suspect, Unreachable, Left, Unknown } = StateCode;
    assert.equal(supersedes(Active, 2, Suspect, 1), true);
    assert.equal(supersedes(Left, 1, Active, 2), false);
    assert.equal(supersedes(Suspect, 1, Active, 1), true);
    assert.equal(supersedes(Unreachable, 1, Suspect, 1), true);
    assert.equal(supersedes(Left, 1, Unreachable, 1), true);
    assert.equal(supersedes(Active, 1, Suspect, 1), false);
    assert.equal(supersedes(Suspect, 1, Unreachable, 1), false);
    assert.equal(supersedes(Active, 0, Unknown, 0), true);
  },

  'only an alive claim introduces an unknown member'() {
    const t = setup();
    t.apply(t.accuse('suspect', t.other, INC));
    t.apply(t.leave(t.other, INC));
    assert.equal(t.state(), undefined);
    t.apply(t.alive(t.other, INC));
    assert.equal(t.state(), NodeState.Active);
  },

  'suspect at the same incarnation overrides Active'() {
    const t = setup();
    t.apply(t.alive(t.other, INC), t.accuse('suspect', t.other, INC));
    assert.equal(t.state(), NodeState.Suspect);
  },

  'alive at the same incarnation does not clear a suspicion'() {
    const t = setup();
    t.apply(t.alive(t.other, INC), t.accuse('suspect', t.other, INC), t.alive(t.other, INC));
    assert.equal(t.state(), NodeState.Suspect);
  },

  'alive at a higher incarnation clears a suspicion (refutation)'() {
    const t = setup();
    t.apply(t.alive(t.other, INC), t.accuse('suspect', t.other, INC), t.alive(t.other, INC + 1));
    assert.equal(t.state(), NodeState.Active);
    assert.equal(t.inc(), INC + 1);
  },

  "another member's unreachable claim is an accusation: Suspect first, Unreachable only by this node's timer"() {
    const t = setup({ suspectTimeoutMs: 5000 });
    t.apply(t.alive(t.other, INC), t.accuse('unreachable', t.other, INC));
    assert.equal(t.state(), NodeState.Suspect);
    t.scheduler.runFor(5_001);
    assert.equal(t.state(), NodeState.Unreachable);
    t.apply(t.accuse('suspect', t.other, INC));
    assert.equal(t.state(), NodeState.Unreachable, 'suspect does not override Unreachable');
  },

  'accusations carry weight only at the incarnation held and from members'() {
    const t = setup();
    const stranger = NodeIdentity.fromSecretKey(new Uint8Array(32).fill(4));
    t.apply(t.alive(t.other, INC));
    t.apply(t.accuse('unreachable', t.other, INC + 1), t.accuse('suspect', t.other, 0xffffffff));
    t.apply(t.accuse('suspect', t.other, INC, stranger));
    assert.equal(t.state(), NodeState.Active);
    assert.equal(t.inc(), INC);
    assert.equal(t.core.metrics.accusationsIgnored, 3);
  },

  'claims below the current incarnation are ignored'() {
    const t = setup();
    t.apply(
      t.alive(t.other, INC + 5),
      t.accuse('suspect', t.other, INC + 4),
      t.accuse('unreachable', t.other, INC),
    );
    assert.equal(t.state(), NodeState.Active);
    assert.equal(t.inc(), INC + 5);
  },

  'leave overrides Unreachable at the same incarnation; a higher alive brings a Left member back'() {
    const t = setup();
    t.apply(t.alive(t.other, INC), t.accuse('unreachable', t.other, INC));
    t.scheduler.runFor(10_000);
    assert.equal(t.state(), NodeState.Unreachable);
    t.apply(t.leave(t.other, INC));
    assert.equal(t.state(), NodeState.Left);
    t.apply(t.alive(t.other, INC));
    assert.equal(t.state(), NodeState.Left);
    t.apply(t.alive(t.other, INC + 1));
    assert.equal(t.state(), NodeState.Active);
  },

  'a suspicion about oneself is refuted with a higher incarnation'() {
    const t = setup();
    t.apply(t.accuse('suspect', t.me, INC));
    assert.equal(t.core.incarnation, INC + 1);
    assert.equal(t.core.selfState, NodeState.Active);
    assert.ok(t.events.some((e) => e.type === 'refuted' && e.incarnation === INC + 1));
    assert.ok(t.events.some((e) => e.type === 'incarnation' && e.incarnation === INC + 1));
    // Nobody holds an incarnation of ours above our own: such an accusation is ignored.
    t.apply(t.accuse('unreachable', t.me, INC + 7));
    assert.equal(t.core.incarnation, INC + 1);
    // Another accusation within the refute interval (suspectTimeoutMs / 5) is answered at its end.
    t.apply(t.accuse('unreachable', t.me, INC + 1));
    assert.equal(t.core.incarnation, INC + 1);
    t.scheduler.runFor(1_000);
    assert.equal(t.core.incarnation, INC + 2);
  },

  'a stale suspicion about oneself does not raise the incarnation'() {
    const t = setup();
    t.apply(t.accuse('suspect', t.me, INC - 1));
    assert.equal(t.core.incarnation, INC);
    assert.equal(t.core.metrics.refutations, 0);
  },

  'Suspect becomes Unreachable after suspectTimeoutMs unless refuted'() {
    const t = setup({ suspectTimeoutMs: 5000 });
    t.apply(t.alive(t.other, INC), t.accuse('suspect', t.other, INC));
    t.scheduler.runFor(4_999);
    assert.equal(t.state(), NodeState.Suspect);
    t.scheduler.runFor(2);
    assert.equal(t.state(), NodeState.Unreachable);
    assert.equal(t.core.metrics.declaredUnreachable, 1);
    const u = setup({ suspectTimeoutMs: 5000 });
    u.apply(u.alive(u.other, INC), u.accuse('suspect', u.other, INC));
    u.scheduler.runFor(3_000);
    u.apply(u.alive(u.other, INC + 1));
    u.scheduler.runFor(10_000);
    assert.equal(u.state(), NodeState.Active);
  },

  'dynamic suspicion starts longer, shrinks with confirmations, never below suspectTimeoutMs'() {
    const s = new VirtualScheduler();
    let expiredAt = -1;
    const timer = new SuspicionTimer({
      accuser: 'a',
      minMs: 5000,
      maxMs: 15000,
      expectedConfirmations: 3,
      scheduler: s,
      now: () => s.now,
      onExpire: () => (expiredAt = s.now),
    });
    assert.equal(timer.timeoutMs(), 15000);
    assert.equal(timer.confirm('b'), true);
    assert.equal(timer.confirm('b'), false, 'same accuser twice is one confirmation');
    const one = timer.timeoutMs();
    assert.ok(one < 15000 && one > 5000);
    timer.confirm('c');
    timer.confirm('d');
    timer.confirm('e');
    assert.equal(timer.timeoutMs(), 5000);
    s.runFor(20_000);
    assert.equal(expiredAt, 5000);
    const fixed = new SuspicionTimer({
      accuser: 'a',
      minMs: 5000,
      maxMs: 5000,
      expectedConfirmations: 3,
      scheduler: s,
      now: () => s.now,
      onExpire: () => {},
    });
    fixed.confirm('b');
    assert.equal(fixed.timeoutMs(), 5000);
  },

  'local health stretches timeouts by 1 + score, capped'() {
    const h = new LocalHealth(8);
    assert.equal(h.scale(500), 500);
    h.apply(3);
    assert.equal(h.scale(500), 2000);
    h.apply(100);
    assert.equal(h.score, 8);
    h.apply(-100);
    assert.equal(h.score, 0);
  },

  'retransmit queue: least-sent then newest first, byte budget, limit, replacement'() {
    const q = new RetransmitQueue(16);
    const ids = [1, 2, 3].map((n) => NodeIdentity.fromSecretKey(new Uint8Array(32).fill(n)));
    const [a, b, c] = ids.map((id) => signClaim(id, 'alive', { incarnation: 1 }));
    q.push(a!);
    q.push(b!);
    q.push(c!);
    const budget = a!.size * 2 + 1;
    const wide = a!.size * 3 + 1;
    assert.deepEqual(q.take(budget, 3, 'p1', 100), [c, b], 'newest first, within budget');
    assert.deepEqual(q.take(budget, 3, 'p2', 100), [a, c], 'then the least sent');
    const newer = signClaim(ids[1]!, 'alive', { incarnation: 2 });
    q.push(newer);
    assert.deepEqual(q.take(wide, 3, 'p3', 100), [newer, a, c], 'a newer claim about b replaced the old one');
    assert.deepEqual(q.take(wide, 3, 'p4', 100), [newer, a], 'c was retired after its third transmission');
    assert.deepEqual(q.take(wide, 3, 'p5', 100), [newer], 'then a');
    assert.equal(q.size, 0);
  },

  'retransmit queue never sends a claim to a neighbour that has it, and retires it once all have'() {
    const q = new RetransmitQueue(16);
    const a = signClaim(NodeIdentity.fromSecretKey(new Uint8Array(32).fill(1)), 'alive', { incarnation: 1 });
    const b = signClaim(NodeIdentity.fromSecretKey(new Uint8Array(32).fill(2)), 'alive', { incarnation: 1 });
    q.push(a, 'n1'); // received from n1
    q.push(b);
    assert.deepEqual(q.take(10_000, 50, 'n1', 3), [b], 'a came from n1');
    assert.deepEqual(q.take(10_000, 50, 'n1', 3), [], 'n1 has both now');
    q.markKnown(b, 'n2');
    assert.deepEqual(q.take(10_000, 50, 'n2', 3), [a]);
    assert.deepEqual(q.take(10_000, 50, 'n3', 3), [a, b]);
    assert.equal(q.size, 0, 'every one of the 3 neighbours has both');
  },

  'retransmit queue keeps at most maxDepth entries, dropping the most-sent'() {
    const q = new RetransmitQueue(16);
    const claims = Array.from({ length: 20 }, (_, i) =>
      signClaim(NodeIdentity.fromSecretKey(new Uint8Array(32).fill(i + 1)), 'alive', { incarnation: 1 }),
    );
    for (const c of claims.slice(0, 4)) q.push(c);
    q.take(10_000, 10, 'p1', 100);
    for (const c of claims.slice(4)) q.push(c);
    assert.equal(q.size, 16);
    const left = q.take(100_000, 10, 'p2', 100);
    for (const c of claims.slice(4)) assert.ok(left.includes(c), 'the never-sent survive');
  },

  'heartbeat config: defaults as designed, invalid values refused'() {
    const c = heartbeatConfig();
    assert.deepEqual(
      [
        c.probeIntervalMs,
        c.pingTimeoutMs,
        c.suspectTimeoutMs,
        c.indirectWitnesses,
        c.gossipIntervalMs,
        c.gossipFanout,
      ],
      [1000, 500, 5000, 3, 200, 3],
    );
    assert.throws(() => heartbeatConfig({ probeIntervalMs: 0 }), /probeIntervalMs/);
    assert.throws(() => heartbeatConfig({ pingTimeoutMs: 1500 }), /pingTimeoutMs/);
    assert.throws(() => heartbeatConfig({ indirectWitnesses: 1.5 }), /indirectWitnesses/);
    assert.throws(() => heartbeatConfig({ dynamicSuspicion: { maxMultiplier: 0.5 } }), /maxMultiplier/);
  },
};
