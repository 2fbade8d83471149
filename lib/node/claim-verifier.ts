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
  body: Uint8Array;
  claim: Claim | null;
}

export class ClaimVerifier {
  readonly #verifier: SignatureVerifier;
  readonly #capacity: number;
  readonly #memo = new Map<string, Memo>();
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
    const key = String.fromCharCode.apply(null, wire.s as unknown as number[]);
    const known = this.#memo.get(key);
    if (known && equalBytes(known.body, wire.b)) {
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
    return { ...this.#stats, size: this.#memo.size };
  }

  #remember(key: string, claim: Claim, ok: boolean): Claim | null {
    if (ok) this.#stats.verified++;
    else this.#stats.rejected++;
    if (this.#memo.size >= this.#capacity) this.#memo.delete(this.#memo.keys().next().value!);
    this.#memo.set(key, { body: claim.wire.b, claim: ok ? claim : null });
    return ok ? claim : null;
  }
}
