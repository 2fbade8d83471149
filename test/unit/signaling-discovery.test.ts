// joinThroughSignaling against what a room lists (issue 11, item 5): which address each peer
// is dialled at, when, and bounds that hold however many peers — or fake addresses — a room lists.
import { describe, expect, it } from 'vitest';
import { NodeState } from '../../lib/membership/node-state.ts';
import type { MeshNode } from '../../lib/node/mesh-node.ts';
import { SeededRandom } from '../../lib/time/random.ts';
import { VirtualScheduler } from '../../lib/time/virtual.ts';
import { joinThroughSignaling } from '../../lib/webrtc/discovery.ts';
import type { SignalingClient, SignalingEvents } from '../../signaling/client.ts';

const id = (n: number) => n.toString(16).padStart(32, '0');

/**
 * A node that records what it is asked to join and dial; `dials` says which schemes its
 * transports dial. It stays Joining until `joinedNow()`; `members` are the ids it knows.
 */
function fakeNode(dials: RegExp) {
  const scheduler = new VirtualScheduler();
  const joins: string[][] = [];
  const connects: Array<[string, string | undefined]> = [];
  const members = new Set<string>();
  let state: NodeState = NodeState.Joining;
  let admit = () => {};
  const node = {
    env: { random: new SeededRandom(1), clock: { now: () => scheduler.now }, scheduler },
    canDial: (a: string) => dials.test(a),
    join: (seeds: string[]) => {
      joins.push(seeds);
      return new Promise<void>((ok) => {
        admit = ok;
      });
    },
    get state() {
      return state;
    },
    member: (id: string) => (members.has(id) ? { nodeId: id } : undefined),
    connect: (a: string, expect?: string) => connects.push([a, expect]),
  } as unknown as MeshNode;
  const joinedNow = async () => {
    state = NodeState.Active;
    admit();
    await Promise.resolve();
  };
  return { node, joins, connects, members, joinedNow, run: (ms: number) => scheduler.runFor(ms) };
}

/** A room that lists `peers` (id → advertised addresses) once joined. */
function fakeRoom(peers: Map<string, string[]>) {
  const handlers = new Map<string, (e: unknown) => void>();
  const room = {
    state: 'connecting',
    peers: () => [...peers.keys()],
    addressesOf: (p: string) => peers.get(p) ?? [],
    on: (type: string, fn: (e: unknown) => void) => {
      handlers.set(type, fn);
      return () => handlers.delete(type);
    },
  } as unknown as SignalingClient;
  const emit = <K extends keyof SignalingEvents & string>(type: K, e: SignalingEvents[K]) =>
    handlers.get(type)?.(e);
  return { room, emit };
}

describe('joinThroughSignaling', () => {
  it('dials a peer at its first WebSocket address this node can dial, else over WebRTC, else not at all', () => {
    const peers = new Map([
      [id(1), ['wss://a.example', 'ws://10.0.0.1:9000']],
      [id(2), []],
    ]);
    const wsOnly = fakeNode(/^wss?:/);
    const { room, emit } = fakeRoom(peers);
    joinThroughSignaling(wsOnly.node, room, { seeds: ['ws://seed:1'] });
    expect(wsOnly.joins).toEqual([['ws://seed:1']]); // seeds at once, before the room answers
    emit('joined', { peers: [id(1), id(2)] });
    expect(wsOnly.joins[1]).toEqual(['ws://seed:1', 'wss://a.example']);
    const both = fakeNode(/^(wss?:|webrtc:)/);
    const second = fakeRoom(peers);
    joinThroughSignaling(both.node, second.room);
    second.emit('joined', { peers: [id(1), id(2)] });
    expect([...both.joins[0]!].sort()).toEqual([`webrtc:${id(2)}`, 'wss://a.example']);
    second.emit('peer-joined', { id: id(3), addrs: ['ws://10.0.0.3:9000'] });
    both.run(1_000);
    expect(both.connects).toEqual([['ws://10.0.0.3:9000', id(3)]]);
  });

  it('dials two listed peers at once, and the rest of its sample of 8 only if still Joining a second later', async () => {
    const listed = new Map(
      Array.from({ length: 500 }, (_, i) => [id(i + 1), [`ws://10.0.${i >> 8}.${i & 255}:9000`]]),
    );
    const slow = fakeNode(/^wss?:/);
    const first = fakeRoom(listed);
    joinThroughSignaling(slow.node, first.room);
    first.emit('joined', { peers: [...listed.keys()] });
    expect(slow.joins).toHaveLength(1);
    expect(slow.joins[0]).toHaveLength(2);
    slow.run(999);
    expect(slow.joins).toHaveLength(1);
    slow.run(1);
    expect(slow.joins).toHaveLength(2);
    expect(slow.joins[1]).toHaveLength(8);
    expect(new Set(slow.joins[1]).size).toBe(8);
    expect(slow.joins[1]!.slice(0, 2)).toEqual(slow.joins[0]); // the same sample, the first two first
    const quick = fakeNode(/^wss?:/);
    const second = fakeRoom(listed);
    joinThroughSignaling(quick.node, second.room);
    second.emit('joined', { peers: [...listed.keys()] });
    await quick.joinedNow();
    quick.run(5_000);
    expect(quick.joins).toHaveLength(1);
  });

  it('dials an announced newcomer only if it is not a member a second later', () => {
    const n = fakeNode(/^wss?:/);
    const { room, emit } = fakeRoom(new Map());
    joinThroughSignaling(n.node, room);
    emit('peer-joined', { id: id(7), addrs: ['ws://10.0.0.7:9000'] });
    emit('peer-joined', { id: id(8), addrs: ['ws://10.0.0.8:9000'] });
    n.run(500);
    n.members.add(id(7)); // it joined through the peers the room listed to it
    expect(n.connects).toEqual([]);
    n.run(500);
    expect(n.connects).toEqual([['ws://10.0.0.8:9000', id(8)]]);
  });

  it('dials at most 20 announced newcomers at once, 5 a second after; stopping cancels what waits', () => {
    const n = fakeNode(/^wss?:/);
    const { room, emit } = fakeRoom(new Map());
    const stop = joinThroughSignaling(n.node, room);
    for (let i = 0; i < 1_000; i++)
      emit('peer-joined', { id: id(10_000 + i), addrs: [`ws://10.1.0.1:${i + 1}`] });
    n.run(1_000);
    expect(n.connects).toHaveLength(20);
    for (let i = 0; i < 1_000; i++)
      emit('peer-joined', { id: id(20_000 + i), addrs: [`ws://10.1.0.2:${i + 1}`] });
    n.run(1_000);
    expect(n.connects).toHaveLength(25);
    emit('peer-joined', { id: id(30_000), addrs: ['ws://10.1.0.3:1'] });
    stop();
    n.run(10_000);
    expect(n.connects).toHaveLength(25);
  });
});
