/** Small byte helpers shared by every layer (no dependencies). */

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** Lowercase hex; builds a flat string (ids built by concatenation would be kept as rope strings). */
export function toHex(bytes: Uint8Array): string {
  const parts = new Array<string>(bytes.length);
  for (let i = 0; i < bytes.length; i++) parts[i] = HEX[bytes[i]!]!;
  return parts.join('');
}

/** Bytes per String.fromCharCode call: well under every engine's argument limit. */
const KEY_SLICE = 4096;

/**
 * A Map/Set key for a byte string: one UTF-16 code unit per byte (latin1), so equal bytes give
 * equal keys and different bytes different ones. Half the length of hex and cheaper to build;
 * for keys only, never for display or the wire.
 */
export function bytesKey(bytes: Uint8Array): string {
  if (bytes.length <= KEY_SLICE) return String.fromCharCode.apply(null, bytes as unknown as number[]);
  let key = '';
  for (let off = 0; off < bytes.length; off += KEY_SLICE)
    key += String.fromCharCode.apply(null, bytes.subarray(off, off + KEY_SLICE) as unknown as number[]);
  return key;
}

export function fromHex(hex: string): Uint8Array {
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) throw new TypeError('invalid hex string');
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let len = 0;
  for (const p of parts) len += p.length;
  const out = new Uint8Array(len);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Lexicographic order; shorter prefix sorts first. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = a[i]! - b[i]!;
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

export function utf8(s: string): Uint8Array {
  return encoder.encode(s);
}

/** Throws TypeError on malformed UTF-8. */
export function fromUtf8(b: Uint8Array): string {
  return decoder.decode(b);
}

/** Big-endian u32 as 4 bytes. */
export function u32be(n: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, n >>> 0);
  return out;
}

/**
 * A copy in fresh memory. Not `b.slice()`: on a Node Buffer that returns a view of the
 * caller's memory, and writing into it would change the caller's bytes.
 */
export function copyBytes(b: Uint8Array): Uint8Array {
  return new Uint8Array(b);
}

/** A plain Uint8Array view (not a Node Buffer subclass) over the same memory. */
export function plainBytes(b: Uint8Array): Uint8Array {
  return b.constructor === Uint8Array ? b : new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}
