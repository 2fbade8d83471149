// The signaling server core with a backplane (issue 17), driven directly: fake sockets, a fake
// backplane, synchronous signature checks. What the server does with what other instances say.
import { describe, expect, it } from 'vitest';
import { Domain, NodeIdentity, signingInput } from '../../lib/identity/mod.ts';
import { strictVerifier } from '../../lib/identity/verifier.ts';
import type { Backplane, BackplaneSink, JoinVerdict, RemotePeer } from '../../signaling/backplane.ts';
import { fromBase64Url, joinTranscript, toBase64Url } from '../../signaling/protocol.ts';
import { SignalingServer } from '../../signaling/server.ts';

/** A backplane whose answers the test gives. */
class FakeBackplane implements Backplane {
  sink!: BackplaneSink;
  readonly remotes = new Map<string, Map<string, RemotePeer>>();
  readonly calls: string[] = [];
  readonly pending: Array<(v: JoinVerdict) => void> = [];
  routeFails: string | undefined;
  start(sink: BackplaneSink): void {
    this.sink = sink;
  }
  join(room: string, id: string): Promise<JoinVerdict> {
    this.calls.push(`join ${room} ${id.slice(0, 4)}`);
    return new Promise((ok) => this.pending.push(ok));
  }
  leave(room: string, id: string): void {
    this.calls.push(`leave ${room} ${id.slice(0, 4)}`);
  }
  remote(room: string): ReadonlyMap<string, RemotePeer> {
    return this.remotes.get(room) ?? new Map();
  }
  route(room: string, from: string, to: string, data: unknown, failed: (why: string) => void): void {
    this.calls.push(`route ${room} ${from.slice(0, 4)}→${to.slice(0, 4)} ${JSON.stringify(data)}`);
    if (this.routeFails) failed(this.routeFails);
  }
  health() {
    return {
      state: 'up' as const,
      instance: '0123456789abcdef',
      since: 0,
      outages: 0,
      remotePeers: 0,
      routedOut: 0,
      routedIn: 0,
      dropped: {},
      roomReads: 0,
    };
  }
  async close(): Promise<void> {}
}

interface Conn {
  id: string;
  frames: Array<Record<string, unknown>>;
  closed: { code: number; reason: string } | undefined;
  send(v: unknown): void;
  close(): void;
}

function setup() {
  const backplane = new FakeBackplane();
  const server = new SignalingServer({ backplane, verifier: strictVerifier });
  /** A connection that sends its join for `room` (the backplane still has to answer). */
  const connect = (room: string, identity = NodeIdentity.generate()): Conn => {
    const conn: Conn = {
      id: identity.nodeId,
      frames: [],
      closed: undefined,
      send: (v) => handle.message(JSON.stringify(v)),
      close: () => handle.closed(),
    };
    const handle = server.accept(
      {
        send: (t) => conn.frames.push(JSON.parse(t)),
        close: (code, reason) => {
          conn.closed = { code, reason };
        },
        bufferedAmount: () => 0,
      },
      '192.0.2.1',
    );
    const nonce = fromBase64Url(conn.frames[0]!.nonce, 32)!;
    const sig = identity.sign(signingInput(Domain.SignalJoin, joinTranscript(room, nonce)));
    conn.send({ t: 'join', room, key: toBase64Url(identity.publicKey), sig: toBase64Url(sig) });
    return conn;
  };
  const admit = async (v: JoinVerdict = { ok: true }) => {
    backplane.pending.shift()!(v);
    await new Promise((r) => setTimeout(r, 0));
  };
  return { backplane, server, connect, admit };
}

const last = (c: Conn) => c.frames.at(-1)!;
const REMOTE = 'c'.repeat(32);

describe('signaling server with a backplane', () => {
  it('answers a join only once the backplane admitted it, listing the peers of other instances', async () => {
    const { backplane, connect, admit } = setup();
    backplane.remotes.set('r', new Map([[REMOTE, { instance: 'i', addrs: ['ws://far:1'] }]]));
    const a = connect('r');
    expect(a.frames.map((f) => f.t)).toEqual(['challenge']);
    a.send({ t: 'join', room: 'r', key: 'x', sig: 'y' }); // a second join meanwhile
    expect(last(a)).toMatchObject({ t: 'error', code: 'already-joined' });
    await admit();
    expect(last(a)).toEqual({ t: 'joined', id: a.id, peers: [REMOTE], addrs: { [REMOTE]: ['ws://far:1'] } });
  });

  it('a refusal closes the connection with its code; a connection closed while waiting is left again', async () => {
    const { backplane, connect, admit } = setup();
    const refused = connect('r');
    await admit({ ok: false, code: 'room-full', message: 'full across instances' });
    expect(last(refused)).toMatchObject({ t: 'error', code: 'room-full' });
    expect(refused.closed?.code).toBe(1008);
    const gone = connect('r');
    gone.close();
    await admit();
    expect(backplane.calls.at(-1)).toBe(`leave r ${gone.id.slice(0, 4)}`);
  });

  it('routes signals to peers of other instances; a failed route tells the sender peer-unreachable', async () => {
    const { backplane, connect, admit } = setup();
    backplane.remotes.set('r', new Map([[REMOTE, { instance: 'i', addrs: [] }]]));
    const a = connect('r');
    await admit();
    a.send({ t: 'signal', to: REMOTE, data: { sdp: 1 } });
    expect(backplane.calls.at(-1)).toBe(`route r ${a.id.slice(0, 4)}→cccc {"sdp":1}`);
    backplane.routeFails = 'Redis is down';
    a.send({ t: 'signal', to: REMOTE, data: 2 });
    expect(last(a)).toEqual({ t: 'error', code: 'peer-unreachable', message: 'Redis is down' });
    a.send({ t: 'signal', to: 'd'.repeat(32), data: 3 });
    expect(last(a)).toMatchObject({ t: 'error', code: 'unknown-peer' });
  });

  it('announces what other instances report, delivers routed signals, and gives way to a newer connection elsewhere', async () => {
    const { backplane, server, connect, admit } = setup();
    const a = connect('r');
    await admit();
    const b = connect('r');
    await admit();
    backplane.sink.remoteJoined('r', REMOTE, ['ws://far:1']);
    expect(last(a)).toEqual({ t: 'peer-joined', id: REMOTE, addrs: ['ws://far:1'] });
    backplane.sink.deliver('r', REMOTE, a.id, { sdp: 'x' });
    expect(last(a)).toEqual({ t: 'signal', from: REMOTE, data: { sdp: 'x' } });
    backplane.sink.deliver('r', REMOTE, 'e'.repeat(32), 1);
    expect(server.stats().rejected['routed-to-unknown-peer']).toBe(1);
    backplane.sink.remoteLeft('r', REMOTE);
    expect(last(b)).toEqual({ t: 'peer-left', id: REMOTE });
    // b joined again on another instance: its connection here closes, a hears no peer-left.
    const framesOfA = a.frames.length;
    backplane.sink.replaced('r', b.id);
    expect(b.closed?.code).toBe(4000);
    b.close();
    expect(a.frames.length).toBe(framesOfA);
    expect(backplane.calls.filter((c) => c.startsWith('leave'))).toEqual([]);
    // A local peer's own leave goes to the backplane and to the room.
    a.close();
    expect(backplane.calls.at(-1)).toBe(`leave r ${a.id.slice(0, 4)}`);
    expect(server.stats().backplane?.state).toBe('up');
  });
});
