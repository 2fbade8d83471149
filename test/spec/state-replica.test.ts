// The state replica (lib/node/state-replica.ts) driven directly with virtual time: two
// replicas with real identities and broadcast trees, frames handed over 1 ms after they are
// sent, every frame recorded.
import { describe, expect, it } from 'vitest';
import { unpackIds } from '../../lib/broadcast/ids.ts';
import { BroadcastKind } from '../../lib/broadcast/metrics.ts';
import { BroadcastTree, type TreeMessage } from '../../lib/broadcast/tree.ts';
import { NodeIdentity } from '../../lib/identity/node-identity.ts';
import { strictVerifier } from '../../lib/identity/verifier.ts';
import { type StateHost, type StateOptions, StateReplica } from '../../lib/node/state-replica.ts';
import { ProcessStatus } from '../../lib/state/values.ts';
import { SeededRandom } from '../../lib/time/random.ts';
import { VirtualClock, VirtualScheduler } from '../../lib/time/virtual.ts';
import type { MessageOf } from '../../lib/wire/messages.ts';

type StateMessage = MessageOf<'state-delta'> | MessageOf<'tree'>;

/** Replicas "a" and "b", linked to each other; timers set after start() are counted. */
function pair(opts: StateOptions = {}) {
  const scheduler = new VirtualScheduler();
  let timersSet = 0;
  const counting = {
    now: () => scheduler.now,
    setTimer: (ms: number, fn: () => void) => {
      timersSet++;
      return scheduler.setTimer(ms, fn);
    },
    cancelTimer: (id: number) => scheduler.cancelTimer(id),
  };
  const env = { clock: new VirtualClock(scheduler), scheduler: counting, random: new SeededRandom(1) };
  const names = ['a', 'b'] as const;
  const identities = new Map(
    names.map((n, i) => [n, NodeIdentity.fromSecretKey(new Uint8Array(32).fill(i + 1))]),
  );
  const nameOf = new Map(names.map((n) => [identities.get(n)!.nodeId, n]));
  const keys = new Map([...identities.values()].map((x) => [x.nodeId, x.publicKey]));
  const frames: Array<{ at: number; from: string; to: string; msg: StateMessage }> = [];
  const treeFrames: Array<{ at: number; from: string; to: string; msg: TreeMessage }> = [];
  const replicas = new Map<string, StateReplica>();
  const trees = new Map<string, BroadcastTree>();
  for (const name of names) {
    const identity = identities.get(name)!;
    const other = names.find((n) => n !== name)!;
    const otherId = identities.get(other)!.nodeId;
    const tree = new BroadcastTree({
      env,
      send: (to, msg) => {
        treeFrames.push({ at: scheduler.now, from: name, to: nameOf.get(to)!, msg });
        scheduler.setTimer(1, () => trees.get(nameOf.get(to)!)!.onMessage(identity.nodeId, msg));
      },
    });
    const host: StateHost = {
      identity,
      env,
      verifier: strictVerifier,
      send: (peer, msg) => {
        const to = nameOf.get(peer)!;
        frames.push({ at: scheduler.now, from: name, to, msg });
        scheduler.setTimer(1, () => {
          const r = replicas.get(to)!;
          if (msg.type === 'tree') r.onTree(identity.nodeId, msg);
          else r.onDelta(identity.nodeId, msg.entries);
        });
        return 1;
      },
      peers: () => [otherId],
      memberKey: (id) => keys.get(id),
      isReachable: () => true,
      admits: () => true,
      setLowWaterMark: () => {},
      changed: () => {},
      repairing: () => {},
      tree,
    };
    trees.set(name, tree);
    replicas.set(
      name,
      new StateReplica(host, { antiEntropyIntervalMs: 1e9, tombstoneLifetimeMs: 1e10, ...opts }),
    );
  }
  for (const name of names) {
    const other = identities.get(names.find((n) => n !== name)!)!.nodeId;
    trees.get(name)!.linkUp(other);
    replicas.get(name)!.linkUp(other, false);
    replicas.get(name)!.start();
  }
  timersSet = 0;
  const deltas = () => frames.filter((f) => f.msg.type === 'state-delta');
  return {
    a: replicas.get('a')!,
    b: replicas.get('b')!,
    idA: identities.get('a')!.nodeId,
    idB: identities.get('b')!.nodeId,
    treeFrames,
    trees,
    scheduler,
    frames,
    deltas,
    timersSet: () => timersSet,
  };
}

