// A node that crashes right after its last links closed gracefully (seed sweep, seed 8): the
// ends of those links dial it a few seconds later (Membership.memberToCheck, the unlinked
// check) and, when the dial fails, check it as after a lost link. Suspected 72 s after its
// crash before; ~18 s with the dial but its failure not counted (the check's 15 s timeout).
import { expect, it } from 'vitest';
import { runSweep } from '../../lib/sim/sweep.ts';
import { opensslVerifier, signWithOpenssl } from './openssl-crypto.ts';
import { CASES } from './sweep-cases.ts';

it('a node crashed right after its links closed gracefully is suspected within 15 s', async () => {
  const c = CASES.find((k) => k.file.startsWith('8-crash-after-graceful-unlink'))!;
  const crash = c.scenario.events.find((e) => e.kind === 'crash')!;
  expect(crash).toMatchObject({ node: 3, at: 15_874 });
  const lines: string[] = [];
  const result = await runSweep(c.scenario, {
    verifier: opensslVerifier,
    prepareIdentity: signWithOpenssl,
    log: (line) => lines.push(line),
  });
  expect(result.violations).toEqual([]);
  const first = lines.find((l) => / suspects 3 /.test(l));
  expect(first).toBeDefined();
  const at = Number(first!.split(' ')[0]);
  expect(at - crash.at).toBeGreaterThan(0);
  expect(at - crash.at).toBeLessThan(15_000);
});
