// Link.drained() over real transports on loopback (issue 12, item 5): a link made to hold
// megabytes settles drained() once its buffer is empty. Over WebSocket on Node (the `ws`
// package) it does so from send completions, setting no timer while it waits; over WebRTC on
// @roamhq/wrtc, which has no `bufferedamountlow`, from the channel's 10 ms look.
import { afterEach, describe, expect, it } from 'vitest';
import { NodeIdentity } from '../../lib/identity/node-identity.ts';
import { strictVerifier } from '../../lib/identity/verifier.ts';
import { CryptoRandom } from '../../lib/time/random.ts';
import { RealScheduler } from '../../lib/time/real.ts';
import type { TimerId } from '../../lib/time/types.ts';
import type { Link, Transport, TransportContext } from '../../lib/transport/types.ts';
import { loadWrtc } from '../../lib/webrtc/node.ts';
import { type SignalingPath, WebRtcTransport } from '../../lib/webrtc/transport.ts';
import { listenWebSocket, NodeWebSocket } from '../../lib/websocket/node.ts';
import type { WebSocketListener } from '../../lib/websocket/transport.ts';
import { WebSocketTransport } from '../../lib/websocket/transport.ts';
import { waitFor } from '../support/net.ts';
import { loopbackOnly } from '../support/webrtc-node.ts';

/** The real scheduler, counting the timers set (to see whether a wait polls). */
class CountingScheduler extends RealScheduler {
  set = 0;
  override setTimer(delayMs: number, fn: () => void): TimerId {
    this.set++;
    return super.setTimer(delayMs, fn);
  }
}

const MESSAGE = 512 * 1024;
const MESSAGES = 16;

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

function context(identity: NodeIdentity, scheduler: CountingScheduler): TransportContext {
  return { identity, cluster: 'drained', verifier: strictVerifier, scheduler, random: new CryptoRandom() };
}

/** Starts both transports, dials b from a, and returns a's link and the bytes b has received. */
async function linkUp(
  [a, ta]: [NodeIdentity, Transport],
  [b, tb]: [NodeIdentity, Transport],
  address: string,
): Promise<{ link: Link; received: () => number; scheduler: CountingScheduler }> {
  const scheduler = new CountingScheduler();
  let link: Link | undefined;
  let received = 0;
  const failed: string[] = [];
  ta.start(context(a, scheduler), {
    link: (l) => {
      link = l;
    },
    dialFailed: (addr, e) => failed.push(`${addr}: ${e.message}`),
  });
  tb.start(context(b, new CountingScheduler()), {
    link: (l) =>
      l.setHandlers({
        message: (f) => {
          received += f.length;
        },
        datagram() {},
        close() {},
      }),
    dialFailed() {},
  });
  cleanup.push(
    () => ta.close(),
    () => tb.close(),
  );
  ta.connect(address, { expectNodeId: b.nodeId });
  await waitFor(() => link !== undefined || failed.length > 0, 15_000, 'the link');
  expect(failed).toEqual([]);
  link!.setHandlers({ message() {}, datagram() {}, close() {} });
  return { link: link!, received: () => received, scheduler };
}

/** Fills the link, waits for drained() (bounded), and says how many timers the wait set. */
async function fillAndDrain(link: Link, scheduler: CountingScheduler): Promise<number> {
  for (let i = 0; i < MESSAGES; i++) link.send(new Uint8Array(MESSAGE).fill(i));
  expect(link.bufferedAmount).toBeGreaterThan(0);
  const before = scheduler.set;
  let bound: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    link.drained(),
    new Promise((_, fail) => {
      bound = setTimeout(
        () => fail(new Error(`still ${link.bufferedAmount} bytes buffered after 20 s`)),
        20_000,
      );
    }),
  ]);
  clearTimeout(bound);
  expect(link.bufferedAmount).toBe(0);
  return scheduler.set - before;
}

describe('Link.drained() on real transports', () => {
  it('WebSocket (ws on Node): settles once 8 MiB left the buffer, from send completions, with no timer', async () => {
    const listener: WebSocketListener = await listenWebSocket({ port: 0, maxMessageBytes: 2 << 20 });
    cleanup.push(() => listener.close());
    const { link, received, scheduler } = await linkUp(
      [
        NodeIdentity.generate(),
        new WebSocketTransport({ WebSocket: NodeWebSocket, channel: { maxMessageBytes: 2 << 20 } }),
      ],
      [NodeIdentity.generate(), new WebSocketTransport({ listener, channel: { maxMessageBytes: 2 << 20 } })],
      listener.url,
    );
    expect(await fillAndDrain(link, scheduler)).toBe(0);
    await waitFor(() => received() >= MESSAGE * MESSAGES, 20_000, 'all bytes at b');
  });

  it('WebRTC (@roamhq/wrtc, no bufferedamountlow): settles once 8 MiB left the buffer, by looking every 10 ms', async () => {
    const wrtc = await loadWrtc();
    const [a, b] = [NodeIdentity.generate(), NodeIdentity.generate()];
    const handlers = new Map<string, (e: { from: string; data: unknown }) => void>();
    /** Signals between the two transports in memory (the signaling server's part). */
    const path = (self: string): SignalingPath => ({
      send: (to, data) => {
        const deliver = handlers.get(to);
        if (deliver) queueMicrotask(() => deliver({ from: self, data: JSON.parse(JSON.stringify(data)) }));
        return deliver !== undefined;
      },
      on: (_type, fn) => {
        handlers.set(self, fn);
        return () => handlers.delete(self);
      },
    });
    const opts = { wrtc, candidateFilter: loopbackOnly, iceServers: [] };
    const { link, received, scheduler } = await linkUp(
      [a, new WebRtcTransport({ ...opts, signaling: path(a.nodeId) })],
      [b, new WebRtcTransport({ ...opts, signaling: path(b.nodeId) })],
      `webrtc:${b.nodeId}`,
    );
    expect(await fillAndDrain(link, scheduler)).toBeGreaterThan(0);
    await waitFor(() => received() >= MESSAGE * MESSAGES, 20_000, 'all bytes at b');
  });
});
