/**
 * SHA-256 (FIPS 180-4) in JavaScript, compressing straight from the input with no allocation
 * but the digest: what weftmesh hashes with where the runtime has no native SHA-256
 * (browsers: WebCrypto's is asynchronous only), and everywhere for inputs of at most
 * SMALL_SHA256_MAX_BYTES (one or two blocks with their padding). Merkle leaves (33 bytes) and
 * interior nodes (65) are most of the hashes a chain or state tree computes, and at those
 * sizes this is 1.2–2× node:crypto's one-shot hash() (whose call costs more than the
 * compression) and ~3× @noble/hashes (`npm run bench hash`). Same digests:
 * test/unit/sha256.test.ts checks it against noble.
 */

import { type MdHash, mdDigest } from './md-digest.ts';
import { primes } from './primes.ts';

/** Inputs up to this many bytes fit two blocks with their padding (0x80 and the 8-byte bit length). */
export const SMALL_SHA256_MAX_BYTES = 119;

const frac32 = (x: number): number => ((x - Math.floor(x)) * 2 ** 32) | 0;
const P = primes(64);
// The round constants and initial state are, by definition, the first 32 fraction bits of the
// cube roots of the first 64 primes and of the square roots of the first 8 (computed rather
// than written out: fewer bytes in a browser bundle; any wrong bit fails every test digest).
const K = Int32Array.from(P, (p) => frac32(Math.cbrt(p)));
const IV = Int32Array.from(P.slice(0, 8), (p) => frac32(Math.sqrt(p)));
const W = new Int32Array(64);
const H = new Int32Array(8);
/** The last one or two blocks: the input's tail and the padding. */
const block = new Uint8Array(128);

function compress(b: Uint8Array, off: number): void {
  for (let i = 0; i < 16; i++) {
    const j = off + 4 * i;
    W[i] = (b[j]! << 24) | (b[j + 1]! << 16) | (b[j + 2]! << 8) | b[j + 3]!;
  }
  for (let i = 16; i < 64; i++) {
    const x = W[i - 15]!;
    const y = W[i - 2]!;
    const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
    const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
    W[i] = (W[i - 16]! + s0 + W[i - 7]! + s1) | 0;
  }
  let a = H[0]!;
  let c1 = H[1]!;
  let c2 = H[2]!;
  let d = H[3]!;
  let e = H[4]!;
  let f = H[5]!;
  let g = H[6]!;
  let h = H[7]!;
  for (let i = 0; i < 64; i++) {
    const s1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const t1 = (h + s1 + ((e & f) ^ (~e & g)) + K[i]! + W[i]!) | 0;
    const s0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const t2 = (s0 + ((a & c1) ^ (a & c2) ^ (c1 & c2))) | 0;
    h = g;
    g = f;
    f = e;
    e = (d + t1) | 0;
    d = c2;
    c2 = c1;
    c1 = a;
    a = (t1 + t2) | 0;
  }
  H[0] = (H[0]! + a) | 0;
  H[1] = (H[1]! + c1) | 0;
  H[2] = (H[2]! + c2) | 0;
  H[3] = (H[3]! + d) | 0;
  H[4] = (H[4]! + e) | 0;
  H[5] = (H[5]! + f) | 0;
  H[6] = (H[6]! + g) | 0;
  H[7] = (H[7]! + h) | 0;
}

const HASH: MdHash = { blockBytes: 64, compress, state: H, iv: IV, tail: block };

/** SHA-256 of `data` (never written to); a fresh 32-byte Uint8Array. */
export function jsSha256(data: Uint8Array): Uint8Array {
  return mdDigest(HASH, data);
}
