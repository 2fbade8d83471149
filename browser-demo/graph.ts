/**
 * The mesh as a graph: this node in the centre, every other member on a circle (sorted by
 * node id, so positions are stable), coloured by state. Edges: this node's links, drawn by
 * kind (BroadcastChannel, WebRTC, WebSocket), and the links its neighbours reported (the only
 * link sets a node learns, kind unknown), at most MAX_EDGES.
 */
import type { MemberInfo, MeshNode } from '../lib/mod.ts';
import { short, svg } from './dom.ts';

const MAX_EDGES = 400;
const SIZE = 520;
const C = SIZE / 2;

const RUNTIME_LETTER: Record<string, string> = { browser: 'B', node: 'N', deno: 'D' };

/** Link kinds shown, by transport name (`Link.transport`). */
export const LINK_KINDS: Record<string, string> = {
  'broadcast-channel': 'BroadcastChannel',
  webrtc: 'WebRTC',
  websocket: 'WebSocket',
};

/** `linkKinds`: the transport of each of this node's links, by peer (from link-up events). */
export function renderGraph(
  root: SVGSVGElement,
  node: MeshNode,
  members: MemberInfo[],
  linkKinds: ReadonlyMap<string, string>,
): void {
  root.setAttribute('viewBox', `0 0 ${SIZE} ${SIZE}`);
  const others = members
    .filter((m) => m.nodeId !== node.nodeId)
    .sort((a, b) => (a.nodeId < b.nodeId ? -1 : 1));
  const radius = others.length <= 1 ? 150 : Math.min(200, 110 + others.length * 6);
  const pos = new Map<string, [number, number]>([[node.nodeId, [C, C]]]);
  others.forEach((m, i) => {
    const a = -Math.PI / 2 + (2 * Math.PI * i) / Math.max(1, others.length);
    pos.set(m.nodeId, [C + radius * Math.cos(a), C + radius * Math.sin(a)]);
  });

  const edges: SVGElement[] = [];
  const seen = new Set<string>();
  const edge = (a: string, b: string, cls: string, transport?: string) => {
    const key = a < b ? `${a}|${b}` : `${b}|${a}`;
    const pa = pos.get(a);
    const pb = pos.get(b);
    if (seen.has(key) || !pa || !pb || edges.length >= MAX_EDGES) return;
    seen.add(key);
    const kind: Record<string, string> = transport === undefined ? {} : { 'data-transport': transport };
    const line = svg('line', { class: `edge ${cls}`, ...kind, x1: pa[0], y1: pa[1], x2: pb[0], y2: pb[1] });
    if (transport !== undefined) line.append(svg('title', {}, LINK_KINDS[transport] ?? transport));
    edges.push(line);
  };
  for (const peer of node.links()) {
    const transport = linkKinds.get(peer) ?? 'unknown';
    edge(node.nodeId, peer, `own link-${transport}`, transport);
  }
  for (const peer of node.links())
    for (const far of node.neighboursOf(peer) ?? []) if (far !== node.nodeId) edge(peer, far, 'reported');

  const dots = members.map((m) => {
    const [x, y] = pos.get(m.nodeId)!;
    const self = m.nodeId === node.nodeId;
    const r = self ? 26 : 18;
    return svg(
      'g',
      {
        class: `node state-${m.state}${self ? ' self' : ''}`,
        'data-node-id': m.nodeId,
        'data-state': m.state,
        transform: `translate(${x.toFixed(1)} ${y.toFixed(1)})`,
      },
      svg(
        'title',
        {},
        `${m.nodeId}\n${m.state} · incarnation ${m.incarnation} · ${m.meta.runtime ?? 'unknown runtime'}`,
      ),
      svg('circle', { r }),
      svg('text', { class: 'glyph', dy: '0.35em' }, RUNTIME_LETTER[m.meta.runtime ?? ''] ?? '?'),
      svg('text', { class: 'label', dy: r + 14 }, self ? `${short(m.nodeId)} (you)` : short(m.nodeId)),
    );
  });
  root.replaceChildren(svg('g', { class: 'edges' }, ...edges), svg('g', { class: 'nodes' }, ...dots));
}
