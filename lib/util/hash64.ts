/**
 * The 64-bit hash shared by the ring (positions of nodes and keys) and the service registry
 * (ring order of instances). Stable across runtimes, documented so other implementations can
 * agree: hash64(s) = the first 8 bytes of SHA-256(UTF-8(s)), read big-endian.
 */
import { utf8 } from './bytes.ts';
import { sha256 } from './sha256.ts';

/** 64-bit ring position as two unsigned 32-bit halves. */
export function hash64(s: string): [number, number] {
  const h = sha256(utf8(s));
  const v = new DataView(h.buffer, h.byteOffset, 8);
  return [v.getUint32(0), v.getUint32(4)];
}
