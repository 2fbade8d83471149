// Streamed answers (requestStream / respondStream, lib/node/answer-stream.ts) driven through a
// Messenger with fake links and virtual time: what each side sends, what each side is
// charged, and what a responder out of bounds gets.

import { describe, expect, it } from 'vitest';
import { OPEN_STREAMS_PER_ORIGIN, type RequestStreamOptions } from '../../lib/node/answer-stream.ts';
import { fromHex, utf8 } from '../../lib/util/bytes.ts';
import type { MessageOf } from '../../lib/wire/messages.ts';
import { a, b, flush, me, origin, relayed, setup } from '../support/messenger-rig.ts';

const KIND = { req: 1, res: 2, err: 3, part: 4, sreq: 5 } as const;
const text = (d: Uint8Array) => new TextDecoder().decode(d);

/** A frame from neighbour `from` (direct) to this node. */
const frame = (from: string, kind: number, id: number, data: Uint8Array): MessageOf<'app'> => ({
  type: 'app',
  to: fromHex(me.nodeId),
  from: fromHex(from),
  id,
  kind,
  topic: 't',
  data,
  ttl: 16,
});

/** A stream request from neighbour `a` asking for `parts` parts. */
const streamRequest = (id: number, parts: number, body = 'x') =>
  frame(a.nodeId, KIND.sreq, id, new Uint8Array([parts, ...utf8(body)]));

/** A stream request this node sent (to `to`, default neighbour `a`): its parts, and the id its answers carry. */
async function ask(t: ReturnType<typeof setup>, opts: RequestStreamOptions, to = a) {
  const parts = t.m.requestStream(to.nodeId, 't', utf8('q'), opts);
  await flush();
  // Sent over the link to `a`, or flooded to every neighbour (a among them) for a member further off.
  const id = (t.out().get(a.nodeId)![0] as MessageOf<'app'>).id;
  return { parts, id };
}

/** Everything read from a stream: its parts' text, then the error code that ended it (if any). */
async function readAll(parts: AsyncIterable<Uint8Array>): Promise<string[]> {
  const got: string[] = [];
  try {
    for await (const p of parts) got.push(text(p));
  } catch (e) {
    got.push(`error ${(e as Error).message}`);
  }
  return got;
}

/** Lets the messenger's promise chains (responders, link waits) run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 8; i++) await flush();
}

/** The app frames sent to `a` as [kind, text]. */
const sentToA = (t: ReturnType<typeof setup>) =>
  ((t.out().get(a.nodeId) ?? []) as Array<MessageOf<'app'>>).map((m) => [m.kind, text(m.data)]);

