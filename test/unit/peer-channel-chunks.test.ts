// How large the stream chunks a PeerChannel sends are (the remote SDP's a=max-message-size,
// RFC 8841, parsed as the peer input it is) and that receivers reassemble chunks of any size.
import { describe, expect, it } from 'vitest';
import { VirtualScheduler } from '../../lib/time/virtual.ts';
import { CHUNK_BYTES, chunk, MIN_PIECE_CHARGE } from '../../lib/transport/chunks.ts';
import {
  MAX_CHUNK_BYTES,
  PeerChannel,
  type PeerLike,
  streamChunkBytes,
} from '../../lib/webrtc/peer-channel.ts';

/** An answer SDP as @roamhq/wrtc and Chromium write it, with `line` as its max-message-size line. */
const sdpWith = (line: string | undefined) =>
  [
    'v=0',
    'o=- 4611731400430051336 2 IN IP4 127.0.0.1',
    's=-',
    't=0 0',
    'a=group:BUNDLE 0',
    'm=application 9 UDP/DTLS/SCTP webrtc-datachannel',
    'c=IN IP4 0.0.0.0',
    'a=fingerprint:sha-256 AB:CD',
    'a=mid:0',
    'a=sctp-port:5000',
    ...(line === undefined ? [] : [line]),
    '',
  ].join('\r\n');

/** A peer connection double: records what is sent; its `data` handler is how chunks arrive. */
function fakePeer(remoteSdp: string | undefined, sctp?: { maxMessageSize?: number } | null) {
  const sent: Uint8Array[] = [];
  const handlers = new Map<string, (...a: unknown[]) => void>();
  const peer = {
    pc: {
      localDescription: null,
      remoteDescription: remoteSdp === undefined ? null : { type: 'answer', sdp: remoteSdp },
      sctp,
    },
    channel: { addEventListener() {}, removeEventListener() {} },
    bufferSize: 0,
    on: (event: string, fn: (...a: unknown[]) => void) => handlers.set(event, fn),
    send: (c: Uint8Array) => sent.push(c),
    destroy() {},
  };
  const dgram = { binaryType: 'blob', onmessage: null } as unknown as RTCDataChannel;
  const ch = new PeerChannel(peer as unknown as PeerLike, dgram, new VirtualScheduler(), {
    highWaterMark: 1 << 20,
  });
  const frames: Uint8Array[] = [];
  const closed: string[] = [];
  ch.setHandlers({ frame: (_cls, b) => frames.push(b), close: (r) => closed.push(r) });
  return { ch, sent, frames, closed, receive: (c: Uint8Array) => handlers.get('data')!(c) };
}

const pattern = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + 7) & 0xff);

describe('streamChunkBytes (the remote SDP’s a=max-message-size)', () => {
  it('present: the value, at most MAX_CHUNK_BYTES (Chromium and @roamhq/wrtc say 262144)', () => {
    expect(MAX_CHUNK_BYTES).toBe(64 * 1024);
    expect(streamChunkBytes(sdpWith('a=max-message-size:262144'))).toBe(MAX_CHUNK_BYTES);
    expect(streamChunkBytes(sdpWith('a=max-message-size:40000'))).toBe(40_000);
    expect(streamChunkBytes(sdpWith('a=max-message-size:16384'))).toBe(CHUNK_BYTES);
    // Without the \r of a CRLF line end too.
    expect(streamChunkBytes(sdpWith('a=max-message-size:50000').replaceAll('\r\n', '\n'))).toBe(50_000);
  });

  it('absent: 65,536 (RFC 8841), within the cap', () => {
    expect(streamChunkBytes(sdpWith(undefined))).toBe(Math.min(65_536, MAX_CHUNK_BYTES));
  });

  it('0 (no limit) and huge values (Firefox says 1073741823): the cap', () => {
    expect(streamChunkBytes(sdpWith('a=max-message-size:0'))).toBe(MAX_CHUNK_BYTES);
    expect(streamChunkBytes(sdpWith('a=max-message-size:1073741823'))).toBe(MAX_CHUNK_BYTES);
    expect(streamChunkBytes(sdpWith('a=max-message-size:9999999999'))).toBe(MAX_CHUNK_BYTES);
  });

  it('garbage, more digits than any real limit, two lines, a value below 16 KiB, or no SDP: 16 KiB', () => {
    for (const line of [
      'a=max-message-size:',
      'a=max-message-size:abc',
      'a=max-message-size:-1',
      'a=max-message-size:+65536',
      'a=max-message-size:6.5e4',
      'a=max-message-size:0x10000',
      'a=max-message-size: 65536',
      'a=max-message-size:65536 ',
      'a=max-message-size:65536\r\na=max-message-size:65536',
      'a=max-message-size:99999999999999999999999',
      'a=max-message-size:1',
      'a=max-message-size:16383',
    ])
      expect([line, streamChunkBytes(sdpWith(line))]).toEqual([line, CHUNK_BYTES]);
    expect(streamChunkBytes(undefined)).toBe(CHUNK_BYTES);
    expect(streamChunkBytes('')).toBe(CHUNK_BYTES);
  });

  it('never above the runtime’s RTCSctpTransport.maxMessageSize where it has one; a useless one is ignored', () => {
    const sdp = sdpWith('a=max-message-size:262144');
    expect(streamChunkBytes(sdp, 32_768)).toBe(32_768);
    expect(streamChunkBytes(sdp, 1_000)).toBe(CHUNK_BYTES);
    expect(streamChunkBytes(sdp, Number.POSITIVE_INFINITY)).toBe(MAX_CHUNK_BYTES);
    expect(streamChunkBytes(sdp, Number.NaN)).toBe(MAX_CHUNK_BYTES);
    expect(streamChunkBytes(sdp, 0)).toBe(MAX_CHUNK_BYTES);
  });
});

