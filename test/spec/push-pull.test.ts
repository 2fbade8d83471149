// Push-pull anti-entropy by digest (lib/membership/push-pull.ts), driven directly: two
// exchanges wired to each other through fake membership contexts, virtual time. Names
// follow SWIM's and memberlist's push-pull (state_test.go: TestMemberList_PushPull…,
// mergeState) and the exchange's own rules for hostile peers.
import { describe, expect, it } from 'vitest';
import { type Claim, interpretClaim, signClaim } from '../../lib/membership/claims.ts';
import { StateCode, supersedes } from '../../lib/membership/node-state.ts';
import { PushPull, WELCOME_MAX_MEMBERS, WELCOME_SEQ } from '../../lib/membership/push-pull.ts';
import { concatBytes, fromHex, toHex } from '../../lib/util/bytes.ts';
import type { MessageOf } from '../../lib/wire/messages.ts';
import { FakeMembershipContext, identity, type Sent } from '../support/membership-context.ts';

const INTERVAL = 30_000;

interface Side {
  ctx: FakeMembershipContext;
  pp: PushPull;
  replied: string[];
  answered: string[];
  welcomed: string[];
  /** Claims received, each merged by the rule the core applies (a newer state wins). */
  merged: Claim[];
}

function side(n: number): Side {
  const ctx = new FakeMembershipContext({ self: identity(n), seed: n });
  const s: Side = {
    ctx,
    pp: undefined as unknown as PushPull,
    replied: [],
    answered: [],
    welcomed: [],
    merged: [],
  };
  s.pp = new PushPull(ctx, {
    claimsOf: (i) => ctx.claimsOf(i),
    replied: (from) => s.replied.push(from),
    welcomed: (from) => s.welcomed.push(from),
    answered: (from) => s.answered.push(from),
  });
  return s;
}

/** What Membership.applyClaims does with an exchange's claims, reduced to the precedence rule. */
function merge(s: Side, claims: Claim[]): void {
  const { table } = s.ctx;
  for (const c of claims) {
    s.merged.push(c);
    const i = table.ids.lookup(c.subject);
    const state =
      c.kind === 'alive'
        ? StateCode.Active
        : c.kind === 'suspect'
          ? StateCode.Suspect
          : c.kind === 'unreachable'
            ? StateCode.Unreachable
            : StateCode.Left;
    const current = i === undefined ? StateCode.Unknown : table.state(i);
    if (current === StateCode.Unknown && c.kind !== 'alive') continue;
    if (current !== StateCode.Unknown && !supersedes(state, c.incarnation, current, table.incarnation(i!)))
      continue;
    table.set(table.admit(c.subject), state, c.incarnation, s.ctx.scheduler.now, c);
  }
}

/** Delivers what `from` sent to `to` (stream order), as the core would dispatch it; returns what it delivered. */
function deliver(from: Side, to: Side, link: object = from): Sent[] {
  const out = from.ctx.sent.splice(0).filter((m) => m.to === to.ctx.selfId);
  for (const { msg } of out) {
    if (msg.type === 'digest') to.pp.onDigest(from.ctx.selfId, msg, link);
    else if (msg.type === 'want') to.pp.onWant(from.ctx.selfId, msg);
    else if (msg.type === 'claims') {
      merge(to, msg.claims.map(interpretClaim));
      to.pp.onClaims(from.ctx.selfId, msg);
    }
  }
  return out;
}

/** Runs an exchange that `a` starts with `b` to its end. */
function exchange(a: Side, b: Side) {
  a.pp.start(b.ctx.selfId);
  const log: Array<[string, Sent]> = [];
  for (let round = 0; round < 10 && (a.ctx.sent.length > 0 || b.ctx.sent.length > 0); round++) {
    for (const m of deliver(a, b)) log.push(['a→b', m]);
    for (const m of deliver(b, a)) log.push(['b→a', m]);
  }
  return log;
}

/** What `s` holds of member `id`: [state, incarnation], or undefined. */
function view(s: Side, id: string): [number, number] | undefined {
  const i = s.ctx.table.ids.lookup(id);
  if (i === undefined || s.ctx.table.state(i) === StateCode.Unknown) return undefined;
  return [s.ctx.table.state(i), s.ctx.table.incarnation(i)];
}