describe('Messaging: streamed answers, the asking side', () => {
  it('asks with the part count first, takes the parts in order and ends with the reply', async () => {
    const t = setup();
    const parts = t.m.requestStream(a.nodeId, 't', utf8('q'), { maxParts: 3 });
    await flush();
    const req = t.out().get(a.nodeId)![0] as MessageOf<'app'>;
    expect([req.kind, req.data[0], text(req.data.subarray(1))]).toEqual([KIND.sreq, 3, 'q']);
    t.m.onApp(a.nodeId, frame(a.nodeId, KIND.part, req.id, utf8('p0')));
    t.m.onApp(a.nodeId, frame(a.nodeId, KIND.part, req.id, utf8('p1')));
    t.m.onApp(a.nodeId, frame(a.nodeId, KIND.res, req.id, utf8('p2')));
    expect(await readAll(parts)).toEqual(['p0', 'p1', 'p2']);
  });

  it('parts asked for cost nothing of the answerer’s quota; a part nobody asked for pays and is dropped', async () => {
    const t = setup({ options: { perOriginRate: 1 } }); // a burst of 4, then one a second
    const { parts, id } = await ask(t, { maxParts: 40 });
    for (let i = 0; i < 39; i++) t.m.onApp(a.nodeId, frame(a.nodeId, KIND.part, id, utf8(`p${i}`)));
    t.m.onApp(a.nodeId, frame(a.nodeId, KIND.res, id, utf8('last')));
    const got = await readAll(parts);
    expect(got).toHaveLength(40);
    expect(got.at(-1)).toBe('last');
    expect(t.m.metrics.throttled).toBe(0);
    for (let i = 0; i < 10; i++) t.m.onApp(a.nodeId, frame(a.nodeId, KIND.part, id + 1000, utf8('junk')));
    expect(t.m.metrics.dropped).toBe(10);
    expect(t.m.metrics.throttled).toBe(7); // 3 tokens were left after the reply took one
  });

  it('a relayed part settles nothing: streams are answered over the link only, in order', async () => {
    const t = setup();
    const { parts, id } = await ask(t, { maxParts: 20 }, origin);
    t.m.onApp(b.nodeId, relayed(origin, me.nodeId, { kind: KIND.part, id, seq: 1, data: 'relayed part' }));
    t.m.onApp(b.nodeId, relayed(origin, me.nodeId, { kind: KIND.res, id, seq: 2, data: 'one answer' }));
    await settle();
    expect(await readAll(parts)).toEqual(['one answer']);
    expect(t.m.metrics.dropped).toBe(1);
  });

  it('two reads waiting at once both settle: the first with the part, the second with the end', async () => {
    const t = setup();
    const { parts, id } = await ask(t, { maxParts: 4 });
    const first = parts.next();
    const second = parts.next();
    t.m.onApp(a.nodeId, frame(a.nodeId, KIND.res, id, utf8('only')));
    expect(await first).toEqual({ done: false, value: utf8('only') });
    expect(await second).toEqual({ done: true, value: undefined });
  });

  it('a part past the count asked ends the stream with remote-error, after the parts before it', async () => {
    const t = setup();
    const { parts, id } = await ask(t, { maxParts: 2 });
    t.m.onApp(a.nodeId, frame(a.nodeId, KIND.part, id, utf8('p0')));
    t.m.onApp(a.nodeId, frame(a.nodeId, KIND.part, id, utf8('p1')));
    t.m.onApp(a.nodeId, frame(a.nodeId, KIND.res, id, utf8('late')));
    expect(await readAll(parts)).toEqual(['p0', 'error remote-error: more parts than asked for']);
  });

  it('parts settle nothing from another node, nor for a plain request', async () => {
    const t = setup();
    const reply = t.m.request(a.nodeId, 't', utf8('q'));
    const parts = t.m.requestStream(a.nodeId, 't', utf8('q'), { maxParts: 4 });
    await flush();
    const [plain, streamed] = (t.out().get(a.nodeId) as Array<MessageOf<'app'>>).map((m) => m.id) as [
      number,
      number,
    ];
    t.m.onApp(a.nodeId, frame(a.nodeId, KIND.part, plain, utf8('not asked')));
    t.m.onApp(b.nodeId, frame(b.nodeId, KIND.part, streamed, utf8('not from b')));
    expect(t.m.metrics.dropped).toBe(2);
    t.m.onApp(a.nodeId, frame(a.nodeId, KIND.res, plain, utf8('answer')));
    t.m.onApp(a.nodeId, frame(a.nodeId, KIND.res, streamed, utf8('only part')));
    expect(text(await reply)).toBe('answer');
    expect(await readAll(parts)).toEqual(['only part']);
  });

  it('the timeout bounds the wait for each part, not the whole answer', async () => {
    const t = setup();
    const { parts, id } = await ask(t, { maxParts: 8, timeoutMs: 100 });
    for (let i = 0; i < 4; i++) {
      t.scheduler.runFor(90);
      t.m.onApp(a.nodeId, frame(a.nodeId, KIND.part, id, utf8(`p${i}`)));
    }
    t.scheduler.runFor(99);
    const read = readAll(parts);
    t.scheduler.runFor(1);
    expect(await read).toEqual([
      'p0',
      'p1',
      'p2',
      'p3',
      expect.stringMatching(/^error timeout: .*within 100 ms$/),
    ]);
  });

  it('a count outside 1..64 is refused at the call (bad-parts), sending nothing', () => {
    const t = setup();
    for (const maxParts of [0, 65, 1.5])
      expect(() => t.m.requestStream(a.nodeId, 't', utf8('q'), { maxParts })).toThrow(
        expect.objectContaining({ code: 'bad-parts' }),
      );
    expect(t.out().size).toBe(0);
  });

  it('a reader that stops early forgets the stream: later parts are dropped', async () => {
    const t = setup();
    const { parts, id } = await ask(t, { maxParts: 8 });
    t.m.onApp(a.nodeId, frame(a.nodeId, KIND.part, id, utf8('p0')));
    for await (const p of parts) {
      expect(text(p)).toBe('p0');
      break;
    }
    t.m.onApp(a.nodeId, frame(a.nodeId, KIND.part, id, utf8('p1')));
    expect(t.m.metrics.dropped).toBe(1);
  });
});

