// Link.drained(): one event-driven way to wait for a link's send buffer (issue 12, item 5).
// Each channel is driven directly with a fake socket or data channel and virtual time: it
// settles drained() from its own drain events (WebSocket send completions, the data channel's
// `bufferedamountlow`), and looks on a timer only where the runtime has no such event.
import { describe, expect, it } from 'vitest';
import { SimChannelEnd } from '../../lib/sim/channel.ts';
import { SimNetwork } from '../../lib/sim/network.ts';
import { VirtualScheduler } from '../../lib/time/virtual.ts';
import { chunk } from '../../lib/transport/chunks.ts';
import { DrainWaiters } from '../../lib/transport/drain.ts';
import { TransportError } from '../../lib/transport/errors.ts';
import { AuthenticatedLink } from '../../lib/transport/link.ts';
import { InboundTurns } from '../../lib/webrtc/inbound-turns.ts';
import { PeerChannel, type PeerLike } from '../../lib/webrtc/peer-channel.ts';
import { type StandardWebSocket, WsChannel } from '../../lib/websocket/channel.ts';
import { FakeLink } from '../support/fake-link.ts';

const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Whether a promise has settled, and how (without waiting for it). */
function watch(p: Promise<void>): { state: 'pending' | 'resolved' | 'rejected'; error?: unknown } {
  const s: { state: 'pending' | 'resolved' | 'rejected'; error?: unknown } = { state: 'pending' };
  p.then(
    () => {
      s.state = 'resolved';
    },
    (error) => {
      s.state = 'rejected';
      s.error = error;
    },
  );
  return s;
}

const closedCode = (s: { error?: unknown }) =>
  s.error instanceof TransportError ? s.error.code : `not a TransportError: ${String(s.error)}`;

describe('DrainWaiters', () => {
  it('resolves at once at or below the threshold, else when a check sees the buffer there', async () => {
    const w = new DrainWaiters();
    expect(watch(w.wait(100, 100)).state).toBe('pending'); // a microtask later
    await flush();
    const high = watch(w.wait(500, 1_000));
    const low = watch(w.wait(0, 1_000));
    expect(w.next).toBe(500);
    w.check(400);
    await flush();
    expect([high.state, low.state]).toEqual(['resolved', 'pending']);
    expect(w.size).toBe(1);
    w.check(0);
    await flush();
    expect(low.state).toBe('resolved');
    expect(w.next).toBeUndefined();
  });

  it('rejects every waiter with code closed when the channel closes', async () => {
    const w = new DrainWaiters();
    const a = watch(w.wait(0, 10));
    const b = watch(w.wait(5, 10));
    w.fail('gone');
    await flush();
    expect([closedCode(a), closedCode(b)]).toEqual(['closed', 'closed']);
    expect(w.size).toBe(0);
  });
});

/** A WebSocket double: `completions` makes its send take ws's callback (Node's `ws` package). */
function fakeSocket(completions: boolean) {
  const pending: Array<{ bytes: number; cb?: () => void }> = [];
  const ws = {
    readyState: 1,
    bufferedAmount: 0,
    binaryType: 'blob',
    onopen: null,
    onmessage: null,
    onclose: null as ((ev: { code?: number }) => void) | null,
    onerror: null,
    close() {},
    send: completions
      ? (data: Uint8Array, cb: () => void) => {
          ws.bufferedAmount += data.length;
          pending.push({ bytes: data.length, cb });
        }
      : (data: Uint8Array) => {
          ws.bufferedAmount += data.length;
          pending.push({ bytes: data.length });
        },
  };
  /** The socket wrote out its oldest frame (and, for `ws`, called back). */
  const flushOne = () => {
    const f = pending.shift()!;
    ws.bufferedAmount -= f.bytes;
    f.cb?.();
  };
  return { ws: ws as unknown as StandardWebSocket & { bufferedAmount: number }, flushOne, raw: ws };
}

