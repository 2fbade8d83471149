// SignalingClient and the room it joined: it signals only peers the room lists, and a peer
// that left before the server saw a signal to it is taken as gone, not reported as an error
// (a dial racing a departure is routine: each new node of a bench run printed such errors).
import { afterEach, describe, expect, it } from 'vitest';
import { NodeIdentity } from '../../lib/identity/mod.ts';
import { SignalingClient } from '../../signaling/client.ts';
import { parseServerMessage } from '../../signaling/protocol.ts';
import { FakeSocket } from '../support/fake-websocket.ts';

const [B, C] = ['b'.repeat(32), 'c'.repeat(32)];

function joined(peers: string[]) {
  const identity = NodeIdentity.generate();
  const client = new SignalingClient({ url: 'ws://s', identity, room: 'r', WebSocket: FakeSocket });
  const seen: Array<[string, unknown]> = [];
  for (const type of ['error', 'peer-left'] as const) client.on(type, (e) => seen.push([type, e]));
  client.start();
  const socket = FakeSocket.made.at(-1)!;
  socket.join(identity.nodeId, peers);
  socket.sent.splice(0);
  return { client, socket, seen };
}

describe('SignalingClient and the peers of its room', () => {
  afterEach(() => {
    FakeSocket.made = [];
  });

  it('signals only peers the room lists', () => {
    const t = joined([B]);
    expect(t.client.send(B, { sdp: 1 })).toBe(true);
    expect(t.client.send(C, { sdp: 2 })).toBe(false);
    t.socket.deliver({ t: 'peer-left', id: B });
    expect(t.client.send(B, { sdp: 3 })).toBe(false);
    expect(t.socket.sent.map((f) => JSON.parse(f).data)).toEqual([{ sdp: 1 }]);
    t.client.close();
  });

  it('a signal refused as unknown-peer, naming the peer, means the peer left: no error event', () => {
    const t = joined([B, C]);
    expect(t.client.send(B, { sdp: 1 })).toBe(true);
    t.socket.deliver({ t: 'error', code: 'unknown-peer', message: `no peer ${B} in this room`, to: B });
    expect(t.seen).toEqual([['peer-left', { id: B }]]);
    expect(t.client.peers()).toEqual([C]);
    // Its peer-left, arriving after, changes nothing.
    t.socket.deliver({ t: 'peer-left', id: B });
    expect(t.seen).toHaveLength(1);
    t.client.close();
  });

  it('other errors, and an unknown-peer from a server that does not name the peer, are still reported', () => {
    const t = joined([B]);
    t.socket.deliver({ t: 'error', code: 'unknown-peer', message: 'no peer in this room' });
    t.socket.deliver({ t: 'error', code: 'rate-limited', message: 'too many messages; dropped', to: B });
    expect(t.seen.map(([type, e]) => [type, (e as { code?: string }).code])).toEqual([
      ['error', 'unknown-peer'],
      ['error', 'rate-limited'],
    ]);
    expect(t.client.peers()).toEqual([B]);
    t.client.close();
  });

  it('the parser keeps `to` only when it is a node id', () => {
    const err = (to: unknown) =>
      parseServerMessage(JSON.stringify({ t: 'error', code: 'x', message: 'm', to }));
    expect(err(B)).toEqual({ t: 'error', code: 'x', message: 'm', to: B });
    for (const bad of ['B'.repeat(32), 'b'.repeat(31), 7, null, { id: B }])
      expect(err(bad)).toEqual({ t: 'error', code: 'x', message: 'm' });
  });
  it('a peer announced again (it reconnected) is reported again only with other addresses', () => {
    const t = joined([]);
    const joins: unknown[] = [];
    t.client.on('peer-joined', (e) => joins.push(e));
    t.socket.deliver({ t: 'peer-joined', id: B, addrs: ['ws://127.0.0.1:1'] });
    t.socket.deliver({ t: 'peer-joined', id: B, addrs: ['ws://127.0.0.1:1'] });
    t.socket.deliver({ t: 'peer-joined', id: B, addrs: ['ws://127.0.0.1:2'] });
    expect(joins).toEqual([
      { id: B, addrs: ['ws://127.0.0.1:1'] },
      { id: B, addrs: ['ws://127.0.0.1:2'] },
    ]);
    expect(t.client.peers()).toContain(B);
    t.client.close();
  });
});
