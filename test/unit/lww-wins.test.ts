// lwwWins: the state layer's last-writer-wins rule (named apart from membership's `supersedes`).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { lwwWins } from '../../lib/state/lww-map.ts';
import { entry } from '../support/state-entries.ts';

const version = fc.record({
  origin: fc.integer({ min: 1, max: 3 }),
  value: fc.constantFrom('x', 'y', undefined),
  wall: fc.integer({ min: 1_000, max: 1_002 }),
  counter: fc.integer({ min: 0, max: 1 }),
});

describe('lwwWins', () => {
  it('a later HLC timestamp wins, whatever the value (a delete included)', () => {
    const older = entry(1, 'p', 'k', 'x', 1_000);
    const newer = entry(1, 'p', 'k', undefined, 1_001);
    expect(lwwWins(newer, older)).toBe(true);
    expect(lwwWins(older, newer)).toBe(false);
  });

  it('orders any two versions of a register one way exactly (ties broken by digest), never itself', () => {
    fc.assert(
      fc.property(version, version, (a, b) => {
        const ea = entry(a.origin, 'p', 'k', a.value, a.wall, a.counter);
        const eb = entry(b.origin, 'p', 'k', b.value, b.wall, b.counter);
        expect(lwwWins(ea, ea)).toBe(false);
        const same = ea.digest.every((x, i) => x === eb.digest[i]);
        if (!same) expect(lwwWins(ea, eb)).not.toBe(lwwWins(eb, ea));
      }),
    );
  });
});
