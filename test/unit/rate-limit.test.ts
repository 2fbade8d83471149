// Token buckets per key (lib/util/rate-limit.ts): rate and burst, the LRU bound, and keys
// forgotten once their buckets refilled, so that the map follows the keys in use.
import { describe, expect, it } from 'vitest';
import { RateLimiter } from '../../lib/util/rate-limit.ts';

describe('RateLimiter', () => {
  it('gives a key its burst, then its rate; keys do not share', () => {
    let now = 0;
    const r = new RateLimiter(10, 5, () => now);
    for (let i = 0; i < 5; i++) expect(r.take('a')).toBe(true);
    expect(r.take('a')).toBe(false);
    expect(r.take('b')).toBe(true);
    now = 250; // 2.5 units
    expect(r.take('a', 2)).toBe(true);
    expect(r.available('a')).toBe(false);
    now = 300;
    expect(r.take('a')).toBe(true);
  });

  it('forgets a key whose bucket refilled, one per call, and never the one just used', () => {
    let now = 0;
    const r = new RateLimiter(10, 5, () => now);
    for (const k of ['a', 'b', 'c']) r.take(k, 5);
    expect(r.size).toBe(3);
    now = 400; // 4 of 5 back: none full yet
    r.take('d');
    expect(r.size).toBe(4);
    now = 500; // a, b, c full again; d (taken at 400) not
    r.take('d');
    expect(r.size).toBe(3);
    r.take('d');
    r.take('d');
    expect(r.size).toBe(1);
    // The only key, used now and full after it: still held, so that its take counts.
    now = 10_000;
    expect(r.take('d', 5)).toBe(true);
    expect(r.take('d')).toBe(false);
    expect(r.size).toBe(1);
  });

  it('a forgotten key comes back with a full bucket, as an unknown key does', () => {
    let now = 0;
    const r = new RateLimiter(1, 2, () => now);
    r.take('a', 2);
    now = 2_000;
    r.take('b');
    expect(r.size).toBe(1);
    expect(r.take('a', 2)).toBe(true);
    expect(r.take('a')).toBe(false);
  });

  it('holds at most maxKeys keys, the least recently used forgotten first', () => {
    const r = new RateLimiter(1, 10, () => 0, 3);
    for (const k of ['a', 'b', 'c']) r.take(k, 10);
    r.take('a');
    r.take('d', 10);
    expect(r.size).toBe(3);
    // b was least recently used: forgotten, so it has its burst again; a kept its empty bucket.
    expect(r.available('b', 10)).toBe(true);
    expect(r.available('a')).toBe(false);
  });
});
