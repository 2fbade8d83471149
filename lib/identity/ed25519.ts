/**
 * Ed25519 with one verification rule on every backend.
 *
 * noble's default is permissive ZIP-215; WebCrypto (OpenSSL, BoringSSL, ring) is strict and
 * cofactorless. Implementations disagree on crafted signatures (non-canonical encodings,
 * small-order points, the cofactored against the cofactorless equation), so browsers and
 * Node could disagree about a claim. weftmesh therefore fixes the rule and applies it before
 * any backend is asked:
 *
 * - the public key is a canonical encoding of a point that is not of small order;
 * - S < L (RFC 8032 §5.1.7 step 1);
 * - R is not one of the small-order encodings;
 * - cofactorless equation: encode([S]B − [k]A) must equal the R bytes exactly.
 *
 * The equation is an exact group identity, so every cofactorless backend gives the same
 * answer for the same bytes, mixed-order keys (a prime-order point plus a torsion point)
 * included: verifyStrict computes it here, and a native backend is used only after it
 * answered a mixed-order probe as the equation does (webcrypto.ts, MIXED_ORDER_PROBE).
 * Refusing mixed-order keys as well (checking [L]A = 0) would keep nothing out — whoever
 * holds a key's secret can make 8 such variants of it, and could make fresh keys anyway —
 * and it cost every new key ~1 ms of BigInt arithmetic, several in a tab's cold start:
 * 8 tabs formed about 60 ms sooner without it (docs/BROADCAST-CHANNEL.md).
 */
import * as ed from '@noble/ed25519';
import { setBounded } from '../util/bounded-map.ts';
import { bytesKey, concatBytes, equalBytes, fromHex } from '../util/bytes.ts';
import { sha512 } from '../util/sha512-js.ts';

ed.hashes.sha512 = sha512;

/** Order of the prime-order subgroup. */
const L = 0x1000000000000000000000000000000014def9dea2f79cd65812631a5cf5d3edn;

/** y-coordinates (sign bit cleared) of the small-order points, incl. non-canonical 2^255-19 and +1 (as libsodium). */
const SMALL_ORDER_Y = [
  '0000000000000000000000000000000000000000000000000000000000000000',
  '0100000000000000000000000000000000000000000000000000000000000000',
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05',
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a',
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
].map(fromHex);

/** Checked on every verification (key and R): a byte comparison, no copy. */
export function hasSmallOrderEncoding(point: Uint8Array): boolean {
  if (point.length !== 32) return false;
  return SMALL_ORDER_Y.some((y) => {
    for (let i = 0; i < 31; i++) if (point[i] !== y[i]) return false;
    return (point[31]! & 0x7f) === y[31];
  });
}

function scalarLE(bytes: Uint8Array): bigint {
  let n = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i]!);
  return n;
}

/** Remembers which public keys decoded (a square root each) and passed. Bounded. */
const keyMemo = new Map<string, ed.Point | null>();
const KEY_MEMO_LIMIT = 8192;

/** The decoded point when `publicKey` is acceptable under the rule above, else null. */
export function acceptablePublicKey(publicKey: Uint8Array): ed.Point | null {
  if (publicKey.length !== 32) return null;
  const key = bytesKey(publicKey);
  const memo = keyMemo.get(key);
  if (memo !== undefined) return memo;
  let point: ed.Point | null = null;
  try {
    const p = ed.Point.fromBytes(publicKey, false);
    if (!p.isSmallOrder()) point = p;
  } catch {
    point = null;
  }
  setBounded(keyMemo, key, point, KEY_MEMO_LIMIT);
  return point;
}

/** Whether the encoding's y (sign bit cleared) is below p = 2^255 − 19, as RFC 8032 decoding requires. */
function reducedY(e: Uint8Array): boolean {
  if ((e[31]! & 0x7f) !== 0x7f) return true;
  for (let i = 30; i >= 1; i--) if (e[i] !== 0xff) return true;
  return e[0]! < 0xed;
}

/**
 * The key checks that need no curve arithmetic: 32 bytes, y reduced, not the encoding of a
 * small-order point. Whether the bytes are a point at all, the backend's own decoding decides
 * (verifyStrict decodes; OpenSSL, BoringSSL and ring refuse a signature under bytes that are
 * no point), so the native paths skip the square root of a decoding per new key.
 */
function acceptableKeyEncoding(publicKey: Uint8Array): boolean {
  return publicKey.length === 32 && reducedY(publicKey) && !hasSmallOrderEncoding(publicKey);
}

