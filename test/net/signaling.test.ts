// The signaling server on a real loopback socket: protocol, limits and hostile input.
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { Domain, issueMembershipToken, NodeIdentity, signingInput } from '../../lib/identity/mod.ts';
import { SignalingClient } from '../../signaling/client.ts';
import { type RunningSignalingServer, startSignalingServer } from '../../signaling/node.ts';
import { fromBase64Url, joinTranscript, toBase64Url } from '../../signaling/protocol.ts';
import { rawClient, waitFor } from '../support/net.ts';

const servers: RunningSignalingServer[] = [];
const cleanups: Array<() => void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) c();
  for (const s of servers.splice(0)) await s.close();
});

async function server(opts: Parameters<typeof startSignalingServer>[0] = {}) {
  const s = await startSignalingServer({ port: 0, ...opts });
  servers.push(s);
  return s;
}

/** A raw client that joins `room` as `identity` (signing the server's challenge). */
async function joined(url: string, room: string, identity = NodeIdentity.generate(), token?: Uint8Array) {
  const c = await rawClient(url);
  cleanups.push(() => c.ws.terminate());
  const { nonce } = (await c.next('challenge')) as { nonce: string };
  const sig = identity.sign(signingInput(Domain.SignalJoin, joinTranscript(room, fromBase64Url(nonce, 32)!)));
  c.sendJson({
    t: 'join',
    room,
    key: toBase64Url(identity.publicKey),
    sig: toBase64Url(sig),
    ...(token ? { token: toBase64Url(token) } : {}),
  });
  return { c, identity };
}

function client(url: string, room: string, identity = NodeIdentity.generate()) {
  const sc = new SignalingClient({
    url,
    identity,
    room,
    WebSocket: WebSocket as never,
    minBackoffMs: 50,
    maxBackoffMs: 200,
  });
  cleanups.push(() => sc.close());
  return sc;
}

