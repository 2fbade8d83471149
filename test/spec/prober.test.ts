// The SWIM probe loop with Lifeguard (lib/membership/prober.ts), driven directly: a fake
// membership context, virtual time, a seeded random source. Names follow the SWIM paper
// (§3–4), Lifeguard (§IV) and memberlist's state_test.go.
import { describe, expect, it } from 'vitest';
import { Domain, signingInput } from '../../lib/identity/signed.ts';
import { signClaim } from '../../lib/membership/claims.ts';
import { StateCode } from '../../lib/membership/node-state.ts';
import { Prober, probeAckPayload } from '../../lib/membership/prober.ts';
import { equalBytes, fromHex, toHex } from '../../lib/util/bytes.ts';
import type { MessageOf } from '../../lib/wire/messages.ts';
import { FakeMembershipContext, identity, type Sent } from '../support/membership-context.ts';

const PERIOD = 1000;
const TIMEOUT = 500;

/** A prober over `members` linked members (identities 2…), all Active unless `states` says otherwise. */
function setup(members: number, opts: { states?: StateCode[]; seed?: number } = {}) {
  const ctx = new FakeMembershipContext({ seed: opts.seed });
  const ids: string[] = [];
  for (let k = 0; k < members; k++) {
    const id = ctx.setMember(identity(k + 2), opts.states?.[k] ?? StateCode.Active);
    ids.push(id);
    ctx.links.add(id);
  }
  const failed: string[] = [];
  const signed: Uint8Array[] = [];
  const prober = new Prober(ctx, {
    failed: (t) => failed.push(t),
    sign: (data) => {
      signed.push(data);
      return ctx.self.sign(data);
    },
  });
  for (const id of ids) prober.linkUp(id);
  return { ctx, prober, ids, failed, signed };
}

/** Starts the loop and returns its first probe: the datagram ping, its target and the time it left. */
function firstProbe(t: ReturnType<typeof setup>) {
  t.prober.start();
  const ping = t.ctx.runUntilSent() as Sent<'ping'>;
  expect(ping.msg.type).toBe('ping');
  return { ping, target: ping.to, t0: ping.at, others: t.ids.filter((id) => id !== ping.to) };
}

function ack(seq: number, extra: Partial<MessageOf<'ack'>> = {}): MessageOf<'ack'> {
  return { type: 'ack', seq, ...extra };
}

