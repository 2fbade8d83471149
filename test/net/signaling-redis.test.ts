// Signaling instances sharing rooms through a real redis-server (issue 17), in-process on
// loopback: one cluster across instances, caps across instances, hostile input, Redis outages.

import { createClient } from 'redis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { launchNode } from '../../cli/launch-node.ts';
import { Domain, NodeIdentity, signingInput } from '../../lib/identity/mod.ts';
import { NodeState } from '../../lib/membership/node-state.ts';
import type { MeshNode } from '../../lib/node/mesh-node.ts';
import { type RunningSignalingServer, startSignalingServer } from '../../signaling/node.ts';
import { fromBase64Url, joinTranscript, toBase64Url } from '../../signaling/protocol.ts';
import { type RawClient, rawClient, waitFor } from '../support/net.ts';
import { killAll, startChild } from '../support/processes.ts';
import { startRedis, stopAllRedis, type TestRedis } from '../support/redis-server.ts';
import { fullyConverged, type RtcNode, rtcNode } from '../support/webrtc-node.ts';

const DENO = new URL('../../node_modules/.bin/deno', import.meta.url).pathname;
const DENO_SERVER = new URL('../deno/programs/signal-server-redis.ts', import.meta.url).pathname;

let redis: TestRedis;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(stopAllRedis);

const servers: RunningSignalingServer[] = [];
const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  await killAll();
  for (const c of cleanups.splice(0).reverse()) await c();
  for (const s of servers.splice(0)) await s.close();
});

let prefixes = 0;
/** `n` instances on one Redis prefix of their own (tests do not see each other's keys). */
async function instances(
  n: number,
  limits: Record<string, number> = {},
  logs: string[] = [],
  sourceHeader?: string,
) {
  const prefix = `t${process.pid}-${prefixes++}`;
  const started: RunningSignalingServer[] = [];
  for (let i = 0; i < n; i++) {
    const s = await startSignalingServer({
      port: 0,
      limits,
      ...(sourceHeader ? { sourceHeader } : {}),
      redis: { url: redis.url, prefix, heartbeatMs: 200, instanceTtlMs: 600, reconcileMs: 2_000 },
      log: (line) => logs.push(`${i}: ${line}`),
    });
    servers.push(s);
    started.push(s);
  }
  await waitFor(
    () => started.every((s) => s.server.stats().backplane?.state === 'up'),
    10_000,
    'instances up',
  );
  return { prefix, list: started };
}

async function health(s: RunningSignalingServer): Promise<Record<string, unknown>> {
  return (await fetch(`http://127.0.0.1:${s.port}/health`)).json() as Promise<Record<string, unknown>>;
}

/** A raw client that joins `room` as a fresh identity; resolves once it has an answer. */
async function joinRaw(
  url: string,
  room: string,
  identity = NodeIdentity.generate(),
  headers?: Record<string, string>,
) {
  const c = await rawClient(url, headers);
  cleanups.push(() => c.ws.terminate());
  const { nonce } = (await c.next('challenge')) as { nonce: string };
  const sig = identity.sign(signingInput(Domain.SignalJoin, joinTranscript(room, fromBase64Url(nonce, 32)!)));
  c.sendJson({ t: 'join', room, key: toBase64Url(identity.publicKey), sig: toBase64Url(sig) });
  await waitFor(() => c.messages.some((m) => m.t === 'joined' || m.t === 'error'), 5_000, 'a join answer');
  const answer = c.messages.find((m) => m.t === 'joined' || m.t === 'error')!;
  return { c, id: identity.nodeId, answer };
}

/** Every frame a client of the signaling protocol may see, and nothing else. */
function wellFormed(c: RawClient): boolean {
  const id = (v: unknown) => typeof v === 'string' && /^[0-9a-f]{32}$/.test(v);
  return c.messages.every((m) =>
    m.t === 'signal'
      ? id(m.from) && m.data !== undefined
      : m.t === 'peer-joined' || m.t === 'peer-left'
        ? id(m.id)
        : ['joined', 'error', 'ping', 'pong', 'challenge'].includes(m.t as string),
  );
}

