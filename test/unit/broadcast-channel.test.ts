// The BroadcastChannel transport over an in-memory fake channel, in virtual time: links
// multiplexed on one channel, the shared handshake bound to the channel and the link nonces,
// sequence numbers, acknowledgement-based back-pressure, close semantics, and hostile frames
// from other scripts of the origin dropped and counted.
import { describe, expect, it } from 'vitest';
import { decodeFrame, Kind, linkFrame, linkHeader, seqBody } from '../../lib/broadcast-channel/frames.ts';
import {
  BroadcastChannelTransport,
  type BroadcastChannelTransportOptions,
} from '../../lib/broadcast-channel/transport.ts';
import { NodeIdentity } from '../../lib/identity/node-identity.ts';
import { strictVerifier } from '../../lib/identity/verifier.ts';
import { SeededRandom } from '../../lib/time/random.ts';
import { VirtualScheduler } from '../../lib/time/virtual.ts';
import type { Link } from '../../lib/transport/types.ts';
import { fromHex, fromUtf8, utf8 } from '../../lib/util/bytes.ts';
import { FakeBroadcastHub } from '../support/fake-broadcast-channel.ts';

interface Ctx {
  t: BroadcastChannelTransport;
  id: string;
  identity: NodeIdentity;
  links: Link[];
  /** The dialled address each link came with (undefined: accepted). */
  dialed: Array<string | undefined>;
  failed: Error[];
  nearby: string[];
  got: Array<[string, string]>;
  closes: string[];
  up: boolean;
}

function world(seed = 1) {
  const scheduler = new VirtualScheduler();
  const random = new SeededRandom(seed);
  const hub = new FakeBroadcastHub(scheduler);
  const context = (
    opts: BroadcastChannelTransportOptions = {},
    cluster = 'c',
    identity?: NodeIdentity,
  ): Ctx => {
    const id = identity ?? NodeIdentity.fromSecretKey(random.bytes(32));
    const c: Ctx = {
      t: undefined as unknown as BroadcastChannelTransport,
      id: id.nodeId,
      identity: id,
      links: [],
      dialed: [],
      failed: [],
      nearby: [],
      got: [],
      closes: [],
      up: true,
    };
    c.t = new BroadcastChannelTransport({ BroadcastChannel: hub.ctor(() => c.up), ...opts });
    c.t.start(
      { identity: id, cluster, verifier: strictVerifier, scheduler, random: random.fork() },
      {
        link: (link, dialed) => {
          c.links.push(link);
          c.dialed.push(dialed);
          link.setHandlers({
            message: (f) => c.got.push(['stream', fromUtf8(f)]),
            datagram: (f) => c.got.push(['datagram', fromUtf8(f)]),
            close: (reason) => c.closes.push(reason),
          });
        },
        dialFailed: (_a, e) => c.failed.push(e),
        nearby: (nodeId) => c.nearby.push(nodeId),
      },
    );
    return c;
  };
  return { scheduler, hub, context, run: (ms = 50) => scheduler.runFor(ms) };
}

/** Two contexts on one channel, linked (a dialled b). */
function linkedPair(seed = 1, opts: BroadcastChannelTransportOptions = {}) {
  const w = world(seed);
  const a = w.context(opts);
  const b = w.context(opts);
  w.run();
  a.t.connect(`bc:${b.id}`);
  w.run();
  return { ...w, a, b };
}

/** The channel two nodes share for their links. */
const pair = (x: string, y: string) => `weftmesh/c/${x < y ? `${x}~${y}` : `${y}~${x}`}`;

const forged = (frames: Uint8Array[], kind: number) => frames.filter((f) => f[0] === kind);

