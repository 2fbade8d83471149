/**
 * SHA-256 through the runtime's native hash when it has a synchronous one, else
 * @noble/hashes (pure JavaScript). Node (≥ 20.16) and runtimes that copy its
 * `process.getBuiltinModule` hand out `node:crypto` without a static import, so browser
 * bundles see nothing of it and keep noble. The digests are the same bytes either way
 * (test/unit/sha256.test.ts); only the speed differs (`npm run bench hash`, Node 20 on this
 * project's 2-core machine): node:crypto's one-shot `hash()` is 1.2–1.5× noble's speed for
 * inputs of 0–64 bytes and 10–13× for 16 KiB; `createHash` (older runtimes without `hash()`)
 * costs more per call and loses to noble below about 64 bytes, so it is used from there on.
 */
import { sha256 as noble } from '@noble/hashes/sha2.js';

/** The part of node:crypto used here. */
export interface NativeCrypto {
  hash?: (algorithm: 'sha256', data: Uint8Array, outputEncoding: 'buffer') => Uint8Array;
  createHash?: (algorithm: 'sha256') => { update(data: Uint8Array): { digest(): Uint8Array } };
}

/** Inputs shorter than this go to noble when only `createHash` is there (bench hash). */
export const CREATE_HASH_MIN_BYTES = 64;

/** A Buffer's bytes as a plain Uint8Array (no copy): `slice` and friends behave as noble's output. */
const plain = (b: Uint8Array): Uint8Array => new Uint8Array(b.buffer, b.byteOffset, b.byteLength);

/** The SHA-256 function for a runtime whose node:crypto is `native` (none: noble). */
export function selectSha256(native: NativeCrypto | undefined): (data: Uint8Array) => Uint8Array {
  const hash = native?.hash;
  if (typeof hash === 'function') return (data) => plain(hash('sha256', data, 'buffer'));
  const create = native?.createHash;
  if (typeof create === 'function')
    return (data) =>
      data.length < CREATE_HASH_MIN_BYTES ? noble(data) : plain(create('sha256').update(data).digest());
  return noble;
}

function runtimeCrypto(): NativeCrypto | undefined {
  try {
    const p = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
    return p?.getBuiltinModule?.('node:crypto') as NativeCrypto | undefined;
  } catch {
    return undefined; // a runtime that has the function but refuses the module
  }
}

const native = runtimeCrypto();

/** Which implementation `sha256` uses here (for benches and diagnostics). */
export const sha256Backend: 'node:crypto hash' | 'node:crypto createHash' | 'noble' =
  typeof native?.hash === 'function'
    ? 'node:crypto hash'
    : typeof native?.createHash === 'function'
      ? 'node:crypto createHash'
      : 'noble';

/** SHA-256 of `data` (never written to); a fresh 32-byte Uint8Array. */
export const sha256: (data: Uint8Array) => Uint8Array = selectSha256(native);
