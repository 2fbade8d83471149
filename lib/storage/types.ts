/**
 * A small key/value store for what must survive a restart: the identity seed, the last
 * incarnation number, the HLC high-water mark. Keys: 1..64 characters of [a-z0-9._-].
 */
export interface Storage {
  get(key: string): Promise<Uint8Array | undefined>;
  set(key: string, value: Uint8Array): Promise<void>;
  delete(key: string): Promise<void>;
}

export class StorageError extends Error {
  override name = 'StorageError';
}

const KEY = /^[a-z0-9][a-z0-9._-]{0,63}$/;

export function checkStorageKey(key: string): string {
  if (!KEY.test(key)) throw new StorageError(`invalid storage key ${JSON.stringify(key)}`);
  return key;
}
