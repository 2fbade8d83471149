/**
 * What the IndexedDB stores (chains, Raft) share: a request as a promise, and a mark outside
 * IndexedDB that a store was made on this origin — a small file in the origin private file
 * system (OPFS) holding the store's id, also kept in the store (key `store` of its meta object
 * store). Chromium deletes an origin's whole IndexedDB when it finds its files corrupt after a
 * crash; without the mark the store would then look new — a Raft voter could vote twice in a
 * term, a chain author start a second chain under its id. OPFS is a different backend, so it
 * outlives that deletion (clearing the site's data removes both, and the node's identity with
 * them). Where the runtime has no OPFS (Node, Deno, some browsers) marks are neither read nor
 * written, and stores work without detection of their loss. `mark` is the mark's name (callers
 * prefix the store's name with what they store).
 */
import { toHex } from './bytes.ts';

export function request<T>(r: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
}

async function root(): Promise<FileSystemDirectoryHandle | undefined> {
  try {
    const storage = (globalThis as { navigator?: { storage?: StorageManager } }).navigator?.storage;
    return storage?.getDirectory ? await storage.getDirectory() : undefined;
  } catch {
    return undefined;
  }
}

const fileName = (mark: string) => encodeURIComponent(mark);

/** The id `mark` holds; undefined when there is none, null when marks are unavailable here. */
export async function readStoreMark(mark: string): Promise<string | undefined | null> {
  const dir = await root();
  if (!dir) return null;
  try {
    const file = await (await dir.getFileHandle(fileName(mark))).getFile();
    return (await file.text()).trim() || undefined;
  } catch (e) {
    return (e as { name?: string }).name === 'NotFoundError' ? undefined : null;
  }
}

/** Writes `mark` with a store's id (nothing where marks are unavailable). */
export async function writeStoreMark(mark: string, id: string): Promise<void> {
  const dir = await root();
  if (!dir) return;
  try {
    const writable = await (await dir.getFileHandle(fileName(mark), { create: true })).createWritable();
    await writable.write(id);
    await writable.close();
  } catch {
    // No writable OPFS here: the store works, without detection of its loss.
  }
}

/** A fresh store id (what the `meta` object store and the mark hold). */
export function newStoreId(): string {
  return toHex(crypto.getRandomValues(new Uint8Array(16)));
}

/**
 * Gives the store in `db` a new id (durably, in its `meta` object store) and then its mark: a
 * crash in between leaves a store with an id and no mark, which its next open marks.
 */
export async function identifyStore(db: IDBDatabase, meta: string, mark: string): Promise<string> {
  const id = newStoreId();
  const tx = db.transaction(meta, 'readwrite', { durability: 'strict' });
  tx.objectStore(meta).put(id, 'store');
  // Committed (the transaction's complete, not the put's success) before the mark is written:
  // a mark whose id never reached the disk would report a sound store lost.
  await new Promise<void>((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error ?? new Error('transaction aborted'));
  });
  await writeStoreMark(mark, id);
  return id;
}

/** Deletes the database `name` and its mark (a store given up for good). Close it first. */
export async function deleteStore(factory: IDBFactory, name: string, mark: string): Promise<void> {
  await request(factory.deleteDatabase(name));
  const dir = await root();
  try {
    await dir?.removeEntry(fileName(mark));
  } catch {
    // none to remove
  }
}
