import type { Storage } from '../storage/types.ts';
import { NodeIdentity } from './node-identity.ts';

/** Loads the identity saved under `key`, or makes one and saves it. */
export async function loadOrCreateIdentity(storage: Storage, key = 'identity'): Promise<NodeIdentity> {
  const seed = await storage.get(key);
  if (seed) return NodeIdentity.fromSecretKey(seed);
  const identity = NodeIdentity.generate();
  await storage.set(key, identity.exportSecretKey());
  return identity;
}