describe('Prober: the probe loop', () => {
  it('each linked member is probed once per round, in an order reshuffled every round', () => {
    const t = setup(4);
    t.prober.start();
    const targets: string[] = [];
    for (let k = 0; k < 8; k++) {
      const ping = t.ctx.runUntilSent() as Sent<'ping'>;
      expect(ping.msg.type).toBe('ping');
      expect(ping.cls).toBe('datagram');
      expect(toHex(ping.msg.to)).toBe(ping.to);
      targets.push(ping.to);
      t.prober.onAck(ping.to, ack(ping.msg.seq));
    }
    expect(new Set(targets.slice(0, 4))).toEqual(new Set(t.ids));
    expect(new Set(targets.slice(4))).toEqual(new Set(t.ids));
    // One probe per period: eight probes take seven periods after the first.
    const pings = t.ctx.ofType('ping');
    expect(pings[7]!.at - pings[0]!.at).toBe(7 * PERIOD);
    expect(t.failed).toEqual([]);
  });

  it('Suspect members are probed; Unreachable and Left members are not', () => {
    const t = setup(3, { states: [StateCode.Suspect, StateCode.Unreachable, StateCode.Left] });
    t.prober.start();
    for (let k = 0; k < 3; k++) {
      const ping = t.ctx.runUntilSent() as Sent<'ping'>;
      t.prober.onAck(ping.to, ack(ping.msg.seq));
    }
    expect(new Set(t.ctx.ofType('ping').map((p) => p.to))).toEqual(new Set([t.ids[0]]));
  });

  it('an acked ping ends the probe: no witnesses asked, nothing failed, local health improves', () => {
    const t = setup(4);
    t.ctx.health.apply(2);
    const { ping, target, t0 } = firstProbe(t);
    t.prober.onAck(target, ack(ping.msg.seq));
    // Health 2 stretches this probe's period to three; it ends with no witness asked.
    t.ctx.scheduler.runUntil(t0 + 3 * PERIOD);
    expect(t.ctx.ofType('ping-req')).toEqual([]);
    expect(t.ctx.metrics.acks).toBe(1);
    expect(t.ctx.health.score).toBe(1);
    expect(t.failed).toEqual([]);
  });

  it('an ack cancels the ping timeout: between probes only the end of the period is pending', () => {
    const t = setup(4);
    const { ping, target } = firstProbe(t);
    expect(t.ctx.scheduler.pending).toBe(2);
    t.prober.onAck(target, ack(ping.msg.seq));
    expect(t.ctx.scheduler.pending).toBe(1);
  });

  it('an unacked ping leads to ping-reqs through k witnesses and a stream ping after the ping timeout', () => {
    const t = setup(5);
    const { ping, target, t0 } = firstProbe(t);
    t.ctx.scheduler.runUntil(t0 + TIMEOUT - 1);
    expect(t.ctx.ofType('ping-req')).toEqual([]);
    t.ctx.scheduler.runUntil(t0 + TIMEOUT);
    const reqs = t.ctx.ofType('ping-req');
    expect(reqs).toHaveLength(t.ctx.config.indirectWitnesses);
    expect(new Set(reqs.map((r) => r.to)).size).toBe(3);
    for (const r of reqs) {
      expect(r.to).not.toBe(target);
      expect(r.cls).toBe('datagram');
      expect(r.msg.seq).toBe(ping.msg.seq);
      expect(toHex(r.msg.target)).toBe(target);
      expect(r.msg.n).toHaveLength(32);
      expect(equalBytes(r.msg.n!, reqs[0]!.msg.n!)).toBe(true);
    }
    const stream = t.ctx.ofType('ping').filter((p) => p.cls === 'stream');
    expect(stream.map((p) => [p.to, p.msg.seq, p.at])).toEqual([[target, ping.msg.seq, t0 + TIMEOUT]]);
    expect(t.ctx.metrics.indirectProbes).toBe(3);
  });

  it('each probe asks witnesses with a fresh nonce', () => {
    const t = setup(3);
    firstProbe(t);
    t.ctx.scheduler.runFor(2 * PERIOD + TIMEOUT);
    const nonces = new Set(t.ctx.ofType('ping-req').map((r) => toHex(r.msg.n!)));
    expect(t.ctx.ofType('ping-req').length).toBeGreaterThan(2);
    expect(nonces.size).toBe(new Set(t.ctx.ofType('ping-req').map((r) => r.msg.seq)).size);
    expect(nonces.size).toBeGreaterThan(1);
  });

  it('no ack by the end of the probe period: the target is reported failed', () => {
    const t = setup(4);
    const { target, t0 } = firstProbe(t);
    t.ctx.scheduler.runUntil(t0 + PERIOD - 1);
    expect(t.failed).toEqual([]);
    t.ctx.scheduler.runUntil(t0 + PERIOD);
    expect(t.failed).toEqual([target]);
  });

  it('a late ack over the stream fallback still saves the target', () => {
    const t = setup(4);
    const { ping, target, t0 } = firstProbe(t);
    t.ctx.scheduler.runUntil(t0 + TIMEOUT + 100);
    t.prober.onAck(target, ack(ping.msg.seq));
    t.ctx.scheduler.runUntil(t0 + PERIOD);
    expect(t.failed).toEqual([]);
  });

  it('a probe of a member whose link closes is abandoned, not failed, and the next one starts at once', () => {
    const t = setup(3);
    const { target, t0 } = firstProbe(t);
    t.ctx.links.delete(target);
    t.prober.linkDown(target);
    const next = t.ctx.runUntilSent() as Sent<'ping'>;
    expect(next.at).toBe(t0);
    expect(next.to).not.toBe(target);
    t.ctx.scheduler.runUntil(t0 + 3 * PERIOD);
    expect(t.failed).not.toContain(target);
  });
});

