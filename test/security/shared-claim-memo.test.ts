// The claim verifier a simulation shares among all its nodes memoizes verdicts by the exact
// bytes received: a cached valid claim must never vouch for a forgery that shares parts of it.
import { describe, expect, it } from 'vitest';
import { NodeIdentity } from '../../lib/identity/node-identity.ts';
import { strictVerifier } from '../../lib/identity/verifier.ts';
import { type Claim, signClaim } from '../../lib/membership/claims.ts';
import { ClaimVerifier } from '../../lib/node/signed-verifier.ts';

const seed = (n: number) => new Uint8Array(32).fill(n);

describe('shared claim verifier memo', () => {
  const author = NodeIdentity.fromSecretKey(seed(1));
  const other = NodeIdentity.fromSecretKey(seed(2));
  const claim = signClaim(author, 'alive', { incarnation: 3, addrs: ['mem:h1'] });

  it('a forged signature over a cached claim body is still rejected', () => {
    const memo = new ClaimVerifier(strictVerifier);
    expect(memo.verify(claim.wire)).toBe(memo.verify({ b: claim.wire.b, s: claim.wire.s }));
    expect(memo.verify(claim.wire)).not.toBeNull();
    // Same body, same first 48 bits of the signature (the memo's bucket), the rest changed.
    const s = claim.wire.s.slice();
    s[63]! ^= 1;
    expect(memo.verify({ b: claim.wire.b, s })).toBeNull();
    // Same body, another signer's signature over it.
    const foreign = signClaim(other, 'alive', { incarnation: 3, addrs: ['mem:h1'] });
    expect(memo.verify({ b: claim.wire.b, s: foreign.wire.s })).toBeNull();
    expect(memo.stats().verified).toBe(1);
    expect(memo.stats().rejected).toBe(2);
  });

  it('a cached signature over another body is rejected', () => {
    const memo = new ClaimVerifier(strictVerifier);
    expect(memo.verify(claim.wire)).not.toBeNull();
    const b = claim.wire.b.slice();
    b[b.length - 1]! ^= 1;
    expect(memo.verify({ b, s: claim.wire.s })).toBeNull();
    // A rejected forgery is remembered as rejected, and the valid claim as valid.
    expect(memo.verify({ b, s: claim.wire.s })).toBeNull();
    expect(memo.verify(claim.wire)).not.toBeNull();
  });

  it('a bad signature verified first does not make the valid claim fail', () => {
    const memo = new ClaimVerifier(strictVerifier);
    const s = claim.wire.s.slice();
    s[40]! ^= 0x80;
    expect(memo.verify({ b: claim.wire.b, s })).toBeNull();
    // The strict verifier is synchronous: verdicts are values, not promises.
    expect((memo.verify(claim.wire) as Claim | null)?.incarnation).toBe(3);
  });
});
