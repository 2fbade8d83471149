// What a test reads of a browser node: members, links by kind, every link that ever came up,
// and load counters (frames on the channel, peer connections made).
import type { MeshNode } from '../../lib/mod.ts';

export interface NodeView {
  nodeId: string;
  state: string;
  members: Array<{ nodeId: string; state: string }>;
  /** Current links: peer → transport. */
  links: Record<string, string>;
  /** Every link-up: [peer, transport]. */
  linkUps: Array<[string, string]>;
  /** Messages this node received and sent (all links), and RTCPeerConnections this context made. */
  framesIn: number;
  framesOut: number;
  peerConnections: number;
}

let peerConnections = 0;
const Native = (globalThis as { RTCPeerConnection?: new (...a: unknown[]) => object }).RTCPeerConnection;
if (Native) {
  (globalThis as { RTCPeerConnection?: unknown }).RTCPeerConnection = class extends Native {
    constructor(...args: unknown[]) {
      super(...args);
      peerConnections++;
    }
  };
}

/** Follows `node`; returns a function giving its current view. */
export function watch(node: MeshNode): () => NodeView {
  const links: Record<string, string> = {};
  const linkUps: Array<[string, string]> = [];
  node.on('link-up', (e) => {
    links[e.nodeId] = e.transport;
    linkUps.push([e.nodeId, e.transport]);
  });
  node.on('link-down', (e) => {
    delete links[e.nodeId];
  });
  return () => {
    const m = node.metrics();
    return {
      nodeId: node.nodeId,
      state: node.state,
      members: node.members().map((x) => ({ nodeId: x.nodeId, state: x.state })),
      links: { ...links },
      linkUps: [...linkUps],
      framesIn: m.messagesIn,
      framesOut: m.messagesOut,
      peerConnections,
    };
  };
}

/** Background-tab timers: callbacks run only at wake-ups every `ms` (Chromium: 1 s for hidden pages). */
export function throttleTimers(ms: number): void {
  const native = globalThis.setTimeout.bind(globalThis);
  const start = performance.now();
  (globalThis as { setTimeout: unknown }).setTimeout = (fn: () => void, delay = 0, ...rest: unknown[]) => {
    const due = performance.now() + delay - start;
    const wake = Math.ceil(due / ms) * ms;
    return native(fn, Math.max(0, wake - (performance.now() - start)), ...rest);
  };
}
