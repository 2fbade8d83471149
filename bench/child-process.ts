/**
 * A benchmark node in a process of its own (a forked tsx script), driven over IPC: commands
 * out, events (`{ ev, … }`) back. The WebRTC benchmarks run a node per process, as between
 * machines, so that no two share one JavaScript thread.
 */
import { type ChildProcess, fork } from 'node:child_process';

export type Ev = { ev: string; [k: string]: unknown };

export class BenchChild {
  readonly proc: ChildProcess;
  /** Every event received, in order. */
  readonly events: Ev[] = [];
  readonly #name: string;
  #waiters: Array<() => void> = [];

  constructor(script: string, name: string) {
    this.#name = name;
    this.proc = fork(script, [], {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.proc.on('message', (m: Ev) => {
      if (m.ev === 'error') console.error(`${name}: ${m.message}`);
      this.events.push(m);
      for (const w of this.#waiters.splice(0)) w();
    });
  }

  send(cmd: object): void {
    this.proc.send(cmd);
  }

  /** The first event matching `ok` (already received, at index `from` or later, or next), within `ms`. */
  async next(ok: (e: Ev) => boolean, ms = 60_000, from = 0): Promise<Ev> {
    const deadline = performance.now() + ms;
    for (;;) {
      const e = this.events.slice(from).find(ok);
      if (e) return e;
      if (performance.now() > deadline) throw new Error(`${this.#name} did not answer in time`);
      await new Promise<void>((r) => {
        this.#waiters.push(r);
        setTimeout(r, 100);
      });
    }
  }

  /** Sends `cmd` and waits for the event named `ev` it brings (an `error` event throws). */
  async ask(cmd: object, ev: string, ms = 60_000): Promise<Ev> {
    const from = this.events.length;
    this.send(cmd);
    const e = await this.next((x) => x.ev === ev || x.ev === 'error', ms, from);
    if (e.ev === 'error') throw new Error(`${this.#name}: ${e.message}`);
    return e;
  }

  kill(): void {
    if (this.proc.exitCode === null) this.proc.kill('SIGKILL');
  }
}
