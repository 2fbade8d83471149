/** Child processes for network tests: started, observed line by line, always cleaned up. */
import { type ChildProcess, spawn } from 'node:child_process';

export const CLI = new URL('../../dist/cli/main.js', import.meta.url).pathname;

export interface Child {
  proc: ChildProcess;
  lines: string[];
  json: Array<Record<string, unknown>>;
  stderr: string[];
  /** Resolves with the exit code (null: ended by a signal) after stdout and stderr closed. */
  closed: Promise<number | null>;
}

const running = new Set<ChildProcess>();
const groups = new Set<ChildProcess>();

/** Process groups do not get the terminal's Ctrl-C: never leave one behind, however we end. */
function killGroups(): void {
  for (const p of groups) {
    try {
      process.kill(-p.pid!, 'SIGKILL');
    } catch {
      // ESRCH: the group is already empty
    }
  }
  groups.clear();
}
process.once('exit', killGroups);

/**
 * Starts a child; `group` puts it in a process group of its own (like a shell job), so that
 * signal() reaches it and everything it starts, as Ctrl-C in a terminal would. `cwd`: the
 * directory it runs in (default: this process's).
 */
export function startChild(
  command: string,
  args: string[],
  env: Record<string, string> = {},
  group = false,
  cwd?: string,
): Child {
  const proc = spawn(command, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
    detached: group,
    ...(cwd === undefined ? {} : { cwd }),
  });
  if (group) groups.add(proc);
  running.add(proc);
  proc.on('exit', () => running.delete(proc));
  const closed = new Promise<number | null>((ok) => proc.once('close', (code) => ok(code)));
  const child: Child = { proc, lines: [], json: [], stderr: [], closed };
  let buf = '';
  proc.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    let i = buf.indexOf('\n');
    while (i >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      child.lines.push(line);
      try {
        child.json.push(JSON.parse(line));
      } catch {
        // a human line
      }
      i = buf.indexOf('\n');
    }
  });
  proc.stderr!.on('data', (d: Buffer) => child.stderr.push(d.toString()));
  return child;
}

export function cli(args: string[]): Child {
  return startChild(process.execPath, [CLI, ...args]);
}

/** Kills every child still running, and whatever is left in their process groups (afterEach). */
export async function killAll(): Promise<void> {
  const waits = [...running].map(
    (p) =>
      new Promise<void>((ok) => {
        if (p.exitCode !== null || p.signalCode !== null) return ok();
        p.once('exit', () => ok());
        p.kill('SIGKILL');
      }),
  );
  await Promise.all(waits);
  killGroups();
}

/** The child's exit code (null if a signal ended it), once its output has been read to the end. */
export function exited(c: Child): Promise<number | null> {
  return c.closed;
}

/** Sends `sig` to the child, or to its whole process group if it has one. */
export function signal(p: ChildProcess, sig: NodeJS.Signals): void {
  if (groups.has(p) && p.pid !== undefined) process.kill(-p.pid, sig);
  else p.kill(sig);
}
