// How a PeerChannel ends its two data channels (faked: the crash they avoid is @roamhq/wrtc's).
import { describe, expect, it } from 'vitest';
import { VirtualScheduler } from '../../lib/time/virtual.ts';
import { PeerChannel, type PeerLike } from '../../lib/webrtc/peer-channel.ts';

/** A peer whose log records, in order, what was closed; its datagram channel's send can be made to throw. */
function fakes() {
  const log: string[] = [];
  const peerHandlers = new Map<string, (...a: unknown[]) => void>();
  const peer = {
    pc: { localDescription: null, remoteDescription: null },
    channel: { addEventListener() {}, removeEventListener() {} },
    bufferSize: 0,
    on: (event: string, fn: (...a: unknown[]) => void) => peerHandlers.set(event, fn),
    send() {},
    destroy: () => log.push('peer destroyed'),
  };
  const dgram = {
    binaryType: 'blob',
    readyState: 'open',
    bufferedAmount: 0,
    onmessage: null as unknown,
    onclose: null as unknown,
    throwOnSend: false,
    send(_frame: Uint8Array) {
      // What @roamhq/wrtc does when the channel closed under a send while readyState still read 'open'.
      if (this.throwOnSend)
        throw new DOMException("RTCDataChannel.readyState is not 'open'", 'InvalidStateError');
      log.push('datagram sent');
    },
    close: () => log.push('datagram channel closed'),
  };
  const ch = new PeerChannel(
    peer as unknown as PeerLike,
    dgram as unknown as RTCDataChannel,
    new VirtualScheduler(),
  );
  const closed: string[] = [];
  ch.setHandlers({ frame() {}, close: (reason) => closed.push(reason) });
  return { ch, dgram, log, closed, peerHandlers };
}

describe('PeerChannel closing (WebRTC)', () => {
  it('a datagram send that throws (channel closed under it) is dropped and closes the channel; nothing escapes', () => {
    const f = fakes();
    f.dgram.throwOnSend = true;
    expect(() => f.ch.send('datagram', new Uint8Array(8))).not.toThrow();
    expect(f.ch.datagramsDropped).toBe(1);
    expect(f.closed).toHaveLength(1);
    expect(f.closed[0]).toMatch(/^datagram send failed/);
    expect(f.log).toEqual(['datagram channel closed', 'peer destroyed']);
    f.ch.send('datagram', new Uint8Array(8));
    expect(f.log).toEqual(['datagram channel closed', 'peer destroyed']);
  });

  it('close() closes the datagram channel before the peer connection, and detaches its handlers', () => {
    const f = fakes();
    f.ch.send('datagram', new Uint8Array(8));
    f.ch.close('done');
    expect(f.log).toEqual(['datagram sent', 'datagram channel closed', 'peer destroyed']);
    expect(f.dgram.onmessage).toBeNull();
    expect(f.dgram.onclose).toBeNull();
  });

  it('a connection simple-peer already closed: its datagram channel is not closed after it', () => {
    const f = fakes();
    f.peerHandlers.get('close')!();
    f.ch.close();
    expect(f.closed).toEqual(['peer connection closed']);
    expect(f.log).toEqual([]);
  });

  it('the datagram channel closing by itself closes the link', () => {
    const f = fakes();
    (f.dgram.onclose as () => void)();
    expect(f.closed).toEqual(['datagram channel closed']);
    expect(f.log).toEqual(['datagram channel closed', 'peer destroyed']);
  });
});
