import { checkStorageKey, type Storage } from './types.ts';

/** In-memory Storage: the default; forgets everything when the process ends. */
export class MemoryStorage implements Storage {
  readonly #data = new Map<string, Uint8Array>();

  async get(key: string): Promise<Uint8Array | undefined> {
    return this.#data.get(checkStorageKey(key))?.slice();
  }

  async set(key: string, value: Uint8Array): Promise<void> {
    this.#data.set(checkStorageKey(key), value.slice());
  }

  async delete(key: string): Promise<void> {
    this.#data.delete(checkStorageKey(key));
  }
}
