import { describe, it } from 'vitest';
import { suites } from './portable/index.ts';

for (const [suite, cases] of Object.entries(suites)) {
  describe(suite, () => {
    for (const [name, fn] of Object.entries(cases)) it(name, fn);
  });
}
