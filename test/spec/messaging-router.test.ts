// Application messaging over the mesh (lib/node/messaging.ts) and its replay windows
// (origin-windows.ts), driven directly: a fake host with fake links, virtual time. Names
// state the routing, hop-limit, replay and quota rules of the module comment and of
// docs/SECURITY.md.

import { describe, expect, it } from 'vitest';
import { BroadcastKind } from '../../lib/broadcast/metrics.ts';
import type { NodeIdentity } from '../../lib/identity/node-identity.ts';
import { Domain, signingInput } from '../../lib/identity/signed.ts';
import { strictVerifier } from '../../lib/identity/verifier.ts';
import { appPayload, broadcastPayload } from '../../lib/node/message-signing.ts';
import { OriginWindows, REPLAY_WINDOW } from '../../lib/node/origin-windows.ts';
import { fromHex, toHex, utf8 } from '../../lib/util/bytes.ts';
import type { MessageOf } from '../../lib/wire/messages.ts';
import { identity } from '../support/membership-context.ts';
import { a, b, c, flush, me, origin, relayed, setup, target } from '../support/messenger-rig.ts';

function broadcast(
  from: NodeIdentity,
  f: { epoch?: number; seq?: number; ttl?: number } = {},
): MessageOf<'broadcast'> {
  const body = {
    origin: fromHex(from.nodeId),
    key: from.publicKey,
    epoch: f.epoch ?? 1,
    seq: f.seq ?? 1,
    topic: 't',
    data: utf8('all'),
  };
  const sig = from.sign(signingInput(Domain.Broadcast, broadcastPayload(body)));
  return { type: 'broadcast', ...body, ttl: f.ttl ?? 16, sig };
}