function claimsIn(log: Array<[string, Sent]>, dir: string): Array<[string, number]> {
  return log
    .filter(([d, m]) => d === dir && m.msg.type === 'claims')
    .flatMap(([, m]) => (m.msg as MessageOf<'claims'>).claims.map(interpretClaim))
    .map((c) => [`${c.kind}:${c.subject.slice(0, 4)}`, c.incarnation] as [string, number]);
}

describe('PushPull: what an exchange carries', () => {
  it('push-pull merges the newer claim of each member, both ways', () => {
    const a = side(1);
    const b = side(2);
    const [m1, m2, m3, m4, m5, m6] = [3, 4, 5, 6, 7, 8].map(identity) as [
      ReturnType<typeof identity>,
      ReturnType<typeof identity>,
      ReturnType<typeof identity>,
      ReturnType<typeof identity>,
      ReturnType<typeof identity>,
      ReturnType<typeof identity>,
    ];
    a.ctx.setMember(m1, StateCode.Active, 3);
    b.ctx.setMember(m1, StateCode.Active, 1);
    a.ctx.setMember(m2, StateCode.Active, 1);
    b.ctx.setMember(m2, StateCode.Active, 4);
    // Same incarnation: the more severe state wins, so a's suspicion goes to b.
    a.ctx.setMember(m3, StateCode.Suspect, 2);
    b.ctx.setMember(m3, StateCode.Active, 2);
    // …either way round: b's suspicion goes to a.
    b.ctx.setMember(m6, StateCode.Suspect, 2);
    a.ctx.setMember(m6, StateCode.Active, 2);
    b.ctx.setMember(m4, StateCode.Active, 1);
    a.ctx.setMember(m5, StateCode.Active, 1);
    const log = exchange(a, b);

    const want: Array<[number, number] | undefined> = [
      [StateCode.Active, 3],
      [StateCode.Active, 4],
      [StateCode.Suspect, 2],
      [StateCode.Active, 1],
      [StateCode.Active, 1],
      [StateCode.Suspect, 2],
    ];
    for (const s of [a, b]) {
      expect([m1, m2, m3, m4, m5, m6].map((m) => view(s, m.nodeId))).toEqual(want);
      expect(view(s, a.ctx.selfId)).toEqual([StateCode.Active, 1]);
      expect(view(s, b.ctx.selfId)).toEqual([StateCode.Active, 1]);
    }
    // Each side sent only what the other had older or lacked (its own claim included).
    const label = (kind: string, id: string, incarnation: number): [string, number] => [
      `${kind}:${id.slice(0, 4)}`,
      incarnation,
    ];
    expect(claimsIn(log, 'b→a').sort()).toEqual(
      [
        label('alive', m2.nodeId, 4),
        label('alive', m4.nodeId, 1),
        label('alive', m6.nodeId, 2),
        label('suspect', m6.nodeId, 2),
        label('alive', b.ctx.selfId, 1),
      ].sort(),
    );
    expect(claimsIn(log, 'a→b').sort()).toEqual(
      [
        label('alive', m1.nodeId, 3),
        label('alive', m3.nodeId, 2),
        label('suspect', m3.nodeId, 2),
        label('alive', m5.nodeId, 1),
        label('alive', a.ctx.selfId, 1),
      ].sort(),
    );
    expect(a.replied).toEqual([b.ctx.selfId]);
    expect(b.answered).toEqual([a.ctx.selfId]);
  });

  it('two nodes that agree exchange digests and no claims', () => {
    const a = side(1);
    const b = side(2);
    for (const s of [a, b]) {
      s.ctx.setMember(identity(3), StateCode.Active, 2);
      s.ctx.setMember(a.ctx.self, StateCode.Active, 1);
      s.ctx.setMember(b.ctx.self, StateCode.Active, 1);
    }
    const log = exchange(a, b);
    expect(log.map(([d, m]) => [d, m.msg.type])).toEqual([
      ['a→b', 'digest'],
      ['b→a', 'claims'],
    ]);
    expect((log[1]![1].msg as MessageOf<'claims'>).claims).toEqual([]);
    expect(a.replied).toEqual([b.ctx.selfId]);
    expect(b.answered).toEqual([a.ctx.selfId]);
  });

  it('a digest lists every member once, 21 bytes each: id, incarnation, state (a joining node as Active)', () => {
    const a = side(1);
    a.ctx.table.setState(a.ctx.selfIndex, StateCode.Joining, 0);
    const m = a.ctx.setMember(identity(3), StateCode.Suspect, 7);
    a.pp.start('b');
    const [digest] = a.ctx.ofType('digest');
    expect(digest!.cls).toBe('stream');
    expect(digest!.msg.last).toBe(true);
    const d = digest!.msg.d;
    expect(d).toHaveLength(2 * 21);
    const records = [0, 21].map((off) => ({
      id: toHex(d.subarray(off, off + 16)),
      incarnation: new DataView(d.buffer, d.byteOffset + off + 16, 4).getUint32(0),
      state: d[off + 20],
    }));
    expect(records).toEqual([
      { id: a.ctx.selfId, incarnation: 1, state: StateCode.Active },
      { id: m, incarnation: 7, state: StateCode.Suspect },
    ]);
  });

  it('a large membership is paged (3,000 records a page) and each page is answered as it arrives', () => {
    const a = side(1);
    const b = side(2);
    const shared = a.ctx.table.aliveClaim(a.ctx.selfIndex)!;
    for (let k = 0; k < 3_100; k++) {
      const id = (k + 1).toString(16).padStart(32, '0');
      a.ctx.table.set(a.ctx.table.admit(id), StateCode.Active, 1, 0, shared);
    }
    a.pp.start(b.ctx.selfId);
    const pages = a.ctx.ofType('digest');
    expect(pages.map((p) => [p.msg.d.length / 21, p.msg.last])).toEqual([
      [3_000, false],
      [101, true],
    ]);
    b.pp.onDigest(a.ctx.selfId, pages[0]!.msg);
    const afterFirst = b.ctx.drain();
    expect(afterFirst.map((s) => s.msg.type)).toEqual(['want']);
    expect((afterFirst[0]!.msg as MessageOf<'want'>).ids).toHaveLength(3_000 * 16);
    b.pp.onDigest(a.ctx.selfId, pages[1]!.msg);
    // b's own claim goes in the reply's last page; a listed nothing about b.
    expect(b.ctx.sent.map((s) => s.msg.type)).toEqual(['want', 'claims']);
    expect((b.ctx.sent[1]!.msg as MessageOf<'claims'>).last).toBe(true);
  });

  it('a digest that lists one member many times gets it described once', () => {
    const a = side(1);
    const b = side(2);
    const m = identity(3);
    b.ctx.setMember(m, StateCode.Active, 5);
    const record = concatBytes(fromHex(m.nodeId), Uint8Array.of(0, 0, 0, 1, StateCode.Active));
    b.pp.onDigest(a.ctx.selfId, {
      type: 'digest',
      seq: 0,
      last: true,
      d: concatBytes(record, record, record),
    });
    const described = b.ctx
      .ofType('claims')
      .flatMap((s) => s.msg.claims.map(interpretClaim))
      .filter((c) => c.subject === m.nodeId);
    expect(described).toHaveLength(1);
  });
});

