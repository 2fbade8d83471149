/**
 * SHA-256 through the runtime's native hash when it has a synchronous one, else
 * @noble/hashes (pure JavaScript); inputs of up to 119 bytes (two blocks: Merkle leaves and
 * nodes) through sha256-small.ts everywhere, which beats both at that size. Node (≥ 20.16) and
 * runtimes that copy its `process.getBuiltinModule` hand out `node:crypto` without a static
 * import, so browser bundles see nothing of it. The digests are the same bytes either way
 * (test/unit/sha256.test.ts); only the speed differs (`npm run bench hash`, Node 20 on this
 * project's 2-core machine): node:crypto's one-shot `hash()` is 2–3× noble's speed at ~330
 * bytes (a chain entry of 256 B) and 15–18× at 16 KiB; `createHash` (runtimes without
 * `hash()`) costs more per call and lost to noble only below 64 bytes, which go to
 * sha256-small.ts anyway.
 */
import { sha256 as noble } from '@noble/hashes/sha2.js';
import { SMALL_SHA256_MAX_BYTES, smallSha256 } from './sha256-small.ts';

/** The part of node:crypto used here. */
export interface NativeCrypto {
  hash?: (algorithm: 'sha256', data: Uint8Array, outputEncoding: 'buffer') => Uint8Array;
  createHash?: (algorithm: 'sha256') => { update(data: Uint8Array): { digest(): Uint8Array } };
}

/** A Buffer's bytes as a plain Uint8Array (no copy): `slice` and friends behave as noble's output. */
const plain = (b: Uint8Array): Uint8Array => new Uint8Array(b.buffer, b.byteOffset, b.byteLength);

/** The SHA-256 function for a runtime whose node:crypto is `native` (none: noble for long inputs). */
export function selectSha256(native: NativeCrypto | undefined): (data: Uint8Array) => Uint8Array {
  const hash = native?.hash;
  const create = native?.createHash;
  const long: (data: Uint8Array) => Uint8Array =
    typeof hash === 'function'
      ? (data) => plain(hash('sha256', data, 'buffer'))
      : typeof create === 'function'
        ? (data) => plain(create('sha256').update(data).digest())
        : noble;
  return (data) => (data.length <= SMALL_SHA256_MAX_BYTES ? smallSha256(data) : long(data));
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
