import { fromHex, toHex } from '../util/bytes.ts';
import { checkStorageKey, type Storage, StorageError } from './types.ts';

/** What WebStorage needs of `localStorage` (or `sessionStorage`). */
export interface WebStorageArea {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

/**
 * Storage over the Web Storage API (browsers, Deno), values hex-encoded under
 * `${namespace}${key}`. Web Storage is shared by every tab of an origin: give each live
 * node its own namespace, and never let two open tabs use one (see the browser demo's
 * Web Locks guard).
 */
export class WebStorage implements Storage {
  readonly #area: WebStorageArea;
  readonly #ns: string;

  constructor(area: WebStorageArea, namespace: string) {
    this.#area = area;
    this.#ns = namespace;
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    const v = this.#area.getItem(this.#ns + checkStorageKey(key));
    if (v === null) return undefined;
    try {
      return fromHex(v);
    } catch {
      throw new StorageError('corrupt-value', `stored value of ${key} is not hex`);
    }
  }

  async set(key: string, value: Uint8Array): Promise<void> {
    try {
      this.#area.setItem(this.#ns + checkStorageKey(key), toHex(value));
    } catch (e) {
      if (e instanceof StorageError) throw e;
      throw new StorageError('write-failed', `cannot store ${key}: ${(e as Error).message}`, { cause: e });
    }
  }

  async delete(key: string): Promise<void> {
    this.#area.removeItem(this.#ns + checkStorageKey(key));
  }
}
