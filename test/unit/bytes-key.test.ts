// bytesKey: the one conversion of a byte string to a Map/Set key (issue 12, item 5).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bytesKey, equalBytes } from '../../lib/util/bytes.ts';

describe('bytesKey', () => {
  it('gives equal keys exactly for equal byte strings', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), fc.uint8Array({ maxLength: 40 }), (a, b) => {
        expect(bytesKey(a) === bytesKey(b)).toBe(equalBytes(a, b));
      }),
    );
  });

  it('is one code unit per byte, the latin1 string the copies it replaces built', () => {
    const b = Uint8Array.of(0, 1, 0x7f, 0x80, 0xff);
    expect(bytesKey(b)).toBe('\u0000\u0001\u007f\u0080\u00ff');
    expect(bytesKey(new Uint8Array(0))).toBe('');
  });

  it('takes views at an offset and Node Buffers, by their bytes only', () => {
    const pool = Buffer.from([9, 9, 1, 2, 3, 9]);
    expect(bytesKey(pool.subarray(2, 5))).toBe(bytesKey(Uint8Array.of(1, 2, 3)));
  });

  it('handles byte strings longer than an engine allows as call arguments', () => {
    const big = new Uint8Array(300_000).map((_, i) => i % 251);
    const key = bytesKey(big);
    expect(key.length).toBe(big.length);
    expect(key.charCodeAt(299_999)).toBe(299_999 % 251);
    const other = big.slice();
    other[150_000] = (big[150_000] ?? 0) ^ 1;
    expect(bytesKey(other)).not.toBe(key);
  });
});
