/**
 * A small key/value store for what must survive a restart: the identity seed, the last
 * incarnation number, the HLC high-water mark. Keys: 1..64 characters of [a-z0-9._-].
 */
import { CodedError } from '../util/coded-error.ts';
export interface Storage {
  get(key: string): Promise<Uint8Array | undefined>;
  set(key: string, value: Uint8Array): Promise<void>;
  delete(key: string): Promise<void>;
}

/** Why a storage call failed (`StorageError.code`). */
export type StorageErrorCode =
  /** A key outside 1..64 characters of [a-z0-9._-]. */
  | 'invalid-key'
  /** The backing store could not be read (FileStorage). */
  | 'read-failed'
  /** The backing store refused the write (quota, permissions, disk). */
  | 'write-failed'
  /** What is stored under the key is not what this storage writes (WebStorage: not hex). */
  | 'corrupt-value';

export class StorageError extends CodedError<StorageErrorCode> {
  override name = 'StorageError';
}

const KEY = /^[a-z0-9][a-z0-9._-]{0,63}$/;

export function checkStorageKey(key: string): string {
  if (!KEY.test(key)) throw new StorageError('invalid-key', `invalid storage key ${JSON.stringify(key)}`);
  return key;
}