function allActive(nodes: MeshNode[]): boolean {
  return nodes.every((a) => nodes.every((b) => a === b || a.member(b.nodeId)?.state === NodeState.Active));
}

describe('signaling instances sharing Redis', () => {
  it('WebSocket nodes spread over three instances form one cluster; each instance lists the others’ peers', async () => {
    const { list } = await instances(3);
    const nodes: MeshNode[] = [];
    for (let i = 0; i < 6; i++) {
      const launched = await launchNode({
        identity: NodeIdentity.generate(),
        cluster: 'ws-across',
        signal: list[i % 3]!.url,
        webrtc: false,
        websocket: true,
        listen: { host: '127.0.0.1', port: 0 },
        seeds: [],
      });
      cleanups.push(() => launched.stop());
      nodes.push(launched.node);
    }
    await waitFor(() => allActive(nodes), 30_000, 'one cluster of six');
    for (const s of list) expect(s.server.stats()).toMatchObject({ peers: 2, backplane: { remotePeers: 4 } });
    // A client of any instance is listed every node, wherever it is connected.
    const observer = await joinRaw(list[2]!.url, 'ws-across');
    expect(new Set(observer.answer.peers as string[])).toEqual(new Set(nodes.map((n) => n.nodeId)));
  });

  it('WebRTC nodes spread over three instances form one full mesh: offers cross instances through Redis', async () => {
    const { list } = await instances(3);
    const nodes: RtcNode[] = [];
    for (let i = 0; i < 6; i++) {
      const n = await rtcNode(list[i % 3]!.url, 'rtc-across');
      cleanups.push(() => n.close());
      nodes.push(n);
    }
    await waitFor(
      () => fullyConverged(nodes) && nodes.every((n) => n.node.links().length === 5),
      30_000,
      'full mesh of six',
    );
    for (const s of list) {
      const bp = s.server.stats().backplane!;
      expect(bp.routedOut).toBeGreaterThan(0);
      expect(bp.routedIn).toBeGreaterThan(0);
      expect(bp.dropped).toEqual({});
    }
  });

  it('the Deno server entry shares rooms with a Node instance through the same Redis', async () => {
    const { prefix, list } = await instances(1);
    const deno = startChild(
      DENO,
      ['run', '--allow-net', '--allow-env', '--allow-read', DENO_SERVER, redis.url, prefix],
      { NO_COLOR: '1' },
    );
    await waitFor(
      () => deno.json.some((e) => /connected as instance/.test(String(e.log))),
      30_000,
      'the Deno instance on Redis',
    );
    const url = deno.json.find((e) => typeof e.url === 'string')!.url as string;
    const onDeno = await joinRaw(url, 'mixed');
    const onNode = await joinRaw(list[0]!.url, 'mixed');
    expect(onNode.answer.peers).toEqual([onDeno.id]);
    onNode.c.sendJson({ t: 'signal', to: onDeno.id, data: 'from Node' });
    expect((await onDeno.c.next('signal')).data).toBe('from Node');
    const health = await (await fetch(`http://${url.slice('ws://'.length)}/health`)).json();
    expect(health).toMatchObject({
      ok: true,
      degraded: false,
      peers: 1,
      backplane: { state: 'up', remotePeers: 1 },
    });
  });

  it('room size, room count, connections per source and joins per second are capped across instances', async () => {
    const sized = await instances(3, { maxPeersPerRoom: 3 });
    for (const s of sized.list) expect((await joinRaw(s.url, 'small')).answer.t).toBe('joined');
    const fourth = await joinRaw(sized.list[0]!.url, 'small');
    expect(fourth.answer).toMatchObject({ t: 'error', code: 'room-full' });

    const rooms = await instances(3, { maxRooms: 2 });
    expect((await joinRaw(rooms.list[0]!.url, 'r1')).answer.t).toBe('joined');
    expect((await joinRaw(rooms.list[1]!.url, 'r2')).answer.t).toBe('joined');
    expect((await joinRaw(rooms.list[2]!.url, 'r3')).answer).toMatchObject({
      t: 'error',
      code: 'too-many-rooms',
    });
    expect((await joinRaw(rooms.list[2]!.url, 'r1')).answer.t).toBe('joined');

    // Every client here comes from 127.0.0.1: one source.
    const sources = await instances(3, { maxConnectionsPerSource: 3 });
    for (const s of sources.list) expect((await joinRaw(s.url, 'src')).answer.t).toBe('joined');
    expect((await joinRaw(sources.list[1]!.url, 'src')).answer).toMatchObject({
      t: 'error',
      code: 'source-full',
    });

    // 2 joins a second: 12 joins at once over three instances cannot all be admitted.
    const rate = await instances(3, { joinsPerSecondPerSource: 2 });
    const answers = await Promise.all(
      Array.from({ length: 12 }, (_, i) => joinRaw(rate.list[i % 3]!.url, 'burst').then((j) => j.answer)),
    );
    const refused = answers.filter((a) => a.t === 'error');
    expect(refused.length).toBeGreaterThan(0);
    expect(refused.every((a) => a.code === 'rate-limited')).toBe(true);
  });

  it('a join the room cap refuses on an instance new to the room reads nothing of the room (a hostile source repeating it cost a read of the listing each time)', async () => {
    const sized = await instances(3, { maxPeersPerRoom: 3 });
    const [fresh, one, two] = sized.list as [
      RunningSignalingServer,
      RunningSignalingServer,
      RunningSignalingServer,
    ];
    for (const s of [one, one, two]) expect((await joinRaw(s.url, 'full')).answer.t).toBe('joined');
    const reads = () => fresh.server.stats().backplane!.roomReads;
    const before = reads();
    for (let i = 0; i < 10; i++)
      expect((await joinRaw(fresh.url, 'full')).answer).toMatchObject({ t: 'error', code: 'room-full' });
    // None per refusal (the old order read the room each time: 10). A reconciliation (every 2 s
    // here) reads the rooms the instance holds, at most the one a refused join holds for a moment.
    const refusedReads = reads() - before;
    expect(refusedReads).toBeLessThanOrEqual(1);
    // An admitted join in a room new here reads it once (and a reconciliation at most once more).
    expect((await joinRaw(fresh.url, 'open')).answer.t).toBe('joined');
    expect(reads() - before - refusedReads).toBeGreaterThanOrEqual(1);
    expect(reads() - before - refusedReads).toBeLessThanOrEqual(2);
  });

  it('one key joining from address A, then B, then A…: each move frees its old address’s count; same-key rejoins count against the join rate', async () => {
    const { prefix, list } = await instances(1, { maxConnectionsPerSource: 2 }, [], 'x-src');
    const url = list[0]!.url;
    const from = (ip: string) => ({ 'x-src': ip });
    const [A, B] = ['192.0.2.1', '192.0.2.2'];
    const moving = NodeIdentity.generate();
    for (const ip of [A, B, A, B])
      expect((await joinRaw(url, 'm', moving, from(ip))).answer.t).toBe('joined');
    // Before: each move left its old address counted (A at 2 here, so the next was source-full).
    expect((await joinRaw(url, 'm', NodeIdentity.generate(), from(A))).answer.t).toBe('joined');
    const redisClient = createClient({ url: redis.url });
    await redisClient.connect();
    cleanups.push(() => redisClient.quit());
    const counts = async (ip: string) =>
      Object.values(await redisClient.hGetAll(`${prefix}:src:${ip}`)).reduce((a, v) => a + Number(v), 0);
    expect(await counts(A)).toBe(1);
    expect(await counts(B)).toBe(1);

    // Nodes rejoining with their keys again and again from one address count against its
    // joins per second across instances, as new joins do: two keys, one on each instance,
    // each instance's own limit (3 a second) never reached.
    const rate = await instances(2, { joinsPerSecondPerSource: 3 }, [], 'x-src');
    const keys = [NodeIdentity.generate(), NodeIdentity.generate()];
    const answers: string[] = [];
    for (let i = 0; i < 6; i++) {
      const a = (await joinRaw(rate.list[i % 2]!.url, 'again', keys[i % 2], from(A))).answer;
      answers.push(a.t === 'joined' ? 'joined' : String(a.code));
    }
    expect(answers.filter((a) => a === 'joined').length).toBeLessThanOrEqual(3);
    expect(answers.filter((a) => a !== 'joined').every((a) => a === 'rate-limited')).toBe(true);
  });

  it('hostile input through one instance, or written into Redis, is dropped and counted; the other instances serve on', async () => {
    const { prefix, list } = await instances(3, { messagesPerSecond: 10, burst: 20 });
    const [a, b, c] = list as [RunningSignalingServer, RunningSignalingServer, RunningSignalingServer];
    const onB = await joinRaw(b.url, 'calm');
    const onC = await joinRaw(c.url, 'calm');
    const hostile = await joinRaw(a.url, 'calm');
    await waitFor(
      () => onB.c.messages.filter((m) => m.t === 'peer-joined').length === 2,
      5_000,
      'B sees both',
    );

    // Through instance A: garbage, a too-deep payload, unknown targets, then a flood.
    hostile.c.ws.send('{not json');
    hostile.c.ws.send(Buffer.from([0xff, 0xfe]));
    hostile.c.sendJson({ t: 'signal', to: onB.id, data: JSON.parse(`${'['.repeat(40)}${']'.repeat(40)}`) });
    hostile.c.sendJson({ t: 'signal', to: 'f'.repeat(32), data: 1 });
    hostile.c.ws.send(`{"t":"signal","to":"${onB.id}","data":{"__proto__":{"polluted":true},"sdp":"x"}}`);
    for (let i = 0; i < 500; i++) hostile.c.sendJson({ t: 'signal', to: onC.id, data: i });
    await waitFor(() => hostile.c.closed !== undefined, 10_000, 'the flood closed');
    expect(hostile.c.closed!.code).toBe(1008);

    // Straight into Redis: malformed frames on B's channel and the room's, junk in the room hash.
    const bInstance = b.server.stats().backplane!.instance;
    const evil = createClient({ url: redis.url });
    await evil.connect();
    cleanups.push(() => evil.destroy());
    const toB = `${prefix}:i:${bInstance}`;
    const room = `${prefix}:r:calm`;
    for (const frame of [
      'not json',
      '[1,2,3]',
      `{"t":"s","r":"calm","f":"${'a'.repeat(32)}","o":"${onB.id}","d":1}`, // from no one in the room
      `{"t":"s","r":"calm","f":"${onC.id}","o":"${'b'.repeat(32)}","d":1}`, // to no one here
      `{"t":"s","r":"calm","f":"${onC.id}","o":"${onB.id}","d":${'['.repeat(60)}${']'.repeat(60)}}`,
      `{"t":"s","r":"calm","f":"${onC.id}","o":"${onB.id}","d":"${'x'.repeat(100_000)}"}`,
      '{"t":"zap"}',
    ])
      await evil.publish(toB, frame);
    for (const frame of [
      '{"t":"j","r":"other","n":"' + 'c'.repeat(32) + '","i":"0123456789abcdef"}',
      '{"t":"j","r":"calm","n":"not-an-id","i":"0123456789abcdef"}',
      `{"t":"j","r":"calm","n":"${'d'.repeat(32)}","i":"0123456789abcdef","a":["http://evil"]}`,
      '{',
    ])
      await evil.publish(room, frame);
    await evil.hSet(`${prefix}:room:calm`, { junk: 'x', [`${'e'.repeat(32)}`]: 'nothex addr' });
    // A well-formed join from an instance that does not exist: listed at most until it is reaped.
    const ghost = 'f'.repeat(32);
    await evil.publish(room, `{"t":"j","r":"calm","n":"${ghost}","i":"00000000deadbeef"}`);

    // Each instance reaps it at its next heartbeat after finding its instance is not alive.
    await waitFor(
      () => [onB, onC].every((o) => o.c.messages.some((m) => m.t === 'peer-left' && m.id === ghost)),
      5_000,
      'ghost reaped',
    );
    // The frames on B's own channel need not be handled before the room's (seen under load).
    const reasons = [
      'bad-json',
      'not-an-object',
      'from-unknown-peer',
      'to-unknown-peer',
      'too-deep',
      'too-large',
    ];
    const dropped = () => b.server.stats().backplane!.dropped;
    await waitFor(
      () => reasons.every((r) => (dropped()[r] ?? 0) > 0),
      5_000,
      () => `B dropped each kind (${JSON.stringify(dropped())})`,
    );
    for (const reason of reasons) expect(dropped()[reason], reason).toBeGreaterThan(0);
    expect(
      list.reduce((n, s) => n + (s.server.stats().backplane!.dropped['wrong-room'] ?? 0), 0),
    ).toBeGreaterThan(0);
    // Nothing malformed reached a client; the honest pair across B and C still signals.
    onB.c.messages.splice(0);
    onC.c.sendJson({ t: 'signal', to: onB.id, data: { still: 'here' } });
    expect((await onB.c.next('signal')).data).toEqual({ still: 'here' });
    expect(wellFormed(onB.c) && wellFormed(onC.c)).toBe(true);
    expect(({} as { polluted?: boolean }).polluted).toBeUndefined();
    for (const s of [b, c]) expect(await health(s)).toMatchObject({ ok: true, degraded: false });
    expect((await joinRaw(c.url, 'calm')).answer.peers).not.toContain(ghost);
  });

  it("a signal that reaches an instance before its sender's join waits for the join; one whose sender never joins is dropped and counted", async () => {
    const { prefix, list } = await instances(1);
    const b = list[0]!;
    const onB = await joinRaw(b.url, 'early');
    const redisClient = createClient({ url: redis.url });
    await redisClient.connect();
    cleanups.push(() => redisClient.destroy());
    const toB = `${prefix}:i:${b.server.stats().backplane!.instance}`;
    // Routed signals travel on the instance's channel, joins on the room's: the signal can win.
    const early = '1'.repeat(32);
    const never = '2'.repeat(32);
    await redisClient.publish(toB, `{"t":"s","r":"early","f":"${early}","o":"${onB.id}","d":"offer"}`);
    await redisClient.publish(toB, `{"t":"s","r":"early","f":"${never}","o":"${onB.id}","d":"lost"}`);
    await redisClient.publish(
      `${prefix}:r:early`,
      `{"t":"j","r":"early","n":"${early}","i":"0123456789abcdef"}`,
    );
    const signal = await onB.c.next('signal');
    expect(signal).toMatchObject({ from: early, data: 'offer' });
    // The other one waits at most two heartbeats (200 ms here) for a join that never comes.
    await waitFor(
      () => (b.server.stats().backplane!.dropped['from-unknown-peer'] ?? 0) === 1,
      5_000,
      () => `one from-unknown-peer drop (dropped: ${JSON.stringify(b.server.stats().backplane!.dropped)})`,
    );
    // Nothing from the sender that never joined (next() took the one delivered).
    expect(onB.c.messages.filter((m) => m.t === 'signal')).toEqual([]);
  });

  it('connections to Redis cut while it keeps its data: instances reconnect and resubscribe; pairs across them signal again', async () => {
    const { list } = await instances(2);
    const a = await joinRaw(list[0]!.url, 'cut');
    const b = await joinRaw(list[1]!.url, 'cut');
    await waitFor(() => a.c.messages.some((m) => m.t === 'peer-joined' && m.id === b.id), 5_000, 'a sees b');
    const admin = createClient({ url: redis.url });
    await admin.connect();
    cleanups.push(() => admin.destroy());
    // Every other client: the instances' command and subscription connections.
    for (const type of ['normal', 'pubsub'])
      await admin.sendCommand(['CLIENT', 'KILL', 'TYPE', type, 'SKIPME', 'yes']);
    await waitFor(
      () =>
        list.every(
          (s) =>
            (s.server.stats().backplane?.outages ?? 0) >= 1 && s.server.stats().backplane?.state === 'up',
        ),
      10_000,
      'reconnected',
    );
    // The same two clients, never re-joined: signals cross both ways (both instance channels are back).
    a.c.sendJson({ t: 'signal', to: b.id, data: 'a→b' });
    b.c.sendJson({ t: 'signal', to: a.id, data: 'b→a' });
    expect((await b.c.next('signal')).data).toBe('a→b');
    expect((await a.c.next('signal')).data).toBe('b→a');
    expect((await joinRaw(list[1]!.url, 'cut')).answer.peers).toEqual(expect.arrayContaining([a.id, b.id]));
  });

  it('Redis killed and restarted: instances report it, signal locally meanwhile, then cross-instance joins work again; the formed mesh never noticed', async () => {
    const logs: string[] = [];
    const { list } = await instances(3, {}, logs);
    const nodes: RtcNode[] = [];
    for (let i = 0; i < 4; i++) {
      const n = await rtcNode(list[i % 3]!.url, 'outage');
      cleanups.push(() => n.close());
      nodes.push(n);
    }
    await waitFor(
      () => fullyConverged(nodes) && nodes.every((n) => n.node.links().length === 3),
      30_000,
      'mesh',
    );
    const links = nodes.map((n) => new Set(n.node.links()));
    const noticed: string[] = [];
    for (const n of nodes) n.node.on('member-state', (e) => noticed.push(`${e.nodeId} ${e.state}`));

    await redis.kill();
    await waitFor(
      () => list.every((s) => s.server.stats().backplane?.state === 'down'),
      10_000,
      'outage seen',
    );
    for (const s of list)
      expect(await health(s)).toMatchObject({ ok: true, degraded: true, backplane: { state: 'down' } });
    // Peers of one instance still meet and signal; a peer elsewhere is reported unreachable.
    const x = await joinRaw(list[0]!.url, 'local');
    const y = await joinRaw(list[0]!.url, 'local');
    expect(y.answer.peers).toEqual([x.id]);
    y.c.sendJson({ t: 'signal', to: x.id, data: 'local' });
    expect((await x.c.next('signal')).data).toBe('local');
    const remote = nodes[1]!.node.nodeId; // on instance 1, listed to instance 0's clients before the outage
    x.c.sendJson({ t: 'signal', to: remote, data: 'far' });
    expect((await x.c.next('error')).code).toBe('unknown-peer'); // x's room is not the mesh's
    const inMesh = await joinRaw(list[0]!.url, 'outage');
    expect(inMesh.answer.peers).toContain(remote);
    inMesh.c.sendJson({ t: 'signal', to: remote, data: 'far' });
    expect((await inMesh.c.next('error')).code).toBe('peer-unreachable');

    y.c.ws.close(); // leaves while Redis is away: removed from Redis when it is back
    await waitFor(() => x.c.messages.some((m) => m.t === 'peer-left' && m.id === y.id), 5_000, 'y gone');

    await redis.restart();
    await waitFor(() => list.every((s) => s.server.stats().backplane?.state === 'up'), 15_000, 'recovered');
    expect((await joinRaw(list[1]!.url, 'local')).answer.peers).toEqual([x.id]);
    expect(logs.some((l) => /connection lost/.test(l)) && logs.some((l) => /restored after/.test(l))).toBe(
      true,
    );
    // A newcomer on instance 2 meets the mesh through peers on the other instances.
    const late = await rtcNode(list[2]!.url, 'outage');
    cleanups.push(() => late.close());
    nodes.push(late);
    await waitFor(() => fullyConverged(nodes), 30_000, 'newcomer joined');
    // Nobody was ever suspected, and no link of the formed mesh was dropped.
    expect(noticed.filter((e) => !e.startsWith(late.node.nodeId))).toEqual([]);
    nodes.slice(0, 4).forEach((n, i) => {
      for (const peer of links[i]!) expect(n.node.links()).toContain(peer);
    });
    for (const s of list)
      expect(await health(s)).toMatchObject({ degraded: false, backplane: { outages: 1 } });
  });
});