describe('Prober: witnesses and indirect acks', () => {
  it('only neighbours linked to the target are asked as witnesses', () => {
    const t = setup(6);
    const { target, t0, others } = firstProbe(t);
    const [reportsTarget, reportsOther, silent, unreachable, unknown] = others as [
      string,
      string,
      string,
      string,
      string,
    ];
    t.prober.neighbours.set(reportsTarget, new Set([target]));
    t.prober.neighbours.set(reportsOther, new Set([reportsTarget]));
    // `silent` has not told its links: it may be linked to the target.
    t.ctx.table.set(
      t.ctx.table.ids.lookup(unreachable)!,
      StateCode.Unreachable,
      1,
      0,
      signClaim(t.ctx.self, 'unreachable', { incarnation: 1, subject: unreachable }),
    );
    t.ctx.table.remove(t.ctx.table.ids.lookup(unknown)!);
    t.ctx.scheduler.runUntil(t0 + TIMEOUT);
    expect(new Set(t.ctx.ofType('ping-req').map((r) => r.to))).toEqual(new Set([reportsTarget, silent]));
  });

  it('at most k witnesses are asked, chosen at random', () => {
    const asked = new Set<string>();
    for (const seed of [1, 2, 3, 4, 5, 6]) {
      const t = setup(8, { seed });
      const { t0 } = firstProbe(t);
      t.ctx.scheduler.runUntil(t0 + TIMEOUT);
      const reqs = t.ctx.ofType('ping-req');
      expect(reqs).toHaveLength(3);
      for (const r of reqs) asked.add(r.to);
    }
    expect(asked.size).toBeGreaterThan(3);
  });

  it('an ack relayed by a witness counts only if it names the target and carries the nonce of the ping-req', () => {
    const t = setup(4);
    const { ping, target, t0 } = firstProbe(t);
    t.ctx.scheduler.runUntil(t0 + TIMEOUT);
    const [req] = t.ctx.ofType('ping-req');
    const witness = req!.to;
    const seq = ping.msg.seq;
    const wrong = new Uint8Array(32).fill(7);
    // A bare ack from the witness is about the witness, not the target.
    t.prober.onAck(witness, ack(seq));
    // Naming the target without the nonce, or with another, proves nothing.
    t.prober.onAck(witness, ack(seq, { t: fromHex(target) }));
    t.prober.onAck(witness, ack(seq, { t: fromHex(target), n: wrong }));
    expect(t.ctx.metrics.acksRejected).toBe(3);
    expect(t.ctx.metrics.acks).toBe(0);
    t.prober.onAck(witness, ack(seq, { t: fromHex(target), n: req!.msg.n! }));
    expect(t.ctx.metrics.acks).toBe(1);
    t.ctx.scheduler.runUntil(t0 + PERIOD);
    expect(t.failed).toEqual([]);
  });

  it('missed nacks raise local health: by one for each witness asked that sent none', () => {
    const penalty = (nackers: number) => {
      const t = setup(4);
      const { ping, t0 } = firstProbe(t);
      t.ctx.scheduler.runUntil(t0 + TIMEOUT);
      const witnesses = t.ctx.ofType('ping-req').map((r) => r.to);
      expect(witnesses).toHaveLength(3);
      for (const w of witnesses.slice(0, nackers)) t.prober.onNack(w, ping.msg.seq);
      t.ctx.scheduler.runUntil(t0 + PERIOD);
      expect(t.failed).toHaveLength(1);
      return t.ctx.health.score;
    };
    expect(penalty(0)).toBe(3);
    expect(penalty(1)).toBe(2);
    expect(penalty(3)).toBe(0);
  });

  it('a nack counts once, only from a witness asked, only for the probe in progress', () => {
    const t = setup(4);
    const { ping, target, t0, others } = firstProbe(t);
    t.ctx.scheduler.runUntil(t0 + TIMEOUT);
    const asked = t.ctx.ofType('ping-req').map((r) => r.to);
    t.prober.onNack(asked[0]!, ping.msg.seq);
    t.prober.onNack(asked[0]!, ping.msg.seq);
    t.prober.onNack(target, ping.msg.seq);
    t.prober.onNack(asked[1]!, ping.msg.seq + 1);
    expect(others).toHaveLength(3);
    expect(t.ctx.metrics.nacksReceived).toBe(1);
    t.ctx.scheduler.runUntil(t0 + PERIOD);
    expect(t.ctx.health.score).toBe(2);
  });

  it('with no witness to ask, a failed probe raises local health by one', () => {
    const t = setup(1);
    const { t0 } = firstProbe(t);
    t.ctx.scheduler.runUntil(t0 + PERIOD);
    expect(t.ctx.ofType('ping-req')).toEqual([]);
    expect(t.failed).toHaveLength(1);
    expect(t.ctx.health.score).toBe(1);
  });

  it('local health stretches the ping timeout and the probe period (Lifeguard)', () => {
    const t = setup(3);
    t.ctx.health.apply(1);
    const { t0 } = firstProbe(t);
    t.ctx.scheduler.runUntil(t0 + 2 * TIMEOUT - 1);
    expect(t.ctx.ofType('ping-req')).toEqual([]);
    t.ctx.scheduler.runUntil(t0 + 2 * TIMEOUT);
    expect(t.ctx.ofType('ping-req')).toHaveLength(2);
    t.ctx.scheduler.runUntil(t0 + 2 * PERIOD - 1);
    expect(t.failed).toEqual([]);
    t.ctx.scheduler.runUntil(t0 + 2 * PERIOD);
    expect(t.failed).toHaveLength(1);
  });
});

