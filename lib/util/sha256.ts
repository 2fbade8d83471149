/**
 * SHA-256 through the runtime's native hash for inputs over 119 bytes when it has a
 * synchronous one, else in JavaScript (sha256-js.ts; also for every shorter input, Merkle
 * leaves and nodes, where it beats the native call). Node (≥ 20.16) and runtimes that copy its
 * `process.getBuiltinModule` hand out `node:crypto` without a static import, so browser
 * bundles see nothing of it. The digests are the same bytes either way
 * (test/unit/sha256.test.ts); only the speed differs (`npm run bench hash`, Node 20 on this
 * project's 2 shared cores): node:crypto's one-shot `hash()` is 1.3–2× the JavaScript's speed
 * at ~330 bytes (a chain entry of 256 B) and ~7× at 16 KiB. `createHash` (runtimes without
 * `hash()`) costs more per call but wins from a few hundred bytes on as well.
 */
import { nodeBuiltin } from './node-builtin.ts';
import { jsSha256, SMALL_SHA256_MAX_BYTES } from './sha256-js.ts';

/** The part of node:crypto used here. */
export interface NativeCrypto {
  hash?: (algorithm: 'sha256', data: Uint8Array, outputEncoding: 'buffer') => Uint8Array;
  createHash?: (algorithm: 'sha256') => { update(data: Uint8Array): { digest(): Uint8Array } };
}

/**
 * A digest Buffer as a plain Uint8Array (`slice` and friends behave as for any digest here):
 * a view when it owns its memory (Node's do), else a copy, so a digest kept never pins a
 * runtime's shared Buffer pool.
 */
const plain = (b: Uint8Array): Uint8Array =>
  b.byteOffset === 0 && b.buffer.byteLength === b.byteLength
    ? new Uint8Array(b.buffer, 0, b.byteLength)
    : new Uint8Array(b);

/** The SHA-256 function for a runtime whose node:crypto is `native` (none: JavaScript only). */
export function selectSha256(native: NativeCrypto | undefined): (data: Uint8Array) => Uint8Array {
  const hash = native?.hash;
  const create = native?.createHash;
  const long: ((data: Uint8Array) => Uint8Array) | undefined =
    typeof hash === 'function'
      ? (data) => plain(hash('sha256', data, 'buffer'))
      : typeof create === 'function'
        ? (data) => plain(create('sha256').update(data).digest())
        : undefined;
  if (!long) return jsSha256;
  return (data) => (data.length <= SMALL_SHA256_MAX_BYTES ? jsSha256(data) : long(data));
}

const native = nodeBuiltin<NativeCrypto>('node:crypto');

/** What `sha256` uses here for inputs over 119 bytes (for benches and diagnostics). */
export const sha256Backend: 'node:crypto hash' | 'node:crypto createHash' | 'JavaScript' =
  typeof native?.hash === 'function'
    ? 'node:crypto hash'
    : typeof native?.createHash === 'function'
      ? 'node:crypto createHash'
      : 'JavaScript';

/** SHA-256 of `data` (never written to); a fresh 32-byte Uint8Array. */
export const sha256: (data: Uint8Array) => Uint8Array = selectSha256(native);

/**
 * Inputs at least this long are worth handing to WebCrypto where `sha256` hashes them in
 * JavaScript (browsers): measured in Chromium here, a digest call costs the page 3.4–3.9 µs up
 * to 2 KiB and 11.5 µs at 16 KiB, against JavaScript's 9.2 and 70.5 µs.
 */
export const OFFLOAD_MIN_BYTES = 2048;

/** An asynchronous native SHA-256 for long inputs, or undefined where `sha256` is native already (or there is none). */
export function selectSha256Offload(
  native: NativeCrypto | undefined,
  subtle: Pick<SubtleCrypto, 'digest'> | undefined,
): ((data: Uint8Array) => Promise<Uint8Array>) | undefined {
  if (typeof native?.hash === 'function' || typeof native?.createHash === 'function') return undefined;
  if (typeof subtle?.digest !== 'function') return undefined;
  // digest() copies its input before it returns: a view into a scratch buffer is safe to pass.
  return async (data) => new Uint8Array(await subtle.digest('SHA-256', data as Uint8Array<ArrayBuffer>));
}

let offload: ((data: Uint8Array) => Promise<Uint8Array>) | null | undefined;

/**
 * WebCrypto's SHA-256 where `sha256` would be JavaScript (browsers), for inputs of
 * OFFLOAD_MIN_BYTES and more; undefined elsewhere. Chosen on first use, so bundles that never
 * call it (a node without chains) carry none of it.
 */
export function sha256Offload(): ((data: Uint8Array) => Promise<Uint8Array>) | undefined {
  if (offload === undefined) offload = selectSha256Offload(native, globalThis.crypto?.subtle) ?? null;
  return offload ?? undefined;
}
