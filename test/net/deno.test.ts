// Deno processes in one cluster with Node nodes: an edge node over WebSocket, the signaling
// server on Deno.serve, and a Deno CLI node on WebRTC through @roamhq/wrtc.
import { afterEach, describe, expect, it } from 'vitest';
import { NodeIdentity } from '../../lib/identity/mod.ts';
import { NodeState } from '../../lib/membership/node-state.ts';
import { hashRing, MeshNode, messaging, replicatedState } from '../../lib/node/mod.ts';
import { listenWebSocket, NodeWebSocket } from '../../lib/websocket/node.ts';
import { type WebSocketListener, WebSocketTransport } from '../../lib/websocket/transport.ts';
import { type RunningSignalingServer, startSignalingServer } from '../../signaling/node.ts';
import { waitFor } from '../support/net.ts';
import { type Child, exited, killAll, startChild } from '../support/processes.ts';
import { fullyConverged, type RtcNode, rtcNode } from '../support/webrtc-node.ts';

const DENO = new URL('../../node_modules/.bin/deno', import.meta.url).pathname;
const program = (name: string) => new URL(`../deno/programs/${name}`, import.meta.url).pathname;

const nodes: MeshNode[] = [];
const rtc: RtcNode[] = [];
const listeners: WebSocketListener[] = [];
let server: RunningSignalingServer | undefined;
afterEach(async () => {
  await killAll();
  for (const n of nodes.splice(0)) n.close();
  for (const n of rtc.splice(0)) n.close();
  for (const l of listeners.splice(0)) await l.close();
  await server?.close();
  server = undefined;
});

function deno(args: string[]): Child {
  return startChild(DENO, ['run', '--allow-net', '--allow-env', '--allow-read', ...args], { NO_COLOR: '1' });
}

function selfId(c: Child): string | undefined {
  return c.json.find((e) => e.event === 'self')?.nodeId as string | undefined;
}

describe('Deno in the cluster', () => {
  it('a Deno edge node dials a Node node over WebSocket and joins; its goodbye is seen', async () => {
    const listener = await listenWebSocket({ port: 0 });
    listeners.push(listener);
    const hub = new MeshNode({
      state: replicatedState(),
      messaging: messaging(),
      ring: hashRing(),
      identity: NodeIdentity.generate(),
      cluster: 'edge',
      transport: new WebSocketTransport({ listener, WebSocket: NodeWebSocket }),
    });
    const spoke = new MeshNode({
      state: replicatedState(),
      messaging: messaging(),
      ring: hashRing(),
      identity: NodeIdentity.generate(),
      cluster: 'edge',
      transport: new WebSocketTransport({ WebSocket: NodeWebSocket }),
    });
    nodes.push(hub, spoke);
    await hub.start();
    await hub.join([]);
    await spoke.start();
    await spoke.join([listener.url]);
    const edge = deno([program('edge-node.ts'), listener.url, 'edge']);
    await waitFor(() => selfId(edge) !== undefined, 30_000, 'deno started');
    const edgeId = selfId(edge)!;
    await waitFor(
      () =>
        hub.member(edgeId)?.state === NodeState.Active && spoke.member(edgeId)?.state === NodeState.Active,
      20_000,
      'edge seen',
    );
    await waitFor(
      () => edge.json.some((e) => e.nodeId === spoke.nodeId && e.state === 'Active'),
      10_000,
      'edge sees the spoke',
    );
    expect(hub.member(edgeId)?.meta.runtime).toBe('deno');
    edge.proc.kill('SIGTERM');
    await waitFor(() => hub.member(edgeId)?.state === NodeState.Left, 10_000, 'edge left');
    expect(await exited(edge)).toBe(0);
  });

  it('the signaling server runs on Deno.serve; Node nodes meet through it over WebRTC', async () => {
    const sig = deno([program('signal-server.ts')]);
    await waitFor(() => sig.json.some((e) => typeof e.url === 'string'), 30_000, 'deno signaling up');
    const url = sig.json.find((e) => typeof e.url === 'string')!.url as string;
    for (let i = 0; i < 3; i++) rtc.push(await rtcNode(url, 'via-deno'));
    await waitFor(() => fullyConverged(rtc), 20_000, 'converged through the Deno server');
    const health = await fetch(`http://${url.slice('ws://'.length)}/health`);
    expect(await health.json()).toMatchObject({ ok: true, rooms: 1, peers: 3 });
  });

  it('a Deno CLI node joins over WebRTC through @roamhq/wrtc', async () => {
    server = await startSignalingServer({ port: 0 });
    for (let i = 0; i < 2; i++) rtc.push(await rtcNode(server.url, 'deno-rtc'));
    const d = startChild(DENO, ['run', '-A', program('webrtc-node.ts'), server.url, 'deno-rtc'], {
      NO_COLOR: '1',
    });
    await waitFor(() => selfId(d) !== undefined, 30_000, 'deno started');
    const id = selfId(d)!;
    await waitFor(
      () => rtc.every((n) => n.node.member(id)?.state === NodeState.Active),
      20_000,
      'deno node seen',
    );
    await waitFor(
      () => rtc.every((n) => d.json.some((e) => e.nodeId === n.node.nodeId && e.state === 'Active')),
      10_000,
      'deno sees all',
    );
    d.proc.kill('SIGKILL');
    await waitFor(
      () => rtc.every((n) => n.node.member(id)?.state === NodeState.Unreachable),
      20_000,
      'killed deno node detected',
    );
  });
});
