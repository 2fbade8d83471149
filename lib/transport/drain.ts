/**
 * Callers of drained() waiting for a channel's send buffer to fall to their threshold. The
 * channel calls check() whenever its buffer shrinks (on its own drain events, never on a
 * timer) and fail() when it closes.
 */
import { TransportError } from './errors.ts';

interface Waiter {
  readonly threshold: number;
  resolve(): void;
  reject(error: Error): void;
}

export class DrainWaiters {
  #waiters: Waiter[] = [];

  get size(): number {
    return this.#waiters.length;
  }

  /** The highest threshold waited for: the next one a shrinking buffer reaches (undefined: none). */
  get next(): number | undefined {
    let high: number | undefined;
    for (const w of this.#waiters) if (high === undefined || w.threshold > high) high = w.threshold;
    return high;
  }

  /** Resolves at once when `buffered` is at or below `threshold`, else once check() sees it so. */
  wait(threshold: number, buffered: number): Promise<void> {
    if (buffered <= threshold) return Promise.resolve();
    return new Promise<void>((resolve, reject) => this.#waiters.push({ threshold, resolve, reject }));
  }

  /** Resolves every waiter whose threshold `buffered` now meets. */
  check(buffered: number): void {
    if (this.#waiters.length === 0) return;
    const still: Waiter[] = [];
    for (const w of this.#waiters) {
      if (buffered <= w.threshold) w.resolve();
      else still.push(w);
    }
    this.#waiters = still;
  }

  /** Rejects every waiter: the channel closed, and what it held will not be sent. */
  fail(reason: string): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w.reject(closedError(reason));
  }
}

/** What drained() rejects with when the link is or becomes closed. */
export function closedError(reason: string): TransportError {
  return new TransportError('closed', `link closed before its send buffer drained (${reason})`);
}