/** The checks that do not need the curve equation; shared by the noble and native paths. */
export function passesPrechecks(publicKey: Uint8Array, signature: Uint8Array): boolean {
  if (signature.length !== 64 || !acceptableKeyEncoding(publicKey)) return false;
  if (scalarLE(signature.subarray(32)) >= L) return false;
  return !hasSmallOrderEncoding(signature.subarray(0, 32));
}

/**
 * Strict RFC 8032 verification (cofactorless), synchronous, pure JavaScript. [s]B goes through
 * multiplyBase, not noble's Point.BASE.multiply, whose first call builds noble's ~1.1 MiB
 * base-point table (see there): first verification 2.3 ms instead of 17.7, then 1.21 ms
 * against 1.15 (Node 20, this machine).
 */
export function verifyStrict(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (!passesPrechecks(publicKey, signature)) return false;
  const A = acceptablePublicKey(publicKey);
  if (!A) return false;
  const R = signature.subarray(0, 32);
  const s = scalarLE(signature.subarray(32));
  const k = scalarLE(sha512(concatBytes(R, publicKey, message))) % L;
  const check = multiplyBase(s).subtract(A.multiply(k, false));
  return equalBytes(check.toBytes(), R);
}

/**
 * [n]B with a table of 520 points (65 windows of 4 bits), built on use (held weakly, below). noble's own
 * base-point table (windows of 8 bits: 4,224 points) holds about 1.1 MiB of heap for good and
 * takes tens of milliseconds to build — a third of a browser tab's heap, paid at its start —
 * for signatures about twice as fast as these. Same structure as noble's: signed digits, and
 * a dummy addition for every zero digit so the work does not follow the scalar's digits.
 */
function multiplyBase(n: bigint): ed.Point {
  let table = baseTable?.deref();
  if (!table) {
    table = buildBaseTable();
    baseTable = new WeakRef(table);
  }
  let p = ed.Point.ZERO;
  let dummy = ed.Point.BASE;
  for (let w = 0; w < WINDOWS; w++) {
    let digit = Number(n & 15n);
    n >>= 4n;
    if (digit > 8) {
      digit -= 16;
      n += 1n;
    }
    const row = table[w]!;
    if (digit === 0) dummy = dummy.add(w % 2 ? row[0]!.negate() : row[0]!);
    else {
      const q = row[Math.abs(digit) - 1]!;
      p = p.add(digit < 0 ? q.negate() : q);
    }
  }
  if (n !== 0n) throw new Error('base-point multiplication: scalar out of range');
  return p;
}

/** 4-bit windows over 256 bits, plus one for the last carry. */
const WINDOWS = 65;
/**
 * Held weakly: a node signs in bursts (its claims and handshakes at start, a refutation now
 * and then), and an idle browser tab has no use for the table's ~116 KiB of BigInts between
 * them. A major collection frees it; the next signature rebuilds it (~1.5 ms warm, 6 ms cold).
 */
let baseTable: WeakRef<ed.Point[][]> | undefined;

/** Row w holds 1·2^(4w)·B … 8·2^(4w)·B. */
function buildBaseTable(): ed.Point[][] {
  const rows: ed.Point[][] = [];
  let base = ed.Point.BASE;
  for (let w = 0; w < WINDOWS; w++) {
    const row = [base];
    for (let i = 1; i < 8; i++) row.push(row[i - 1]!.add(base));
    rows.push(row);
    base = row[7]!.double();
  }
  return rows;
}

/** A seed expanded once (RFC 8032 §5.1.5): signing with it skips the hash and the base-point multiplication that derive it. */
export interface ExpandedKey {
  readonly scalar: bigint;
  readonly prefix: Uint8Array;
  readonly publicKey: Uint8Array;
}

export function expandSeed(seed: Uint8Array): ExpandedKey {
  const h = sha512(seed);
  const head = h.slice(0, 32);
  head[0]! &= 248;
  head[31]! &= 127;
  head[31]! |= 64;
  const scalar = scalarLE(head) % L;
  return { scalar, prefix: h.slice(32), publicKey: multiplyBase(scalar).toBytes() };
}

function scalarBytes(n: bigint): Uint8Array {
  const b = new Uint8Array(32);
  for (let i = 0; i < 32; i++, n >>= 8n) b[i] = Number(n & 0xffn);
  return b;
}

/** RFC 8032 §5.1.6 signature with an expanded key: the same bytes as noble's sign(message, seed). */
export function signExpanded(key: ExpandedKey, message: Uint8Array): Uint8Array {
  const r = scalarLE(sha512(concatBytes(key.prefix, message))) % L;
  const R = multiplyBase(r).toBytes();
  const k = scalarLE(sha512(concatBytes(R, key.publicKey, message))) % L;
  return concatBytes(R, scalarBytes((r + k * key.scalar) % L));
}

export function randomSeed(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(32));
}
