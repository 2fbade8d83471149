// The hashes weftmesh writes itself instead of importing @noble/hashes (bundle size): SHA-512
// for Ed25519 and SHAKE-256 for node ids, checked against node:crypto (OpenSSL) at every
// length up to a few blocks, at the padding boundaries, for a large input, on views into a
// shared buffer, and against the standards' own examples.
import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../lib/util/bytes.ts';
import { sha512 } from '../../lib/util/sha512-js.ts';
import { shake256 } from '../../lib/util/shake256.ts';

const ref512 = (d: Uint8Array) => createHash('sha512').update(d).digest('hex');
const refShake = (d: Uint8Array, n: number) =>
  createHash('shake256', { outputLength: n }).update(d).digest('hex');
const utf8 = (s: string) => new TextEncoder().encode(s);

describe('SHA-512 (lib/util/sha512-js.ts)', () => {
  it('equals node:crypto for every length 0..600 bytes (1-5 blocks, both padding cases)', () => {
    const data = randomBytes(600);
    const wrong: number[] = [];
    for (let n = 0; n <= 600; n++)
      if (toHex(sha512(data.subarray(0, n))) !== ref512(data.subarray(0, n))) wrong.push(n);
    expect(wrong).toEqual([]);
  });

  it('equals node:crypto for 1 MiB, and for views at odd offsets into a pool, which it never writes', () => {
    const big = randomBytes(1 << 20);
    expect(toHex(sha512(big))).toBe(ref512(big));
    const pool = randomBytes(4096);
    const before = Buffer.from(pool);
    for (const [off, n] of [
      [1, 111],
      [7, 112],
      [13, 128],
      [100, 1000],
    ] as const) {
      const view = new Uint8Array(pool.buffer, pool.byteOffset + off, n);
      expect(toHex(sha512(view))).toBe(ref512(view));
    }
    expect(pool.equals(before)).toBe(true);
  });

  it('gives the FIPS 180-4 examples', () => {
    expect(toHex(sha512(utf8('abc')))).toBe(
      'ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f',
    );
    expect(toHex(sha512(new Uint8Array(0)))).toBe(
      'cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e',
    );
  });
});

describe('SHAKE-256 (lib/util/shake256.ts)', () => {
  it('equals node:crypto for every input length 0..420 (1-4 blocks of 136) and outputs of 16, 32, 136 and 300 bytes', () => {
    const data = randomBytes(420);
    const wrong: string[] = [];
    for (let n = 0; n <= 420; n++)
      for (const out of [16, 32, 136, 300])
        if (toHex(shake256(data.subarray(0, n), out)) !== refShake(data.subarray(0, n), out))
          wrong.push(`${n}/${out}`);
    expect(wrong).toEqual([]);
  });

  it('gives the FIPS 202 example output for the empty input, and node ids as before', () => {
    expect(toHex(shake256(new Uint8Array(0), 32))).toBe(
      '46b9dd2b0ba88d13233b3feb743eeb243fcd52ea62b81b82b50c27646ed5762f',
    );
    // A node id: the first 16 bytes of SHAKE-256 of the public key (a longer output's prefix).
    const key = fromHex('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a');
    expect(toHex(shake256(key, 16))).toBe(toHex(shake256(key, 64)).slice(0, 32));
    expect(toHex(shake256(key, 16))).toBe(refShake(key, 16));
  });
});
