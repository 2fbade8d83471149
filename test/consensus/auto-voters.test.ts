/**
 * Voters chosen automatically from stable members: the rules (voters.ts) alone, then on
 * simulated MeshNodes built with `consensus()` and no voter list — the group forms, a
 * crashed voter is replaced through the log while commits keep flowing, and the client
 * history stays linearizable.
 */
import { describe, expect, it } from 'vitest';
import { checkLinearizable, type HistoryOp } from '../../lib/consensus/check/linearizability.ts';
import { consensus } from '../../lib/consensus/service.ts';
import {
  foundingAllowed,
  type MemberView,
  type ProbeResult,
  planVoters,
  type VoterPlanInput,
} from '../../lib/consensus/voters.ts';
import type { MeshNode } from '../../lib/node/mesh-node.ts';
import { SimCluster } from '../../lib/sim/mod.ts';
import { converged, runUntil, settle } from '../sim/helpers.ts';

const member = (nodeId: string, changedAt: number, state = 'Active'): MemberView => ({
  nodeId,
  state,
  changedAt,
});

function plan(over: Partial<VoterPlanInput>) {
  return planVoters({
    self: 'l',
    voters: ['l', 'v1', 'v2'],
    members: [member('l', 0), member('v1', 0), member('v2', 0)],
    now: 100_000,
    stableMs: 10_000,
    voterCount: 3,
    heardAt: () => 99_000,
    capable: () => true,
    ...over,
  });
}

describe('automatic voters: the rules', () => {
  it('a full, live voter set is left alone', () => {
    expect(plan({ members: [member('l', 0), member('v1', 0), member('v2', 0), member('c', 0)] })).toEqual({
      kind: 'none',
    });
  });

  it('a voter is dead only when not Active in the view and silent in Raft for stableMs; removed once a replacement is known', () => {
    const members = [member('l', 0), member('v1', 0), member('v2', 50_000, 'Unreachable'), member('c', 0)];
    // Unreachable in the view but still heard from (a lie about it, or a view lagging): kept.
    expect(plan({ members })).toEqual({ kind: 'none' });
    // Active in the view but silent: kept (silence alone may be our own links).
    const silent = (id: string) => (id === 'v1' ? 0 : 99_000);
    expect(
      plan({ members: [...members.slice(0, 2), member('v2', 0), member('c', 0)], heardAt: silent }),
    ).toEqual({
      kind: 'none',
    });
    const v2Silent = (id: string) => (id === 'v2' ? 80_000 : 99_000);
    expect(plan({ members, heardAt: v2Silent })).toEqual({ kind: 'remove', id: 'v2' });
    // No replacement known to run consensus: the dead voter keeps its seat.
    expect(plan({ members, heardAt: v2Silent, capable: () => false })).toEqual({ kind: 'none' });
    expect(plan({ members: members.slice(0, 3), heardAt: v2Silent })).toEqual({ kind: 'none' });
  });

  it('the most senior stable member is chosen, not the lowest id nor a recent one; unknown ones are probed first', () => {
    const members = [
      member('l', 0),
      member('v1', 0),
      member('a-newcomer', 95_000), // lowest id, Active for 5 s only
      member('b-flapper', 89_000), // stable, but its last state change is recent
      member('z-senior', 1_000),
      member('y-gone', 0, 'Suspect'),
    ];
    const input = { voters: ['l', 'v1'], members };
    expect(plan(input)).toEqual({ kind: 'add', id: 'z-senior' });
    expect(plan({ ...input, capable: () => undefined })).toEqual({ kind: 'probe', id: 'z-senior' });
    expect(plan({ ...input, capable: (id) => id !== 'z-senior' })).toEqual({
      kind: 'add',
      id: 'b-flapper',
    });
  });

  it('founding needs every probe answered, no group anywhere, and no lower id running consensus', () => {
    const g = (voters: string[], leader = ''): ProbeResult => ({ voters, leader });
    expect(
      foundingAllowed(
        'm',
        new Map([
          ['n', g([])],
          ['a', 'incapable'],
        ]),
      ),
    ).toBe(true);
    expect(foundingAllowed('m', new Map([['a', g([])]]))).toBe(false);
    expect(foundingAllowed('m', new Map([['n', 'unknown']]))).toBe(false);
    expect(foundingAllowed('m', new Map([['n', g(['x'])]]))).toBe(false);
    expect(foundingAllowed('m', new Map([['n', g([], 'x')]]))).toBe(false);
  });
});

const STABLE_MS = 2_000;

