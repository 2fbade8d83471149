/**
 * Figure 2 of the Raft paper ("In Search of an Understandable Consensus Algorithm"), rule by
 * rule: each test is named after the rule it checks and drives one core with hand-made
 * messages, or a few cores over the in-test network. Pre-vote is off here (the paper's
 * algorithm); test/consensus/extensions.test.ts covers it.
 */
import { describe, expect, it } from 'vitest';
import type { ConsensusMessage } from '../../lib/consensus/messages.ts';
import { entries, lone, tickUntilRoleChanges, voteRequest } from './lone.ts';
import { TestNet } from './net.ts';

const to = (messages: ConsensusMessage[], type: ConsensusMessage['type']) =>
  messages.filter((m) => m.type === type);

describe('Figure 2, Rules for Servers — All Servers', () => {
  it('if commitIndex > lastApplied: increment lastApplied, apply log[lastApplied] to the state machine (in order, once)', () => {
    const net = new TestNet(['a', 'b', 'c'], { preVote: false });
    net.elect('a');
    for (const x of ['x', 'y', 'z']) net.propose('a', x);
    net.tickAll(5);
    for (const id of ['a', 'b', 'c']) {
      expect(net.appliedText(id)).toEqual(['x', 'y', 'z']);
      const indexes = net.applied.get(id)!.map((e) => e.index);
      expect(indexes).toEqual(indexes.map((_, i) => i + 1));
      expect(net.core(id).status().appliedIndex).toBe(net.core(id).commitIndex);
    }
  });

  it('if an RPC request or response contains term T > currentTerm: set currentTerm = T, convert to follower', () => {
    const net = new TestNet(['a', 'b', 'c'], { preVote: false });
    const a = net.elect('a');
    expect(a.role).toBe('Leader');
    a.step({
      type: 'append-reply',
      from: 'b',
      to: 'a',
      term: 7,
      success: false,
      index: 0,
      hintIndex: 0,
      hintTerm: 0,
    });
    expect([a.role, a.term]).toEqual(['Follower', 7]);

    const { core: c } = lone({ id: 'c' });
    tickUntilRoleChanges(c);
    expect(c.role).toBe('Candidate');
    c.step({ type: 'heartbeat', from: 'b', to: 'c', term: 9, commit: 0, ctx: 0 });
    expect([c.role, c.term, c.leader]).toEqual(['Follower', 9, 'b']);
  });
});

describe('Figure 2, Rules for Servers — Followers', () => {
  it('respond to RPCs from candidates and leaders', () => {
    const { core, drain } = lone({ id: 'b' });
    core.step(voteRequest('a', 'b', 1));
    core.step({
      type: 'append',
      from: 'a',
      to: 'b',
      term: 1,
      prevIndex: 0,
      prevTerm: 0,
      entries: entries([1]),
      commit: 0,
    });
    const out = drain().messages;
    expect(out.map((m) => [m.type, m.to])).toEqual([
      ['vote-reply', 'a'],
      ['append-reply', 'a'],
    ]);
  });

  it('if election timeout elapses without receiving AppendEntries from the current leader or granting a vote: convert to candidate', () => {
    const { core } = lone({ id: 'b', electionTicks: 10 });
    const ticks = tickUntilRoleChanges(core);
    expect(core.role).toBe('Candidate');
    // Randomized in [electionTicks, 2 × electionTicks).
    expect(ticks).toBeGreaterThanOrEqual(10);
    expect(ticks).toBeLessThan(20);
  });

  it('a follower that keeps hearing AppendEntries (heartbeats) from its leader never times out', () => {
    const { core } = lone({ id: 'b', electionTicks: 10 });
    for (let i = 0; i < 200; i++) {
      core.tick();
      if (i % 5 === 0) core.step({ type: 'heartbeat', from: 'a', to: 'b', term: 1, commit: 0, ctx: 0 });
    }
    expect([core.role, core.leader]).toEqual(['Follower', 'a']);
  });
});