describe('WsChannel.drained', () => {
  it('with `ws` (send completions): settles on the completion that brings the buffer to the threshold, with no timer', async () => {
    const scheduler = new VirtualScheduler();
    const { ws, flushOne } = fakeSocket(true);
    const ch = new WsChannel(ws, scheduler);
    for (let i = 0; i < 3; i++) ch.send('stream', new Uint8Array(999)); // 1,000 bytes each on the wire
    expect(ch.bufferedAmount).toBe(3_000);
    const some = watch(ch.drained(1_000));
    const all = watch(ch.drained(0));
    expect(scheduler.pending).toBe(0);
    flushOne();
    await flush();
    expect([some.state, all.state]).toEqual(['pending', 'pending']);
    flushOne();
    await flush();
    expect([some.state, all.state]).toEqual(['resolved', 'pending']);
    flushOne();
    await flush();
    expect(all.state).toBe('resolved');
    expect(scheduler.pending).toBe(0);
  });

  it('with a standard WebSocket (no drain event): looks every 20 ms, only while someone waits', async () => {
    const scheduler = new VirtualScheduler();
    const { ws, flushOne } = fakeSocket(false);
    const ch = new WsChannel(ws, scheduler);
    ch.send('stream', new Uint8Array(99));
    expect(scheduler.pending).toBe(0);
    const all = watch(ch.drained(0));
    expect(scheduler.pending).toBe(1);
    scheduler.runFor(40);
    await flush();
    expect(all.state).toBe('pending');
    flushOne();
    scheduler.runFor(20);
    await flush();
    expect(all.state).toBe('resolved');
    expect(scheduler.pending).toBe(0);
  });

  it('rejects waiters (code closed) when the socket closes, and a closed channel at once', async () => {
    const scheduler = new VirtualScheduler();
    const { ws, raw } = fakeSocket(false);
    const ch = new WsChannel(ws, scheduler);
    ch.setHandlers({ frame() {}, close() {} });
    ch.send('stream', new Uint8Array(99));
    const waiting = watch(ch.drained(0));
    raw.onclose?.({ code: 1006 });
    await flush();
    expect(closedCode(waiting)).toBe('closed');
    expect(scheduler.pending).toBe(0);
    const late = watch(ch.drained(0));
    await flush();
    expect(closedCode(late)).toBe('closed');
  });
});

/** A data channel double: with `lowEvents`, a threshold and `bufferedamountlow` as the standard says; without, @roamhq/wrtc's. */
function fakePeer(lowEvents: boolean) {
  const listeners = new Set<() => void>();
  const channel: {
    bufferedAmount: number;
    bufferedAmountLowThreshold?: number;
    addEventListener(type: string, fn: () => void): void;
    removeEventListener(type: string, fn: () => void): void;
  } = {
    bufferedAmount: 0,
    addEventListener: (type, fn) => type === 'bufferedamountlow' && listeners.add(fn),
    removeEventListener: (_type, fn) => listeners.delete(fn),
  };
  if (lowEvents) channel.bufferedAmountLowThreshold = 0;
  const peerHandlers = new Map<string, (...a: unknown[]) => void>();
  const peer = {
    pc: { localDescription: null, remoteDescription: null },
    channel,
    get bufferSize() {
      return channel.bufferedAmount;
    },
    on: (event: string, fn: (...a: unknown[]) => void) => peerHandlers.set(event, fn),
    send: (c: Uint8Array) => {
      channel.bufferedAmount += c.length;
    },
    destroy() {},
  };
  /** The network took `bytes` from the data channel; fires bufferedamountlow as a browser does. */
  const sent = (bytes: number) => {
    const before = channel.bufferedAmount;
    channel.bufferedAmount = Math.max(0, before - bytes);
    const t = channel.bufferedAmountLowThreshold;
    if (t !== undefined && before > t && channel.bufferedAmount <= t) for (const fn of [...listeners]) fn();
  };
  const dgram = { binaryType: 'blob', onmessage: null } as unknown as RTCDataChannel;
  return { peer: peer as unknown as PeerLike, channel, sent, dgram, listeners, peerHandlers };
}

