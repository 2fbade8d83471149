/**
 * The consistent hash ring as a service a MeshNode is built with (`ring: hashRing()`): kept
 * equal to the Active members, it assigns keys and process ids to nodes (`node.ring`,
 * `node.assignPid()`). A node built without it carries none of that code (nor SHA-256) and
 * refuses those calls with a MeshNodeError (`no-ring`).
 */
import { ConsistentHashRing, type RingOptions } from '../ring/consistent-hash-ring.ts';
import { check } from './option-checks.ts';

export interface RingService {
  readonly options: Readonly<RingOptions>;
  /** The node's ring, built at its construction. @internal */
  create(): ConsistentHashRing;
}

/** The ring service; `virtualNodes` per member (default 128, 1..4096), else a ConfigError. */
export function hashRing(options: RingOptions = {}): RingService {
  const v = options.virtualNodes;
  if (v !== undefined)
    check(Number.isInteger(v) && v >= 1 && v <= 4096, 'ring.virtualNodes', 'must be an integer in [1, 4096]');
  const frozen = Object.freeze({ ...options });
  return { options: frozen, create: () => new ConsistentHashRing(frozen) };
}
