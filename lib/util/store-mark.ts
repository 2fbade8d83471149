/**
 * A mark, outside IndexedDB, that a store of a given name was made on this origin: a small
 * file in the origin private file system (OPFS), holding the store's id. Chromium deletes an
 * origin's whole IndexedDB when it finds its files corrupt after a crash; without the mark
 * the store would then look new — a Raft voter could vote twice in a term, a chain author
 * start a second chain under its id. OPFS is a different backend, so it outlives that
 * deletion (clearing the site's data removes both, and the node's identity with them).
 * `name` is the mark's file name (callers prefix it with what they store).
 */

/** Where the runtime has no OPFS (Node, Deno, some browsers), marks are neither read nor written. */
type Dir = FileSystemDirectoryHandle | undefined;

async function root(): Promise<Dir> {
  try {
    const storage = (globalThis as { navigator?: { storage?: StorageManager } }).navigator?.storage;
    return storage?.getDirectory ? await storage.getDirectory() : undefined;
  } catch {
    return undefined;
  }
}

const fileName = (name: string) => encodeURIComponent(name);

/** The id mark `name` holds; undefined when there is none, null when marks are unavailable here. */
export async function readStoreMark(name: string): Promise<string | undefined | null> {
  const dir = await root();
  if (!dir) return null;
  try {
    const file = await (await dir.getFileHandle(fileName(name))).getFile();
    return (await file.text()).trim() || undefined;
  } catch (e) {
    return (e as { name?: string }).name === 'NotFoundError' ? undefined : null;
  }
}

/** Writes mark `name` with a store's id (nothing where marks are unavailable). */
export async function writeStoreMark(name: string, id: string): Promise<void> {
  const dir = await root();
  if (!dir) return;
  try {
    const writable = await (await dir.getFileHandle(fileName(name), { create: true })).createWritable();
    await writable.write(id);
    await writable.close();
  } catch {
    // No writable OPFS here: the store works, without detection of its loss.
  }
}

export async function removeStoreMark(name: string): Promise<void> {
  const dir = await root();
  try {
    await dir?.removeEntry(fileName(name));
  } catch {
    // none to remove
  }
}
