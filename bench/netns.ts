/**
 * Network benchmarks must not leave this machine. When run as root where `unshare` exists,
 * re-run this process inside a private network namespace that has only loopback (as the
 * tests do); returns true when the caller should stop (the child did the work).
 */
import { spawnSync } from 'node:child_process';

export function reexecInLoopbackNamespace(): boolean {
  if (process.env.WEFTMESH_NETNS === '1') return false;
  const root = process.getuid?.() === 0;
  const unshare =
    spawnSync('sh', ['-c', 'command -v unshare && command -v ip'], { encoding: 'utf8' }).status === 0;
  if (!root || !unshare) return false;
  const script = 'ip link set lo up && ip route add default dev lo && exec "$@"';
  const r = spawnSync(
    'unshare',
    ['-n', 'bash', '-c', script, 'netns', process.execPath, ...process.execArgv, ...process.argv.slice(1)],
    {
      stdio: 'inherit',
      env: { ...process.env, WEFTMESH_NETNS: '1' },
    },
  );
  process.exitCode = r.status ?? 1;
  return true;
}
