/**
 * SHA-512 (FIPS 180-4) in JavaScript, for Ed25519 (RFC 8032 hashes with it). Each 64-bit
 * word is a pair of 32-bit halves (high, low), as JavaScript has no fast 64-bit integers.
 * Written here rather than taken from @noble/hashes: that package's SHA-2 and SHA-3 modules
 * with their shared helpers were 12 KB of every browser bundle's core, this file and
 * shake256.ts about a fifth of that (`npm run bench bundle`). Same digests as node:crypto
 * for every length tried (test/unit/sha512-shake256.test.ts); no branch or table lookup
 * depends on the input, as for any SHA-2.
 */
import { type MdHash, mdDigest } from './md-digest.ts';
import { primes } from './primes.ts';

const MASK64 = (1n << 64n) - 1n;

/** ⌊n^(1/k)⌋ for k = 2 or 3: a double's estimate, then Newton steps and a final correction. */
function root(n: bigint, k: bigint): bigint {
  let x = BigInt(Math.round(Number(n) ** (1 / Number(k))));
  for (let i = 0; i < 4; i++) x = ((k - 1n) * x + n / x ** (k - 1n)) / k;
  while (x ** k > n) x--;
  while ((x + 1n) ** k <= n) x++;
  return x;
}

/** The first 64 fraction bits of p^(1/k) for each prime p, as (high, low) pairs. */
function fractions(ps: number[], k: bigint): Int32Array {
  const out = new Int32Array(2 * ps.length);
  ps.forEach((p, i) => {
    const v = root(BigInt(p) << (64n * k), k) & MASK64;
    out[2 * i] = Number(v >> 32n);
    out[2 * i + 1] = Number(v & 0xffffffffn);
  });
  return out;
}

// By definition: the cube roots of the first 80 primes and the square roots of the first 8
// (computed, not written out: fewer bytes in a bundle; any wrong bit fails every digest).
const P = primes(80);
const K = fractions(P, 3n);
const IV = fractions(P.slice(0, 8), 2n);
const W = new Int32Array(160);
const H = new Int32Array(16);
const block = new Uint8Array(256);

// Rotations right of the 64-bit word (h, l): high and low half, for n < 32 and 32 < n < 64.
const rh = (h: number, l: number, n: number) => (h >>> n) | (l << (32 - n));
const rl = (h: number, l: number, n: number) => (l >>> n) | (h << (32 - n));
const be32 = (b: Uint8Array, j: number) => (b[j]! << 24) | (b[j + 1]! << 16) | (b[j + 2]! << 8) | b[j + 3]!;
/** The carry out of a sum of unsigned low halves (below 2^35). */
const carry = (lo: number) => (lo / 0x100000000) | 0;

function compress(b: Uint8Array, off: number): void {
  for (let i = 0; i < 32; i++) W[i] = be32(b, off + 4 * i);
  for (let i = 32; i < 160; i += 2) {
    const xh = W[i - 30]!;
    const xl = W[i - 29]!;
    const yh = W[i - 4]!;
    const yl = W[i - 3]!;
    // σ0 = ROTR1 ^ ROTR8 ^ SHR7; σ1 = ROTR19 ^ ROTR61 ^ SHR6.
    const s0h = rh(xh, xl, 1) ^ rh(xh, xl, 8) ^ (xh >>> 7);
    const s0l = rl(xh, xl, 1) ^ rl(xh, xl, 8) ^ rl(xh, xl, 7);
    const s1h = rh(yh, yl, 19) ^ rh(yl, yh, 29) ^ (yh >>> 6);
    const s1l = rl(yh, yl, 19) ^ rl(yl, yh, 29) ^ rl(yh, yl, 6);
    const lo = (W[i - 31]! >>> 0) + (s0l >>> 0) + (W[i - 13]! >>> 0) + (s1l >>> 0);
    W[i] = W[i - 32]! + s0h + W[i - 14]! + s1h + carry(lo);
    W[i + 1] = lo;
  }
  let ah = H[0]!;
  let al = H[1]!;
  let bh = H[2]!;
  let bl = H[3]!;
  let ch = H[4]!;
  let cl = H[5]!;
  let dh = H[6]!;
  let dl = H[7]!;
  let eh = H[8]!;
  let el = H[9]!;
  let fh = H[10]!;
  let fl = H[11]!;
  let gh = H[12]!;
  let gl = H[13]!;
  let hh = H[14]!;
  let hl = H[15]!;
  for (let i = 0; i < 160; i += 2) {
    // Σ1(e) = ROTR14 ^ ROTR18 ^ ROTR41; Σ0(a) = ROTR28 ^ ROTR34 ^ ROTR39 (over 32: halves swap).
    const s1h = rh(eh, el, 14) ^ rh(eh, el, 18) ^ rh(el, eh, 9);
    const s1l = rl(eh, el, 14) ^ rl(eh, el, 18) ^ rl(el, eh, 9);
    const chh = (eh & fh) ^ (~eh & gh);
    const chl = (el & fl) ^ (~el & gl);
    const t1l = (hl >>> 0) + (s1l >>> 0) + (chl >>> 0) + (K[i + 1]! >>> 0) + (W[i + 1]! >>> 0);
    const t1h = hh + s1h + chh + K[i]! + W[i]! + carry(t1l);
    const s0h = rh(ah, al, 28) ^ rh(al, ah, 2) ^ rh(al, ah, 7);
    const s0l = rl(ah, al, 28) ^ rl(al, ah, 2) ^ rl(al, ah, 7);
    const t2l = (s0l >>> 0) + (((al & bl) ^ (al & cl) ^ (bl & cl)) >>> 0);
    const t2h = s0h + ((ah & bh) ^ (ah & ch) ^ (bh & ch)) + carry(t2l);
    hh = gh;
    hl = gl;
    gh = fh;
    gl = fl;
    fh = eh;
    fl = el;
    const el2 = (dl >>> 0) + (t1l >>> 0);
    eh = (dh + t1h + carry(el2)) | 0;
    el = el2 | 0;
    dh = ch;
    dl = cl;
    ch = bh;
    cl = bl;
    bh = ah;
    bl = al;
    const al2 = (t1l >>> 0) + (t2l >>> 0);
    ah = (t1h + t2h + carry(al2)) | 0;
    al = al2 | 0;
  }
  const add = (j: number, h: number, l: number) => {
    const lo = (H[j + 1]! >>> 0) + (l >>> 0);
    H[j] = H[j]! + h + carry(lo);
    H[j + 1] = lo;
  };
  add(0, ah, al);
  add(2, bh, bl);
  add(4, ch, cl);
  add(6, dh, dl);
  add(8, eh, el);
  add(10, fh, fl);
  add(12, gh, gl);
  add(14, hh, hl);
}

const HASH: MdHash = { blockBytes: 128, compress, state: H, iv: IV, tail: block };

/** SHA-512 of `data` (never written to); a fresh 64-byte Uint8Array. */
export function sha512(data: Uint8Array): Uint8Array<ArrayBuffer> {
  return mdDigest(HASH, data);
}
