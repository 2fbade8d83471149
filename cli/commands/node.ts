import { NodeIdentity } from '../../lib/identity/node-identity.ts';
import { MeshNode } from '../../lib/node/mesh-node.ts';
import type { Transport } from '../../lib/transport/types.ts';
import { joinThroughSignaling } from '../../lib/webrtc/discovery.ts';
import { createNodeWebRtc } from '../../lib/webrtc/node.ts';
import { listenWebSocket, NodeWebSocket } from '../../lib/websocket/node.ts';
import { type WebSocketListener, WebSocketTransport } from '../../lib/websocket/transport.ts';
import { type Command, intFlag, parseFlags, stringFlag, UsageError } from '../command.ts';
import { identityFromFile } from '../identity-file.ts';
import { onShutdown } from '../shutdown.ts';

const usage = `Usage: weftmesh node --cluster NAME [--signal ws://HOST:PORT] [flags]

Runs a headless node that joins the cluster and prints membership changes until Ctrl-C
(then it leaves gracefully).

  --cluster NAME        cluster to join (required)
  --signal URL          signaling server (required for --transport webrtc)
  --transport T         webrtc (default) or websocket
  --listen HOST:PORT    also accept WebSocket links here (edge nodes dial it)
  --seed ADDR           join through this address (ws://… or webrtc:<id>); repeatable
  --identity FILE       keep the node's key in FILE (created if missing)
  --max-links N         direct links to keep (default 24)
  --ice-server URL      STUN/TURN server for WebRTC; repeatable
  --json                one JSON object per line: {"event":"self",…} first, then
                        {"event":"state","nodeId","state","previous","incarnation"}`;

function hostPort(value: string): { host: string; port: number } {
  const m = value.match(/^(.+):(\d+)$/);
  if (!m || Number(m[2]) > 65535) throw new UsageError('--listen must be HOST:PORT');
  return { host: m[1]!.replace(/^\[(.*)\]$/, '$1'), port: Number(m[2]) };
}

function list(v: unknown): string[] {
  return Array.isArray(v) ? (v as string[]) : typeof v === 'string' ? [v] : [];
}

export const nodeCommand: Command = {
  name: 'node',
  summary: 'run a headless node that joins a cluster and prints membership changes',
  usage,
  async run(argv) {
    const { values } = parseFlags(argv, {
      cluster: { type: 'string' },
      signal: { type: 'string' },
      transport: { type: 'string' },
      listen: { type: 'string' },
      seed: { type: 'string', multiple: true },
      identity: { type: 'string' },
      'max-links': { type: 'string' },
      'ice-server': { type: 'string', multiple: true },
      json: { type: 'boolean' },
    });
    if (values.cluster === undefined) throw new UsageError('--cluster is required');
    const cluster = stringFlag(values.cluster, 'cluster', '');
    if (!/^[A-Za-z0-9._-]{1,64}$/.test(cluster)) throw new UsageError('--cluster: 1..64 of [A-Za-z0-9._-]');
    const kind = stringFlag(values.transport, 'transport', 'webrtc');
    if (kind !== 'webrtc' && kind !== 'websocket')
      throw new UsageError('--transport must be webrtc or websocket');
    const signal = values.signal === undefined ? undefined : stringFlag(values.signal, 'signal', '');
    if (signal !== undefined && !/^wss?:\/\//.test(signal))
      throw new UsageError('--signal must be a ws:// or wss:// URL');
    if (kind === 'webrtc' && !signal) throw new UsageError('--signal is required with --transport webrtc');
    const seeds = list(values.seed);
    const maxLinks = intFlag(values['max-links'], 'max-links', 24, 1, 1024);
    const listen =
      values.listen === undefined ? undefined : hostPort(stringFlag(values.listen, 'listen', ''));
    const identity: NodeIdentity =
      values.identity === undefined
        ? NodeIdentity.generate()
        : await identityFromFile(stringFlag(values.identity, 'identity', ''));
    const json = values.json === true;

    const transports: Transport[] = [];
    let listener: WebSocketListener | undefined;
    if (listen) listener = await listenWebSocket(listen);
    if (listener || kind === 'websocket')
      transports.push(
        new WebSocketTransport({ WebSocket: NodeWebSocket, ...(listener ? { listener } : {}) }),
      );
    let stopSignaling = () => {};
    let signaling: Awaited<ReturnType<typeof createNodeWebRtc>>['signaling'] | undefined;
    if (kind === 'webrtc') {
      const iceServers = list(values['ice-server']).map((urls) => ({ urls }));
      const rtc = await createNodeWebRtc({ signal: signal!, identity, cluster, iceServers });
      transports.push(rtc.transport);
      signaling = rtc.signaling;
      stopSignaling = () => rtc.signaling.close();
    }
    const node = new MeshNode({
      identity,
      cluster,
      transport: transports,
      maxLinks,
      meta: { runtime: 'node' },
    });
    const print = (obj: Record<string, unknown>, human: string) => {
      process.stdout.write(
        json ? `${JSON.stringify(obj)}\n` : `${new Date().toISOString().slice(11, 23)} ${human}\n`,
      );
    };
    node.on('member-state', (e) => {
      print(
        {
          event: 'state',
          nodeId: e.nodeId,
          state: e.state,
          previous: e.previous,
          incarnation: e.incarnation,
        },
        `${e.nodeId.slice(0, 8)}${e.nodeId === node.nodeId ? ' (self)' : ''} ${e.previous ?? 'new'} → ${e.state}`,
      );
    });
    node.on('error', (e) => process.stderr.write(`error in ${e.context}: ${String(e.error)}\n`));
    await node.start();
    print(
      {
        event: 'self',
        nodeId: node.nodeId,
        cluster,
        addresses: transports.flatMap((t) => t.localAddresses(node.nodeId)),
      },
      `node ${node.nodeId} in cluster ${cluster}${listener ? `, listening at ${listener.url}` : ''}`,
    );
    const stopDiscovery = signaling ? joinThroughSignaling(node, signaling) : () => {};
    if (!signaling || seeds.length > 0) void node.join(seeds);
    onShutdown(async () => {
      stopDiscovery();
      await node.leave();
      stopSignaling();
      await listener?.close();
      return 0;
    });
    return new Promise<number>(() => {});
  },
};