/** The state a digest page lists for member `id` (undefined: not listed). */
function listedState(d: Uint8Array, id: string): number | undefined {
  for (let off = 0; off < d.length; off += 21)
    if (toHex(d.subarray(off, off + 16)) === id) return d[off + 20];
  return undefined;
}

describe('PushPull: bounds for hostile peers', () => {
  it('one exchange per link per half push-pull interval is answered; a new link is answered at once', () => {
    const a = side(1);
    const b = side(2);
    const digest = (seq: number): MessageOf<'digest'> => ({
      type: 'digest',
      seq,
      last: true,
      d: new Uint8Array(0),
    });
    const linkOne = {};
    b.pp.onDigest(a.ctx.selfId, digest(0), linkOne);
    expect(b.ctx.drain().map((s) => s.msg.type)).toEqual(['claims']);
    b.pp.onDigest(a.ctx.selfId, digest(1), linkOne);
    expect(b.ctx.drain()).toEqual([]);
    expect(b.ctx.metrics.exchangesRefused).toBe(1);
    b.pp.onDigest(a.ctx.selfId, digest(2), {});
    expect(b.ctx.drain().map((s) => s.msg.type)).toEqual(['claims']);
    b.ctx.scheduler.runUntil(INTERVAL / 2);
    b.pp.onDigest(a.ctx.selfId, digest(3), linkOne);
    expect(b.ctx.drain().map((s) => s.msg.type)).toEqual(['claims']);
  });

  it('this node starts at most one exchange per neighbour per push-pull interval', () => {
    const a = side(1);
    expect(a.pp.canStart('b')).toBe(true);
    a.pp.start('b');
    expect(a.pp.canStart('b')).toBe(false);
    expect(a.pp.canStart('c')).toBe(true);
    a.ctx.scheduler.runUntil(INTERVAL - 1);
    expect(a.pp.canStart('b')).toBe(false);
    a.ctx.scheduler.runUntil(INTERVAL);
    expect(a.pp.canStart('b')).toBe(true);
  });

  it('an uncharged exchange (a catch-up) leaves the start budget alone; asking holds until its reply completes', () => {
    const a = side(1);
    expect(a.pp.asking).toBe(false);
    a.pp.start('b', false);
    expect(a.pp.canStart('b')).toBe(true);
    expect(a.pp.asking).toBe(true);
    const seq = a.ctx.ofType('digest')[0]!.msg.seq;
    a.pp.onClaims('b', { type: 'claims', seq, reply: true, last: true, claims: [] });
    expect(a.replied).toEqual(['b']);
    expect(a.pp.asking).toBe(false);
  });

  it('a repair exchange with a member held Unreachable is held back by no other exchange kind', () => {
    const a = side(1);
    const b = a.ctx.setMember(identity(2), StateCode.Active, 1);
    // A follow-up asked b while it was Active (sent into a partition, say): start budget spent.
    a.pp.start(b);
    expect(a.pp.canStart(b)).toBe(false);
    a.ctx.setMember(identity(2), StateCode.Unreachable, 1);
    a.ctx.drain();
    expect(a.pp.repair(b)).toBe(true);
    const [digest] = a.ctx.ofType('digest', b);
    // Its digest tells b it is held Unreachable (b then wants its own claims and refutes).
    expect(listedState(digest!.msg.d, b)).toBe(StateCode.Unreachable);
  });

  it('a member held Unreachable is repaired at most once per half interval however often it talks; a new link at once', () => {
    const a = side(1);
    const b = a.ctx.setMember(identity(2), StateCode.Unreachable, 1);
    expect(a.pp.repair(b)).toBe(true);
    expect(a.pp.repair(b)).toBe(false);
    a.ctx.scheduler.runUntil(INTERVAL / 2 - 1);
    expect(a.pp.repair(b)).toBe(false);
    a.ctx.scheduler.runUntil(INTERVAL / 2);
    expect(a.pp.repair(b)).toBe(true);
    expect(a.ctx.ofType('digest', b)).toHaveLength(2);
    a.pp.forget(b);
    expect(a.pp.repair(b)).toBe(true);
    expect(a.ctx.ofType('digest', b)).toHaveLength(3);
  });

  it('an exchange of any kind that told the member it is held Unreachable stands for the repair', () => {
    const a = side(1);
    const b = a.ctx.setMember(identity(2), StateCode.Unreachable, 1);
    // A healing dial's exchange (or a catch-up) after the declaration: the repair adds nothing,
    // and b would refuse a second digest on the link this soon.
    a.pp.start(b, false);
    expect(a.pp.repair(b)).toBe(false);
    expect(a.ctx.ofType('digest', b)).toHaveLength(1);
  });

  it('a want is answered only within an open exchange, for members the digest listed, each once', () => {
    const a = side(1);
    const listed = a.ctx.setMember(identity(3), StateCode.Active, 1);
    const want = (seq: number, ...ids: string[]): MessageOf<'want'> => ({
      type: 'want',
      seq,
      ids: concatBytes(...ids.map(fromHex)),
    });
    a.pp.onWant('b', want(0, listed));
    expect(a.ctx.sent).toEqual([]);
    expect(a.ctx.metrics.wantsRefused).toBe(1);

    a.pp.start('b');
    const seq = a.ctx.ofType('digest')[0]!.msg.seq;
    a.ctx.drain();
    a.pp.onWant('b', want(seq + 1, listed));
    expect(a.ctx.metrics.wantsRefused).toBe(2);
    // A member added after the digest was not listed: not handed out on request.
    const later = a.ctx.setMember(identity(4), StateCode.Active, 1);
    a.pp.onWant('b', want(seq, listed, later));
    a.pp.onWant('b', want(seq, listed));
    const answers = a.ctx.ofType('claims');
    expect(answers.map((s) => s.msg.claims.map((c) => interpretClaim(c).subject))).toEqual([[listed], []]);
    expect(answers.every((s) => s.msg.reply === false && s.msg.last)).toBe(true);
  });

  it('an exchange that makes no progress for 30 s is forgotten', () => {
    const a = side(1);
    const m = a.ctx.setMember(identity(3), StateCode.Active, 1);
    a.pp.start('b');
    const seq = a.ctx.ofType('digest')[0]!.msg.seq;
    a.ctx.scheduler.runFor(30_000);
    a.pp.onWant('b', { type: 'want', seq, ids: fromHex(m) });
    expect(a.ctx.ofType('claims')).toEqual([]);
    expect(a.ctx.metrics.wantsRefused).toBe(1);
  });

  it('a link going down forgets its exchanges and its start budget', () => {
    const a = side(1);
    const m = a.ctx.setMember(identity(3), StateCode.Active, 1);
    a.pp.start('b');
    const seq = a.ctx.ofType('digest')[0]!.msg.seq;
    a.pp.forget('b');
    a.pp.onWant('b', { type: 'want', seq, ids: fromHex(m) });
    expect(a.ctx.ofType('claims')).toEqual([]);
    expect(a.pp.canStart('b')).toBe(true);
  });

  it('a reply completes only the exchange it answers', () => {
    const a = side(1);
    a.pp.start('b');
    const seq = a.ctx.ofType('digest')[0]!.msg.seq;
    const reply = (s: number, last: boolean): MessageOf<'claims'> => ({
      type: 'claims',
      seq: s,
      reply: true,
      last,
      claims: [],
    });
    a.pp.onClaims('b', reply(seq + 5, true));
    a.pp.onClaims('c', reply(seq, true));
    a.pp.onClaims('b', reply(seq, false));
    expect(a.replied).toEqual([]);
    a.pp.onClaims('b', reply(seq, true));
    expect(a.replied).toEqual(['b']);
    a.pp.onClaims('b', reply(seq, true));
    expect(a.replied).toEqual(['b']);
  });
});