describe('signaling server', () => {
  it('admits by signed challenge, lists and announces peers, forwards signals within a room', async () => {
    const s = await server();
    const a = await joined(s.url, 'alpha');
    const joinedA = await a.c.next('joined');
    expect(joinedA).toEqual({ t: 'joined', id: a.identity.nodeId, peers: [] });
    const b = await joined(s.url, 'alpha');
    expect((await b.c.next('joined')).peers).toEqual([a.identity.nodeId]);
    expect(await a.c.next('peer-joined')).toEqual({ t: 'peer-joined', id: b.identity.nodeId });
    a.c.sendJson({ t: 'signal', to: b.identity.nodeId, data: { sdp: 'x' } });
    expect(await b.c.next('signal')).toEqual({ t: 'signal', from: a.identity.nodeId, data: { sdp: 'x' } });
    b.c.ws.close();
    expect(await a.c.next('peer-left')).toEqual({ t: 'peer-left', id: b.identity.nodeId });
    expect(s.server.stats()).toMatchObject({ rooms: 1, peers: 1 });
  });

  it('rooms are isolated: no listing, no forwarding across them', async () => {
    const s = await server();
    const a = await joined(s.url, 'alpha');
    await a.c.next('joined');
    const b = await joined(s.url, 'beta');
    expect((await b.c.next('joined')).peers).toEqual([]);
    b.c.sendJson({ t: 'signal', to: a.identity.nodeId, data: 1 });
    // The refusal names the peer: a client takes it as gone from its room.
    expect(await b.c.next('error')).toMatchObject({ code: 'unknown-peer', to: a.identity.nodeId });
    expect(a.c.messages.filter((m) => m.t === 'signal')).toEqual([]);
  });

  it('refuses forged join signatures and keys that are not the signer (another node id)', async () => {
    const s = await server();
    const victim = NodeIdentity.generate();
    const mallory = NodeIdentity.generate();
    const c = await rawClient(s.url);
    cleanups.push(() => c.ws.terminate());
    const { nonce } = (await c.next('challenge')) as { nonce: string };
    const sig = mallory.sign(
      signingInput(Domain.SignalJoin, joinTranscript('alpha', fromBase64Url(nonce, 32)!)),
    );
    c.sendJson({ t: 'join', room: 'alpha', key: toBase64Url(victim.publicKey), sig: toBase64Url(sig) });
    expect((await c.next('error')).code).toBe('auth-failed');
    await waitFor(() => c.closed !== undefined, 10_000, 'the server to close the forger');
    // A signature over another nonce (replay) fails too.
    const d = await rawClient(s.url);
    cleanups.push(() => d.ws.terminate());
    await d.next('challenge');
    const stale = victim.sign(
      signingInput(Domain.SignalJoin, joinTranscript('alpha', fromBase64Url(nonce, 32)!)),
    );
    d.sendJson({ t: 'join', room: 'alpha', key: toBase64Url(victim.publicKey), sig: toBase64Url(stale) });
    expect((await d.next('error')).code).toBe('auth-failed');
    expect(s.server.stats().peers).toBe(0);
  });

  it('garbage, binary, unknown and out-of-order frames get errors; the server stays up', async () => {
    const s = await server();
    const bystander = await joined(s.url, 'calm');
    await bystander.c.next('joined');
    const c = await rawClient(s.url);
    cleanups.push(() => c.ws.terminate());
    await c.next('challenge');
    c.ws.send('{not json');
    c.ws.send(Buffer.from([0xff, 0x00]));
    c.sendJson({ t: 'launch-missiles' });
    c.sendJson([1, 2, 3]);
    c.sendJson({ t: 'signal', to: bystander.identity.nodeId, data: 'hi' });
    c.sendJson({ t: 'join', room: 'bad room!', key: 'x', sig: 'y' });
    await waitFor(
      () => c.messages.filter((m) => m.t === 'error').length >= 6,
      10_000,
      () => `six errors (got: ${JSON.stringify(c.messages)})`,
    );
    expect(c.messages.filter((m) => m.t === 'error').map((m) => m.code)).toEqual([
      'bad-message',
      'bad-message',
      'bad-message',
      'bad-message',
      'not-joined',
      'bad-message',
    ]);
    const other = await joined(s.url, 'calm');
    await other.c.next('joined');
    other.c.sendJson({ t: 'signal', to: bystander.identity.nodeId, data: 'still here' });
    expect((await bystander.c.next('signal')).data).toBe('still here');
  });

  it('oversized frames close the connection; floods are rate-limited then closed', async () => {
    const s = await server({ limits: { maxMessageBytes: 1024, messagesPerSecond: 10, burst: 20 } });
    const big = await rawClient(s.url);
    cleanups.push(() => big.ws.terminate());
    big.ws.send('x'.repeat(4096));
    await waitFor(() => big.closed !== undefined, 10_000, 'the oversized frame to close its connection');
    expect(big.closed!.code).toBe(1009);
    const flood = await joined(s.url, 'alpha');
    await flood.c.next('joined');
    for (let i = 0; i < 200; i++) flood.c.sendJson({ t: 'ping' });
    await waitFor(() => flood.c.closed !== undefined, 10_000, 'the flood to close its connection');
    expect(flood.c.messages.some((m) => m.t === 'error' && m.code === 'rate-limited')).toBe(true);
    expect(flood.c.closed!.code).toBe(1008);
    expect(s.server.stats().rejected['rate-limited']).toBeGreaterThan(0);
    const fine = await joined(s.url, 'alpha');
    expect((await fine.c.next('joined')).t).toBe('joined');
  });

  it('a reconnect of the same node replaces its old connection', async () => {
    const s = await server();
    const id = NodeIdentity.generate();
    const first = await joined(s.url, 'alpha', id);
    await first.c.next('joined');
    const second = await joined(s.url, 'alpha', id);
    await second.c.next('joined');
    await waitFor(() => first.c.closed !== undefined, 10_000, 'the replaced connection to close');
    expect(first.c.closed!.code).toBe(4000);
    expect(s.server.stats().peers).toBe(1);
  });

  it('enforces room limits and admission (allow-list, admin-signed tokens)', async () => {
    const admin = NodeIdentity.generate();
    const listed = NodeIdentity.generate();
    const s = await server({
      limits: { maxPeersPerRoom: 2 },
      admission: (room) =>
        room === 'closed'
          ? { mode: 'allow-list', keys: [listed.publicKey] }
          : room === 'tokens'
            ? { mode: 'token', adminKey: admin.publicKey }
            : { mode: 'open' },
    });
    const stranger = await joined(s.url, 'closed');
    expect((await stranger.c.next('error')).code).toBe('not-admitted');
    const ok = await joined(s.url, 'closed', listed);
    expect((await ok.c.next('joined')).t).toBe('joined');
    const member = NodeIdentity.generate();
    const token = issueMembershipToken(admin, 'tokens', member.publicKey);
    const withToken = await joined(s.url, 'tokens', member, token);
    expect((await withToken.c.next('joined')).t).toBe('joined');
    const stolen = await joined(s.url, 'tokens', NodeIdentity.generate(), token);
    expect((await stolen.c.next('error')).code).toBe('not-admitted');
    const wrongRoom = NodeIdentity.generate();
    const tokenForOther = issueMembershipToken(admin, 'elsewhere', wrongRoom.publicKey);
    const misuse = await joined(s.url, 'tokens', wrongRoom, tokenForOther);
    expect((await misuse.c.next('error')).code).toBe('not-admitted');
    for (let i = 0; i < 2; i++) await (await joined(s.url, 'small')).c.next('joined');
    const third = await joined(s.url, 'small');
    expect((await third.c.next('error')).code).toBe('room-full');
  });

  it('serves a health endpoint', async () => {
    const s = await server();
    const res = await fetch(`http://127.0.0.1:${s.port}/health`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ ok: true, rooms: 0, connections: 0 });
    expect((await fetch(`http://127.0.0.1:${s.port}/nope`)).status).toBe(404);
  });
});

