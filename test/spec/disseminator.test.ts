// Spreading membership news (lib/membership/disseminator.ts) and the transmit-limited queue
// behind it (retransmit-queue.ts), driven directly: a fake membership context, virtual time,
// a seeded random source. Names follow SWIM §4.1 (infection-style dissemination), Lifeguard
// and memberlist's queue_test.go (TransmitLimitedQueue).
import { describe, expect, it } from 'vitest';
import { type Claim, signClaim } from '../../lib/membership/claims.ts';
import { pushPullInterval } from '../../lib/membership/config.ts';
import { Disseminator } from '../../lib/membership/disseminator.ts';
import { StateCode } from '../../lib/membership/node-state.ts';
import { PushPull } from '../../lib/membership/push-pull.ts';
import { RetransmitQueue } from '../../lib/membership/retransmit-queue.ts';
import { FakeMembershipContext, identity } from '../support/membership-context.ts';

const me = identity(1);
const BIG = 1 << 20;

/** An accusation by this node of a made-up member `k`: a cheap, distinct claim (keyed by subject and accuser). */
function suspicion(k: number): Claim {
  return signClaim(me, 'suspect', { incarnation: 1, subject: k.toString(16).padStart(32, '0') });
}

function peers(n: number): string[] {
  return Array.from({ length: n }, (_, k) => `peer-${k}`);
}

/** A disseminator over `members` members (this node included) and `links` linked peers. */
function setup(opts: { members?: number; links?: number; heartbeat?: object; seed?: number } = {}) {
  const ctx = new FakeMembershipContext({ self: me, heartbeat: opts.heartbeat, seed: opts.seed });
  for (let k = 1; k < (opts.members ?? 1); k++) {
    const id = (0xabc000 + k).toString(16).padStart(32, '0');
    ctx.table.set(ctx.table.admit(id), StateCode.Active, 1, 0, ctx.table.aliveClaim(ctx.selfIndex)!);
  }
  for (const p of peers(opts.links ?? 0)) ctx.links.add(p);
  const pp = new PushPull(ctx, {
    claimsOf: (i) => ctx.claimsOf(i),
    replied() {},
    welcomed() {},
    answered() {},
  });
  const d = new Disseminator(ctx, pp);
  return { ctx, d, pp };
}

