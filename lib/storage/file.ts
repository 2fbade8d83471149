/** File-backed Storage for Node and Deno (both provide node:fs). Not for browsers. */
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { checkStorageKey, type Storage, StorageError } from './types.ts';

/** One file per key in `dir`; writes go to a temporary file that is renamed over the old one. */
export class FileStorage implements Storage {
  readonly #dir: string;
  #ready: Promise<void> | undefined;
  #seq = 0;

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
    this.#ready ??= mkdir(this.#dir, { recursive: true, mode: 0o700 }).then(() => undefined);
    await this.#ready;
    const tmp = `${path}.tmp-${this.#seq++}`;
    try {
      await writeFile(tmp, value, { mode: 0o600 });
      await rename(tmp, path);
    } catch (e) {
      await rm(tmp, { force: true });
      throw new StorageError('write-failed', `cannot write ${key}: ${(e as Error).message}`, { cause: e });
    }
  }

  async delete(key: string): Promise<void> {
    await rm(join(this.#dir, checkStorageKey(key)), { force: true });
  }
}
