// WebSocket nodes find each other through the signaling room (issue 11, item 5), and a node
// that can reach neither signaling nor a seed says so instead of sitting in Joining.
import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Domain, NodeIdentity, signingInput } from '../../lib/identity/mod.ts';
import { MeshNode } from '../../lib/node/mesh-node.ts';
import { hashRing, messaging, replicatedState } from '../../lib/node/mod.ts';
import { joinThroughSignaling } from '../../lib/webrtc/mod.ts';
import { listenWebSocket, NodeWebSocket } from '../../lib/websocket/node.ts';
import { WebSocketTransport } from '../../lib/websocket/transport.ts';
import { SignalingClient, type WebSocketConstructor } from '../../signaling/client.ts';
import { type RunningSignalingServer, startSignalingServer } from '../../signaling/node.ts';
import { fromBase64Url, joinTranscript, toBase64Url } from '../../signaling/protocol.ts';
import { rawClient, waitFor } from '../support/net.ts';
import { type Child, cli, killAll } from '../support/processes.ts';

const cleanups: Array<() => Promise<void> | void> = [];
let server: RunningSignalingServer | undefined;
afterEach(async () => {
  await killAll();
  for (const c of cleanups.splice(0).reverse()) await c();
  await server?.close();
  server = undefined;
});

async function signaling(): Promise<RunningSignalingServer> {
  server = await startSignalingServer({ port: 0 });
  return server;
}

/** A loopback port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((ok) => s.listen(0, '127.0.0.1', ok));
  const { port } = s.address() as { port: number };
  await new Promise<void>((ok) => s.close(() => ok()));
  return port;
}

/** Latest state each node id is in, as a `weftmesh node --json` process reported it. */
function states(p: Child): Map<string, string> {
  const out = new Map<string, string>();
  for (const e of p.json) if (e.event === 'state') out.set(e.nodeId as string, e.state as string);
  return out;
}

/** Joins `room` as a raw client sending `addrs`; returns the client and the first frame answering the join. */
async function joinWith(url: string, room: string, addrs: unknown) {
  const identity = NodeIdentity.generate();
  const c = await rawClient(url);
  cleanups.push(() => c.ws.terminate());
  const { nonce } = (await c.next('challenge')) as { nonce: string };
  const sig = identity.sign(signingInput(Domain.SignalJoin, joinTranscript(room, fromBase64Url(nonce, 32)!)));
  c.sendJson({ t: 'join', room, key: toBase64Url(identity.publicKey), sig: toBase64Url(sig), addrs });
  await waitFor(() => c.messages.some((m) => m.t === 'joined' || m.t === 'error'), 5_000, 'an answer');
  return { c, identity, answer: c.messages.find((m) => m.t === 'joined' || m.t === 'error')! };
}

