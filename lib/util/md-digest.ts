/**
 * The frame SHA-256 and SHA-512 share (FIPS 180-4 §5.1.1, §5.1.2, §6): the full blocks
 * compressed straight from the input, then the tail padded (0x80, zeros, the bit length
 * big-endian at the block's end, in a field of blockBytes / 8 bytes), then the state's
 * 32-bit words written out big-endian. Each hash brings its block size, compression
 * function, state and initial value (sha256-js.ts, sha512-js.ts).
 */
export interface MdHash {
  readonly blockBytes: number;
  /** Compresses the block at `off` of `b` into `state`. */
  compress(b: Uint8Array, off: number): void;
  readonly state: Int32Array;
  readonly iv: Int32Array;
  /** Scratch for the tail: two blocks. */
  readonly tail: Uint8Array;
}

/** The digest of `data` (never written to): a fresh array of the state's bytes. */
export function mdDigest(h: MdHash, data: Uint8Array): Uint8Array<ArrayBuffer> {
  const { blockBytes, compress, state, tail } = h;
  const n = data.length;
  const full = n - (n % blockBytes);
  state.set(h.iv);
  for (let off = 0; off < full; off += blockBytes) compress(data, off);
  const rest = n - full;
  const end = rest < blockBytes - blockBytes / 8 ? blockBytes : 2 * blockBytes;
  tail.set(data.subarray(full));
  tail.fill(0, rest, end);
  tail[rest] = 0x80;
  // The bit length in the last 8 bytes (n < 2^53: the high word is n / 2^29; the rest of a
  // wider field stays zero).
  const hi = Math.floor(n / 0x20000000);
  const lo = (n << 3) >>> 0;
  for (let i = 0; i < 4; i++) {
    tail[end - 8 + i] = hi >>> (24 - 8 * i);
    tail[end - 4 + i] = lo >>> (24 - 8 * i);
  }
  compress(tail, 0);
  if (end > blockBytes) compress(tail, blockBytes);
  const out = new Uint8Array(4 * state.length);
  for (let i = 0; i < state.length; i++) {
    const v = state[i]!;
    out[4 * i] = v >>> 24;
    out[4 * i + 1] = v >>> 16;
    out[4 * i + 2] = v >>> 8;
    out[4 * i + 3] = v;
  }
  return out;
}
