// Nothing fails silently (issue 11): an exception thrown by simple-peer's constructor (in the
// bundler report, a missing `events` polyfill) used to be swallowed by the signaling
// client's emitter, leaving the page in Joining with an empty console.

import { afterEach, describe, expect, it, vi } from 'vitest';
import { NodeIdentity } from '../../lib/identity/node-identity.ts';
import { MeshNode } from '../../lib/node/mesh-node.ts';
import { Emitter } from '../../lib/util/emitter.ts';
import { type WebRtcImplementation, WebRtcTransport } from '../../lib/webrtc/transport.ts';
import { fakeSignaling } from '../support/fake-signaling.ts';

/** Node 20 has no RTCPeerConnection: simple-peer's constructor throws unless given a `wrtc`. */
async function nodeWithoutWebRtc(wrtc?: WebRtcImplementation) {
  const signaling = fakeSignaling();
  const transport = new WebRtcTransport({ signaling, ...(wrtc ? { wrtc } : {}) });
  const node = new MeshNode({ identity: NodeIdentity.generate(), cluster: 'errors', transport });
  const errors: Array<{ error: unknown; context: string }> = [];
  node.on('error', (e) => errors.push(e));
  await node.start();
  return { node, signaling, errors };
}

const HIGHEST_ID = 'f'.repeat(32);
const LOWEST_ID = '0'.repeat(32);

afterEach(() => {
  vi.restoreAllMocks();
});

describe('errors of a dependency surface on the node', () => {
  it("simple-peer's constructor throwing on a dial is an error event, not an exception or silence", async () => {
    const { node, errors } = await nodeWithoutWebRtc();
    expect(() => node.connect(`webrtc:${HIGHEST_ID}`, HIGHEST_ID)).not.toThrow();
    expect(errors).toHaveLength(1);
    expect(errors[0]!.context).toContain('creating a peer connection');
    expect((errors[0]!.error as Error & { code?: string }).code).toBe('ERR_WEBRTC_SUPPORT');
    node.close();
  });

  it("simple-peer's constructor throwing on an offer from signaling is an error event", async () => {
    const { node, signaling, errors } = await nodeWithoutWebRtc();
    signaling.deliver(LOWEST_ID, { k: 'sig', sid: 'a1', d: { type: 'offer', sdp: 'v=0\r\n' } });
    expect(errors.map((e) => (e.error as { code?: string }).code)).toEqual(['ERR_WEBRTC_SUPPORT']);
    node.close();
  });

  it('an RTCPeerConnection constructor that throws (simple-peer reports it later) is an error event', async () => {
    class Refusing {
      constructor() {
        throw new Error('Cannot create so many PeerConnections');
      }
    }
    const { node, errors } = await nodeWithoutWebRtc({
      RTCPeerConnection: Refusing,
      RTCSessionDescription: Object,
      RTCIceCandidate: Object,
    });
    node.connect(`webrtc:${HIGHEST_ID}`, HIGHEST_ID);
    await vi.waitFor(() => expect(errors).toHaveLength(1));
    expect((errors[0]!.error as { code?: string }).code).toBe('ERR_PC_CONSTRUCTOR');
    expect((errors[0]!.error as Error).message).toContain('so many PeerConnections');
    node.close();
  });
});

describe('Emitter', () => {
  it('warns on the console when an error event is emitted and nobody listens', () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const events = new Emitter<{ error: { error: unknown; context: string } }>();
    events.emit('error', { error: new Error('disk full'), context: 'persisting' });
    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn.mock.calls[0]!.join(' ')).toContain('nobody listens');
    events.on('error', () => {});
    events.emit('error', { error: new Error('disk full'), context: 'persisting' });
    expect(warn).toHaveBeenCalledTimes(1);
  });

  it('an unheard error event of a node is written to the console', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const transport = new WebRtcTransport({ signaling: fakeSignaling() });
    const node = new MeshNode({ identity: NodeIdentity.generate(), cluster: 'errors', transport });
    await node.start();
    node.connect(`webrtc:${HIGHEST_ID}`, HIGHEST_ID);
    expect(warn).toHaveBeenCalledTimes(1);
    expect((warn.mock.calls[0]![1] as { context: string }).context).toContain('creating a peer connection');
    node.close();
  });

  it('reports a throwing handler on the console when no onError is given, and runs the others', () => {
    const error = vi.spyOn(console, 'error').mockImplementation(() => {});
    const events = new Emitter<{ signal: number }>();
    const seen: number[] = [];
    events.on('signal', () => {
      throw new Error('handler bug');
    });
    events.on('signal', (n) => seen.push(n));
    events.emit('signal', 7);
    expect(seen).toEqual([7]);
    expect(error).toHaveBeenCalledTimes(1);
    expect(String(error.mock.calls[0]![1])).toContain('handler bug');
  });

  it('stays quiet for names from the network when told to (message topics)', () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const topics = new Emitter<Record<string, number>>({ warnUnheardErrors: false });
    topics.emit('error', 1);
    expect(warn).not.toHaveBeenCalled();
  });
});