describe('BroadcastChannel transport', () => {
  it('contexts hear each other on the channel, and only heard ones are dialable', () => {
    const w = world();
    const a = w.context();
    const b = w.context();
    const stranger = NodeIdentity.fromSecretKey(new Uint8Array(32).fill(9)).nodeId;
    expect(a.t.canDial(`bc:${b.id}`)).toBe(false);
    w.run();
    expect(a.nearby).toEqual([b.id]);
    expect(b.nearby).toEqual([a.id]);
    expect(a.t.canDial(`bc:${b.id}`)).toBe(true);
    expect(a.t.nearbyAddress(b.id)).toBe(`bc:${b.id}`);
    expect(a.t.canDial(`bc:${stranger}`)).toBe(false);
    expect(a.t.canDial(`webrtc:${b.id}`)).toBe(false);
    expect(a.t.nodeIdOf(`bc:${b.id}`)).toBe(b.id);
    expect(a.t.localAddresses()).toEqual([]);
  });

  it('a dial runs the handshake over the channel: both ends get an authenticated link that carries both classes', () => {
    const { a, b, run } = linkedPair();
    expect(a.links.map((l) => [l.peer.nodeId, l.initiator, l.transport])).toEqual([
      [b.id, true, 'broadcast-channel'],
    ]);
    expect(b.links.map((l) => [l.peer.nodeId, l.initiator])).toEqual([[a.id, false]]);
    a.links[0]!.send(utf8('one'));
    a.links[0]!.sendDatagram(utf8('probe'));
    a.links[0]!.send(utf8('two'));
    b.links[0]!.send(utf8('back'));
    run();
    expect(b.got).toEqual([
      ['stream', 'one'],
      ['datagram', 'probe'],
      ['stream', 'two'],
    ]);
    expect(a.got).toEqual([['stream', 'back']]);
    expect(a.t.stats.dropped + b.t.stats.dropped).toBe(0);
  });

  it('link frames travel on a channel of the pair: a third context receives none of them', () => {
    const w = world();
    const [a, b, c] = [w.context(), w.context(), w.context()];
    w.run();
    a.t.connect(`bc:${b.id}`);
    c.t.connect(`bc:${b.id}`);
    w.run();
    expect(b.links.map((l) => l.peer.nodeId).sort()).toEqual([a.id, c.id].sort());
    const seenByC = c.t.stats.framesIn;
    a.links[0]!.send(utf8('from a'));
    c.links[0]!.send(utf8('from c'));
    w.run();
    expect(b.got.map((g) => g[1]).sort()).toEqual(['from a', 'from c']);
    expect(a.got).toEqual([]);
    expect(c.got).toEqual([]);
    expect(c.t.stats.framesIn).toBe(seenByC);

    expect(a.t.stats.dropped + b.t.stats.dropped + c.t.stats.dropped).toBe(0);
  });

  it('binds the handshake to the link nonces: an acceptor nonce swapped by a third script fails the signature', () => {
    const w = world();
    const instances = new Map<string, Uint8Array>();
    let a: Ctx | undefined;
    let b: Ctx | undefined;
    w.hub.tap((f) => {
      const d = decodeFrame(f);
      instances.set(d.from, f.slice(17, 25));
      // Races b's real ACCEPT with one in b's name (its id and instance) carrying another nonce,
      // posted once b holds the pair channel (so a's handshake reaches b) and before b answers.
      if ('frame' in d && d.frame.kind === Kind.Open && a && b) {
        const h = linkHeader(fromHex(b.id), instances.get(b.id)!, a.id, fromHex(d.link));
        w.scheduler.setTimer(1, () =>
          w.hub.inject(pair(a!.id, b!.id), linkFrame(h, Kind.Accept, new Uint8Array(16).fill(5))),
        );
      }
    });
    a = w.context();
    b = w.context();
    w.run();
    a.t.connect(`bc:${b.id}`);
    w.run();
    expect(a.links).toEqual([]);
    expect(b.links).toEqual([]);
    expect(a.failed.map((e) => (e as { code?: string }).code)).toEqual(['bad-signature']);
  });

  it('a wrong cluster on the same channel is refused by the handshake', () => {
    const w = world();
    const a = w.context({ channelName: 'shared' }, 'one');
    const b = w.context({ channelName: 'shared' }, 'two');
    w.run();
    a.t.connect(`bc:${b.id}`);
    w.run();
    expect(a.links).toEqual([]);
    expect(b.links).toEqual([]);
    expect(a.failed.map((e) => (e as { code?: string }).code)).toEqual(['refused']);
  });

  it('closing a link tells the peer at once; closing the transport says goodbye and the peer forgets it', () => {
    const { a, b, run } = linkedPair();
    a.links[0]!.close('done here');
    run();
    expect(b.closes).toEqual(['closed by the peer (done here)']);
    expect(b.links[0]!.closed).toBe(true);
    a.t.connect(`bc:${b.id}`);
    run();
    b.t.close();
    run();
    expect(a.closes).toEqual(['done here', 'closed by the peer (transport closed)']);
    expect(a.t.canDial(`bc:${b.id}`)).toBe(false);
    return expect(a.links[1]!.drained()).rejects.toMatchObject({ code: 'closed' });
  });

  it('a dial to a context that stopped answering fails with a timeout', () => {
    const w = world();
    const a = w.context({ connectTimeoutMs: 500 });
    const b = w.context();
    w.run();
    b.up = false;
    a.t.connect(`bc:${b.id}`);
    w.run(600);
    expect(a.failed.map((e) => (e as { code?: string }).code)).toEqual(['timeout']);
    expect(a.links).toEqual([]);
  });

  it('a reloaded context with the same identity ends the links of its old instance', () => {
    const w = world();
    const a = w.context();
    const b = w.context();
    w.run();
    a.t.connect(`bc:${b.id}`);
    w.run();
    b.up = false;
    w.context({}, 'c', b.identity);
    w.run();
    expect(a.closes).toEqual(['peer restarted']);
  });

  it('back-pressure: unacknowledged stream bytes are buffered; drained() asks for an acknowledgement', async () => {
    const { a, b, run } = linkedPair();
    const link = a.links[0]!;
    const handshake = link.bufferedAmount;
    link.send(new Uint8Array(1000));
    link.send(new Uint8Array(500));
    expect(link.bufferedAmount).toBe(handshake + 1500);
    let done = false;
    const drained = link.drained().then(() => {
      done = true;
    });
    await Promise.resolve();
    expect(done).toBe(false);
    run();
    await drained;
    expect(link.bufferedAmount).toBe(0);
    expect(b.got.length).toBe(2);
    // Big transfers are acknowledged as they go, unasked.
    for (let i = 0; i < 10; i++) link.send(new Uint8Array(16 * 1024));
    run();
    expect(link.bufferedAmount).toBeLessThan(64 * 1024);
  });

  it('a peer that acknowledges nothing is too slow: past maxBufferedBytes the link closes', () => {
    const { a, b, run } = linkedPair(1, { link: { maxBufferedBytes: 64 * 1024 } });
    b.up = false;
    const link = a.links[0]!;
    for (let i = 0; i < 8; i++) link.send(new Uint8Array(10_000));
    run();
    expect(link.closed).toBe(true);
    expect(a.closes).toEqual(['send buffer overflow (peer too slow)']);
  });

  it('a message over the size limit closes the link; an oversized datagram is just not sent', () => {
    const { a, b, run } = linkedPair(1, { link: { maxMessageBytes: 1024, maxDatagramBytes: 100 } });
    a.links[0]!.sendDatagram(new Uint8Array(200));
    run();
    expect(b.got).toEqual([]);
    expect(a.links[0]!.closed).toBe(false);
    a.links[0]!.send(new Uint8Array(2000));
    run();
    expect(a.closes).toEqual(['message over the size limit']);
    expect(b.closes).toEqual(['closed by the peer (message over the size limit)']);
  });

  it('hostile frames from other scripts of the origin are dropped and counted, and the link goes on', () => {
    const w = world();
    const frames: Uint8Array[] = [];
    w.hub.tap((f) => frames.push(f));
    const a = w.context();
    const b = w.context();
    w.run();
    a.t.connect(`bc:${b.id}`);
    w.run();
    const stream = forged(frames, Kind.Stream);
    const lastFromA = stream.filter((f) => decodeFrame(f).from === a.id).at(-1)!;
    const before = b.t.stats.dropped;
    const inject = (d: unknown) => w.hub.inject(pair(a.id, b.id), d);
    inject('not bytes');
    inject(new Uint8Array([Kind.Hello, 1, 2]));
    inject(new Uint8Array(60).fill(0xee));
    const header = lastFromA.slice(0, 57);
    inject(linkFrame(header, Kind.Ack, new Uint8Array(3)));
    inject(lastFromA); // a replay of a frame already delivered
    const unknown = linkHeader(fromHex(a.id), new Uint8Array(8), b.id, new Uint8Array(16).fill(7));
    inject(linkFrame(unknown, Kind.Stream, seqBody(0, utf8('who am i'))));
    inject(linkFrame(unknown, Kind.Accept, new Uint8Array(16)));
    w.run();
    expect(b.t.stats.dropped - before).toBe(7);
    expect(b.t.stats.droppedBy).toMatchObject({
      malformed: 2,
      'wrong-channel': 1,
      'not-addressed-here': 1,
      replayed: 1,
      'unknown-link': 2,
    });
    expect(b.got).toEqual([]);
    a.links[0]!.send(utf8('still fine'));
    w.run();
    expect(b.got).toEqual([['stream', 'still fine']]);
    expect(b.links[0]!.closed).toBe(false);
  });

  it('a forged frame ahead of the sequence closes the link (the stream cannot go on)', () => {
    const w = world();
    const frames: Uint8Array[] = [];
    w.hub.tap((f) => frames.push(f));
    const a = w.context();
    const b = w.context();
    w.run();
    a.t.connect(`bc:${b.id}`);
    w.run();
    const fromA = forged(frames, Kind.Stream)
      .filter((f) => decodeFrame(f).from === a.id)
      .at(-1)!;
    w.hub.inject(pair(a.id, b.id), linkFrame(fromA.slice(0, 57), Kind.Stream, seqBody(999, utf8('x'))));
    w.run();
    expect(b.closes).toEqual(['sequence gap']);
    expect(a.closes).toEqual(['closed by the peer (sequence gap)']);
  });

  it('two contexts dialling each other at once run one handshake: the lower id dials, both dials end in that link', () => {
    const w = world();
    const [x, y] = [w.context(), w.context()];
    w.run();
    x.t.connect(`bc:${y.id}`);
    y.t.connect(`bc:${x.id}`);
    w.run();
    const [low, high] = x.id < y.id ? [x, y] : [y, x];
    expect(low.links.map((l) => [l.peer.nodeId, l.initiator])).toEqual([[high.id, true]]);
    expect(high.links.map((l) => [l.peer.nodeId, l.initiator])).toEqual([[low.id, false]]);
    expect(low.t.stats.droppedBy['crossed-open']).toBe(1);
    expect([low.dialed, high.dialed]).toEqual([[`bc:${high.id}`], [`bc:${low.id}`]]);
    expect([...x.failed, ...y.failed]).toEqual([]);
    high.links[0]!.send(utf8('one link'));
    w.run();
    expect(low.got).toEqual([['stream', 'one link']]);
  });

  it('a dial to a context that is opening a link here is answered by that link', () => {
    const w = world();
    const a = w.context();
    const b = w.context();
    w.run();
    const opens = () => w.hub.posted;
    a.t.connect(`bc:${b.id}`);
    w.scheduler.runFor(1); // b has a's open: its handshake runs
    const before = opens();
    b.t.connect(`bc:${a.id}`);
    expect(opens()).toBe(before); // no open of b's own
    w.run();
    expect(a.links.map((l) => [l.peer.nodeId, l.initiator])).toEqual([[b.id, true]]);
    expect(b.links.map((l) => [l.peer.nodeId, l.initiator])).toEqual([[a.id, false]]);
    expect([a.dialed, b.dialed]).toEqual([[`bc:${b.id}`], [`bc:${a.id}`]]);
    expect([...a.failed, ...b.failed]).toEqual([]);
  });

  it('a forged open in a peer’s name, crossing a dial to it, costs that dial its handshake timeout and no more', () => {
    const w = world();
    const instances = new Map<string, Uint8Array>();
    w.hub.tap((f) => instances.set(decodeFrame(f).from, f.slice(17, 25)));
    const [x, y] = [w.context(), w.context()];
    w.run();
    const [low, high] = x.id < y.id ? [x, y] : [y, x];
    low.up = false; // the real peer hears nothing of it: only the forger answers the channel
    high.t.connect(`bc:${low.id}`);
    // Another script of the origin posts an open in low's name (its id and instance).
    w.hub.inject(
      'weftmesh/c',
      linkFrame(
        linkHeader(fromHex(low.id), instances.get(low.id)!, high.id, new Uint8Array(16).fill(3)),
        Kind.Open,
      ),
    );
    w.run(9_000);
    expect(high.failed).toEqual([]); // waiting on the forged link's handshake (not the 3 s connect timeout)
    w.run(1_100);
    expect(high.failed.map((e) => (e as { code?: string }).code)).toEqual(['timeout']);
    expect(high.links).toEqual([]);
    // The real peer back: the next dial links.
    low.up = true;
    high.t.connect(`bc:${low.id}`);
    w.run();
    expect(high.links.map((l) => l.peer.nodeId)).toEqual([low.id]);
  });

  it('forged opens from many ids do not close the pair channel a live link runs on', () => {
    const { a, b, hub, run } = linkedPair(1, { maxPairChannels: 4, maxPendingAccepts: 64 });
    expect(b.links).toHaveLength(1);
    for (let i = 0; i < 20; i++) {
      const from = NodeIdentity.fromSecretKey(new Uint8Array(32).fill(40 + i)).nodeId;
      hub.inject(
        'weftmesh/c',
        linkFrame(
          linkHeader(fromHex(from), new Uint8Array(8), b.id, new Uint8Array(16).fill(i + 1)),
          Kind.Open,
        ),
      );
    }
    run();
    a.links[0]!.send(utf8('still here'));
    run();
    expect(b.got).toContainEqual(['stream', 'still here']);
    expect(b.closes).toEqual([]);
  });

  it('opens beyond maxPendingAccepts are dropped as busy', () => {
    const w = world();
    const b = w.context({ maxPendingAccepts: 2 });
    const from = NodeIdentity.fromSecretKey(new Uint8Array(32).fill(3)).nodeId;
    for (let i = 0; i < 5; i++)
      w.hub.inject(
        'weftmesh/c',
        linkFrame(
          linkHeader(fromHex(from), new Uint8Array(8), b.id, new Uint8Array(16).fill(i + 1)),
          Kind.Open,
        ),
      );
    w.run();
    expect(b.t.stats.droppedBy.busy).toBe(3);
    w.run(11_000);
    expect(b.links).toEqual([]);
  });
});
