/**
 * Ed25519 through node:crypto (OpenSSL), synchronous, where the runtime hands node:crypto out
 * without an import (util/node-builtin.ts): Node and runtimes like it. Signing there costs
 * tens of microseconds instead of about a millisecond of BigInt arithmetic (and needs no
 * base-point table), and verification needs no trip through WebCrypto's thread pool: with 8
 * Node processes forming a cluster on 2 cores, a handshake's asynchronous verification took
 * 160–285 ms p50 (measured), most of it waiting for a turn. Ed25519 signatures are
 * deterministic, so signing gives the same bytes as the JavaScript path; verification runs
 * the shared pre-checks first (ed25519.ts), so its answers equal verifyStrict's
 * (test/unit/native-ed25519.test.ts). Browsers, and runtimes whose node:crypto lacks Ed25519
 * (probed once with RFC 8032's first test vector), or whose verification does not follow the
 * cofactorless equation on a mixed-order key (webcrypto.ts, MIXED_ORDER_PROBE), use the other paths.
 */

import { setBounded } from '../util/bounded-map.ts';
import { bytesKey, concatBytes, copyBytes, equalBytes, fromHex } from '../util/bytes.ts';
import { nodeBuiltin } from '../util/node-builtin.ts';
import { passesPrechecks, verifyStrict } from './ed25519.ts';
import { MIXED_ORDER_PROBE, PKCS8_PREFIX, PROBE_KEY, PROBE_SEED, PROBE_SIG } from './webcrypto.ts';

/** The part of node:crypto used here (KeyObjects stay opaque). */
interface NodeEd25519 {
  createPrivateKey(o: { key: Uint8Array; format: 'der'; type: 'pkcs8' }): NativeKey;
  createPublicKey(o: NativeKey | { key: Uint8Array; format: 'der'; type: 'spki' }): NativeKey;
  sign(algorithm: null, data: Uint8Array, key: NativeKey): Uint8Array;
  verify(algorithm: null, data: Uint8Array, key: NativeKey, signature: Uint8Array): boolean;
}
interface NativeKey {
  export(o: { format: 'der'; type: 'spki' }): Uint8Array;
}

/** DER prefix of an SPKI Ed25519 public key; the 32-byte key follows. */
const SPKI_PREFIX = fromHex('302a300506032b6570032100');

let probed: NodeEd25519 | null | undefined;

/** node:crypto when it signs and verifies RFC 8032's first test vector correctly, else undefined. */
function native(): NodeEd25519 | undefined {
  if (probed === undefined) {
    probed = null;
    const c = nodeBuiltin<NodeEd25519>('node:crypto');
    try {
      if (c && typeof c.sign === 'function' && typeof c.createPrivateKey === 'function') {
        const key = c.createPrivateKey({
          key: concatBytes(PKCS8_PREFIX, PROBE_SEED),
          format: 'der',
          type: 'pkcs8',
        });
        const empty = new Uint8Array(0);
        const verifies = (raw: Uint8Array, sig: Uint8Array) =>
          c.verify(
            null,
            empty,
            c.createPublicKey({ key: concatBytes(SPKI_PREFIX, raw), format: 'der', type: 'spki' }),
            sig,
          );
        if (
          equalBytes(c.sign(null, empty, key), PROBE_SIG) &&
          verifies(PROBE_KEY, PROBE_SIG) &&
          verifies(MIXED_ORDER_PROBE.key, MIXED_ORDER_PROBE.valid) &&
          !verifies(MIXED_ORDER_PROBE.key, MIXED_ORDER_PROBE.cofactoredOnly)
        )
          probed = c;
      }
    } catch {
      probed = null;
    }
  }
  return probed ?? undefined;
}

/** Whether this runtime signs and verifies through node:crypto. */
export function nativeEd25519Available(): boolean {
  return native() !== undefined;
}

export interface NativeSigner {
  readonly publicKey: Uint8Array;
  sign(message: Uint8Array): Uint8Array;
}

/** A signer over `seed` through node:crypto, or undefined where the runtime has none. */
export function nativeSigner(seed: Uint8Array): NativeSigner | undefined {
  const c = native();
  if (!c) return undefined;
  const key = c.createPrivateKey({ key: concatBytes(PKCS8_PREFIX, seed), format: 'der', type: 'pkcs8' });
  const spki = c.createPublicKey(key).export({ format: 'der', type: 'spki' });
  return {
    publicKey: copyBytes(spki.subarray(spki.length - 32)),
    sign: (message) => copyBytes(c.sign(null, message, key)),
  };
}

const publicKeys = new Map<string, NativeKey>();
const KEY_CACHE_LIMIT = 4096;

/** Verify through node:crypto (call only where nativeEd25519Available()); pre-checks first. */
export function nativeVerify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  const c = native()!;
  if (!passesPrechecks(publicKey, signature)) return false;
  const id = bytesKey(publicKey);
  let key = publicKeys.get(id);
  if (!key) {
    try {
      key = c.createPublicKey({ key: concatBytes(SPKI_PREFIX, publicKey), format: 'der', type: 'spki' });
    } catch {
      // Deno's node:crypto decodes the point here and throws for bytes that are none; OpenSSL waits for verify.
      return false;
    }
    setBounded(publicKeys, id, key, KEY_CACHE_LIMIT);
  }
  return c.verify(null, message, key, signature);
}

/**
 * Strict verification, synchronous: through node:crypto where it is available (the same
 * answers, ~20× faster), else in JavaScript (verifyStrict).
 */
export function verifySync(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  return nativeEd25519Available()
    ? nativeVerify(publicKey, message, signature)
    : verifyStrict(publicKey, message, signature);
}