async function autoCluster(n: number) {
  const c = await SimCluster.create({
    nodes: n,
    seed: 7,
    network: { linkAuth: 'trusted' },
    nodeOptions: () => ({ consensus: consensus({ tickMs: 50, stableMs: STABLE_MS }) }),
  });
  runUntil(c, () => converged(c), 30_000);
  await settle(c, STABLE_MS + 6_000);
  return c;
}

const alive = (c: SimCluster, down: Set<number>) => c.nodes.filter((_, i) => !down.has(i)).map((x) => x.node);
const leaders = (nodes: MeshNode[]) => nodes.filter((n) => n.consensus.status().role === 'Leader');

describe('automatic voters on simulated MeshNodes', () => {
  it('with no voter list, one group of 3 voters forms; every node knows it and proposes through its leader', async () => {
    const c = await autoCluster(5);
    const nodes = alive(c, new Set());
    expect(leaders(nodes)).toHaveLength(1);
    const voters = leaders(nodes)[0]!.consensus.status().voters;
    expect(voters).toHaveLength(3);
    for (const n of nodes.filter((x) => voters.includes(x.nodeId)))
      expect([...n.consensus.status().voters].sort()).toEqual([...voters].sort());
    const outsider = nodes.find((n) => !voters.includes(n.nodeId))!;
    const put = outsider.consensus.propose({ op: 'put', key: 'k', value: 'v' });
    await settle(c, 1_000);
    expect(await put).toEqual({ ok: true, previous: null });
  });

  it('a crashed voter is replaced through the log; commits keep flowing and the history is linearizable', async () => {
    const c = await autoCluster(5);
    const down = new Set<number>();
    const history: HistoryOp[] = [];
    let value = 0;
    let stop = false;
    // A crashed host's timers vanish with it: an operation waiting there ends as unknown.
    const bounded = <T>(p: Promise<T>) =>
      Promise.race([
        p,
        new Promise<never>((_, reject) =>
          c.net.scheduler.setTimer(6_000, () =>
            reject(Object.assign(new Error('lost'), { code: 'timeout' })),
          ),
        ),
      ]);
    const client = async (k: number) => {
      while (!stop) {
        // Each client goes through another live node (round robin), the leader's included.
        const up = c.nodes.filter((_, i) => !down.has(i));
        const node = up[(k + value) % up.length]!.node;
        const key = `k${k % 2}`;
        const call = c.now;
        const write = value % 3 !== 0;
        const v = `v${value++}`;
        try {
          if (write) {
            await bounded(node.consensus.propose({ op: 'put', key, value: v }));
            history.push({ client: k, f: 'write', key, value: v, call, return: c.now });
          } else {
            const result = await bounded(node.consensus.read(key));
            history.push({ client: k, f: 'read', key, call, return: c.now, result });
          }
        } catch (e) {
          const code = (e as { code?: string }).code;
          // Refused before taking effect: left out; anything else may have taken effect.
          if (write && code !== 'not-leader' && code !== 'superseded')
            history.push({ client: k, f: 'write', key, value: v, call, return: null });
          await new Promise<void>((r) => c.net.scheduler.setTimer(100, r));
        }
      }
    };
    const clients = [0, 1, 2].map(client);
    await settle(c, 2_000);
    const before = history.length;
    const first = leaders(alive(c, down))[0]!.consensus.status().voters;
    // Crash a voter that is not the leader's node… then the leader itself.
    const victim = c.nodes.findIndex(
      (x) => first.includes(x.node.nodeId) && x.node.consensus.status().role !== 'Leader',
    );
    c.crash(victim);
    down.add(victim);
    await settle(c, STABLE_MS + 8_000);
    const afterOne = leaders(alive(c, down));
    expect(afterOne).toHaveLength(1);
    const second = afterOne[0]!.consensus.status().voters;
    expect(second).toHaveLength(3);
    expect(second).not.toContain(c.nodes[victim]!.node.nodeId);
    const committedAfterOne = history.length;
    expect(committedAfterOne).toBeGreaterThan(before);

    const old = c.nodes.findIndex((x, i) => !down.has(i) && x.node.consensus.status().role === 'Leader');
    c.crash(old);
    down.add(old);
    await settle(c, STABLE_MS + 10_000);
    stop = true;
    await settle(c, 6_000);
    await Promise.all(clients);
    const rest = alive(c, down);
    expect(leaders(rest)).toHaveLength(1);
    const third = leaders(rest)[0]!.consensus.status().voters;
    expect(third).toHaveLength(3);
    expect(third.every((v) => rest.some((n) => n.nodeId === v))).toBe(true);
    expect(history.filter((h) => h.return !== null).length).toBeGreaterThan(committedAfterOne + 10);
    expect(checkLinearizable(history).verdict).toBe('ok');
  }, 60_000);
});
