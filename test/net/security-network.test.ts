// Hostile clients of the signaling server and of the WebSocket listener, on real loopback
// sockets. Small configured caps and short timeouts keep counts and times bounded.
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { Domain, NodeIdentity, signingInput } from '../../lib/identity/mod.ts';
import { MeshNode } from '../../lib/node/mesh-node.ts';
import { hashRing, messaging, replicatedState } from '../../lib/node/mod.ts';
import { sourceKey } from '../../lib/util/connection-gate.ts';
import { listenWebSocket, NodeWebSocket } from '../../lib/websocket/node.ts';
import { type WebSocketListener, WebSocketTransport } from '../../lib/websocket/transport.ts';
import { startSignalingServer } from '../../signaling/node.ts';
import {
  fromBase64Url,
  joinTranscript,
  jsonDepthWithin,
  parseClientMessage,
  toBase64Url,
} from '../../signaling/protocol.ts';
import { waitFor } from '../support/net.ts';

const cleanups: Array<() => void | Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function signaling(opts: Parameters<typeof startSignalingServer>[0] = {}) {
  const s = await startSignalingServer({ port: 0, ...opts });
  cleanups.push(() => s.close());
  return s;
}

async function listener(opts: Omit<Parameters<typeof listenWebSocket>[0], 'port'> = {}) {
  const l = await listenWebSocket({ port: 0, ...opts });
  cleanups.push(() => l.close());
  return l;
}

interface Client {
  ws: WebSocket;
  messages: Array<Record<string, unknown>>;
  closed: { code: number } | undefined;
  next(t: string): Promise<Record<string, unknown>>;
}

/** A WebSocket client from `from` (a loopback address) recording JSON frames; rejects if refused. */
async function client(url: string, from = '127.0.0.1'): Promise<Client> {
  const ws = new WebSocket(url, { localAddress: from });
  cleanups.push(() => ws.terminate());
  const c: Client = {
    ws,
    messages: [],
    closed: undefined,
    async next(t) {
      await waitFor(() => c.messages.some((m) => m.t === t), 5_000, `a ${t} frame`);
      return c.messages.splice(
        c.messages.findIndex((m) => m.t === t),
        1,
      )[0]!;
    },
  };
  ws.on('message', (d) => c.messages.push(JSON.parse(d.toString())));
  ws.on('close', (code) => {
    c.closed = { code };
  });
  ws.on('error', () => {});
  await new Promise<void>((ok, fail) => {
    ws.once('open', () => ok());
    ws.once('close', () => fail(new Error('refused')));
  });
  return c;
}

/** Joins `room` with a fresh identity, signing the server's challenge. */
async function joined(url: string, room: string, from = '127.0.0.1') {
  const c = await client(url, from);
  const identity = NodeIdentity.generate();
  const { nonce } = (await c.next('challenge')) as { nonce: string };
  const sig = identity.sign(signingInput(Domain.SignalJoin, joinTranscript(room, fromBase64Url(nonce, 32)!)));
  c.ws.send(JSON.stringify({ t: 'join', room, key: toBase64Url(identity.publicKey), sig: toBase64Url(sig) }));
  await c.next('joined');
  return { c, id: identity.nodeId };
}

interface Tcp {
  socket: Socket;
  closed: boolean;
  received: string;
}

/** A raw TCP connection from `from`, resolved once connected. */
async function tcp(port: number, from = '127.0.0.1'): Promise<Tcp> {
  const socket = connect({ port, host: '127.0.0.1', localAddress: from });
  cleanups.push(() => {
    socket.destroy();
  });
  const t: Tcp = { socket, closed: false, received: '' };
  socket.on('data', (d) => {
    t.received += d.toString('latin1');
  });
  socket.on('close', () => {
    t.closed = true;
  });
  socket.on('error', () => {});
  await new Promise<void>((ok) => {
    socket.once('connect', () => ok());
    socket.once('close', () => ok());
  });
  return t;
}

const portOf = (url: string) => Number(new URL(url).port);
const UPGRADE_HEAD = 'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n';
const UPGRADE = `${UPGRADE_HEAD}Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`;

