/**
 * What a service (replicated state, messaging) gets from the node it runs in. Each service
 * builds its own host from it, so a node built without a service carries none of its wiring.
 */
import type { BroadcastTree } from '../broadcast/tree.ts';
import type { NodeIdentity } from '../identity/node-identity.ts';
import type { SignatureVerifier } from '../identity/verifier.ts';
import type { Membership } from '../membership/swim.ts';
import type { Env } from '../time/types.ts';
import type { DeliveryClass } from '../transport/types.ts';
import type { WireLimits } from '../wire/codec.ts';
import type { Message } from '../wire/messages.ts';
import type { MeshEvents } from './events.ts';
import type { LinkManager } from './link-manager.ts';

export interface ServiceContext {
  readonly identity: NodeIdentity;
  readonly env: Env;
  readonly verifier: SignatureVerifier;
  readonly wireLimits: Partial<WireLimits> | undefined;
  /** This run's starting incarnation: above every earlier run's (messaging signs it as its epoch). */
  readonly epoch: number;
  readonly links: LinkManager;
  /** The membership core, for its queries (and the low-water mark the state replica sets). */
  readonly membership: Membership;
  /** The node's epidemic broadcast tree, shared by every kind of broadcast. */
  readonly tree: BroadcastTree;
  /** Whether a key may be in this cluster (the node's admission policy). */
  admits(publicKey: Uint8Array): boolean;
  /** Encodes and sends over the link to `to`; the bytes sent (0: not sent). */
  send(to: string, cls: DeliveryClass, msg: Message): number;
  /** Emits an application event (a throwing handler becomes an `error` event). */
  emit<K extends keyof MeshEvents>(type: K, payload: MeshEvents[K]): void;
}
