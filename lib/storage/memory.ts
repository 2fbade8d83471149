import { copyBytes } from '../util/bytes.ts';
import { checkStorageKey, type Storage } from './types.ts';

/** In-memory Storage: the default; forgets everything when the process ends. */
export class MemoryStorage implements Storage {
  readonly #data = new Map<string, Uint8Array>();

  async get(key: string): Promise<Uint8Array | undefined> {
    const v = this.#data.get(checkStorageKey(key));
    return v && copyBytes(v);
  }

  async set(key: string, value: Uint8Array): Promise<void> {
    this.#data.set(checkStorageKey(key), copyBytes(value));
  }

  async delete(key: string): Promise<void> {
    this.#data.delete(checkStorageKey(key));
  }
}
