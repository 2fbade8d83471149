import { CryptoRandom } from './random.ts';
import type { Clock, Env, Scheduler, TimerId, TimerWindow } from './types.ts';

export const realClock: Clock = {
  now: () => performance.now(),
  wallNow: () => Date.now(),
};

/**
 * setTimeout behind numeric ids (Node returns objects, browsers numbers). A timer given a
 * window (TimerWindow) runs in the wake-up of the first other timer of this scheduler that
 * fires within it, right after that timer; at the window's end if none does.
 */
export class RealScheduler implements Scheduler {
  readonly #timers = new Map<TimerId, ReturnType<typeof setTimeout>>();
  /** Timers that may run in another's wake-up: id → when they may, and what they run. */
  readonly #flexible = new Map<TimerId, { earliestAt: number; fn: () => void }>();
  #next = 1;

  setTimer(delayMs: number, fn: () => void, window?: TimerWindow): TimerId {
    const id = this.#next++;
    let delay = Math.max(0, delayMs);
    if (window && window.earliestMs < window.latestMs) {
      delay = Math.max(0, window.latestMs);
      this.#flexible.set(id, { earliestAt: performance.now() + Math.max(0, window.earliestMs), fn });
    }
    this.#timers.set(
      id,
      setTimeout(() => {
        this.#timers.delete(id);
        this.#flexible.delete(id);
        try {
          fn();
        } finally {
          this.#runFlexible();
        }
      }, delay),
    );
    return id;
  }

  cancelTimer(id: TimerId): void {
    const handle = this.#timers.get(id);
    if (handle === undefined) return;
    clearTimeout(handle);
    this.#timers.delete(id);
    this.#flexible.delete(id);
  }

  /** Pending timers (for leak checks in tests). */
  get pending(): number {
    return this.#timers.size;
  }

  /** Runs, in this wake-up, the flexible timers whose earliest time has come. */
  #runFlexible(): void {
    if (this.#flexible.size === 0) return;
    const now = performance.now();
    for (const [id, t] of this.#flexible) {
      if (t.earliestAt > now) continue;
      this.cancelTimer(id);
      try {
        t.fn();
      } catch (error) {
        // As if it had fired on its own: an uncaught error, without holding up the others.
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }
}

/** The environment of a real deployment: performance.now, setTimeout, CSPRNG-seeded randomness. */
export function realEnv(): Env {
  return { clock: realClock, scheduler: new RealScheduler(), random: new CryptoRandom() };
}
