// The seed sweep, second half: seeds 101-200 (a file of its own so vitest runs it beside
// the first half). See sweep-cases.ts.
import { describe } from 'vitest';
import { sweepSeeds } from './sweep-cases.ts';

describe('seed sweep: mixed faults, invariants held (seeds 101-200)', () => {
  sweepSeeds(101, 200);
});