describe('signaling server under hostile clients', () => {
  it('finding 12: a deeply nested signal neither reaches nor disconnects its target', async () => {
    const s = await signaling();
    const a = await joined(s.url, 'room');
    const b = await joined(s.url, 'room');
    const deep = `${'['.repeat(8_000)}${']'.repeat(8_000)}`;
    a.c.ws.send(`{"t":"signal","to":"${b.id}","data":${deep}}`);
    a.c.ws.send(JSON.stringify({ t: 'signal', to: b.id, data: { sdp: 'after' } }));
    expect((await b.c.next('signal')).data).toEqual({ sdp: 'after' });
    expect(b.c.messages.filter((m) => m.t === 'signal')).toEqual([]);
    expect(b.c.closed).toBeUndefined();
    expect((await a.c.next('error')).code).toBe('bad-message');
    expect(a.c.closed).toBeUndefined();
    expect(s.server.stats()).toMatchObject({ peers: 2, rejected: { 'bad-message': 1 } });
  });

  it('finding 13: idle unjoined connections are closed and one IP cannot fill the server', async () => {
    const quick = await signaling({ limits: { joinTimeoutMs: 300 } });
    const idle = await client(quick.url);
    await idle.next('challenge');
    await waitFor(() => idle.closed !== undefined, 5_000, 'the join timeout');
    expect(idle.closed!.code).toBe(1008);

    const s = await signaling({
      limits: { maxConnections: 50, maxConnectionsPerSource: 20, joinTimeoutMs: 60_000 },
    });
    const one = await Promise.allSettled(Array.from({ length: 30 }, () => client(s.url, '127.0.0.1')));
    await waitFor(() => s.server.stats().connections === 20, 5_000, 'the per-source cap');
    const held = one.filter((r) => r.status === 'fulfilled' && r.value.closed === undefined);
    expect(held.length).toBe(20);
    // Three more sources fill the server with connections that never join...
    for (const from of ['127.0.0.3', '127.0.0.4', '127.0.0.5'])
      await Promise.allSettled(Array.from({ length: 15 }, () => client(s.url, from)));
    expect(s.server.stats().connections).toBe(50);
    // ...and a client from another address still gets in: it displaces the oldest unjoined one.
    const legit = await joined(s.url, 'room', '127.0.0.2');
    expect(legit.c.closed).toBeUndefined();
    expect(s.server.stats()).toMatchObject({ connections: 50, peers: 1 });
  });

  it('finding 13: a room left empty keeps nothing (its admission policy is asked again)', async () => {
    const asked: string[] = [];
    const s = await signaling({
      admission: (room) => {
        asked.push(room);
        return { mode: 'open' };
      },
    });
    for (let i = 0; i < 3; i++) {
      const p = await joined(s.url, 'once');
      p.c.ws.close();
      await waitFor(() => s.server.stats().rooms === 0, 5_000, 'the room freed');
    }
    expect(asked).toEqual(['once', 'once', 'once']);
  });
});

describe('WebSocket listener under hostile clients', () => {
  it('finding 14: a partial upgrade request is closed after the header timeout; one IP’s connections are capped', async () => {
    const l = await listener({ headersTimeoutMs: 300 });
    l.onConnection((ws) => ws.close(1000, 'test'));
    const partial = await tcp(portOf(l.url));
    partial.socket.write(UPGRADE_HEAD);
    await waitFor(() => partial.closed, 5_000, 'the header timeout');

    const capped = await listener({ maxConnectionsPerSource: 50 });
    capped.onConnection(() => {});
    const flood = await Promise.all(Array.from({ length: 60 }, () => tcp(portOf(capped.url))));
    await waitFor(() => flood.filter((t) => t.closed).length >= 10, 5_000, 'the per-source cap');
    const other = new WebSocket(capped.url, { localAddress: '127.0.0.2' });
    cleanups.push(() => other.terminate());
    await new Promise<void>((ok, fail) => {
      other.once('open', () => ok());
      other.once('error', fail);
    });
    expect(flood.filter((t) => !t.closed).length).toBe(50);
  });

  it('finding 14: an upgraded socket that never completes the link handshake is closed', async () => {
    const l: WebSocketListener = await listener();
    const node = new MeshNode({
      state: replicatedState(),
      messaging: messaging(),
      ring: hashRing(),
      identity: NodeIdentity.generate(),
      cluster: 'sec',
      transport: new WebSocketTransport({ listener: l, WebSocket: NodeWebSocket }),
      handshakeTimeoutMs: 300,
    });
    cleanups.push(() => node.close());
    await node.start();
    // Upgrades, then never speaks and never answers the close frame.
    const silent = await tcp(portOf(l.url));
    silent.socket.write(UPGRADE);
    await waitFor(() => silent.received.startsWith('HTTP/1.1 101'), 5_000, 'the upgrade');
    await waitFor(() => silent.closed, 6_000, 'the handshake timeout');
  });

  it('finding 14: at the connection cap, half-open sockets make room for a node that links', async () => {
    // Header timeout far beyond the test: only displacement can make room.
    const l = await listener({ maxConnections: 20, headersTimeoutMs: 60_000 });
    const node = (transport: WebSocketTransport) =>
      new MeshNode({
        state: replicatedState(),
        messaging: messaging(),
        ring: hashRing(),
        identity: NodeIdentity.generate(),
        cluster: 'sec',
        transport,
      });
    const hub = node(new WebSocketTransport({ listener: l, WebSocket: NodeWebSocket }));
    const spoke = node(new WebSocketTransport({ WebSocket: NodeWebSocket }));
    cleanups.push(() => hub.close());
    cleanups.push(() => spoke.close());
    await hub.start();
    await hub.join([]);
    const idle = await Promise.all(Array.from({ length: 20 }, () => tcp(portOf(l.url))));
    expect(idle.every((t) => !t.closed)).toBe(true);
    await spoke.start();
    void spoke.join([l.url]);
    await waitFor(() => hub.links().length === 1, 3_000, 'the link');
    expect(hub.links()).toEqual([spoke.nodeId]);
    expect(idle.filter((t) => t.closed).length).toBeGreaterThan(0);
  });
});

