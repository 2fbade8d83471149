// What one peer's signals can make a WebRTC transport do. Signals that arrive before their
// session (a candidate overtaking its offer) are held for a moment, within bounds however
// many peers send and however large their signals; and each peer starts few sessions (each a
// peer connection, of which a browser page gets a few hundred in its lifetime).
import { describe, expect, it } from 'vitest';
import { NodeIdentity } from '../../lib/identity/node-identity.ts';
import { MeshNode } from '../../lib/node/mesh-node.ts';
import { WebRtcTransport } from '../../lib/webrtc/transport.ts';
import { fakeSignaling } from '../support/fake-signaling.ts';

const idOf = (i: number) => i.toString(16).padStart(32, 'f');
/** A candidate signal of about `bytes` bytes as JSON. */
const candidate = (sid: string, bytes: number) => ({
  k: 'sig',
  sid,
  d: { type: 'candidate', candidate: { candidate: 'x'.repeat(bytes), sdpMid: '0' } },
});
/** An answer of about `bytes` bytes as JSON (answers and candidates may overtake their offer). */
const answer = (sid: string, bytes: number) => ({
  k: 'sig',
  sid,
  d: { type: 'answer', sdp: 'x'.repeat(bytes) },
});

/** A started node whose WebRTC transport takes signals fed by the test; `errors`: its error events. */
async function started(cluster: string, opts: { peerConnectionBudget?: number } = {}) {
  const signaling = fakeSignaling();
  const transport = new WebRtcTransport({ signaling, ...opts });
  const node = new MeshNode({ identity: NodeIdentity.generate(), cluster, transport });
  // Node 20 has no RTCPeerConnection: every session started is an error event here.
  const errors: unknown[] = [];
  node.on('error', (e) => errors.push(e));
  await node.start();
  return { signaling, transport, node, errors };
}
const offer = (sid: string) => ({ k: 'sig', sid, d: { type: 'offer', sdp: 'v=0\r\n' } });

describe('early WebRTC signals', () => {
  it('many peers sending large early signals hold at most 512 KiB; oversized ones are not kept', async () => {
    const { signaling, transport, node } = await started('early');
    // 256 peers × 32 signals of ~30 KB: ~250 MB if kept whole.
    for (let p = 0; p < 256; p++)
      for (let k = 0; k < 32; k++) signaling.deliver(idOf(p), answer(`s${p}`, 30_000));
    expect(transport.stats.earlySignalBytes).toBeGreaterThan(0);
    expect(transport.stats.earlySignalBytes).toBeLessThanOrEqual(512 * 1024);
    // One larger than a sixteenth of the budget is never kept.
    const before = transport.stats.earlySignalBytes;
    signaling.deliver(idOf(999), answer('big', 32_760));
    expect(transport.stats.earlySignalBytes).toBe(before);
    // Small ones, the usual kind, from many peers: kept, within the bound.
    for (let p = 1000; p < 1200; p++) signaling.deliver(idOf(p), candidate(`c${p}`, 200));
    expect(transport.stats.earlySignalBytes).toBeLessThanOrEqual(512 * 1024);
    node.close();
  });
  it('only offers, answers and single ICE candidates within bounds are taken; anything else is refused and counted, never kept', async () => {
    const { signaling, transport, node } = await started('shapes');
    let deep: unknown = 'x';
    for (let i = 0; i < 20_000; i++) deep = [deep];
    const refused = [
      { k: 'sig', sid: 'r', d: { type: 'renegotiate', renegotiate: true } },
      { k: 'sig', sid: 't', d: { type: 'transceiverRequest', transceiverRequest: { kind: 'audio' } } },
      candidate('long', 2_000), // no ICE candidate line is 2,000 characters
      { k: 'sig', sid: 'n', d: { type: 'candidate', candidate: deep } },
      { k: 'sig', sid: 'o', d: { type: 'answer', sdp: 7 } },
      { k: 'sig', sid: 'p', d: deep },
      { k: 'nope', sid: 'q' },
    ];
    for (const [i, r] of refused.entries()) signaling.deliver(idOf(i), r);
    expect(transport.stats.signalsRefused).toBe(refused.length);
    expect(transport.stats.earlySignalBytes).toBe(0);
    // What is taken is rebuilt from the fields simple-peer reads: extra fields are not kept.
    signaling.deliver(idOf(50), {
      k: 'sig',
      sid: 'c',
      d: {
        type: 'candidate',
        candidate: {
          candidate: 'candidate:1 1 udp 1 127.0.0.1 9 typ host',
          sdpMid: '0',
          junk: 'y'.repeat(20_000),
        },
      },
    });
    expect(transport.stats.signalsRefused).toBe(refused.length);
    expect(transport.stats.earlySignalBytes).toBeGreaterThan(0);
    expect(transport.stats.earlySignalBytes).toBeLessThan(200);
    node.close();
  });

  it('with a finite peerConnectionBudget one peer starts at most an eighth of it here (at least 2), however long it waits', async () => {
    const { signaling, node, errors } = await started('share', { peerConnectionBudget: 16 });
    // Within the rate (3 at once), but 2 is its share of 16.
    for (let i = 0; i < 3; i++) signaling.deliver('0'.repeat(32), offer(`o${i}`));
    expect(errors).toHaveLength(2);
    signaling.deliver(`${'0'.repeat(31)}1`, offer('x'));
    expect(errors).toHaveLength(3);
    node.close();
  });

  it('one peer starts at most 3 sessions at once, then one every 5 s, by offers or by dial-me', async () => {
    const { signaling, node, errors } = await started('starts');
    for (let i = 0; i < 10; i++) signaling.deliver('0'.repeat(32), offer(`o${i}`));
    expect(errors).toHaveLength(3);
    for (let i = 0; i < 10; i++) signaling.deliver('f'.repeat(32), { k: 'dial-me', sid: `d${i}` });
    expect(errors).toHaveLength(6);
    // Another peer has its own.
    signaling.deliver(`${'0'.repeat(31)}1`, offer('x'));
    expect(errors).toHaveLength(7);
    node.close();
  });
});
