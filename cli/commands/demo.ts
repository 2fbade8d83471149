import { existsSync } from 'node:fs';
import { NodeIdentity } from '../../lib/identity/node-identity.ts';
import type { MeshNode } from '../../lib/node/mesh-node.ts';
import { startSignalingServer } from '../../signaling/node.ts';
import { type Advertisements, advertise } from '../advertise.ts';
import { type Command, clusterFlag, intFlag, parseFlags, stringFlag } from '../command.ts';
import { type LaunchedNode, launchNode } from '../launch-node.ts';
import { onShutdown } from '../shutdown.ts';

const usage = `Usage: weftmesh demo [--port 8787] [--host 127.0.0.1] [--nodes 3] [--cluster demo]

Starts the signaling server, which also serves the browser demo, and a few local Node.js
nodes that join the cluster and advertise sample processes and services. Open the printed
URL in several browser tabs: every tab becomes a node. Ctrl-C stops everything (the nodes
leave gracefully, then the server closes).

  --port N        HTTP and signaling port (default 8787; 0 picks a free one)
  --host H        interface to listen on (default 127.0.0.1)
  --nodes N       local Node.js nodes (0..16, default 3)
  --cluster NAME  cluster (and signaling room) name (default demo)
  --no-webrtc     Node nodes link over WebSocket only (browsers still use WebRTC among
                  themselves)`;

/** Where the built browser demo lives (dist/browser-demo, next to dist/cli). */
const DEMO_DIR = new URL('../../browser-demo/', import.meta.url).pathname;

const REGIONS = ['eu', 'us', 'ap'] as const;

/** Node i's sample workload: an indexer, two workers, a gateway on the first; search everywhere. */
function sampleWorkload(i: number): Advertisements {
  const region = REGIONS[i % REGIONS.length]!;
  const proc = (agentType: string, capabilities: string[], load: number) => ({
    fields: { agentType, capabilities, status: 'Running' as const, resourceSummary: { load } },
  });
  return {
    processes: [
      proc('indexer', ['ssd', region], 2 + i),
      proc('worker', ['cpu', region], 1 + ((i * 3) % 5)),
      proc('worker', ['cpu', 'gpu'], 4),
      ...(i === 0 ? [proc('gateway', ['http'], 1)] : []),
    ],
    services: [
      {
        name: 'search',
        fields: { endpoint: `http://127.0.0.1:${9200 + i}/search`, metadata: { region }, health: 'Healthy' },
      },
      ...(i === 0
        ? [
            {
              name: 'api',
              fields: { endpoint: 'http://127.0.0.1:8080/api', metadata: {}, health: 'Healthy' },
            },
          ]
        : []),
    ] as Advertisements['services'],
  };
}

/** Load figures drift, so least-loaded answers change while you watch. */
function driftLoads(node: MeshNode, pids: string[], ads: Advertisements): void {
  const p = Math.floor(Math.random() * pids.length);
  const ad = ads.processes[p]!;
  const load = Math.max(
    0,
    Math.round(((ad.fields.resourceSummary.load ?? 0) + (Math.random() * 4 - 2)) * 10) / 10,
  );
  ad.fields = { ...ad.fields, resourceSummary: { load } };
  node.advertiseProcess(pids[p]!, ad.fields);
}

export const demoCommand: Command = {
  name: 'demo',
  usage,
  async run(argv) {
    const { values } = parseFlags(argv, {
      port: { type: 'string' },
      host: { type: 'string' },
      nodes: { type: 'string' },
      cluster: { type: 'string' },
      'no-webrtc': { type: 'boolean' },
    });
    const port = intFlag(values.port, 'port', 8787, 0, 65535);
    const host = stringFlag(values.host, 'host', '127.0.0.1');
    const count = intFlag(values.nodes, 'nodes', 3, 0, 16);
    const cluster = clusterFlag(values.cluster, 'demo');
    if (!existsSync(`${DEMO_DIR}index.html`)) {
      process.stderr.write(`weftmesh demo: the browser demo is not built (${DEMO_DIR}); run npm run build\n`);
      return 1;
    }
    let server: Awaited<ReturnType<typeof startSignalingServer>>;
    try {
      server = await startSignalingServer({ host, port, staticDir: DEMO_DIR });
    } catch (e) {
      if ((e as { code?: string }).code !== 'EADDRINUSE') throw e;
      process.stderr.write(`weftmesh demo: ${host}:${port} is in use; pick another with --port\n`);
      return 1;
    }
    // The page joins the cluster named in ?cluster= (default demo).
    const query = cluster === 'demo' ? '' : `?cluster=${cluster}`;
    const httpUrl = `http://${host.includes(':') ? `[${host}]` : host}:${server.port}/${query}`;
    let webrtc = values['no-webrtc'] !== true;
    const nodes: LaunchedNode[] = [];
    const timers: Array<ReturnType<typeof setInterval>> = [];
    try {
      for (let i = 0; i < count; i++) {
        const options = {
          identity: NodeIdentity.generate(),
          cluster,
          signal: server.url,
          listen: { host, port: 0 },
          websocket: true,
          seeds: nodes.flatMap((n) => n.listener?.url ?? []).slice(0, 1),
        };
        let launched: LaunchedNode;
        try {
          launched = await launchNode({ ...options, webrtc });
        } catch (e) {
          if (!webrtc) throw e;
          process.stderr.write(
            `WebRTC unavailable on this Node (${(e as Error).message}); using WebSocket links\n`,
          );
          webrtc = false;
          launched = await launchNode({ ...options, webrtc });
        }
        nodes.push(launched);
        const ads = sampleWorkload(i);
        const pids = advertise(launched.node, ads);
        timers.push(setInterval(() => driftLoads(launched.node, pids, ads), 4_000 + 1_000 * i));
        launched.node.on('member-state', (e) => {
          if (i !== 0 || e.nodeId === launched.node.nodeId) return;
          const runtime = launched.node.member(e.nodeId)?.meta.runtime ?? '?';
          process.stdout.write(
            `${new Date().toISOString().slice(11, 19)}  ${e.nodeId.slice(0, 8)} (${runtime}) ${e.previous ?? 'new'} → ${e.state}\n`,
          );
        });
      }
    } catch (e) {
      for (const t of timers) clearInterval(t);
      await Promise.all(nodes.map((n) => n.stop()));
      await server.close();
      throw e;
    }
    process.stdout.write(
      [
        `weftmesh demo: cluster "${cluster}"`,
        `  signaling server and browser demo: ${httpUrl}`,
        ...nodes.map(
          (n, i) =>
            `  node ${i + 1}: ${n.node.nodeId.slice(0, 8)}  ${n.addresses.map((a) => (a.startsWith('webrtc:') ? 'webrtc' : a)).join(', ')}`,
        ),
        '',
        `Open ${httpUrl} in a few browser tabs: each tab joins as a node. Ctrl-C stops everything.`,
        '',
      ].join('\n'),
    );
    onShutdown(async () => {
      process.stdout.write('\nstopping: nodes leave the cluster, then the server closes\n');
      for (const t of timers) clearInterval(t);
      await Promise.all(nodes.map((n) => n.stop()));
      await server.close();
      return 0;
    });
    return new Promise<number>(() => {});
  },
};
