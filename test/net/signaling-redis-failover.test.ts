// Signaling instances as separate processes sharing a real redis-server (issue 17): one is
// killed with SIGKILL; its clients fail over, the mesh stays whole, its ghosts expire.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Domain, NodeIdentity, signingInput } from '../../lib/identity/mod.ts';
import { fromBase64Url, joinTranscript, toBase64Url } from '../../signaling/protocol.ts';
import { rawClient, waitFor } from '../support/net.ts';
import { type Child, cli, killAll } from '../support/processes.ts';
import { freePort, startRedis, stopAllRedis, type TestRedis } from '../support/redis-server.ts';
import { fullyConverged, type RtcNode, rtcNode } from '../support/webrtc-node.ts';

let redis: TestRedis;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(stopAllRedis);

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  await killAll();
});

/** `n` `weftmesh signal --redis` processes, on ports chosen here; a dead one's peers expire within 0.9 + 0.3 s. */
async function instances(
  n: number,
  prefix: string,
): Promise<{ urls: string[]; children: Child[]; up: Promise<void> }> {
  const ports = await Promise.all(Array.from({ length: n }, freePort));
  const args = ['--redis', redis.url, '--redis-prefix', prefix, '--instance-ttl', '900'];
  const children = ports.map((port) => cli(['signal', '--port', String(port), ...args]));
  const urls = ports.map((port) => `ws://127.0.0.1:${port}`);
  const isUp = async (port: number) => {
    try {
      const health = await fetch(`http://127.0.0.1:${port}/health`).then((r) => r.json());
      return (health as { backplane?: { state?: string } }).backplane?.state === 'up';
    } catch {
      return false; // not listening yet
    }
  };
  const up = (async () => {
    const end = Date.now() + 20_000;
    while (!(await Promise.all(ports.map(isUp))).every(Boolean)) {
      if (Date.now() > end) throw new Error('instances did not start and connect to Redis');
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  return { urls, children, up };
}

async function joinRaw(url: string, room: string) {
  const identity = NodeIdentity.generate();
  const c = await rawClient(url);
  cleanups.push(() => c.ws.terminate());
  const { nonce } = (await c.next('challenge')) as { nonce: string };
  const sig = identity.sign(signingInput(Domain.SignalJoin, joinTranscript(room, fromBase64Url(nonce, 32)!)));
  c.sendJson({ t: 'join', room, key: toBase64Url(identity.publicKey), sig: toBase64Url(sig) });
  return { c, id: identity.nodeId, joined: await c.next('joined') };
}

describe('a signaling instance killed with SIGKILL', () => {
  it('its clients fail over to the next instance, the mesh stays whole, its ghost peers expire from listings', async () => {
    const { urls, children, up } = await instances(3, 'failover');
    await up;
    const nodes: RtcNode[] = [];
    for (let i = 0; i < 6; i++) {
      // Node i prefers instance i % 3, then the next ones.
      const n = await rtcNode(
        [0, 1, 2].map((k) => urls[(i + k) % 3]!),
        'fo',
      );
      cleanups.push(() => n.close());
      nodes.push(n);
    }
    // A client that will not come back: it stays registered by the instance we kill.
    const ghost = await joinRaw(urls[0]!, 'fo');
    const observers = [await joinRaw(urls[1]!, 'fo'), await joinRaw(urls[2]!, 'fo')];
    await waitFor(
      () => fullyConverged(nodes) && nodes.every((n) => n.node.links().length === 5),
      30_000,
      'full mesh',
    );
    const links = nodes.map((n) => new Set(n.node.links()));
    const noticed: string[] = [];
    for (const n of nodes) n.node.on('member-state', (e) => noticed.push(`${e.nodeId} ${e.state}`));

    children[0]!.proc.kill('SIGKILL');
    const movers = nodes.filter((_, i) => i % 3 === 0);
    await waitFor(
      () => movers.every((n) => n.signaling.state === 'joined' && n.signaling.url === urls[1]),
      10_000,
      'clients of the killed instance joined the next one',
    );
    // Within instanceTtlMs + heartbeatMs (1.2 s here) of the kill, on every instance.
    await waitFor(
      () => observers.every((o) => o.c.messages.some((m) => m.t === 'peer-left' && m.id === ghost.id)),
      5_000,
      'the ghost expired',
    );
    const listing = (await joinRaw(urls[2]!, 'fo')).joined.peers as string[];
    expect(listing).not.toContain(ghost.id);
    expect(new Set(listing)).toEqual(
      new Set([...nodes.map((n) => n.node.nodeId), ...observers.map((o) => o.id)]),
    );
    // The mesh never depended on the instance: no suspicion, no link lost.
    expect(noticed).toEqual([]);
    nodes.forEach((n, i) => {
      expect(new Set(n.node.links())).toEqual(links[i]);
    });
    // After failing over, signaling works again for them: a new link is negotiated through it.
    const late = await rtcNode([urls[2]!], 'fo');
    cleanups.push(() => late.close());
    nodes.push(late);
    await waitFor(() => fullyConverged(nodes), 20_000, 'a newcomer joined after the failover');
  });

  it('weftmesh node takes --signal repeatedly: nodes whose first server is down join through the next', async () => {
    // Started together: the nodes' clients retry until the instances listen.
    const { urls, up } = await instances(2, 'cli');
    const dead = `ws://127.0.0.1:${await freePort()}`;
    const args = [
      'node',
      '--cluster',
      'cli-fo',
      '--transport',
      'websocket',
      '--listen',
      '127.0.0.1:0',
      '--json',
    ];
    const a = cli([...args, '--signal', dead, '--signal', urls[0]!]);
    const b = cli([...args, '--signal', dead, '--signal', urls[1]!]);
    await up;
    const ids = () => [a, b].map((p) => p.json.find((e) => e.event === 'self')?.nodeId);
    await waitFor(() => ids().every((id) => id !== undefined), 20_000, 'nodes started');
    const [idA, idB] = ids() as [string, string];
    const sees = (p: Child, id: string) =>
      p.json.some((e) => e.event === 'state' && e.nodeId === id && e.state === 'Active');
    await waitFor(() => sees(a, idB) && sees(b, idA), 30_000, 'the two nodes met across instances');
  });
});