describe('PeerChannel.drained (WebRTC)', () => {
  const limits = { highWaterMark: 64 * 1024, maxQueuedBytes: 1 << 20 };

  it('chunks beyond the high-water mark move on at each bufferedamountlow, and drained() settles on the last one, with no timer', async () => {
    const scheduler = new VirtualScheduler();
    const f = fakePeer(true);
    const ch = new PeerChannel(f.peer, f.dgram, scheduler, limits);
    ch.send('stream', new Uint8Array(200 * 1024)); // 13 chunks of 16 KiB
    const total = ch.bufferedAmount;
    expect(f.channel.bufferedAmount).toBeGreaterThanOrEqual(64 * 1024);
    expect(f.channel.bufferedAmountLowThreshold).toBe(32 * 1024); // room for the queue
    const all = watch(ch.drained(0));
    let events = 0;
    while (ch.bufferedAmount > 0 && events < 100) {
      f.sent(f.channel.bufferedAmount - f.channel.bufferedAmountLowThreshold!);
      events++;
      await flush();
    }
    expect(ch.bufferedAmount).toBe(0);
    expect(events).toBeGreaterThan(2);
    expect(all.state).toBe('resolved');
    expect(scheduler.pending).toBe(0);
    expect(total).toBeGreaterThan(200 * 1024);
  });

  it('with the queue empty, the threshold steps down through those waited for, each settled on its own event', async () => {
    const scheduler = new VirtualScheduler();
    const f = fakePeer(true);
    const ch = new PeerChannel(f.peer, f.dgram, scheduler, limits);
    ch.send('stream', new Uint8Array(40 * 1024));
    const all = watch(ch.drained(0));
    expect(f.channel.bufferedAmountLowThreshold).toBe(0);
    const half = watch(ch.drained(20 * 1024));
    expect(f.channel.bufferedAmountLowThreshold).toBe(20 * 1024);
    f.sent(10 * 1024); // above both: no event
    await flush();
    expect([half.state, all.state]).toEqual(['pending', 'pending']);
    f.sent(20 * 1024);
    await flush();
    expect([half.state, all.state]).toEqual(['resolved', 'pending']);
    expect(f.channel.bufferedAmountLowThreshold).toBe(0);
    f.sent(1 << 20);
    await flush();
    expect(all.state).toBe('resolved');
    expect(scheduler.pending).toBe(0);
  });

  it('on @roamhq/wrtc (no bufferedamountlow) it looks every 10 ms, only while chunks wait or drained() is waited on', async () => {
    const scheduler = new VirtualScheduler();
    const f = fakePeer(false);
    const ch = new PeerChannel(f.peer, f.dgram, scheduler, limits);
    ch.send('stream', new Uint8Array(100 * 1024));
    expect(scheduler.pending).toBe(1);
    const all = watch(ch.drained(0));
    f.sent(1 << 20);
    scheduler.runFor(10);
    f.sent(1 << 20);
    scheduler.runFor(10);
    await flush();
    expect(all.state).toBe('resolved');
    expect(ch.bufferedAmount).toBe(0);
    expect(scheduler.pending).toBe(0);
    expect(f.listeners.size).toBe(0);
  });

  it('rejects waiters (code closed) when the peer connection closes, and stops listening', async () => {
    const scheduler = new VirtualScheduler();
    const f = fakePeer(true);
    const ch = new PeerChannel(f.peer, f.dgram, scheduler, limits);
    ch.setHandlers({ frame() {}, close() {} });
    ch.send('stream', new Uint8Array(100 * 1024));
    const waiting = watch(ch.drained(0));
    expect(f.listeners.size).toBe(1);
    f.peerHandlers.get('close')!();
    await flush();
    expect(closedCode(waiting)).toBe('closed');
    expect(f.listeners.size).toBe(0);
    expect(ch.bufferedAmount).toBe(0);
  });
});

describe('PeerChannel reads the data channel’s bufferedAmount only when a threshold needs it', () => {
  /** fakePeer with a count of reads of the native bufferedAmount (a blocking call on @roamhq/wrtc). */
  function counted(lowEvents: boolean) {
    const f = fakePeer(lowEvents);
    let reads = 0;
    Object.defineProperty(f.peer, 'bufferSize', {
      get: () => {
        reads++;
        return f.channel.bufferedAmount;
      },
    });
    return { ...f, reads: () => reads };
  }
  const limits = { highWaterMark: 256 * 1024, maxQueuedBytes: 1 << 20 };

  it('small messages read it about once per 64 KiB handed over, not once per message', () => {
    const f = counted(false);
    const ch = new PeerChannel(f.peer, f.dgram, new VirtualScheduler(), limits);
    for (let i = 0; i < 1_000; i++) {
      ch.send('stream', new Uint8Array(200));
      expect(ch.bufferedAmount).toBeLessThan(1 << 20); // what messaging asks before each message
      f.sent(1 << 20); // the network keeps up
    }
    // 1,000 × 200 bytes (plus chunk headers) ≈ 200 KB: a few reads, where each message used to take two.
    expect(f.reads()).toBeGreaterThan(0);
    expect(f.reads()).toBeLessThanOrEqual(5);
  });

  it('the figure is an upper bound below 64 KiB and exact above it, so no threshold of 64 KiB or more is misjudged', async () => {
    const scheduler = new VirtualScheduler();
    const f = counted(true);
    const ch = new PeerChannel(f.peer, f.dgram, scheduler, limits);
    ch.send('stream', new Uint8Array(40 * 1024));
    f.sent(30 * 1024); // no event (nobody waits): the bound still counts what left
    expect(ch.bufferedAmount).toBeGreaterThanOrEqual(f.channel.bufferedAmount);
    expect(ch.bufferedAmount - f.channel.bufferedAmount).toBeLessThan(64 * 1024);
    ch.send('stream', new Uint8Array(100 * 1024)); // the bound passes 64 KiB: read afresh
    expect(ch.bufferedAmount).toBe(f.channel.bufferedAmount);
    // drained() reads afresh: a buffer already at its threshold settles at once.
    f.sent(1 << 20);
    const w = watch(ch.drained(0));
    await flush();
    expect(w.state).toBe('resolved');
    expect(ch.bufferedAmount).toBe(0);
  });
});