describe('Prober: a lost link', () => {
  /** Three members; the link to the first closed unexpectedly and it is checked. */
  function lost() {
    const t = setup(3);
    const [target] = t.ids as [string];
    t.ctx.links.delete(target);
    t.prober.linkDown(target);
    t.prober.start();
    t.ctx.drain();
    const t0 = t.ctx.scheduler.now;
    t.prober.checkLost(target);
    const reqs = t.ctx.ofType('ping-req');
    return { ...t, target, t0, reqs };
  }

  it('a lost link is checked through witnesses still linked to the member', () => {
    const t = lost();
    expect(t.reqs.map((r) => r.to).sort()).toEqual(t.ids.slice(1).sort());
    for (const r of t.reqs) expect(toHex(r.msg.target)).toBe(t.target);
  });

  it('a lost link is suspected only when no witness vouches and no new link appears', () => {
    const silent = lost();
    silent.ctx.scheduler.runUntil(silent.t0 + PERIOD - 1);
    expect(silent.failed).not.toContain(silent.target);
    silent.ctx.scheduler.runUntil(silent.t0 + PERIOD);
    expect(silent.failed).toContain(silent.target);

    const vouched = lost();
    const [req] = vouched.reqs;
    vouched.prober.onAck(req!.to, ack(req!.msg.seq, { t: fromHex(vouched.target), n: req!.msg.n! }));
    vouched.ctx.scheduler.runUntil(vouched.t0 + PERIOD);
    expect(vouched.failed).not.toContain(vouched.target);

    const relinked = lost();
    relinked.ctx.links.add(relinked.target);
    relinked.ctx.scheduler.runUntil(relinked.t0 + PERIOD);
    expect(relinked.failed).not.toContain(relinked.target);
  });

  it('a witness ack without the nonce of the check does not vouch for a lost member', () => {
    const t = lost();
    const [req] = t.reqs;
    t.prober.onAck(req!.to, ack(req!.msg.seq, { t: fromHex(t.target), n: new Uint8Array(32) }));
    t.prober.onAck(req!.to, ack(req!.msg.seq));
    expect(t.ctx.metrics.acksRejected).toBe(2);
    t.ctx.scheduler.runUntil(t.t0 + PERIOD);
    expect(t.failed).toContain(t.target);
  });

  it('one check per lost member at a time', () => {
    const t = lost();
    t.prober.checkLost(t.target);
    expect(t.ctx.ofType('ping-req')).toHaveLength(t.reqs.length);
    t.ctx.scheduler.runUntil(t.t0 + PERIOD);
    expect(t.failed.filter((f) => f === t.target)).toHaveLength(1);
  });
});

