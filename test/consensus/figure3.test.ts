/**
 * Figure 3 of the Raft paper: the five properties Raft guarantees at all times. Each is
 * checked continuously (RaftInvariants sees every ready record) over randomized runs of the
 * in-test network with message loss, duplication, reordering and delay, partitions, crashes
 * with restarts from storage, and log compaction; and each check is shown to catch a
 * hand-made violation, so that its assertion can fail.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import {
  type PropertyViolation,
  RaftInvariants,
  type RaftProperty,
} from '../../lib/consensus/check/properties.ts';
import type { Entry } from '../../lib/consensus/messages.ts';
import type { Ready } from '../../lib/consensus/raft.ts';
import { SeededRandom } from '../../lib/time/random.ts';
import { TestNet } from './net.ts';

const SEEDS = 20;

interface Run {
  seed: number;
  violations: PropertyViolation[];
  applied: number;
}

/** One randomized run: 600 steps of faults and proposals, then the network heals. */
function chaos(seed: number): Run {
  const ids = seed % 2 === 0 ? ['a', 'b', 'c'] : ['a', 'b', 'c', 'd', 'e'];
  const net = new TestNet(ids, { electionTicks: 8 }, ids, seed);
  const random = new SeededRandom(seed * 7919);
  const faults = { loss: 0.1, duplicate: 0.05, delay: 0.1 };
  let n = 0;
  for (let step = 0; step < 600; step++) {
    const r = random.next();
    if (r < 0.02) {
      const live = ids.filter((id) => !net.isDown(id));
      if (live.length > Math.floor(ids.length / 2) + 1) net.crash(live[random.int(live.length)]!);
    } else if (r < 0.06) {
      const down = ids.filter((id) => net.isDown(id));
      if (down.length > 0) net.restart(down[random.int(down.length)]!);
    } else if (r < 0.08) net.isolate(ids[random.int(ids.length)]!);
    else if (r < 0.12) net.heal();
    else if (r < 0.14) {
      const id = ids[random.int(ids.length)]!;
      if (!net.isDown(id)) net.compact(id);
    } else if (r < 0.35) {
      for (const leader of net.leaders()) {
        try {
          net.core(leader).propose(new TextEncoder().encode(`s${seed}-${n++}`));
        } catch {
          // not-leader, transferring, overloaded: a client would retry elsewhere
        }
      }
    }
    for (const id of ids) if (!net.isDown(id)) net.core(id).tick();
    net.deliverChaos(random, faults);
  }
  net.heal();
  for (const id of ids) if (net.isDown(id)) net.restart(id);
  net.tickAll(60);
  const leader = net.leaders()[0];
  if (leader) net.propose(leader, 'final');
  net.tickAll(5);
  return {
    seed,
    violations: net.invariants.violations,
    applied: Math.min(...ids.map((id) => net.appliedText(id).length)),
  };
}

let runs: Run[] = [];
beforeAll(() => {
  runs = Array.from({ length: SEEDS }, (_, i) => chaos(i + 1));
});

function violationsOf(property: RaftProperty): string[] {
  return runs.flatMap((r) =>
    r.violations.filter((v) => v.property === property).map((v) => `seed ${r.seed}: ${v.detail}`),
  );
}

const cmd = (index: number, term: number, text: string): Entry => ({
  index,
  term,
  kind: 'command',
  data: new TextEncoder().encode(text),
});

function ready(role: Ready['role'], term: number, fields: Partial<Ready> = {}): Ready {
  return {
    role,
    term,
    leader: '',
    hardState: undefined,
    snapshot: undefined,
    entries: [],
    messages: [],
    committed: [],
    reads: [],
    ...fields,
  };
}

describe('Figure 3, the properties Raft guarantees (randomized runs with faults)', () => {
  it('the runs made progress (every node applied commands after the network healed)', () => {
    expect(runs.filter((r) => r.applied === 0).map((r) => r.seed)).toEqual([]);
  });

  it('Election Safety: at most one leader can be elected in a given term', () => {
    expect(violationsOf('election-safety')).toEqual([]);
    const check = new RaftInvariants();
    check.observe('a', ready('Leader', 3), () => 0, 0);
    check.observe('b', ready('Leader', 3), () => 0, 0);
    expect(check.violations.map((v) => v.property)).toEqual(['election-safety']);
  });

  it('Leader Append-Only: a leader never overwrites or deletes entries in its log; it only appends new entries', () => {
    expect(violationsOf('leader-append-only')).toEqual([]);
    const check = new RaftInvariants();
    check.observe('a', ready('Leader', 2, { entries: [cmd(1, 2, 'x'), cmd(2, 2, 'y')] }), () => 2, 0);
    check.observe('a', ready('Leader', 2, { entries: [cmd(2, 2, 'z')] }), () => 2, 0);
    expect(check.violations.map((v) => v.property)).toContain('leader-append-only');
  });

  it('Log Matching: if two logs contain an entry with the same index and term, the logs are identical in all entries up through that index', () => {
    expect(violationsOf('log-matching')).toEqual([]);
    const check = new RaftInvariants();
    check.observe(
      'a',
      ready('Follower', 2, { entries: [cmd(1, 1, 'x'), cmd(2, 2, 'y')] }),
      (i) => [0, 1, 2][i],
      0,
    );
    check.observe(
      'b',
      ready('Follower', 2, { entries: [cmd(1, 2, 'w'), cmd(2, 2, 'y')] }),
      (i) => [0, 2, 2][i],
      0,
    );
    expect(check.violations.map((v) => v.property)).toEqual(['log-matching']);
  });

  it('Leader Completeness: if a log entry is committed in a given term, that entry will be present in the logs of the leaders for all higher-numbered terms', () => {
    expect(violationsOf('leader-completeness')).toEqual([]);
    const check = new RaftInvariants();
    check.observe('a', ready('Follower', 1, { committed: [cmd(1, 1, 'x')] }), () => 1, 0);
    check.observe(
      'b',
      ready('Leader', 2, { entries: [{ index: 1, term: 2, kind: 'noop' }] }),
      (i) => [0, 2][i],
      0,
    );
    expect(check.violations.map((v) => v.property)).toContain('leader-completeness');
  });

  it('State Machine Safety: if a server has applied a log entry at a given index, no other server will ever apply a different log entry for the same index', () => {
    expect(violationsOf('state-machine-safety')).toEqual([]);
    const check = new RaftInvariants();
    check.observe('a', ready('Follower', 1, { committed: [cmd(1, 1, 'x')] }), () => 1, 0);
    check.observe('b', ready('Follower', 1, { committed: [cmd(1, 1, 'y')] }), () => 1, 0);
    expect(check.violations.map((v) => v.property)).toEqual(['state-machine-safety']);
  });
});