describe('PeerChannel bounds what waits for its turn (inbound-turns.ts)', () => {
  /** A channel whose received chunks all wait (the thread's slice is spent), with `limit` bytes allowed to wait. */
  function backlogged(limit: number) {
    const scheduler = new VirtualScheduler();
    let t = 0;
    const turns = new InboundTurns(scheduler, () => t);
    const f = fakePeer(true);
    const ch = new PeerChannel(f.peer, f.dgram, scheduler, { maxQueuedBytes: limit }, turns);
    const frames: number[] = [];
    let closed = '';
    ch.setHandlers({ frame: (_cls, b) => frames.push(b.length), close: (r) => (closed = r) });
    turns.run(() => {
      t = 100; // an event that took the whole slice: what arrives next waits
    });
    const chunkOf = (n: number) => {
      const [c] = [...chunk(new Uint8Array(n))];
      return c!;
    };
    return {
      scheduler,
      ch,
      frames,
      closed: () => closed,
      receive: (n: number) => f.peerHandlers.get('data')!(chunkOf(n)),
    };
  }

  it('a peer sending faster than the thread takes turns is cut off once the backlog passes maxQueuedBytes', () => {
    const r = backlogged(64 * 1024);
    for (let i = 0; i < 5; i++) r.receive(15 * 1024);
    expect(r.closed()).toMatch(/receive backlog/);
    r.scheduler.runFor(0);
    expect(r.frames).toEqual([]); // nothing of a closed channel is handled later
  });

  it('a backlog under the limit is handled in order once the thread has its turn', () => {
    const r = backlogged(64 * 1024);
    for (let i = 0; i < 3; i++) r.receive(15 * 1024);
    expect(r.frames).toEqual([]);
    r.scheduler.runFor(0);
    expect(r.frames).toEqual([15 * 1024, 15 * 1024, 15 * 1024]);
    expect(r.closed()).toBe('');
  });
});

describe('PeerChannel without turns (a browser’s own WebRTC)', () => {
  it('handles inbound data as it comes and sets no timer for it', () => {
    const scheduler = new VirtualScheduler();
    const f = fakePeer(true);
    const ch = new PeerChannel(f.peer, f.dgram, scheduler, {});
    const frames: number[] = [];
    ch.setHandlers({ frame: (_cls, b) => frames.push(b.length), close: () => {} });
    const [c] = [...chunk(new Uint8Array(100))];
    f.peerHandlers.get('data')!(c!);
    expect(frames).toEqual([100]);
    expect(scheduler.pending).toBe(0);
  });
});

describe('AuthenticatedLink.drained', () => {
  it('waits on its channel (default threshold 0) and rejects with code closed once the link is closed', async () => {
    const scheduler = new VirtualScheduler();
    const { ws, flushOne } = fakeSocket(true);
    const link = new AuthenticatedLink(
      new WsChannel(ws, scheduler),
      { nodeId: 'a'.repeat(32), publicKey: new Uint8Array(32) },
      'websocket',
      true,
    );
    link.send(new Uint8Array(10));
    const done = watch(link.drained());
    await flush();
    expect(done.state).toBe('pending');
    flushOne();
    await flush();
    expect(done.state).toBe('resolved');
    link.send(new Uint8Array(10));
    const cut = watch(link.drained());
    link.close('bye');
    await flush();
    expect(closedCode(cut)).toBe('closed');
    const after = watch(link.drained());
    await flush();
    expect(closedCode(after)).toBe('closed');
  });
});

describe('SimChannelEnd.drained and FakeLink.drained', () => {
  it('the simulator holds nothing at an end: drained at once while alive, rejected once closed', async () => {
    const net = new SimNetwork({ seed: 1 });
    const end = new SimChannelEnd(net, net.addHost());
    const open = watch(end.drained());
    await flush();
    expect(open.state).toBe('resolved');
    end.closed = true;
    const gone = watch(end.drained());
    await flush();
    expect(closedCode(gone)).toBe('closed');
  });

  it('the specification tests’ fake link settles when the test lowers its buffer', async () => {
    const link = new FakeLink('b'.repeat(32));
    link.bufferedAmount = 50;
    const w = watch(link.drained(10));
    link.bufferedAmount = 20;
    await flush();
    expect(w.state).toBe('pending');
    link.bufferedAmount = 10;
    await flush();
    expect(w.state).toBe('resolved');
  });
});
