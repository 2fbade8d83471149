/**
 * Strict, single-pass decoder for the CBOR subset weftmesh speaks (see cbor.ts), written for
 * hostile input: definite lengths only, unsigned/negative integers, byte and UTF-8 text
 * strings, arrays, maps with unique text keys (never `__proto__`), false/true/null and
 * half/single/double floats. No tags, no undefined, no other simple values, nothing after
 * the item. Nesting and collection sizes are bounded by the caller's limits, and a length
 * is checked against the bytes left before anything is allocated for it.
 *
 * Values are what cbor-x 1.6.9 (weftmesh's earlier codec) returned for the same bytes:
 * maps become plain objects, 64-bit-headed integers BigInts (no schema accepts them), and
 * byte strings are views into the input, not copies: a caller that keeps one for long should
 * copy it, or it pins the whole input. Text keeps a leading U+FEFF (no BOM stripping).
 * Maps of more than 32 entries get a null prototype: V8 adds keys to such an object in
 * constant time, while each new key of an ordinary one builds a new hidden class (4× slower
 * at 1,000 keys); small maps, all that weftmesh's schemas expect, stay ordinary objects,
 * which V8 reads faster.
 */
import { WireError } from './errors.ts';

export interface CborLimits {
  /** Maximum nesting of arrays/maps (the top-level item is depth 0). */
  maxDepth: number;
  /** Maximum entries of one array or map. */
  maxItems: number;
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const EMPTY: Uint8Array = new Uint8Array(0);
/** Scratch for reading floats (big-endian on the wire). */
const floatView = new DataView(new ArrayBuffer(8));

// The decoder's state, module-wide: decoding calls no outside code, so it cannot re-enter.
let src = EMPTY;
let pos = 0;
let maxDepth = 0;
let maxItems = 0;

/** Decodes one complete CBOR item. Throws only WireError. */
export function decodeCbor(bytes: Uint8Array, limits: CborLimits): unknown {
  src = bytes;
  pos = 0;
  maxDepth = limits.maxDepth;
  maxItems = limits.maxItems;
  try {
    const value = item(0);
    if (pos !== src.length) fail('malformed', 'trailing bytes after the frame');
    return value;
  } catch (e) {
    if (e instanceof WireError) throw e;
    // Only the stack can give out here, under a caller's very large maxDepth.
    throw new WireError('too-deep', e instanceof Error ? e.message : String(e));
  } finally {
    src = EMPTY; // do not pin the input
  }
}

function fail(code: 'malformed' | 'forbidden', why: string): never {
  throw new WireError(code, `${why} (offset ${pos})`);
}

function need(n: number): void {
  if (n > src.length - pos) fail('malformed', 'truncated');
}

/** Reads the argument of an item head; 64-bit ones at 2^53 or above are Infinity (only lengths use it). */
function argument(info: number): number {
  if (info < 24) return info;
  const b = src;
  const p = pos;
  switch (info) {
    case 24:
      need(1);
      pos = p + 1;
      return b[p]!;
    case 25:
      need(2);
      pos = p + 2;
      return (b[p]! << 8) | b[p + 1]!;
    case 26:
      need(4);
      pos = p + 4;
      return b[p]! * 0x1000000 + ((b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!);
    case 27: {
      need(8);
      pos = p + 8;
      const hi = b[p]! * 0x1000000 + ((b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!);
      const lo = b[p + 4]! * 0x1000000 + ((b[p + 5]! << 16) | (b[p + 6]! << 8) | b[p + 7]!);
      return hi >= 0x200000 ? Number.POSITIVE_INFINITY : hi * 2 ** 32 + lo;
    }
    case 31:
      return fail('forbidden', 'indefinite length');
    default:
      return fail('malformed', 'reserved additional info');
  }
}

/** UTF-8 text of the next `len` bytes (already known to be there); undefined if invalid. */
function text(len: number): string | undefined {
  const b = src;
  const start = pos;
  const end = start + len;
  pos = end;
  // Short ASCII (nearly every key and field here) skips TextDecoder.
  if (len <= 32) {
    let s = '';
    let i = start;
    for (; i < end; i++) {
      const c = b[i]!;
      if (c >= 0x80) break;
      s += String.fromCharCode(c);
    }
    if (i === end) return s;
  }
  try {
    return utf8.decode(b.subarray(start, end));
  } catch {
    return undefined;
  }
}

/**
 * Map keys repeat in every message: a small cache hands back the string made last time for
 * the same bytes, so V8 finds the property key it already knows instead of hashing a fresh
 * string (a 1,000-key map decodes several times faster).
 */
const keyCache = new Array<string | undefined>(4096).fill(undefined);

function keyText(len: number): string | undefined {
  if (len > 24) return text(len);
  const b = src;
  const start = pos;
  let h = 0x811c9dc5; // FNV-1a
  for (let i = start; i < start + len; i++) h = Math.imul(h ^ b[i]!, 0x01000193);
  const slot = (h ^ (h >>> 16)) & 4095;
  const cached = keyCache[slot];
  if (cached !== undefined && cached.length === len) {
    let i = 0;
    while (i < len && cached.charCodeAt(i) === b[start + i]) i++;
    if (i === len) {
      pos = start + len;
      return cached;
    }
  }
  const s = text(len);
  if (s !== undefined && s.length === len) keyCache[slot] = s; // ASCII only: one byte per unit
  return s;
}

function item(depth: number): unknown {
  need(1);
  const head = src[pos++]!;
  const major = head >> 5;
  const info = head & 31;
  switch (major) {
    case 0:
      return info === 27 ? bigArgument() : argument(info);
    case 1:
      return info === 27 ? -1n - bigArgument() : -1 - argument(info);
    case 2: {
      const len = argument(info);
      need(len);
      pos += len;
      return src.subarray(pos - len, pos);
    }
    case 3: {
      const len = argument(info);
      need(len);
      const s = text(len);
      if (s === undefined) {
        pos -= len; // report the offset of the string, as the error is about all of it
        fail('malformed', 'invalid UTF-8 in text string');
      }
      return s;
    }
    case 4:
    case 5: {
      const count = argument(info);
      if (depth + 1 > maxDepth) throw new WireError('too-deep', `nesting deeper than ${maxDepth}`);
      if (count > maxItems) throw new WireError('too-many-items', `${count} entries > ${maxItems}`);
      // Every entry takes at least one byte: reject counts the remaining input cannot hold.
      if (count * (major === 5 ? 2 : 1) > src.length - pos) fail('malformed', 'truncated collection');
      return major === 4 ? array(count, depth + 1) : map(count, depth + 1);
    }
    case 6:
      return fail('forbidden', 'CBOR tag');
    default:
      return simple(info);
  }
}

/** A 64-bit argument as a BigInt (what cbor-x returned for 0x1b/0x3b integers). */
function bigArgument(): bigint {
  need(8);
  const b = src;
  const p = pos;
  pos = p + 8;
  let v = 0n;
  for (let i = p; i < p + 8; i++) v = (v << 8n) | BigInt(b[i]!);
  return v;
}

function array(count: number, depth: number): unknown[] {
  const out = new Array<unknown>(count);
  for (let i = 0; i < count; i++) out[i] = item(depth);
  return out;
}

/** Maps with more entries than this get a null prototype (see the file comment). */
const SMALL_MAP = 32;

function map(count: number, depth: number): Record<string, unknown> {
  const out: Record<string, unknown> = count > SMALL_MAP ? Object.create(null) : {};
  for (let i = 0; i < count; i++) {
    need(1);
    const keyHead = src[pos++]!;
    if (keyHead >> 5 !== 3) fail('forbidden', 'map key is not a text string');
    const len = argument(keyHead & 31);
    need(len);
    const key = keyText(len);
    if (key === undefined) {
      pos -= len;
      return fail('malformed', 'invalid UTF-8 in map key');
    }
    // Own keys only: every value is defined (undefined is refused), but `{}` inherits names.
    if (Object.hasOwn(out, key))
      throw new WireError('duplicate-key', `duplicate map key ${JSON.stringify(key)}`);
    if (key === '__proto__') {
      pos -= len;
      fail('forbidden', 'map key __proto__');
    }
    out[key] = item(depth);
  }
  return out;
}

function simple(info: number): unknown {
  switch (info) {
    case 20:
      return false;
    case 21:
      return true;
    case 22:
      return null;
    case 25: {
      need(2);
      const h = (src[pos]! << 8) | src[pos + 1]!;
      pos += 2;
      return half(h);
    }
    case 26:
      need(4);
      for (let i = 0; i < 4; i++) floatView.setUint8(i, src[pos++]!);
      return floatView.getFloat32(0);
    case 27:
      need(8);
      for (let i = 0; i < 8; i++) floatView.setUint8(i, src[pos++]!);
      return floatView.getFloat64(0);
    default:
      return fail('forbidden', `simple value ${info}`);
  }
}

/** IEEE 754 half precision (RFC 8949, appendix D). */
function half(h: number): number {
  const exp = (h >> 10) & 0x1f;
  const mant = h & 0x3ff;
  const sign = h & 0x8000 ? -1 : 1;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 31) return mant ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * (1024 + mant) * 2 ** (exp - 25);
}
