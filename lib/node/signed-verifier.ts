/**
 * The boundary where signed objects (membership claims, state entries) are checked before
 * any core sees them: strict body decoding, the signer's admission, and the Ed25519
 * signature over the exact bytes received. Answers are memoized by signature (bounded) and
 * the memo returns the same decoded object, so an object gossiped to a node many times is
 * verified once — and a simulator can share one verifier among all its nodes, which also
 * shares the decoded objects' memory.
 */
import { type MaybePromise, type SignatureVerifier, whenVerified } from '../identity/verifier.ts';
import { type Claim, claimDomain, interpretClaim } from '../membership/claims.ts';
import { copyBytes, equalBytes } from '../util/bytes.ts';
import type { WireClaim } from '../wire/claims.ts';
import { WireError } from '../wire/errors.ts';

export interface VerifierStats {
  verified: number;
  rejected: number;
  memoHits: number;
  size: number;
}

interface Memo<T> {
  sig: Uint8Array;
  body: Uint8Array;
  value: T | null;
}

/** How to read and check one kind of signed object. */
export interface SignedKind<T> {
  /** Strict decode (throws WireError). */
  interpret(wire: WireClaim): T;
  domain(value: T): string;
  /** The signer's public key, or undefined when it is not known (the object is refused). */
  signerKey(value: T): Uint8Array | undefined;
}

/** The first 48 bits of a signature: a numeric map key (hashing a number is cheaper than a string). */
function head48(b: Uint8Array): number {
  return b[0]! * 2 ** 40 + b[1]! * 2 ** 32 + b[2]! * 2 ** 24 + b[3]! * 2 ** 16 + b[4]! * 2 ** 8 + b[5]!;
}

export class SignedVerifier<T> {
  readonly #verifier: SignatureVerifier;
  readonly #kind: SignedKind<T>;
  readonly #capacity: number;
  /** Signature head → memo entries (usually one). Insertion order gives FIFO eviction. */
  readonly #memo = new Map<number, Memo<T> | Array<Memo<T>>>();
  #size = 0;
  readonly #stats = { verified: 0, rejected: 0, memoHits: 0 };

  constructor(verifier: SignatureVerifier, kind: SignedKind<T>, capacity = 16_384) {
    this.#verifier = verifier;
    this.#kind = kind;
    this.#capacity = Math.max(16, capacity);
  }

  /**
   * The verified object, or null (bad body, unknown signer, bad signature, or refused by
   * `admit`). Never throws. Synchronous when memoized or when the verifier is synchronous.
   */
  verify(wire: WireClaim, admit?: (value: T) => boolean): MaybePromise<T | null> {
    const key = head48(wire.s);
    const known = this.#find(key, wire);
    if (known) {
      this.#stats.memoHits++;
      return known.value !== null && (!admit || admit(known.value)) ? known.value : null;
    }
    // Copies: decoded bytes are views into the frame, which must not stay pinned by the memo.
    const copy = { b: copyBytes(wire.b), s: copyBytes(wire.s) };
    let value: T;
    try {
      value = this.#kind.interpret(copy);
    } catch (e) {
      if (!(e instanceof WireError)) throw e;
      this.#stats.rejected++;
      return null;
    }
    if (admit && !admit(value)) return null;
    const signer = this.#kind.signerKey(value);
    if (!signer) return null;
    return whenVerified(
      this.#verifier.verify(signer, this.#kind.domain(value), copy.b, copy.s),
      (ok) => this.#remember(key, copy, value, ok),
      () => this.#remember(key, copy, value, false),
    );
  }

  stats(): VerifierStats {
    return { ...this.#stats, size: this.#size };
  }

  #find(key: number, wire: WireClaim): Memo<T> | undefined {
    const hit = this.#memo.get(key);
    if (hit === undefined) return undefined;
    for (const m of Array.isArray(hit) ? hit : [hit]) {
      if (equalBytes(m.sig, wire.s) && equalBytes(m.body, wire.b)) return m;
    }
    return undefined;
  }

  #remember(key: number, wire: WireClaim, value: T, ok: boolean): T | null {
    if (ok) this.#stats.verified++;
    else this.#stats.rejected++;
    if (this.#size >= this.#capacity) {
      const [oldest, entry] = this.#memo.entries().next().value!;
      this.#memo.delete(oldest);
      this.#size -= Array.isArray(entry) ? entry.length : 1;
    }
    const memo: Memo<T> = { sig: wire.s, body: wire.b, value: ok ? value : null };
    const prev = this.#memo.get(key);
    this.#memo.set(key, prev === undefined ? memo : Array.isArray(prev) ? [...prev, memo] : [prev, memo]);
    this.#size++;
    return ok ? value : null;
  }
}

/** Membership claims: the signer's key is in the claim body. */
export class ClaimVerifier extends SignedVerifier<Claim> {
  constructor(verifier: SignatureVerifier, capacity?: number) {
    super(
      verifier,
      { interpret: interpretClaim, domain: (c) => claimDomain(c.kind), signerKey: (c) => c.signerKey },
      capacity,
    );
  }
}
