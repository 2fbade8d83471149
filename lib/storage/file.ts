/** File-backed Storage for Node and Deno (both provide node:fs). Not for browsers. */
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { syncDir, writeAll } from '../util/durable-file.ts';
import { checkStorageKey, type Storage, StorageError } from './types.ts';

/**
 * One file per key in `dir`. A write goes to a temporary file, synced, then renamed over the
 * old one, and the directory synced: `set` resolves once the value is durable, and a crash
 * leaves the old value or the new one, never an empty or torn file (the identity's seed
 * lives here). Writes to one key take effect in the order `set` was called.
 */
export class FileStorage implements Storage {
  readonly #dir: string;
  #ready: Promise<void> | undefined;
  #seq = 0;
  /** The last write of each key still in progress: the next waits for it. */
  readonly #writing = new Map<string, Promise<void>>();

  constructor(dir: string) {
    this.#dir = dir;
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    try {
      return new Uint8Array(await readFile(join(this.#dir, checkStorageKey(key))));
    } catch (e) {
      if ((e as { code?: string }).code === 'ENOENT') return undefined;
      throw new StorageError('read-failed', `cannot read ${key}: ${(e as Error).message}`, { cause: e });
    }
  }

  async set(key: string, value: Uint8Array): Promise<void> {
    const path = join(this.#dir, checkStorageKey(key));
    const before = this.#writing.get(key);
    const write = (before ?? Promise.resolve()).catch(() => {}).then(() => this.#write(key, path, value));
    this.#writing.set(key, write);
    try {
      await write;
    } finally {
      if (this.#writing.get(key) === write) this.#writing.delete(key);
    }
  }

  async #write(key: string, path: string, value: Uint8Array): Promise<void> {
    this.#ready ??= mkdir(this.#dir, { recursive: true, mode: 0o700 }).then(() =>
      syncDir(join(this.#dir, '..')),
    );
    await this.#ready;
    const tmp = `${path}.tmp-${this.#seq++}`;
    try {
      const fh = await open(tmp, 'w', 0o600);
      try {
        await writeAll(fh, value);
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, path);
      await syncDir(this.#dir);
    } catch (e) {
      await rm(tmp, { force: true });
      throw new StorageError('write-failed', `cannot write ${key}: ${(e as Error).message}`, { cause: e });
    }
  }

  async delete(key: string): Promise<void> {
    await rm(join(this.#dir, checkStorageKey(key)), { force: true });
  }
}
