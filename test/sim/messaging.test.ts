// Application messaging over a simulated partial mesh: direct, relayed, request/reply, broadcast.
import { describe, expect, it } from 'vitest';
import { MessagingError } from '../../lib/node/mod.ts';
import { SimCluster } from '../../lib/sim/mod.ts';
import { fromHex, utf8 } from '../../lib/util/bytes.ts';
import { encodeMessage } from '../../lib/wire/mod.ts';
import { startPeer } from '../support/sim-peer.ts';
import { converged, runUntil, settle } from './helpers.ts';

async function meshOf(n: number, maxLinks: number) {
  const c = await SimCluster.create({ nodes: n, seed: 4, maxLinks, network: { linkAuth: 'trusted' } });
  runUntil(c, () => converged(c), 60_000);
  await settle(c, 3_000); // neighbour lists are exchanged after link changes
  return c;
}

/** A node pair with no direct link. */
function farPair(c: SimCluster): [number, number] {
  for (const a of c.nodes) {
    const linked = new Set(a.node.links());
    const b = c.nodes.find((x) => x !== a && !linked.has(x.identity.nodeId));
    if (b) return [a.index, b.index];
  }
  throw new Error('fully linked');
}

describe('application messaging in simulation', () => {
  it('sends directly and relays across the mesh; relayed messages are marked and authenticated', async () => {
    const c = await meshOf(30, 4);
    const [a, b] = farPair(c);
    const got: Array<{ from: string; data: string; relayed: boolean }> = [];
    c.nodes[b]!.node.subscribe('chat', (m) =>
      got.push({ from: m.from, data: new TextDecoder().decode(m.data), relayed: m.relayed }),
    );
    const neighbour = c.nodes.find((x) => x.identity.nodeId === c.nodes[b]!.node.links()[0])!;
    await neighbour.node.send(c.nodes[b]!.identity.nodeId, 'chat', utf8('direct'));
    const sending = c.nodes[a]!.node.send(c.nodes[b]!.identity.nodeId, 'chat', utf8('far'));
    await settle(c, 1_000);
    await sending;
    expect(got).toEqual([
      { from: neighbour.identity.nodeId, data: 'direct', relayed: false },
      { from: c.nodes[a]!.identity.nodeId, data: 'far', relayed: true },
    ]);
    expect(c.nodes.reduce((s, x) => s + x.node.metrics().messaging.relayed, 0)).toBeGreaterThan(0);
  });

  it('request/reply works across relays; errors and timeouts are reported', async () => {
    const c = await meshOf(30, 4);
    const [a, b] = farPair(c);
    const server = c.nodes[b]!.node;
    server.respond('echo', (data, from) =>
      utf8(`${new TextDecoder().decode(data)} from ${from.slice(0, 4)}`),
    );
    server.respond('fail', () => {
      throw new Error('nope');
    });
    const client = c.nodes[a]!.node;
    const reply = client.request(server.nodeId, 'echo', utf8('hi'));
    const failed = client.request(server.nodeId, 'fail', utf8('x')).catch((e) => e);
    const missing = client.request(server.nodeId, 'unknown-topic', utf8('x')).catch((e) => e);
    await settle(c, 2_000);
    expect(new TextDecoder().decode(await reply)).toBe(`hi from ${client.nodeId.slice(0, 4)}`);
    expect(await failed).toMatchObject({ code: 'remote-error', message: expect.stringContaining('nope') });
    expect(await missing).toMatchObject({ code: 'remote-error' });
    c.crash(b);
    const lost = client.request(server.nodeId, 'echo', utf8('anyone?'), 3_000).catch((e) => e);
    await settle(c, 4_000);
    expect(await lost).toMatchObject({ code: 'timeout' });
  });

  it('a streamed answer comes part by part over a link, as one part across relays; its errors come from the iteration', async () => {
    const c = await meshOf(30, 4);
    const [a, b] = farPair(c);
    const server = c.nodes[b]!.node;
    server.respondStream('count', function* (data, _from, maxParts) {
      const asked = new TextDecoder().decode(data);
      const n = asked === 'fail' ? 2 : Number(asked);
      for (let i = 0; i < Math.min(n, maxParts); i++) yield utf8(`part ${i}`);
      if (asked === 'fail') throw new Error('disk gone');
    });
    const far = c.nodes[a]!.node;
    const client = c.nodes.find((x) => x.node.links().includes(server.nodeId))!.node;
    const read = async (data: string, maxParts?: number, from = client) => {
      const got: string[] = [];
      try {
        for await (const p of from.requestStream(server.nodeId, 'count', utf8(data), { maxParts }))
          got.push(new TextDecoder().decode(p));
      } catch (e) {
        got.push((e as MessagingError).code);
      }
      return got;
    };
    const forty = read('40', 40);
    const fewer = read('3');
    const failing = read('fail', 8);
    const capped = read('30', 2);
    const bad = read('1', 65);
    const relayed = read('40', 40, far);
    await settle(c, 5_000);
    expect(await forty).toEqual(Array.from({ length: 40 }, (_, i) => `part ${i}`));
    expect(await fewer).toEqual(['part 0', 'part 1', 'part 2']);
    expect(await failing).toEqual(['part 0', 'part 1', 'remote-error']);
    expect(await capped).toEqual(['part 0', 'part 1']);
    expect(await bad).toEqual(['bad-parts']);
    // Relays have no back-pressure for the answerer to wait on: across them, one part.
    expect(await relayed).toEqual(['part 0']);
    // A plain request to a stream responder gets its first part.
    const plain = far.request(server.nodeId, 'count', utf8('9'));
    await settle(c, 1_000);
    expect(new TextDecoder().decode(await plain)).toBe('part 0');
  });

  it('a broadcast reaches every node exactly once', async () => {
    const c = await meshOf(40, 4);
    const seen = new Map<number, number>();
    for (const x of c.nodes) x.node.subscribe('news', () => seen.set(x.index, (seen.get(x.index) ?? 0) + 1));
    c.nodes[7]!.node.broadcast('news', utf8('hello everyone'));
    await settle(c, 2_000);
    const others = c.nodes.filter((x) => x.index !== 7);
    expect(others.every((x) => seen.get(x.index) === 1)).toBe(true);
    expect(seen.has(7)).toBe(false);
  });

  it('limits: payload size, topic names', async () => {
    const c = await meshOf(4, 8);
    const n = c.nodes[0]!.node;
    await expect(
      n.send(c.nodes[1]!.identity.nodeId, 'big', new Uint8Array(64 * 1024)),
    ).rejects.toBeInstanceOf(MessagingError);
    expect(() => n.broadcast('bad topic!', new Uint8Array(1))).toThrow(MessagingError);
  });

  it('a relayed message with a forged origin is dropped', async () => {
    const c = await meshOf(6, 8);
    const target = c.nodes[0]!;
    const victim = c.nodes[1]!;
    const got: string[] = [];
    target.node.subscribe('chat', (m) => got.push(m.from));
    const mallory = startPeer(c.net, c.net.addHost(), 'sim');
    mallory.transport.connect(target.host.url);
    c.runFor(1_000);
    const forged = encodeMessage({
      type: 'app',
      to: fromHex(target.identity.nodeId),
      from: fromHex(victim.identity.nodeId),
      id: 1,
      kind: 0,
      topic: 'chat',
      data: utf8('I am the victim'),
      ttl: 3,
      sig: new Uint8Array(64),
    });
    mallory.links[0]!.send(forged);
    await settle(c, 500);
    expect(got).toEqual([]);
    expect(target.node.metrics().messaging.dropped).toBe(1);
  });
});