describe('PeerChannel stream chunks', () => {
  it('sends chunks of the size the remote SDP allows, and what the runtime’s pc.sctp says bounds them', () => {
    const wide = fakePeer(sdpWith('a=max-message-size:262144'));
    expect(wide.ch.chunkBytes).toBe(MAX_CHUNK_BYTES);
    wide.ch.send('stream', pattern(200 * 1024));
    expect(wide.sent.map((c) => c.length <= MAX_CHUNK_BYTES)).toEqual([true, true, true, true]);
    expect(fakePeer(sdpWith('a=max-message-size:262144'), { maxMessageSize: 20_000 }).ch.chunkBytes).toBe(
      20_000,
    );
    expect(fakePeer(sdpWith('a=max-message-size:262144'), null).ch.chunkBytes).toBe(MAX_CHUNK_BYTES);
    const unknown = fakePeer(undefined);
    unknown.ch.send('stream', pattern(40 * 1024));
    expect(unknown.sent.map((c) => c.length)).toEqual([
      CHUNK_BYTES,
      CHUNK_BYTES,
      40 * 1024 - 2 * (CHUNK_BYTES - 1) + 1,
    ]);
  });

  it('messages larger than one chunk reassemble exactly, whatever chunk size each side sends', () => {
    const a = fakePeer(sdpWith('a=max-message-size:262144'));
    const b = fakePeer(sdpWith(undefined));
    const messages = [pattern(1), pattern(MAX_CHUNK_BYTES - 1), pattern(MAX_CHUNK_BYTES), pattern(300_001)];
    for (const m of messages) a.ch.send('stream', m);
    expect(a.sent.length).toBe(1 + 1 + 2 + 5);
    for (const c of a.sent) b.receive(c);
    expect(b.frames).toEqual(messages);
    for (const m of messages) b.ch.send('stream', m);
    for (const c of b.sent) a.receive(c);
    expect(a.frames).toEqual(messages);
    expect([a.closed, b.closed]).toEqual([[], []]);
  });

  it('a receiver with a 16 KiB sender (every earlier version) still works', () => {
    const r = fakePeer(sdpWith('a=max-message-size:262144'));
    const messages = [pattern(100), pattern(CHUNK_BYTES), pattern(200_000)];
    for (const m of messages) for (const c of chunk(m)) r.receive(c);
    expect(r.frames).toEqual(messages);
    expect(r.closed).toEqual([]);
  });

  it('large chunks do not lift the message cap: a message over maxMessageBytes closes the channel', () => {
    const r = fakePeer(sdpWith(undefined));
    for (const c of chunk(pattern((1 << 20) + 1), MAX_CHUNK_BYTES)) r.receive(c);
    expect(r.frames).toEqual([]);
    expect(r.closed).toHaveLength(1);
    expect(r.closed[0]).toMatch(/^bad chunk: message over/);
  });
  it('tiny or empty pieces count at least MIN_PIECE_CHARGE each: a flood of them closes the channel, a message of the cap still arrives', () => {
    const r = fakePeer(sdpWith(undefined));
    const more = Uint8Array.of(1); // an empty MORE piece: no sender makes one
    let sent = 0;
    while (r.closed.length === 0 && sent < 10_000) {
      r.receive(more);
      sent++;
    }
    // Before, each empty piece was kept and counted nothing: 10,000 of them, and no end.
    expect(r.closed[0]).toMatch(/^bad chunk: message over/);
    expect(sent).toBe((1 << 20) / MIN_PIECE_CHARGE + 1);
    // Every honest chunking of a message at the cap: its last piece is short, and counts as it is.
    const whole = fakePeer(sdpWith(undefined));
    for (const size of [CHUNK_BYTES, 40_000, MAX_CHUNK_BYTES])
      for (const c of chunk(pattern(1 << 20), size)) whole.receive(c);
    expect(whole.frames.map((f) => f.length)).toEqual([1 << 20, 1 << 20, 1 << 20]);
    expect(whole.closed).toEqual([]);
  });
});
