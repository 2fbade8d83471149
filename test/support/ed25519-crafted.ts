/**
 * Crafted Ed25519 inputs on which implementations disagree unless one rule is enforced:
 * small-order and mixed-order points, non-canonical encodings, unreduced S.
 */
import * as ed from '@noble/ed25519';
import { sha512 } from '@noble/hashes/sha2.js';
import { concatBytes } from '../../lib/util/bytes.ts';

export const L = 0x1000000000000000000000000000000014def9dea2f79cd65812631a5cf5d3edn;
const P = 2n ** 255n - 19n;

function le(n: bigint, len = 32): Uint8Array {
  const out = new Uint8Array(len);
  for (let i = 0; i < len; i++) {
    out[i] = Number(n & 0xffn);
    n >>= 8n;
  }
  return out;
}

function fromLe(b: Uint8Array): bigint {
  let n = 0n;
  for (let i = b.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(b[i]!);
  return n;
}

/** A point of order 8 (generates the torsion subgroup). */
export function torsionPoint(): ed.Point {
  for (let y = 2n; ; y++) {
    try {
      const p = ed.Point.fromBytes(le(y), false);
      // Cofactor-clearing the prime-order part leaves only the torsion component.
      const t = p.multiply(L - 1n, false).add(p);
      if (!t.is0() && t.multiply(4n, false).is0() === false) return t;
    } catch {
      /* not on the curve: try the next y */
    }
  }
}

/** The secret scalar and prefix RFC 8032 derives from a seed. */
function expand(seed: Uint8Array): { a: bigint; prefix: Uint8Array } {
  const h = sha512(seed);
  const head = h.slice(0, 32);
  head[0]! &= 248;
  head[31]! &= 127;
  head[31]! |= 64;
  return { a: fromLe(head), prefix: h.slice(32) };
}

/**
 * A signature whose R carries a torsion component: valid under the cofactored equation
 * (noble's default check), invalid under the cofactorless one (OpenSSL, BoringSSL).
 */
export function mixedOrderRSignature(
  seed: Uint8Array,
  message: Uint8Array,
): { publicKey: Uint8Array; signature: Uint8Array } {
  const { a, prefix } = expand(seed);
  const A = ed.Point.BASE.multiply(a % L);
  const r = fromLe(sha512(concatBytes(prefix, message))) % L;
  const R = ed.Point.BASE.multiply(r).add(torsionPoint());
  const Rb = R.toBytes();
  const publicKey = A.toBytes();
  const k = fromLe(sha512(concatBytes(Rb, publicKey, message))) % L;
  const s = (r + k * a) % L;
  return { publicKey, signature: concatBytes(Rb, le(s)) };
}

/**
 * A public key with a torsion component, A + T8 (not small order, not prime order), and two
 * signatures of `message` under it, each the first found with R = [r]B for r = 1, 2, …:
 * `valid` satisfies the cofactorless equation ([k]T8 vanishes: 8 divides k), `cofactoredOnly`
 * only the cofactored one (8 does not divide k, so [S]B − [k]A' = R − [k]T8 ≠ R).
 */
export function mixedOrderKeySignatures(
  seed: Uint8Array,
  message: Uint8Array,
): { publicKey: Uint8Array; valid: Uint8Array; cofactoredOnly: Uint8Array } {
  const a = expand(seed).a % L;
  const publicKey = ed.Point.BASE.multiply(a).add(torsionPoint()).toBytes();
  let valid: Uint8Array | undefined;
  let cofactoredOnly: Uint8Array | undefined;
  for (let r = 1n; !(valid && cofactoredOnly); r++) {
    const R = ed.Point.BASE.multiply(r).toBytes();
    const k = fromLe(sha512(concatBytes(R, publicKey, message))) % L;
    const signature = concatBytes(R, le((r + k * a) % L));
    if (k % 8n === 0n) valid ??= signature;
    else cofactoredOnly ??= signature;
  }
  return { publicKey, valid, cofactoredOnly };
}

/** A valid curve point given with a non-canonical y (y + p), accepted only by ZIP-215 decoding. */
export function nonCanonicalPoint(): Uint8Array {
  for (let y = 2n; y < 19n; y++) {
    try {
      ed.Point.fromBytes(le(y), false);
      return le(y + P);
    } catch {
      /* y not on the curve */
    }
  }
  throw new Error('no small y on the curve');
}

/** The same signature with S replaced by S + L (unreduced, still < 2^256). */
export function unreducedS(signature: Uint8Array): Uint8Array {
  const s = fromLe(signature.subarray(32));
  return concatBytes(signature.subarray(0, 32), le(s + L));
}

export const IDENTITY_POINT = le(1n);
