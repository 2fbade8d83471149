/**
 * This tab's identity. Tabs of one browser share localStorage, and two open tabs with one
 * identity would be one node in two places (the cluster reports them as twins). So each
 * stored identity lives in a numbered slot, and a tab holds its slot's Web Lock for as
 * long as it is open: a new tab takes the first free slot, reusing the identity stored
 * there or making one. Without Web Locks (or storage) the identity is not persisted.
 */
import { loadOrCreateIdentity, type NodeIdentity } from '../lib/identity/mod.ts';
import { MemoryStorage, type Storage, WebStorage } from '../lib/storage/mod.ts';

const SLOTS = 32;

export interface TabIdentity {
  identity: NodeIdentity;
  /** Where the identity, incarnation and clock are kept (memory when not persisted). */
  storage: Storage;
  /** The slot held, or undefined when nothing is persisted. */
  slot: number | undefined;
}

/** Tries to take a Web Lock and keep it until the tab goes away. */
function holdLock(name: string): Promise<boolean> {
  return new Promise((resolve) => {
    navigator.locks
      .request(name, { ifAvailable: true }, (lock) => {
        resolve(lock !== null);
        return lock === null ? undefined : new Promise<never>(() => {});
      })
      .catch(() => resolve(false));
  });
}

export async function claimIdentity(): Promise<TabIdentity> {
  const persistent = typeof navigator.locks?.request === 'function' && typeof localStorage !== 'undefined';
  if (persistent) {
    for (let slot = 0; slot < SLOTS; slot++) {
      if (!(await holdLock(`weftmesh-identity-${slot}`))) continue;
      const storage = new WebStorage(localStorage, `weftmesh.slot${slot}.`);
      try {
        return { identity: await loadOrCreateIdentity(storage), storage, slot };
      } catch {
        break; // storage full or refused: fall back to an identity in memory
      }
    }
  }
  const storage = new MemoryStorage();
  return { identity: await loadOrCreateIdentity(storage), storage, slot: undefined };
}

/** Forgets the identity (and its incarnation and clock) held in `storage`. */
export async function forgetIdentity(storage: Storage): Promise<void> {
  for (const key of ['identity', 'incarnation', 'hlc']) await storage.delete(key);
}
