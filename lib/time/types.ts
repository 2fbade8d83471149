/**
 * The environment protocol code runs in. Cores never call setTimeout, Date.now,
 * Math.random or crypto.getRandomValues: they get these, so the simulator can drive them
 * with virtual time and a seed.
 */

export interface Clock {
  /** Monotonic milliseconds (arbitrary origin); never goes backwards. */
  now(): number;
  /** Wall-clock Unix milliseconds; may jump, may be skewed between nodes. */
  wallNow(): number;
}

/** Opaque handle of a pending timer. */
export type TimerId = number;

/**
 * When a timer may run, for one whose exact time does not matter: a real scheduler runs it
 * in a wake-up it has anyway (another timer firing) between `earliestMs` and `latestMs`, and
 * at `latestMs` on its own if none comes. In a browser tab each wake-up costs the main thread
 * ~150 µs, and an idle node's timers are most of what wakes it.
 */
export interface TimerWindow {
  earliestMs: number;
  latestMs: number;
}

export interface Scheduler {
  /**
   * Runs `fn` once after `delayMs` (≥ 0) milliseconds — or, given a `window` around
   * `delayMs`, at any time within it (TimerWindow). The virtual scheduler keeps `delayMs`,
   * so a seed replays the same run.
   */
  setTimer(delayMs: number, fn: () => void, window?: TimerWindow): TimerId;
  /** Cancels a pending timer; unknown or fired ids are ignored. */
  cancelTimer(id: TimerId): void;
}

export interface Random {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
  /** n random bytes. Real environments draw these from the platform CSPRNG (nonces, keys). */
  bytes(n: number): Uint8Array;
  /** An independent stream derived from this one (deterministic under a seed). */
  fork(): Random;
}

export interface Env {
  readonly clock: Clock;
  readonly scheduler: Scheduler;
  readonly random: Random;
}
