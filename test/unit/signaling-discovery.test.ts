// joinThroughSignaling against what a room lists (issue 11, item 5): which address each peer
// is dialled at, and bounds that hold however many peers — or fake addresses — a room lists.
import { describe, expect, it } from 'vitest';
import type { MeshNode } from '../../lib/node/mesh-node.ts';
import { SeededRandom } from '../../lib/time/random.ts';
import { joinThroughSignaling } from '../../lib/webrtc/discovery.ts';
import type { SignalingClient, SignalingEvents } from '../../signaling/client.ts';

const id = (n: number) => n.toString(16).padStart(32, '0');

/** A node that records what it is asked to join and dial; `dials` says which schemes its transports dial. */
function fakeNode(dials: RegExp) {
  let now = 0;
  const joins: string[][] = [];
  const connects: Array<[string, string | undefined]> = [];
  const node = {
    env: { random: new SeededRandom(1), clock: { now: () => now } },
    canDial: (a: string) => dials.test(a),
    join: (seeds: string[]) => {
      joins.push(seeds);
      return Promise.resolve();
    },
    member: () => undefined,
    connect: (a: string, expect?: string) => connects.push([a, expect]),
  } as unknown as MeshNode;
  return { node, joins, connects, advance: (ms: number) => (now += ms) };
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
    expect(both.connects).toEqual([['ws://10.0.0.3:9000', id(3)]]);
  });

  it('joins through at most 8 listed peers and dials at most 20 announced newcomers at once, 5 a second after', () => {
    const listed = new Map(
      Array.from({ length: 500 }, (_, i) => [id(i + 1), [`ws://10.0.${i >> 8}.${i & 255}:9000`]]),
    );
    const n = fakeNode(/^wss?:/);
    const { room, emit } = fakeRoom(listed);
    joinThroughSignaling(n.node, room);
    emit('joined', { peers: [...listed.keys()] });
    expect(n.joins).toHaveLength(1);
    expect(n.joins[0]).toHaveLength(8);
    expect(new Set(n.joins[0]).size).toBe(8);
    for (let i = 0; i < 1_000; i++)
      emit('peer-joined', { id: id(10_000 + i), addrs: [`ws://10.1.0.1:${i + 1}`] });
    expect(n.connects).toHaveLength(20);
    n.advance(1_000);
    for (let i = 0; i < 1_000; i++)
      emit('peer-joined', { id: id(20_000 + i), addrs: [`ws://10.1.0.2:${i + 1}`] });
    expect(n.connects).toHaveLength(25);
  });
});