describe('Figure 2, Rules for Servers — Candidates', () => {
  it('on conversion to candidate: increment currentTerm, vote for self, reset the election timer, send RequestVote to all other servers', () => {
    const { core, storage, drain } = lone({ id: 'a', terms: [1, 1], term: 3 });
    tickUntilRoleChanges(core);
    const out = drain().messages;
    expect([core.role, core.term]).toEqual(['Candidate', 4]);
    expect(storage.hardState()).toMatchObject({ term: 4, vote: 'a' });
    expect(to(out, 'vote')).toEqual([
      { type: 'vote', from: 'a', to: 'b', term: 4, lastIndex: 2, lastTerm: 1, pre: false, transfer: false },
      { type: 'vote', from: 'a', to: 'c', term: 4, lastIndex: 2, lastTerm: 1, pre: false, transfer: false },
    ]);
    // The election timer was reset: the next election waits a full timeout again.
    expect(tickUntilRoleChanges(core)).toBe(-1);
    expect(core.term).toBeGreaterThan(4);
  });

  it('if votes received from a majority of servers: become leader', () => {
    const { core, drain } = lone({ id: 'a', voters: ['a', 'b', 'c', 'd', 'e'] });
    core.campaign();
    core.step({ type: 'vote-reply', from: 'b', to: 'a', term: 1, granted: true, pre: false });
    expect(core.role).toBe('Candidate');
    core.step({ type: 'vote-reply', from: 'c', to: 'a', term: 1, granted: false, pre: false });
    core.step({ type: 'vote-reply', from: 'd', to: 'a', term: 1, granted: true, pre: false });
    expect([core.role, core.leader]).toEqual(['Leader', 'a']);
    drain();
  });

  it('if AppendEntries RPC received from new leader: convert to follower', () => {
    const { core } = lone({ id: 'a' });
    core.campaign();
    expect(core.role).toBe('Candidate');
    core.step({
      type: 'append',
      from: 'b',
      to: 'a',
      term: 1,
      prevIndex: 0,
      prevTerm: 0,
      entries: [],
      commit: 0,
    });
    expect([core.role, core.term, core.leader]).toEqual(['Follower', 1, 'b']);
  });

  it('if election timeout elapses: start new election', () => {
    const { core, drain } = lone({ id: 'a' });
    core.campaign();
    drain();
    expect(core.term).toBe(1);
    for (let i = 0; i < 20; i++) core.tick();
    expect([core.role, core.term]).toEqual(['Candidate', 2]);
    expect(to(drain().messages, 'vote').map((m) => m.term)).toEqual([2, 2]);
  });
});

