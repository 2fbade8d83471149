/**
 * What the paper's later chapters (and etcd) add to Figure 2, one behaviour per test:
 * pre-vote with check-quorum, InstallSnapshot in chunks, single-server membership changes,
 * leadership transfer, ReadIndex reads, and hostile input.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ConsensusError } from '../../lib/consensus/errors.ts';
import { leaderMayShip, mustPersistFirst } from '../../lib/consensus/raft.ts';
import { lone, voteRequest } from './lone.ts';
import { TestNet } from './net.ts';

describe('pre-vote and check-quorum (both on by default)', () => {
  it('a partitioned node rejoining does not depose a healthy leader, nor raise the term', () => {
    const net = new TestNet(['a', 'b', 'c']);
    net.elect('a');
    expect(net.leaders()).toEqual(['a']);
    const term = net.core('a').term;
    net.isolate('c');
    net.tickAll(100);
    // Cut off, c only ever asks for pre-votes: its term stays.
    expect(net.core('c').term).toBe(term);
    net.heal();
    net.tickAll(50);
    expect(net.leaders()).toEqual(['a']);
    expect(net.core('a').term).toBe(term);
    expect(net.core('c').leader).toBe('a');
  });

  it('without pre-vote, the same rejoining node forces a new election (what pre-vote prevents)', () => {
    const net = new TestNet(['a', 'b', 'c'], { preVote: false, checkQuorum: false });
    net.elect('a');
    const term = net.core('a').term;
    net.isolate('c');
    net.tickAll(100);
    expect(net.core('c').term).toBeGreaterThan(term + 1);
    net.heal();
    net.tickAll(50);
    expect(net.core('a').term).toBeGreaterThan(term);
  });

  it('a leader that cannot hear from a quorum within an election timeout steps down', () => {
    const net = new TestNet(['a', 'b', 'c']);
    net.elect('a');
    net.isolate('a');
    net.tickAll(20);
    expect(net.core('a').role).toBe('Follower');
    net.tickAll(40);
    // The others elect one of theirs meanwhile.
    expect(net.leaders().filter((id) => id !== 'a')).toHaveLength(1);
  });

  it('a follower that heard from its leader within the election timeout ignores vote requests (leader stickiness)', () => {
    const { core, drain } = lone({ id: 'b', preVote: true });
    core.step({ type: 'heartbeat', from: 'a', to: 'b', term: 1, commit: 0, ctx: 0 });
    drain();
    core.step({
      type: 'vote',
      from: 'c',
      to: 'b',
      term: 2,
      lastIndex: 5,
      lastTerm: 1,
      pre: true,
      transfer: false,
    });
    expect(drain().messages).toEqual([]);
    expect(core.metrics.leaseIgnored).toBe(1);
    expect(core.term).toBe(1);
  });

  it('a pre-candidate that wins the pre-vote campaigns for real, one term up', () => {
    const { core, drain } = lone({ id: 'a', preVote: true, term: 4 });
    core.campaign();
    expect([core.role, core.term]).toEqual(['PreCandidate', 4]);
    expect(drain().messages.map((m) => m.type === 'vote' && m.pre && m.term)).toEqual([5, 5]);
    core.step({ type: 'vote-reply', from: 'b', to: 'a', term: 5, granted: true, pre: true });
    expect([core.role, core.term]).toEqual(['Candidate', 5]);
  });
});

describe('snapshots and log compaction', () => {
  it('a follower far behind a compacted log gets the snapshot in chunks, then the entries after it', () => {
    const net = new TestNet(['a', 'b', 'c'], { snapshotChunkBytes: 16 });
    net.elect('a');
    net.isolate('c');
    for (let i = 0; i < 20; i++) net.propose('a', `cmd-${i}`);
    net.compact('a');
    net.propose('a', 'after');
    net.heal();
    net.tickAll(30);
    expect(net.appliedText('c')).toEqual(net.appliedText('a'));
    expect(net.appliedText('c')).toHaveLength(21);
    const chunks = net.sent.filter((m) => m.type === 'snapshot' && m.to === 'c');
    expect(chunks.length).toBeGreaterThan(5);
    expect(net.storages.get('c')!.snapshot().index).toBe(net.storages.get('a')!.snapshot().index);
  });

  it('a lost chunk is resent from the bytes the follower holds', () => {
    const net = new TestNet(['a', 'b', 'c'], { snapshotChunkBytes: 16 });
    net.elect('a');
    net.isolate('c');
    for (let i = 0; i < 10; i++) net.propose('a', `cmd-${i}`);
    net.compact('a');
    net.heal();
    let dropped = 0;
    net.filter = (m) => !(m.type === 'snapshot' && m.offset === 32 && dropped++ < 2);
    net.tickAll(30);
    expect(dropped).toBeGreaterThanOrEqual(2);
    expect(net.appliedText('c')).toEqual(net.appliedText('a'));
  });

  it('a restarted node recovers its state machine from its storage (snapshot, then log)', () => {
    const net = new TestNet(['a', 'b', 'c']);
    net.elect('a');
    for (let i = 0; i < 5; i++) net.propose('a', `x${i}`);
    net.tickAll(2);
    net.compact('b');
    net.propose('a', 'y');
    net.tickAll(2);
    net.crash('b');
    net.restart('b');
    net.tickAll(5);
    expect(net.appliedText('b')).toEqual(['x0', 'x1', 'x2', 'x3', 'x4', 'y']);
  });
});

describe('single-server membership changes', () => {
  it('adding a voter: it catches up, and counts in the quorum from the config entry on', () => {
    const net = new TestNet(['a', 'b', 'c']);
    net.elect('a');
    net.propose('a', 'before');
    net.add('d', []);
    net.core('a').proposeConfig(['a', 'b', 'c', 'd']);
    net.settle();
    net.tickAll(5);
    expect(net.core('d').voters).toEqual(['a', 'b', 'c', 'd']);
    expect(net.appliedText('d')).toEqual(['before']);
    // With four voters, a and b alone are no quorum.
    net.isolate('c', 'd');
    const commit = net.core('a').commitIndex;
    net.core('a').propose(new TextEncoder().encode('needs-three'));
    net.settle();
    expect(net.core('a').commitIndex).toBe(commit);
  });

  it('one change at a time: a second one waits until the first is committed', () => {
    const net = new TestNet(['a', 'b', 'c']);
    net.elect('a');
    net.isolate('b', 'c');
    net.core('a').proposeConfig(['a', 'b']);
    expect(() => net.core('a').proposeConfig(['a'])).toThrow(
      expect.objectContaining({ code: 'config-change-pending' }),
    );
    expect(() => net.core('a').proposeConfig(['a', 'b', 'c', 'd', 'e'])).toThrow(ConsensusError);
  });

  it('removing the leader: it commits the change, then steps down and the others elect a leader', () => {
    const net = new TestNet(['a', 'b', 'c']);
    net.elect('a');
    net.core('a').proposeConfig(['b', 'c']);
    net.settle();
    net.tickAll(40);
    expect(net.core('a').role).toBe('Follower');
    expect(net.leaders()).toHaveLength(1);
    expect(['b', 'c']).toContain(net.leaders()[0]);
    const leader = net.leaders()[0]!;
    net.propose(leader, 'without-a');
    expect(net.appliedText(leader)).toContain('without-a');
  });
});

describe('leadership transfer', () => {
  it('TimeoutNow: the target, once caught up, wins at once (without waiting for a timeout)', () => {
    const net = new TestNet(['a', 'b', 'c']);
    net.elect('a');
    net.propose('a', 'x');
    net.core('a').transferLeadership('c');
    expect(() => net.core('a').propose(new Uint8Array(1))).toThrow(
      expect.objectContaining({ code: 'transferring', leaderHint: 'c' }),
    );
    net.settle();
    expect(net.leaders()).toEqual(['c']);
    expect(net.sent.some((m) => m.type === 'timeout-now' && m.to === 'c')).toBe(true);
    net.propose('c', 'y');
    net.tickAll(1); // the commit index reaches followers with the next heartbeat
    expect(net.appliedText('a')).toEqual(['x', 'y']);
  });

  it('a transfer to an unreachable node is abandoned after an election timeout', () => {
    const net = new TestNet(['a', 'b', 'c']);
    net.elect('a');
    net.isolate('c');
    net.core('a').transferLeadership('c');
    net.tickAll(12);
    expect(net.leaders()).toEqual(['a']);
    expect(() => net.core('a').propose(new Uint8Array(1))).not.toThrow();
  });
});

describe('ReadIndex', () => {
  it('the leader answers a read once a quorum confirmed its leadership by a heartbeat round', () => {
    const { core, drain } = lone({ id: 'a', preVote: false });
    core.campaign();
    core.step({ type: 'vote-reply', from: 'b', to: 'a', term: 1, granted: true, pre: false });
    core.step({
      type: 'append-reply',
      from: 'b',
      to: 'a',
      term: 1,
      success: true,
      index: 1,
      hintIndex: 0,
      hintTerm: 0,
    });
    drain();
    core.readIndex(42);
    const out = drain();
    const beats = out.messages.filter((m) => m.type === 'heartbeat');
    expect(beats.map((m) => m.type === 'heartbeat' && m.ctx)).toEqual([1, 1]);
    expect(out.reads).toEqual([]);
    core.step({ type: 'heartbeat-reply', from: 'c', to: 'a', term: 1, ctx: 1 });
    expect(drain().reads).toEqual([{ ctx: 42, index: 1 }]);
  });

  it('a leader cut off from the quorum never answers (its reads fail when it steps down)', () => {
    const net = new TestNet(['a', 'b', 'c']);
    net.elect('a');
    net.isolate('a');
    net.core('a').readIndex(7);
    net.tickAll(25);
    expect(net.reads.get('a')).toEqual([{ ctx: 7, index: null }]);
  });

  it('a read that arrives before the new leader committed an entry of its term waits for that commit', () => {
    const { core, drain } = lone({ id: 'a', preVote: false });
    core.campaign();
    core.step({ type: 'vote-reply', from: 'b', to: 'a', term: 1, granted: true, pre: false });
    core.readIndex(5);
    expect(drain().messages.some((m) => m.type === 'heartbeat')).toBe(false);
    core.step({
      type: 'append-reply',
      from: 'b',
      to: 'a',
      term: 1,
      success: true,
      index: 1,
      hintIndex: 0,
      hintTerm: 0,
    });
    core.step({ type: 'heartbeat-reply', from: 'b', to: 'a', term: 1, ctx: 1 });
    expect(drain().reads).toEqual([{ ctx: 5, index: 1 }]);
  });

  it('followers refuse reads with not-leader and the leader they know', () => {
    const net = new TestNet(['a', 'b', 'c']);
    net.elect('a');
    expect(() => net.core('b').readIndex(1)).toThrow(
      expect.objectContaining({ code: 'not-leader', leaderHint: 'a' }),
    );
  });
});

describe('hostile input', () => {
  it('malformed messages are dropped and counted, never thrown', () => {
    const { core, drain } = lone({ id: 'b', terms: [1, 1], term: 1 });
    const bad: unknown[] = [
      null,
      42,
      'vote',
      { type: 'vote', from: 'a', to: 'b', term: -1, lastIndex: 0, lastTerm: 0, pre: false, transfer: false },
      { type: 'vote', from: 'a', to: 'b', term: 2 },
      { type: 'nope', from: 'a', to: 'b', term: 2 },
      { type: 'heartbeat', from: 'a', to: 'x', term: 2, commit: 0, ctx: 0 },
      { type: 'heartbeat', from: 'b', to: 'b', term: 2, commit: 0, ctx: 0 },
      { type: 'heartbeat', from: 'a', to: 'b', term: 2, commit: 1.5, ctx: 0 },
      // Entries out of order, of a future term, or with a bogus kind.
      {
        type: 'append',
        from: 'a',
        to: 'b',
        term: 2,
        prevIndex: 2,
        prevTerm: 1,
        commit: 0,
        entries: [{ index: 4, term: 2, kind: 'noop' }],
      },
      {
        type: 'append',
        from: 'a',
        to: 'b',
        term: 2,
        prevIndex: 2,
        prevTerm: 1,
        commit: 0,
        entries: [{ index: 3, term: 9, kind: 'noop' }],
      },
      {
        type: 'append',
        from: 'a',
        to: 'b',
        term: 2,
        prevIndex: 2,
        prevTerm: 1,
        commit: 0,
        entries: [{ index: 3, term: 2, kind: 'command', data: 'x' }],
      },
      {
        type: 'snapshot',
        from: 'a',
        to: 'b',
        term: 2,
        index: 5,
        snapTerm: 1,
        voters: ['a'],
        offset: 8,
        size: 4,
        chunk: new Uint8Array(1),
      },
      {
        type: 'snapshot',
        from: 'a',
        to: 'b',
        term: 2,
        index: 5,
        snapTerm: 1,
        voters: [],
        offset: 0,
        size: 1,
        chunk: new Uint8Array(1),
      },
    ];
    for (const m of bad) expect(() => core.step(m)).not.toThrow();
    expect(core.metrics.malformed).toBe(bad.length);
    expect(drain().messages).toEqual([]);
    expect([core.term, core.lastIndex]).toEqual([1, 2]);
  });

  it('an append contradicting committed entries is refused and counted', () => {
    const { core } = lone({ id: 'b', terms: [1, 1], term: 1 });
    core.step({
      type: 'append',
      from: 'a',
      to: 'b',
      term: 1,
      prevIndex: 2,
      prevTerm: 1,
      entries: [],
      commit: 2,
    });
    expect(core.commitIndex).toBe(2);
    core.step({
      type: 'append',
      from: 'a',
      to: 'b',
      term: 2,
      prevIndex: 2,
      prevTerm: 1,
      entries: [],
      commit: 2,
    });
    core.step({
      type: 'append',
      from: 'a',
      to: 'b',
      term: 2,
      prevIndex: 2,
      prevTerm: 1,
      entries: [{ index: 3, term: 2, kind: 'noop' }],
      commit: 2,
    });
    expect(core.lastIndex).toBe(3);
  });
});

describe('sans-IO and the persistence contract', () => {
  it('a vote and an acknowledgement leave in the same ready record as the state they promise', () => {
    const { core } = lone({ id: 'b' });
    core.step(voteRequest('a', 'b', 1));
    const vote = core.ready();
    expect(vote.hardState).toMatchObject({ term: 1, vote: 'a' });
    expect(vote.messages).toMatchObject([{ type: 'vote-reply', granted: true }]);
    core.advance(vote);
    core.step({
      type: 'append',
      from: 'a',
      to: 'b',
      term: 1,
      prevIndex: 0,
      prevTerm: 0,
      entries: [{ index: 1, term: 1, kind: 'noop' }],
      commit: 0,
    });
    const append = core.ready();
    expect(append.entries.map((e) => e.index)).toEqual([1]);
    expect(append.messages).toMatchObject([{ type: 'append-reply', success: true, index: 1 }]);
    core.advance(append);
    expect(core.hasReady()).toBe(false);
  });

  it('a leader’s appends may leave before its own write ended; its entries count towards a commit only once advance() says they are stable', () => {
    const net = new TestNet(['a', 'b', 'c']);
    const a = net.elect('a');
    const durable = net.storages.get('a')!.hardState();
    const { index } = a.propose(new TextEncoder().encode('x'));
    const r = a.ready();
    const early = leaderMayShip(r, durable);
    expect(early.map((m) => [m.type, m.to])).toEqual([
      ['append', 'b'],
      ['append', 'c'],
    ]);
    expect(mustPersistFirst(r, durable)).toBe(true);
    // b persists and acknowledges while a's write is under way: b alone is no quorum.
    const b = net.core('b');
    b.step(early[0]);
    const rb = b.ready();
    net.storages.get('b')!.append(rb.entries);
    b.advance(rb);
    a.step(rb.messages.find((m) => m.type === 'append-reply'));
    expect(a.commitIndex).toBeLessThan(index);
    // a's write ended: a and b are a quorum.
    net.storages.get('a')!.append(r.entries);
    a.advance(r);
    expect(a.commitIndex).toBe(index);
    expect(a.ready().committed.map((e) => e.index)).toEqual([index]);
  });

  it('both followers’ acknowledgements commit an entry before the leader’s own write ended (a quorum without it)', () => {
    const net = new TestNet(['a', 'b', 'c']);
    const a = net.elect('a');
    const durable = net.storages.get('a')!.hardState();
    const { index } = a.propose(new TextEncoder().encode('x'));
    const r = a.ready();
    for (const m of leaderMayShip(r, durable)) {
      const f = net.core(m.to);
      f.step(m);
      const rf = f.ready();
      net.storages.get(m.to)!.append(rf.entries);
      f.advance(rf);
      a.step(rf.messages.find((x) => x.type === 'append-reply'));
    }
    expect(a.commitIndex).toBe(index);
  });

  it('nothing may leave before the write of a record with a new term or vote, nor a follower’s acknowledgement; a record with only a new commit index need not wait', () => {
    const { core, storage } = lone({ id: 'b' });
    const durable = { term: 0, vote: '', commit: 0 };
    core.step(voteRequest('a', 'b', 1));
    const vote = core.ready();
    expect(leaderMayShip(vote, durable)).toEqual([]);
    expect(mustPersistFirst(vote, durable)).toBe(true);
    storage.setHardState(vote.hardState!);
    core.advance(vote);
    const voted = vote.hardState!;
    const noop = { index: 1, term: 1, kind: 'noop' } as const;
    core.step({
      type: 'append',
      from: 'a',
      to: 'b',
      term: 1,
      prevIndex: 0,
      prevTerm: 0,
      entries: [noop],
      commit: 0,
    });
    const append = core.ready();
    expect(leaderMayShip(append, voted)).toEqual([]);
    expect(mustPersistFirst(append, voted)).toBe(true);
    storage.append(append.entries);
    core.advance(append);
    core.step({ type: 'heartbeat', from: 'a', to: 'b', term: 1, commit: 1, ctx: 0 });
    const commit = core.ready();
    expect(commit.hardState).toMatchObject({ term: 1, vote: 'a', commit: 1 });
    expect(commit.messages).toMatchObject([{ type: 'heartbeat-reply' }]);
    expect(mustPersistFirst(commit, voted)).toBe(false);
  });

  it('lib/consensus reads no clock, timer or randomness but the injected ones', () => {
    const dir = new URL('../../lib/consensus/', import.meta.url);
    const files = readdirSync(dir, { recursive: true }).filter((f) => String(f).endsWith('.ts'));
    expect(files.length).toBeGreaterThan(10);
    for (const f of files) {
      const text = readFileSync(new URL(String(f), dir), 'utf8');
      expect(text, String(f)).not.toMatch(
        /\b(Date\.now|Math\.random|setTimeout|setInterval|performance\.now)\b/,
      );
    }
  });
});
