// Pure logic of Redis-backed signaling (issue 17): the strict parsers for what instances read
// from Redis, and the client's failover order and backoff across several servers.
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { NodeIdentity } from '../../lib/identity/mod.ts';
import {
  encodeEntry,
  parseEntry,
  parseInstanceFrame,
  parseRoomEvent,
} from '../../signaling/backplane-frames.ts';
import { SignalingClient } from '../../signaling/client.ts';
import { FakeSocket } from '../support/fake-websocket.ts';

const A = 'a'.repeat(32);
const B = 'b'.repeat(32);
const INST = '0123456789abcdef';

describe('backplane frames', () => {
  it('accepts the frames instances write, exactly', () => {
    expect(
      parseInstanceFrame(JSON.stringify({ t: 's', r: 'calm', f: A, o: B, d: { sdp: 'x' } }), 1000),
    ).toEqual({
      ok: true,
      value: { t: 's', r: 'calm', f: A, o: B, d: { sdp: 'x' } },
    });
    expect(parseInstanceFrame('{"t":"p","n":"7"}', 1000)).toEqual({ ok: true, value: { t: 'p', n: '7' } });
    expect(
      parseRoomEvent(JSON.stringify({ t: 'j', r: 'calm', n: A, i: INST, a: ['ws://h:1'] }), 'calm'),
    ).toEqual({
      ok: true,
      value: { t: 'j', r: 'calm', n: A, i: INST, a: ['ws://h:1'] },
    });
    expect(parseRoomEvent(JSON.stringify({ t: 'j', r: 'calm', n: A, i: INST }), 'calm')).toMatchObject({
      ok: true,
      value: { a: [] },
    });
    expect(parseRoomEvent(JSON.stringify({ t: 'l', r: 'calm', n: A, i: INST }), 'calm')).toEqual({
      ok: true,
      value: { t: 'l', r: 'calm', n: A, i: INST },
    });
    expect(parseEntry(A, encodeEntry(INST, ['ws://h:1', 'wss://g/x']))).toEqual({
      ok: true,
      value: { id: A, instance: INST, addrs: ['ws://h:1', 'wss://g/x'] },
    });
    expect(parseEntry(A, encodeEntry(INST, []))).toMatchObject({ ok: true, value: { addrs: [] } });
  });

  it('refuses everything else with a reason to count', () => {
    const signal = (over: Record<string, unknown>) =>
      JSON.stringify({ t: 's', r: 'calm', f: A, o: B, d: 1, ...over });
    const cases: Array<[unknown, string]> = [
      [42, 'not-text'],
      ['x'.repeat(2000), 'too-large'],
      [`{"t":"s","d":${'['.repeat(40)}${']'.repeat(40)}}`, 'too-deep'],
      ['{nope', 'bad-json'],
      ['[1]', 'not-an-object'],
      ['null', 'not-an-object'],
      ['{"t":"x"}', 'unknown-type'],
      [signal({ r: 'bad room' }), 'bad-signal'],
      [signal({ f: 'A'.repeat(32) }), 'bad-signal'],
      [signal({ o: 7 }), 'bad-signal'],
      [JSON.stringify({ t: 's', r: 'calm', f: A, o: B }), 'bad-signal'],
      [`{"t":"p","n":"${'9'.repeat(65)}"}`, 'bad-probe'],
    ];
    for (const [text, reason] of cases)
      expect(parseInstanceFrame(text, 1500), String(text)).toEqual({ ok: false, reason });
    const event = (over: Record<string, unknown>) =>
      JSON.stringify({ t: 'j', r: 'calm', n: A, i: INST, ...over });
    const events: Array<[string, string]> = [
      [event({ r: 'other' }), 'wrong-room'],
      [event({ n: 'x' }), 'bad-event'],
      [event({ i: 'ABCDEF0123456789' }), 'bad-event'],
      [event({ a: ['http://h'] }), 'bad-addresses'],
      [event({ a: ['ws://1', 'ws://2', 'ws://3', 'ws://4', 'ws://5'] }), 'bad-addresses'],
      [event({ t: 'q' }), 'unknown-type'],
      ['x'.repeat(3000), 'too-large'],
    ];
    for (const [text, reason] of events)
      expect(parseRoomEvent(text, 'calm'), text).toEqual({ ok: false, reason });
    expect(parseEntry('junk', encodeEntry(INST, []))).toEqual({ ok: false, reason: 'bad-entry-id' });
    for (const value of [
      '',
      'nothex',
      `${INST} http://h`,
      `${INST}  ws://h`,
      `${INST} ws://a ws://b ws://c ws://d ws://e`,
      5,
    ])
      expect(parseEntry(A, value), String(value)).toEqual({ ok: false, reason: 'bad-entry' });
  });

  it('never throws, whatever Redis holds', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.json(), fc.anything()), fc.string(), (text, id) => {
        for (const p of [parseInstanceFrame(text, 4096), parseRoomEvent(text, 'calm'), parseEntry(id, text)])
          expect(typeof p.ok).toBe('boolean');
      }),
      { numRuns: 500 },
    );
  });
});

describe('SignalingClient with several servers', () => {
  afterEach(() => {
    vi.useRealTimers();
    vi.restoreAllMocks();
    FakeSocket.made = [];
  });

  it('tries each server in turn, backs off per round, reports once per outage, and stays where it joined', () => {
    vi.useFakeTimers();
    vi.spyOn(Math, 'random').mockReturnValue(1); // the longest jittered wait: 1.5 × the backoff
    const identity = NodeIdentity.generate();
    const errors: string[] = [];
    const client = new SignalingClient({
      url: ['ws://a', 'ws://b', 'ws://c'],
      identity,
      room: 'r',
      WebSocket: FakeSocket,
      minBackoffMs: 100,
      maxBackoffMs: 1_000,
    });
    client.on('error', (e) => errors.push(e.code));
    client.start();
    const last = () => FakeSocket.made.at(-1)!;
    const waits: number[] = [];
    /** Fails the current attempt; returns how long until the next one began. */
    const failAndWait = () => {
      const before = FakeSocket.made.length;
      last().refuse();
      let waited = 0;
      while (FakeSocket.made.length === before) {
        vi.advanceTimersByTime(10);
        waited += 10;
      }
      waits.push(waited);
    };
    expect(last().url).toBe('ws://a');
    failAndWait();
    expect([last().url, errors]).toEqual(['ws://b', []]);
    failAndWait();
    failAndWait(); // a round of three failed: reported once
    expect([last().url, errors]).toEqual(['ws://a', ['unreachable']]);
    failAndWait();
    failAndWait();
    failAndWait();
    expect(last().url).toBe('ws://a');
    // First round 150 ms apart, then 300 ms (doubling per round, not per server).
    expect(waits).toEqual([150, 150, 150, 300, 300, 300]);
    expect(errors).toEqual(['unreachable']);
    failAndWait();
    last().join(identity.nodeId);
    expect([client.state, client.url]).toEqual(['joined', 'ws://b']);
    // It dropped: on to the next server after the shortest pause, not back to the first.
    failAndWait();
    expect([last().url, waits.at(-1)]).toEqual(['ws://c', 150]);
    client.close();
  });

  it('refuses an empty list', () => {
    expect(
      () =>
        new SignalingClient({ url: [], identity: NodeIdentity.generate(), room: 'r', WebSocket: FakeSocket }),
    ).toThrow(TypeError);
  });
});