/** A request from neighbour `a` to this node on `topic`. */
const requestFromA = (topic: string): MessageOf<'app'> => ({
  type: 'app',
  to: fromHex(me.nodeId),
  from: fromHex(a.nodeId),
  id: 9,
  kind: 1,
  topic,
  data: utf8('x'),
  ttl: 16,
});
describe('Messaging: routes', () => {
  it('messaging routes via the link, else a neighbour that reported a link, else nowhere for unknown ids', async () => {
    const t = setup();
    await t.m.send(a.nodeId, 't', utf8('direct'));
    const direct = t.out();
    expect([...direct.keys()]).toEqual([a.nodeId]);
    const d = direct.get(a.nodeId)![0] as MessageOf<'app'>;
    // The link authenticates a direct message: no origin signature.
    expect(d.sig).toBeUndefined();
    expect(toHex(d.to)).toBe(a.nodeId);

    t.neighbours.set(b.nodeId, new Set([target.nodeId]));
    await t.m.send(target.nodeId, 't', utf8('2 hops'));
    const bridged = t.out();
    expect([...bridged.keys()]).toEqual([b.nodeId]);
    const signed = bridged.get(b.nodeId)![0] as MessageOf<'app'>;
    expect(signed.ttl).toBe(16);
    expect(signed.epoch).toBe(100);
    expect(
      strictVerifier.verify(
        me.publicKey,
        Domain.App,
        appPayload({ ...signed, epoch: signed.epoch!, seq: signed.seq! }),
        signed.sig!,
      ),
    ).toBe(true);

    await expect(t.m.send(identity(99).nodeId, 't', utf8('?'))).rejects.toMatchObject({ code: 'no-route' });
    expect(t.out().size).toBe(0);
    expect(t.m.relay.reaches(identity(99).nodeId)).toBe(false);
  });

  it('where several neighbours report a link to the target, one carries its messages, in order; a request that times out turns the route to the next, so a liar listing itself as the bridge to everyone is gone round', async () => {
    const t = setup();
    // `a` lies (it says it links to everyone, and drops what it gets); `b` and `c` tell the truth.
    t.neighbours.set(a.nodeId, new Set([target.nodeId, origin.nodeId, identity(50).nodeId]));
    t.neighbours.set(b.nodeId, new Set([target.nodeId]));
    t.neighbours.set(c.nodeId, new Set([target.nodeId]));
    const via = new Set<string>();
    for (let i = 0; i < 10; i++) {
      await t.m.send(target.nodeId, 't', utf8(`m${i}`));
      const out = t.out();
      expect(out.size).toBe(1); // one bridge a message, not a flood
      for (const k of out.keys()) via.add(k);
    }
    expect(via.size).toBe(1); // one path: messages to one node stay in order
    // Each unanswered request turns the route: three in a row went through all three bridges.
    const asked: string[] = [];
    for (let i = 0; i < 3; i++) {
      const settled = t.m.request(target.nodeId, 't', utf8('q?'), 100).catch((e) => e);
      await flush();
      asked.push(...t.out().keys());
      t.scheduler.runFor(100);
      expect(await settled).toMatchObject({ code: 'timeout' });
    }
    expect(asked[0]).toBe([...via][0]);
    expect(new Set(asked).size).toBe(3);
    // Once turned, plain messages follow the new route too.
    await t.m.send(target.nodeId, 't', utf8('after'));
    expect([...t.out().keys()]).toEqual([asked[0]]); // three turns: back where it started
  });

  it('a reachable member with no known link is reached by flooding every neighbour', async () => {
    const t = setup();
    await t.m.send(target.nodeId, 't', utf8('flood'));
    expect([...t.out().keys()].sort()).toEqual([a, b, c].map((n) => n.nodeId).sort());
  });

  it('a relay passes a signed message on with one hop less, never back where it came from', () => {
    const t = setup({ linked: [a, b, target] });
    t.m.onApp(a.nodeId, relayed(origin, target.nodeId, { ttl: 5 }));
    const got = t.out();
    expect([...got.keys()]).toEqual([target.nodeId]);
    expect((got.get(target.nodeId)![0] as MessageOf<'app'>).ttl).toBe(4);
    expect(t.m.metrics.relayed).toBe(1);
    // Its only route is back through the link it came from: dropped, not bounced.
    const back = setup({ linked: [a] });
    back.neighbours.set(a.nodeId, new Set([target.nodeId]));
    back.m.onApp(a.nodeId, relayed(origin, target.nodeId));
    expect(back.out().size).toBe(0);
    expect(back.m.metrics.unroutable).toBe(1);
  });

  it('a message whose hop limit is spent is not relayed', () => {
    const t = setup({ linked: [a, target] });
    t.m.onApp(a.nodeId, relayed(origin, target.nodeId, { ttl: 0 }));
    expect(t.out().size).toBe(0);
    expect(t.m.metrics.unroutable).toBe(1);
  });

  it('a message for an unknown node is never flooded', () => {
    const t = setup();
    t.m.onApp(a.nodeId, relayed(origin, identity(99).nodeId));
    expect(t.out().size).toBe(0);
    expect(t.m.metrics.unroutable).toBe(1);
  });

  it('a direct message needs no signature: the link authenticated its sender', () => {
    const t = setup();
    t.m.onApp(a.nodeId, {
      type: 'app',
      to: fromHex(me.nodeId),
      from: fromHex(a.nodeId),
      id: 1,
      kind: 0,
      topic: 't',
      data: utf8('hello'),
      ttl: 16,
    });
    expect(t.delivered.map((d) => [d.from, d.relayed, d.broadcast])).toEqual([[a.nodeId, false, false]]);
  });

  it('a relayed message is delivered only with its origin’s valid signature, from a reachable member', () => {
    const t = setup();
    const { sig: _, ...unsigned } = relayed(origin, me.nodeId, { seq: 1 });
    t.m.onApp(a.nodeId, unsigned);
    t.m.onApp(a.nodeId, relayed(origin, me.nodeId, { seq: 2, signer: b }));
    // Validly signed, but by another key than the origin's.
    t.m.onApp(a.nodeId, { ...relayed(origin, me.nodeId, { seq: 3, signer: b }), key: b.publicKey });
    t.m.onApp(a.nodeId, relayed(identity(98), me.nodeId, { seq: 4 }));
    expect(t.delivered).toEqual([]);
    expect(t.m.metrics.rejected).toBe(4);
    t.m.onApp(a.nodeId, relayed(origin, me.nodeId, { seq: 5 }));
    expect(t.delivered.map((d) => [d.from, d.relayed])).toEqual([[origin.nodeId, true]]);
  });

  it('our own message back from a flood is never taken', () => {
    const t = setup();
    t.m.onApp(a.nodeId, relayed(me, me.nodeId));
    t.m.onBroadcast(a.nodeId, broadcast(me));
    expect(t.delivered).toEqual([]);
    expect(t.m.metrics.duplicates).toBe(2);
  });
});

