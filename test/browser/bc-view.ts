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
  /** BroadcastChannel messages this context received and posted (all channels). */
  channelIn: number;
  channelOut: number;
  /** Date.now() when the node was made, and when it first saw `expect` members Active (0: not yet). */
  startedAt: number;
  allActiveAt: number;
  /** Date.now() of this node's first link, and of its own Active (0: not yet). */
  firstLinkAt: number;
  joinedAt: number;
  /** Date.now() when each member was first seen Unreachable. */
  unreachableAt: Record<string, number>;
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

let channelIn = 0;
let channelOut = 0;
const NativeChannel = (globalThis as { BroadcastChannel?: typeof BroadcastChannel }).BroadcastChannel;
if (NativeChannel) {
  (globalThis as { BroadcastChannel?: unknown }).BroadcastChannel = class extends NativeChannel {
    constructor(name: string) {
      super(name);
      this.addEventListener('message', () => channelIn++);
    }
    override postMessage(data: unknown): void {
      channelOut++;
      super.postMessage(data);
    }
  };
}

/**
 * Follows `node`; returns a function giving its current view, with `allActive`: a promise of
 * allActiveAt, so a bench can wait for it in one call instead of polling the page (each poll
 * takes the main thread of a tab that is still forming). `expect`: members to wait for.
 */
export function watch(node: MeshNode, expect = 0): (() => NodeView) & { allActive: Promise<number> } {
  let reached: (at: number) => void = () => {};
  const allActive = new Promise<number>((ok) => {
    reached = ok;
  });
  const links: Record<string, string> = {};
  const linkUps: Array<[string, string]> = [];
  const startedAt = Date.now();
  let allActiveAt = 0;
  let firstLinkAt = 0;
  let joinedAt = 0;
  node.on('joined', () => {
    joinedAt ||= Date.now();
  });
  const unreachableAt: Record<string, number> = {};
  node.on('member-state', (e) => {
    if (e.state === 'Unreachable') unreachableAt[e.nodeId] ??= Date.now();
    if (
      expect > 0 &&
      allActiveAt === 0 &&
      node.members().filter((m) => m.state === 'Active').length >= expect
    ) {
      allActiveAt = Date.now();
      reached(allActiveAt);
    }
  });
  node.on('link-up', (e) => {
    firstLinkAt ||= Date.now();
    links[e.nodeId] = e.transport;
    linkUps.push([e.nodeId, e.transport]);
  });
  node.on('link-down', (e) => {
    delete links[e.nodeId];
  });
  const view = () => {
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
      channelIn,
      channelOut,
      startedAt,
      allActiveAt,
      firstLinkAt,
      joinedAt,
      unreachableAt: { ...unreachableAt },
    };
  };
  return Object.assign(view, { allActive });
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