describe('WebSocket nodes discover each other through signaling', () => {
  it('four `node --transport websocket --signal URL --listen` processes on one signaling server form one cluster', async () => {
    const s = await signaling();
    const args = ['node', '--cluster', 'wsd', '--transport', 'websocket', '--signal', s.url];
    const nodes = Array.from({ length: 4 }, () => cli([...args, '--listen', '127.0.0.1:0', '--json']));
    await waitFor(() => nodes.every((p) => p.json.some((e) => e.event === 'self')), 15_000, 'nodes up');
    const ids = nodes.map((p) => p.json.find((e) => e.event === 'self')!.nodeId as string);
    const allActive = (p: Child) => {
      const seen = states(p);
      return ids.every((id) => seen.get(id) === 'Active');
    };
    await waitFor(() => nodes.every(allActive), 30_000, 'every node sees all four Active');
    expect(s.server.stats().peers).toBe(4);
  });

  it('a dial-only WebSocket node (an edge worker, a browser) joins the listeners the room lists', async () => {
    const s = await signaling();
    const started: MeshNode[] = [];
    const start = async (listen: boolean) => {
      const identity = NodeIdentity.generate();
      const listener = listen ? await listenWebSocket({ port: 0 }) : undefined;
      if (listener) cleanups.push(() => listener.close());
      const node = new MeshNode({
        state: replicatedState(),
        messaging: messaging(),
        ring: hashRing(),
        identity,
        cluster: 'edge',
        transport: new WebSocketTransport({ WebSocket: NodeWebSocket, ...(listener ? { listener } : {}) }),
      });
      await node.start();
      cleanups.push(() => node.close());
      const room = new SignalingClient({
        url: s.url,
        identity,
        room: 'edge',
        WebSocket: NodeWebSocket as unknown as WebSocketConstructor,
        ...(listener ? { advertise: [listener.url] } : {}),
      });
      cleanups.push(() => room.close());
      joinThroughSignaling(node, room);
      room.start();
      started.push(node);
      return node;
    };
    const a = await start(true);
    await waitFor(() => a.state === 'Active', 10_000, 'a bootstraps');
    await start(true);
    const edge = await start(false);
    const everyoneSeesAll = () =>
      started.every((n) => started.every((m) => n.member(m.nodeId)?.state === 'Active'));
    await waitFor(everyoneSeesAll, 20_000, 'the three nodes see each other Active');
    expect(edge.links().length).toBeGreaterThan(0);
  });

  it('the room lists advertised ws/wss addresses, and refuses joins advertising anything else', async () => {
    const s = await signaling();
    const first = await joinWith(s.url, 'addrs', ['ws://127.0.0.1:9000', 'wss://edge.example.com/mesh']);
    expect(first.answer).toMatchObject({ t: 'joined', peers: [] });
    const second = await joinWith(s.url, 'addrs', undefined);
    expect(second.answer).toMatchObject({
      t: 'joined',
      peers: [first.identity.nodeId],
      addrs: { [first.identity.nodeId]: ['ws://127.0.0.1:9000', 'wss://edge.example.com/mesh'] },
    });
    expect(await first.c.next('peer-joined')).toEqual({ t: 'peer-joined', id: second.identity.nodeId });
    const third = await joinWith(s.url, 'addrs', ['ws://127.0.0.1:9001']);
    expect(await first.c.next('peer-joined')).toEqual({
      t: 'peer-joined',
      id: third.identity.nodeId,
      addrs: ['ws://127.0.0.1:9001'],
    });
    for (const bad of [
      ['http://127.0.0.1:9000'],
      ['webrtc:0123456789abcdef0123456789abcdef'],
      ['ws://bad host'],
      [`ws://${'a'.repeat(300)}`],
      ['ws://a', 'ws://b', 'ws://c', 'ws://d', 'ws://e'],
      'ws://127.0.0.1:9000',
      [42],
    ]) {
      const refused = await joinWith(s.url, 'addrs', bad);
      expect(refused.answer, JSON.stringify(bad)).toMatchObject({ t: 'error', code: 'bad-message' });
    }
    expect(s.server.stats().peers).toBe(3);
  });
});

describe('a node that can reach neither signaling nor a seed says so', () => {
  it('`weftmesh node` prints a stranded line naming the unreachable seed and the signaling server', async () => {
    const port = await closedPort();
    const seed = `ws://127.0.0.1:${port}`;
    const base = ['node', '--cluster', 'alone', '--transport', 'websocket'];
    const bySeed = cli([...base, '--seed', seed, '--json']);
    const bySignal = cli([...base, '--signal', seed]);
    await waitFor(
      () =>
        bySeed.json.some((e) => e.event === 'stranded') &&
        bySignal.lines.some((l) => /still Joining/.test(l)),
      25_000,
      'stranded lines',
    );
    const event = bySeed.json.find((e) => e.event === 'stranded')!;
    expect(event.reason).toContain(seed);
    expect(event.waitedMs).toBeGreaterThanOrEqual(10_000);
    const line = bySignal.lines.find((l) => /still Joining/.test(l))!;
    expect(line).toContain(`signaling server ${seed}`);
    expect(bySignal.stderr.join('')).toContain(`cannot reach ${seed}`);
  });
});