describe('Messaging: replays and quotas', () => {
  it('copies and replays within the window are recognised, however they arrive', () => {
    const t = setup({ linked: [a, b, target] });
    const msg = relayed(origin, target.nodeId, { seq: 7 });
    t.m.onApp(a.nodeId, msg);
    t.m.onApp(b.nodeId, { ...msg, ttl: 3 });
    t.m.onApp(a.nodeId, msg);
    expect(t.out().get(target.nodeId)).toHaveLength(1);
    expect(t.m.metrics.duplicates).toBe(2);
  });

  it('a restarted origin (a higher epoch) starts a fresh window; the older epoch’s numbers count as seen', () => {
    const t = setup();
    t.m.onApp(a.nodeId, relayed(origin, me.nodeId, { epoch: 5, seq: 9 }));
    t.m.onApp(a.nodeId, relayed(origin, me.nodeId, { epoch: 6, seq: 1 }));
    t.m.onApp(a.nodeId, relayed(origin, me.nodeId, { epoch: 5, seq: 1 }));
    // Also above the new window's top: a replay from the last run is no news, and it must not
    // move this run's window past its real numbers.
    t.m.onApp(a.nodeId, relayed(origin, me.nodeId, { epoch: 5, seq: 5_000 }));
    t.m.onApp(a.nodeId, relayed(origin, me.nodeId, { epoch: 6, seq: 2 }));
    t.m.onApp(a.nodeId, relayed(origin, me.nodeId, { epoch: 6, seq: 3 }));
    expect(t.delivered).toHaveLength(4);
    expect(t.m.metrics.duplicates).toBe(2);
  });

  it('the replay window remembers the last 1,024 numbers; anything older counts as seen', () => {
    const w = new OriginWindows(8, () => true);
    expect(w.accept('o', 1, 2_000)).toBe(true);
    expect(w.accept('o', 1, 2_000 - REPLAY_WINDOW + 1)).toBe(true);
    expect(w.accept('o', 1, 2_000 - REPLAY_WINDOW + 1)).toBe(false);
    expect(w.seen('o', 1, 2_000 - REPLAY_WINDOW)).toBe(true);
    expect(w.seen('o', 1, 2_000 - REPLAY_WINDOW - 5)).toBe(true);
    expect(w.seen('o', 1, 1_999)).toBe(false);
    // Sliding forward clears the numbers passed.
    expect(w.accept('o', 1, 2_000 + REPLAY_WINDOW)).toBe(true);
    expect(w.seen('o', 1, 2_000 + REPLAY_WINDOW - 1)).toBe(false);
    expect(w.seen('o', 1, 2_000)).toBe(true);
  });

  it('replay windows are bounded: the least recently used origin that is not a reachable member goes first', () => {
    const kept = new Set(['m1', 'm2']);
    const w = new OriginWindows(3, (o) => kept.has(o));
    w.accept('m1', 1, 1);
    w.accept('x', 1, 1);
    w.accept('m2', 1, 1);
    w.accept('y', 1, 1);
    expect(w.size).toBe(3);
    expect(w.seen('x', 1, 1)).toBe(false);
    expect(w.seen('m1', 1, 1)).toBe(true);
    expect(w.seen('m2', 1, 1)).toBe(true);
  });

  it('junk naming an origin costs only the link that brought it; the origin pays only once authenticated', () => {
    const t = setup({ options: { perLinkRate: 1, perOriginRate: 1 } });
    // Burst of 4 per link: four forgeries are checked, the fifth is not even checked.
    for (let seq = 1; seq <= 5; seq++) t.m.onApp(a.nodeId, relayed(origin, me.nodeId, { seq, signer: c }));
    expect(t.m.metrics.rejected).toBe(4);
    expect(t.m.metrics.throttled).toBe(1);
    // The origin's own quota is untouched: its genuine messages through another link arrive.
    for (let seq = 1; seq <= 4; seq++) t.m.onApp(b.nodeId, relayed(origin, me.nodeId, { seq }));
    expect(t.delivered).toHaveLength(4);
    // Its fifth within the second is over its own quota.
    t.m.onApp(c.nodeId, relayed(origin, me.nodeId, { seq: 5 }));
    expect(t.delivered).toHaveLength(4);
    expect(t.m.metrics.throttled).toBe(2);
    // A second later it has a token again.
    t.scheduler.runFor(1_000);
    t.m.onApp(c.nodeId, relayed(origin, me.nodeId, { seq: 6 }));
    expect(t.delivered).toHaveLength(5);
  });

  it('a replay of a genuine message costs nobody', () => {
    const t = setup({ options: { perLinkRate: 1, perOriginRate: 1 } });
    const msg = relayed(origin, me.nodeId, { seq: 1 });
    t.m.onApp(a.nodeId, msg);
    for (let k = 0; k < 10; k++) t.m.onApp(a.nodeId, msg);
    expect(t.m.metrics.throttled).toBe(0);
    for (let seq = 2; seq <= 4; seq++) t.m.onApp(a.nodeId, relayed(origin, me.nodeId, { seq }));
    expect(t.delivered).toHaveLength(4);
  });
});

