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

export interface Scheduler {
  /** Runs `fn` once after `delayMs` (≥ 0) milliseconds. */
  setTimer(delayMs: number, fn: () => void): TimerId;
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