describe('Messaging: streamed answers, the answering side', () => {
  it('sends at most the count asked, each but the last as a part, the last as the reply', async () => {
    const t = setup();
    const asked: number[] = [];
    t.handlers.respondStream('t', function* (data, _from, maxParts) {
      asked.push(maxParts);
      for (let i = 0; i < 10; i++) yield utf8(`${text(data)}${i}`);
    });
    t.m.onApp(a.nodeId, streamRequest(7, 3));
    await settle();
    expect(asked).toEqual([3]);
    expect(sentToA(t)).toEqual([
      [KIND.part, 'x0'],
      [KIND.part, 'x1'],
      [KIND.res, 'x2'],
    ]);
  });

  it('plain and streamed responders answer either kind of request', async () => {
    const t = setup();
    t.handlers.respondStream('t', async function* () {
      yield utf8('first');
      yield utf8('second');
    });
    t.handlers.respond('plain', () => utf8('one answer'));
    t.m.onApp(a.nodeId, frame(a.nodeId, KIND.req, 1, utf8('x')));
    t.m.onApp(a.nodeId, { ...streamRequest(2, 4), topic: 'plain' });
    await settle();
    expect(sentToA(t).sort()).toEqual(
      [
        [KIND.res, 'first'],
        [KIND.res, 'one answer'],
      ].sort(),
    );
  });

  it('parts go out only as the link drains below the high-water mark', async () => {
    const t = setup({ options: { highWaterMark: 100 } });
    t.handlers.respondStream('t', function* () {
      for (let i = 0; i < 4; i++) yield utf8(`p${i}`);
    });
    const link = t.links.get(a.nodeId)!;
    link.bufferedAmount = 1_000;
    t.m.onApp(a.nodeId, streamRequest(7, 4));
    await settle();
    expect(sentToA(t)).toEqual([]);
    link.bufferedAmount = 0;
    await settle();
    expect(sentToA(t).map(([k]) => k)).toEqual([KIND.part, KIND.part, KIND.part, KIND.res]);
  });

  it(`an origin with ${OPEN_STREAMS_PER_ORIGIN} streams open gets one part for each further request`, async () => {
    const t = setup({ options: { highWaterMark: 100 } });
    const asked: number[] = [];
    t.handlers.respondStream('t', function* (_d, _f, maxParts) {
      asked.push(maxParts);
      for (let i = 0; i < maxParts; i++) yield utf8(`p${i}`);
    });
    t.links.get(a.nodeId)!.bufferedAmount = 1_000; // congested: every stream stays open
    for (let id = 1; id <= OPEN_STREAMS_PER_ORIGIN + 2; id++) t.m.onApp(a.nodeId, streamRequest(id, 8));
    await settle();
    expect(asked).toEqual([...Array(OPEN_STREAMS_PER_ORIGIN).fill(8), 1, 1]);
    t.links.get(a.nodeId)!.bufferedAmount = 0;
    await settle();
    t.m.onApp(a.nodeId, streamRequest(99, 8));
    await settle();
    expect(asked.at(-1)).toBe(8); // the streams ended: full length again
  });

  it('a relayed stream request is answered with one part (relays have no back-pressure to wait on)', async () => {
    const t = setup();
    const asked: number[] = [];
    t.handlers.respondStream('t', function* (_d, _f, maxParts) {
      asked.push(maxParts);
      for (let i = 0; i < maxParts; i++) yield utf8(`p${i}`);
    });
    // A stream request for 8 parts (the count is its data's first byte), relayed by b.
    t.m.onApp(b.nodeId, relayed(origin, me.nodeId, { kind: KIND.sreq, id: 5, data: '\u0008' }));
    await settle();
    expect(asked).toEqual([1]);
  });

  it('a link that closes mid-answer ends it with an error, never with a reply missing parts', async () => {
    const t = setup();
    let open!: () => void;
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    t.handlers.respondStream('t', async function* () {
      yield utf8('p0');
      yield utf8('p1');
      await gate;
      yield utf8('p2');
      yield utf8('p3');
    });
    t.m.onApp(a.nodeId, streamRequest(7, 4));
    await settle();
    expect(sentToA(t)).toEqual([[KIND.part, 'p0']]);
    t.links.get(a.nodeId)!.close();
    t.links.delete(a.nodeId);
    open();
    await settle();
    // The asker is still a reachable member: what is left goes through the mesh, as an error.
    const rest = ([...t.out().values()].flat() as Array<MessageOf<'app'>>).map((m) => [m.kind, text(m.data)]);
    expect(rest.length).toBeGreaterThan(0);
    expect(new Set(rest.map(String))).toEqual(
      new Set([[KIND.err, 'the link to the asker closed mid-answer'].join()]),
    );
  });

  it('a responder that fails mid-answer: the parts it yielded, then its error', async () => {
    const t = setup();
    t.handlers.respondStream('t', function* () {
      yield utf8('p0');
      yield utf8('p1');
      throw new Error('disk gone');
    });
    t.m.onApp(a.nodeId, streamRequest(7, 8));
    await settle();
    expect(sentToA(t)).toEqual([
      [KIND.part, 'p0'],
      [KIND.part, 'p1'],
      [KIND.err, 'disk gone'],
    ]);
  });

  it('a malformed request, no parts, or a part that is not bytes or too large is answered with an error', async () => {
    const t = setup({ options: { maxMessageBytes: 10 } });
    const answers: Record<string, () => Iterable<unknown>> = {
      none: () => [],
      'not bytes': () => ['text'],
      'too large': () => [new Uint8Array(11)],
    };
    let which = 'none';
    t.handlers.respondStream('t', () => answers[which]!() as Iterable<Uint8Array>);
    t.m.onApp(a.nodeId, frame(a.nodeId, KIND.sreq, 1, new Uint8Array([0, 1])));
    await settle();
    for (const [i, name] of Object.keys(answers).entries()) {
      which = name;
      t.m.onApp(a.nodeId, streamRequest(10 + i, 4));
      await settle();
    }
    expect(sentToA(t)).toEqual([
      [KIND.err, 'malformed stream request'],
      [KIND.err, 'the responder returned no parts'],
      [KIND.err, 'the responder returned no bytes'],
      [KIND.err, 'reply too large'],
    ]);
  });
});
