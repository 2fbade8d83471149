/**
 * Zero configuration: in a browser (a page, a dedicated or shared worker) a MeshNode also
 * runs a BroadcastChannel transport, so contexts of one origin and profile link with no
 * network and no server; a node given no transport at all joins the contexts it hears there,
 * or starts the cluster when none answers. Nowhere else is anything added: Node and Deno
 * nodes (and every simulation) keep exactly the transports they were given.
 */
import {
  BroadcastChannelTransport,
  type BroadcastChannelTransportOptions,
} from '../broadcast-channel/transport.ts';
import type { Transport } from '../transport/types.ts';

/** The two MeshNodeOptions fields that say what a node links with. */
export interface LinkOptions {
  transport?: Transport | Transport[];
  broadcastChannel?: boolean | BroadcastChannelTransportOptions;
}

/** A page or a worker of a browser: what has BroadcastChannel and is neither Node nor Deno. */
function inBrowser(): boolean {
  const g = globalThis as {
    BroadcastChannel?: unknown;
    document?: unknown;
    WorkerGlobalScope?: unknown;
    Deno?: unknown;
    process?: { versions?: { node?: unknown } };
  };
  return (
    typeof g.BroadcastChannel === 'function' &&
    (typeof g.document === 'object' || typeof g.WorkerGlobalScope === 'function') &&
    g.Deno === undefined &&
    typeof g.process?.versions?.node !== 'string'
  );
}

function given(opts: LinkOptions): Transport[] {
  const t = opts.transport;
  return t === undefined ? [] : Array.isArray(t) ? t : [t];
}

/** Whether the node adds a BroadcastChannel transport of its own. */
export function addsBroadcastChannel(opts: LinkOptions): boolean {
  const bc = opts.broadcastChannel;
  if (bc === false || given(opts).some((t) => t instanceof BroadcastChannelTransport)) return false;
  return bc !== undefined || inBrowser();
}

/** The node's transports: those given, and a BroadcastChannel one where it adds it. */
export function nodeTransports(opts: LinkOptions): Transport[] {
  const bc = opts.broadcastChannel;
  if (!addsBroadcastChannel(opts)) return given(opts);
  return [...given(opts), new BroadcastChannelTransport(typeof bc === 'object' ? bc : {})];
}

/** Given no transport, the node joins by itself: through the contexts it hears, else alone. */
export function joinsByItself(opts: LinkOptions): boolean {
  return given(opts).length === 0;
}