describe('RetransmitQueue and Disseminator: how often an update is sent', () => {
  it('an update is retransmitted λ·⌈log₂(n+1)⌉ times then dropped', () => {
    // n = 5 members: ⌈log₂ 6⌉ = 3, λ = 4 → 12 transmissions; more neighbours than that.
    const { ctx, d } = setup({ members: 5, links: 20 });
    expect(d.limit()).toBe(12);
    const c = suspicion(1);
    d.queue.push(c);
    const got = peers(20).map((p) => d.piggyback(BIG, p).length);
    expect(got).toEqual([...Array(12).fill(1), ...Array(8).fill(0)]);
    expect(d.queue.size).toBe(0);
    expect(ctx.table.size).toBe(5);
  });

  it('the transmit limit grows with the cluster: λ·⌈log₂(n+1)⌉', () => {
    const limits = [1, 2, 3, 7, 8, 100].map((n) => setup({ members: n }).d.limit());
    expect(limits).toEqual([4, 8, 8, 12, 16, 28]);
    expect(setup({ members: 7, heartbeat: { retransmitMult: 2 } }).d.limit()).toBe(6);
  });

  it('an update is never sent to a neighbour that has it: sent to it, or received from it', () => {
    const q = new RetransmitQueue(1024);
    const c = suspicion(1);
    q.push(c, 'a');
    expect(q.take(BIG, 10, 'a', 10)).toEqual([]);
    expect(q.take(BIG, 10, 'b', 10)).toEqual([c]);
    expect(q.take(BIG, 10, 'b', 10)).toEqual([]);
    q.markKnown(c, 'c');
    expect(q.take(BIG, 10, 'c', 10)).toEqual([]);
    // Another claim about the same thing (other bytes) does not mark it known.
    q.markKnown(signClaim(me, 'suspect', { incarnation: 2, subject: c.subject }), 'd');
    expect(q.take(BIG, 10, 'd', 10)).toEqual([c]);
  });

  it('an update retires as soon as every neighbour has it', () => {
    const q = new RetransmitQueue(1024);
    const c = suspicion(1);
    q.push(c, 'a');
    expect(q.take(BIG, 100, 'b', 3)).toEqual([c]);
    expect(q.size).toBe(1);
    expect(q.take(BIG, 100, 'c', 3)).toEqual([c]);
    expect(q.size).toBe(0);
    expect(q.take(BIG, 100, 'e', 3)).toEqual([]);
  });

  it('least-sent updates go first, the newest first among equals, within the byte budget', () => {
    const q = new RetransmitQueue(1024);
    const [c1, c2, c3] = [suspicion(1), suspicion(2), suspicion(3)] as [Claim, Claim, Claim];
    q.push(c1);
    q.push(c2);
    q.push(c3);
    const two = c1.size + c2.size + 50;
    expect(q.take(two, 10, 'a', 10)).toEqual([c3, c2]);
    // c1 has not been sent yet; then the newest of those sent once.
    expect(q.take(two, 10, 'b', 10)).toEqual([c1, c3]);
    // c3, sent twice now, waits behind the two sent once.
    expect(new Set(q.take(two, 10, 'c', 10))).toEqual(new Set([c1, c2]));
    expect(q.take(c1.size - 1, 10, 'd', 10)).toEqual([]);
  });

  it('a newer claim about a member replaces what is queued about it; independent accusers’ suspicions are kept side by side', () => {
    const q = new RetransmitQueue(1024);
    const m = identity(5);
    const subject = m.nodeId;
    const other = identity(6);
    q.push(signClaim(m, 'alive', { incarnation: 1 }));
    q.push(signClaim(me, 'suspect', { incarnation: 1, subject }));
    q.push(signClaim(other, 'suspect', { incarnation: 1, subject }));
    expect(q.size).toBe(3);
    // The same accuser again replaces its own.
    q.push(signClaim(me, 'suspect', { incarnation: 1, subject }));
    expect(q.size).toBe(3);
    const declared = signClaim(me, 'unreachable', { incarnation: 1, subject });
    q.push(declared);
    expect(q.size).toBe(1);
    const refuted = signClaim(m, 'alive', { incarnation: 2 });
    q.push(refuted);
    expect(q.take(BIG, 10, 'a', 10)).toEqual([refuted]);
  });

  it('the queue holds at most maxQueueDepth updates, dropping the most-sent, oldest first', () => {
    const q = new RetransmitQueue(16);
    const claims = Array.from({ length: 17 }, (_, k) => suspicion(k + 1));
    for (const c of claims.slice(0, 16)) q.push(c);
    expect(q.take(BIG, 10, 'a', 10)).toHaveLength(16);
    // Three of them (the newest) go out a second time.
    const three = claims[0]!.size * 3;
    expect(q.take(three, 10, 'b', 10)).toEqual([claims[15], claims[14], claims[13]]);
    q.push(claims[16]!);
    expect(q.size).toBe(16);
    const left = q.take(BIG, 10, 'z', 10);
    expect(left).toHaveLength(16);
    expect(left).toContain(claims[16]);
    expect(left).toContain(claims[0]);
    expect(left).not.toContain(claims[13]);
  });
});

