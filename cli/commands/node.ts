import { NodeIdentity } from '../../lib/identity/node-identity.ts';
import type { MeshNode } from '../../lib/node/mesh-node.ts';
import type { SignalingClient } from '../../signaling/client.ts';
import { advertise, advertisementsFrom } from '../advertise.ts';
import { type Command, clusterFlag, intFlag, parseFlags, stringFlag, UsageError } from '../command.ts';
import { identityFromFile } from '../identity-file.ts';
import { launchNode } from '../launch-node.ts';
import { onShutdown } from '../shutdown.ts';

const usage = `Usage: weftmesh node --cluster NAME [--signal ws://HOST:PORT]… [flags]

Runs a headless node that joins the cluster, advertises the processes and services given,
and prints membership changes and other nodes' process/service updates until Ctrl-C (then
it leaves gracefully). It joins through the signaling room (whose peers list their
WebSocket listeners) and through --seed addresses; with neither, it starts a new cluster
at --listen for others to join. Still Joining after 10 s, it prints why.

  --cluster NAME        cluster to join (required)
  --signal URL          signaling server: discovery through its room, and WebRTC
                        signaling (required for --transport webrtc); repeatable:
                        instances sharing rooms through Redis, tried in order, the
                        next one taking over when one fails
  --transport T         webrtc (default) or websocket
  --listen HOST:PORT    also accept WebSocket links here (edge nodes dial it; the
                        signaling room lists it)
  --seed ADDR           join through this address (ws://… or webrtc:<id>); repeatable
  --identity FILE       keep the node's key in FILE (created if missing)
  --max-links N         direct links to keep (default 24)
  --ice-server URL      STUN/TURN server for WebRTC; repeatable
  --process SPEC        advertise a process: TYPE[:CAP,CAP…][@LOAD]; repeatable
  --service SPEC        advertise a service: NAME=ENDPOINT[#Healthy|Degraded|Unhealthy]; repeatable
  --advertise FILE      advertise what FILE lists (JSON: {"processes":[{"agentType",
                        "capabilities","status","load","pid"}],"services":[{"name",
                        "endpoint","metadata","health"}]})
  --json                one JSON object per line: {"event":"self",…} first, then
                        {"event":"state","nodeId","state","previous","incarnation"} and
                        {"event":"entry","table","origin","key","deleted"} and
                        {"event":"link","nodeId","up","transport"|"reason"} and
                        {"event":"stranded","waitedMs","reason","seeds","signaling"}`;

