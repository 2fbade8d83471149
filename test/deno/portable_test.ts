// The portable test bodies (test/portable) under Deno, against the same lib/ sources.
import { suites } from '../portable/index.ts';

for (const [suite, cases] of Object.entries(suites)) {
  for (const [name, fn] of Object.entries(cases)) Deno.test(`${suite}: ${name}`, fn);
}
