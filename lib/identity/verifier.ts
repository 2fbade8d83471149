/**
 * Signature verification at the node boundary. Cores stay synchronous; the boundary may be
 * asynchronous (WebCrypto). A bounded memo keyed by the exact bytes means a claim gossiped
 * to a node many times is verified once — and one memo can serve every node of a simulation.
 */

import { setBounded } from '../util/bounded-map.ts';
import { bytesKey, concatBytes } from '../util/bytes.ts';
import { sha256 } from '../util/sha256.ts';
import { verifyStrict } from './ed25519.ts';
import { nativeEd25519Available, nativeVerify } from './native-ed25519.ts';
import type { SignedEnvelope } from './signed.ts';
import { signingInput } from './signed.ts';
import { webCryptoAvailable, webCryptoVerify } from './webcrypto.ts';

export type MaybePromise<T> = T | Promise<T>;

function isPromise<T>(value: MaybePromise<T>): value is Promise<T> {
  return (
    typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function'
  );
}

/**
 * Continues with a verification result that may or may not be a promise: `then(value)` at
 * once when it is a value — so a synchronous verifier keeps its callers synchronous, and the
 * simulator's order of events stays what it was — else when the promise settles, with
 * `onError(error)` if it rejects (without `onError`, the rejection is passed on). Returns what
 * `then` or `onError` return: synchronously for a value, as a promise for a promise.
 */
export function whenVerified<T, U>(
  result: MaybePromise<T>,
  then: (value: T) => U,
  onError?: (error: unknown) => U,
): MaybePromise<U> {
  return isPromise(result) ? result.then(then, onError) : then(result);
}

/** A batch of maybe-async results as one: synchronous when none is a promise, else a promise of all. */
export function allVerified<T>(results: readonly MaybePromise<T>[]): MaybePromise<T[]> {
  return results.some(isPromise) ? Promise.all(results) : (results as T[]);
}

export interface SignatureVerifier {
  /** Verifies `signature` over signingInput(domain, payload) under `publicKey`. */
  verify(
    publicKey: Uint8Array,
    domain: string,
    payload: Uint8Array,
    signature: Uint8Array,
  ): MaybePromise<boolean>;
}

/** Pure JavaScript, synchronous: deterministic, used by the simulator. */
export const strictVerifier: SignatureVerifier = {
  verify: (publicKey, domain, payload, signature) =>
    verifyStrict(publicKey, signingInput(domain, payload), signature),
};

/**
 * node:crypto, synchronously, where the runtime has it (native-ed25519.ts); else WebCrypto when
 * the runtime has Ed25519; else pure JavaScript. Same answers every way.
 */
export const fastVerifier: SignatureVerifier = nativeEd25519Available()
  ? {
      verify: (publicKey, domain, payload, signature) =>
        nativeVerify(publicKey, signingInput(domain, payload), signature),
    }
  : {
      async verify(publicKey, domain, payload, signature) {
        const input = signingInput(domain, payload);
        if (await webCryptoAvailable()) return webCryptoVerify(publicKey, input, signature);
        return verifyStrict(publicKey, input, signature);
      },
    };

export interface VerificationCacheStats {
  hits: number;
  misses: number;
  size: number;
}

/** Memoizes another verifier's answers (valid and invalid) by a digest of the exact bytes. LRU-bounded. */
export class CachedVerifier implements SignatureVerifier {
  readonly #inner: SignatureVerifier;
  readonly #capacity: number;
  readonly #memo = new Map<string, boolean>();
  #hits = 0;
  #misses = 0;

  constructor(inner: SignatureVerifier, capacity = 16384) {
    this.#inner = inner;
    this.#capacity = Math.max(1, capacity);
  }

  verify(
    publicKey: Uint8Array,
    domain: string,
    payload: Uint8Array,
    signature: Uint8Array,
  ): MaybePromise<boolean> {
    const key = bytesKey(sha256(concatBytes(publicKey, signature, signingInput(domain, payload))));
    const known = this.#memo.get(key);
    if (known !== undefined) {
      this.#hits++;
      this.#memo.delete(key);
      this.#memo.set(key, known);
      return known;
    }
    this.#misses++;
    return whenVerified(this.#inner.verify(publicKey, domain, payload, signature), (ok) => {
      this.#remember(key, ok);
      return ok;
    });
  }

  stats(): VerificationCacheStats {
    return { hits: this.#hits, misses: this.#misses, size: this.#memo.size };
  }

  #remember(key: string, ok: boolean): void {
    setBounded(this.#memo, key, ok, this.#capacity);
  }
}

export function verifyEnvelope(
  verifier: SignatureVerifier,
  publicKey: Uint8Array,
  envelope: SignedEnvelope,
): MaybePromise<boolean> {
  return verifier.verify(publicKey, envelope.domain, envelope.payload, envelope.signature);
}