describe('signaling client', () => {
  it('joins, sees peers come and go, exchanges signals', async () => {
    const s = await server();
    const a = client(s.url, 'room');
    const b = client(s.url, 'room');
    const got: unknown[] = [];
    b.on('signal', (e) => got.push(e));
    a.start();
    await waitFor(() => a.state === 'joined', 10_000, 'a joined');
    b.start();
    await waitFor(() => a.peers().length === 1 && b.peers().length === 1, 10_000, 'each to list the other');
    const bId = a.peers()[0]!;
    expect(a.send(bId, { hello: 1 })).toBe(true);
    await waitFor(() => got.length === 1, 10_000, 'the signal at b');
    expect(got[0]).toMatchObject({ data: { hello: 1 } });
    b.close();
    await waitFor(() => a.peers().length === 0, 10_000, 'b gone from the peers of a');
    // A peer that left (a dial racing its departure, link upkeep redialling a member that
    // went away) is refused here: no frame, so no `unknown-peer` error event from the server.
    const errors: unknown[] = [];
    a.on('error', (e) => errors.push(e));
    const forwarded = s.server.stats().framesForwarded;
    expect(a.send(bId, { hello: 2 })).toBe(false);
    expect(a.send('f'.repeat(32), { hello: 3 })).toBe(false);
    // The same socket then carries a frame the server answers: had either gone out, its
    // error would have come back first.
    const c = client(s.url, 'room');
    c.start();
    await waitFor(() => a.peers().length === 1, 10_000, 'c listed to a');
    expect(a.send(a.peers()[0]!, { hello: 4 })).toBe(true);
    await waitFor(() => s.server.stats().framesForwarded > forwarded, 10_000, 'the signal to c relayed');
    expect(errors).toEqual([]);
    expect(s.server.stats().rejected['unknown-peer']).toBeUndefined();
  });

  it('reconnects with backoff after a server restart and re-announces itself', async () => {
    const first = await server();
    const port = first.port;
    const a = client(first.url, 'room');
    a.start();
    await waitFor(() => a.state === 'joined', 10_000, 'a joined');
    servers.splice(servers.indexOf(first), 1);
    await first.close();
    await waitFor(() => a.state !== 'joined', 10_000, 'a to notice the server gone');
    const again = await server({ port });
    const b = client(again.url, 'room');
    b.start();
    await waitFor(
      () => a.state === 'joined' && b.peers().length === 1,
      15_000,
      () => `a rejoined (state ${a.state}) and b lists it (peers: ${b.peers().length})`,
    );
    expect(again.server.stats().peers).toBe(2);
  });
});
