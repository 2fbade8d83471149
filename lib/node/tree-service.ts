/**
 * The broadcast tree as the services that broadcast (messaging, replicated state) share it:
 * the first one made at start() makes the node's tree, the others get the same one. Only
 * these services import the tree, so a node built without them carries none of its code.
 */
import { BroadcastTree } from '../broadcast/tree.ts';
import type { ServiceContext } from './service-context.ts';

export function sharedTree(ctx: ServiceContext): BroadcastTree {
  return ctx.tree((host, options) => new BroadcastTree(host, options));
}