describe('Disseminator: gossip and push-pull timing', () => {
  it('every gossip tick, up to gossipFanout random neighbours get the queued updates; an empty queue sends nothing', () => {
    const { ctx, d } = setup({ members: 4, links: 6 });
    d.start();
    ctx.scheduler.runFor(1_000);
    expect(ctx.ofType('gossip')).toEqual([]);
    const c = suspicion(9);
    d.queue.push(c);
    const start = ctx.scheduler.now;
    ctx.runUntilSent(ctx.config.gossipIntervalMs);
    const first = ctx.ofType('gossip');
    expect(first).toHaveLength(3);
    expect(new Set(first.map((g) => g.to)).size).toBe(3);
    expect(first.every((g) => g.cls === 'datagram' && g.msg.g.length === 1 && g.at === first[0]!.at)).toBe(
      true,
    );
    expect(first[0]!.at - start).toBeLessThanOrEqual(ctx.config.gossipIntervalMs);
    expect(ctx.metrics.gossipMessages).toBe(3);
    // Later ticks reach the others, never one that has it; then the update is retired.
    ctx.scheduler.runFor(20 * ctx.config.gossipIntervalMs);
    const all = ctx.ofType('gossip');
    expect(all.map((g) => g.to).sort()).toEqual(peers(6).sort());
    expect(d.queue.size).toBe(0);
    ctx.scheduler.runFor(10 * ctx.config.gossipIntervalMs);
    expect(ctx.ofType('gossip')).toHaveLength(6);
  });

  it('an idle gossip tick parks: no wake-ups while nothing is queued; news queued later goes at the next tick of the same cadence', () => {
    const { ctx, d } = setup({ members: 3, links: 2, heartbeat: { pushPullIntervalMs: 10_000_000 } });
    const interval = ctx.config.gossipIntervalMs;
    d.start();
    d.queue.push(suspicion(1));
    ctx.scheduler.runFor(interval);
    const t0 = ctx.ofType('gossip')[0]!.at;
    ctx.scheduler.runFor(20 * interval);
    expect(d.queue.size).toBe(0);
    // Parked: only the push-pull timer is left.
    expect(ctx.scheduler.pending).toBe(1);
    ctx.scheduler.runFor(7.3 * interval);
    const before = ctx.ofType('gossip').length;
    d.queue.push(suspicion(2));
    expect(ctx.scheduler.pending).toBe(2);
    ctx.scheduler.runFor(interval);
    const next = ctx.ofType('gossip').slice(before);
    expect(next.length).toBeGreaterThan(0);
    const phase = (next[0]!.at - t0) / interval;
    expect(Math.abs(phase - Math.round(phase))).toBeLessThan(1e-9);
  });

  it('the push-pull interval grows with ⌈log₂(n/32)⌉ above 32 members', () => {
    expect([1, 32, 33, 64, 65, 128, 1024].map((n) => pushPullInterval(30_000, n))).toEqual([
      30_000, 30_000, 60_000, 60_000, 90_000, 90_000, 180_000,
    ]);
  });

  it('a periodic push-pull asks one neighbour per interval, one not asked within the interval', () => {
    const { ctx, d, pp } = setup({ members: 3, links: 3 });
    pp.start('peer-0');
    pp.start('peer-1');
    ctx.drain();
    d.start();
    ctx.scheduler.runFor(30_000);
    expect(ctx.ofType('digest').map((s) => s.to)).toEqual(['peer-2']);
    ctx.scheduler.runFor(9 * 30_000);
    const digests = ctx.ofType('digest');
    expect(digests).toHaveLength(10);
    for (let k = 1; k < digests.length; k++) expect(digests[k]!.at - digests[k - 1]!.at).toBe(30_000);
  });

  it('no push-pull while every neighbour was asked within the interval', () => {
    const { ctx, d, pp } = setup({ members: 3, links: 1 });
    pp.start('peer-0');
    ctx.drain();
    d.start();
    ctx.scheduler.runFor(29_999);
    expect(ctx.ofType('digest')).toEqual([]);
    ctx.scheduler.runFor(30_001);
    expect(ctx.ofType('digest')).toHaveLength(1);
  });

  it('after a join, two follow-up exchanges happen within 3–6 s and 12–20 s', () => {
    const { ctx, d } = setup({ members: 3, links: 3, heartbeat: { pushPullIntervalMs: 10_000_000 } });
    d.start();
    d.afterJoin();
    ctx.scheduler.runFor(25_000);
    const at = ctx.ofType('digest').map((s) => s.at);
    expect(at).toHaveLength(2);
    expect(at[0]).toBeGreaterThanOrEqual(3_000);
    expect(at[0]).toBeLessThan(6_000);
    expect(at[1]).toBeGreaterThanOrEqual(12_000);
    expect(at[1]).toBeLessThan(20_000);
  });

  it('where the interval is scaled, a periodic exchange within half an interval after a follow-up is skipped (that was a full exchange too)', () => {
    let skipped = 0;
    for (let seed = 1; seed <= 40; seed++) {
      // The same seed draws the same periodic instants with or without a join: the run
      // without one shows them. 40 members: the interval is 60 s.
      const digestTimes = (join: boolean, members = 40) => {
        const { ctx, d } = setup({ members, links: 8, seed });
        d.start();
        if (join) d.afterJoin();
        ctx.scheduler.runFor(120_000);
        return ctx.ofType('digest').map((s) => s.at);
      };
      const periodic = digestTimes(false);
      expect(periodic).toHaveLength(2);
      const withJoin = digestTimes(true);
      const followUps = withJoin.filter((t) => !periodic.includes(t));
      expect(followUps).toHaveLength(2);
      const kept = periodic.filter((p) => !followUps.some((f) => p >= f && p - f < 30_000));
      skipped += periodic.length - kept.length;
      expect(withJoin).toEqual([...followUps, ...kept].sort((a, b) => a - b));
      // 32 members or fewer (the interval unscaled): none skipped.
      expect(digestTimes(true, 32)).toHaveLength(2 + digestTimes(false, 32).length);
    }
    expect(skipped).toBeGreaterThan(3);
  });

  it('stopping ends gossip and exchanges', () => {
    const { ctx, d } = setup({ members: 3, links: 3 });
    d.start();
    d.afterJoin();
    d.stop();
    d.queue.push(suspicion(1));
    ctx.scheduler.runFor(100_000);
    expect(ctx.sent).toEqual([]);
    expect(ctx.scheduler.pending).toBe(0);
  });
});
