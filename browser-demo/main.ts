// The live browser demo: this tab is a node of the cluster; the page shows what it sees.
import { hashRing, MeshNode, messaging, NodeState, replicatedState } from '../lib/mod.ts';
import { chains } from '../lib/node/chain-service.ts';
import { joinThroughSignaling } from '../lib/webrtc/discovery.ts';
import { WebRtcTransport } from '../lib/webrtc/transport.ts';
import { WebSocketTransport } from '../lib/websocket/transport.ts';
import { SignalingClient } from '../signaling/client.ts';
import { ChainPanel } from './chain-panel.ts';
import { byId, fill, short } from './dom.ts';
import { EventLog } from './event-log.ts';
import { renderGraph } from './graph.ts';
import { claimIdentity, forgetIdentity } from './identity.ts';
import { isChainService, memberRows, processRows, serviceRows, syncOptions } from './tables.ts';

const params = new URLSearchParams(location.search);
const cluster = params.get('cluster') ?? 'demo';
// Tests: keep ICE to loopback candidates (the machine may have no other route).
const loopbackOnly = params.get('loopback') === '1';

const log = new EventLog(byId<HTMLOListElement>('log'));
const { identity, storage, slot } = await claimIdentity();
// ?signal=wss://a,wss://b (or repeated): signaling instances sharing rooms through Redis,
// tried in order with failover; by default the server that served the page.
const listed = params
  .getAll('signal')
  .flatMap((v) => v.split(','))
  .filter((u) => /^wss?:\/\/\S+$/.test(u));
const signaling = new SignalingClient({
  url: listed.length > 0 ? listed : `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}`,
  identity,
  room: cluster,
});
const node = new MeshNode({
  state: replicatedState(),
  messaging: messaging(),
  ring: hashRing(),
  chains: chains(),
  identity,
  cluster,
  storage,
  // WebSocket first: Node and Deno nodes that listen are reached directly; tabs of other
  // browsers use WebRTC, and tabs of this browser the BroadcastChannel the node adds itself.
  transport: [
    new WebSocketTransport(),
    new WebRtcTransport({
      signaling,
      peerConnectionBudget: 450,
      ...(loopbackOnly ? { candidateFilter: (c: string) => / (127\.0\.0\.1|::1) /.test(c) } : {}),
    }),
  ],
  meta: { runtime: 'browser' },
});
log.watch(node);
/** The transport of each link (the graph draws links by kind): followed from before start, so no link-up is missed. */
const linkKinds = new Map<string, string>();
node.on('link-up', (e) => linkKinds.set(e.nodeId, e.transport));
node.on('link-down', (e) => linkKinds.delete(e.nodeId));
signaling.on('state', (e) => log.add('info', `signaling server ${signaling.url}: ${e.state}`));
await node.start();
joinThroughSignaling(node, signaling);
signaling.start();
log.add(
  'info',
  `this tab is node ${short(node.nodeId)} in cluster "${cluster}"${slot === undefined ? ' (identity not persisted)' : ` (identity slot ${slot})`}`,
);
addEventListener('pagehide', () => void node.leave());
const chainPanel = await ChainPanel.create(node, identity, slot, log);

// ---- controls ----

const freeze = byId<HTMLButtonElement>('freeze');
freeze.addEventListener('click', () => {
  if (node.frozen) {
    node.unfreeze();
    log.add('info', 'unfrozen: answering again (watch it refute)');
  } else {
    node.freeze();
    log.add('info', 'frozen: not answering probes (watch the others suspect it)');
  }
  render();
});

const leave = byId<HTMLButtonElement>('leave');
leave.addEventListener('click', async () => {
  leave.disabled = true;
  log.add('leave', 'leaving the cluster gracefully');
  await node.leave();
  signaling.close();
  document.body.classList.add('left');
  render();
});

byId<HTMLButtonElement>('rejoin').addEventListener('click', () => location.reload());

byId<HTMLButtonElement>('reset-identity').addEventListener('click', async () => {
  await node.leave();
  await forgetIdentity(storage);
  location.reload();
});

byId<HTMLFormElement>('process-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const type = byId<HTMLInputElement>('proc-type').value.trim();
  const caps = byId<HTMLInputElement>('proc-caps')
    .value.split(',')
    .map((c) => c.trim())
    .filter((c) => c.length > 0);
  const load = Number(byId<HTMLInputElement>('proc-load').value || '0');
  try {
    const { pid, owner } = node.assignPid();
    node.advertiseProcess(pid, {
      agentType: type,
      capabilities: caps,
      status: 'Running',
      resourceSummary: { load },
    });
    log.add(
      'data',
      `advertised process ${pid} (${type}); ring owner of its pid: ${owner ? short(owner) : 'none'}`,
    );
  } catch (e) {
    log.add('error', `cannot advertise that process: ${(e as Error).message}`);
  }
  render();
});

