// setBounded: memory that peers' input can grow (stale-accusation answers, reaped members,
// revisits) stays within its limit, the oldest entry going first.
import { describe, expect, it } from 'vitest';
import { setBounded } from '../../lib/util/bounded-map.ts';

describe('setBounded', () => {
  it('keeps at most `limit` entries, dropping the oldest; setting a key again makes it the newest', () => {
    const m = new Map<string, number>();
    for (let k = 0; k < 5; k++) setBounded(m, `k${k}`, k, 3);
    expect([...m]).toEqual([
      ['k2', 2],
      ['k3', 3],
      ['k4', 4],
    ]);
    setBounded(m, 'k2', 20, 3);
    setBounded(m, 'k5', 5, 3);
    expect([...m.keys()]).toEqual(['k4', 'k2', 'k5']);
    expect(m.get('k2')).toBe(20);
  });

  it('a flood of distinct keys never grows the map past its limit', () => {
    const m = new Map<number, number>();
    for (let k = 0; k < 10_000; k++) {
      setBounded(m, k, k, 1024);
      expect(m.size).toBeLessThanOrEqual(1024);
    }
    expect(m.has(10_000 - 1024)).toBe(true);
    expect(m.has(10_000 - 1025)).toBe(false);
  });
});
