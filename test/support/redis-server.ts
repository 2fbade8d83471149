/**
 * A real redis-server (Debian's) for network tests: on a free loopback port, without
 * persistence, bounded in time, killed with SIGKILL (for outages) and restarted on the same
 * port. Every process started here is killed by stopAll() (afterAll) or at exit.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { connect, createServer } from 'node:net';

/** Debian's redis-server (.ci/run installs it when missing); REDIS_SERVER names another. */
export const REDIS_SERVER = process.env.REDIS_SERVER ?? 'redis-server';

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const p of live) p.kill('SIGKILL');
});

export interface TestRedis {
  port: number;
  url: string;
  /** SIGKILLs it (an outage: every key is gone with it). */
  kill(): Promise<void>;
  /** Starts it again on the same port, empty. */
  restart(): Promise<void>;
}

/** A loopback port nothing listens on (bound, then released). */
export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((ok) => s.listen(0, '127.0.0.1', ok));
  const { port } = s.address() as { port: number };
  await new Promise<void>((ok) => s.close(() => ok()));
  return port;
}

/** Whether a PING on the port gets +PONG. */
function pong(port: number): Promise<boolean> {
  return new Promise((ok) => {
    const socket = connect(port, '127.0.0.1');
    const done = (v: boolean) => {
      socket.destroy();
      ok(v);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (d) => done(d.toString().startsWith('+PONG')));
  });
}

async function launch(port: number): Promise<ChildProcess> {
  const proc = spawn(
    REDIS_SERVER,
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--loglevel',
      'warning',
    ],
    { stdio: 'ignore' },
  );
  live.add(proc);
  proc.once('exit', () => live.delete(proc));
  let failed: Error | undefined;
  proc.once('error', (e) => {
    failed = e; // not installed: reported below
  });
  const end = Date.now() + 5_000;
  while (!(await pong(port))) {
    if (failed || proc.exitCode !== null || Date.now() > end) {
      proc.kill('SIGKILL');
      throw new Error(`${REDIS_SERVER} did not start on port ${port}${failed ? `: ${failed.message}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return proc;
}

function killed(proc: ChildProcess): Promise<void> {
  return new Promise((ok) => {
    if (proc.exitCode !== null || proc.signalCode !== null) return ok();
    proc.once('exit', () => ok());
    proc.kill('SIGKILL');
  });
}

export async function startRedis(): Promise<TestRedis> {
  const port = await freePort();
  let proc: ChildProcess | undefined = await launch(port);
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    async kill() {
      if (proc) await killed(proc);
      proc = undefined;
    },
    async restart() {
      if (proc) await killed(proc);
      proc = await launch(port);
    },
  };
}

/** Kills every redis-server started here. */
export async function stopAllRedis(): Promise<void> {
  await Promise.all([...live].map(killed));
}