describe('Figure 2, Rules for Servers — Leaders', () => {
  it('upon election: send initial AppendEntries to each server; repeat during idle periods (heartbeats) to prevent election timeouts', () => {
    const { core, drain } = lone({ id: 'a', heartbeatTicks: 2 });
    core.campaign();
    drain();
    core.step({ type: 'vote-reply', from: 'b', to: 'a', term: 1, granted: true, pre: false });
    expect(to(drain().messages, 'append').map((m) => m.to)).toEqual(['b', 'c']);
    core.tick();
    expect(to(drain().messages, 'heartbeat')).toEqual([]);
    core.tick();
    expect(to(drain().messages, 'heartbeat').map((m) => m.to)).toEqual(['b', 'c']);

    const net = new TestNet(['a', 'b', 'c'], { preVote: false });
    net.elect('a');
    net.tickAll(200);
    expect(net.leaders()).toEqual(['a']);
    expect(net.core('a').term).toBe(1);
  });

  it('if command received from client: append entry to local log, respond after entry applied to state machine', () => {
    const { core, storage, drain } = lone({ id: 'a' });
    core.campaign();
    core.step({ type: 'vote-reply', from: 'b', to: 'a', term: 1, granted: true, pre: false });
    drain();
    const { index } = core.propose(new TextEncoder().encode('cmd'));
    expect(index).toBe(2); // after the leader's no-op
    expect(drain().committed).toEqual([]);
    expect(storage.lastIndex()).toBe(2);
    core.step({
      type: 'append-reply',
      from: 'c',
      to: 'a',
      term: 1,
      success: true,
      index: 2,
      hintIndex: 0,
      hintTerm: 0,
    });
    expect(drain().committed.map((e) => e.index)).toEqual([1, 2]);
  });

  it('if last log index ≥ nextIndex for a follower: send AppendEntries with entries from nextIndex; on success update nextIndex and matchIndex; on inconsistency decrement nextIndex and retry (by whole terms, with the conflict hint)', () => {
    const net = new TestNet(['a', 'b', 'c'], { preVote: false });
    // a's log: terms 1 1 1 4 4 4 4 4; c's: 1 1 1 2 2 2 3 3 3 3 3 3 (uncommitted entries of old terms).
    net.storages.get('a')!.append(entries([1, 1, 1, 4, 4, 4, 4, 4]));
    net.storages.get('b')!.append(entries([1, 1, 1, 4, 4]));
    net.storages.get('c')!.append(entries([1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3, 3]));
    for (const id of ['a', 'b', 'c']) net.storages.get(id)!.setHardState({ term: 4, vote: '', commit: 3 });
    for (const id of ['a', 'b', 'c']) net.restart(id);
    net.elect('a');
    net.tickAll(3);
    const logs = ['a', 'b', 'c'].map((id) =>
      net.storages
        .get(id)!
        .entries(1, 10)
        .map((e) => e.term),
    );
    expect(logs[1]).toEqual(logs[0]);
    expect(logs[2]).toEqual(logs[0]);
    expect(logs[0]).toEqual([1, 1, 1, 4, 4, 4, 4, 4, 5]);
    // c refused twice at most: once at the leader's last index, once at the term boundary.
    const refusals = net.sent.filter((m) => m.type === 'append-reply' && m.from === 'c' && !m.success);
    expect(refusals.length).toBeGreaterThan(0);
    expect(refusals.length).toBeLessThanOrEqual(2);
  });

  it('if there exists an N > commitIndex with a majority of matchIndex[i] ≥ N and log[N].term == currentTerm: set commitIndex = N (never by counting replicas of an older term, Figure 8)', () => {
    const { core, drain } = lone({ id: 'a', terms: [1, 2], term: 2 });
    core.campaign();
    core.step({ type: 'vote-reply', from: 'b', to: 'a', term: 3, granted: true, pre: false });
    drain();
    expect(core.role).toBe('Leader');
    // Index 2 (term 2) is on every server: still not committed by counting.
    for (const from of ['b', 'c'])
      core.step({
        type: 'append-reply',
        from,
        to: 'a',
        term: 3,
        success: true,
        index: 2,
        hintIndex: 0,
        hintTerm: 0,
      });
    expect(core.commitIndex).toBe(0);
    // The no-op of term 3 at index 3 on a majority commits it, and with it everything before.
    core.step({
      type: 'append-reply',
      from: 'b',
      to: 'a',
      term: 3,
      success: true,
      index: 3,
      hintIndex: 0,
      hintTerm: 0,
    });
    expect(core.commitIndex).toBe(3);
    expect(drain().committed.map((e) => `${e.index}@${e.term}`)).toEqual(['1@1', '2@2', '3@3']);
  });
});

describe('Figure 2, RequestVote RPC — receiver implementation', () => {
  it('1. reply false if term < currentTerm', () => {
    const { core, drain } = lone({ id: 'b', term: 5 });
    core.step({
      type: 'vote',
      from: 'a',
      to: 'b',
      term: 3,
      lastIndex: 9,
      lastTerm: 3,
      pre: false,
      transfer: false,
    });
    expect(drain().messages).toEqual([
      { type: 'vote-reply', from: 'b', to: 'a', term: 5, granted: false, pre: false },
    ]);
  });

  it("2. if votedFor is null or candidateId, and the candidate's log is at least as up-to-date as the receiver's log, grant vote", () => {
    const { core, storage, drain } = lone({ id: 'b', terms: [1, 2, 2], term: 2 });
    const ask = (from: string, term: number, lastIndex: number, lastTerm: number) => {
      core.step({ type: 'vote', from, to: 'b', term, lastIndex, lastTerm, pre: false, transfer: false });
      return drain().messages.map((m) => (m.type === 'vote-reply' ? m.granted : undefined));
    };
    expect(ask('a', 3, 9, 1)).toEqual([false]); // older last term
    expect(ask('a', 3, 2, 2)).toEqual([false]); // same last term, shorter log
    expect(ask('a', 3, 3, 2)).toEqual([true]); // as up to date
    expect(storage.hardState()).toMatchObject({ term: 3, vote: 'a' });
    expect(ask('c', 3, 9, 3)).toEqual([false]); // already voted for a in term 3
    expect(ask('a', 3, 3, 2)).toEqual([true]); // a asking again (lost reply) is granted again
    expect(ask('c', 4, 3, 2)).toEqual([true]); // a new term: a new vote
  });
});

