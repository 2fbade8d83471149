/** Child processes for network tests: started, observed line by line, always cleaned up. */
import { type ChildProcess, spawn } from 'node:child_process';

export const CLI = new URL('../../dist/cli/main.js', import.meta.url).pathname;

export interface Child {
  proc: ChildProcess;
  lines: string[];
  json: Array<Record<string, unknown>>;
  stderr: string[];
}

const running = new Set<ChildProcess>();

export function startChild(command: string, args: string[], env: Record<string, string> = {}): Child {
  const proc = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  running.add(proc);
  proc.on('exit', () => running.delete(proc));
  const child: Child = { proc, lines: [], json: [], stderr: [] };
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

/** Kills every child still running (afterEach). */
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
}

export function exited(c: Child): Promise<number | null> {
  return new Promise((ok) => {
    if (c.proc.exitCode !== null) ok(c.proc.exitCode);
    else c.proc.once('exit', (code) => ok(code));
  });
}