/** The replicated tables by the names users know them by (the wire uses one letter). */
const TABLES = { p: 'processes', s: 'services' } as const;

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
  usage,
  async run(argv) {
    const { values } = parseFlags(argv, {
      cluster: { type: 'string' },
      signal: { type: 'string', multiple: true },
      transport: { type: 'string' },
      listen: { type: 'string' },
      seed: { type: 'string', multiple: true },
      identity: { type: 'string' },
      'max-links': { type: 'string' },
      'ice-server': { type: 'string', multiple: true },
      process: { type: 'string', multiple: true },
      service: { type: 'string', multiple: true },
      advertise: { type: 'string' },
      json: { type: 'boolean' },
    });
    if (values.cluster === undefined) throw new UsageError('--cluster is required');
    const cluster = clusterFlag(values.cluster, '');
    const kind = stringFlag(values.transport, 'transport', 'webrtc');
    if (kind !== 'webrtc' && kind !== 'websocket')
      throw new UsageError('--transport must be webrtc or websocket');
    const signals = list(values.signal);
    if (signals.some((u) => !/^wss?:\/\//.test(u)))
      throw new UsageError('--signal must be a ws:// or wss:// URL');
    const signal = signals.length > 0 ? signals : undefined;
    if (kind === 'webrtc' && !signal) throw new UsageError('--signal is required with --transport webrtc');
    const seeds = list(values.seed);
    const maxLinks = intFlag(values['max-links'], 'max-links', 24, 1, 1024);
    const listen =
      values.listen === undefined ? undefined : hostPort(stringFlag(values.listen, 'listen', ''));
    if (!signal && seeds.length === 0 && !listen)
      throw new UsageError(
        'nothing to join through: give --signal URL or --seed ADDR (or --listen HOST:PORT to start a cluster others join)',
      );
    const identity: NodeIdentity =
      values.identity === undefined
        ? NodeIdentity.generate()
        : await identityFromFile(stringFlag(values.identity, 'identity', ''));
    const json = values.json === true;

    const ads = await advertisementsFrom(
      list(values.process),
      list(values.service),
      values.advertise === undefined ? undefined : stringFlag(values.advertise, 'advertise', ''),
    );
    const print = (obj: Record<string, unknown>, human: string) => {
      process.stdout.write(
        json ? `${JSON.stringify(obj)}\n` : `${new Date().toISOString().slice(11, 23)} ${human}\n`,
      );
    };
    const watch = (node: MeshNode, signaling: SignalingClient | undefined) => {
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
      node.on('link-up', (e) => {
        print(
          { event: 'link', nodeId: e.nodeId, up: true, transport: e.transport },
          `link to ${e.nodeId.slice(0, 8)} up (${e.transport})`,
        );
      });
      node.on('link-down', (e) => {
        print(
          { event: 'link', nodeId: e.nodeId, up: false, reason: e.reason },
          // The reason may come from the peer: quoted, so it cannot inject terminal controls.
          `link to ${e.nodeId.slice(0, 8)} down: ${JSON.stringify(e.reason)}`,
        );
      });
      node.on('state-changed', (e) => {
        if (e.origin === node.nodeId) return;
        print(
          { event: 'entry', table: TABLES[e.table], origin: e.origin, key: e.key, deleted: e.deleted },
          // The key comes from another node: quoted, so it cannot inject terminal controls.
          `${TABLES[e.table]} ${e.origin.slice(0, 8)} ${JSON.stringify(e.key)} ${e.deleted ? 'removed' : 'updated'}`,
        );
      });
      node.on('error', (e) => process.stderr.write(`error in ${e.context}: ${String(e.error)}\n`));
      node.on('stranded', (e) => {
        const room = signaling && { url: signaling.url, state: signaling.state };
        print(
          { event: 'stranded', waitedMs: e.waitedMs, reason: e.reason, seeds: e.seeds, signaling: room },
          `still Joining after ${Math.round(e.waitedMs / 1000)} s: ${e.reason}` +
            (room ? `; signaling server ${room.url} is ${room.state}` : ''),
        );
      });
      // The message may come from the server: no terminal controls.
      signaling?.on('error', (e) =>
        process.stderr.write(`signaling server ${signaling.url}: ${e.message.replace(/\p{Cc}/gu, '?')}\n`),
      );
    };
    const launched = await launchNode({
      identity,
      cluster,
      ...(signal ? { signal } : {}),
      webrtc: kind === 'webrtc',
      ...(listen ? { listen } : {}),
      websocket: kind === 'websocket',
      seeds,
      iceServers: list(values['ice-server']).map((urls) => ({ urls })),
      node: { maxLinks },
      created: watch,
    });
    const { node } = launched;
    const pids = advertise(node, ads);
    print(
      {
        event: 'self',
        nodeId: node.nodeId,
        cluster,
        addresses: launched.addresses,
        processes: pids,
        services: ads.services.map((x) => x.name),
      },
      `node ${node.nodeId} in cluster ${cluster}${launched.listener ? `, listening at ${launched.listener.url}` : ''}` +
        (pids.length + ads.services.length > 0
          ? `; advertising ${pids.length} process(es), ${ads.services.length} service(s)`
          : ''),
    );
    onShutdown(async () => {
      await launched.stop();
      return 0;
    });
    return new Promise<number>(() => {});
  },
};