describe('Messaging: broadcasts', () => {
  it('a broadcast is delivered once and flooded to every neighbour but its sender and origin, one hop less', () => {
    const t = setup({ linked: [a, b, c, origin] });
    t.m.onBroadcast(a.nodeId, broadcast(origin, { ttl: 3 }));
    const got = t.out();
    expect([...got.keys()].sort()).toEqual([b.nodeId, c.nodeId].sort());
    expect((got.get(b.nodeId)![0] as MessageOf<'broadcast'>).ttl).toBe(2);
    expect(t.delivered.map((d) => [d.from, d.broadcast, d.relayed])).toEqual([[origin.nodeId, true, true]]);
    t.m.onBroadcast(b.nodeId, broadcast(origin, { ttl: 3 }));
    expect(t.out().size).toBe(0);
    expect(t.delivered).toHaveLength(1);
  });

  it('a transport control topic (relay.subscribe) takes messages sent to this node, never a broadcast: one member could otherwise reach every node’s transport at once', () => {
    const t = setup({ linked: [a, b, c, origin] });
    const control: string[] = [];
    t.m.relay.subscribe('t', (from) => control.push(from));
    t.m.onBroadcast(a.nodeId, broadcast(origin));
    expect(t.delivered.map((d) => d.broadcast)).toEqual([true]); // the application still gets it
    expect(control).toEqual([]);
    t.m.onApp(a.nodeId, relayed(origin, me.nodeId, { seq: 2 }));
    expect(control).toEqual([origin.nodeId]);
  });

  it('a broadcast whose ttl a relay set to 0 is still passed on: the ttl is not signed, and the replay window stops copies', () => {
    const t = setup();
    t.m.onBroadcast(a.nodeId, broadcast(origin, { ttl: 0 }));
    expect(t.delivered).toHaveLength(1);
    const got = t.out();
    expect([...got.keys()].sort()).toEqual([b.nodeId, c.nodeId].sort());
    expect((got.get(b.nodeId)![0] as MessageOf<'broadcast'>).ttl).toBe(0);
    t.m.onBroadcast(b.nodeId, broadcast(origin, { ttl: 0 }));
    expect(t.out().size).toBe(0);
  });

  it('a broadcast from a node that is not a reachable member is dropped', () => {
    const t = setup();
    t.m.onBroadcast(a.nodeId, broadcast(identity(97)));
    expect(t.delivered).toEqual([]);
    expect(t.out().size).toBe(0);
    expect(t.m.metrics.rejected).toBe(1);
  });

  it('this node’s broadcast goes to every neighbour, signed, with the full hop limit', () => {
    const t = setup();
    t.m.broadcast('t', utf8('to all'));
    const got = t.out();
    expect(got.size).toBe(3);
    const msg = got.get(a.nodeId)![0] as MessageOf<'broadcast'>;
    expect(msg.ttl).toBe(16);
    expect(strictVerifier.verify(me.publicKey, Domain.Broadcast, broadcastPayload(msg), msg.sig)).toBe(true);
  });
});

