import { CryptoRandom } from './random.ts';
import type { Clock, Env, Scheduler, TimerId } from './types.ts';

export const realClock: Clock = {
  now: () => performance.now(),
  wallNow: () => Date.now(),
};

/** setTimeout behind numeric ids (Node returns objects, browsers numbers). */
export class RealScheduler implements Scheduler {
  readonly #timers = new Map<TimerId, ReturnType<typeof setTimeout>>();
  #next = 1;

  setTimer(delayMs: number, fn: () => void): TimerId {
    const id = this.#next++;
    this.#timers.set(
      id,
      setTimeout(
        () => {
          this.#timers.delete(id);
          fn();
        },
        Math.max(0, delayMs),
      ),
    );
    return id;
  }

  cancelTimer(id: TimerId): void {
    const handle = this.#timers.get(id);
    if (handle === undefined) return;
    clearTimeout(handle);
    this.#timers.delete(id);
  }

  /** Pending timers (for leak checks in tests). */
  get pending(): number {
    return this.#timers.size;
  }
}

/** The environment of a real deployment: performance.now, setTimeout, CSPRNG-seeded randomness. */
export function realEnv(): Env {
  return { clock: realClock, scheduler: new RealScheduler(), random: new CryptoRandom() };
}