describe('PushPull: the welcome (a newcomer gets the membership as its link comes up)', () => {
  /** b knows three members and itself; a is a newcomer that knows only itself, joining. */
  function newcomerAndMember() {
    const a = side(1);
    const b = side(2);
    a.ctx.table.setState(a.ctx.selfIndex, StateCode.Joining, 0);
    const members = [3, 4, 5].map((n) => b.ctx.setMember(identity(n), StateCode.Active, n));
    return { a, b, members };
  }

  it('a welcome carries the whole membership as one complete reply; the newcomer takes it as joined', () => {
    const { a, b, members } = newcomerAndMember();
    expect(b.pp.welcome(a.ctx.selfId)).toBe(true);
    const sent = b.ctx.ofType('claims', a.ctx.selfId);
    expect(sent.map((m) => [m.msg.seq, m.msg.reply, m.msg.last])).toEqual([[WELCOME_SEQ, true, true]]);
    deliver(b, a);
    expect(a.welcomed).toEqual([b.ctx.selfId]);
    expect(a.replied).toEqual([]);
    for (const id of [...members, b.ctx.selfId]) expect(view(a, id)?.[0]).toBe(StateCode.Active);
    expect(b.ctx.metrics.welcomes).toBe(1);
  });

  it("the newcomer's digest is then answered without what the welcome carried, but with what changed since", () => {
    const { a, b, members } = newcomerAndMember();
    b.pp.welcome(a.ctx.selfId);
    deliver(b, a);
    // Between the welcome and the digest, b comes to suspect one member: that is news (its
    // alive claim, the same object, is not).
    const suspect = signClaim(b.ctx.self, 'suspect', { incarnation: 4, subject: members[1]! });
    b.ctx.table.set(b.ctx.table.ids.lookup(members[1]!)!, StateCode.Suspect, 4, 0, suspect);
    const log = exchange(a, b);
    expect(claimsIn(log, 'b→a')).toEqual([['suspect:' + members[1]!.slice(0, 4), 4]]);
    // b asked for the newcomer's claim and got it; the exchange completed both ways.
    expect(view(b, a.ctx.selfId)).toEqual([StateCode.Active, 1]);
    expect(a.replied).toEqual([b.ctx.selfId]);
    expect(b.answered).toEqual([a.ctx.selfId]);
    // The welcome is spent with that digest: the newcomer could be welcomed again.
    expect(b.pp.welcome(a.ctx.selfId)).toBe(true);
  });

  it('without a welcome the same digest is answered with everything (what the welcome saves a round trip for)', () => {
    const { a, b, members } = newcomerAndMember();
    const log = exchange(a, b);
    expect(
      claimsIn(log, 'b→a')
        .map(([c]) => c.slice(6))
        .sort(),
    ).toEqual([...members, b.ctx.selfId].map((id) => id.slice(0, 4)).sort());
  });

  it('at most 8 welcomes wait for their digest, one per peer; a digest, a link going down or 30 s frees one', () => {
    const { b } = newcomerAndMember();
    const peers = Array.from({ length: 9 }, (_, k) => `p${k}`);
    expect(peers.map((p) => b.pp.welcome(p))).toEqual([...Array(8).fill(true), false]);
    expect(b.pp.welcome('p0')).toBe(false);
    b.pp.forget('p0');
    expect(b.pp.welcome('p8')).toBe(true);
    b.pp.onDigest('p1', { type: 'digest', seq: 0, last: true, d: new Uint8Array(0) });
    expect(b.pp.welcome('p9')).toBe(true);
    expect(b.pp.welcome('p10')).toBe(false);
    b.ctx.scheduler.runFor(30_000);
    expect(b.pp.welcome('p10')).toBe(true);
    expect(b.ctx.metrics.welcomes).toBe(11);
  });

  it('a member of more than 64 members does not welcome: the digest path serves the newcomer', () => {
    const { a, b } = newcomerAndMember();
    for (let n = 6; b.ctx.table.size < WELCOME_MAX_MEMBERS; n++)
      b.ctx.setMember(identity(n), StateCode.Active, 1);
    expect(b.ctx.table.size).toBe(64);
    expect(b.pp.welcome('p0')).toBe(true);
    b.ctx.setMember(identity(100), StateCode.Active, 1);
    expect(b.pp.welcome(a.ctx.selfId)).toBe(false);
    expect(b.ctx.ofType('claims', a.ctx.selfId)).toEqual([]);
    // The newcomer's digest then gets everything.
    const log = exchange(a, b);
    expect(claimsIn(log, 'b→a')).toHaveLength(65);
  });

  it('only a complete welcome counts; it completes no exchange of ours', () => {
    const a = side(1);
    a.pp.start('b');
    const page = (last: boolean): MessageOf<'claims'> => ({
      type: 'claims',
      seq: WELCOME_SEQ,
      reply: true,
      last,
      claims: [],
    });
    a.pp.onClaims('b', page(false));
    expect(a.welcomed).toEqual([]);
    a.pp.onClaims('b', page(true));
    expect(a.welcomed).toEqual(['b']);
    expect(a.replied).toEqual([]);
    expect(a.pp.asking).toBe(true);
  });
});
