/**
 * The outbox rule (docs/ARCHITECTURE.md): a protocol core never calls out while it handles
 * an input. It queues its outputs (messages, events, things to persist) here, and they are
 * handed to the sink only once the outermost input has returned, when the core is consistent
 * again. A sink that feeds a new input back (an event handler calling `setMeta`) is safe: that
 * input runs to its end, its outputs join the queue, and the one drain loop delivers them in
 * order — nothing re-enters a core mid-loop, and nothing recurses without bound.
 */

/** The part of an environment (lib/time's Env) whose timers an outbox takes as inputs. */
interface TimerEnv {
  readonly scheduler: {
    setTimer(delayMs: number, fn: () => void, window?: { earliestMs: number; latestMs: number }): number;
    cancelTimer(id: number): void;
  };
}

export class Outbox<T> {
  readonly #sink: (output: T) => void;
  readonly #queue: T[] = [];
  #depth = 0;
  #draining = false;

  constructor(sink: (output: T) => void) {
    this.#sink = sink;
  }

  /** Queues an output; delivered when the input being handled ends (at once outside one). */
  push(output: T): void {
    this.#queue.push(output);
    if (this.#depth === 0) this.#drain();
  }

  /** Handles one input: `fn` runs with delivery held back, then the queue drains. */
  run<R>(fn: () => R): R {
    this.#depth++;
    try {
      return fn();
    } finally {
      if (--this.#depth === 0) this.#drain();
    }
  }

  /**
   * The same environment, with every timer callback handled as an input of this outbox: a
   * core's timers (probe rounds, suspicion timeouts) deliver their outputs after they ran.
   */
  wrap<E extends TimerEnv>(env: E): E {
    const { scheduler } = env;
    return {
      ...env,
      scheduler: {
        setTimer: (delayMs, fn, window) => scheduler.setTimer(delayMs, () => this.run(fn), window),
        cancelTimer: (id) => scheduler.cancelTimer(id),
      },
    };
  }

  /**
   * Delivers everything queued, including what deliveries queue. A sink that throws does not
   * hold up the outputs behind it: they are delivered, then the first error is rethrown.
   */
  #drain(): void {
    if (this.#draining) return;
    this.#draining = true;
    let failure: { error: unknown } | undefined;
    try {
      for (let next = this.#queue.shift(); next !== undefined; next = this.#queue.shift()) {
        try {
          this.#sink(next);
        } catch (error) {
          failure ??= { error };
        }
      }
    } finally {
      this.#draining = false;
    }
    if (failure) throw failure.error;
  }
}