byId<HTMLFormElement>('service-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const name = byId<HTMLInputElement>('svc-name').value.trim();
  const endpoint = byId<HTMLInputElement>('svc-endpoint').value.trim();
  const health = byId<HTMLSelectElement>('svc-health').value as 'Healthy' | 'Degraded' | 'Unhealthy';
  try {
    node.advertiseService(name, { endpoint, metadata: { from: 'browser' }, health });
    log.add('data', `advertised service ${name} (${health})`);
  } catch (e) {
    log.add('error', `cannot advertise that service: ${(e as Error).message}`);
  }
  render();
});

for (const id of ['resolve-service', 'resolve-preferred', 'least-type'])
  byId(id).addEventListener('change', () => render());
byId('ring-key').addEventListener('input', () => render());

// ---- rendering ----

function renderQueries(): void {
  const services = node.services.names().filter((name) => !isChainService(name));
  const serviceSelect = byId<HTMLSelectElement>('resolve-service');
  syncOptions(
    serviceSelect,
    services.map((s) => [s, s]),
    services.length ? undefined : '(no services yet)',
  );
  const preferSelect = byId<HTMLSelectElement>('resolve-preferred');
  const instances = serviceSelect.value ? node.services.resolveAll(serviceSelect.value) : [];
  syncOptions(
    preferSelect,
    instances.map((s) => [`${short(s.nodeId)} (${s.health})`, s.nodeId]),
    'no preference',
  );
  const result = byId('resolve-result');
  const resolved = serviceSelect.value
    ? node.services.resolvePreferred(serviceSelect.value, preferSelect.value || undefined)
    : undefined;
  result.dataset.nodeId = resolved?.nodeId ?? '';
  result.textContent = resolved ? `${short(resolved.nodeId)} → ${resolved.endpoint}` : '—';
  const order = serviceSelect.value
    ? node.services
        .candidates(serviceSelect.value, preferSelect.value || undefined)
        .map((s) => short(s.nodeId))
    : [];
  byId('resolve-order').textContent = order.length > 1 ? `fallback order: ${order.join(' → ')}` : '';

  const types = [...new Set(node.processes.all().map((p) => p.agentType))].sort();
  const typeSelect = byId<HTMLSelectElement>('least-type');
  syncOptions(
    typeSelect,
    types.map((t) => [t, t]),
    'any type',
  );
  const least = node.processes.leastLoadedNode(typeSelect.value ? { agentType: typeSelect.value } : {});
  const leastOut = byId('least-loaded');
  leastOut.dataset.nodeId = least ?? '';
  leastOut.textContent = least ? short(least) : '—';

  const key = byId<HTMLInputElement>('ring-key').value;
  const owners = key ? node.ring.ownersOf(key, 3) : [];
  const ringOut = byId('ring-owner');
  ringOut.dataset.nodeId = owners[0] ?? '';
  ringOut.textContent = owners.length
    ? `${short(owners[0]!)}${owners.length > 1 ? `  (replicas: ${owners.slice(1).map(short).join(', ')})` : ''}`
    : '—';
}

function render(): void {
  const members = node.members();
  const self = members.find((m) => m.nodeId === node.nodeId);
  const state = node.frozen ? 'Frozen' : (self?.state ?? NodeState.Joining);
  byId('self-id').textContent = short(node.nodeId);
  byId('self-id').title = node.nodeId;
  const badge = byId('self-state');
  badge.textContent = state;
  badge.className = `badge state-${state}`;
  byId('self-inc').textContent = String(node.incarnation);
  byId('self-links').textContent = String(node.links().length);
  const counts = new Map<string, number>();
  for (const m of members) counts.set(m.state, (counts.get(m.state) ?? 0) + 1);
  byId('member-counts').textContent = [...counts].map(([s, n]) => `${n} ${s}`).join(' · ');
  freeze.textContent = node.frozen ? 'Unfreeze' : 'Freeze';
  freeze.classList.toggle('active', node.frozen);
  document.title = `${short(node.nodeId)} · ${state} · weftmesh`;

  renderGraph(byId('graph') as unknown as SVGSVGElement, node, members, linkKinds);
  fill(byId('members-body'), memberRows(node, members));
  fill(byId('processes-body'), processRows(node));
  fill(byId('services-body'), serviceRows(node));
  chainPanel.render();
  renderQueries();
}

let queued = false;
const soon = () => {
  if (queued) return;
  queued = true;
  requestAnimationFrame(() => {
    queued = false;
    render();
  });
};
for (const ev of ['member-state', 'link-up', 'link-down', 'state-changed', 'member-reaped'] as const)
  node.on(ev, soon);
setInterval(render, 1_000);
render();

// For scripted checks (the end-to-end tests) and the curious, from the console.
(window as unknown as { weftmesh: unknown }).weftmesh = { node };