const proc = (load: number) => ({
  agentType: 'worker',
  capabilities: ['gpu'],
  status: ProcessStatus.Running,
  resourceSummary: { load },
});

describe('delta gossip: news goes out a short while after the change, in one frame', () => {
  it('writes close together reach the eager neighbour in one frame, gossipIntervalMs after the first', () => {
    const { a, b, scheduler, deltas } = pair({ gossipIntervalMs: 50 });
    scheduler.runFor(1_000);
    a.advertiseProcess('p1', proc(1));
    scheduler.runFor(10);
    a.advertiseProcess('p2', proc(2));
    scheduler.runFor(10);
    a.advertiseProcess('p3', proc(3));
    scheduler.runFor(500);
    expect(deltas().map((f) => [f.at, f.from, f.msg.type === 'state-delta' && f.msg.entries.length])).toEqual(
      [[1_050, 'a', 3]],
    );
    expect(b.state.map.size).toBe(3);
  });

  it('lazy links hear of news later, in one announcement: the tree brings it sooner', () => {
    const { a, idB, trees, scheduler, deltas, treeFrames } = pair({ gossipIntervalMs: 50 });
    trees.get('a')!.onMessage(idB, { type: 'prune' });
    scheduler.runFor(1_000);
    a.advertiseProcess('p1', proc(1));
    scheduler.runFor(100);
    a.advertiseProcess('p2', proc(2));
    scheduler.runFor(2_000);
    const ihaves = treeFrames.filter((f) => f.msg.type === 'ihave');
    expect(ihaves.map((f) => [f.from, f.to, 'ids' in f.msg ? unpackIds(f.msg.ids)!.length : 0])).toEqual([
      ['a', 'b', 2],
    ]);
    expect(ihaves[0]!.at).toBeGreaterThanOrEqual(1_500);
    // No entries in full over the lazy link; b grafts them (graftAfterMs) since nothing else brings them.
    expect(deltas().map((f) => f.at >= ihaves[0]!.at + 500)).toEqual([true]);
  });

  it('no delta timer runs while nothing changes', () => {
    const { scheduler, timersSet } = pair();
    scheduler.runFor(30_000);
    expect(timersSet()).toBe(0);
  });

  it('news beyond one frame’s byte budget follows in the next frames without another change', () => {
    const { a, b, scheduler, deltas } = pair({ writesPerOriginPerSecond: 10_000 });
    for (let i = 0; i < 400; i++) a.advertiseProcess(`p${i}`, proc(i));
    scheduler.runFor(1_000);
    expect(deltas().length).toBeGreaterThan(1);
    expect(b.state.map.size).toBe(400);
  });
});

describe('the broadcast tree sees state deltas', () => {
  it('entries over a lazy link (a repair) leave it lazy; new entries over an eager link keep it eager', () => {
    const { a, b, idA, trees, scheduler } = pair();
    a.advertiseProcess('p1', proc(1));
    scheduler.runFor(100);
    expect(trees.get('b')!.isEager(idA, BroadcastKind.Entry)).toBe(true);
    trees.get('b')!.onMessage(idA, { type: 'prune' });
    expect(trees.get('b')!.isEager(idA, BroadcastKind.Entry)).toBe(false);
    const newer = a.advertiseProcess('p2', proc(2));
    b.onDelta(idA, [newer.wire]);
    scheduler.runFor(10);
    expect(b.state.map.size).toBe(2);
    expect(trees.get('b')!.isEager(idA, BroadcastKind.Entry)).toBe(false);
  });
});