describe('Figure 2, AppendEntries RPC — receiver implementation', () => {
  const append = (term: number, prevIndex: number, prevTerm: number, terms: number[], commit = 0) =>
    ({
      type: 'append',
      from: 'a',
      to: 'b',
      term,
      prevIndex,
      prevTerm,
      entries: entries(terms, prevIndex + 1),
      commit,
    }) as const;

  it('1. reply false if term < currentTerm', () => {
    const { core, drain } = lone({ id: 'b', term: 5 });
    core.step(append(3, 0, 0, [3]));
    expect(drain().messages).toMatchObject([{ type: 'append-reply', term: 5, success: false }]);
    expect(core.lastIndex).toBe(0);
  });

  it("2. reply false if log doesn't contain an entry at prevLogIndex whose term matches prevLogTerm (with the hint of where to resume)", () => {
    const { core, drain } = lone({ id: 'b', terms: [1, 1, 2, 2], term: 2 });
    core.step(append(4, 6, 4, [4]));
    expect(drain().messages).toMatchObject([
      { type: 'append-reply', success: false, index: 6, hintIndex: 4, hintTerm: 2 },
    ]);
    core.step(append(4, 4, 3, [4]));
    expect(drain().messages).toMatchObject([
      { type: 'append-reply', success: false, index: 4, hintIndex: 4, hintTerm: 2 },
    ]);
    core.step(append(4, 4, 1, [4]));
    // Entries of term 2 are above the leader's term 1 at index 4: resume below them.
    expect(drain().messages).toMatchObject([
      { type: 'append-reply', success: false, index: 4, hintIndex: 2, hintTerm: 1 },
    ]);
    expect(core.lastIndex).toBe(4);
  });

  it('3. if an existing entry conflicts with a new one (same index but different terms), delete the existing entry and all that follow it', () => {
    const { core, storage, drain } = lone({ id: 'b', terms: [1, 1, 2, 2, 2], term: 2 });
    core.step(append(3, 2, 1, [3]));
    expect(drain().messages).toMatchObject([{ type: 'append-reply', success: true, index: 3 }]);
    expect(storage.entries(1, storage.lastIndex() + 1).map((e) => e.term)).toEqual([1, 1, 3]);
  });

  it('4. append any new entries not already in the log', () => {
    const { core, storage, drain } = lone({ id: 'b', terms: [1, 1], term: 1 });
    core.step(append(1, 0, 0, [1, 1, 1, 1]));
    core.step(append(1, 0, 0, [1, 1, 1, 1])); // a duplicate changes nothing
    core.step(append(1, 1, 1, [1])); // nor a shorter, older one
    expect(drain().messages.map((m) => (m.type === 'append-reply' ? m.index : -1))).toEqual([4, 4, 2]);
    expect(storage.lastIndex()).toBe(4);
  });

  it('5. if leaderCommit > commitIndex, set commitIndex = min(leaderCommit, index of last new entry)', () => {
    const { core, drain } = lone({ id: 'b', terms: [1, 1, 1, 1, 1, 1], term: 1 });
    core.step(append(1, 1, 1, [1], 9));
    expect(core.commitIndex).toBe(2);
    core.step(append(1, 2, 1, [1, 1], 3));
    expect(core.commitIndex).toBe(3);
    expect(drain().committed.map((e) => e.index)).toEqual([1, 2, 3]);
  });
});
