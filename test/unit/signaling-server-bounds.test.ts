// The signaling server core against clients that cost it more than they pay, driven directly
// (fake sockets, a test clock): a joined client that stops reading, and joins in a loop from
// one address.
import { describe, expect, it } from 'vitest';
import { Domain, NodeIdentity, signingInput } from '../../lib/identity/mod.ts';
import { strictVerifier } from '../../lib/identity/verifier.ts';
import { fromBase64Url, joinTranscript, toBase64Url } from '../../signaling/protocol.ts';
import { type SignalingLimits, SignalingServer } from '../../signaling/server.ts';

interface Conn {
  frames: Array<Record<string, unknown>>;
  closed: { code: number; reason: string } | undefined;
  /** What the fake socket reports as unsent. */
  buffered: number;
  send(v: unknown): void;
}

function setup(limits: Partial<SignalingLimits> = {}) {
  let now = 0;
  const server = new SignalingServer({ verifier: strictVerifier, limits, now: () => now });
  const connect = (room: string, source = '192.0.2.1'): Conn => {
    const identity = NodeIdentity.generate();
    const conn: Conn = {
      frames: [],
      closed: undefined,
      buffered: 0,
      send: (v) => handle.message(JSON.stringify(v)),
    };
    const handle = server.accept(
      {
        send: (t) => conn.frames.push(JSON.parse(t)),
        close: (code, reason) => {
          conn.closed = { code, reason };
        },
        bufferedAmount: () => conn.buffered,
      },
      source,
    );
    const nonce = fromBase64Url(conn.frames[0]!.nonce, 32)!;
    const sig = identity.sign(signingInput(Domain.SignalJoin, joinTranscript(room, nonce)));
    conn.send({ t: 'join', room, key: toBase64Url(identity.publicKey), sig: toBase64Url(sig) });
    return conn;
  };
  return { server, connect, advance: (ms: number) => (now += ms) };
}

const answer = (c: Conn) => c.frames.find((f) => f.t === 'joined' || f.t === 'error');

describe('signaling server bounds', () => {
  it('a joined client that does not read gets no more signals past maxBufferedBytes, and is closed past twice that', () => {
    const { server, connect } = setup({ maxBufferedBytes: 1000 });
    const reader = connect('r');
    const lazy = connect('r');
    expect(answer(lazy)).toMatchObject({ t: 'joined' });
    const lazyId = answer(lazy)!.id as string;
    // Over the signal limit: signals to it are refused, but it stays.
    lazy.buffered = 1500;
    reader.send({ t: 'signal', to: lazyId, data: 'offer' });
    expect(reader.frames.at(-1)).toMatchObject({ t: 'error', code: 'target-busy' });
    connect('r');
    expect(lazy.closed).toBeUndefined();
    expect(lazy.frames.at(-1)).toMatchObject({ t: 'peer-joined' });
    // Over twice: the next thing the server has for it (an announcement) closes it instead.
    lazy.buffered = 2001;
    const frames = lazy.frames.length;
    connect('r');
    expect(lazy.closed).toEqual({ code: 1008, reason: 'slow-client' });
    expect(lazy.frames.length).toBe(frames);
    expect(server.stats().rejected['slow-client']).toBe(1);
    // The room is told it left.
    expect(reader.frames.at(-1)).toEqual({ t: 'peer-left', id: lazyId });
    // Its own requests' replies count too: a ping answered only while it reads.
    const other = connect('r');
    other.buffered = 5000;
    other.send({ t: 'ping' });
    expect(other.closed).toEqual({ code: 1008, reason: 'slow-client' });
  });

  it('joins from one address are limited to joinsPerSecondPerSource, before their signatures are checked', () => {
    const { server, connect, advance } = setup({ joinsPerSecondPerSource: 5 });
    const first = Array.from({ length: 8 }, () => connect('r'));
    expect(first.map((c) => answer(c)!.t)).toEqual([...Array(5).fill('joined'), ...Array(3).fill('error')]);
    for (const c of first.slice(5)) {
      expect(answer(c)).toMatchObject({ code: 'rate-limited' });
      expect(c.closed?.code).toBe(1008);
    }
    // Another address is not held back; the first gets its rate again as time passes.
    expect(answer(connect('r', '198.51.100.7'))).toMatchObject({ t: 'joined' });
    advance(400);
    expect(
      Array.from({ length: 3 }, () => answer(connect('r'))!.t).filter((t) => t === 'joined'),
    ).toHaveLength(2);
    expect(server.stats().peers).toBe(8);
  });
});