describe('Messaging: requests', () => {
  it('a reply settles a request only when it comes from the node asked', async () => {
    const t = setup();
    const reply = t.m.request(a.nodeId, 't', utf8('q?'));
    await flush();
    const req = t.out().get(a.nodeId)![0] as MessageOf<'app'>;
    expect(req.kind).toBe(1);
    const answer = (from: NodeIdentity) =>
      t.m.onApp(from.nodeId, {
        type: 'app',
        to: fromHex(me.nodeId),
        from: fromHex(from.nodeId),
        id: req.id,
        kind: 2,
        topic: 't',
        data: utf8(`from ${from.nodeId.slice(0, 4)}`),
        ttl: 16,
      });
    answer(b);
    answer(a);
    expect(new TextDecoder().decode(await reply)).toBe(`from ${a.nodeId.slice(0, 4)}`);
    expect(t.m.metrics.dropped).toBe(1);
  });

  it('an unanswered request times out', async () => {
    const t = setup();
    const reply = t.m.request(a.nodeId, 't', utf8('q?'), 100);
    const settled = reply.catch((e) => e);
    await flush();
    t.scheduler.runFor(99);
    t.scheduler.runFor(1);
    expect(await settled).toMatchObject({ code: 'timeout' });
  });

  it('a request is answered by the topic’s responder, or with an error when there is none', async () => {
    const t = setup();
    t.handlers.respond('t', (data) => utf8(`echo ${new TextDecoder().decode(data)}`));
    t.m.onApp(a.nodeId, requestFromA('t'));
    t.m.onApp(a.nodeId, requestFromA('other'));
    await flush();
    await flush();
    const replies = t.out().get(a.nodeId) as Array<MessageOf<'app'>>;
    expect(replies.map((r) => [r.kind, r.topic, new TextDecoder().decode(r.data)]).sort()).toEqual(
      [
        [2, 't', 'echo x'],
        [3, 'other', 'no responder for other'],
      ].sort(),
    );
  });

  it('an origin has at most 256 requests answered at once (their answers held until its link takes them); more are dropped as throttled', async () => {
    const t = setup({ options: { perOriginRate: 10_000 } });
    const waiting: Array<() => void> = [];
    let calls = 0;
    t.handlers.respond('t', () => {
      calls++;
      return new Promise<Uint8Array>((resolve) => waiting.push(() => resolve(utf8('late'))));
    });
    for (let id = 1; id <= 300; id++) t.m.onApp(a.nodeId, { ...requestFromA('t'), id });
    await flush();
    expect(calls).toBe(256);
    expect(t.m.metrics.throttled).toBe(44);
    // Another origin is not held back by this one.
    t.m.onApp(b.nodeId, { ...requestFromA('t'), from: fromHex(b.nodeId), id: 1 });
    await flush();
    expect(calls).toBe(257);
    for (const done of waiting.splice(0)) done();
    await flush();
    await flush();
    t.m.onApp(a.nodeId, { ...requestFromA('t'), id: 301 });
    await flush();
    expect(calls).toBe(258);
  });

  it('a responder (JavaScript) that returns no bytes is answered with an error, not an unhandled rejection', async () => {
    const t = setup();
    t.handlers.respond('t', (() => undefined) as unknown as () => Uint8Array);
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown) => unhandled.push(e);
    process.on('unhandledRejection', onUnhandled);
    try {
      t.m.onApp(a.nodeId, requestFromA('t'));
      for (let i = 0; i < 4; i++) await flush();
      await new Promise((r) => setTimeout(r, 10));
      const replies = t.out().get(a.nodeId) as Array<MessageOf<'app'>>;
      expect(replies.map((r) => [r.kind, new TextDecoder().decode(r.data)])).toEqual([
        [3, 'the responder returned no bytes'],
      ]);
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('a send over a link that is not congested is on the link when send() returns, before the caller’s turn goes on', () => {
    const t = setup({ options: { highWaterMark: 100 } });
    const link = t.links.get(a.nodeId)!;
    link.bufferedAmount = 100; // at the high-water mark: not congested
    void t.m.send(a.nodeId, 't', utf8('now'));
    expect(link.frames).toHaveLength(1);
    void t.m.request(a.nodeId, 't', utf8('asked'));
    expect(link.frames).toHaveLength(2);
  });

  it('send waits out a congested link, at most sendTimeoutMs, then fails with backpressure', async () => {
    const t = setup({ options: { highWaterMark: 100, sendTimeoutMs: 1_000 } });
    const link = t.links.get(a.nodeId)!;
    link.bufferedAmount = 1_000;
    const sent = t.m.send(a.nodeId, 't', utf8('later')).then(
      () => 'sent',
      (e) => e.code,
    );
    for (let k = 0; k < 10; k++) {
      t.scheduler.runFor(20);
      await flush();
    }
    expect(link.frames).toHaveLength(0);
    link.bufferedAmount = 0;
    t.scheduler.runFor(20);
    await flush();
    expect(await sent).toBe('sent');
    link.bufferedAmount = 1_000;
    const stuck = t.m.send(a.nodeId, 't', utf8('never')).catch((e) => e.code);
    for (let k = 0; k < 60; k++) {
      t.scheduler.runFor(20);
      await flush();
    }
    expect(await stuck).toBe('backpressure');
  });

  it('a congested send goes out on the link’s drain event, with no timer but its deadline; a link closing meanwhile fails it with no-route', async () => {
    const t = setup({ options: { highWaterMark: 100, sendTimeoutMs: 1_000 } });
    const link = t.links.get(a.nodeId)!;
    link.bufferedAmount = 1_000;
    const sent = t.m.send(a.nodeId, 't', utf8('on drain')).then(() => 'sent');
    await flush();
    expect(t.scheduler.pending).toBe(1);
    link.bufferedAmount = 100; // at the high-water mark: enough
    await flush();
    expect(await sent).toBe('sent');
    expect(link.frames).toHaveLength(1);
    expect(t.scheduler.pending).toBe(0);
    link.bufferedAmount = 1_000;
    const lost = t.m.send(a.nodeId, 't', utf8('lost')).catch((e) => e.code);
    await flush();
    link.close('closed by peer');
    expect(await lost).toBe('no-route');
    expect(t.scheduler.pending).toBe(0);
  });
});

describe('Messaging: grafts of held broadcasts', () => {
  it('a neighbour grafting the same large broadcast over and over gets it within a byte budget (1 MiB at once, 256 KiB/s), the rest dropped as throttled', () => {
    const t = setup();
    t.tree.onMessage(a.nodeId, { type: 'prune' }); // a is lazy: it hears of broadcasts by id
    t.m.broadcast('t', new Uint8Array(40 * 1024));
    t.scheduler.runFor(1_000);
    const ihave = t.treeSent.find((f) => f.to === a.nodeId && f.msg.type === 'ihave')?.msg;
    expect(ihave?.type).toBe('ihave');
    const ids = ihave?.type === 'ihave' ? ihave.ids : new Uint8Array(0);
    t.out();
    const before = t.m.metrics.throttled;
    for (let k = 0; k < 100; k++) t.tree.onMessage(a.nodeId, { type: 'graft', k: BroadcastKind.App, ids });
    const sent = t.out().get(a.nodeId)?.length ?? 0;
    // 1 MiB of 40 KiB broadcasts: 25 of the 100 asked for.
    expect(sent).toBe(25);
    expect(t.m.metrics.throttled - before).toBe(75);
    // A second later the budget has refilled by 256 KiB: 6 more.
    t.scheduler.runFor(1_000);
    for (let k = 0; k < 100; k++) t.tree.onMessage(a.nodeId, { type: 'graft', k: BroadcastKind.App, ids });
    expect(t.out().get(a.nodeId)?.length ?? 0).toBe(6);
  });
});
