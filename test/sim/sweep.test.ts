// The seed sweep (VOPR-style), first half: determinism, the regression cases, seeds 1-100.
// See sweep-cases.ts; the second half is sweep-2.test.ts; `npm run soak` runs more.
import { describe, expect, it } from 'vitest';
import { CASES, runCase, sweep, sweepSeeds } from './sweep-cases.ts';

describe('seed sweep: mixed faults, invariants held (seeds 1-100)', () => {
  it('the same seed reproduces the run exactly (digest of its log); another seed does not', async () => {
    const a = await sweep(7);
    const b = await sweep(7);
    expect(b.digest).toBe(a.digest);
    expect(b.simulatedMs).toBe(a.simulatedMs);
    expect((await sweep(8)).digest).not.toBe(a.digest);
  });

  const fixed = CASES.filter((c) => c.status === 'fixed').map((c) => [c.file, c.caught, c] as const);
  it.each(fixed)('regression case %s (caught: %s) keeps every invariant', async (_f, _caught, c) => {
    expect((await runCase(c)).violations).toEqual([]);
  });

  const dormant = CASES.filter((c) => c.status === 'dormant').map((c) => [c.file, c.caught, c] as const);
  it.each(dormant)(
    'dormant case %s (open bug: %s) keeps every invariant as the run goes now',
    async (_f, _caught, c) => {
      expect((await runCase(c)).violations).toEqual([]);
    },
  );

  const open = CASES.filter((c) => c.status === 'open').map((c) => [c.file, c.caught, c] as const);
  it.each(open)('open case %s still shows its bug: %s', async (_f, _caught, c) => {
    const { violations } = await runCase(c);
    expect(violations.length).toBeGreaterThan(0);
    expect(violations.every((v) => v.includes(c.violation ?? ''))).toBe(true);
  });

  sweepSeeds(1, 100);
});