describe('Prober: answering as witness and as target', () => {
  it('a witness pings the target for the requester, with its nonce and id, and relays the signed ack under the requester’s seq', () => {
    const t = setup(2);
    const [requester, target] = t.ids as [string, string];
    const n = new Uint8Array(32).fill(3);
    t.prober.onPingReq(requester, { type: 'ping-req', seq: 77, target: fromHex(target), n });
    const [ping] = t.ctx.ofType('ping');
    expect(ping!.to).toBe(target);
    expect(ping!.cls).toBe('datagram');
    expect(toHex(ping!.msg.to)).toBe(target);
    expect(ping!.msg.n).toEqual(n);
    expect(toHex(ping!.msg.r!)).toBe(requester);
    // Only the target's ack ends the relay.
    t.prober.onAck(requester, ack(ping!.msg.seq));
    expect(t.ctx.ofType('ack')).toEqual([]);
    const sig = new Uint8Array(64).fill(9);
    t.prober.onAck(target, ack(ping!.msg.seq, { t: fromHex(target), n, sig }));
    const acks = t.ctx.ofType('ack');
    expect(acks.map((a) => [a.to, a.msg.seq])).toEqual([[requester, 77]]);
    expect(acks[0]!.msg.sig).toEqual(sig);
    expect(acks[0]!.msg.n).toEqual(n);
    expect(toHex(acks[0]!.msg.t!)).toBe(target);
    expect(t.ctx.metrics.relayedProbes).toBe(1);
    // The relay is over: no nack follows.
    t.ctx.scheduler.runFor(PERIOD);
    expect(t.ctx.ofType('nack')).toEqual([]);
  });

  it('a witness not linked to the target answers nack at once', () => {
    const t = setup(1);
    const [requester] = t.ids as [string];
    const stranger = identity(99).nodeId;
    t.prober.onPingReq(requester, { type: 'ping-req', seq: 5, target: fromHex(stranger) });
    expect(t.ctx.sent.map((s) => [s.to, s.msg])).toEqual([[requester, { type: 'nack', seq: 5 }]]);
  });

  it('a witness that hears nothing from the target nacks at 80% of the ping timeout', () => {
    const t = setup(2);
    const [requester, target] = t.ids as [string, string];
    t.prober.onPingReq(requester, { type: 'ping-req', seq: 6, target: fromHex(target) });
    t.ctx.scheduler.runUntil(0.8 * TIMEOUT - 1);
    expect(t.ctx.ofType('nack')).toEqual([]);
    t.ctx.scheduler.runUntil(0.8 * TIMEOUT);
    expect(t.ctx.ofType('nack').map((s) => [s.to, s.msg.seq])).toEqual([[requester, 6]]);
  });

  it('relays in flight are bounded per asking link: beyond 32 the witness nacks', () => {
    const t = setup(3);
    const [greedy, other, target] = t.ids as [string, string, string];
    for (let seq = 0; seq < 33; seq++)
      t.prober.onPingReq(greedy, { type: 'ping-req', seq, target: fromHex(target) });
    expect(t.ctx.ofType('ping', target)).toHaveLength(32);
    expect(t.ctx.ofType('nack', greedy).map((s) => s.msg.seq)).toEqual([32]);
    expect(t.ctx.metrics.relaysRefused).toBe(1);
    t.prober.onPingReq(other, { type: 'ping-req', seq: 1, target: fromHex(target) });
    expect(t.ctx.ofType('ping', target)).toHaveLength(33);
    // Once the relays end (nacked at 80% of the timeout), the link may ask again.
    t.ctx.scheduler.runFor(TIMEOUT);
    t.prober.onPingReq(greedy, { type: 'ping-req', seq: 40, target: fromHex(target) });
    expect(t.ctx.ofType('ping', target)).toHaveLength(34);
  });

  it('a ping is answered on the class it came on, with gossip piggybacked on datagrams only', () => {
    const t = setup(1);
    const [peer] = t.ids as [string];
    const gossip = signClaim(identity(50), 'alive', { incarnation: 1 });
    t.ctx.piggybacked = () => [gossip];
    t.prober.onPing(peer, { type: 'ping', seq: 1, to: fromHex(t.ctx.selfId) }, 'datagram');
    t.prober.onPing(peer, { type: 'ping', seq: 2, to: fromHex(t.ctx.selfId) }, 'stream');
    const acks = t.ctx.ofType('ack');
    expect(acks.map((a) => [a.to, a.cls, a.msg.seq])).toEqual([
      [peer, 'datagram', 1],
      [peer, 'stream', 2],
    ]);
    expect(acks[0]!.msg.g).toEqual([gossip.wire]);
    expect(acks[1]!.msg.g).toBeUndefined();
    expect(acks[0]!.msg.sig).toBeUndefined();
  });

  it('a ping addressed to another node is not acknowledged', () => {
    const t = setup(1);
    const [peer] = t.ids as [string];
    t.prober.onPing(peer, { type: 'ping', seq: 1, to: fromHex(identity(77).nodeId) }, 'datagram');
    expect(t.ctx.sent).toEqual([]);
    expect(t.ctx.metrics.misroutedPings).toBe(1);
  });

  it('the target signs (nonce, itself, requester) for a witness, at most 16 times per link per probe interval', () => {
    const t = setup(1);
    const [witness] = t.ids as [string];
    const requester = fromHex(identity(60).nodeId);
    const me = fromHex(t.ctx.selfId);
    const n = new Uint8Array(32).fill(4);
    const ping = (seq: number) =>
      t.prober.onPing(witness, { type: 'ping', seq, to: me, n, r: requester }, 'datagram');
    for (let seq = 0; seq < 17; seq++) ping(seq);
    const acks = t.ctx.ofType('ack');
    expect(acks.filter((a) => a.msg.sig)).toHaveLength(16);
    expect(acks[16]!.msg.sig).toBeUndefined();
    expect(t.signed[0]).toEqual(signingInput(Domain.ProbeAck, probeAckPayload(n, me, requester)));
    const first = acks[0]!.msg;
    expect(first.t).toEqual(me);
    expect(first.n).toEqual(n);
    expect(
      t.ctx.self.verify(signingInput(Domain.ProbeAck, probeAckPayload(n, me, requester)), first.sig!),
    ).toBe(true);
    t.ctx.scheduler.runFor(PERIOD);
    ping(17);
    expect(t.ctx.ofType('ack')[17]!.msg.sig).toBeDefined();
  });
});
