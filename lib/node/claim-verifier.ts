/**
 * The boundary where membership claims are checked before any core sees them: strict body
 * decoding, the signer's admission, and the Ed25519 signature over the exact bytes received.
 * Answers are memoized by signature (bounded LRU) and the memo returns the same Claim object,
 * so a claim gossiped to a node many times is verified once — and a simulator can share one
 * ClaimVerifier among all its nodes, which also shares the decoded claims' memory.
 */
import type { MaybePromise, SignatureVerifier } from '../identity/verifier.ts';
import { type Claim, claimDomain, interpretClaim } from '../membership/claims.ts';
import { equalBytes } from '../util/bytes.ts';
import type { WireClaim } from '../wire/claims.ts';
import { WireError } from '../wire/errors.ts';

export interface ClaimVerifierStats {
  verified: number;
  rejected: number;
  memoHits: number;
  size: number;
}

interface Memo {
  sig: Uint8Array;
  body: Uint8Array;
  claim: Claim | null;
}

/** The first 48 bits of a signature: a numeric map key (hashing a number is cheaper than a string). */
function head48(b: Uint8Array): number {
  return b[0]! * 2 ** 40 + b[1]! * 2 ** 32 + b[2]! * 2 ** 24 + b[3]! * 2 ** 16 + b[4]! * 2 ** 8 + b[5]!;
}

export class ClaimVerifier {
  readonly #verifier: SignatureVerifier;
  readonly #capacity: number;
  /** Signature head → memo entries (usually one). Insertion order gives FIFO eviction. */
  readonly #memo = new Map<number, Memo | Memo[]>();
  #size = 0;
  readonly #stats = { verified: 0, rejected: 0, memoHits: 0 };

  constructor(verifier: SignatureVerifier, capacity = 16_384) {
    this.#verifier = verifier;
    this.#capacity = Math.max(16, capacity);
  }

  /**
   * The verified claim, or null (bad body, bad signature, or refused by `admit`). Never
   * throws. Synchronous when the memo knows the claim or the verifier is synchronous.
   */
  verify(wire: WireClaim, admit?: (claim: Claim) => boolean): MaybePromise<Claim | null> {
    const key = head48(wire.s);
    const known = this.#find(key, wire);
    if (known) {
      this.#stats.memoHits++;
      return known.claim && (!admit || admit(known.claim)) ? known.claim : null;
    }
    let claim: Claim;
    try {
      // Copies: the decoded bytes are views into the frame, which must not stay pinned by the memo.
      claim = interpretClaim({ b: wire.b.slice(), s: wire.s.slice() });
    } catch (e) {
      if (!(e instanceof WireError)) throw e;
      this.#stats.rejected++;
      return null;
    }
    if (admit && !admit(claim)) return null;
    const ok = this.#verifier.verify(claim.signerKey, claimDomain(claim.kind), wire.b, wire.s);
    if (typeof ok === 'boolean') return this.#remember(key, claim, ok);
    return ok.then(
      (v) => this.#remember(key, claim, v),
      () => this.#remember(key, claim, false),
    );
  }

  stats(): ClaimVerifierStats {
    return { ...this.#stats, size: this.#size };
  }

  #find(key: number, wire: WireClaim): Memo | undefined {
    const hit = this.#memo.get(key);
    if (hit === undefined) return undefined;
    for (const m of Array.isArray(hit) ? hit : [hit]) {
      if (equalBytes(m.sig, wire.s) && equalBytes(m.body, wire.b)) return m;
    }
    return undefined;
  }

  #remember(key: number, claim: Claim, ok: boolean): Claim | null {
    if (ok) this.#stats.verified++;
    else this.#stats.rejected++;
    if (this.#size >= this.#capacity) {
      const [oldest, entry] = this.#memo.entries().next().value!;
      this.#memo.delete(oldest);
      this.#size -= Array.isArray(entry) ? entry.length : 1;
    }
    const memo: Memo = { sig: claim.wire.s, body: claim.wire.b, claim: ok ? claim : null };
    const prev = this.#memo.get(key);
    this.#memo.set(key, prev === undefined ? memo : Array.isArray(prev) ? [...prev, memo] : [prev, memo]);
    this.#size++;
    return ok ? claim : null;
  }
}