describe('WebSocket dials to a hostile endpoint', () => {
  it('a frame over the channel limit, or a compressed one, is refused by the dialling socket before any of it is kept', async () => {
    const { WebSocketServer } = await import('ws');
    // A server that offers permessage-deflate and sends 2 MiB of zeros (a few KB compressed) at once.
    const hostile = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: true });
    cleanups.push(() => new Promise<void>((r) => hostile.close(() => r())));
    await new Promise((r) => hostile.once('listening', r));
    const closes: number[] = [];
    const extensions: string[] = [];
    hostile.on('connection', (ws, req) => {
      extensions.push(req.headers['sec-websocket-extensions'] ?? '');
      ws.on('close', (code) => closes.push(code));
      ws.send(new Uint8Array(2 << 20));
    });
    const port = (hostile.address() as { port: number }).port;
    const transport = new WebSocketTransport({ WebSocket: NodeWebSocket });
    const node = new MeshNode({ identity: NodeIdentity.generate(), cluster: 'sec', transport });
    cleanups.push(() => node.close());
    await node.start();
    node.on('error', () => {});
    transport.connect(`ws://127.0.0.1:${port}`);
    await waitFor(() => closes.length === 1, 5_000, 'the dialling socket to close');
    // 1009: message too big (ws's maxPayload), and no deflate was asked for.
    expect(closes).toEqual([1009]);
    expect(extensions).toEqual(['']);
  });
});

describe('what the caps and checks count', () => {
  it('one source is an IPv4 address (mapped or not) or an IPv6 /64', () => {
    expect(sourceKey('::ffff:203.0.113.7')).toBe('203.0.113.7');
    expect(sourceKey('2001:db8:1:2:3:4:5:6')).toBe(sourceKey('2001:DB8:1:2::9'));
    expect(sourceKey('[2001:db8:1:2::1]')).toBe('2001:db8:1:2::/64');
    expect(sourceKey('2001:db8:1:3::1')).not.toBe(sourceKey('2001:db8:1:2::1'));
    expect(sourceKey('::1')).toBe('0:0:0:0::/64');
    expect(sourceKey('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
  });

  it('depth is counted outside strings, before parsing', () => {
    expect(jsonDepthWithin('{"a":"[[[[[[\\"{{{{"}', 1)).toBe(true);
    expect(jsonDepthWithin('{"a":[{"b":[]}]}', 3)).toBe(false);
    expect(jsonDepthWithin('{"a":[{"b":[]}]}', 4)).toBe(true);
    const to = 'a'.repeat(32);
    const nested = (n: number) => `{"t":"signal","to":"${to}","data":${'['.repeat(n)}${']'.repeat(n)}}`;
    expect(parseClientMessage(nested(31))).toMatchObject({ t: 'signal', to });
    expect(parseClientMessage(nested(32))).toBeUndefined();
  });
});
