import { createHash, hash } from 'node:crypto';
import { sha256 as noble } from '@noble/hashes/sha2.js';
import { describe, expect, it } from 'vitest';
import {
  type NativeCrypto,
  OFFLOAD_MIN_BYTES,
  selectSha256,
  selectSha256Offload,
  sha256,
  sha256Backend,
  sha256Offload,
} from '../../lib/util/sha256.ts';
import { jsSha256, SMALL_SHA256_MAX_BYTES } from '../../lib/util/sha256-js.ts';

/** Block-boundary lengths (55/56: padding spills into a second block; 63/64/65: one block), small and large. */
const LENGTHS = [
  0,
  1,
  31,
  32,
  33,
  55,
  56,
  57,
  63,
  64,
  65,
  119,
  120,
  127,
  128,
  129,
  255,
  256,
  1000,
  4096,
  16_384,
  65_537,
  1 << 20,
];

/** Deterministic bytes (xorshift), different for each length. */
function bytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed * 2654435761 + 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

const nodeCrypto = { hash, createHash } as unknown as NativeCrypto;
const variants: Array<[string, (d: Uint8Array) => Uint8Array]> = [
  ['the runtime pick', sha256],
  ['node:crypto hash()', selectSha256(nodeCrypto)],
  ['node:crypto createHash() only', selectSha256({ createHash } as unknown as NativeCrypto)],
  ['no native hash (JavaScript)', selectSha256(undefined)],
];

describe('sha256 (lib/util/sha256.ts)', () => {
  it('uses node:crypto under Node (≥ 20.16: process.getBuiltinModule), and JavaScript alone where there is none', () => {
    const probe = typeof (process as { getBuiltinModule?: unknown }).getBuiltinModule === 'function';
    expect(sha256Backend).toBe(probe ? 'node:crypto hash' : 'JavaScript');
    expect(selectSha256(undefined)).toBe(jsSha256);
    expect(selectSha256({})).toBe(jsSha256);
  });

  it('a digest a runtime hands out inside a shared Buffer pool is copied out, not kept as a view', () => {
    const pooledHash = ((alg: 'sha256', d: Uint8Array) =>
      Buffer.from(hash(alg, d, 'buffer'))) as NativeCrypto['hash'];
    const data = bytes(500, 3);
    const probe = pooledHash!('sha256', data, 'buffer');
    expect(probe.buffer.byteLength).toBeGreaterThan(32); // the pool, as the case needs
    const d = selectSha256({ hash: pooledHash })(data);
    expect(d.buffer.byteLength).toBe(32);
    expect(Buffer.from(d).equals(Buffer.from(noble(data)))).toBe(true);
  });

  it('the JavaScript SHA-256: every length of up to two blocks and beyond, over 40 contents each, as noble', () => {
    let checked = 0;
    for (let n = 0; n <= 200; n++)
      for (let seed = 1; seed <= 40; seed++) {
        const data =
          n === 0 || seed > 2 ? bytes(n, seed * 1000 + n) : new Uint8Array(n).fill(seed === 1 ? 0 : 0xff);
        const want = Buffer.from(noble(data)).toString('hex');
        expect(Buffer.from(jsSha256(data)).toString('hex'), `length ${n}`).toBe(want);
        for (const [, f] of variants) expect(Buffer.from(f(data)).toString('hex'), `length ${n}`).toBe(want);
        checked++;
      }
    expect(checked).toBe(201 * 40);
  });

  for (const [name, f] of variants) {
    it(`${name}: the same digests as noble for every length, as a plain Uint8Array, input untouched`, () => {
      for (const [i, n] of LENGTHS.entries()) {
        const data = bytes(n, i + 1);
        const before = data.slice();
        const d = f(data);
        expect(d.constructor).toBe(Uint8Array);
        expect(d.length).toBe(32);
        expect(d.byteOffset).toBe(0);
        expect(d.buffer.byteLength).toBe(32);
        expect(Buffer.from(d).equals(Buffer.from(noble(data))), `length ${n}`).toBe(true);
        expect(Buffer.from(data).equals(Buffer.from(before))).toBe(true);
      }
    });

    it(`${name}: Buffers and views at an offset hash their own bytes only`, () => {
      const big = bytes(70_000, 99);
      for (const [off, n] of [
        [1, 0],
        [3, 55],
        [7, 56],
        [5, 64],
        [13, 65],
        [100, SMALL_SHA256_MAX_BYTES],
        [100, SMALL_SHA256_MAX_BYTES + 1],
        [1, 16_384],
        [17, 65_536],
      ] as const) {
        const view = big.subarray(off, off + n);
        const want = noble(big.slice(off, off + n));
        expect(Buffer.from(f(view)).equals(Buffer.from(want)), `view ${off}+${n}`).toBe(true);
        const buf = Buffer.from(big.buffer, off, n); // a Buffer sharing the big array
        expect(Buffer.from(f(buf)).equals(Buffer.from(want)), `Buffer ${off}+${n}`).toBe(true);
        // Node's pooled small Buffers sit at an offset of a shared ArrayBuffer.
        const pooled = Buffer.from(big.subarray(off, off + n));
        expect(Buffer.from(f(pooled)).equals(Buffer.from(want))).toBe(true);
      }
      expect(Buffer.from(big).equals(Buffer.from(bytes(70_000, 99)))).toBe(true);
    });

    it(`${name}: every digest is its own array (writing one leaves the next intact)`, () => {
      const data = bytes(100, 5);
      const a = f(data);
      const b = f(data);
      expect(a.buffer).not.toBe(b.buffer);
      a.fill(0);
      expect(Buffer.from(b).equals(Buffer.from(noble(data)))).toBe(true);
      expect(Buffer.from(f(data)).equals(Buffer.from(noble(data)))).toBe(true);
    });
  }
});

describe('sha256Offload (WebCrypto where sha256 is JavaScript)', () => {
  it('is there only where the runtime has WebCrypto and no synchronous native hash', () => {
    const native = { hash: (_a: 'sha256', d: Uint8Array) => Buffer.from(hash('sha256', d, 'buffer')) };
    expect(selectSha256Offload(native as NativeCrypto, crypto.subtle)).toBeUndefined();
    expect(selectSha256Offload(undefined, undefined)).toBeUndefined();
    expect(selectSha256Offload(undefined, crypto.subtle)).toBeTypeOf('function');
    // Node hands node:crypto out: no offload here, sha256 is native already.
    const probe = typeof (process as { getBuiltinModule?: unknown }).getBuiltinModule === 'function';
    expect(sha256Offload() === undefined).toBe(probe);
  });

  it('gives the JavaScript digests, of views into a larger buffer too, and leaves the input untouched', async () => {
    const digest = selectSha256Offload(undefined, crypto.subtle)!;
    const big = bytes(70_000, 13);
    for (const [off, n] of [
      [0, 0],
      [0, OFFLOAD_MIN_BYTES - 1],
      [3, OFFLOAD_MIN_BYTES],
      [1, 16_384],
      [7, 65_536],
    ] as const) {
      const view = big.subarray(off, off + n);
      expect(Buffer.from(await digest(view)).equals(Buffer.from(jsSha256(view))), `${off}+${n}`).toBe(true);
    }
    expect(Buffer.from(big).equals(Buffer.from(bytes(70_000, 13)))).toBe(true);
  });
});
