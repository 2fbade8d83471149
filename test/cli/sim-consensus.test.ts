// `weftmesh sim --consensus`, in process: the JSON report's consensus figures and the
// history file in the format, which the linearizability checker accepts.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { simCommand } from '../../cli/commands/sim.ts';
import { checkLinearizable, parseHistory } from '../../lib/consensus/check/linearizability.ts';

afterEach(() => vi.restoreAllMocks());

async function run(...args: string[]): Promise<{ code: number; out: string }> {
  let out = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    out += String(chunk);
    return true;
  });
  const code = await simCommand.run(args);
  vi.restoreAllMocks();
  return { code, out };
}

describe('weftmesh sim --consensus', () => {
  it('prints the consensus report as JSON and writes the client history', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'weftmesh-consensus-'));
    try {
      const file = join(dir, 'history.jsonl');
      const args = ['--consensus', '--voters', '5', '--clients', '3', '--duration', '3', '--seed', '4'];
      const { code, out } = await run(
        ...args,
        '--loss',
        '0.05',
        '--partition',
        '--crash',
        '1',
        '--history',
        file,
        '--json',
      );
      expect(code).toBe(0);
      const report = JSON.parse(out);
      expect(report).toMatchObject({ seed: 4, voters: 5, clients: 3 });
      expect(Object.keys(report.consensus).sort()).toEqual([
        'commitLatencyMs',
        'commits',
        'leaderElections',
        'safetyViolations',
        'unavailableMs',
      ]);
      expect(report.consensus.safetyViolations).toBe(0);
      expect(report.consensus.commits).toBeGreaterThan(0);
      const lines = readFileSync(file, 'utf8').trim().split('\n');
      expect(lines).toHaveLength(report.operations);
      const history = parseHistory(readFileSync(file, 'utf8'));
      for (const op of history) {
        expect(['read', 'write', 'cas']).toContain(op.f);
        expect(typeof op.call).toBe('number');
        if (op.f === 'cas' && op.return !== null) expect(typeof op.result).toBe('boolean');
      }
      expect(checkLinearizable(history).verdict).toBe('ok');
      // The same seed, the same run.
      const again = async () => ({ ...JSON.parse((await run(...args, '--json')).out), wallMs: 0 });
      expect(await again()).toEqual(await again());
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('bad consensus flags are usage errors', async () => {
    await expect(simCommand.run(['--consensus', '--voters', '0'])).rejects.toThrow(
      /--voters must be an integer/,
    );
  });
});
